//! The tables, their columns, and how each column is aggregated into a
//! coarser time step.
//!
//! One row per heap document in `heap` (the `golang.heap` leaves as columns,
//! named after their path below `golang.heap`), one per expvar document in
//! `expvar` (the `golang.<namespace>` object as JSON text), and the same
//! shapes again per minute (`heap_1m`, `expvar_1m`) and per hour (`heap_1h`,
//! `expvar_1h`). Targets and command lines are numbered in their own tables.

use gomon_analyze::fields::{self, heap};
use rusqlite::Connection;

use crate::StoreError;

/// The schema this code writes and reads. A store with a higher number was
/// written by a newer gomon and is refused, never altered.
pub const SCHEMA_VERSION: i64 = 1;

/// How a column is combined over the samples of one time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Gauges (sizes, fractions, rates): the mean.
    Mean,
    /// Cumulative counters: the latest (largest) value.
    Last,
    /// Counts over an interval: the sum.
    Sum,
    /// Worst cases (max, p95, p99 pause; restarted): the largest.
    Max,
}

/// One heap column: the document path below `golang.heap`, the SQL name,
/// and how it is combined.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    /// `allocations.allocated`: the name in series and in documents.
    pub(crate) name: &'static str,
    /// The full document path, `golang.heap.allocations.allocated`.
    pub(crate) path: &'static str,
    pub(crate) combine: Combine,
}

impl Column {
    /// `allocations_allocated`: the column's name in SQL.
    pub(crate) fn sql(&self) -> String {
        self.name.replace('.', "_")
    }
}

/// Every `golang.heap` leaf except the command line (kept once per process
/// in `cmdlines`), in the order of [`heap::ALL`].
pub(crate) fn heap_columns() -> &'static [Column] {
    static COLUMNS: std::sync::OnceLock<Vec<Column>> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        heap::ALL
            .iter()
            .filter(|p| **p != heap::CMDLINE)
            .map(|path| Column {
                name: fields::below(heap::OBJECT, path).unwrap_or(path),
                path,
                combine: combine_of(path),
            })
            .collect()
    })
}

/// Every heap series column: its name below `golang.heap`
/// (`allocations.allocated`), its full document path, and how a step
/// combines it. Another reader of the same documents (the web view on
/// Elasticsearch) aggregates by the same rule, so its charts agree with the
/// store's.
pub fn heap_fields() -> impl Iterator<Item = (&'static str, &'static str, Combine)> {
    heap_columns().iter().map(|c| (c.name, c.path, c.combine))
}

fn combine_of(path: &str) -> Combine {
    match path {
        heap::ALLOCATIONS_MALLOCS
        | heap::ALLOCATIONS_FREES
        | heap::ALLOCATIONS_TOTAL
        | heap::GC_TOTAL_COUNT
        | heap::GC_TOTAL_PAUSE_NS
        | heap::GC_FORCED_TOTAL_COUNT => Combine::Last,
        heap::GC_PAUSE_COUNT
        | heap::GC_PAUSE_SUM_NS
        | heap::GC_PAUSE_MISSED
        | heap::GC_FORCED_COUNT => Combine::Sum,
        heap::GC_PAUSE_MAX_NS | heap::GC_PAUSE_P95_NS | heap::GC_PAUSE_P99_NS | heap::RESTARTED => {
            Combine::Max
        }
        _ => Combine::Mean,
    }
}

/// Names of the extra series every heap query returns.
pub mod extra {
    /// The smallest HeapAlloc in the step.
    pub const ALLOCATED_MIN: &str = "allocations.allocated.min";
    /// The largest HeapAlloc in the step.
    pub const ALLOCATED_MAX: &str = "allocations.allocated.max";
    /// The live heap: HeapAlloc of the first sample after a GC cycle
    /// completed (NumGC changed since the target's previous sample); the
    /// smallest such value in the step, null in steps without a cycle.
    pub const LIVE: &str = "live";
}

/// The rollup steps: table suffix and width in milliseconds.
pub(crate) const ROLLUPS: [(&str, i64); 2] = [("1m", 60_000), ("1h", 3_600_000)];

fn heap_table(name: &str, rollup: bool) -> String {
    let columns: Vec<String> = heap_columns()
        .iter()
        .map(|c| format!("{} NUMERIC", c.sql()))
        .collect();
    let extra = if rollup {
        "samples INTEGER NOT NULL, allocated_min NUMERIC, allocated_max NUMERIC, "
    } else {
        "cmdline INTEGER, error TEXT, "
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (target INTEGER NOT NULL, ts INTEGER NOT NULL, {extra}live NUMERIC, {}, PRIMARY KEY (target, ts)) WITHOUT ROWID",
        columns.join(", ")
    )
}

/// Profile documents (`golang.profile`) as JSON, by target and time; an
/// error document keeps its message.
const PROFILE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS profile (target INTEGER NOT NULL, ts INTEGER NOT NULL,
     doc TEXT, error TEXT, PRIMARY KEY (target, ts)) WITHOUT ROWID;
";

/// Creates what is missing, and checks the version of what exists.
pub(crate) fn prepare(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )?;
    let found: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .ok();
    if let Some(found) = found {
        let version: i64 = found.parse().map_err(|_| StoreError::Corrupt {
            what: format!("schema_version {found:?} is not a number"),
        })?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        // Added after version 1 without changing its tables: a store from
        // before profiles gets the table, and older readers ignore it.
        conn.execute_batch(PROFILE_TABLE)?;
        return Ok(());
    }
    let mut sql = String::from(
        "BEGIN;
         CREATE TABLE IF NOT EXISTS targets (id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE,
             first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, last_error TEXT, cmdline INTEGER);
         CREATE TABLE IF NOT EXISTS cmdlines (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
         CREATE TABLE IF NOT EXISTS expvar (target INTEGER NOT NULL, ts INTEGER NOT NULL,
             namespace TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (target, ts, namespace)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS expvar_1m (target INTEGER NOT NULL, ts INTEGER NOT NULL,
             namespace TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (target, ts, namespace)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS expvar_1h (target INTEGER NOT NULL, ts INTEGER NOT NULL,
             namespace TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (target, ts, namespace)) WITHOUT ROWID;
        ",
    );
    sql.push_str(PROFILE_TABLE);
    sql.push_str(&heap_table("heap", false));
    sql.push_str(";\n");
    for (suffix, _) in ROLLUPS {
        sql.push_str(&heap_table(&format!("heap_{suffix}"), true));
        sql.push_str(";\n");
    }
    sql.push_str(&format!(
        "INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
         INSERT INTO meta (key, value) VALUES ('created_by', 'gomon {}');
         COMMIT;",
        env!("CARGO_PKG_VERSION")
    ));
    conn.execute_batch(&sql)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_heap_leaf_but_the_cmdline_is_a_column_with_a_unique_sql_name() {
        let columns = heap_columns();
        assert_eq!(columns.len(), heap::ALL.len() - 1);
        let mut names = std::collections::BTreeSet::new();
        for c in columns {
            assert!(names.insert(c.sql()), "{} twice", c.sql());
            assert!(c.path.ends_with(c.name), "{}", c.path);
        }
        let combine = |name: &str| columns.iter().find(|c| c.name == name).map(|c| c.combine);
        assert_eq!(combine("allocations.allocated"), Some(Combine::Mean));
        assert_eq!(combine("gc.total_count"), Some(Combine::Last));
        assert_eq!(combine("gc.pause.count"), Some(Combine::Sum));
        assert_eq!(combine("gc.pause.p99.ns"), Some(Combine::Max));
    }
}
