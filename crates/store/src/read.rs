//! Queries: targets, downsampled series, documents for the analysis.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OpenFlags, params};
use serde_json::Value;

use crate::row::{expvar_document, expvar_value, heap_document, numeric_leaves, profile_document};
use crate::schema::{ROLLUPS, extra, heap_columns, prepare};
use crate::write::combine_sql;
use crate::{StoreError, TimeRange};

/// One target the store has rows of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// `service.address`.
    pub address: String,
    /// The command line of its latest heap document.
    pub cmdline: Option<String>,
    /// Its first row, Unix ms.
    pub first_ms: i64,
    /// Its latest row, Unix ms.
    pub last_ms: i64,
    /// The error of its latest fetch, when that fetch failed.
    pub last_error: Option<String>,
}

/// Values over time: one timestamp per point, one column per field.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The width of each point's step in ms; 0 when every point is a row.
    pub step_ms: i64,
    /// Each point's time (the start of its step), Unix ms.
    pub ts: Vec<i64>,
    /// Field name → one value per point (`None`: no value in that step).
    pub columns: Vec<(String, Vec<Option<f64>>)>,
}

impl Series {
    /// The values of one column.
    pub fn column(&self, name: &str) -> Option<&[Option<f64>]> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Answers queries; safe to share between threads (one connection, used in
/// turn). Reading never blocks the writer, and sees every committed write.
#[derive(Debug)]
pub struct Reader {
    conn: Mutex<Connection>,
    path: PathBuf,
}

fn sql_f64(value: &Sql) -> Option<f64> {
    match value {
        Sql::Integer(n) => Some(*n as f64),
        Sql::Real(x) => Some(*x),
        _ => None,
    }
}

/// A row of `expvar` or `profile` (address, time, two text columns) as its document.
type RowDocument = fn(&str, i64, Option<&str>, Option<&str>) -> Value;

fn expvar_row(address: &str, ts: i64, namespace: Option<&str>, doc: Option<&str>) -> Value {
    expvar_document(
        address,
        ts,
        namespace.unwrap_or_default(),
        doc.unwrap_or("{}"),
    )
}

fn profile_row(address: &str, ts: i64, doc: Option<&str>, error: Option<&str>) -> Value {
    profile_document(address, ts, doc, error)
}

impl Reader {
    /// Opens an existing store.
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::from(e).at(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| StoreError::from(e).at(path))?;
        let is_store: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(_, _) => StoreError::Corrupt {
                    what: format!("{} is not a SQLite database", path.display()),
                },
                other => StoreError::from(other).at(path),
            })?;
        if !is_store {
            return Err(StoreError::Corrupt {
                what: format!(
                    "{} is a SQLite database but not a gomon store",
                    path.display()
                ),
            });
        }
        prepare(&conn).map_err(|e| e.at(path))?;
        Ok(Reader {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn).map_err(|e| e.at(&self.path))
    }

