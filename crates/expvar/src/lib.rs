//! Reads Go `expvar` endpoints.
//!
//! A Go program that imports `expvar` serves a JSON object at `/debug/vars`:
//! `cmdline` (its arguments), `memstats` (`runtime.MemStats`) and whatever
//! variables the program published. This crate fetches that object over
//! HTTP (hyper on tokio) and decodes it once into a [`Snapshot`] that the heap
//! mapper and the flattener both borrow from. It knows nothing about
//! Elasticsearch.
//!
//! Integers are decoded exactly (`u64`/`i64`, never through `f64`), so a
//! counter above 2^53 keeps its last digit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), gomon_expvar::FetchError> {
//! use gomon_expvar::{ClientConfig, ExpvarClient, Target};
//! let client = ExpvarClient::new(ClientConfig::default());
//! let target = Target::parse("localhost:6060").expect("valid target");
//! let snapshot = client.fetch(&target).await?;
//! println!("{} variables, cmdline {:?}", snapshot.vars().len(), snapshot.cmdline());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod client;
mod snapshot;
mod target;

pub use client::{ClientConfig, ExpvarClient, FetchError};
pub use snapshot::{DecodeError, Snapshot};
pub use target::{DEFAULT_PATH, Target, TargetError};
