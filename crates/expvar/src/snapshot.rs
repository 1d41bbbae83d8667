//! One decoded `/debug/vars` response.
//!
//! Over 500 lines with its unit and property tests (about 280 of code).

use std::time::Duration;

use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Default for how deep objects and arrays may nest; Go's `memstats` needs 3
/// (`BySize` is an array of objects), programs' own maps rarely more than a
/// handful.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// The deepest nesting that can be allowed: serde_json refuses 128 levels
/// with an error of its own, so limits above this are lowered to it.
pub const MAX_DEPTH_CEILING: usize = 127;

/// How many leading bytes of a non-JSON body an error quotes.
const QUOTED_PREFIX_BYTES: usize = 64;

/// The body of an expvar endpoint that is not a usable expvar object.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body does not start like JSON (an HTML error page, plain text,
    /// an empty body).
    #[error(
        "body is not JSON (content type {}): starts with \"{first_bytes}\"",
        content_type.as_deref().unwrap_or("not given")
    )]
    NotJson {
        /// The response's `Content-Type`, when known.
        content_type: Option<String>,
        /// The first bytes of the body, escaped (`\n`, `\xNN`) and bounded.
        first_bytes: String,
    },
    /// The JSON ends before the top-level object is closed: the body was
    /// cut off.
    #[error("JSON ends early at line {line} column {column}: the body is truncated")]
    Truncated {
        /// Line of the end of input (1-based).
        line: usize,
        /// Column of the end of input.
        column: usize,
    },
    /// Malformed JSON; the message carries serde_json's reason and position.
    #[error("invalid JSON at line {line} column {column}: {source}")]
    InvalidJson {
        /// Line of the error (1-based).
        line: usize,
        /// Column of the error.
        column: usize,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// Valid JSON whose top level is not an object.
    #[error("top level is {found}, expected a JSON object")]
    NotAnObject {
        /// The JSON type found (`an array`, `a string`, ...).
        found: &'static str,
    },
    /// Objects and arrays nest deeper than the limit.
    #[error(
        "JSON nests deeper than {limit} levels (at byte {offset}); raise the limit if this is expected"
    )]
    TooDeep {
        /// The limit in force.
        limit: usize,
        /// Byte offset of the opening bracket that went past it.
        offset: usize,
    },
}

