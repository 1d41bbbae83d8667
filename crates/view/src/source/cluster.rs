//! The view's questions asked of Elasticsearch/OpenSearch, as aggregations.
//!
//! - targets: a `terms` aggregation on `service.address` with each target's
//!   first and last time and its latest document (`top_hits` of size 1);
//! - heap series: a `date_histogram` of at most the asked number of buckets,
//!   each column combined as the store combines it over a step
//!   ([`gomon_store::schema::heap_fields`]: mean, latest, sum or worst), the
//!   bucket's lowest and highest HeapAlloc, and per GC count in the bucket
//!   its lowest HeapAlloc, from which the live heap is read as the store
//!   reads it (HeapAlloc right after a collection);
//! - expvar fields: the latest document of each namespace (`top_hits`);
//! - expvar series: a `date_histogram` keeping the latest value per bucket.
//!
//! No chart downloads documents: every answer is one search with `size: 0`,
//! and the only documents that come back are the one latest per target or
//! per bucket (`top_hits` of size 1, only the fields needed).

use gomon_analyze::fields::{
    ERROR_MESSAGE, EVENT_DATASET, GOLANG, METRICSET_NAME, SERVICE_ADDRESS, TIMESTAMP, heap, profile,
};
use gomon_sink::Cluster;
use gomon_store::schema::{Combine, extra, heap_fields};
use gomon_store::{Series, TargetInfo, TimeRange};
use serde_json::{Value, json};

use super::SourceError;

/// Most distinct GC counts kept per bucket of a heap series: past this
/// many collections in one bucket the program collects faster than it is
/// charted, and the bucket's lowest HeapAlloc is its live heap.
const CYCLES_PER_BUCKET: u64 = 16;
/// Most steps of one series from a cluster, whatever more was asked: with
/// [`CYCLES_PER_BUCKET`] GC counts under each, 2,000 steps stay within
/// Elasticsearch's default `search.max_buckets` (65,535).
pub const MAX_STEPS: usize = 2_000;
/// Most targets listed (one `terms` aggregation).
const MAX_TARGETS: u64 = 10_000;
/// Most expvar namespaces of one target.
const MAX_NAMESPACES: u64 = 100;
/// The latest time Elasticsearch's `epoch_millis` reads (year 9999).
const LAST_MS: i64 = 253_402_300_799_999;

/// An Elasticsearch/OpenSearch cluster and the index pattern the agent
/// writes (`<index>*`: the data stream or the dated indices).
#[derive(Debug)]
pub struct ClusterSource {
    cluster: Cluster,
    pattern: String,
}

impl ClusterSource {
    /// Reads `<index>*` on `cluster`.
    pub fn new(cluster: Cluster, index: &str) -> ClusterSource {
        ClusterSource {
            cluster,
            pattern: format!("{index}*"),
        }
    }

    /// `http://host:9200 index gomon*` (the URL has no credentials).
    pub fn describe(&self) -> String {
        format!("{} index {}", self.cluster.url(), self.pattern)
    }

    async fn search(&self, what: impl Fn() -> String, body: Value) -> Result<Value, SourceError> {
        self.search_for(what, body, true).await
    }

    /// The profile documents of `address` in `range` (with what the
    /// analysis reads of them), at most `fields::profile::MAX_READ`, newest first.
    pub async fn profiles(
        &self,
        address: &str,
        range: TimeRange,
    ) -> Result<Vec<Value>, SourceError> {
        let body = json!({
            "size": profile::MAX_READ,
            "query": {"bool": {"filter": [
                {"term": {METRICSET_NAME: "profile"}},
                {"term": {SERVICE_ADDRESS: address}},
                time_filter(range),
            ]}},
            "sort": [{TIMESTAMP: "desc"}],
            "_source": profile::READ,
        });
        let answer = self
            .search_for(|| format!("profile documents of {address}"), body, false)
            .await?;
        Ok(answer["hits"]["hits"]
            .as_array()
            .map(|hits| hits.iter().map(|h| h["_source"].clone()).collect())
            .unwrap_or_default())
    }

