//! Ranking: the sites that hold or grow the most, and `go tool pprof
//! -top`'s table of functions.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{Frame, Sample};

/// Frames of the stack kept with a site, from the site outward.
pub const SHORT_STACK: usize = 8;

/// A place in the code and what its samples add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The site: the first frame of the stack outside the Go runtime (the
    /// leaf when every frame is the runtime's).
    pub frame: Frame,
    /// The sums, per column of the samples.
    pub values: Vec<i64>,
    /// The stack of the sample that contributed most, from the site
    /// outward, at most [`SHORT_STACK`] frames.
    pub stack: Vec<Frame>,
}

/// Whether `stack` was allocated by the profiler itself while serving a
/// profile (`runtime/pprof`, `net/http/pprof`): an artifact of being
/// watched, never the program's own leak.
pub fn is_profiler(stack: &[Frame]) -> bool {
    stack.iter().any(|f| {
        f.function.starts_with("runtime/pprof.") || f.function.starts_with("net/http/pprof.")
    })
}

/// Where the site of `stack` is: the index of the first frame outside the
/// Go runtime (allocation and scheduling internals such as
/// `runtime.mallocgc` or `runtime.gopark`), else 0.
pub fn site_index(stack: &[Frame]) -> usize {
    stack.iter().position(|f| !f.is_runtime()).unwrap_or(0)
}

/// The `n` sites with the largest positive value in column `rank_by`,
/// largest first (ties by function name, for a stable order). Samples
/// are grouped by their site frame (function, file and line); the
/// profiler's own allocations ([`is_profiler`]) are left out.
pub fn top_sites(samples: &[Sample], rank_by: usize, n: usize) -> Vec<Site> {
    struct Acc<'a> {
        values: Vec<i64>,
        best: i64,
        stack: &'a [Frame],
    }
    let mut by_site: HashMap<&Frame, Acc<'_>> = HashMap::new();
    for sample in samples {
        if is_profiler(&sample.stack) {
            continue;
        }
        let Some(frame) = sample.stack.get(site_index(&sample.stack)) else {
            continue;
        };
        let own = sample.values.get(rank_by).copied().unwrap_or(0);
        let acc = by_site.entry(frame).or_insert_with(|| Acc {
            values: vec![0; sample.values.len()],
            best: i64::MIN,
            stack: &sample.stack,
        });
        for (slot, v) in acc.values.iter_mut().zip(&sample.values) {
            *slot = slot.saturating_add(*v);
        }
        if own > acc.best {
            acc.best = own;
            acc.stack = &sample.stack;
        }
    }
    let mut sites: Vec<Site> = by_site
        .into_iter()
        .filter(|(_, acc)| acc.values.get(rank_by).is_some_and(|v| *v > 0))
        .map(|(frame, acc)| {
            let from = site_index(acc.stack);
            Site {
                frame: frame.clone(),
                values: acc.values,
                stack: acc.stack[from..]
                    .iter()
                    .take(SHORT_STACK)
                    .cloned()
                    .collect(),
            }
        })
        .collect();
    sites.sort_by(|a, b| {
        b.values[rank_by]
            .cmp(&a.values[rank_by])
            .then_with(|| a.frame.function.cmp(&b.frame.function))
            .then_with(|| a.frame.line.cmp(&b.frame.line))
    });
    sites.truncate(n);
    sites
}

/// One row of `go tool pprof -top`: a function, its own value (as the
/// leaf of a stack) and its cumulative value (anywhere in a stack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRow {
    /// The function.
    pub function: Arc<str>,
    /// `flat`: the value of the stacks it is the leaf of.
    pub flat: i64,
    /// `cum`: the value of the stacks it appears in (once per stack).
    pub cum: i64,
}

/// `go tool pprof -top` over column `column`: every function with a
/// non-zero flat or cumulative value, by flat value (largest magnitude
/// first), then cumulative, then name; and the total of the column.
pub fn top_functions(samples: &[Sample], column: usize) -> (Vec<FunctionRow>, i64) {
    let mut rows: HashMap<Arc<str>, (i64, i64)> = HashMap::new();
    let mut total = 0i64;
    for sample in samples {
        let value = sample.values.get(column).copied().unwrap_or(0);
        if value == 0 {
            continue;
        }
        total = total.saturating_add(value);
        if let Some(leaf) = sample.stack.first() {
            let row = rows.entry(leaf.function.clone()).or_default();
            row.0 = row.0.saturating_add(value);
        }
        let mut counted: Vec<&Arc<str>> = Vec::with_capacity(sample.stack.len());
        for frame in sample.stack.iter() {
            if counted.contains(&&frame.function) {
                continue; // recursion counts once per stack
            }
            counted.push(&frame.function);
            let row = rows.entry(frame.function.clone()).or_default();
            row.1 = row.1.saturating_add(value);
        }
    }
    let mut rows: Vec<FunctionRow> = rows
        .into_iter()
        .filter(|(_, (flat, cum))| *flat != 0 || *cum != 0)
        .map(|(function, (flat, cum))| FunctionRow {
            function,
            flat,
            cum,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.flat
            .abs()
            .cmp(&a.flat.abs())
            .then_with(|| b.cum.abs().cmp(&a.cum.abs()))
            .then_with(|| a.function.cmp(&b.function))
    });
    (rows, total)
}

/// A value as `go tool pprof` prints it: bytes scaled to `B`, `kB`, `MB`
/// or `GB` (1024-based, at most two decimals, trailing zeros dropped);
/// any other unit as a plain number.
pub fn format_value(value: i64, unit: &str) -> String {
    if unit != "bytes" {
        return value.to_string();
    }
    let magnitude = value.unsigned_abs() as f64;
    let (scaled, suffix) = [(1u64 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB")]
        .iter()
        .find(|(size, _)| magnitude >= *size as f64)
        .map_or((magnitude, "B"), |(size, suffix)| {
            (magnitude / *size as f64, *suffix)
        });
    let text = format!("{scaled:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{text}{suffix}")
}

/// `go tool pprof -top`'s table of `rows` (at most `n`) over `total`:
/// flat, flat %, running sum %, cum, cum %, function.
pub fn top_table(rows: &[FunctionRow], total: i64, unit: &str, n: usize) -> String {
    let pct = |v: i64| {
        if total == 0 {
            0.0
        } else {
            v as f64 * 100.0 / total as f64
        }
    };
    let mut out = format!(
        "{:>11} {:>7} {:>7} {:>11} {:>7}\n",
        "flat", "flat%", "sum%", "cum", "cum%"
    );
    let mut sum = 0i64;
    for row in rows.iter().take(n) {
        sum = sum.saturating_add(row.flat);
        out.push_str(&format!(
            "{:>11} {:>6.2}% {:>6.2}% {:>11} {:>6.2}%  {}\n",
            format_value(row.flat, unit),
            pct(row.flat),
            pct(sum),
            format_value(row.cum, unit),
            pct(row.cum),
            row.function
        ));
    }
    out
}
