//! Go's pprof profiles, read in Rust: the heap and goroutine profiles a Go
//! program serves under `/debug/pprof/` (with `net/http/pprof` imported),
//! turned into what an engineer looking at a leak asks first: which sites
//! grow.
//!
//! Pure code, no I/O. [`parse`] reads a profile as Go writes it (gzip'd
//! `profile.proto`; plain protobuf is accepted too) into a [`Profile`] of
//! resolved stacks, under [`Limits`]: a malformed, truncated or huge
//! profile is a [`ProfileError`] naming what is wrong, never a panic and
//! never more memory than the limits allow. [`text::parse_goroutines`]
//! reads the `?debug=1` text form of the goroutine profile, for programs
//! that do not serve the protobuf.
//!
//! [`Baseline`] remembers a profile's values per stack, so that the next
//! profile of the same program gives the growth in between ([`delta`]);
//! [`top_sites`] ranks allocation sites (or goroutine stacks) by a value,
//! and [`top_functions`] gives `go tool pprof -top`'s flat and cumulative
//! table. [`report`] builds the `golang.profile` document of one fetch.
//!
//! ```
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/leaking-heap-2.pb.gz")).unwrap();
//! let profile = gomon_pprof::parse(&bytes, &gomon_pprof::Limits::default()).unwrap();
//! let inuse = profile.index_of("inuse_space").unwrap();
//! let sites = gomon_pprof::top_sites(&profile.samples, inuse, 3);
//! assert_eq!(&*sites[0].frame.function, "main.main.func1.1");
//! ```

mod proto;
pub mod report;
mod sites;
pub mod synthetic;
pub mod text;

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::sync::Arc;

use prost::Message;

pub use sites::{
    FunctionRow, SHORT_STACK, Site, format_value, is_profiler, site_index, top_functions,
    top_sites, top_table,
};

/// How much of a profile [`parse`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest profile once decompressed, in bytes (default 64 MiB).
    pub max_decoded_bytes: usize,
    /// Most samples (distinct stacks) read (default 1,000,000).
    pub max_samples: usize,
    /// Frames kept per stack, from the leaf (default 128); deeper frames are
    /// dropped, as `go tool pprof` trims deep stacks.
    pub max_frames: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decoded_bytes: 64 << 20,
            max_samples: 1_000_000,
            max_frames: 128,
        }
    }
}

/// Why a profile could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The body starts as gzip but does not decompress.
    #[error("corrupt gzip stream: {0}")]
    Gzip(String),
    /// More than [`Limits::max_decoded_bytes`] once decompressed.
    #[error("profile larger than {limit} bytes once decompressed")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Not a `profile.proto` message (or cut off).
    #[error("not a pprof profile (profile.proto): {0}")]
    Proto(String),
    /// A reference inside the profile points nowhere.
    #[error("inconsistent profile: {0}")]
    Invalid(String),
    /// More samples than [`Limits::max_samples`].
    #[error("profile has {count} samples, more than the {limit} read")]
    TooManySamples {
        /// Samples in the profile.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The profile lacks a sample type the caller needs.
    #[error("profile has no {wanted} values (it has {present})")]
    MissingSampleType {
        /// The sample type asked for.
        wanted: String,
        /// The sample types present, comma-separated.
        present: String,
    },
}

/// One frame of a stack: a function and the source line in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The function, as Go names it (`main.(*Cache).Put`, `main.main.func1`).
    pub function: Arc<str>,
    /// Its source file (empty when the profile has no symbols).
    pub file: Arc<str>,
    /// The line (0 when unknown).
    pub line: i64,
}

impl Frame {
    /// Whether the frame is in the Go runtime itself (`runtime.mallocgc`,
    /// not `runtime/pprof.WriteTo`): allocation and scheduling internals
    /// that are never the place to fix a leak.
    pub fn is_runtime(&self) -> bool {
        self.function.starts_with("runtime.")
    }