    async fn search_for(
        &self,
        what: impl Fn() -> String,
        body: Value,
        aggregations: bool,
    ) -> Result<Value, SourceError> {
        let server = self.cluster.url();
        let failed = |reason: String| SourceError::Cluster {
            server: server.to_owned(),
            what: format!("{what} (search of {})", self.pattern, what = what()),
            // The transport's errors name the server already.
            reason: reason
                .strip_prefix(&format!("{server}: "))
                .map_or_else(|| reason.clone(), str::to_owned),
        };
        let (status, answer) = self
            .cluster
            .search(&self.pattern, &body)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if status != 200 {
            let reason = answer["error"]["reason"]
                .as_str()
                .map_or_else(|| answer.to_string(), str::to_owned);
            return Err(failed(format!("HTTP {status}: {reason}")));
        }
        // No index matches the pattern yet (nothing written): no shards
        // searched and no aggregations, which is an empty answer.
        let searched = answer["_shards"]["total"].as_u64().unwrap_or(0);
        if aggregations && !answer["aggregations"].is_object() && searched > 0 {
            return Err(failed(format!(
                "an answer without aggregations: {}",
                truncated(&answer.to_string())
            )));
        }
        Ok(answer)
    }

    /// Every target with documents, by address.
    pub async fn targets(&self) -> Result<Vec<TargetInfo>, SourceError> {
        let latest = |source: &[&str]| json!({"top_hits": {"size": 1, "sort": [{TIMESTAMP: {"order": "desc"}}], "_source": {"includes": source}}});
        let body = json!({
            "size": 0,
            "query": {"bool": {"filter": [{"terms": {METRICSET_NAME: ["heap", "expvar"]}}]}},
            "aggs": {"targets": {
                "terms": {"field": SERVICE_ADDRESS, "size": MAX_TARGETS, "order": {"_key": "asc"}},
                "aggs": {
                    "first": {"min": {"field": TIMESTAMP}},
                    "last": {"max": {"field": TIMESTAMP}},
                    "latest": latest(&[ERROR_MESSAGE]),
                    "heap": {
                        "filter": {"exists": {"field": heap::CMDLINE}},
                        "aggs": {"latest": latest(&[heap::CMDLINE])},
                    },
                },
            }},
        });
        let answer = self.search(|| "the target list".to_owned(), body).await?;
        let buckets = answer["aggregations"]["targets"]["buckets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::with_capacity(buckets.len());
        for bucket in buckets {
            let Some(address) = bucket["key"].as_str() else {
                continue;
            };
            let ms = |name: &str| bucket[name]["value"].as_f64().map_or(0, |v| v as i64);
            let hit =
                |path: &str| -> Value { bucket.pointer(path).cloned().unwrap_or(Value::Null) };
            let latest = hit("/latest/hits/hits/0/_source");
            let heap_latest = hit("/heap/latest/hits/hits/0/_source");
            out.push(TargetInfo {
                address: address.to_owned(),
                cmdline: gomon_analyze::fields::get(&heap_latest, heap::CMDLINE)
                    .as_str()
                    .map(str::to_owned),
                first_ms: ms("first"),
                last_ms: ms("last"),
                last_error: gomon_analyze::fields::get(&latest, ERROR_MESSAGE)
                    .as_str()
                    .map(str::to_owned),
            });
        }
        Ok(out)
    }

    /// The heap series of `address` over `range` in at most `points` steps
    /// (plus one where the range does not start on a step), the same
    /// columns as [`gomon_store::Reader::heap_series`].
    pub async fn heap_series(
        &self,
        address: &str,
        range: TimeRange,
        points: usize,
    ) -> Result<Series, SourceError> {
        let step = step_of(range, points);
        let body = heap_series_body(address, range, step);
        let answer = self
            .search(|| format!("the heap series of {address}"), body)
            .await?;
        Ok(heap_series_of(&answer, step))
    }

    /// The numeric fields of the latest expvar document of each namespace
    /// `address` published in `range`, as `<namespace>.<path>`, sorted.
    pub async fn expvar_fields(
        &self,
        address: &str,
        range: TimeRange,
    ) -> Result<Vec<String>, SourceError> {
        let body = json!({
            "size": 0,
            "query": {"bool": {"filter": [
                {"term": {METRICSET_NAME: "expvar"}},
                {"term": {SERVICE_ADDRESS: address}},
                time_filter(range),
            ]}},
            "aggs": {"ns": {
                "terms": {"field": EVENT_DATASET, "size": MAX_NAMESPACES},
                "aggs": {"latest": {"top_hits": {"size": 1, "sort": [{TIMESTAMP: {"order": "desc"}}], "_source": {"includes": [GOLANG]}}}},
            }},
        });
        let answer = self
            .search(|| format!("the expvar fields of {address}"), body)
            .await?;
        let mut names = Vec::new();
        for ns in answer["aggregations"]["ns"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(namespace) = ns["key"].as_str().and_then(|d| d.strip_prefix("golang.")) else {
                continue;
            };
            let body = &ns["latest"]["hits"]["hits"][0]["_source"][GOLANG][namespace];
            numeric_leaves(namespace, body, &mut names);
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// One expvar field (`<namespace>.<path>`) of `address` over `range`,
    /// the latest value of each of at most `points` steps.
    pub async fn expvar_series(
        &self,
        address: &str,
        field: &str,
        range: TimeRange,
        points: usize,
    ) -> Result<Series, SourceError> {
        let step = step_of(range, points);
        let (namespace, _) = field.split_once('.').unwrap_or((field, ""));
        let path = format!("{GOLANG}.{field}");
        let body = json!({
            "size": 0,
            "query": {"bool": {"filter": [
                {"term": {METRICSET_NAME: "expvar"}},
                {"term": {SERVICE_ADDRESS: address}},
                {"term": {EVENT_DATASET: format!("{GOLANG}.{namespace}")}},
                {"exists": {"field": path}},
                time_filter(range),
            ]}},
            "aggs": {"t": {
                "date_histogram": {"field": TIMESTAMP, "fixed_interval": format!("{step}ms"), "min_doc_count": 1},
                "aggs": {"latest": {"top_hits": {
                    "size": 1,
                    "sort": [{TIMESTAMP: {"order": "desc"}}],
                    "_source": false,
                    "docvalue_fields": [path],
                }}},
            }},
        });
        let answer = self
            .search(|| format!("the series of {field} of {address}"), body)
            .await?;
        let mut series = Series {
            step_ms: step,
            ts: Vec::new(),
            columns: vec![(field.to_owned(), Vec::new())],
        };
        for bucket in buckets(&answer) {
            let Some(at) = bucket["key"].as_f64() else {
                continue;
            };
            let value = bucket["latest"]["hits"]["hits"][0]["fields"][&path][0].as_f64();
            series.ts.push(at as i64);
            series.columns[0].1.push(value);
        }
        Ok(series)
    }
}

fn truncated(text: &str) -> String {
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn buckets(answer: &Value) -> impl Iterator<Item = &Value> {
    answer["aggregations"]["t"]["buckets"]
        .as_array()
        .into_iter()
        .flatten()
}

/// The width of a step (ms) for at most `points` steps over `range` (and
/// at most [`MAX_STEPS`]).
fn step_of(range: TimeRange, points: usize) -> i64 {
    let width = range.to_ms.saturating_sub(range.from_ms).max(1);
    let points = i64::try_from(points.clamp(1, MAX_STEPS)).unwrap_or(1);
    (width / points + i64::from(width % points > 0)).max(1)
}

fn time_filter(range: TimeRange) -> Value {
    json!({"range": {TIMESTAMP: {
        "gte": range.from_ms.clamp(0, LAST_MS),
        "lt": range.to_ms.clamp(0, LAST_MS),
        "format": "epoch_millis",
    }}})
}

/// The aggregation of one heap column over a step, by the store's rule.
fn combined(path: &str, combine: Combine) -> Value {
    if path == heap::RESTARTED {
        // A boolean: was any sample of the step a restart.
        return json!({"filter": {"term": {path: true}}});
    }
    let kind = match combine {
        Combine::Mean => "avg",
        Combine::Last | Combine::Max => "max",
        Combine::Sum => "sum",
    };
    json!({kind: {"field": path}})
}

fn heap_series_body(address: &str, range: TimeRange, step: i64) -> Value {
    let mut per_step = serde_json::Map::new();
    for (i, (_, path, combine)) in heap_fields().enumerate() {
        per_step.insert(format!("c{i}"), combined(path, combine));
    }
    per_step.insert(
        "amin".into(),
        json!({"min": {"field": heap::ALLOCATIONS_ALLOCATED}}),
    );
    per_step.insert(
        "amax".into(),
        json!({"max": {"field": heap::ALLOCATIONS_ALLOCATED}}),
    );
    per_step.insert(
        "cycles".into(),
        json!({
            "terms": {"field": heap::GC_TOTAL_COUNT, "size": CYCLES_PER_BUCKET, "order": {"_key": "asc"}},
            "aggs": {"a": {"min": {"field": heap::ALLOCATIONS_ALLOCATED}}},
        }),
    );
    json!({
        "size": 0,
        "query": {"bool": {
            "filter": [
                {"term": {METRICSET_NAME: "heap"}},
                {"term": {SERVICE_ADDRESS: address}},
                time_filter(range),
            ],
            "must_not": [{"exists": {"field": ERROR_MESSAGE}}],
        }},
        "aggs": {"t": {
            "date_histogram": {"field": TIMESTAMP, "fixed_interval": format!("{step}ms"), "min_doc_count": 1},
            "aggs": per_step,
        }},
    })
}

/// The series of a heap search: columns in the store's order (the heap
/// columns, then the lowest and highest HeapAlloc and the live heap).
///
/// The live heap of a step is the lowest HeapAlloc among the GC counts
/// that began in it (a count other than the previous step's last one):
/// the first sample after a collection holds the least garbage, which is
/// what the store's live column keeps. A step with more collections than
/// [`CYCLES_PER_BUCKET`] takes its lowest HeapAlloc; a step without a
/// collection has none.
fn heap_series_of(answer: &Value, step: i64) -> Series {
    let fields: Vec<(&str, &str)> = heap_fields().map(|(name, path, _)| (name, path)).collect();
    let mut columns: Vec<(String, Vec<Option<f64>>)> = fields
        .iter()
        .map(|(name, _)| ((*name).to_owned(), Vec::new()))
        .collect();
    for name in [extra::ALLOCATED_MIN, extra::ALLOCATED_MAX, extra::LIVE] {
        columns.push((name.to_owned(), Vec::new()));
    }
    let mut ts = Vec::new();
    let mut previous_count: Option<f64> = None;
    let n = fields.len();
    for bucket in buckets(answer) {
        let Some(at) = bucket["key"].as_f64() else {
            continue;
        };
        ts.push(at as i64);
        for (i, (_, path)) in fields.iter().enumerate() {
            let agg = &bucket[format!("c{i}").as_str()];
            let value = if *path == heap::RESTARTED {
                agg["doc_count"]
                    .as_u64()
                    .map(|n| if n > 0 { 1.0 } else { 0.0 })
            } else {
                agg["value"].as_f64()
            };
            columns[i].1.push(value);
        }
        let amin = bucket["amin"]["value"].as_f64();
        columns[n].1.push(amin);
        columns[n + 1].1.push(bucket["amax"]["value"].as_f64());
        let cycles = bucket["cycles"]["buckets"].as_array();
        let crowded = bucket["cycles"]["sum_other_doc_count"]
            .as_u64()
            .is_some_and(|n| n > 0);
        let mut live: Option<f64> = None;
        let mut last_count = previous_count;
        for cycle in cycles.into_iter().flatten() {
            let Some(count) = cycle["key"].as_f64() else {
                continue;
            };
            if last_count.is_some_and(|c| c != count)
                && let Some(a) = cycle["a"]["value"].as_f64()
            {
                live = Some(live.map_or(a, |l: f64| l.min(a)));
            }
            last_count = Some(count);
        }
        if crowded {
            live = amin;
        }
        previous_count = last_count;
        columns[n + 2].1.push(live);
    }
    Series {
        step_ms: step,
        ts,
        columns,
    }
}

/// The numeric leaves of an expvar object as `<namespace>.<path>`, as the
/// store lists them (the flattener's `_rate` and `_dropped` left out).
fn numeric_leaves(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Number(_) => out.push(prefix.to_owned()),
        Value::Object(map) => {
            for (k, v) in map {
                if k == "_rate" || k == "_dropped" {
                    continue;
                }
                numeric_leaves(&format!("{prefix}.{k}"), v, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_wide_enough_for_the_points_asked() {
        let range = |from_ms, to_ms| TimeRange { from_ms, to_ms };
        assert_eq!(step_of(range(0, 86_400_000), 2_000), 43_200);
        assert_eq!(step_of(range(0, 1_001), 1_000), 2);
        assert_eq!(step_of(range(5, 5), 10), 1, "an empty range");
        assert_eq!(step_of(range(0, 10), 0), 10, "no points asked: one");
        assert_eq!(
            step_of(range(0, 86_400_000), 10_000),
            43_200,
            "no more than MAX_STEPS"
        );
    }

    #[test]
    fn the_live_heap_is_the_lowest_heap_alloc_after_each_collection() {
        let cycle = |count: u64, a: f64| json!({"key": count, "a": {"value": a}});
        let bucket = |key: i64, amin: f64, cycles: Vec<Value>, other: u64| {
            json!({"key": key, "amin": {"value": amin}, "amax": {"value": 9e9},
                   "cycles": {"sum_other_doc_count": other, "buckets": cycles}})
        };
        let answer = json!({"aggregations": {"t": {"buckets": [
            // The first step: its first count may have begun earlier.
            bucket(0, 10.0, vec![cycle(3, 10.0), cycle(4, 40.0)], 0),
            // No collection in this step (count 4 goes on).
            bucket(1000, 50.0, vec![cycle(4, 50.0)], 0),
            // Count 5 begins at 30 and count 6 at 35: the lower one.
            bucket(2000, 30.0, vec![cycle(4, 90.0), cycle(5, 30.0), cycle(6, 35.0)], 0),
            // More collections than kept: the step's lowest.
            bucket(3000, 20.0, vec![cycle(7, 25.0)], 12),
        ]}}});
        let series = heap_series_of(&answer, 1000);
        assert_eq!(series.ts, vec![0, 1000, 2000, 3000]);
        assert_eq!(
            series.column(extra::LIVE).expect("a live column"),
            &[Some(40.0), None, Some(30.0), Some(20.0)]
        );
        assert_eq!(
            series.column(extra::ALLOCATED_MIN).expect("a min column"),
            &[Some(10.0), Some(50.0), Some(30.0), Some(20.0)]
        );
    }

    #[test]
    fn every_heap_column_is_asked_for_and_restarts_are_counted() {
        let body = heap_series_body("http://a:1/debug/vars", TimeRange::all(), 60_000);
        let aggs = &body["aggs"]["t"]["aggs"];
        assert_eq!(
            aggs.as_object().map(|m| m.len()),
            Some(heap_fields().count() + 3)
        );
        let text = aggs.to_string();
        for (_, path, _) in heap_fields() {
            assert!(text.contains(path), "{path} is not aggregated: {text}");
        }
        assert!(text.contains(r#"{"term":{"golang.heap.restarted":true}}"#));
        let range = &body["query"]["bool"]["filter"][2]["range"]["@timestamp"];
        assert_eq!(range["gte"], 0);
        assert_eq!(range["lt"], LAST_MS);
        assert_eq!(
            body["aggs"]["t"]["date_histogram"]["fixed_interval"],
            "60000ms"
        );
    }

    #[test]
    fn numeric_leaves_skip_text_and_the_flatteners_own_fields() {
        let mut out = Vec::new();
        numeric_leaves(
            "app",
            &json!({"requests": 5, "name": "x", "db": {"open": 2, "_rate": {"a": 1}}, "_dropped": 3}),
            &mut out,
        );
        out.sort();
        assert_eq!(out, ["app.db.open", "app.requests"]);
    }
}
