//! `gomon explain TARGET`: where a program's heap grows right now, and
//! whether its goroutines pile up. Two heap profiles and two goroutine
//! profiles a window apart, compared the way `go tool pprof -top -base`
//! compares two profiles, with the sites that grew.

use std::time::{Duration, Instant};

use gomon_expvar::{ClientConfig, ExpvarClient, FetchError, Target, TargetError};
use gomon_pprof::report::{GoroutineProfile, ProfileState};
use gomon_pprof::{
    Baseline, FunctionRow, Limits, Profile, ProfileError, Site, delta, text, top_functions,
    top_sites,
};

/// What `gomon explain` asks.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    /// The program: `host:port` or a URL (its path is replaced by `path`).
    pub target: String,
    /// Time between the two profiles.
    pub window: Duration,
    /// Where `net/http/pprof` serves (`/debug/pprof`).
    pub path: String,
    /// Rows and sites listed.
    pub top: usize,
    /// Ask Go to collect before each heap profile (`?gc=1`): exact figures
    /// for a window without a collection, at the cost of a full GC.
    pub force_gc: bool,
}

/// Why `gomon explain` could not compare two profiles.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The target is not a `host:port` or URL.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A fetch failed (a 404 says what to import).
    #[error("{0}")]
    Fetch(String),
    /// A profile could not be read.
    #[error("{url}: {source}")]
    Profile {
        /// The profile's URL.
        url: String,
        /// What is wrong with it.
        source: ProfileError,
    },
}

/// The heap part of an explanation.
#[derive(Debug, Clone)]
pub struct HeapComparison {
    /// The heap profile's URL.
    pub url: String,
    /// Time between the two profiles.
    pub window: Duration,
    /// `go tool pprof -top -base` rows of in-use bytes (flat, cum).
    pub rows: Vec<FunctionRow>,
    /// Net growth of in-use bytes (the table's 100 %).
    pub total: i64,
    /// The sites that grew, largest first (values: in-use bytes and
    /// objects now, then their growth).
    pub sites: Vec<Site>,
    /// No GC completed between the two profiles: they are the same.
    pub unchanged: bool,
}

/// What `gomon explain` found.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The heap profiles compared.
    pub heap: HeapComparison,
    /// The goroutine profiles compared (absent when they could not be read).
    pub goroutines: Option<GoroutineProfile>,
    /// Why the goroutine profiles could not be compared.
    pub goroutine_error: Option<String>,
}

const HEAP: [&str; 2] = ["inuse_space", "inuse_objects"];

async fn fetch(client: &ExpvarClient, target: &Target) -> Result<Vec<u8>, ExplainError> {
    client
        .fetch_bytes_within(target, "application/octet-stream", client.config().request_timeout)
        .await
        .map(|body| body.bytes)
        .map_err(|e| match e {
            FetchError::Status { target, status: 404 } => ExplainError::Fetch(format!(
                "{target}: HTTP status 404 (Not Found): the program does not serve net/http/pprof there (import _ \"net/http/pprof\", or give --path)"
            )),
            other => ExplainError::Fetch(other.to_string()),
        })
}

fn parse(bytes: &[u8], url: &str, goroutines: bool) -> Result<Profile, ExplainError> {
    let limits = Limits::default();
    let parsed = if goroutines && text::is_goroutine_text(bytes) {
        text::parse_goroutines(bytes, &limits)
    } else {
        gomon_pprof::parse(bytes, &limits)
    };
    parsed.map_err(|source| ExplainError::Profile {
        url: url.to_owned(),
        source,
    })
}

/// A heap profile of `target` and the columns compared ([`HEAP`]).
async fn heap_profile(
    client: &ExpvarClient,
    target: &Target,
) -> Result<(Profile, Vec<usize>), ExplainError> {
    let url = target.to_string();
    let profile = parse(&fetch(client, target).await?, &url, false)?;
    let columns = profile
        .require(&HEAP)
        .map_err(|source| ExplainError::Profile { url, source })?;
    Ok((profile, columns))
}

/// A goroutine profile of `target`, compared with the previous one `state` holds.
async fn goroutines(
    client: &ExpvarClient,
    target: &Target,
    state: &mut ProfileState,
    top: usize,
) -> Result<GoroutineProfile, ExplainError> {
    let url = target.to_string();
    let profile = parse(&fetch(client, target).await?, &url, true)?;
    state
        .goroutines(&profile, Instant::now(), top)
        .map_err(|source| ExplainError::Profile { url, source })
}

/// Takes the heap and goroutine profiles of `request.target` twice,
/// `request.window` apart, and compares them.
pub async fn explain(request: &ExplainRequest) -> Result<Explanation, ExplainError> {
    let base = Target::parse(&request.target)?;
    let prefix = request.path.trim_end_matches('/');
    let heap = base.with_path(&format!(
        "{prefix}/heap{}",
        if request.force_gc { "?gc=1" } else { "" }
    ))?;
    let goroutine = base.with_path(&format!("{prefix}/goroutine"))?;
    let client = ExpvarClient::new(ClientConfig::default());

    let first = heap_profile(&client, &heap).await?;
    let mut goroutine_state = ProfileState::new();
    let started = Instant::now();
    let before = goroutines(&client, &goroutine, &mut goroutine_state, request.top).await;
    tokio::time::sleep(request.window).await;
    let second = heap_profile(&client, &heap).await?;
    let window = started.elapsed();
    // The second profile's columns, compared with the first's values per stack.
    let d = delta(&second.0, &second.1, &Baseline::of(&first.0, &first.1));
    let unchanged = d.is_unchanged();
    let (rows, total) = top_functions(&d.samples, 2);
    let sites = top_sites(&d.samples, 2, request.top);
    let after = match before {
        Ok(_) => goroutines(&client, &goroutine, &mut goroutine_state, request.top).await,
        Err(e) => Err(e),
    };
    let (goroutines, goroutine_error) = match after {
        Ok(g) => (Some(g), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(Explanation {
        heap: HeapComparison {
            url: heap.to_string(),
            window,
            rows,
            total,
            sites,
            unchanged,
        },
        goroutines,
        goroutine_error,
    })
}
