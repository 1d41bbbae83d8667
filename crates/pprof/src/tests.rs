use std::io::Write;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::report::{Basis, ProfileState};

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn recorded(name: &str) -> Profile {
    parse(&testdata(name), &Limits::default()).unwrap()
}

/// A hand-made profile: strings, one function per name, one location per
/// function, samples as (stack of function names leaf first, values).
fn made(types: &[&str], samples: &[(&[&str], &[i64])]) -> proto::Profile {
    let mut strings = vec![String::new()];
    let mut intern = |s: &str| {
        if let Some(i) = strings.iter().position(|x| x == s) {
            return i as i64;
        }
        strings.push(s.to_owned());
        (strings.len() - 1) as i64
    };
    let sample_type = types
        .iter()
        .map(|t| proto::ValueType {
            r#type: intern(t),
            unit: intern("count"),
        })
        .collect();
    let mut function = Vec::new();
    let mut location = Vec::new();
    let mut sample = Vec::new();
    for (stack, values) in samples {
        let mut ids = Vec::new();
        for name in *stack {
            let id = match function
                .iter()
                .position(|f: &proto::Function| f.name == intern(name))
            {
                Some(i) => i as u64 + 1,
                None => {
                    let id = function.len() as u64 + 1;
                    function.push(proto::Function {
                        id,
                        name: intern(name),
                        filename: intern("/src/app/main.go"),
                    });
                    location.push(proto::Location {
                        id,
                        address: 0x1000 + id,
                        line: vec![proto::Line {
                            function_id: id,
                            line: 7,
                        }],
                    });
                    id
                }
            };
            ids.push(id);
        }
        sample.push(proto::Sample {
            location_id: ids,
            value: values.to_vec(),
        });
    }
    proto::Profile {
        sample_type,
        sample,
        location,
        function,
        string_table: strings,
        time_nanos: 1,
        duration_nanos: 0,
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

const HEAP: [&str; 4] = [
    "alloc_objects",
    "alloc_space",
    "inuse_objects",
    "inuse_space",
];

#[test]
fn a_recorded_go_heap_profile_names_the_leaking_closure_at_its_line() {
    let profile = recorded("leaking-heap-2.pb.gz");
    assert_eq!(
        profile
            .sample_types
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        HEAP
    );
    let inuse = profile.index_of("inuse_space").unwrap();
    let sites = top_sites(&profile.samples, inuse, 5);
    let first = &sites[0];
    assert_eq!(&*first.frame.function, "main.main.func1.1");
    assert!(first.frame.file.ends_with("examples/go/leaking/main.go"));
    // `sessions[...] = make([]byte, *leakRate)` in examples/go/leaking/main.go.
    assert_eq!(first.frame.line, 30);
    assert_eq!(first.frame.short_file(), "leaking/main.go");
    assert_eq!(
        first.stack[0].to_string(),
        "main.main.func1.1 leaking/main.go:30"
    );
    // `go tool pprof -top -sample_index=inuse_space` said 12527.33kB for it.
    assert_eq!(first.values[inuse] / 1024, 12527);
}

#[test]
fn two_recorded_heap_profiles_give_the_growth_in_between() {
    let older = recorded("leaking-heap-1.pb.gz");
    let newer = recorded("leaking-heap-2.pb.gz");
    let mut state = ProfileState::new();
    let t0 = Instant::now();
    let first = state.heap(&older, t0, 20).unwrap();
    assert_eq!(first.basis, Basis::First);
    assert!(first.growth.is_none());
    let second = state
        .heap(&newer, t0 + Duration::from_secs(30), 20)
        .unwrap();
    assert_eq!(second.basis, Basis::Previous);
    assert_eq!(second.window.unwrap().sec, 30.0);
    let top = &second.sites[0];
    assert_eq!((top.function.as_str(), top.line), ("main.main.func1.1", 30));
    // `go tool pprof -top -base` on the same pair: 10348.66kB grew there.
    let grown = top.growth.unwrap().bytes;
    assert_eq!(grown / 1024, 10348, "{grown}");
    assert!(top.share.pct > 0.9, "{}", top.share.pct);
    let flat = second.top.as_ref().unwrap();
    assert_eq!(flat.site, "main.main.func1.1 leaking/main.go:30");
    assert_eq!(flat.growth, top.growth.unwrap());
    assert!(first.top.is_none(), "the first profile has no growth");
    let growth = second.growth.unwrap();
    assert_eq!(
        growth.bytes,
        newer.total(newer.index_of("inuse_space").unwrap())
            - older.total(older.index_of("inuse_space").unwrap())
    );
    assert!(growth.bytes > 0);

    // No GC since: the same profile again is "unchanged", and the growth
    // after it is measured from the last profile that changed.
    let again = state
        .heap(&newer, t0 + Duration::from_secs(40), 20)
        .unwrap();
    assert_eq!(again.basis, Basis::Unchanged);
    assert!(again.sites.is_empty());
    assert_eq!(again.window.unwrap().sec, 10.0);
    assert_eq!(again.growth.unwrap().bytes, 0);
    let mut fresh = ProfileState::new();
    fresh.heap(&older, t0, 20).unwrap();
    fresh
        .heap(&older, t0 + Duration::from_secs(10), 20)
        .unwrap();
    let later = fresh
        .heap(&newer, t0 + Duration::from_secs(30), 20)
        .unwrap();
    assert_eq!(later.basis, Basis::Previous);
    assert_eq!(later.window.unwrap().sec, 30.0, "from the last change");
    assert_eq!(later.sites[0].growth.unwrap().bytes / 1024, 10348);

    // A restarted program (fewer allocations since its start than before)
    // is compared with nothing.
    let restarted = fresh
        .heap(&older, t0 + Duration::from_secs(60), 20)
        .unwrap();
    assert_eq!(restarted.basis, Basis::First);
    assert!(restarted.growth.is_none());
}

#[test]
fn a_go_computed_delta_is_read_as_the_growth_over_its_seconds() {
    let delta = recorded("leaking-heap-delta5s.pb.gz");
    assert_eq!(delta.duration_nanos / 1_000_000_000, 5);
    let report = ProfileState::new()
        .heap(&delta, Instant::now(), 20)
        .unwrap();
    assert_eq!(report.basis, Basis::Delta);
    assert_eq!(report.window.unwrap().sec.round(), 5.0);
    assert!(report.inuse.is_none());
    assert_eq!(report.sites[0].function, "main.main.func1.1");
    assert!(report.sites[0].growth.unwrap().bytes > 4 << 20);
}

#[test]
fn goroutine_profiles_name_the_stack_that_piles_up() {
    let mut state = ProfileState::new();
    let t0 = Instant::now();
    let first = state
        .goroutines(&recorded("goroutineleak-1.pb.gz"), t0, 20)
        .unwrap();
    assert_eq!(first.count, 107);
    assert_eq!(first.top[0].function, "main.awaitReply");
    assert!(first.growing.is_empty() && first.growth.is_none());
    let second = state
        .goroutines(
            &recorded("goroutineleak-2.pb.gz"),
            t0 + Duration::from_secs(25),
            20,
        )
        .unwrap();
    let grown = second.growth.unwrap();
    assert!(grown > 300, "{grown}");
    let growing = &second.growing[0];
    assert_eq!(growing.function, "main.awaitReply");
    assert_eq!(growing.line, 24);
    assert_eq!(growing.growth, Some(grown), "all growth is that stack");
    assert!(growing.stack[0].starts_with("main.awaitReply goroutineleak/main.go:24"));
}

#[test]
fn the_text_goroutine_profile_reads_like_the_protobuf() {
    let body = testdata("goroutineleak-debug1.txt");
    assert!(text::is_goroutine_text(&body));
    let profile = text::parse_goroutines(&body, &Limits::default()).unwrap();
    assert_eq!(profile.total(0), 67);
    let sites = top_sites(&profile.samples, 0, 3);
    assert_eq!(&*sites[0].frame.function, "main.awaitReply");
    assert_eq!(sites[0].frame.line, 24);
    assert_eq!(sites[0].values, vec![60]);
    let bad = text::parse_goroutines(b"goroutine profile: total 1\nx @ 0x1\n", &Limits::default());
    assert!(matches!(bad, Err(ProfileError::Proto(m)) if m.contains("line 2")));
}

#[test]
fn top_functions_has_pprof_flat_and_cum() {
    let message = made(
        &["inuse_space"],
        &[
            (&["runtime.mallocgc", "main.leak", "main.main"], &[100]),
            (&["main.leak", "main.main"], &[50]),
            (&["main.other", "main.main"], &[-30]),
        ],
    );
    let profile = parse(&message.encode_to_vec(), &Limits::default()).unwrap();
    let (rows, total) = top_functions(&profile.samples, 0);
    assert_eq!(total, 120);
    let row = |name: &str| rows.iter().find(|r| &*r.function == name).unwrap().clone();
    assert_eq!(
        (row("runtime.mallocgc").flat, row("runtime.mallocgc").cum),
        (100, 100)
    );
    assert_eq!((row("main.leak").flat, row("main.leak").cum), (50, 150));
    assert_eq!((row("main.main").flat, row("main.main").cum), (0, 120));
    assert_eq!((row("main.other").flat, row("main.other").cum), (-30, -30));
    assert_eq!(&*rows[0].function, "runtime.mallocgc");
    // The site skips the runtime frame.
    let sites = top_sites(&profile.samples, 0, 5);
    assert_eq!(&*sites[0].frame.function, "main.leak");
    assert_eq!(sites[0].values, vec![150]);
    assert_eq!(sites.len(), 1, "shrinking sites are not growth: {sites:?}");

    // What the profiler allocates while serving a profile is not a site.
    let message = made(
        &["inuse_space"],
        &[
            (
                &[
                    "compress/flate.NewWriter",
                    "runtime/pprof.writeHeap",
                    "net/http/pprof.handler.ServeHTTP",
                ],
                &[900],
            ),
            (&["main.leak", "main.main"], &[50]),
        ],
    );
    let profile = parse(&message.encode_to_vec(), &Limits::default()).unwrap();
    let sites = top_sites(&profile.samples, 0, 5);
    assert_eq!(sites.len(), 1);
    assert_eq!(&*sites[0].frame.function, "main.leak");
}

#[test]
fn the_top_table_reads_like_go_tool_pprof() {
    assert_eq!(format_value(10_596_996, "bytes"), "10.11MB");
    assert_eq!(format_value(525_312, "bytes"), "513kB");
    assert_eq!(format_value(-2048, "bytes"), "-2kB");
    assert_eq!(format_value(900, "bytes"), "900B");
    assert_eq!(format_value(3 << 30, "bytes"), "3GB");
    assert_eq!(format_value(600, "count"), "600");
    let older = recorded("leaking-heap-1.pb.gz");
    let newer = recorded("leaking-heap-2.pb.gz");
    let columns = newer.require(&["inuse_space"]).unwrap();
    let d = delta(&newer, &columns, &Baseline::of(&older, &columns));
    let (rows, total) = top_functions(&d.samples, 1);
    let table = top_table(&rows, total, "bytes", 3);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["flat", "flat%", "sum%", "cum", "cum%"]
    );
    // `go tool pprof -top -sample_index=inuse_space -base 1 2` on the same pair:
    // 10348.66kB 95.25% 95.25% 10348.66kB 95.25%  main.main.func1.1
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "10.11MB",
            "95.25%",
            "95.25%",
            "10.11MB",
            "95.25%",
            "main.main.func1.1"
        ]
    );
}

