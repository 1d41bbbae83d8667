//! The open-file limit. Every target keeps one connection open between
//! fetches, so a gomon watching 5,000 targets needs over 5,000 file
//! descriptors, where many systems give a process 1,024 (the soft limit)
//! while allowing far more (the hard limit). Go programs, Metricbeat among
//! them, raise their soft limit to the hard one when they start (Go 1.19+);
//! [`raise_open_files`] does the same for gomon.

/// Descriptors set aside besides the targets' connections: the output
/// (server connections, store and buffer files), self-monitoring, the web
/// view, logs and the runtime's own.
pub const RESERVED: u64 = 64;

/// The open-file limit, before and after [`raise_open_files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit found at start.
    pub before: u64,
    /// The soft limit now in force.
    pub now: u64,
    /// The hard limit (how far the soft one can go without privileges);
    /// `None` when unlimited.
    pub hard: Option<u64>,
}

impl OpenFiles {
    /// Whether `targets` targets fit under the limit now in force, with
    /// [`RESERVED`] descriptors to spare.
    pub fn fits(&self, targets: usize) -> bool {
        needed(targets) <= self.now
    }
}

/// The descriptors `targets` targets need: one connection each, plus
/// [`RESERVED`].
pub fn needed(targets: usize) -> u64 {
    targets as u64 + RESERVED
}

/// The highest soft limit tried when the hard limit is unlimited (Linux
/// refuses more than `fs.nr_open`, 1,048,576 by default).
const UNLIMITED_CAP: u64 = 1 << 20;

/// Raises this process's soft limit on open files to its hard limit and
/// says what it was and what it is now. A refusal leaves the limit as it
/// was (`now == before`); only reading the limit can fail.
#[cfg(unix)]
pub fn raise_open_files() -> std::io::Result<OpenFiles> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current.unwrap_or(UNLIMITED_CAP);
    let target = limit.maximum.unwrap_or(UNLIMITED_CAP);
    let mut now = before;
    if target > before {
        let raised = Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            now = target;
        }
    }
    Ok(OpenFiles {
        before,
        now,
        hard: limit.maximum,
    })
}

/// Elsewhere the limit is left alone: reported as unknown.
#[cfg(not(unix))]
pub fn raise_open_files() -> std::io::Result<OpenFiles> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "open-file limits are read on Unix only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_need_one_descriptor_each_beside_the_reserve() {
        let limit = OpenFiles {
            before: 1024,
            now: 1024,
            hard: Some(4096),
        };
        assert!(limit.fits(960));
        assert!(!limit.fits(961));
        assert_eq!(needed(0), RESERVED);
    }

    #[cfg(unix)]
    #[test]
    fn raising_never_lowers_the_limit_and_stops_at_the_hard_one() {
        let limit = raise_open_files().unwrap();
        assert!(limit.now >= limit.before, "{limit:?}");
        if let Some(hard) = limit.hard {
            assert!(limit.now <= hard, "{limit:?}");
        }
        // A second call finds it already raised.
        assert_eq!(raise_open_files().unwrap().before, limit.now);
    }
}
