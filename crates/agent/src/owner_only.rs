//! Folders and files that only their owner can read: the data gomon keeps
//! (metrics, queued documents, rejected documents) may be sensitive, so its
//! modes are set when each entry is created, whatever the umask, never
//! loosened or tightened afterwards.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Mode of every folder created for data: `rwx------`.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of every file created for data: `rw-------`.
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents, each new one with [`DIR_MODE`];
/// folders that already exist keep their mode.
pub(crate) fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Options whose `create`/`create_new` make the file with [`FILE_MODE`].
pub(crate) fn open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}