    /// The file's last two path elements (`leaking/main.go`), as Go's
    /// tools print short locations.
    pub fn short_file(&self) -> &str {
        let mut cut = self.file.len();
        for _ in 0..2 {
            match self.file[..cut].rfind('/') {
                Some(i) => cut = i,
                None => return &self.file,
            }
        }
        &self.file[cut + 1..]
    }
}

impl fmt::Display for Frame {
    /// `function file:line`, with the short file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            f.write_str(&self.function)
        } else {
            write!(f, "{} {}:{}", self.function, self.short_file(), self.line)
        }
    }
}

/// A stack and its values, one per [`Profile::sample_types`] entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Frames, leaf first (inlined calls expanded); shared, so that the
    /// samples of a [`delta`] cost no copy of their stacks.
    pub stack: Arc<[Frame]>,
    /// [`stack_key`] of `stack`, computed once when the profile is read.
    pub key: u64,
    /// One value per sample type.
    pub values: Vec<i64>,
}

/// What one column of values measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleType {
    /// `inuse_space`, `alloc_objects`, `goroutine`, ...
    pub name: String,
    /// `bytes`, `count`, ...
    pub unit: String,
}

/// A profile with its stacks resolved to functions and lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The columns of [`Sample::values`].
    pub sample_types: Vec<SampleType>,
    /// The samples, in the profile's order.
    pub samples: Vec<Sample>,
    /// When it was taken (ns since the Unix epoch; 0 when not given).
    pub time_nanos: i64,
    /// The window of a delta profile (`?seconds=N`), in ns; 0 otherwise.
    pub duration_nanos: i64,
}

impl Profile {
    /// The column of sample type `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.sample_types.iter().position(|t| t.name == name)
    }

    /// The columns of `names`, or an error naming the first one missing.
    pub fn require(&self, names: &[&str]) -> Result<Vec<usize>, ProfileError> {
        names
            .iter()
            .map(|name| {
                self.index_of(name)
                    .ok_or_else(|| ProfileError::MissingSampleType {
                        wanted: (*name).to_owned(),
                        present: self
                            .sample_types
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }

    /// The sum of column `index` over all samples.
    pub fn total(&self, index: usize) -> i64 {
        self.samples
            .iter()
            .map(|s| s.values.get(index).copied().unwrap_or(0))
            .fold(0i64, i64::saturating_add)
    }
}

/// Reads a profile as Go serves it: gzip'd `profile.proto` (or the plain
/// protobuf), decompressing at most [`Limits::max_decoded_bytes`].
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Profile, ProfileError> {
    let decoded;
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        decoded = gunzip(bytes, limits.max_decoded_bytes)?;
        &decoded[..]
    } else if bytes.len() > limits.max_decoded_bytes {
        return Err(ProfileError::TooLarge {
            limit: limits.max_decoded_bytes,
        });
    } else {
        bytes
    };
    let message = proto::Profile::decode(raw).map_err(|e| ProfileError::Proto(e.to_string()))?;
    resolve(message, limits)
}

fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, ProfileError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit));
    // One byte past the limit tells "exactly the limit" from "more".
    let taken = flate2::read::MultiGzDecoder::new(bytes)
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| ProfileError::Gzip(e.to_string()))?;
    if taken > limit {
        return Err(ProfileError::TooLarge { limit });
    }
    Ok(out)
}

