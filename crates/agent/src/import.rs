//! `gomon import`: NDJSON files (gomon's `output.file`, the file store of
//! earlier versions, Metricbeat's file output) into the embedded store the
//! configuration names.

use std::path::{Path, PathBuf};

pub use gomon_store::{ImportError, ImportReport};

use crate::config::{Config, StoreOutput};

/// The store file `config` (or, without one, the data folder `data`) writes to.
pub fn store_file(config: Option<&Config>, data: &Path) -> PathBuf {
    config
        .and_then(|c| c.output.store.clone())
        .unwrap_or_else(|| StoreOutput::in_folder(data))
        .file(data)
}

/// Imports each of `paths` (a file, or a folder of `*.ndjson*` files) into
/// the store at `store`, one report per path. Runs on the calling thread.
pub fn import_paths(store: &Path, paths: &[PathBuf]) -> Result<Vec<ImportReport>, ImportError> {
    let mut writer = gomon_store::Store::open(store, gomon_store::StoreSettings::default())?;
    paths
        .iter()
        .map(|path| gomon_store::import_ndjson(&mut writer, path))
        .collect()
}
