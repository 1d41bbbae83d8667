//! Profile documents from Elasticsearch/OpenSearch for `gomon analyze`:
//! few (one per target per `profile.period`) and small once their source
//! is trimmed to what the analysis reads, so they are searched as
//! documents, newest first, at most `fields::profile::MAX_READ` per target.

use gomon_analyze::fields::{SERVICE_ADDRESS, TIMESTAMP, profile};
use gomon_sink::Cluster;
use serde_json::{Value, json};

use super::{HistoryQuery, base_filter, search};

/// The profile documents of `address` in `pattern`, oldest first, with the
/// fields the analysis reads (sites, goroutine counts and places).
pub(super) async fn profile_documents(
    cluster: &Cluster,
    pattern: &str,
    query: &HistoryQuery,
    address: &str,
) -> Result<Vec<Value>, String> {
    let mut filter = base_filter(query, "profile");
    filter.push(json!({"term": {SERVICE_ADDRESS: address}}));
    // Documents that carry profiles (an error document carries none).
    filter.push(json!({"bool": {"minimum_should_match": 1, "should": [
        {"exists": {"field": profile::HEAP_BASIS}},
        {"exists": {"field": profile::GOROUTINES_COUNT}},
    ]}}));
    let answer = search(
        cluster,
        pattern,
        json!({
            "size": profile::MAX_READ,
            "query": {"bool": {"filter": filter}},
            "sort": [{TIMESTAMP: "desc"}],
            "_source": profile::READ,
        }),
    )
    .await?;
    let mut docs: Vec<Value> = answer["hits"]["hits"]
        .as_array()
        .map(|hits| hits.iter().map(|h| h["_source"].clone()).collect())
        .unwrap_or_default();
    docs.reverse();
    Ok(docs)
}
