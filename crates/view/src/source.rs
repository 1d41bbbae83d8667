//! Where the view's data comes from: the embedded store, or the
//! Elasticsearch/OpenSearch cluster the agent writes to.
//!
//! Both answer the same five questions (the targets, a heap series, the
//! expvar fields, an expvar series, the documents an analysis reads) in the
//! same shapes ([`TargetInfo`], [`Series`]), so the API and the page do not
//! know which one they read. The store is asked on tokio's blocking pool;
//! the cluster through aggregations ([`cluster`]), never by downloading the
//! documents of a chart.

pub mod cluster;

use std::sync::Arc;

use gomon_store::{Reader, Series, StoreError, TargetInfo, TimeRange};
use serde_json::Value;

pub use cluster::ClusterSource;

use crate::series::documents_from_series;

/// The longest range analysed from raw rows of the store, exactly as
/// `gomon analyze` does; longer ranges (and every range on a cluster) are
/// analysed from [`ANALYSIS_POINTS`] steps of the downsampled series.
const RAW_ANALYSIS_MS: i64 = 2 * 3_600_000;
/// Steps of a downsampled analysis.
pub(crate) const ANALYSIS_POINTS: usize = 1_500;

/// Why a source could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The embedded store failed (its message names the file).
    #[error("the store could not answer: {0}")]
    Store(#[from] StoreError),
    /// The cluster failed or refused: `server` is its URL without
    /// credentials, `what` the question asked.
    #[error("{server}: {what} failed: {reason}")]
    Cluster {
        /// The node asked (no credentials).
        server: String,
        /// What was asked (`the target list`, `the heap series of ...`).
        what: String,
        /// The transport's or the server's reason.
        reason: String,
    },
    /// A blocking query task died.
    #[error("the query task failed: {0}")]
    Task(String),
}

/// The data behind the view.
#[derive(Debug, Clone)]
pub enum Source {
    /// The embedded store (`gomon.db`).
    Store(Arc<Reader>),
    /// An Elasticsearch/OpenSearch cluster, searched as `<index>*`.
    Cluster(Arc<ClusterSource>),
}

impl Source {
    /// The embedded store behind `reader`.
    pub fn store(reader: Reader) -> Source {
        Source::Store(Arc::new(reader))
    }

    /// The cluster behind `cluster` (built with the output's credentials
    /// and TLS settings), documents in `<index>*`.
    pub fn cluster(cluster: gomon_sink::Cluster, index: &str) -> Source {
        Source::Cluster(Arc::new(ClusterSource::new(cluster, index)))
    }

    /// What is read, for people: `store /data/gomon.db` or
    /// `http://host:9200 index gomon*` (never credentials).
    pub fn describe(&self) -> String {
        match self {
            Source::Store(reader) => format!("store {}", reader.path().display()),
            Source::Cluster(cluster) => cluster.describe(),
        }
    }

    /// `store` or `cluster`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Store(_) => "store",
            Source::Cluster(_) => "cluster",
        }
    }

    async fn blocking<T: Send + 'static>(
        reader: &Arc<Reader>,
        call: impl FnOnce(&Reader) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, SourceError> {
        let reader = Arc::clone(reader);
        tokio::task::spawn_blocking(move || call(&reader))
            .await
            .map_err(|e| SourceError::Task(e.to_string()))?
            .map_err(SourceError::Store)
    }

    /// Every target, by address.
    pub async fn targets(&self) -> Result<Vec<TargetInfo>, SourceError> {
        match self {
            Source::Store(reader) => Self::blocking(reader, |r| r.targets()).await,
            Source::Cluster(cluster) => cluster.targets().await,
        }
    }

    /// The heap series of `address` over `range` in at most `points` points
    /// (see [`Reader::heap_series`] for the columns).
    pub async fn heap_series(
        &self,
        address: &str,
        range: TimeRange,
        points: usize,
    ) -> Result<Series, SourceError> {
        match self {
            Source::Store(reader) => {
                let address = address.to_owned();
                Self::blocking(reader, move |r| r.heap_series(&address, range, points)).await
            }
            Source::Cluster(cluster) => cluster.heap_series(address, range, points).await,
        }
    }

    /// The numeric expvar fields of `address` in `range`, as
    /// `<namespace>.<path>`, sorted.
    pub async fn expvar_fields(
        &self,
        address: &str,
        range: TimeRange,
    ) -> Result<Vec<String>, SourceError> {
        match self {
            Source::Store(reader) => {
                let address = address.to_owned();
                Self::blocking(reader, move |r| r.expvar_fields(&address, range)).await
            }
            Source::Cluster(cluster) => cluster.expvar_fields(address, range).await,
        }
    }

    /// One expvar field of `address` over `range` in at most `points`
    /// points, the latest value of each step.
    pub async fn expvar_series(
        &self,
        address: &str,
        field: &str,
        range: TimeRange,
        points: usize,
    ) -> Result<Series, SourceError> {
        match self {
            Source::Store(reader) => {
                let (address, field) = (address.to_owned(), field.to_owned());
                Self::blocking(reader, move |r| {
                    r.expvar_series(&address, &field, range, points)
                })
                .await
            }
            Source::Cluster(cluster) => cluster.expvar_series(address, field, range, points).await,
        }
    }

    /// The heap and profile documents an analysis of `address` over
    /// `range` reads, and the width of the heap documents' steps (0: the
    /// raw rows).
    pub async fn analysis_documents(
        &self,
        address: &str,
        range: TimeRange,
    ) -> Result<(i64, Vec<Value>), SourceError> {
        if let Source::Store(reader) = self
            && range.to_ms.saturating_sub(range.from_ms) <= RAW_ANALYSIS_MS
        {
            let address = address.to_owned();
            let docs = Self::blocking(reader, move |r| r.documents(Some(&address), range)).await?;
            return Ok((0, docs));
        }
        let series = self.heap_series(address, range, ANALYSIS_POINTS).await?;
        let mut docs = documents_from_series(address, &series);
        docs.extend(self.profiles(address, range).await?);
        Ok((series.step_ms, docs))
    }

    /// The profile documents of `address` in `range`, newest first (at most
    /// `fields::profile::MAX_READ`), with what the analysis reads of them.
    pub async fn profiles(
        &self,
        address: &str,
        range: TimeRange,
    ) -> Result<Vec<Value>, SourceError> {
        match self {
            Source::Store(reader) => {
                let address = address.to_owned();
                Self::blocking(reader, move |r| {
                    r.profiles(&address, range, gomon_analyze::fields::profile::MAX_READ)
                })
                .await
            }
            Source::Cluster(cluster) => cluster.profiles(address, range).await,
        }
    }
}
