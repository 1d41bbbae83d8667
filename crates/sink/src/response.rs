//! Reading a bulk response: one status (and maybe an error) per item, in
//! the order of the request.

use serde::Deserialize;
use serde_json::Value;

/// The query string of every bulk request: only what per-item handling
/// needs comes back (no `_id`, `_version`, `_shards`... per item).
pub(crate) const BULK_FILTER_PATH: &str = "errors,items.*.status,items.*.error";

/// What the server said about one item of a bulk request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult {
    /// The action the server answered for (`create`, `index`, ...).
    pub action: String,
    /// The item's HTTP status.
    pub status: u16,
    /// `type: reason` of the item's error (with its first cause), if any.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    items: Vec<serde_json::Map<String, Value>>,
}

/// Parses a bulk response body into one [`ItemResult`] per item, checking
/// that there are exactly `expected` items (a response that answers fewer or
/// more items than were sent cannot be matched to the documents, so no item
/// of it can be trusted). The error is a description of what is wrong.
pub fn parse_bulk_response(body: &[u8], expected: usize) -> Result<Vec<ItemResult>, String> {
    let parsed: Response = serde_json::from_slice(body).map_err(|e| {
        format!(
            "not a bulk response ({e}): {}",
            crate::error::truncate(String::from_utf8_lossy(body).into_owned(), 200)
        )
    })?;
    if parsed.items.len() != expected {
        return Err(format!(
            "{} items answered for {expected} documents sent",
            parsed.items.len()
        ));
    }
    parsed
        .items
        .into_iter()
        .enumerate()
        .map(|(position, item)| {
            let (action, result) = item
                .into_iter()
                .next()
                .ok_or_else(|| format!("item {position} is empty"))?;
            let status = result
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(|| format!("item {position} has no HTTP status"))?;
            let error = result.get("error").map(describe_error);
            Ok(ItemResult {
                action,
                status,
                error,
            })
        })
        .collect()
}

/// `type: reason`, plus the first `caused_by` (where mapping errors say
/// which value was refused).
fn describe_error(error: &Value) -> String {
    let part = |e: &Value| {
        let kind = e.get("type").and_then(Value::as_str).unwrap_or("unknown");
        match e.get("reason").and_then(Value::as_str) {
            Some(reason) => format!("{kind}: {reason}"),
            None => kind.to_owned(),
        }
    };
    if let Value::String(text) = error {
        return text.clone();
    }
    match error.get("caused_by") {
        Some(cause) => format!("{} (caused by {})", part(error), part(cause)),
        None => part(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn statuses_and_errors_are_read_in_order() {
        let body = br#"{"errors":true,"items":[
            {"create":{"status":201}},
            {"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[x]: version conflict"}}},
            {"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [n]","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"abc\""}}}}
        ]}"#;
        let items = parse_bulk_response(body, 3).unwrap();
        assert_eq!(items[0].status, 201);
        assert_eq!(items[0].error, None);
        assert_eq!(items[1].status, 409);
        assert_eq!(items[2].action, "create");
        assert_eq!(
            items[2].error.as_deref(),
            Some(
                "document_parsing_exception: failed to parse field [n] \
                 (caused by illegal_argument_exception: For input string: \"abc\")"
            )
        );
    }

    #[test]
    fn a_response_with_fewer_or_more_items_than_sent_is_refused() {
        let body = br#"{"errors":false,"items":[{"create":{"status":201}}]}"#;
        assert_eq!(
            parse_bulk_response(body, 2).unwrap_err(),
            "1 items answered for 2 documents sent"
        );
        assert!(parse_bulk_response(body, 0).is_err());
        assert!(parse_bulk_response(b"{}", 0).unwrap().is_empty());
    }

    #[test]
    fn an_item_without_status_or_a_body_that_is_not_json_is_refused() {
        assert!(parse_bulk_response(br#"{"items":[{"create":{}}]}"#, 1).is_err());
        assert!(parse_bulk_response(br#"{"items":[{}]}"#, 1).is_err());
        let err = parse_bulk_response(b"<html>bad gateway</html>", 1).unwrap_err();
        assert!(err.contains("bad gateway"), "{err}");
    }

    proptest! {
        #[test]
        fn any_list_of_statuses_round_trips(statuses in proptest::collection::vec(100u16..600, 0..50)) {
            let items: Vec<Value> = statuses
                .iter()
                .map(|s| serde_json::json!({"create": {"status": s}}))
                .collect();
            let body = serde_json::to_vec(&serde_json::json!({"errors": true, "items": items})).unwrap();
            let parsed = parse_bulk_response(&body, statuses.len()).unwrap();
            let read: Vec<u16> = parsed.iter().map(|i| i.status).collect();
            prop_assert_eq!(read, statuses);
        }
    }
}