fn resolve(message: proto::Profile, limits: &Limits) -> Result<Profile, ProfileError> {
    if message.sample.len() > limits.max_samples {
        return Err(ProfileError::TooManySamples {
            count: message.sample.len(),
            limit: limits.max_samples,
        });
    }
    let strings: Vec<Arc<str>> = message
        .string_table
        .iter()
        .map(|s| Arc::from(s.as_str()))
        .collect();
    let string = |index: i64, what: &dyn Fn() -> String| -> Result<Arc<str>, ProfileError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| strings.get(i))
            .cloned()
            .ok_or_else(|| {
                ProfileError::Invalid(format!(
                    "{}: string {index} is not in the string table ({} strings)",
                    what(),
                    strings.len()
                ))
            })
    };
    let sample_types = message
        .sample_type
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let what = || format!("sample type {i}");
            Ok(SampleType {
                name: string(t.r#type, &what)?.to_string(),
                unit: string(t.unit, &what)?.to_string(),
            })
        })
        .collect::<Result<Vec<_>, ProfileError>>()?;
    let mut functions = HashMap::with_capacity(message.function.len());
    for f in &message.function {
        let what = || format!("function {}", f.id);
        functions.insert(f.id, (string(f.name, &what)?, string(f.filename, &what)?));
    }
    // Each location's frames and their hashes, once: a sample's key is then
    // a fold of a few integers, not a hash of every frame's text.
    let mut locations: HashMap<u64, (Vec<Frame>, Vec<u64>)> =
        HashMap::with_capacity(message.location.len());
    for l in &message.location {
        let frames = if l.line.is_empty() {
            // Not symbolized: the address is all there is.
            vec![Frame {
                function: Arc::from(format!("{:#x}", l.address)),
                file: Arc::from(""),
                line: 0,
            }]
        } else {
            l.line
                .iter()
                .map(|line| {
                    let (function, file) = functions.get(&line.function_id).ok_or_else(|| {
                        ProfileError::Invalid(format!(
                            "location {}: function {} is not in the profile",
                            l.id, line.function_id
                        ))
                    })?;
                    Ok(Frame {
                        function: function.clone(),
                        file: file.clone(),
                        line: line.line,
                    })
                })
                .collect::<Result<Vec<_>, ProfileError>>()?
        };
        let hashes = frames.iter().map(frame_hash).collect();
        locations.insert(l.id, (frames, hashes));
    }
    let columns = sample_types.len();
    let samples = message
        .sample
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if s.value.len() != columns {
                return Err(ProfileError::Invalid(format!(
                    "sample {i} has {} values for {columns} sample types",
                    s.value.len()
                )));
            }
            let mut stack = Vec::new();
            let mut key = STACK_SEED;
            for id in &s.location_id {
                let (frames, hashes) = locations.get(id).ok_or_else(|| {
                    ProfileError::Invalid(format!(
                        "sample {i}: location {id} is not in the profile"
                    ))
                })?;
                let room = limits.max_frames.saturating_sub(stack.len());
                stack.extend(frames.iter().take(room).cloned());
                key = hashes.iter().take(room).fold(key, |k, h| combine(k, *h));
                if room <= frames.len() {
                    break;
                }
            }
            Ok(Sample {
                stack: stack.into(),
                key,
                values: s.value.clone(),
            })
        })
        .collect::<Result<Vec<_>, ProfileError>>()?;
    Ok(Profile {
        sample_types,
        samples,
        time_nanos: message.time_nanos,
        duration_nanos: message.duration_nanos,
    })
}

const STACK_SEED: u64 = 0x243f_6a88_85a3_08d3;

/// One frame's hash (std's `DefaultHasher::new()` has fixed keys: the same
/// frame gives the same hash within a run of gomon).
fn frame_hash(frame: &Frame) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    frame.hash(&mut hasher);
    hasher.finish()
}

fn combine(key: u64, frame: u64) -> u64 {
    (key.rotate_left(5) ^ frame).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// A key for a stack: the same frames give the same key within a run of
/// gomon, which is all a [`Baseline`] kept in memory needs. [`parse`]
/// computes it once per sample ([`Sample::key`]).
pub fn stack_key(stack: &[Frame]) -> u64 {
    stack
        .iter()
        .fold(STACK_SEED, |k, f| combine(k, frame_hash(f)))
}

/// What one profile held, per stack, for the columns that are compared:
/// kept between fetches instead of the whole profile (a few numbers per
/// stack).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    values: HashMap<u64, Vec<i64>>,
    pub(crate) totals: Vec<i64>,
    /// When the profile was taken (ns since the Unix epoch).
    pub time_nanos: i64,
}