#[test]
fn inlined_frames_are_expanded_innermost_first() {
    let mut message = made(&["inuse_space"], &[(&["main.outer"], &[7])]);
    message.function.push(proto::Function {
        id: 99,
        name: message.string_table.len() as i64,
        filename: 0,
    });
    message.string_table.push("main.inlined".to_owned());
    message.location[0].line.insert(
        0,
        proto::Line {
            function_id: 99,
            line: 3,
        },
    );
    let profile = parse(&message.encode_to_vec(), &Limits::default()).unwrap();
    let names: Vec<&str> = profile.samples[0]
        .stack
        .iter()
        .map(|f| &*f.function)
        .collect();
    assert_eq!(names, ["main.inlined", "main.outer"]);
}

#[test]
fn broken_references_are_errors_that_say_what_points_nowhere() {
    let mut message = made(&["inuse_space"], &[(&["main.a"], &[1])]);
    message.sample[0].location_id.push(42);
    let error = parse(&message.encode_to_vec(), &Limits::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "inconsistent profile: sample 0: location 42 is not in the profile"
    );

    let mut message = made(&["inuse_space"], &[(&["main.a"], &[1])]);
    message.function[0].name = 1000;
    let error = parse(&message.encode_to_vec(), &Limits::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("function 1: string 1000 is not in the string table"),
        "{error}"
    );

    let mut message = made(&["inuse_space"], &[(&["main.a"], &[1])]);
    message.sample[0].value.push(3);
    let error = parse(&message.encode_to_vec(), &Limits::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("sample 0 has 2 values for 1 sample types"),
        "{error}"
    );

    let heap = parse(
        &made(&["goroutine"], &[]).encode_to_vec(),
        &Limits::default(),
    )
    .unwrap();
    let error = ProfileState::new()
        .heap(&heap, Instant::now(), 5)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "profile has no inuse_space values (it has goroutine)"
    );
}

