//! Profile documents from Elasticsearch/OpenSearch for `gomon analyze`:
//! few (one per target per `profile.period`) and small once their source
//! is trimmed to what the analysis reads, so they are searched as
//! documents, newest first, at most [`MAX_PROFILES`] per target.

use gomon_analyze::fields::{METRICSET_NAME, SERVICE_ADDRESS, TIMESTAMP, profile};
use gomon_sink::Cluster;
use serde_json::{Value, json};

use super::{HistoryQuery, base_filter, search};

/// Most profile documents read per target (33 hours at the default
/// one-minute period).
pub(super) const MAX_PROFILES: usize = 2_000;

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
            "size": MAX_PROFILES,
            "query": {"bool": {"filter": filter}},
            "sort": [{TIMESTAMP: "desc"}],
            "_source": [TIMESTAMP, METRICSET_NAME, SERVICE_ADDRESS,
                        profile::HEAP_BASIS, profile::HEAP_SITES, profile::HEAP_GROWTH_BYTES,
                        profile::GOROUTINES_COUNT, profile::GOROUTINES_GROWING],
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
