//! Turns Go's `runtime.MemStats` into `golang.heap` documents.
//!
//! Pure code, no I/O. [`MemStats`] is the typed form of the `memstats`
//! variable every Go program with `expvar` publishes; [`HeapMetrics`] is the
//! `golang.heap` object of Metricbeat's golang module, field for field, so
//! Kibana dashboards built on Metricbeat's data read gomon's unchanged, plus
//! gomon's additions under names Metricbeat does not use.
//!
//! [`HeapState`] keeps what one target needs between snapshots and fixes
//! Metricbeat's defects: GC pause statistics per interval that survive
//! restarts of the target, do not present the first snapshot's whole history
//! as one interval, and count the cycles that Go's 256-entry pause ring no
//! longer holds instead of under-counting; plus pause percentiles, forced
//! cycles and per-second rates.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use gomon_heap::{HeapState, MemStats};
//!
//! let mut state = HeapState::new();
//! let t0 = Instant::now();
//! let first: MemStats = serde_json::from_str(r#"{"NumGC": 1, "TotalAlloc": 1000, "PauseNs": [50]}"#).unwrap();
//! let doc = state.observe(&first, &["./app"], t0);
//! assert!(doc.gc.pause.is_none(), "no interval yet");
//!
//! let second: MemStats = serde_json::from_str(r#"{"NumGC": 3, "TotalAlloc": 3000, "PauseNs": [50, 70, 90]}"#).unwrap();
//! let doc = state.observe(&second, &["./app"], t0 + Duration::from_secs(2));
//! let pause = doc.gc.pause.unwrap();
//! assert_eq!((pause.count, pause.sum.ns, pause.max.ns), (2, 160, 90));
//! assert_eq!(doc.rate.unwrap().allocated_bytes_per_sec, 1000.0);
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod memstats;
mod metrics;
pub mod pause;
mod state;

pub use memstats::{MemStats, MemStatsError, SizeClass};
pub use metrics::{Allocations, Forced, Gc, HeapMetrics, Nanos, Rates, System};
pub use pause::PauseStats;
pub use state::{HeapState, RestartCause};