/// The decoded variables of one fetch, with what it cost.
///
/// Decoded once; the heap mapper and the flattener both borrow from it.
/// `memstats` (most of a body: two 256-entry rings and 61 size classes) is
/// kept as the JSON text the program wrote, checked but not turned into a
/// tree: the heap mapper reads it straight into its typed form
/// ([`memstats_json`](Snapshot::memstats_json)), and the tree is built only
/// for a caller that asks for it ([`memstats`](Snapshot::memstats)).
#[derive(Debug, Clone)]
pub struct Snapshot {
    vars: Map<String, Value>,
    memstats: Option<Box<RawValue>>,
    memstats_tree: OnceLock<Option<Value>>,
    body_bytes: usize,
    wire_bytes: usize,
    duration: Duration,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Snapshot {
    /// Decodes an expvar body with the default nesting limit
    /// ([`DEFAULT_MAX_DEPTH`]). Integers that fit `u64`/`i64` stay exact.
    pub fn decode(body: &[u8], duration: Duration) -> Result<Snapshot, DecodeError> {
        Snapshot::decode_with_max_depth(body, duration, DEFAULT_MAX_DEPTH)
    }

    /// Decodes an expvar body, refusing objects and arrays nested deeper
    /// than `max_depth` (the top-level object is level 1; at most
    /// [`MAX_DEPTH_CEILING`]). Never panics, whatever the bytes.
    pub fn decode_with_max_depth(
        body: &[u8],
        duration: Duration,
        max_depth: usize,
    ) -> Result<Snapshot, DecodeError> {
        let TopLevel { vars, memstats } =
            decode_top_level::<Box<RawValue>>(body, max_depth, Nesting::Scanned)?;
        Ok(Snapshot::new(vars, memstats, body, duration))
    }

    /// Decodes an expvar body like
    /// [`decode_with_max_depth`](Snapshot::decode_with_max_depth), reading
    /// `memstats` straight into `T` in the same pass: its text is neither
    /// copied nor checked twice, the cheapest way to the typed form when no
    /// tree of it is needed.
    ///
    /// The nesting limit holds for every variable but `memstats`, counted
    /// while parsing instead of in a scan of its own; inside `memstats`,
    /// whose shape `T` fixes, serde_json's own limit of 128 levels applies.
    ///
    /// On success the snapshot holds no `memstats` ([`memstats_json`](Snapshot::memstats_json)
    /// is `None`) and `T` comes beside it (`None` when the body has no
    /// `memstats`). When `T` cannot read it (not an object, a field of the
    /// wrong type), or the body is not a usable expvar object, the body is
    /// decoded again the ordinary way: the same errors, and the same
    /// snapshot with `memstats` as text and no `T`, so that the caller can
    /// say what is wrong with it.
    pub fn decode_reading_memstats<T: DeserializeOwned>(
        body: &[u8],
        duration: Duration,
        max_depth: usize,
    ) -> Result<(Snapshot, Option<T>), DecodeError> {
        match decode_top_level::<T>(body, max_depth, Nesting::Counted) {
            Ok(TopLevel { vars, memstats }) => {
                Ok((Snapshot::new(vars, None, body, duration), memstats))
            }
            Err(_) => Snapshot::decode_with_max_depth(body, duration, max_depth)
                .map(|snapshot| (snapshot, None)),
        }
    }

    fn new(
        vars: Map<String, Value>,
        memstats: Option<Box<RawValue>>,
        body: &[u8],
        duration: Duration,
    ) -> Snapshot {
        Snapshot {
            vars,
            memstats,
            memstats_tree: OnceLock::new(),
            body_bytes: body.len(),
            wire_bytes: body.len(),
            duration,
        }
    }

    /// Records how many bytes came over the wire (less than
    /// [`body_bytes`](Snapshot::body_bytes) when the response was compressed).
    pub(crate) fn with_wire_bytes(mut self, wire_bytes: usize) -> Snapshot {
        self.wire_bytes = wire_bytes;
        self
    }

    /// Every variable but `memstats` (`cmdline` included): `memstats` is
    /// [`memstats`](Snapshot::memstats) or [`memstats_json`](Snapshot::memstats_json).
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }

    /// Takes the variables out, for callers that keep them past the
    /// snapshot: every one, `memstats` included.
    pub fn into_vars(self) -> Map<String, Value> {
        // The tree when a caller built it already, else parsed now.
        let memstats = match self.memstats_tree.get() {
            Some(_) => self.memstats_tree.into_inner().flatten(),
            None => self.memstats_value(),
        };
        let mut vars = self.vars;
        if let Some(memstats) = memstats {
            vars.insert(MEMSTATS.to_owned(), memstats);
        }
        vars
    }

    /// One variable by its exact name (dots are part of names in expvar:
    /// `output.events.acked` is one variable); `memstats` is
    /// [`memstats`](Snapshot::memstats).
    pub fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// The `memstats` variable as the program wrote it (JSON text, checked
    /// to be valid), if it publishes one: what the heap mapper reads.
    pub fn memstats_json(&self) -> Option<&str> {
        self.memstats.as_deref().map(RawValue::get)
    }

    /// The `memstats` object (`runtime.MemStats`) as a tree, if the program
    /// publishes one, built on the first call. Its numbers are exact;
    /// typing it is the heap mapper's business.
    pub fn memstats(&self) -> Option<&Map<String, Value>> {
        self.memstats_var()?.as_object()
    }

    /// The `memstats` variable as a tree, whatever its type (a program may
    /// publish something else under that name), built on the first call.
    pub fn memstats_var(&self) -> Option<&Value> {
        self.memstats_tree
            .get_or_init(|| self.memstats_value())
            .as_ref()
    }

