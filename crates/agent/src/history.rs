//! Reading the stored heap history back from Elasticsearch/OpenSearch for
//! `gomon analyze`, with aggregations rather than a download of documents;
//! [`read_stored`] reads whichever output a configuration names (or the
//! file store).
//!
//! Over 500 lines with its unit tests (about 460 of code): the query, the
//! bucket → document mapping and their tests belong together.

mod profiles;
mod stored;

use std::time::SystemTime;

use gomon_analyze::fields::{
    self, EVENT_DATASET, GOLANG, METRICSET_NAME, METRICSET_PERIOD, SERVICE_ADDRESS, TIMESTAMP, heap,
};
use gomon_sink::Cluster;
use serde_json::{Value, json};

pub use stored::{HistoryError, HistorySource, StoredHistory, read_stored};

/// One target asked for by a person (`gomon analyze --target`): the URL
/// fetched, as `service.address` holds it (`http://localhost:6060/debug/vars`),
/// or `host:port`, which stands for every path on that host and port. Both
/// also match documents of earlier gomon versions, whose `service.address`
/// was `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFilter {
    /// The URL (without credentials) when one was given, else `None`.
    url: Option<String>,
    /// `host:port`, the scheme's port filled in.
    host_port: String,
}

impl TargetFilter {
    /// Reads `host:port` or a URL (`http://host:port/path`, or
    /// `host:port/path`, which means http as in `hosts`).
    pub fn parse(text: &str) -> Result<TargetFilter, String> {
        let target = gomon_expvar::Target::parse(text).map_err(|e| e.to_string())?;
        let bare = text.trim();
        let has_path = bare
            .split_once("://")
            .map_or(bare, |(_, rest)| rest)
            .contains('/');
        Ok(TargetFilter {
            url: (bare.contains("://") || has_path).then(|| target.to_string()),
            host_port: target.address(),
        })
    }

    /// Whether a document's `service.address` is this target.
    pub fn matches(&self, address: &str) -> bool {
        let Ok(stored) = gomon_expvar::Target::parse(address) else {
            return false;
        };
        match &self.url {
            Some(url) if address.contains("://") => stored.to_string() == *url,
            _ => stored.address() == self.host_port,
        }
    }

    /// The same test as [`TargetFilter::matches`], as an Elasticsearch query
    /// on the `service.address` keyword.
    fn query(&self) -> Value {
        let legacy = json!({"term": {SERVICE_ADDRESS: self.host_port}});
        if let Some(url) = &self.url {
            return json!({"bool": {"should": [{"term": {SERVICE_ADDRESS: url}}, legacy]}});
        }
        let mut should = vec![
            legacy,
            json!({"prefix": {SERVICE_ADDRESS: format!("http://{}/", self.host_port)}}),
            json!({"prefix": {SERVICE_ADDRESS: format!("https://{}/", self.host_port)}}),
        ];
        // A URL without a port has the scheme's.
        if let Some((host, port)) = self.host_port.rsplit_once(':') {
            let scheme = match port {
                "80" => Some("http"),
                "443" => Some("https"),
                _ => None,
            };
            if let Some(scheme) = scheme {
                should.push(json!({"prefix": {SERVICE_ADDRESS: format!("{scheme}://{host}/")}}));
            }
        }
        json!({"bool": {"should": should}})
    }
}

/// Documents written before `service.address` was the URL carry `host:port`;
/// where exactly one URL of the same documents has that host and port, they
/// are taken for that target's history and get its URL, so that one target's
/// history before and after the change reads as one. Ambiguous ones stay as
/// they are.
pub fn adopt_host_port_addresses(docs: &mut [Value]) {
    let mut urls: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for doc in docs.iter() {
        if let Some(address) = fields::get(doc, SERVICE_ADDRESS).as_str()
            && address.contains("://")
            && let Ok(target) = gomon_expvar::Target::parse(address)
        {
            urls.entry(target.address())
                .or_default()
                .insert(address.to_owned());
        }
    }
    for doc in docs.iter_mut() {
        let Some(address) = fields::get(doc, SERVICE_ADDRESS).as_str() else {
            continue;
        };
        if address.contains("://") {
            continue;
        }
        let Ok(target) = gomon_expvar::Target::parse(address) else {
            continue;
        };
        if let Some(found) = urls.get(&target.address())
            && found.len() == 1
            && let Some(url) = found.iter().next()
        {
            fields::set(doc, SERVICE_ADDRESS, json!(url));
        }
    }
}

