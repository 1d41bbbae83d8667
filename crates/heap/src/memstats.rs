//! The typed form of the `memstats` expvar variable.
//!
//! Read field by field from the JSON text the program wrote (no tree in
//! between: the rings and size classes are most of a body), names matched
//! without allocating; fields this version does not know are kept as values.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Go's `runtime.MemStats` as `expvar` publishes it (field names as in Go).
///
/// Fields missing from the JSON (older Go versions) read as zero; fields this
/// struct does not know (newer Go versions) are kept in [`MemStats::other`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)] // Each field is documented by Go's runtime.MemStats.
pub struct MemStats {
    pub alloc: u64,
    pub total_alloc: u64,
    pub sys: u64,
    pub lookups: u64,
    pub mallocs: u64,
    pub frees: u64,
    pub heap_alloc: u64,
    pub heap_sys: u64,
    pub heap_idle: u64,
    pub heap_inuse: u64,
    pub heap_released: u64,
    pub heap_objects: u64,
    pub stack_inuse: u64,
    pub stack_sys: u64,
    #[serde(rename = "MSpanInuse")]
    pub mspan_inuse: u64,
    #[serde(rename = "MSpanSys")]
    pub mspan_sys: u64,
    #[serde(rename = "MCacheInuse")]
    pub mcache_inuse: u64,
    #[serde(rename = "MCacheSys")]
    pub mcache_sys: u64,
    pub buck_hash_sys: u64,
    #[serde(rename = "GCSys")]
    pub gc_sys: u64,
    pub other_sys: u64,
    #[serde(rename = "NextGC")]
    pub next_gc: u64,
    #[serde(rename = "LastGC")]
    pub last_gc: u64,
    pub pause_total_ns: u64,
    /// Ring of the last 256 GC pauses: cycle n sits at `pause_ns[(n-1) % 256]`.
    pub pause_ns: Vec<u64>,
    /// Ring of the end times (Unix ns) of the last 256 GC pauses.
    pub pause_end: Vec<u64>,
    #[serde(rename = "NumGC")]
    pub num_gc: u32,
    #[serde(rename = "NumForcedGC")]
    pub num_forced_gc: u32,
    #[serde(rename = "GCCPUFraction")]
    pub gc_cpu_fraction: f64,
    #[serde(rename = "EnableGC")]
    pub enable_gc: bool,
    #[serde(rename = "DebugGC")]
    pub debug_gc: bool,
    /// Allocations per size class, as Go lists them.
    pub by_size: Vec<SizeClass>,
    /// Fields of newer Go versions, kept verbatim.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// One entry of `MemStats.BySize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)] // As Go's runtime.MemStats.BySize documents them.
pub struct SizeClass {
    pub size: u32,
    pub mallocs: u64,
    pub frees: u64,
}

/// A `memstats` value that is not a `runtime.MemStats` object.
#[derive(Debug, thiserror::Error)]
#[error("memstats is not a runtime.MemStats object: {0}")]
pub struct MemStatsError(#[from] serde_json::Error);

impl MemStats {
    /// Reads the `memstats` variable of an expvar object.
    pub fn from_json(value: &serde_json::Value) -> Result<MemStats, MemStatsError> {
        Ok(MemStats::deserialize(value)?)
    }

    /// Reads the `memstats` variable from its JSON text, as
    /// `gomon_expvar::Snapshot::memstats_json` keeps it: the agent's path,
    /// with no tree in between.
    pub fn from_json_text(text: &str) -> Result<MemStats, MemStatsError> {
        Ok(serde_json::from_str(text)?)
    }
}

/// The names `MemStats` reads, in Go's order; anything else goes to `other`.
const NAMES: [&str; 32] = [
    "Alloc",
    "TotalAlloc",
    "Sys",
    "Lookups",
    "Mallocs",
    "Frees",
    "HeapAlloc",
    "HeapSys",
    "HeapIdle",
    "HeapInuse",
    "HeapReleased",
    "HeapObjects",
    "StackInuse",
    "StackSys",
    "MSpanInuse",
    "MSpanSys",
    "MCacheInuse",
    "MCacheSys",
    "BuckHashSys",
    "GCSys",
    "OtherSys",
    "NextGC",
    "LastGC",
    "PauseTotalNs",
    "PauseNs",
    "PauseEnd",
    "NumGC",
    "NumForcedGC",
    "GCCPUFraction",
    "EnableGC",
    "DebugGC",
    "BySize",
];

/// A field name: its place in [`NAMES`], or an unknown name.
enum Name {
    Known(usize),
    Other(String),
}

/// Reads a field name, trying first the one Go writes next (`expected`,
/// the place after the previous name): Go writes them in [`NAMES`]' order,
/// so a name is usually matched by one comparison instead of a search.
#[derive(Clone, Copy)]
struct NameSeed {
    expected: usize,
}

impl<'de> de::DeserializeSeed<'de> for NameSeed {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Name, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed {
    type Value = Name;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Name, E> {
        if NAMES.get(self.expected) == Some(&name) {
            return Ok(Name::Known(self.expected));
        }
        Ok(match NAMES.iter().position(|known| *known == name) {
            Some(i) => Name::Known(i),
            None => Name::Other(name.to_owned()),
        })
    }
}

impl<'de> Deserialize<'de> for MemStats {
    /// Fields missing read as zero; a field of the wrong type is an error
    /// naming the type found.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MemStats, D::Error> {
        struct MemStatsVisitor;
        impl<'de> Visitor<'de> for MemStatsVisitor {
            type Value = MemStats;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a runtime.MemStats object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MemStats, A::Error> {
                let mut m = MemStats::default();
                let mut expected = 0;
                while let Some(name) = map.next_key_seed(NameSeed { expected })? {
                    let i = match name {
                        Name::Known(i) => {
                            expected = i + 1;
                            i
                        }
                        Name::Other(name) => {
                            m.other.insert(name, map.next_value()?);
                            continue;
                        }
                    };
                    let counter = match i {
                        0 => &mut m.alloc,
                        1 => &mut m.total_alloc,
                        2 => &mut m.sys,
                        3 => &mut m.lookups,
                        4 => &mut m.mallocs,
                        5 => &mut m.frees,
                        6 => &mut m.heap_alloc,
                        7 => &mut m.heap_sys,
                        8 => &mut m.heap_idle,
                        9 => &mut m.heap_inuse,
                        10 => &mut m.heap_released,
                        11 => &mut m.heap_objects,
                        12 => &mut m.stack_inuse,
                        13 => &mut m.stack_sys,
                        14 => &mut m.mspan_inuse,
                        15 => &mut m.mspan_sys,
                        16 => &mut m.mcache_inuse,
                        17 => &mut m.mcache_sys,
                        18 => &mut m.buck_hash_sys,
                        19 => &mut m.gc_sys,
                        20 => &mut m.other_sys,
                        21 => &mut m.next_gc,
                        22 => &mut m.last_gc,
                        23 => &mut m.pause_total_ns,
                        24 => {
                            m.pause_ns = map.next_value_seed(Sized::<u64>::new(RING))?;
                            continue;
                        }
                        25 => {
                            m.pause_end = map.next_value_seed(Sized::<u64>::new(RING))?;
                            continue;
                        }
                        26 => {
                            m.num_gc = map.next_value()?;
                            continue;
                        }
                        27 => {
                            m.num_forced_gc = map.next_value()?;
                            continue;
                        }
                        28 => {
                            m.gc_cpu_fraction = map.next_value()?;
                            continue;
                        }
                        29 => {
                            m.enable_gc = map.next_value()?;
                            continue;
                        }
                        30 => {
                            m.debug_gc = map.next_value()?;
                            continue;
                        }
                        _ => {
                            m.by_size =
                                map.next_value_seed(Sized::<SizeClass>::new(SIZE_CLASSES))?;
                            continue;
                        }
                    };
                    *counter = map.next_value()?;
                }
                Ok(m)
            }
        }
        deserializer.deserialize_map(MemStatsVisitor)
    }
}

/// Entries of Go's `PauseNs` and `PauseEnd` rings.
const RING: usize = 256;

/// Entries of `BySize` (Go's `runtime.MemStats` has 61).
const SIZE_CLASSES: usize = 61;

/// An array read into a vector sized for it at once: serde_json gives no
/// length, and a vector grown from empty would be copied eight times on the
/// way to 256 entries, on every fetch.
struct Sized<T> {
    expected: usize,
    item: std::marker::PhantomData<T>,
}

impl<T> Sized<T> {
    fn new(expected: usize) -> Self {
        Sized {
            expected,
            item: std::marker::PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> de::DeserializeSeed<'de> for Sized<T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Sized<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(self.expected));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_memstats_fields_are_kept_and_missing_ones_read_as_zero() {
        let m = MemStats::from_json(&serde_json::json!({"HeapAlloc": 7, "NewInGo2": 1})).unwrap();
        assert_eq!(m.heap_alloc, 7);
        assert_eq!(m.num_gc, 0);
        assert_eq!(m.other["NewInGo2"], 1);
    }

    #[test]
    fn text_and_tree_read_the_same() {
        let text = r#"{"Alloc": 5, "PauseNs": [1, 2], "PauseEnd": [3, 4], "NumGC": 2,
            "GCCPUFraction": 0.5, "EnableGC": true, "NextGC": 18446744073709551615,
            "BySize": [{"Size": 8, "Mallocs": 3, "Frees": 1}], "NewInGo2": {"x": [1]}}"#;
        let tree: serde_json::Value = serde_json::from_str(text).unwrap();
        let m = MemStats::from_json_text(text).unwrap();
        assert_eq!(m, MemStats::from_json(&tree).unwrap());
        assert_eq!((m.alloc, m.num_gc, m.next_gc), (5, 2, u64::MAX));
        assert_eq!(m.pause_end, [3, 4]);
        assert_eq!(
            m.by_size,
            [SizeClass {
                size: 8,
                mallocs: 3,
                frees: 1
            }]
        );
        assert_eq!(m.other["NewInGo2"]["x"][0], 1);
        // Written back with Go's names.
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(back["BySize"][0]["Mallocs"], 3);
        assert_eq!(back["NewInGo2"]["x"][0], 1);
        assert_eq!(back["GCCPUFraction"], 0.5);
    }

    #[test]
    fn not_an_object_is_an_error() {
        for text in [
            "7",
            "[1]",
            "\"memstats\"",
            "{\"NumGC\": -1}",
            "{\"PauseNs\": {}}",
        ] {
            assert!(MemStats::from_json_text(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_string_where_a_counter_belongs_is_an_error_naming_the_problem() {
        let err = MemStats::from_json(&serde_json::json!({"NumGC": "many"})).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}