    fn memstats_value(&self) -> Option<Value> {
        // Checked JSON: it parses again (depth bounded by the body's check).
        serde_json::from_str(self.memstats_json()?).ok()
    }

    /// The `cmdline` arguments, if published as an array of strings.
    pub fn cmdline(&self) -> Option<Vec<&str>> {
        self.vars
            .get("cmdline")?
            .as_array()?
            .iter()
            .map(Value::as_str)
            .collect()
    }

    /// The variables other than `memstats` and `cmdline`: what the program
    /// published itself.
    pub fn custom_vars(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.vars
            .iter()
            .filter(|(name, _)| *name != "memstats" && *name != "cmdline")
            .map(|(name, value)| (name.as_str(), value))
    }

    /// Size of the response body in bytes, after decompression.
    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    /// Bytes of the body as received; equal to
    /// [`body_bytes`](Snapshot::body_bytes) unless the response was gzip-compressed.
    pub fn wire_bytes(&self) -> usize {
        self.wire_bytes
    }

    /// Time from sending the request to having the whole body.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Snapshot) -> bool {
        self.vars == other.vars
            && self.memstats_json() == other.memstats_json()
            && self.body_bytes == other.body_bytes
            && self.wire_bytes == other.wire_bytes
            && self.duration == other.duration
    }
}

/// The variable kept as text ([`Snapshot::memstats_json`]).
const MEMSTATS: &str = "memstats";

/// How the nesting limit is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nesting {
    /// The whole body scanned before parsing: exact, and the error gives
    /// the offset.
    Scanned,
    /// Counted while the variables other than `memstats` are parsed: no
    /// pass of its own; an excess fails the parse (the caller then decodes
    /// the scanned way, for the error).
    Counted,
}

/// Checks and parses the top-level object: `memstats` read as `M` (its
/// text, or a typed form), the rest as values.
fn decode_top_level<M: DeserializeOwned>(
    body: &[u8],
    max_depth: usize,
    nesting: Nesting,
) -> Result<TopLevel<M>, DecodeError> {
    if !starts_like_json(body) {
        return Err(DecodeError::NotJson {
            content_type: None,
            first_bytes: quote_prefix(body),
        });
    }
    let limit = max_depth.min(MAX_DEPTH_CEILING);
    // Checked before parsing, iteratively, so the limit (not serde_json's
    // recursion guard, nor the stack) decides, and the error says so.
    if nesting == Nesting::Scanned {
        check_depth(body, limit)?;
    }
    let first = body.iter().find(|b| !is_json_whitespace(**b));
    if first != Some(&b'{') {
        // Not an object: parsed whole, so the error is the JSON's own
        // (truncated, malformed) or names the type found.
        let value: Value = serde_json::from_slice(body).map_err(json_error)?;
        return Err(DecodeError::NotAnObject {
            found: json_type(&value),
        });
    }
    let mut parser = serde_json::Deserializer::from_slice(body);
    // A variable's value starts at level 2 (the top-level object is 1).
    let levels = match nesting {
        Nesting::Scanned => None,
        Nesting::Counted => Some(limit.saturating_sub(1)),
    };
    parser
        .deserialize_map(TopLevelVisitor {
            levels,
            memstats: PhantomData,
        })
        .and_then(|top| parser.end().map(|()| top))
        .map_err(json_error)
}

/// The top-level object: `memstats` as `M`, the rest as values.
struct TopLevel<M> {
    vars: Map<String, Value>,
    memstats: Option<M>,
}

struct TopLevelVisitor<M> {
    /// Levels of arrays and objects a variable's value may open, when
    /// counted while parsing.
    levels: Option<usize>,
    memstats: PhantomData<M>,
}

impl<'de, M: DeserializeOwned> Visitor<'de> for TopLevelVisitor<M> {
    type Value = TopLevel<M>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel<M>, A::Error> {
        let mut top = TopLevel {
            vars: Map::new(),
            memstats: None,
        };
        // A name given twice keeps its last value, as a JSON object does.
        while let Some(name) = map.next_key::<String>()? {
            if name == MEMSTATS {
                top.memstats = Some(map.next_value()?);
            } else {
                let value = match self.levels {
                    None => map.next_value()?,
                    Some(levels) => map.next_value_seed(Limited { levels })?,
                };
                top.vars.insert(name, value);
            }
        }
        Ok(top)
    }
}

