//! What the flattener is told to do.

use crate::{FlattenError, PathGlob};

/// How the variables are laid out in the document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// gomon's default: nested maps become dotted paths (`stats.work.items`),
    /// selection by glob, `memstats` left to the heap mapper, nulls dropped.
    #[default]
    Flatten,
    /// What Metricbeat's `expvar` metric set writes: the whole object as it
    /// is (nested maps stay nested, dotted keys stay literal, `memstats`
    /// kept), only `cmdline` joined into one string and `null` values
    /// dropped at every depth. Limits and type stability still apply.
    Metricbeat,
}

/// What happens to JSON arrays (flatten mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArrayPolicy {
    /// Kept as a multi-valued field when every element is a scalar of one
    /// kind (all numbers, all strings or all booleans; nulls removed);
    /// other arrays are dropped and counted. The default: it is what
    /// Elasticsearch can index without conflicts.
    #[default]
    Keep,
    /// Every array is dropped (and counted).
    Drop,
    /// Each element becomes its own path: `tags.0`, `tags.1`, ...
    Expand,
}

/// A field type declared for the paths a glob matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredType {
    /// 64-bit integer: exact; integral floats (`5.0`) are converted, values
    /// with a fraction are dropped and counted as type conflicts.
    Long,
    /// Double: integers are kept as JSON integers (exact in `_source`);
    /// Elasticsearch indexes them as doubles.
    Double,
    /// String: numbers and booleans are written as their JSON text.
    Keyword,
}

/// Bounds against bad input. Over a bound, values are dropped and counted in
/// the document, never a panic and never unbounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting followed (the top-level variables are depth 1).
    pub max_depth: usize,
    /// Most fields written into one document.
    pub max_fields: usize,
    /// Longest dotted path (bytes) written.
    pub max_key_len: usize,
    /// Most paths whose type the flattener remembers across snapshots.
    pub max_remembered_paths: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 16,
            max_fields: 1000,
            max_key_len: 256,
            max_remembered_paths: 10_000,
        }
    }
}

/// Everything the flattener needs to know. Build with [`FlattenConfig::new`].
#[derive(Debug, Clone)]
pub struct FlattenConfig {
    pub(crate) namespace: String,
    /// Layout of the document.
    pub mode: Mode,
    /// Keep `memstats` in flatten mode (off: the heap document covers it).
    pub include_memstats: bool,
    /// Paths to keep (flatten mode); empty keeps every path.
    pub include: Vec<PathGlob>,
    /// Paths to drop (flatten mode), applied after `include`.
    pub exclude: Vec<PathGlob>,
    /// Arrays (flatten mode).
    pub arrays: ArrayPolicy,
    /// Declared types; the first glob that matches a path wins.
    pub types: Vec<(PathGlob, DeclaredType)>,
    /// Paths whose per-second rate is added under `_rate` (numeric counters).
    pub rates: Vec<PathGlob>,
    /// Bounds against bad input.
    pub limits: Limits,
}

impl FlattenConfig {
    /// A configuration for `namespace`, which becomes `golang.<namespace>`
    /// and `event.dataset`. It is required, as in Metricbeat, and must be
    /// letters, digits, `_` or `-`.
    pub fn new(namespace: &str) -> Result<FlattenConfig, FlattenError> {
        if namespace.is_empty() {
            return Err(FlattenError::MissingNamespace);
        }
        if let Some(bad) = namespace
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(FlattenError::InvalidNamespace {
                namespace: namespace.to_owned(),
                character: bad,
            });
        }
        Ok(FlattenConfig {
            namespace: namespace.to_owned(),
            mode: Mode::default(),
            include_memstats: false,
            include: Vec::new(),
            exclude: Vec::new(),
            arrays: ArrayPolicy::default(),
            types: Vec::new(),
            rates: Vec::new(),
            limits: Limits::default(),
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Adds include globs.
    pub fn include<'a>(
        mut self,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, FlattenError> {
        for p in patterns {
            self.include.push(PathGlob::new(p)?);
        }
        Ok(self)
    }

    /// Adds exclude globs.
    pub fn exclude<'a>(
        mut self,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, FlattenError> {
        for p in patterns {
            self.exclude.push(PathGlob::new(p)?);
        }
        Ok(self)
    }

    /// Declares the type of the paths `pattern` matches.
    pub fn declare(mut self, pattern: &str, ty: DeclaredType) -> Result<Self, FlattenError> {
        self.types.push((PathGlob::new(pattern)?, ty));
        Ok(self)
    }

    /// Asks for the per-second rate of the paths `pattern` matches.
    pub fn rate(mut self, pattern: &str) -> Result<Self, FlattenError> {
        self.rates.push(PathGlob::new(pattern)?);
        Ok(self)
    }
}
