//! The `profile` metric set: a target's heap and goroutine profiles from
//! `net/http/pprof`, on their own (slower) schedule, as `golang.profile`
//! documents that name the sites that grow.
//!
//! Both profiles are fetched through the shared client (its slots, body
//! cap and timeouts) and parsed by `gomon-pprof` under its limits; each
//! target keeps only a few numbers per stack of its previous profiles
//! ([`ProfileState`]) to give the growth since then. A malformed or
//! oversized profile is an error document for that target alone. A target
//! that does not serve `/debug/pprof` (HTTP 404) is reported once, with
//! what to import, and then left quiet until it starts serving profiles.

use std::time::{Duration, Instant, SystemTime};

use gomon_expvar::{ExpvarClient, FetchError, Target};
use gomon_pprof::report::{ProfileMetrics, ProfileState};
use gomon_pprof::{Limits, ProfileError, text};

use crate::collect::SettingsError;
use crate::config::{DEFAULT_PROFILE_PATH, MetricSet, ModuleConfig};
use crate::document::{Event, Golang};

/// What the `profile` metric set of one target runs with.
#[derive(Debug, Clone)]
pub(crate) struct ProfileSettings {
    heap: Target,
    goroutine: Target,
    pub(crate) period: Duration,
    /// The whole-request timeout of the heap fetch (plus `seconds` when Go
    /// computes the delta).
    heap_timeout: Duration,
    timeout: Duration,
    top: usize,
}

/// The profile settings of one host of `module` (`base` is its target with
/// credentials and headers), or `None` when the module does not run the
/// `profile` metric set.
pub(crate) fn profile_settings(
    module: &ModuleConfig,
    base: &Target,
    label: &str,
) -> Result<Option<ProfileSettings>, SettingsError> {
    if !module.metric_sets().contains(&MetricSet::Profile) {
        return Ok(None);
    }
    let prefix = module
        .profile
        .path
        .as_deref()
        .unwrap_or(DEFAULT_PROFILE_PATH)
        .trim_end_matches('/');
    let path = |name: &str| {
        base.with_path(&format!("{prefix}/{name}"))
            .map_err(|e| SettingsError::Invalid {
                key: format!("{label}.profile.path"),
                reason: e.to_string(),
            })
    };
    let heap = match module.profile.seconds {
        Some(seconds) => path(&format!("heap?seconds={seconds}"))?,
        None => path("heap")?,
    };
    let timeout = module.request_timeout();
    Ok(Some(ProfileSettings {
        heap,
        goroutine: path("goroutine")?,
        period: module.profile.period,
        heap_timeout: timeout + Duration::from_secs(module.profile.seconds.unwrap_or(0)),
        timeout,
        top: module.profile_top(),
    }))
}

/// One target's profile collection and its state between fetches.
#[derive(Debug)]
pub(crate) struct ProfileTask {
    settings: ProfileSettings,
    /// `service.address` of the documents: the target's expvar URL, so
    /// that profiles sit beside its heap documents.
    address: String,
    state: ProfileState,
    /// A 404 was reported and not followed by a profile since.
    reported_missing: bool,
}

/// Why one profile gave nothing.
enum Failure {
    /// HTTP 404: the program does not serve `net/http/pprof` there.
    Missing(String),
    /// Anything else, as the document's `error.message`.
    Other(String),
}

impl ProfileTask {
    /// A target before its first profile; `address` is its expvar URL.
    pub(crate) fn new(settings: ProfileSettings, address: String) -> ProfileTask {
        ProfileTask {
            settings,
            address,
            state: ProfileState::new(),
            reported_missing: false,
        }
    }

    /// The profile period.
    pub(crate) fn period(&self) -> Duration {
        self.settings.period
    }

    /// The heap profile's URL (for logs).
    pub(crate) fn heap_url(&self) -> String {
        self.settings.heap.to_string()
    }

