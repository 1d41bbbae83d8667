//! Folders and files that only their owner can read: the data gomon keeps
//! (metrics, queued documents, rejected documents) may be sensitive, so its
//! modes are set when each entry is created, whatever the umask, never
//! loosened or tightened afterwards. On systems without Unix modes the
//! platform's defaults apply.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Mode of every folder created for data: `rwx------`.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file created for data: `rw-------`.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents, each new one with [`DIR_MODE`];
/// folders that already exist keep their mode.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Options whose `create`/`create_new` make the file with [`FILE_MODE`].
pub fn open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_folders_and_files_are_for_their_owner_only() {
        let base = std::env::temp_dir().join(format!("gomon-net-files-{}", std::process::id()));
        let nested = base.join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&base), DIR_MODE);
        assert_eq!(mode(&nested), DIR_MODE);
        let file = nested.join("data.ndjson");
        let mut handle = open_options()
            .create_new(true)
            .write(true)
            .open(&file)
            .unwrap();
        handle.write_all(b"{}\n").unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