/// Which documents to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only these targets (all when empty).
    pub targets: Vec<TargetFilter>,
    /// Only documents at or after this time.
    pub since: Option<SystemTime>,
    /// An expvar variable to bring along (for version labels), e.g. `app.version`.
    pub label_variable: Option<String>,
}

/// Bucket count aimed at per target: fine enough to keep every sample of a
/// few hours of 1 s data, coarse enough that days of data stay one request.
const BUCKETS: u64 = 2000;

async fn search(cluster: &Cluster, pattern: &str, body: Value) -> Result<Value, String> {
    // The cluster's own request: a redirect is an error, never followed.
    let (status, body) = cluster
        .search(pattern, &body)
        .await
        .map_err(|e| format!("search of {pattern} failed: {e}"))?;
    if !body.is_object() {
        return Err(format!(
            "{}: search of {pattern}: unreadable answer (HTTP {status}): {body}",
            cluster.url()
        ));
    }
    if status != 200 {
        let reason = body["error"]["reason"]
            .as_str()
            .map_or_else(|| body.to_string(), str::to_owned);
        return Err(format!(
            "{}: search of {pattern} answered {status}: {reason}",
            cluster.url()
        ));
    }
    Ok(body)
}

fn base_filter(query: &HistoryQuery, metricset: &str) -> Vec<Value> {
    let mut filter = vec![json!({"term": {METRICSET_NAME: metricset}})];
    if !query.targets.is_empty() {
        let should: Vec<Value> = query.targets.iter().map(TargetFilter::query).collect();
        filter.push(json!({"bool": {"should": should}}));
    }
    if let Some(since) = query.since {
        filter.push(json!({"range": {TIMESTAMP: {"gte": humantime::format_rfc3339_millis(since).to_string()}}}));
    }
    filter
}

/// Most GC counts a bucket is split by: past this many collections seen in
/// one bucket, the program collects faster than it is polled, and the
/// bucket's lowest HeapAlloc is what the live-heap estimate needs.
const CYCLES_PER_BUCKET: u64 = 16;

/// The figures kept per time bucket and, within it, per GC count.
fn figures() -> Value {
    json!({
        "first": {"min": {"field": TIMESTAMP}},
        "last": {"max": {"field": TIMESTAMP}},
        "allocated": {"min": {"field": heap::ALLOCATIONS_ALLOCATED}},
        "allocated_last": {"max": {"field": heap::ALLOCATIONS_ALLOCATED}},
        "total": {"min": {"field": heap::ALLOCATIONS_TOTAL}},
        "total_last": {"max": {"field": heap::ALLOCATIONS_TOTAL}},
        "next_gc": {"max": {"field": heap::GC_NEXT_GC_LIMIT}},
        "gc_count": {"max": {"field": heap::GC_TOTAL_COUNT}},
        "cpu": {"max": {"field": heap::GC_CPU_FRACTION}},
        "p99": {"max": {"field": heap::GC_PAUSE_P99_NS}},
        "alloc_rate": {"avg": {"field": heap::RATE_ALLOCATED_BYTES_PER_SEC}},
        "gc_rate": {"avg": {"field": heap::RATE_GC_CYCLES_PER_SEC}},
        "restarted": {"filter": {"term": {heap::RESTARTED: true}}},
    })
}

/// The aggregations of one target's heap history: per time bucket, the
/// command line, the bucket's figures (lowest HeapAlloc, highest GC count,
/// GC limit, CPU fraction and p99 pause, mean rates, whether a restart was
/// seen) and the same figures per GC count in the bucket: the first and
/// last sample of each run of samples between two collections, which is
/// what the live-heap estimate reads (HeapAlloc and TotalAlloc right after
/// each change of NumGC, and just before it).
fn heap_buckets_body(query: &HistoryQuery, target: &str, interval_ms: u64) -> Value {
    let mut filter = base_filter(query, "heap");
    filter.push(json!({"term": {SERVICE_ADDRESS: target}}));
    let mut per_bucket = figures();
    per_bucket["cmdline"] = json!({"terms": {"field": heap::CMDLINE, "size": 1}});
    per_bucket["cycles"] = json!({
        "terms": {"field": heap::GC_TOTAL_COUNT, "size": CYCLES_PER_BUCKET, "order": {"_key": "asc"}},
        "aggs": figures(),
    });
    json!({
        "size": 0,
        "query": {"bool": {"filter": filter, "must_not": [{"exists": {"field": fields::ERROR_MESSAGE}}]}},
        "aggs": {"t": {
            "date_histogram": {"field": TIMESTAMP, "fixed_interval": format!("{interval_ms}ms"), "min_doc_count": 1},
            "aggs": per_bucket,
        }}
    })
}

