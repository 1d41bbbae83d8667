//! The one writer: rows in, rollups kept up to date, old rows deleted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::row::{HeapRow, Parsed, parse};
use crate::schema::{Combine, ROLLUPS, heap_columns, prepare};
use crate::{StoreError, now_ms};

/// How long rows are kept, and how often the rollups catch up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// Raw rows (`output.store.retention`, default 7 days).
    pub retention: Duration,
    /// Per-minute rollups (default 90 days).
    pub minute_retention: Duration,
    /// Per-hour rollups (default 2 years).
    pub hour_retention: Duration,
    /// Longest the minute rollups lag behind the rows (default 10 s; every
    /// write after that much time recomputes the steps it touched).
    pub rollup_every: Duration,
    /// Longest the hour rollups lag behind the minute rollups (default 60 s).
    /// An hour step is recomputed from up to 60 minute rows, so redoing it
    /// at every minute rollup cost more than the minute itself; a chart
    /// reads hour rows only for steps of half an hour or more.
    pub hour_rollup_every: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            retention: Duration::from_secs(7 * 86_400),
            minute_retention: Duration::from_secs(90 * 86_400),
            hour_retention: Duration::from_secs(730 * 86_400),
            rollup_every: Duration::from_secs(10),
            hour_rollup_every: Duration::from_secs(60),
        }
    }
}

/// What one [`Store::write`] stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Heap rows (error documents included).
    pub heap: u64,
    /// Expvar rows.
    pub expvar: u64,
    /// Expvar error documents (they update the target's status only).
    pub expvar_errors: u64,
    /// Profile rows (error documents included).
    pub profile: u64,
    /// Documents that are not gomon documents, with the reason, first 10.
    pub skipped: Vec<String>,
    /// How many documents were skipped in all.
    pub skipped_count: u64,
}

/// What the writer remembers between writes.
#[derive(Debug, Default)]
struct State {
    targets: HashMap<String, i64>,
    cmdlines: HashMap<String, i64>,
    /// Time and NumGC of each target's latest heap row, for the live-heap flag.
    last_count: HashMap<i64, (i64, Option<i64>)>,
    /// Per target, the span of rows written since the minute rollups ran.
    dirty: HashMap<i64, (i64, i64)>,
    /// Per target, the span of rows written since the hour rollups ran.
    dirty_hours: HashMap<i64, (i64, i64)>,
}

/// The store's writer. One per file: SQLite serialises writers, and the
/// rollup bookkeeping lives here.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    settings: StoreSettings,
    state: State,
    rolled_at: Instant,
    hours_rolled_at: Instant,
    expired_at: Option<Instant>,
}

