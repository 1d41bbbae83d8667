//! The messages of pprof's `profile.proto`, written out for prost's derive
//! (no `protoc` at build time). Field numbers and types follow the format
//! Go's `runtime/pprof` writes; fields gomon does not read are left out and
//! skipped by the decoder as unknown fields.

/// A whole profile.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Profile {
    /// What each value of a sample measures (`inuse_space`/`bytes`, ...).
    #[prost(message, repeated, tag = "1")]
    pub(crate) sample_type: Vec<ValueType>,
    /// The samples: a stack and one value per sample type.
    #[prost(message, repeated, tag = "2")]
    pub(crate) sample: Vec<Sample>,
    /// Code locations (addresses and the source lines they map to).
    #[prost(message, repeated, tag = "4")]
    pub(crate) location: Vec<Location>,
    /// Functions named by the lines of locations.
    #[prost(message, repeated, tag = "5")]
    pub(crate) function: Vec<Function>,
    /// Every string; index 0 is the empty string.
    #[prost(string, repeated, tag = "6")]
    pub(crate) string_table: Vec<String>,
    /// When the profile was taken, in ns since the Unix epoch.
    #[prost(int64, tag = "9")]
    pub(crate) time_nanos: i64,
    /// The window a delta profile covers, in ns.
    #[prost(int64, tag = "10")]
    pub(crate) duration_nanos: i64,
}

/// A (type, unit) pair, as indices into the string table.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ValueType {
    #[prost(int64, tag = "1")]
    pub(crate) r#type: i64,
    #[prost(int64, tag = "2")]
    pub(crate) unit: i64,
}

/// One stack and its values.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Sample {
    /// Location ids, leaf first.
    #[prost(uint64, repeated, tag = "1")]
    pub(crate) location_id: Vec<u64>,
    /// One value per sample type.
    #[prost(int64, repeated, tag = "2")]
    pub(crate) value: Vec<i64>,
}

/// One program counter and the (possibly inlined) lines it stands for.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Location {
    #[prost(uint64, tag = "1")]
    pub(crate) id: u64,
    #[prost(uint64, tag = "3")]
    pub(crate) address: u64,
    /// Innermost (inlined callee) first.
    #[prost(message, repeated, tag = "4")]
    pub(crate) line: Vec<Line>,
}

/// A source line in a function.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Line {
    #[prost(uint64, tag = "1")]
    pub(crate) function_id: u64,
    #[prost(int64, tag = "2")]
    pub(crate) line: i64,
}

/// A function: its name and file, as string-table indices.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Function {
    #[prost(uint64, tag = "1")]
    pub(crate) id: u64,
    #[prost(int64, tag = "2")]
    pub(crate) name: i64,
    #[prost(int64, tag = "4")]
    pub(crate) filename: i64,
}