#[test]
fn truncated_corrupt_and_oversized_profiles_are_refused() {
    let whole = testdata("leaking-heap-2.pb.gz");
    let cut = parse(&whole[..whole.len() / 2], &Limits::default()).unwrap_err();
    assert!(matches!(cut, ProfileError::Gzip(_)), "{cut}");
    let raw = made(&["inuse_space"], &[(&["main.a"], &[1])]).encode_to_vec();
    let cut = parse(&raw[..raw.len() - 3], &Limits::default()).unwrap_err();
    assert!(matches!(cut, ProfileError::Proto(_)), "{cut}");
    assert!(matches!(
        parse(b"<html>404 page not found</html>", &Limits::default()),
        Err(ProfileError::Proto(_))
    ));

    // A gzip bomb: 100 MB of zeros in a small body stops at the limit.
    let bomb = gzip(&vec![0u8; 100 << 20]);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let limits = Limits {
        max_decoded_bytes: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(
        parse(&bomb, &limits).unwrap_err(),
        ProfileError::TooLarge { limit: 1 << 20 }
    );
    let many = made(
        &["inuse_space"],
        &[
            (&["main.a"], &[1]),
            (&["main.b"], &[1]),
            (&["main.c"], &[1]),
        ],
    );
    let limits = Limits {
        max_samples: 2,
        ..Limits::default()
    };
    assert_eq!(
        parse(&gzip(&many.encode_to_vec()), &limits).unwrap_err(),
        ProfileError::TooManySamples { count: 3, limit: 2 }
    );
}

#[test]
fn deep_stacks_are_cut_at_the_frame_limit() {
    let names: Vec<String> = (0..50).map(|i| format!("main.f{i}")).collect();
    let stack: Vec<&str> = names.iter().map(String::as_str).collect();
    let message = made(&["inuse_space"], &[(&stack, &[1])]);
    let limits = Limits {
        max_frames: 10,
        ..Limits::default()
    };
    let profile = parse(&message.encode_to_vec(), &limits).unwrap();
    assert_eq!(profile.samples[0].stack.len(), 10);
    assert_eq!(&*profile.samples[0].stack[0].function, "main.f0");
}

proptest! {
    #[test]
    fn any_bytes_are_a_profile_or_an_error_never_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        gz in any::<bool>(),
    ) {
        let body = if gz { gzip(&bytes) } else { bytes };
        let _ = parse(&body, &Limits::default());
        let _ = text::parse_goroutines(&body, &Limits::default());
    }

    #[test]
    fn a_recorded_profile_with_any_byte_changed_never_panics(at in 0usize..4096, to in any::<u8>()) {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&testdata("leaking-heap-2.pb.gz")[..])
            .read_to_end(&mut raw)
            .unwrap();
        let at = at % raw.len();
        raw[at] = to;
        if let Ok(profile) = parse(&raw, &Limits::default()) {
            let mut state = ProfileState::new();
            let _ = state.heap(&profile, Instant::now(), 20);
            let _ = state.heap(&profile, Instant::now(), 20);
        }
    }

    #[test]
    fn growth_is_the_newer_profile_minus_the_older_stack_by_stack(
        older in proptest::collection::vec((0usize..6, -1000i64..1000), 0..20),
        newer in proptest::collection::vec((0usize..6, -1000i64..1000), 0..20),
    ) {
        let names = ["main.a", "main.b", "main.c", "main.d", "main.e", "main.f"];
        let build = |items: &[(usize, i64)]| {
            let stacks: Vec<[&str; 1]> = items.iter().map(|(i, _)| [names[*i]]).collect();
            let values: Vec<[i64; 1]> = items.iter().map(|(_, v)| [*v]).collect();
            let pairs: Vec<(&[&str], &[i64])> = stacks
                .iter()
                .zip(&values)
                .map(|(s, v)| (&s[..], &v[..]))
                .collect();
            parse(&made(&["inuse_space"], &pairs).encode_to_vec(), &Limits::default()).unwrap()
        };
        let (old, new) = (build(&older), build(&newer));
        let d = delta(&new, &[0], &Baseline::of(&old, &[0]));
        prop_assert_eq!(d.growth[0], new.total(0) - old.total(0));
        for (i, name) in names.iter().enumerate() {
            let sum = |items: &[(usize, i64)]| items.iter().filter(|(j, _)| *j == i).map(|(_, v)| v).sum::<i64>();
            let listed = d.samples.iter().find(|s| &*s.stack[0].function == *name);
            match listed {
                Some(s) => {
                    prop_assert_eq!(s.values[0], sum(&newer));
                    prop_assert_eq!(s.values[1], sum(&newer) - sum(&older));
                }
                None => prop_assert!(newer.iter().all(|(j, _)| *j != i)),
            }
        }
    }
}

use std::io::Read;