impl Store {
    /// Opens (or creates) the store at `path`; its folder is created, owner-only.
    pub fn open(path: &Path, settings: StoreSettings) -> Result<Store, StoreError> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            gomon_net::files::create_dir_all(folder).map_err(|source| StoreError::Folder {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        // The file first, owner-only: SQLite gives its log files the same mode.
        gomon_net::files::open_options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| StoreError::Folder {
                path: path.to_path_buf(),
                source,
            })?;
        let at = |e: StoreError| e.at(path);
        let conn = Connection::open(path).map_err(|e| at(e.into()))?;
        // WAL: readers never block the writer; a commit is one append to
        // the log. NORMAL: a commit survives the process being killed (the
        // log is in the OS), and loses at most the last commits on power loss.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| at(e.into()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| at(e.into()))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| at(e.into()))?;
        prepare(&conn).map_err(at)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            settings,
            state: State::default(),
            rolled_at: Instant::now(),
            hours_rolled_at: Instant::now(),
            expired_at: None,
        };
        store.load_ids().map_err(at)?;
        Ok(store)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load_ids(&mut self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("SELECT id, address FROM targets")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, address) = row?;
            self.state.targets.insert(address, id);
        }
        let mut stmt = self.conn.prepare("SELECT id, text FROM cmdlines")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, text) = row?;
            self.state.cmdlines.insert(text, id);
        }
        Ok(())
    }

    /// Stores `docs` (Metricbeat-shaped `golang` documents, as gomon writes
    /// them) in one transaction: when this returns `Ok`, they are committed.
    /// A document seen before (same target, time and metric set) replaces
    /// the earlier row, so writing a batch twice stores it once.
    pub fn write(&mut self, docs: &[Value]) -> Result<Written, StoreError> {
        let path = self.path.clone();
        let written = self.write_inner(docs).map_err(|e| e.at(&path))?;
        if self.rolled_at.elapsed() >= self.settings.rollup_every {
            let hours = self.hours_rolled_at.elapsed() >= self.settings.hour_rollup_every;
            self.catch_up(hours).map_err(|e| e.at(&path))?;
        }
        Ok(written)
    }

    fn write_inner(&mut self, docs: &[Value]) -> Result<Written, StoreError> {
        let mut written = Written::default();
        let tx = self.conn.unchecked_transaction()?;
        let columns = heap_columns();
        let heap_sql = format!(
            "INSERT OR REPLACE INTO heap (target, ts, cmdline, error, live, {}) VALUES (?1, ?2, ?3, ?4, ?5, {})",
            columns
                .iter()
                .map(|c| c.sql())
                .collect::<Vec<_>>()
                .join(", "),
            (6..6 + columns.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // Latest state per target in this batch: (ts, error, cmdline id).
        let mut status: HashMap<i64, Status> = HashMap::new();
        for doc in docs {
            let parsed = match parse(doc) {
                Ok(parsed) => parsed,
                Err(reason) => {
                    written.skipped_count += 1;
                    if written.skipped.len() < 10 {
                        written.skipped.push(reason.0);
                    }
                    continue;
                }
            };
            match parsed {
                Parsed::Heap(row) => {
                    let target = self.state.target_id(&tx, &row.address, row.ts)?;
                    let cmdline = match &row.cmdline {
                        Some(text) => Some(self.state.cmdline_id(&tx, text)?),
                        None => None,
                    };
                    let live = self.state.live(&tx, target, &row);
                    let mut values: Vec<Sql> = vec![
                        Sql::Integer(target),
                        Sql::Integer(row.ts),
                        cmdline.map_or(Sql::Null, Sql::Integer),
                        row.error.clone().map_or(Sql::Null, Sql::Text),
                        live.map_or(Sql::Null, Sql::Real),
                    ];
                    values.extend(row.values.iter().cloned());
                    tx.prepare_cached(&heap_sql)?
                        .execute(rusqlite::params_from_iter(values))?;
                    note(&mut status, target, row.ts, row.error.clone(), cmdline);
                    self.state.touch(target, row.ts);
                    written.heap += 1;
                }
                Parsed::Expvar(row) => {
                    let target = self.state.target_id(&tx, &row.address, row.ts)?;
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO expvar (target, ts, namespace, doc) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![target, row.ts, row.namespace, row.doc])?;
                    self.state.touch(target, row.ts);
                    written.expvar += 1;
                }
                Parsed::ExpvarError { address, ts, error } => {
                    let target = self.state.target_id(&tx, &address, ts)?;
                    note(&mut status, target, ts, Some(error), None);
                    written.expvar_errors += 1;
                }
                Parsed::Profile(row) => {
                    // A profile failure (no pprof, a bad profile) is kept
                    // with the row but does not mark the target down: its
                    // metrics may be fine.
                    let target = self.state.target_id(&tx, &row.address, row.ts)?;
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO profile (target, ts, doc, error) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![target, row.ts, row.doc, row.error])?;
                    written.profile += 1;
                }
            }
        }
        for (target, (first, last, error, cmdline)) in status {
            tx.prepare_cached(
                "UPDATE targets SET first_ms = MIN(first_ms, ?2),
                     last_error = CASE WHEN ?3 >= last_ms THEN ?4 ELSE last_error END,
                     cmdline = CASE WHEN ?3 >= last_ms AND ?5 IS NOT NULL THEN ?5 ELSE cmdline END,
                     last_ms = MAX(last_ms, ?3)
                 WHERE id = ?1",
            )?
            .execute(params![target, first, last, error, cmdline])?;
        }
        tx.commit()?;
        Ok(written)
    }

    /// Brings the minute and hour rollups up to date with every row
    /// written, and deletes rows past their retention (at most once a
    /// minute). [`Store::write`] does the same for the minute rollups every
    /// [`StoreSettings::rollup_every`] and for the hour rollups every
    /// [`StoreSettings::hour_rollup_every`]; call it before reading rollups
    /// that must include the latest rows.
    pub fn maintain(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.catch_up(true).map_err(|e| e.at(&path))
    }

    /// The minute rollups, the hour rollups too when `hours`, then the
    /// retention (at most once a minute).
    fn catch_up(&mut self, hours: bool) -> Result<(), StoreError> {
        self.roll(hours)?;
        if self
            .expired_at
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
        {
            self.expire(now_ms())?;
            self.expired_at = Some(Instant::now());
        }
        Ok(())
    }

    fn roll(&mut self, hours: bool) -> Result<(), StoreError> {
        self.rolled_at = Instant::now();
        let minutes: Vec<(i64, (i64, i64))> = self.state.dirty.drain().collect();
        let hours: Vec<(i64, (i64, i64))> = if hours {
            self.hours_rolled_at = self.rolled_at;
            self.state.dirty_hours.drain().collect()
        } else {
            Vec::new()
        };
        if minutes.is_empty() && hours.is_empty() {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        // Minutes first: the hour steps are made of minute rows.
        for (dirty, heap_tables, expvar_tables, width) in [
            (
                minutes,
                ("heap", "heap_1m"),
                ("expvar", "expvar_1m"),
                ROLLUPS[0].1,
            ),
            (
                hours,
                ("heap_1m", "heap_1h"),
                ("expvar_1m", "expvar_1h"),
                ROLLUPS[1].1,
            ),
        ] {
            if dirty.is_empty() {
                continue;
            }
            let heap = rollup_sql(heap_tables.0, heap_tables.1, width);
            let expvar = expvar_rollup_sql(expvar_tables.0, expvar_tables.1, width);
            for (target, (first, last)) in dirty {
                let start = first.div_euclid(width) * width;
                let end = (last.div_euclid(width) + 1) * width;
                tx.prepare_cached(&heap)?
                    .execute(params![target, start, end])?;
                tx.prepare_cached(&expvar)?
                    .execute(params![target, start, end])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes what is older than each table's retention, `now` in Unix ms.
    pub fn expire(&mut self, now: i64) -> Result<(), StoreError> {
        let cut =
            |d: Duration| now.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let s = self.settings;
        let tx = self.conn.unchecked_transaction()?;
        let ids: Vec<i64> = self.state.targets.values().copied().collect();
        for (tables, before) in [
            (&["heap", "expvar", "profile"][..], cut(s.retention)),
            (&["heap_1m", "expvar_1m"][..], cut(s.minute_retention)),
            (&["heap_1h", "expvar_1h"][..], cut(s.hour_retention)),
        ] {
            for table in tables {
                // Per target, along the primary key: no scan of the table.
                let sql = format!("DELETE FROM {table} WHERE target = ?1 AND ts < ?2");
                for id in &ids {
                    tx.prepare_cached(&sql)?.execute(params![id, before])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl State {
    fn target_id(&mut self, conn: &Connection, address: &str, ts: i64) -> Result<i64, StoreError> {
        if let Some(id) = self.targets.get(address) {
            return Ok(*id);
        }
        conn.execute(
            "INSERT INTO targets (address, first_ms, last_ms) VALUES (?1, ?2, ?2)",
            params![address, ts],
        )?;
        let id = conn.last_insert_rowid();
        self.targets.insert(address.to_owned(), id);
        Ok(id)
    }

    fn cmdline_id(&mut self, conn: &Connection, text: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.cmdlines.get(text) {
            return Ok(*id);
        }
        conn.execute("INSERT INTO cmdlines (text) VALUES (?1)", params![text])?;
        let id = conn.last_insert_rowid();
        self.cmdlines.insert(text.to_owned(), id);
        Ok(id)
    }

    /// HeapAlloc when NumGC changed since the target's previous row (the
    /// live heap just after a cycle); `None` otherwise, and for the first
    /// row of a process, whose history is unknown.
    fn live(&mut self, conn: &Connection, target: i64, row: &HeapRow) -> Option<f64> {
        let (allocated, count) = row.allocated_and_count();
        let count = count?;
        // The latest row seen answers for a newer row; a row written again
        // or out of order asks the table for the one just before it.
        let previous = match self.last_count.get(&target) {
            Some(latest) if latest.0 < row.ts => Some(*latest),
            _ => conn
                .query_row(
                    "SELECT ts, gc_total_count FROM heap WHERE target = ?1 AND ts < ?2 AND error IS NULL
                     ORDER BY ts DESC LIMIT 1",
                    params![target, row.ts],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)),
                )
                .ok(),
        };
        let restarted = matches!(
            heap_columns()
                .iter()
                .position(|c| c.path == gomon_analyze::fields::heap::RESTARTED)
                .and_then(|i| row.values.get(i)),
            Some(Sql::Integer(1))
        );
        if self
            .last_count
            .get(&target)
            .is_none_or(|(ts, _)| *ts <= row.ts)
        {
            self.last_count.insert(target, (row.ts, Some(count)));
        }
        match previous {
            Some((ts, Some(before))) if ts < row.ts && before < count && !restarted => allocated,
            _ => None,
        }
    }

    fn touch(&mut self, target: i64, ts: i64) {
        for dirty in [&mut self.dirty, &mut self.dirty_hours] {
            let span = dirty.entry(target).or_insert((ts, ts));
            span.0 = span.0.min(ts);
            span.1 = span.1.max(ts);
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.roll(true) {
            tracing::warn!(store = %self.path.display(), error = %e, "rollups not brought up to date at close");
        }
    }
}

/// A target's rows in one write: first and latest time, the latest
/// fetch's error, the latest command line.
type Status = (i64, i64, Option<String>, Option<i64>);

fn note(
    status: &mut HashMap<i64, Status>,
    target: i64,
    ts: i64,
    error: Option<String>,
    cmdline: Option<i64>,
) {
    let entry = status.entry(target).or_insert((ts, ts, None, None));
    entry.0 = entry.0.min(ts);
    if ts >= entry.1 {
        entry.1 = ts;
        // A heap and an expvar document of one fetch share a time: an
        // error in either marks the target down.
        if error.is_some() || cmdline.is_some() {
            entry.2 = error;
        }
        if cmdline.is_some() {
            entry.3 = cmdline;
        }
    }
}

/// The SQL expression that combines `column` over a step, from raw rows
/// (`weighted` false) or from rollup rows carrying `samples`.
pub(crate) fn combine_sql(combine: Combine, column: &str, weighted: bool) -> String {
    match (combine, weighted) {
        (Combine::Mean, false) => format!("AVG({column})"),
        (Combine::Mean, true) => format!(
            "SUM({column} * samples) / SUM(CASE WHEN {column} IS NULL THEN 0 ELSE samples END)"
        ),
        (Combine::Last | Combine::Max, _) => format!("MAX({column})"),
        (Combine::Sum, _) => format!("SUM({column})"),
    }
}

/// `INSERT OR REPLACE INTO <to>` the steps of width `width` of one target
/// (`?1`) between `?2` and `?3`, computed from `<from>`.
fn rollup_sql(from: &str, to: &str, width: i64) -> String {
    let weighted = from != "heap";
    let columns = heap_columns();
    let names: Vec<String> = columns.iter().map(|c| c.sql()).collect();
    let combined: Vec<String> = columns
        .iter()
        .map(|c| combine_sql(c.combine, &c.sql(), weighted))
        .collect();
    let (samples, min, max) = if weighted {
        ("SUM(samples)", "MIN(allocated_min)", "MAX(allocated_max)")
    } else {
        (
            "COUNT(*)",
            "MIN(allocations_allocated)",
            "MAX(allocations_allocated)",
        )
    };
    let only_ok = if weighted { "" } else { "AND error IS NULL" };
    format!(
        "INSERT OR REPLACE INTO {to} (target, ts, samples, allocated_min, allocated_max, live, {names})
         SELECT target, (ts / {width}) * {width} AS step, {samples}, {min}, {max}, MIN(live), {combined}
         FROM {from} WHERE target = ?1 AND ts >= ?2 AND ts < ?3 {only_ok}
         GROUP BY step",
        names = names.join(", "),
        combined = combined.join(", "),
    )
}

/// The latest expvar document of each step and namespace.
fn expvar_rollup_sql(from: &str, to: &str, width: i64) -> String {
    format!(
        "INSERT OR REPLACE INTO {to} (target, ts, namespace, doc)
         SELECT target, step, namespace, doc FROM (
             SELECT target, (ts / {width}) * {width} AS step, namespace, doc, MAX(ts)
             FROM {from} WHERE target = ?1 AND ts >= ?2 AND ts < ?3
             GROUP BY step, namespace)"
    )
}
