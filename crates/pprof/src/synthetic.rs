//! Made-up profiles of a chosen size, for benchmarks and tests: what a
//! large Go service's heap profile looks like to the parser (thousands of
//! stacks, deep call chains, shared frames), without a Go program.

use std::io::Write;

use prost::Message;

use crate::proto;

/// A gzip'd heap profile with `stacks` distinct stacks of `depth` frames
/// (from a pool of `depth × 50` functions, so frames repeat as in real
/// programs) and the four heap sample types; `generation` scales the
/// in-use values (a later generation of the same program has grown) and
/// keeps the cumulative allocations rising.
pub fn heap_profile(stacks: usize, depth: usize, generation: i64) -> Vec<u8> {
    let functions = depth.max(1) * 50;
    let mut strings = vec![
        String::new(),
        "alloc_objects".to_owned(),
        "count".to_owned(),
        "alloc_space".to_owned(),
        "bytes".to_owned(),
        "inuse_objects".to_owned(),
        "inuse_space".to_owned(),
    ];
    let mut function = Vec::with_capacity(functions);
    let mut location = Vec::with_capacity(functions);
    for f in 0..functions {
        let id = f as u64 + 1;
        strings.push(format!(
            "example.com/service/pkg{}.(*Handler{}).Serve{}",
            f % 37,
            f % 11,
            f
        ));
        let name = strings.len() as i64 - 1;
        strings.push(format!("/src/service/pkg{}/handler{}.go", f % 37, f % 11));
        let filename = strings.len() as i64 - 1;
        function.push(proto::Function { id, name, filename });
        location.push(proto::Location {
            id,
            address: 0x40_0000 + id * 16,
            line: vec![proto::Line {
                function_id: id,
                line: 10 + (f as i64 % 400),
            }],
        });
    }
    // A cheap deterministic sequence, so every run parses the same bytes.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let sample = (0..stacks)
        .map(|s| {
            let location_id = (0..depth)
                .map(|d| {
                    if d == 0 {
                        (s % functions) as u64 + 1
                    } else {
                        next() % functions as u64 + 1
                    }
                })
                .collect();
            let objects = 1 + (next() % 64) as i64;
            let bytes = objects * 512;
            proto::Sample {
                location_id,
                value: vec![
                    objects * (10 + generation),
                    bytes * (10 + generation),
                    objects * generation.max(1),
                    bytes * generation.max(1),
                ],
            }
        })
        .collect();
    let profile = proto::Profile {
        sample_type: [(1, 2), (3, 4), (5, 2), (6, 4)]
            .iter()
            .map(|&(r#type, unit)| proto::ValueType { r#type, unit })
            .collect(),
        sample,
        location,
        function,
        string_table: strings,
        time_nanos: 1_800_000_000_000_000_000 + generation * 60_000_000_000,
        duration_nanos: 0,
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(&profile.encode_to_vec());
    gz.finish().unwrap_or_default()
}