/// The documents of one bucket, of the stored `golang.heap` shape so that
/// the analysis reads aggregated and raw history alike: when every GC count
/// of the bucket came back, the first and last sample of each (exact
/// values, so the collections are seen as in the raw history); otherwise
/// one document with the bucket's lowest HeapAlloc and highest GC count.
fn bucket_documents(target: &str, bucket: &Value) -> Vec<Value> {
    let cmdline = bucket["cmdline"]["buckets"][0]["key"]
        .as_str()
        .unwrap_or_default();
    let cycles = bucket["cycles"]["buckets"].as_array();
    let complete = bucket["cycles"]["sum_other_doc_count"].as_u64() == Some(0)
        && cycles.is_some_and(|c| !c.is_empty());
    if !complete {
        return bucket_document(target, cmdline, bucket, Edge::Bucket)
            .into_iter()
            .collect();
    }
    let mut out = Vec::new();
    for cycle in cycles.into_iter().flatten() {
        let first = bucket_document(target, cmdline, cycle, Edge::First);
        let single = cycle["first"]["value"] == cycle["last"]["value"];
        out.extend(first);
        if !single {
            out.extend(bucket_document(target, cmdline, cycle, Edge::Last));
        }
    }
    out
}

/// Which sample of an aggregation a document stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// The first sample of a run of one GC count: lowest HeapAlloc and
    /// TotalAlloc, earliest time.
    First,
    /// Its last sample: highest HeapAlloc and TotalAlloc, latest time.
    Last,
    /// A whole bucket of several runs: its lowest HeapAlloc at its start,
    /// with its highest GC count (TotalAlloc left out: the two do not come
    /// from one sample).
    Bucket,
}

fn bucket_document(target: &str, cmdline: &str, agg: &Value, edge: Edge) -> Option<Value> {
    let number = |name: &str| agg[name]["value"].as_f64();
    let (allocated, total, timestamp) = match edge {
        Edge::First => (
            number("allocated")?,
            number("total"),
            agg["first"]["value_as_string"].as_str()?,
        ),
        Edge::Last => (
            number("allocated_last")?,
            number("total_last"),
            agg["last"]["value_as_string"].as_str()?,
        ),
        Edge::Bucket => (
            number("allocated")?,
            None,
            agg["first"]["value_as_string"]
                .as_str()
                .or_else(|| agg["key_as_string"].as_str())?,
        ),
    };
    let mut doc = json!({});
    let mut put = |path: &str, value: Value| fields::set(&mut doc, path, value);
    put(TIMESTAMP, json!(timestamp));
    put(METRICSET_NAME, json!("heap"));
    put(SERVICE_ADDRESS, json!(target));
    put(heap::CMDLINE, json!(cmdline));
    put(
        heap::RESTARTED,
        json!(edge != Edge::Last && agg["restarted"]["doc_count"].as_u64().unwrap_or(0) > 0),
    );
    put(heap::ALLOCATIONS_ALLOCATED, json!(allocated as u64));
    if let Some(total) = total {
        put(heap::ALLOCATIONS_TOTAL, json!(total as u64));
    }
    put(
        heap::GC_NEXT_GC_LIMIT,
        json!(number("next_gc").unwrap_or(0.0) as u64),
    );
    put(
        heap::GC_TOTAL_COUNT,
        json!(number("gc_count").unwrap_or(0.0) as u64),
    );
    put(heap::GC_CPU_FRACTION, json!(number("cpu").unwrap_or(0.0)));
    if let Some(p99) = number("p99") {
        put(heap::GC_PAUSE_P99_NS, json!(p99 as u64));
    }
    if let Some(r) = number("alloc_rate") {
        put(heap::RATE_ALLOCATED_BYTES_PER_SEC, json!(r));
    }
    if let Some(r) = number("gc_rate") {
        put(heap::RATE_GC_CYCLES_PER_SEC, json!(r));
    }
    Some(doc)
}