/// A JSON value that may open at most `levels` more arrays or objects,
/// built as serde_json's own `Value` visitor builds it.
#[derive(Clone, Copy)]
struct Limited {
    levels: usize,
}

impl Limited {
    /// The limit for what a container holds, or the error of opening one
    /// too many.
    fn open<E: serde::de::Error>(self) -> Result<Limited, E> {
        match self.levels.checked_sub(1) {
            Some(levels) => Ok(Limited { levels }),
            None => Err(E::custom("nested deeper than the limit")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Limited {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Limited {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.open()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.open()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            object.insert(key, map.next_value_seed(inner)?);
        }
        Ok(Value::Object(object))
    }
}

impl DecodeError {
    /// Fills in the response's content type, which only the HTTP side knows.
    pub(crate) fn with_content_type(self, content_type: Option<String>) -> DecodeError {
        match self {
            DecodeError::NotJson { first_bytes, .. } => DecodeError::NotJson {
                content_type,
                first_bytes,
            },
            other => other,
        }
    }
}

fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Whether the first non-whitespace byte can begin a JSON value. Bodies that
/// fail this (HTML, plain text, nothing) are "not JSON" rather than "invalid
/// JSON at line 1 column 1".
fn starts_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !is_json_whitespace(**b))
        .is_some_and(|b| {
            matches!(
                b,
                b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
            )
        })
}

fn quote_prefix(body: &[u8]) -> String {
    let prefix = &body[..body.len().min(QUOTED_PREFIX_BYTES)];
    let mut quoted = prefix.escape_ascii().to_string();
    if body.len() > QUOTED_PREFIX_BYTES {
        quoted.push_str("...");
    }
    quoted
}

/// Scans for the first opening bracket past `limit` levels, outside strings.
/// Linear, no recursion. On malformed input the count may be off, which only
/// changes which error is reported: the parser still checks everything else.
///
/// Eight bytes at a time: runs without a quote, backslash or bracket (the
/// digits and commas of `memstats`' rings, most of a body) are skipped a
/// word at a time, so the scan costs a fraction of the parse.
fn check_depth(body: &[u8], limit: usize) -> Result<(), DecodeError> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        i = skip_plain(body, i, structural_or_quote);
        let Some(&byte) = body.get(i) else { break };
        match byte {
            b'"' => i = string_end(body, i + 1),
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return Err(DecodeError::TooDeep { limit, offset: i });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            // A false alarm of the word test (`|`, a control byte).
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The index of the closing quote of the string whose contents start at
/// `i` (or the end of the body); escaped characters are stepped over.
fn string_end(body: &[u8], mut i: usize) -> usize {
    loop {
        i = skip_plain(body, i, quote_or_backslash);
        match body.get(i) {
            Some(b'"') => return i,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
            None => return body.len(),
        }
    }
}

/// From `i`, the index of the first word (eight bytes) for which `maybe`
/// says it may hold a byte of interest; at the tail, `i` itself.
fn skip_plain(body: &[u8], mut i: usize, maybe: fn(u64) -> bool) -> usize {
    while let Some(chunk) = body.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if maybe(u64::from_le_bytes(word)) {
            return i;
        }
        i += 8;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether some byte of `word` is zero (exact: no false answer either way).
fn has_zero_byte(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGHS != 0
}

/// Whether some byte of `word` equals `byte`.
fn has_byte(word: u64, byte: u8) -> bool {
    has_zero_byte(word ^ (ONES * u64::from(byte)))
}

/// Whether `word` may hold `"`, `\`, `[`, `]`, `{` or `}`: with bit 5 set,
/// `[` `\` `]` become `{` `|` `}`, so four tests cover six bytes (and let
/// `|` and a few control bytes through, which the caller ignores).
fn structural_or_quote(word: u64) -> bool {
    let folded = word | (ONES * 0x20);
    has_byte(folded, b'{')
        || has_byte(folded, b'|')
        || has_byte(folded, b'}')
        || has_byte(word, b'"')
}

/// Whether `word` holds `"` or `\`.
fn quote_or_backslash(word: u64) -> bool {
    has_byte(word, b'"') || has_byte(word, b'\\')
}

fn json_error(error: serde_json::Error) -> DecodeError {
    let (line, column) = (error.line(), error.column());
    if error.is_eof() {
        DecodeError::Truncated { line, column }
    } else {
        DecodeError::InvalidJson {
            line,
            column,
            source: error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(body: &[u8]) -> Result<Snapshot, DecodeError> {
        Snapshot::decode(body, Duration::ZERO)
    }

    #[test]
    fn integers_above_2_pow_53_stay_exact() {
        let s = decode(br#"{"big": 9007199254740993, "neg": -9007199254740993}"#).unwrap();
        assert_eq!(s.vars()["big"].as_u64(), Some(9_007_199_254_740_993));
        assert_eq!(s.vars()["neg"].as_i64(), Some(-9_007_199_254_740_993));
        assert_eq!(s.var("big").and_then(Value::as_u64), Some((1 << 53) + 1));
    }

    #[test]
    fn u64_max_and_i64_min_stay_exact() {
        let s = decode(br#"{"max": 18446744073709551615, "min": -9223372036854775808}"#).unwrap();
        assert_eq!(s.vars()["max"].as_u64(), Some(u64::MAX));
        assert_eq!(s.vars()["min"].as_i64(), Some(i64::MIN));
    }

    #[test]
    fn custom_vars_leave_out_memstats_and_cmdline() {
        let s = decode(br#"{"cmdline": ["./app"], "memstats": {"NumGC": 1}, "a.b": 1}"#).unwrap();
        let names: Vec<&str> = s.custom_vars().map(|(name, _)| name).collect();
        assert_eq!(names, ["a.b"]);
        assert_eq!(s.cmdline(), Some(vec!["./app"]));
        assert_eq!(s.memstats().unwrap()["NumGC"], 1);
        assert_eq!(s.body_bytes(), s.wire_bytes());
    }

    #[test]
    fn a_top_level_array_is_refused_with_its_type() {
        let err = decode(b"[1,2]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "top level is an array, expected a JSON object"
        );
        assert!(matches!(
            decode(b" null "),
            Err(DecodeError::NotAnObject { found: "null" })
        ));
    }

    #[test]
    fn truncated_json_reports_where() {
        let err = decode(br#"{"a": {"b": 1"#).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::Truncated {
                    line: 1,
                    column: 13
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("line 1 column 13"), "{err}");
    }

    #[test]
    fn malformed_json_reports_where_and_why() {
        let err = decode(b"{\"a\": 1,\n \"b\": tru }").unwrap_err();
        assert!(
            matches!(err, DecodeError::InvalidJson { line: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn html_is_not_json_and_is_quoted_escaped_and_bounded() {
        let page = format!("<!DOCTYPE html>\n<title>502</title>{}", "x".repeat(500));
        let err = decode(page.as_bytes()).unwrap_err();
        let DecodeError::NotJson { first_bytes, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(
            first_bytes.starts_with(r"<!DOCTYPE html>\n<title>"),
            "{first_bytes}"
        );
        assert!(first_bytes.len() < 100, "{first_bytes}");
        assert!(matches!(decode(b""), Err(DecodeError::NotJson { .. })));
        let err = decode(b"\xff\xfe\x00").unwrap_err().to_string();
        assert!(err.contains(r"\xff\xfe\x00"), "{err}");
    }

    /// Both ways of decoding: scanned, and in one pass reading `memstats`
    /// (whose nesting limit is counted while the other variables are
    /// parsed, the scan naming the error).
    fn both_decodes(body: &[u8]) -> [Result<Snapshot, DecodeError>; 2] {
        [
            decode(body),
            Snapshot::decode_reading_memstats::<Value>(body, Duration::ZERO, DEFAULT_MAX_DEPTH)
                .map(|(snapshot, _)| snapshot),
        ]
    }

    #[test]
    fn nesting_past_the_limit_is_its_own_error() {
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(64), "]".repeat(64));
        for result in both_decodes(deep.as_bytes()) {
            let err = result.unwrap_err();
            assert!(
                // `{"a": ` is bytes 0-5; the 64th `[` (level 65) is at 6 + 63.
                matches!(
                    err,
                    DecodeError::TooDeep {
                        limit: 64,
                        offset: 69
                    }
                ),
                "{err:?}"
            );
        }
        let within = format!("{{\"a\": {}1{}}}", "[".repeat(63), "]".repeat(63));
        for result in both_decodes(within.as_bytes()) {
            assert!(result.unwrap().var("a").is_some());
        }
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let body = format!(r#"{{"s": "{}\"{}"}}"#, "[".repeat(200), "{".repeat(200));
        assert!(decode(body.as_bytes()).is_ok());
    }

    #[test]
    fn a_million_levels_fail_cleanly_without_touching_the_stack() {
        let deep = "[".repeat(1_000_000);
        let err = Snapshot::decode_with_max_depth(deep.as_bytes(), Duration::ZERO, 10_000);
        assert!(
            matches!(
                err,
                Err(DecodeError::TooDeep {
                    limit: MAX_DEPTH_CEILING,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn the_ceiling_is_exactly_what_serde_json_accepts() {
        let nest = |levels: usize| {
            format!(
                "{{\"a\": {}1{}}}",
                "[".repeat(levels - 1),
                "]".repeat(levels - 1)
            )
        };
        let at_ceiling = nest(MAX_DEPTH_CEILING);
        assert!(
            Snapshot::decode_with_max_depth(at_ceiling.as_bytes(), Duration::ZERO, 1000).is_ok()
        );
        let past = nest(MAX_DEPTH_CEILING + 1);
        assert!(matches!(
            Snapshot::decode_with_max_depth(past.as_bytes(), Duration::ZERO, 1000),
            Err(DecodeError::TooDeep { .. })
        ));
    }

    /// Arbitrary JSON values, nested up to 8 levels.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            // Decimals that serde_json parses exactly without its
            // `float_roundtrip` feature (which the workspace leaves off).
            (any::<i32>(), 0i32..4).prop_map(|(m, e)| Value::from(f64::from(m) / 10f64.powi(e))),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(8, 256, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
                proptest::collection::btree_map(".{0,8}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// What a decode result must satisfy besides not panicking: whatever it
    /// accepts is exactly the object serde_json reads from the same bytes,
    /// and an object serde_json reads is refused only for its depth.
    fn agrees_with_serde_json(
        bytes: &[u8],
        result: &Result<Snapshot, DecodeError>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        match (result, serde_json::from_slice::<Value>(bytes)) {
            (Ok(snapshot), Ok(Value::Object(object))) => {
                prop_assert_eq!(&snapshot.clone().into_vars(), &object);
            }
            (Ok(_), other) => {
                prop_assert!(false, "accepted bytes that serde_json reads as {:?}", other);
            }
            (Err(DecodeError::TooDeep { .. }), _) => {}
            (Err(e), Ok(Value::Object(_))) => {
                prop_assert!(false, "refused an object serde_json reads: {}", e);
            }
            (Err(_), _) => {}
        }
        Ok(())
    }

    /// `decode_reading_memstats` (with `memstats` read as a tree) gives
    /// what `decode_with_max_depth` gives, or the same error; only nesting
    /// inside `memstats` is left to serde_json's own limit.
    fn agree_one_pass(body: &[u8], max_depth: usize) -> Result<(), TestCaseError> {
        let scanned = Snapshot::decode_with_max_depth(body, Duration::ZERO, max_depth);
        let one_pass = Snapshot::decode_reading_memstats::<Value>(body, Duration::ZERO, max_depth);
        match (scanned, one_pass) {
            (Ok(scanned), Ok((snapshot, memstats))) => {
                prop_assert_eq!(snapshot.vars(), scanned.vars());
                let text = scanned
                    .memstats_json()
                    .map(|t| serde_json::from_str::<Value>(t).unwrap());
                if memstats.is_some() {
                    prop_assert!(snapshot.memstats_json().is_none());
                    prop_assert_eq!(memstats, text);
                } else {
                    // Read again as text: the same snapshot.
                    prop_assert_eq!(snapshot.memstats_json(), scanned.memstats_json());
                }
            }
            (Err(scanned), Err(one_pass)) => {
                prop_assert_eq!(scanned.to_string(), one_pass.to_string());
            }
            (Err(scanned), Ok((snapshot, memstats))) => {
                // Accepted only for nesting inside `memstats` past the limit.
                let deep_memstats = matches!(scanned, DecodeError::TooDeep { .. })
                    && memstats.is_some()
                    && check_depth(
                        &serde_json::to_vec(&Value::Object(snapshot.vars().clone())).unwrap(),
                        max_depth.min(MAX_DEPTH_CEILING),
                    )
                    .is_ok();
                prop_assert!(deep_memstats, "{:?} accepted: {:?}", scanned, snapshot);
            }
            (Ok(scanned), Err(one_pass)) => {
                prop_assert!(false, "{:?} refused: {:?}", scanned, one_pass);
            }
        }
        Ok(())
    }

    #[test]
    fn memstats_that_the_type_cannot_read_comes_back_as_text() {
        #[derive(Debug, serde::Deserialize)]
        struct Typed {
            #[serde(rename = "NumGC")]
            _num_gc: u32,
        }
        let body = br#"{"memstats": {"NumGC": "seven"}, "x": 1}"#;
        let (snapshot, typed) =
            Snapshot::decode_reading_memstats::<Typed>(body, Duration::ZERO, 64).unwrap();
        assert!(typed.is_none());
        assert_eq!(snapshot.memstats_json(), Some(r#"{"NumGC": "seven"}"#));
        assert_eq!(snapshot.var("x"), Some(&Value::from(1)));
        let body = br#"{"memstats": {"NumGC": 7}, "x": 1}"#;
        let (snapshot, typed) =
            Snapshot::decode_reading_memstats::<Typed>(body, Duration::ZERO, 64).unwrap();
        assert_eq!(typed.unwrap()._num_gc, 7);
        assert_eq!(snapshot.memstats_json(), None);
    }

    /// The byte-at-a-time scan the word-at-a-time one must agree with.
    fn check_depth_bytewise(body: &[u8], limit: usize) -> Result<(), usize> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (offset, &byte) in body.iter().enumerate() {
            if in_string {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > limit {
                        return Err(offset);
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }

    #[test]
    fn the_word_tests_find_every_byte_they_look_for() {
        for byte in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'7'; 8];
                word[at] = byte;
                let word = u64::from_le_bytes(word);
                let wanted = matches!(byte, b'"' | b'\\' | b'[' | b']' | b'{' | b'}');
                assert!(!wanted || structural_or_quote(word), "{byte:#x} at {at}");
                assert_eq!(
                    quote_or_backslash(word),
                    matches!(byte, b'"' | b'\\'),
                    "{byte:#x}"
                );
            }
        }
    }

    proptest! {
        /// Fuzz-style: random bytes never panic, and the answer agrees with
        /// serde_json (accepted = the same object; refused = not an object,
        /// or too deep).
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let result = decode(&bytes);
            agrees_with_serde_json(&bytes, &result)?;
        }

        /// Fuzz-style on JSON-shaped fragments, any depth limit: no panic,
        /// and the same agreement with serde_json.
        #[test]
        fn decoding_json_like_bytes_never_panics(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"), Just("["), Just("]"), Just("\""), Just("\\"),
                    Just(":"), Just(","), Just("1"), Just("-"), Just("e9"), Just("true"),
                    Just("null"), Just(" "), Just("\"k\""), Just("\u{e9}"), Just("\\u12"),
                ],
                0..200,
            ),
            max_depth in 0usize..200,
        ) {
            let body = parts.concat();
            let result = Snapshot::decode_with_max_depth(body.as_bytes(), Duration::ZERO, max_depth);
            agrees_with_serde_json(body.as_bytes(), &result)?;
        }

        /// The word-at-a-time scan finds the same first bracket past the
        /// limit as a byte-at-a-time one, on JSON-like bytes of any shape.
        #[test]
        fn the_depth_scan_agrees_with_a_bytewise_scan(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"), Just("["), Just("]"), Just("\""), Just("\\"),
                    Just("\\\""), Just(","), Just("1234567"), Just("|"), Just("\u{1}"),
                    Just("\u{e9}"), Just(" "), Just("\"k\":"), Just("12345678901234567890"),
                ],
                0..300,
            ),
            limit in 0usize..40,
        ) {
            let body = parts.concat();
            let word = check_depth(body.as_bytes(), limit).map_err(|e| match e {
                DecodeError::TooDeep { offset, .. } => offset,
                other => panic!("{other:?}"),
            });
            prop_assert_eq!(word, check_depth_bytewise(body.as_bytes(), limit));
        }

        #[test]
        fn arbitrary_objects_round_trip_exactly(
            vars in proptest::collection::btree_map(".{0,10}", json_value(), 0..10),
            memstats in proptest::option::of(json_value()),
        ) {
            let mut object: Map<String, Value> = vars.into_iter().collect();
            if let Some(memstats) = memstats {
                object.insert("memstats".to_owned(), memstats);
            }
            let body = serde_json::to_vec(&object).unwrap();
            let snapshot = decode(&body).unwrap();
            prop_assert_eq!(snapshot.body_bytes(), body.len());
            // Kept as text, given back exactly: as a tree when it is an object.
            let memstats = object.get("memstats");
            let text = snapshot.memstats_json().map(|t| serde_json::from_str::<Value>(t).unwrap());
            prop_assert_eq!(text.as_ref(), memstats);
            prop_assert_eq!(snapshot.memstats(), memstats.and_then(Value::as_object));
            prop_assert!(!snapshot.vars().contains_key("memstats"));
            prop_assert_eq!(&snapshot.into_vars(), &object);
        }

        /// The one-pass read agrees with the scanned decode on JSON-like
        /// bytes of any shape and any limit: the same variables and the same
        /// `memstats` (as a tree here), or the same error.
        #[test]
        fn one_pass_reading_agrees_with_the_scanned_decode(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("{"), Just("}"), Just("["), Just("]"), Just("\""), Just(":"),
                    Just(","), Just("1"), Just("true"), Just("\"k\":"), Just("\"memstats\":"),
                    Just("{\"a\":"), Just("[1,"), Just(" "),
                ],
                0..120,
            ),
            max_depth in 0usize..12,
        ) {
            let body = parts.concat();
            agree_one_pass(body.as_bytes(), max_depth)?;
        }

        /// The same on valid objects nested around the limit, in `memstats`
        /// and elsewhere.
        #[test]
        fn one_pass_reading_agrees_on_objects_around_the_limit(
            vars in proptest::collection::btree_map("[a-c]{1,2}", json_value(), 0..6),
            memstats in proptest::option::of(json_value()),
            max_depth in 1usize..10,
        ) {
            let mut object: Map<String, Value> = vars.into_iter().collect();
            if let Some(memstats) = memstats {
                object.insert("memstats".to_owned(), memstats);
            }
            let body = serde_json::to_vec(&object).unwrap();
            agree_one_pass(&body, max_depth)?;
        }

        #[test]
        fn arbitrary_non_objects_are_refused_by_type(value in json_value()) {
            let body = serde_json::to_vec(&value).unwrap();
            let result = decode(&body);
            prop_assert_eq!(result.is_ok(), value.is_object(), "{:?}", result);
        }
    }
}