    /// One tick: both profiles, one document; `None` when the target does
    /// not serve profiles and that was already reported.
    pub(crate) async fn fetch_once(&mut self, client: &ExpvarClient) -> Option<Event> {
        let wall = SystemTime::now();
        let started = Instant::now();
        let s = &self.settings;
        let (heap, goroutines) = tokio::join!(
            client.fetch_bytes_within(&s.heap, "application/octet-stream", s.heap_timeout),
            client.fetch_bytes_within(&s.goroutine, "application/octet-stream", s.timeout),
        );
        let at = Instant::now();
        let top = s.top;
        let (heap_url, goroutine_url) = (s.heap.to_string(), s.goroutine.to_string());
        // Parsing a large profile takes milliseconds (docs/performance.md):
        // off the async workers, so that no other target's fetch waits.
        let mut state = std::mem::take(&mut self.state);
        let parsed = tokio::task::spawn_blocking(move || {
            let limits = Limits::default();
            let heap = match heap {
                Ok(body) => gomon_pprof::parse(&body.bytes, &limits)
                    .and_then(|p| state.heap(&p, at, top))
                    .map_err(|e| Failure::Other(format!("{heap_url}: heap profile: {e}"))),
                Err(e) => Err(failure(e)),
            };
            let goroutines = match goroutines {
                Ok(body) => parse_goroutines(&body.bytes, &limits)
                    .and_then(|p| state.goroutines(&p, at, top))
                    .map_err(|e| {
                        Failure::Other(format!("{goroutine_url}: goroutine profile: {e}"))
                    }),
                Err(e) => Err(failure(e)),
            };
            (state, heap, goroutines)
        })
        .await;
        let (heap, goroutines) = match parsed {
            Ok((state, heap, goroutines)) => {
                self.state = state;
                (heap, goroutines)
            }
            // The parser panicked (a bug): the state starts over, the target goes on.
            Err(e) => {
                let message = format!("{}: reading the profiles failed: {e}", self.address);
                (
                    Err(Failure::Other(message.clone())),
                    Err(Failure::Other(message)),
                )
            }
        };
        let mut errors = Vec::new();
        let mut missing = Vec::new();
        let heap = heap.map_err(|f| sort(f, &mut errors, &mut missing)).ok();
        let goroutines = goroutines
            .map_err(|f| sort(f, &mut errors, &mut missing))
            .ok();
        let got_any = heap.is_some() || goroutines.is_some();
        if got_any && self.reported_missing {
            tracing::info!(target: "gomon::targets", address = %self.address, "profiles are served now");
            self.reported_missing = false;
        }
        if !missing.is_empty() {
            if errors.is_empty() && !got_any && self.reported_missing {
                tracing::debug!(address = %self.address, "still no /debug/pprof");
                return None;
            }
            let hint = format!(
                "{}: HTTP status 404 (Not Found): the program does not serve net/http/pprof there (import _ \"net/http/pprof\", or set profile.path); reported once, gomon keeps trying every profile.period",
                missing.join(", ")
            );
            if !got_any {
                tracing::warn!(target: "gomon::targets", address = %self.address, error = %hint, "no profiles");
                self.reported_missing = true;
            }
            errors.push(hint);
        }
        let golang =
            got_any.then(|| Golang::Profile(Box::new(ProfileMetrics { heap, goroutines })));
        Some(Event {
            metricset: "profile",
            dataset: "golang.profile".to_owned(),
            golang,
            error: (!errors.is_empty()).then(|| errors.join("; ")),
            address: self.address.clone(),
            timestamp: wall,
            duration: started.elapsed(),
            period: self.settings.period,
        })
    }
}

fn sort(failure: Failure, errors: &mut Vec<String>, missing: &mut Vec<String>) {
    match failure {
        Failure::Missing(url) => missing.push(url),
        Failure::Other(message) => errors.push(message),
    }
}

fn failure(error: FetchError) -> Failure {
    match error {
        FetchError::Status {
            target,
            status: 404,
        } => Failure::Missing(target),
        other => Failure::Other(other.to_string()),
    }
}

/// The protobuf, or the `?debug=1` text where that is what is served.
fn parse_goroutines(bytes: &[u8], limits: &Limits) -> Result<gomon_pprof::Profile, ProfileError> {
    if text::is_goroutine_text(bytes) {
        text::parse_goroutines(bytes, limits)
    } else {
        gomon_pprof::parse(bytes, limits)
    }
}
