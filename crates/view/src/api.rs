//! The JSON API the page reads: one handler per endpoint, each one chain —
//! check the parameters, ask the store on the blocking pool, shape the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gomon_store::{Reader, TimeRange};
use serde_json::{Value, json};

use crate::query::{ApiError, Params};
use crate::series::{analyse, documents_from_series, is_counter, per_second, program_name, status};

/// The longest range analysed from raw rows, exactly as `gomon analyze`
/// does; longer ranges are analysed from [`ANALYSIS_POINTS`] steps of the
/// downsampled series (a day of 1 s rows would take seconds to read).
const RAW_ANALYSIS_MS: i64 = 2 * 3_600_000;
/// Steps of a downsampled analysis.
const ANALYSIS_POINTS: usize = 1_500;
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
    reader: Arc<Reader>,
    /// Per target: when its verdict was computed, and the verdict and summary.
    verdicts: Arc<Mutex<HashMap<String, (i64, Value)>>>,
}

impl State {
    pub(crate) fn new(reader: Arc<Reader>) -> State {
        State {
            reader,
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

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    state: &State,
    call: impl FnOnce(&Reader) -> Result<T, gomon_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let reader = Arc::clone(&state.reader);
    tokio::task::spawn_blocking(move || call(&reader))
        .await
        .map_err(|e| ApiError::store(format!("the query task failed: {e}")))?
        .map_err(ApiError::store)
}

/// The `target` parameter, which must be a target the store knows.
async fn known_target(state: &State, params: &Params) -> Result<String, ApiError> {
    let target = params.required("target")?.to_owned();
    let targets = blocking(state, |r| r.targets()).await?;
    if targets.iter().any(|t| t.address == target) {
        Ok(target)
    } else {
        Err(ApiError::not_found(
            "target",
            format!(
                "no data for target {target:?} in the store (GET /api/targets lists the {} it has)",
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
    let infos = blocking(&state, |r| r.targets()).await?;
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
    let owned = address.to_owned();
    let docs = blocking(state, move |r| {
        r.heap_series(&owned, range, VERDICT_POINTS)
            .map(|series| documents_from_series(&owned, &series))
    })
    .await?;
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
    let address = target.clone();
    let series = blocking(&state, move |r| r.heap_series(&address, range, points)).await?;
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
    let address = target.clone();
    let fields = blocking(&state, move |r| r.expvar_fields(&address, range)).await?;
    Ok(Json(json!({"target": target, "fields": fields})))
}

async fn expvar(Shared(state): Shared<State>, Query(q): Query_) -> Result<Json<Value>, ApiError> {
    let params = Params::new(q);
    let range = params.range(now_ms(), DEFAULT_SPAN_MS, &["target", "field", "points"])?;
    let points = params.points()?;
    let field = params.required("field")?.to_owned();
    let target = known_target(&state, &params).await?;
    let (address, name) = (target.clone(), field.clone());
    let known = blocking(&state, move |r| {
        let fields = r.expvar_fields(
            &address,
            TimeRange {
                from_ms: 0,
                to_ms: i64::MAX,
            },
        )?;
        if !fields.contains(&name) {
            return Ok(None);
        }
        r.expvar_series(&address, &name, range, points).map(Some)
    })
    .await?;
    let Some(series) = known else {
        return Err(ApiError::not_found(
            "field",
            format!(
                "target {target:?} has no numeric expvar field {field:?} (GET /api/expvar/fields lists them)"
            ),
        ));
    };
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
    let address = target.clone();
    let (step_ms, lifetimes) = blocking(&state, move |r| {
        let (step_ms, docs) = if range.to_ms - range.from_ms <= RAW_ANALYSIS_MS {
            (0, r.documents(Some(&address), range)?)
        } else {
            let series = r.heap_series(&address, range, ANALYSIS_POINTS)?;
            (series.step_ms, documents_from_series(&address, &series))
        };
        Ok((step_ms, analyse(&docs)))
    })
    .await?;
    Ok(Json(json!({
        "target": target,
        "from_ms": range.from_ms,
        "to_ms": range.to_ms,
        "step_ms": step_ms,
        "lifetimes": lifetimes,
    })))
}