/// Reads the heap history of every matching target from `<index>*` with
/// aggregations, not by downloading documents: one query lists the targets
/// with their time range and period, then per target a date histogram with
/// about `BUCKETS` buckets (one sample each at the collection period for
/// a few hours of data); within each bucket the first and last sample of
/// each GC count, so that every collection is seen as in the raw history
/// (see [`heap_buckets_body`]).
/// With `label_variable`, each target's values of `golang.<ns>.<variable>`
/// come along as small expvar documents. `progress(done, targets)` is
/// called after each target.
pub async fn read_heap_history(
    cluster: &Cluster,
    index: &str,
    query: &HistoryQuery,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Value>, String> {
    let pattern = format!("{index}*");
    let overview = search(
        cluster,
        &pattern,
        json!({
            "size": 0,
            "query": {"bool": {"filter": base_filter(query, "heap")}},
            "aggs": {"targets": {
                "terms": {"field": SERVICE_ADDRESS, "size": 10_000},
                "aggs": {
                    "first": {"min": {"field": TIMESTAMP}},
                    "last": {"max": {"field": TIMESTAMP}},
                    "period": {"min": {"field": METRICSET_PERIOD}},
                }
            }}
        }),
    )
    .await?;
    let targets = overview["aggregations"]["targets"]["buckets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut docs = Vec::new();
    for (done, target) in targets.iter().enumerate() {
        let Some(address) = target["key"].as_str() else {
            continue;
        };
        let span_ms = target["last"]["value"].as_f64().unwrap_or(0.0)
            - target["first"]["value"].as_f64().unwrap_or(0.0);
        let period_ms = target["period"]["value"]
            .as_f64()
            .unwrap_or(1000.0)
            .max(1.0);
        let interval_ms = (period_ms as u64)
            .max((span_ms / BUCKETS as f64).ceil() as u64)
            .max(1);
        let answer = search(
            cluster,
            &pattern,
            heap_buckets_body(query, address, interval_ms),
        )
        .await?;
        let buckets = answer["aggregations"]["t"]["buckets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        docs.extend(buckets.iter().flat_map(|b| bucket_documents(address, b)));
        docs.extend(profiles::profile_documents(cluster, &pattern, query, address).await?);
        if let Some(variable) = &query.label_variable {
            docs.extend(labels(cluster, &pattern, query, address, variable).await?);
        }
        progress(done + 1, targets.len());
    }
    Ok(docs)
}

/// The values of an expvar variable for one target, each as two expvar
/// documents (at its first and last time), enough for
/// `gomon_analyze::label_of`.
async fn labels(
    cluster: &Cluster,
    pattern: &str,
    query: &HistoryQuery,
    target: &str,
    variable: &str,
) -> Result<Vec<Value>, String> {
    let mut filter = base_filter(query, "expvar");
    filter.push(json!({"term": {SERVICE_ADDRESS: target}}));
    let datasets = search(
        cluster,
        pattern,
        json!({"size": 0, "query": {"bool": {"filter": filter.clone()}},
               "aggs": {"ns": {"terms": {"field": EVENT_DATASET, "size": 10}}}}),
    )
    .await?;
    let mut out = Vec::new();
    for ns in datasets["aggregations"]["ns"]["buckets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let Some(namespace) = ns["key"].as_str().and_then(|d| fields::below(GOLANG, d)) else {
            continue;
        };
        let field = format!("{GOLANG}.{namespace}.{variable}");
        let values = search(
            cluster,
            pattern,
            json!({"size": 0, "query": {"bool": {"filter": filter.clone()}},
                   "aggs": {"v": {"terms": {"field": field, "size": 100},
                                  "aggs": {"first": {"min": {"field": TIMESTAMP}}, "last": {"max": {"field": TIMESTAMP}}}}}}),
        )
        .await?;
        for value in values["aggregations"]["v"]["buckets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let label = value["key_as_string"]
                .clone()
                .as_str()
                .map(str::to_owned)
                .or_else(|| value["key"].as_str().map(str::to_owned))
                .unwrap_or_else(|| value["key"].to_string());
            for edge in ["first", "last"] {
                if let Some(t) = value[edge]["value_as_string"].as_str() {
                    let mut vars = serde_json::Map::new();
                    vars.insert(variable.to_owned(), json!(label));
                    let mut doc = json!({});
                    fields::set(&mut doc, TIMESTAMP, json!(t));
                    fields::set(&mut doc, METRICSET_NAME, json!("expvar"));
                    fields::set(&mut doc, SERVICE_ADDRESS, json!(target));
                    doc[GOLANG] = json!({namespace: vars});
                    out.push(doc);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_of_many_collections_becomes_one_heap_document_the_analysis_reads() {
        let bucket = json!({
            "key_as_string": "2026-11-25T15:35:10.000Z",
            "first": {"value": 1.0, "value_as_string": "2026-11-25T15:35:10.250Z"},
            "allocated": {"value": 1515992.0},
            "total": {"value": 99.0},
            "next_gc": {"value": 4194304.0},
            "gc_count": {"value": 3.0},
            "cpu": {"value": 0.0002},
            "p99": {"value": null},
            "alloc_rate": {"value": 1000.5},
            "gc_rate": {"value": null},
            "restarted": {"doc_count": 1},
            "cmdline": {"buckets": [{"key": "./steady -v 1"}]},
            "cycles": {"sum_other_doc_count": 5, "buckets": [{"key": 1}]},
        });
        let docs = bucket_documents("steady:6060", &bucket);
        assert_eq!(
            docs.len(),
            1,
            "more collections than kept: the bucket's lowest"
        );
        let doc = &docs[0];
        assert_eq!(doc["@timestamp"], "2026-11-25T15:35:10.250Z");
        assert_eq!(doc["golang"]["heap"]["allocations"]["allocated"], 1515992);
        assert!(
            doc["golang"]["heap"]["allocations"]["total"].is_null(),
            "TotalAlloc of another sample than the lowest HeapAlloc is left out"
        );
        assert_eq!(doc["golang"]["heap"]["restarted"], true);
        assert_eq!(
            doc["golang"]["heap"]["rate"],
            json!({"allocated_bytes_per_sec": 1000.5})
        );
        assert!(
            doc["golang"]["heap"]["gc"]["pause"].is_null(),
            "no GC in the bucket, no p99"
        );
        assert_eq!(doc["service"]["address"], "steady:6060");
        let empty =
            json!({"key_as_string": "2026-11-25T15:35:10.000Z", "allocated": {"value": null}});
        assert!(bucket_documents("x:1", &empty).is_empty());
    }

    /// A bucket in which NumGC moved from 7 to 8: the samples just before
    /// and just after the collection come back exactly, as the raw history
    /// holds them.
    #[test]
    fn a_bucket_keeps_the_first_and_last_sample_of_each_gc_count() {
        let cycle = |count: u64, first: &str, last: &str, alloc: (f64, f64), total: (f64, f64)| {
            json!({
                "key": count,
                "first": {"value": 1.0, "value_as_string": first},
                "last": {"value": if first == last { 1.0 } else { 2.0 }, "value_as_string": last},
                "allocated": {"value": alloc.0}, "allocated_last": {"value": alloc.1},
                "total": {"value": total.0}, "total_last": {"value": total.1},
                "next_gc": {"value": 2e9}, "gc_count": {"value": count as f64},
                "cpu": {"value": 0.01}, "restarted": {"doc_count": 0},
            })
        };
        let bucket = json!({
            "key_as_string": "2026-11-25T15:35:10.000Z",
            "cmdline": {"buckets": [{"key": "./leaking"}]},
            "cycles": {"sum_other_doc_count": 0, "buckets": [
                cycle(7, "2026-11-25T15:35:10.000Z", "2026-11-25T15:35:13.000Z", (1.9e9, 1.99e9), (5e9, 5.09e9)),
                cycle(8, "2026-11-25T15:35:14.000Z", "2026-11-25T15:35:14.000Z", (1.01e9, 1.01e9), (5.1e9, 5.1e9)),
            ]},
        });
        let docs = bucket_documents("leaking:6060", &bucket);
        let seen: Vec<(&str, u64, u64, u64)> = docs
            .iter()
            .map(|d| {
                (
                    d["@timestamp"].as_str().unwrap(),
                    d["golang"]["heap"]["gc"]["total_count"].as_u64().unwrap(),
                    d["golang"]["heap"]["allocations"]["allocated"]
                        .as_u64()
                        .unwrap(),
                    d["golang"]["heap"]["allocations"]["total"]
                        .as_u64()
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("2026-11-25T15:35:10.000Z", 7, 1_900_000_000, 5_000_000_000),
                ("2026-11-25T15:35:13.000Z", 7, 1_990_000_000, 5_090_000_000),
                ("2026-11-25T15:35:14.000Z", 8, 1_010_000_000, 5_100_000_000),
            ]
        );
    }

    #[test]
    fn every_filter_of_the_query_reaches_the_search() {
        let query = HistoryQuery {
            targets: vec![TargetFilter::parse("a:1").unwrap()],
            since: Some(SystemTime::UNIX_EPOCH),
            label_variable: None,
        };
        let body = heap_buckets_body(&query, "a:1", 1000);
        let filter = body["query"]["bool"]["filter"].as_array().unwrap();
        assert_eq!(filter.len(), 4, "metric set, targets, since, this target");
        let text: Vec<String> = filter.iter().map(Value::to_string).collect();
        let has = |what: &str, needle: &str| {
            assert!(
                text.iter().any(|f| f.contains(needle)),
                "no filter on {what} ({needle}) in {text:?}"
            );
        };
        has("the metric set", "\"heap\"");
        has("the time range", "1970-01-01T00:00:00");
        has("the target", "a:1");
        has("the field of the target", "service.address");
        assert_eq!(
            body["aggs"]["t"]["date_histogram"]["fixed_interval"],
            "1000ms"
        );
    }

    #[test]
    fn a_host_port_filter_matches_every_path_there_and_old_documents() {
        let filter = TargetFilter::parse("localhost:6060").unwrap();
        assert!(filter.matches("http://localhost:6060/debug/vars"));
        assert!(filter.matches("http://localhost:6060/other"));
        assert!(
            filter.matches("localhost:6060"),
            "stored by an earlier version"
        );
        assert!(!filter.matches("http://localhost:6061/debug/vars"));
        assert!(!filter.matches("http://otherhost:6060/debug/vars"));
        let default_port = TargetFilter::parse("example.org:80").unwrap();
        assert!(default_port.matches("http://example.org/debug/vars"));
        assert!(!default_port.matches("https://example.org/debug/vars"));
    }

    #[test]
    fn a_url_filter_matches_that_url_only_and_old_documents_of_its_host() {
        let filter = TargetFilter::parse("http://localhost:6060/debug/vars").unwrap();
        assert!(filter.matches("http://localhost:6060/debug/vars"));
        assert!(!filter.matches("http://localhost:6060/other"));
        assert!(filter.matches("localhost:6060"));
        let short = TargetFilter::parse("localhost:6060/other").unwrap();
        assert!(short.matches("http://localhost:6060/other"));
        assert!(!short.matches("http://localhost:6060/debug/vars"));
        assert!(TargetFilter::parse("ftp://x:1").is_err());
    }

    #[test]
    fn the_elasticsearch_query_of_a_filter_says_what_matches_says() {
        let by_host = TargetFilter::parse("h:80").unwrap().query();
        assert_eq!(
            by_host,
            json!({"bool": {"should": [
                {"term": {"service.address": "h:80"}},
                {"prefix": {"service.address": "http://h:80/"}},
                {"prefix": {"service.address": "https://h:80/"}},
                {"prefix": {"service.address": "http://h/"}},
            ]}})
        );
        let by_url = TargetFilter::parse("http://h:1/v").unwrap().query();
        assert_eq!(
            by_url,
            json!({"bool": {"should": [
                {"term": {"service.address": "http://h:1/v"}},
                {"term": {"service.address": "h:1"}},
            ]}})
        );
    }

    #[test]
    fn old_host_port_documents_join_the_one_url_of_their_host() {
        let doc = |address: &str| json!({"service": {"address": address}});
        let mut docs = vec![
            doc("a:1"),
            doc("http://a:1/debug/vars"),
            doc("b:2"),
            doc("http://b:2/x"),
            doc("http://b:2/y"),
            doc("c:3"),
        ];
        adopt_host_port_addresses(&mut docs);
        let addresses: Vec<&str> = docs
            .iter()
            .map(|d| d["service"]["address"].as_str().unwrap())
            .collect();
        assert_eq!(
            addresses,
            [
                "http://a:1/debug/vars",
                "http://a:1/debug/vars",
                "b:2",
                "http://b:2/x",
                "http://b:2/y",
                "c:3"
            ]
        );
    }
}
