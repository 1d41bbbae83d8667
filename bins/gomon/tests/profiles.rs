//! The `profile` metric set as a user runs it: `gomon run` with profiles on
//! real Go programs into the embedded store, Elasticsearch and OpenSearch
//! at once, then `gomon analyze` on each: the leak named at its line, the
//! goroutine leak named at its stack, nothing named for the steady program
//! and for the cache that fills then levels off, and a program without
//! `net/http/pprof` reported once.

use std::process::Stdio;

mod support;

use gomon_testrig::{AppKind, GoApp};
use serde_json::Value;
use support::{gomon, temp_dir, text};

fn config(hosts: &[String], output: &str) -> String {
    format!(
        "modules:\n- module: golang\n  metricsets: [heap, profile]\n  period: 1s\n  hosts: [{}]\n  profile.period: 5s\nhttp.enabled: false\n{output}",
        hosts.join(", ")
    )
}

/// `gomon analyze --json` of `args`' source: the analyses by program name,
/// leaving out the target `except` (a second program of the same name).
fn analyses(args: &[&str], except: &str) -> std::collections::BTreeMap<String, Value> {
    let out = gomon()
        .args(["analyze", "--json"])
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{args:?}: {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    report["analyses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["target"] != except)
        .map(|a| (a["program"].as_str().unwrap().to_owned(), a.clone()))
        .collect()
}

fn check(source: &str, by_program: &std::collections::BTreeMap<String, Value>) {
    let leak = &by_program["leaking"];
    assert_eq!(leak["verdict"], "leak", "{source}: {leak:#}");
    let site = &leak["profiles"]["sites"][0];
    assert_eq!(site["function"], "main.main.func1.1", "{source}: {leak:#}");
    assert_eq!(site["line"], gomon_testrig::leaking_line(), "{source}");
    assert!(
        site["file"]
            .as_str()
            .unwrap()
            .ends_with("examples/go/leaking/main.go"),
        "{source}: {site}"
    );
    assert!(
        leak["summary"].as_str().unwrap().contains(&format!(
            "growing at main.main.func1.1 leaking/main.go:{}",
            gomon_testrig::leaking_line()
        )),
        "{source}: {}",
        leak["summary"]
    );

    let piled = &by_program["goroutineleak"];
    assert_eq!(piled["verdict"], "goroutine-leak", "{source}: {piled:#}");
    let place = &piled["profiles"]["goroutines"]["growing"][0];
    assert_eq!(
        (place["function"].as_str(), place["line"].as_i64()),
        (Some("main.awaitReply"), Some(24)),
        "{source}: {piled:#}"
    );
    assert!(
        piled["summary"]
            .as_str()
            .unwrap()
            .contains("piling up at main.awaitReply goroutineleak/main.go:24"),
        "{source}: {}",
        piled["summary"]
    );

    for program in ["steady", "cache"] {
        let calm = &by_program[program];
        for verdict in calm["verdicts"].as_array().unwrap() {
            assert!(
                verdict != "leak" && verdict != "goroutine-leak",
                "{source} {program}: {calm:#}"
            );
        }
        assert!(
            !calm["summary"].as_str().unwrap().contains("growing at"),
            "{source} {program}: {calm:#}"
        );
        assert!(
            calm["profiles"]["profiles"].as_u64().unwrap() >= 5,
            "{source} {program}"
        );
    }
    assert_eq!(by_program["cache"]["verdict"], "plateau", "{source}");
}

#[test]
fn profiles_say_where_from_the_store_elasticsearch_and_opensearch() {
    let apps = [
        GoApp::start(AppKind::Leaking, &["-leak-bytes", "262144"]),
        GoApp::start(AppKind::GoroutineLeak, &[]),
        GoApp::start(AppKind::Steady, &[]),
        GoApp::start(AppKind::Cache, &[]),
    ];
    let bare = GoApp::start(AppKind::Steady, &["-pprof=false"]);
    let dir = temp_dir("profiles");
    let hosts: Vec<String> = apps.iter().map(|a| format!("{:?}", a.addr())).collect();
    let data = dir.join("data");
    let store_config = dir.join("store.yml");
    let mut with_bare = hosts.clone();
    with_bare.push(format!("{:?}", bare.addr()));
    std::fs::write(
        &store_config,
        config(
            &with_bare,
            &format!("output.store.path: {:?}\n", data.display().to_string()),
        ),
    )
    .unwrap();
    let engines = gomon_testrig::engines();
    let mut runs = vec![(store_config.clone(), None)];
    for engine in &engines {
        let index = support::unique(&format!("profiles-{}", engine.kind));
        let file = dir.join(format!("{}.yml", engine.kind));
        std::fs::write(
            &file,
            config(
                &hosts,
                &format!(
                    "output.elasticsearch:\n  hosts: [{:?}]\n  index: {index:?}\n",
                    engine.url
                ),
            ),
        )
        .unwrap();
        runs.push((file, Some((engine.clone(), index))));
    }
    // The three agents run side by side on the same programs, two minutes:
    // the cache fills for about 70 s, then levels off.
    let children: Vec<_> = runs
        .iter()
        .map(|(file, _)| {
            gomon()
                .args(["run", "--duration", "120s", "-c"])
                .arg(file)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    // The program without pprof is also a steady program: told apart by address.
    let bare_url = bare.vars_url();
    drop(apps);
    drop(bare);
    for ((file, _), out) in runs.iter().zip(&outputs) {
        assert!(out.status.success(), "{}: {}", file.display(), text(out).1);
    }

    // A program without net/http/pprof: said once, with what to import.
    let stderr = text(&outputs[0]).1;
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("no profiles"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(said[0].contains("net/http/pprof"), "{}", said[0]);

    check(
        "embedded store",
        &analyses(&["--data", data.to_str().unwrap()], &bare_url),
    );
    for ((file, target), _) in runs.iter().zip(&outputs).skip(1) {
        let (engine, index) = target.as_ref().unwrap();
        let by_program = analyses(&["-c", file.to_str().unwrap()], &bare_url);
        check(&engine.kind.to_string(), &by_program);
        support::delete_index(&engine.url, index);
        engine.record(
            "profiles::where_from_every_store",
            "the leak's line, the goroutine leak's stack and nothing for the steady program, as from the embedded store",
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn explain_names_the_leaking_line_and_the_piling_goroutines_and_what_to_import() {
    let leaking = GoApp::start(AppKind::Leaking, &["-leak-bytes", "262144"]);
    let piling = GoApp::start(AppKind::GoroutineLeak, &[]);
    let bare = GoApp::start(AppKind::Steady, &["-pprof=false"]);
    let explain = |addr: &str| {
        gomon()
            .args(["explain", addr, "--window", "3s", "--gc", "--data"])
            .arg(temp_dir("explain-empty"))
            .output()
            .unwrap()
    };

    let out = explain(leaking.addr());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let header = stdout
        .lines()
        .position(|l| l.starts_with("Where the heap grew"))
        .unwrap();
    let first_site = stdout.lines().nth(header + 1).unwrap();
    assert!(
        first_site.ends_with(&format!(
            "main.main.func1.1 leaking/main.go:{}",
            gomon_testrig::leaking_line()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("flat%"), "the pprof table: {stdout}");
    assert!(
        stdout.contains("Verdict of the stored history: none"),
        "{stdout}"
    );

    let out = explain(piling.addr());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let goroutines = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Goroutines:"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        goroutines.contains("main.awaitReply goroutineleak/main.go:24"),
        "{stdout}"
    );
    let grew: i64 = goroutines
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(grew >= 20, "{goroutines}");

    let out = explain(bare.addr());
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("404") && stderr.contains("import _ \"net/http/pprof\""),
        "{stderr}"
    );
}