    /// Every target, by address.
    pub fn targets(&self) -> Result<Vec<TargetInfo>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(
                "SELECT t.address, c.text, t.first_ms, t.last_ms, t.last_error
                 FROM targets t LEFT JOIN cmdlines c ON c.id = t.cmdline ORDER BY t.address",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(TargetInfo {
                    address: r.get(0)?,
                    cmdline: r.get(1)?,
                    first_ms: r.get(2)?,
                    last_ms: r.get(3)?,
                    last_error: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn target_id(conn: &Connection, address: &str) -> Result<Option<i64>, StoreError> {
        match conn.query_row(
            "SELECT id FROM targets WHERE address = ?1",
            params![address],
            |r| r.get(0),
        ) {
            Ok(id) => Ok(Some(id)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The heap fields of `address` over `range` in at most `max_points`
    /// points: the rows themselves when they are few enough, else steps of
    /// equal width from the rows, the minute or the hour rollups (the
    /// coarsest table whose rows are at most twice the step a chart of
    /// `max_points` asks for: 24 hours in 2,000 points are 1,440 minutes). Every column of `golang.heap` (named
    /// below it, `allocations.allocated`), plus [`extra`]'s. An unknown
    /// target gives an empty series.
    pub fn heap_series(
        &self,
        address: &str,
        range: TimeRange,
        max_points: usize,
    ) -> Result<Series, StoreError> {
        let max_points = max_points.max(1) as i64;
        self.with(|conn| {
            let Some(target) = Self::target_id(conn, address)? else {
                return Ok(empty_series());
            };
            let rows: i64 = conn.query_row(
                "SELECT COUNT(*) FROM heap WHERE target = ?1 AND ts >= ?2 AND ts < ?3 AND error IS NULL",
                params![target, range.from_ms, range.to_ms],
                |r| r.get(0),
            )?;
            let wanted = ceil_div(range.width(), max_points);
            let table = pick_table(wanted, rows > 0);
            if rows > 0 && rows <= max_points {
                return raw_heap(conn, target, range);
            }
            let (table, width) = table;
            let step = ceil_div(wanted, width).max(1) * width;
            stepped_heap(conn, table, target, range, step)
        })
    }

    /// The numeric expvar fields `address` published in `range`, as
    /// `<namespace>.<path>`, sorted.
    pub fn expvar_fields(
        &self,
        address: &str,
        range: TimeRange,
    ) -> Result<Vec<String>, StoreError> {
        self.with(|conn| {
            let Some(target) = Self::target_id(conn, address)? else {
                return Ok(Vec::new());
            };
            let mut names = Vec::new();
            for table in ["expvar", "expvar_1m", "expvar_1h"] {
                // The latest document of each namespace.
                let sql = format!(
                    "SELECT namespace, doc, MAX(ts) FROM {table}
                     WHERE target = ?1 AND ts >= ?2 AND ts < ?3 GROUP BY namespace"
                );
                let mut stmt = conn.prepare(&sql)?;
                let rows = stmt.query_map(params![target, range.from_ms, range.to_ms], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?;
                for row in rows {
                    let (namespace, doc) = row?;
                    let body: Value = serde_json::from_str(&doc).unwrap_or(Value::Null);
                    numeric_leaves(&namespace, &body, &mut names);
                }
                if !names.is_empty() {
                    break;
                }
            }
            names.sort();
            names.dedup();
            Ok(names)
        })
    }

    /// One expvar field (`<namespace>.<path>`) of `address` over `range`,
    /// in at most `max_points` points (the latest value of each step).
    pub fn expvar_series(
        &self,
        address: &str,
        field: &str,
        range: TimeRange,
        max_points: usize,
    ) -> Result<Series, StoreError> {
        let max_points = max_points.max(1) as i64;
        let (namespace, path) = field.split_once('.').unwrap_or((field, ""));
        self.with(|conn| {
            let mut series = Series {
                step_ms: 0,
                ts: Vec::new(),
                columns: vec![(field.to_owned(), Vec::new())],
            };
            let Some(target) = Self::target_id(conn, address)? else {
                return Ok(series);
            };
            let rows: i64 = conn.query_row(
                "SELECT COUNT(*) FROM expvar WHERE target = ?1 AND namespace = ?2 AND ts >= ?3 AND ts < ?4",
                params![target, namespace, range.from_ms, range.to_ms],
                |r| r.get(0),
            )?;
            let wanted = ceil_div(range.width(), max_points);
            let (table, width) = if rows > 0 && rows <= max_points {
                ("heap", 0)
            } else {
                pick_table(wanted, rows > 0)
            };
            let table = table.replace("heap", "expvar");
            let step = if width == 0 {
                0
            } else {
                ceil_div(wanted, width).max(1) * width
            };
            let sql = format!(
                "SELECT ts, doc FROM {table} WHERE target = ?1 AND namespace = ?2 AND ts >= ?3 AND ts < ?4 ORDER BY ts"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params![target, namespace, range.from_ms, range.to_ms], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            series.step_ms = step;
            for row in rows {
                let (ts, doc) = row?;
                let body: Value = serde_json::from_str(&doc).unwrap_or(Value::Null);
                let value = expvar_value(&body, path);
                let at = if step == 0 { ts } else { ts.div_euclid(step) * step };
                if series.ts.last() == Some(&at) {
                    // The latest value of the step wins.
                    if let Some(last) = series.columns[0].1.last_mut()
                        && value.is_some()
                    {
                        *last = value;
                    }
                } else {
                    series.ts.push(at);
                    series.columns[0].1.push(value);
                }
            }
            Ok(series)
        })
    }

    /// The stored documents of `address` (every target when `None`) in
    /// `range`, heap, expvar and profile, oldest first, in Metricbeat's shape (the
    /// fields gomon stores: no agent or host metadata). Raw rows only.
    pub fn documents(
        &self,
        address: Option<&str>,
        range: TimeRange,
    ) -> Result<Vec<Value>, StoreError> {
        self.with(|conn| {
            let columns = heap_columns();
            let names: Vec<String> = columns.iter().map(|c| c.sql()).collect();
            let filter = if address.is_some() { "AND t.address = ?3" } else { "" };
            let heap_sql = format!(
                "SELECT t.address, h.ts, c.text, h.error, {} FROM heap h JOIN targets t ON t.id = h.target
                 LEFT JOIN cmdlines c ON c.id = h.cmdline WHERE h.ts >= ?1 AND h.ts < ?2 {filter}",
                names.iter().map(|n| format!("h.{n}")).collect::<Vec<_>>().join(", ")
            );
            let mut docs: Vec<(i64, Value)> = Vec::new();
            let mut stmt = conn.prepare(&heap_sql)?;
            let mut rows = match address {
                Some(a) => stmt.query(params![range.from_ms, range.to_ms, a])?,
                None => stmt.query(params![range.from_ms, range.to_ms])?,
            };
            while let Some(r) = rows.next()? {
                let address: String = r.get(0)?;
                let ts: i64 = r.get(1)?;
                let cmdline: Option<String> = r.get(2)?;
                let error: Option<String> = r.get(3)?;
                let values: Vec<Sql> = (0..columns.len())
                    .map(|i| r.get::<_, Sql>(4 + i))
                    .collect::<Result<_, _>>()?;
                docs.push((
                    ts,
                    heap_document(&address, ts, cmdline.as_deref(), error.as_deref(), &values),
                ));
            }
            // Expvar and profile rows: (address, ts, two text columns).
            for (table, texts, document) in [
                ("expvar", "x.namespace, x.doc", expvar_row as RowDocument),
                ("profile", "x.doc, x.error", profile_row),
            ] {
                let sql = format!(
                    "SELECT t.address, x.ts, {texts} FROM {table} x JOIN targets t ON t.id = x.target
                     WHERE x.ts >= ?1 AND x.ts < ?2 {filter}"
                );
                let mut stmt = conn.prepare(&sql)?;
                let mut rows = match address {
                    Some(a) => stmt.query(params![range.from_ms, range.to_ms, a])?,
                    None => stmt.query(params![range.from_ms, range.to_ms])?,
                };
                while let Some(r) = rows.next()? {
                    let address: String = r.get(0)?;
                    let ts: i64 = r.get(1)?;
                    let (a, b): (Option<String>, Option<String>) = (r.get(2)?, r.get(3)?);
                    docs.push((ts, document(&address, ts, a.as_deref(), b.as_deref())));
                }
            }
            docs.sort_by_key(|(ts, _)| *ts);
            Ok(docs.into_iter().map(|(_, d)| d).collect())
        })
    }

    /// The profile documents of `address` in `range`, newest first, at
    /// most `limit` of them (error documents included).
    pub fn profiles(
        &self,
        address: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Value>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT p.ts, p.doc, p.error FROM profile p JOIN targets t ON t.id = p.target
                 WHERE t.address = ?1 AND p.ts >= ?2 AND p.ts < ?3 ORDER BY p.ts DESC LIMIT ?4",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut rows = stmt.query(params![address, range.from_ms, range.to_ms, limit])?;
            let mut docs = Vec::new();
            while let Some(r) = rows.next()? {
                let ts: i64 = r.get(0)?;
                let doc: Option<String> = r.get(1)?;
                let error: Option<String> = r.get(2)?;
                docs.push(profile_document(
                    address,
                    ts,
                    doc.as_deref(),
                    error.as_deref(),
                ));
            }
            Ok(docs)
        })
    }

    /// Rows per table (for tests and `gomon view`'s status line).
    pub fn row_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with(|conn| {
            let mut counts = Vec::new();
            for table in [
                "heap",
                "heap_1m",
                "heap_1h",
                "expvar",
                "expvar_1m",
                "expvar_1h",
                "profile",
            ] {
                let n: i64 =
                    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
                counts.push((table.to_owned(), n));
            }
            Ok(counts)
        })
    }
}

fn empty_series() -> Series {
    let mut columns: Vec<(String, Vec<Option<f64>>)> = heap_columns()
        .iter()
        .map(|c| (c.name.to_owned(), Vec::new()))
        .collect();
    for name in [extra::ALLOCATED_MIN, extra::ALLOCATED_MAX, extra::LIVE] {
        columns.push((name.to_owned(), Vec::new()));
    }
    Series {
        step_ms: 0,
        ts: Vec::new(),
        columns,
    }
}

/// The coarsest table whose rows are at most twice as wide as the `wanted`
/// step (ms): a chart then has between half its points and all of them,
/// read from the fewest rows. The rows themselves when `has_rows` and the
/// step is under half a minute.
fn pick_table(wanted: i64, has_rows: bool) -> (&'static str, i64) {
    let wide_enough = |width: i64| wanted.saturating_mul(2) >= width;
    if wide_enough(ROLLUPS[1].1) {
        ("heap_1h", ROLLUPS[1].1)
    } else if wide_enough(ROLLUPS[0].1) || !has_rows {
        ("heap_1m", ROLLUPS[0].1)
    } else {
        ("heap", 1)
    }
}

fn raw_heap(conn: &Connection, target: i64, range: TimeRange) -> Result<Series, StoreError> {
    let names: Vec<String> = heap_columns().iter().map(|c| c.sql()).collect();
    let sql = format!(
        "SELECT ts, allocations_allocated, allocations_allocated, live, {} FROM heap
         WHERE target = ?1 AND ts >= ?2 AND ts < ?3 AND error IS NULL ORDER BY ts",
        names.join(", ")
    );
    read_series(conn, &sql, target, range, 0)
}

fn stepped_heap(
    conn: &Connection,
    table: &str,
    target: i64,
    range: TimeRange,
    step: i64,
) -> Result<Series, StoreError> {
    let weighted = table != "heap";
    let combined: Vec<String> = heap_columns()
        .iter()
        .map(|c| combine_sql(c.combine, &c.sql(), weighted))
        .collect();
    let (min, max, only_ok) = if weighted {
        ("MIN(allocated_min)", "MAX(allocated_max)", "")
    } else {
        (
            "MIN(allocations_allocated)",
            "MAX(allocations_allocated)",
            "AND error IS NULL",
        )
    };
    let sql = format!(
        "SELECT (ts / {step}) * {step} AS at, {min}, {max}, MIN(live), {} FROM {table}
         WHERE target = ?1 AND ts >= ?2 AND ts < ?3 {only_ok} GROUP BY at ORDER BY at",
        combined.join(", ")
    );
    read_series(conn, &sql, target, range, step)
}

fn read_series(
    conn: &Connection,
    sql: &str,
    target: i64,
    range: TimeRange,
    step: i64,
) -> Result<Series, StoreError> {
    let mut series = empty_series();
    series.step_ms = step;
    let columns = heap_columns();
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![target, range.from_ms, range.to_ms])?;
    // Query order: min, max, live, then the heap columns; series order:
    // the heap columns, then min, max, live.
    let n = columns.len();
    while let Some(r) = rows.next()? {
        series.ts.push(r.get(0)?);
        for i in 0..n {
            series.columns[i].1.push(sql_f64(&r.get::<_, Sql>(4 + i)?));
        }
        for j in 0..3 {
            series.columns[n + j]
                .1
                .push(sql_f64(&r.get::<_, Sql>(1 + j)?));
        }
    }
    Ok(series)
}

/// `a / b` rounded up, for positive `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    a / b + i64::from(a % b > 0)
}
