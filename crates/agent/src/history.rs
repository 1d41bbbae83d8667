//! Reading stored documents back, for `gomon analyze`: from the file store,
//! or from Elasticsearch/OpenSearch with a filtered, paged search that
//! brings only the fields the analysis reads.

use std::time::SystemTime;

use gomon_sink::Cluster;
use serde_json::{Value, json};

/// Which documents to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only these `service.address` values (all when empty).
    pub targets: Vec<String>,
    /// Only documents at or after this time.
    pub since: Option<SystemTime>,
    /// An expvar variable to bring along (for version labels), e.g. `app.version`.
    pub label_variable: Option<String>,
}

/// The `golang.heap` fields the analysis reads, plus what identifies a document.
const FIELDS: &[&str] = &[
    "@timestamp",
    "metricset.name",
    "service.address",
    "error.message",
    "golang.heap.cmdline",
    "golang.heap.restarted",
    "golang.heap.allocations.allocated",
    "golang.heap.gc.next_gc_limit",
    "golang.heap.gc.total_count",
    "golang.heap.gc.cpu_fraction",
    "golang.heap.gc.pause.p99",
    "golang.heap.rate",
];

/// Documents per page.
const PAGE: usize = 2000;

/// The search body of one page.
fn search_body(query: &HistoryQuery, after: Option<&Value>) -> Value {
    let mut filter = vec![json!({"terms": {"metricset.name": ["heap", "expvar"]}})];
    if !query.targets.is_empty() {
        filter.push(json!({"terms": {"service.address": query.targets}}));
    }
    if let Some(since) = query.since {
        filter.push(json!({"range": {"@timestamp": {"gte": humantime::format_rfc3339_millis(since).to_string()}}}));
    }
    let mut fields: Vec<String> = FIELDS.iter().map(|f| (*f).to_owned()).collect();
    if let Some(variable) = &query.label_variable {
        fields.push(format!("golang.*.{variable}"));
    }
    let mut body = json!({
        "size": PAGE,
        "track_total_hits": true,
        "_source": fields,
        "query": {"bool": {"filter": filter}},
        // One document per target, metric set and timestamp: a total order
        // for search_after, on fields gomon's template maps as keyword/date.
        "sort": [{"@timestamp": "asc"}, {"service.address": "asc"}, {"metricset.name": "asc"}],
    });
    if let Some(after) = after {
        body["search_after"] = after.clone();
    }
    body
}

/// Reads the documents matching `query` from `<index>*`, page by page;
/// `progress(read, total)` is called after each page.
pub async fn read_elasticsearch(
    cluster: &Cluster,
    index: &str,
    query: &HistoryQuery,
    mut progress: impl FnMut(usize, u64),
) -> Result<Vec<Value>, String> {
    let pattern = format!("{index}*");
    let mut docs = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let response = cluster
            .client()
            .search(elasticsearch::SearchParts::Index(&[&pattern]))
            .body(search_body(query, after.as_ref()))
            .send()
            .await
            .map_err(|e| format!("{}: search of {pattern} failed: {e}", cluster.url()))?;
        let status = response.status_code().as_u16();
        let body: Value = response.json().await.map_err(|e| {
            format!(
                "{}: search of {pattern}: unreadable answer: {e}",
                cluster.url()
            )
        })?;
        if status != 200 {
            let reason = body["error"]["reason"]
                .as_str()
                .map_or_else(|| body.to_string(), str::to_owned);
            return Err(format!(
                "{}: search of {pattern} answered {status}: {reason}",
                cluster.url()
            ));
        }
        let total = body["hits"]["total"]["value"].as_u64().unwrap_or(0);
        let hits = body["hits"]["hits"].as_array().cloned().unwrap_or_default();
        let last_sort = hits.last().map(|h| h["sort"].clone());
        let count = hits.len();
        docs.extend(hits.into_iter().map(|mut h| h["_source"].take()));
        progress(docs.len(), total);
        match last_sort {
            Some(sort) if count == PAGE => after = Some(sort),
            _ => break,
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_filters_targets_and_time_and_pages_with_search_after() {
        let query = HistoryQuery {
            targets: vec!["a:1".to_owned()],
            since: Some(SystemTime::UNIX_EPOCH),
            label_variable: Some("app.version".to_owned()),
        };
        let body = search_body(
            &query,
            Some(&json!(["2026-01-01T00:00:00Z", "a:1", "heap"])),
        );
        let filter = body["query"]["bool"]["filter"].as_array().unwrap();
        assert_eq!(filter.len(), 3);
        assert_eq!(filter[1], json!({"terms": {"service.address": ["a:1"]}}));
        assert_eq!(body["search_after"][1], "a:1");
        assert!(
            body["_source"]
                .as_array()
                .unwrap()
                .contains(&json!("golang.*.app.version"))
        );
    }
}
