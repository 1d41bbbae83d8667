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
    let heap_url = heap.to_string();
    let goroutine_url = goroutine.to_string();

    let first = parse(&fetch(&client, &heap).await?, &heap_url, false)?;
    let columns = first
        .require(&HEAP)
        .map_err(|source| ExplainError::Profile {
            url: heap_url.clone(),
            source,
        })?;
    let mut goroutine_state = ProfileState::new();
    let started = Instant::now();
    let goroutines_before = match fetch(&client, &goroutine).await {
        Ok(bytes) => parse(&bytes, &goroutine_url, true)
            .and_then(|p| {
                goroutine_state
                    .goroutines(&p, started, request.top)
                    .map_err(|source| ExplainError::Profile {
                        url: goroutine_url.clone(),
                        source,
                    })
            })
            .map(|_| ()),
        Err(e) => Err(e),
    };
    tokio::time::sleep(request.window).await;
    let second = parse(&fetch(&client, &heap).await?, &heap_url, false)?;
    let columns_now = second
        .require(&HEAP)
        .map_err(|source| ExplainError::Profile {
            url: heap_url.clone(),
            source,
        })?;
    let window = started.elapsed();
    // The second profile's columns, compared with the first's values per stack.
    let d = delta(&second, &columns_now, &Baseline::of(&first, &columns));
    let unchanged = d.growth.iter().all(|g| *g == 0)
        && d.samples
            .iter()
            .all(|s| s.values[2..].iter().all(|g| *g == 0));
    let (rows, total) = top_functions(&d.samples, 2);
    let sites = top_sites(&d.samples, 2, request.top);
    let (goroutines, goroutine_error) = match goroutines_before {
        Err(e) => (None, Some(e.to_string())),
        Ok(()) => match fetch(&client, &goroutine).await.and_then(|bytes| {
            let p = parse(&bytes, &goroutine_url, true)?;
            goroutine_state
                .goroutines(&p, Instant::now(), request.top)
                .map_err(|source| ExplainError::Profile {
                    url: goroutine_url.clone(),
                    source,
                })
        }) {
            Ok(g) => (Some(g), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    Ok(Explanation {
        heap: HeapComparison {
            url: heap_url,
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