impl Baseline {
    /// The values of `columns` of each stack of `profile`.
    pub fn of(profile: &Profile, columns: &[usize]) -> Baseline {
        let mut values: HashMap<u64, Vec<i64>> = HashMap::with_capacity(profile.samples.len());
        for sample in &profile.samples {
            let entry = values
                .entry(sample.key)
                .or_insert_with(|| vec![0; columns.len()]);
            for (slot, &c) in entry.iter_mut().zip(columns) {
                *slot = slot.saturating_add(sample.values.get(c).copied().unwrap_or(0));
            }
        }
        Baseline {
            values,
            totals: columns.iter().map(|&c| profile.total(c)).collect(),
            time_nanos: profile.time_nanos,
        }
    }

    /// Stacks remembered.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no stack is remembered.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// `profile`'s columns `columns` and their growth since `base`, stack by
/// stack. Stacks that shrank have negative growth; stacks only in `base`
/// (gone entirely) are not listed but count in [`Delta::growth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// One sample per stack of the newer profile; its values are the
    /// `columns` now, followed by their growth (so `2 × columns.len()`
    /// values: growth of column `k` at `columns.len() + k`).
    pub samples: Vec<Sample>,
    /// Newer total minus older total, per column.
    pub growth: Vec<i64>,
}

impl Delta {
    /// Whether nothing changed at all (every stack and every total grew by
    /// zero): Go updates the heap profile only when a GC cycle completes,
    /// so two profiles with no collection between them are the same.
    pub fn is_unchanged(&self) -> bool {
        let width = self.growth.len();
        self.growth.iter().all(|g| *g == 0)
            && self
                .samples
                .iter()
                .all(|s| s.values[width..].iter().all(|g| *g == 0))
    }
}

/// The growth of `profile` since `base` (see [`Delta`]). `columns` must be
/// the columns `base` was made with, in the same order.
pub fn delta(profile: &Profile, columns: &[usize], base: &Baseline) -> Delta {
    let width = columns.len();
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(profile.samples.len());
    let mut samples: Vec<Sample> = Vec::with_capacity(profile.samples.len());
    for sample in &profile.samples {
        let key = sample.key;
        let now = columns
            .iter()
            .map(|&c| sample.values.get(c).copied().unwrap_or(0));
        let at = *seen.entry(key).or_insert_with(|| {
            // First time this stack is seen: start from minus its baseline.
            let before = base.values.get(&key);
            let mut values = vec![0i64; 2 * width];
            for k in 0..width {
                values[width + k] =
                    0i64.saturating_sub(before.and_then(|b| b.get(k)).copied().unwrap_or(0));
            }
            samples.push(Sample {
                stack: sample.stack.clone(),
                key,
                values,
            });
            samples.len() - 1
        });
        let values = &mut samples[at].values;
        for (k, v) in now.enumerate() {
            values[k] = values[k].saturating_add(v);
            values[width + k] = values[width + k].saturating_add(v);
        }
    }
    let growth = columns
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            profile
                .total(c)
                .saturating_sub(base.totals.get(i).copied().unwrap_or(0))
        })
        .collect();
    Delta { samples, growth }
}

/// The samples of `profile` restricted to `columns` (in that order), for a
/// profile that is already a delta (`?seconds=N`) or has nothing to
/// compare with.
pub fn select(profile: &Profile, columns: &[usize]) -> Vec<Sample> {
    profile
        .samples
        .iter()
        .map(|s| Sample {
            stack: s.stack.clone(),
            key: s.key,
            values: columns
                .iter()
                .map(|&c| s.values.get(c).copied().unwrap_or(0))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
