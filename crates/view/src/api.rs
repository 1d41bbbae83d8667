//! The JSON API the page reads: one handler per endpoint, each one chain —
//! check the parameters, ask the [`Source`] (the store or the cluster),
//! shape the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gomon_store::TimeRange;
use serde_json::{Value, json};

use crate::query::{ApiError, Params};
use crate::series::{analyse, documents_from_series, is_counter, per_second, program_name, status};
use crate::source::{Source, SourceError};

/// How far back the target list's verdict looks from a target's last
/// document, and in how many steps.
const VERDICT_SPAN_MS: i64 = 30 * 60_000;
const VERDICT_POINTS: usize = 600;
/// How long a target's verdict in the list is reused before it is recomputed.
const VERDICT_TTL_MS: i64 = 15_000;
/// Default span of a chart query.
const DEFAULT_SPAN_MS: i64 = 3_600_000;
/// Default span of the expvar field list.
const FIELDS_SPAN_MS: i64 = 30 * 86_400_000;

type Query_ = Query<Vec<(String, String)>>;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct State {
    source: Source,
    /// Per target: when its verdict was computed, and the verdict and summary.
    verdicts: Arc<Mutex<HashMap<String, (i64, Value)>>>,
}

impl State {
    pub(crate) fn new(source: Source) -> State {
        State {
            source,
            verdicts: Arc::default(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(error = %self.error, "view API error");
        }
        (status, Json(self)).into_response()
    }
}

pub(crate) fn router(state: State) -> Router {
    Router::new()
        .route("/api/targets", get(targets))
        .route("/api/heap", get(heap))
        .route("/api/expvar/fields", get(expvar_fields))
        .route("/api/expvar", get(expvar))
        .route("/api/analysis", get(analysis))
        .fallback(get(|| async {
            ApiError::not_found("path", "no such page or endpoint (the API is under /api/: targets, heap, expvar, expvar/fields, analysis)")
        }))
        .with_state(state)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl From<SourceError> for ApiError {
    fn from(error: SourceError) -> ApiError {
        match error {
            // The cluster is another server: a gateway's error, naming it.
            SourceError::Cluster { .. } => ApiError {
                status: 502,
                error: error.to_string(),
                parameter: None,
            },
            SourceError::Store(e) => ApiError::store(e),
            SourceError::Task(_) => ApiError::store(error),
        }
    }
}

/// The `target` parameter, which must be a target the source knows.
async fn known_target(state: &State, params: &Params) -> Result<String, ApiError> {
    let target = params.required("target")?.to_owned();
    let targets = state.source.targets().await?;
    if targets.iter().any(|t| t.address == target) {
        Ok(target)
    } else {
        Err(ApiError::not_found(
            "target",
            format!(
                "no data for target {target:?} in the {} (GET /api/targets lists the {} it has)",
                state.source.kind(),
                targets.len()
            ),
        ))
    }
}

fn series_json(series: gomon_store::Series) -> Value {
    let columns: serde_json::Map<String, Value> = series
        .columns
        .into_iter()
        .map(|(name, values)| (name, json!(values)))
        .collect();
    json!({"step_ms": series.step_ms, "ts": series.ts, "columns": columns})
}

async fn targets(Shared(state): Shared<State>, Query(q): Query_) -> Result<Json<Value>, ApiError> {
    Params::new(q).only(&[])?;
    let now = now_ms();
    let infos = state.source.targets().await?;
    let mut out = Vec::with_capacity(infos.len());
    for info in infos {
        let verdict = verdict_of(&state, &info.address, info.last_ms, now).await?;
        let cmdline = info.cmdline.clone().unwrap_or_default();
        out.push(json!({
            "address": info.address,
            "program": program_name(&cmdline),
            "cmdline": info.cmdline,
            "status": status(info.last_ms, info.last_error.as_deref(), now),
            "first_ms": info.first_ms,
            "last_ms": info.last_ms,
            "last_error": info.last_error,
            "verdict": verdict,
        }));
    }
    Ok(Json(json!({"now_ms": now, "targets": out})))
}

/// The verdict of a target's most recent process over its last
/// [`VERDICT_SPAN_MS`], reused for [`VERDICT_TTL_MS`].
async fn verdict_of(
    state: &State,
    address: &str,
    last_ms: i64,
    now: i64,
) -> Result<Value, ApiError> {
    if let Ok(cache) = state.verdicts.lock()
        && let Some((at, verdict)) = cache.get(address)
        && now - at < VERDICT_TTL_MS
    {
        return Ok(verdict.clone());
    }
    let range = TimeRange {
        from_ms: last_ms.saturating_sub(VERDICT_SPAN_MS),
        to_ms: last_ms.saturating_add(1),
    };
    let series = state
        .source
        .heap_series(address, range, VERDICT_POINTS)
        .await?;
    let docs = documents_from_series(address, &series);
    let verdict = analyse(&docs).pop().map_or(
        Value::Null,
        |a| json!({"verdict": a.analysis.verdict, "summary": a.analysis.summary}),
    );
    if let Ok(mut cache) = state.verdicts.lock() {
        cache.insert(address.to_owned(), (now, verdict.clone()));
    }
    Ok(verdict)
}

async fn heap(Shared(state): Shared<State>, Query(q): Query_) -> Result<Json<Value>, ApiError> {
    let params = Params::new(q);
    let range = params.range(now_ms(), DEFAULT_SPAN_MS, &["target", "points"])?;
    let points = params.points()?;
    let target = known_target(&state, &params).await?;
    let series = state.source.heap_series(&target, range, points).await?;
    let mut body = series_json(series);
    body["target"] = json!(target);
    body["from_ms"] = json!(range.from_ms);
    body["to_ms"] = json!(range.to_ms);
    Ok(Json(body))
}

async fn expvar_fields(
    Shared(state): Shared<State>,
    Query(q): Query_,
) -> Result<Json<Value>, ApiError> {
    let params = Params::new(q);
    let range = params.range(now_ms(), FIELDS_SPAN_MS, &["target"])?;
    let target = known_target(&state, &params).await?;
    let fields = state.source.expvar_fields(&target, range).await?;
    Ok(Json(json!({"target": target, "fields": fields})))
}

async fn expvar(Shared(state): Shared<State>, Query(q): Query_) -> Result<Json<Value>, ApiError> {
    let params = Params::new(q);
    let range = params.range(now_ms(), DEFAULT_SPAN_MS, &["target", "field", "points"])?;
    let points = params.points()?;
    let field = params.required("field")?.to_owned();
    let target = known_target(&state, &params).await?;
    let fields = state
        .source
        .expvar_fields(
            &target,
            TimeRange {
                from_ms: 0,
                to_ms: i64::MAX,
            },
        )
        .await?;
    if !fields.contains(&field) {
        return Err(ApiError::not_found(
            "field",
            format!(
                "target {target:?} has no numeric expvar field {field:?} (GET /api/expvar/fields lists them)"
            ),
        ));
    }
    let series = state
        .source
        .expvar_series(&target, &field, range, points)
        .await?;
    let values = series
        .columns
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .unwrap_or_default();
    let counter = is_counter(&values);
    let rate = counter.then(|| per_second(&series.ts, &values));
    Ok(Json(json!({
        "target": target,
        "field": field,
        "from_ms": range.from_ms,
        "to_ms": range.to_ms,
        "step_ms": series.step_ms,
        "kind": if counter { "counter" } else { "gauge" },
        "ts": series.ts,
        "values": values,
        "rate": rate,
    })))
}

async fn analysis(Shared(state): Shared<State>, Query(q): Query_) -> Result<Json<Value>, ApiError> {
    let params = Params::new(q);
    let range = params.range(now_ms(), DEFAULT_SPAN_MS, &["target"])?;
    let target = known_target(&state, &params).await?;
    let (step_ms, docs) = state.source.analysis_documents(&target, range).await?;
    // The analysis is pure CPU work over up to a few thousand documents.
    let lifetimes = tokio::task::spawn_blocking(move || analyse(&docs))
        .await
        .map_err(|e| ApiError::store(format!("the analysis task failed: {e}")))?;
    Ok(Json(json!({
        "target": target,
        "from_ms": range.from_ms,
        "to_ms": range.to_ms,
        "step_ms": step_ms,
        "lifetimes": lifetimes,
    })))
}
