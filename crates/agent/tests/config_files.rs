//! Configuration files as users bring them: the source article's
//! `metricbeat.yml` snippets and gomon's own format.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gomon_agent::config::{Config, ConfigError, MetricSet};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn the_articles_corrected_config_reads_unchanged() {
    let config = Config::load(&repo("examples/configs/metricbeat.yml")).unwrap();
    let module = &config.modules[0];
    assert_eq!(module.module, "golang");
    assert_eq!(
        module.metric_sets(),
        vec![MetricSet::Heap, MetricSet::Expvar]
    );
    assert_eq!(module.period, Duration::from_secs(1));
    assert_eq!(module.hosts, vec!["localhost:6060"]);
    assert_eq!(
        module.heap.path.as_deref(),
        Some("/debug/vars"),
        "dotted heap.path"
    );
    assert_eq!(module.expvar.namespace.as_deref(), Some("metricbeat"));
    assert_eq!(module.expvar.path.as_deref(), Some("/debug/vars"));
    assert_eq!(
        config.output.elasticsearch.as_ref().unwrap().hosts,
        vec!["localhost:9200"]
    );
}

#[test]
fn the_articles_first_snippet_is_refused_with_line_and_column() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/article-first-snippet.yml");
    let err = Config::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("article-first-snippet.yml"), "{message}");
    assert!(message.contains("line 3 column"), "{message}");
}

#[test]
fn gomons_own_example_config_reads() {
    let config = Config::load(&repo("examples/configs/gomon.yml")).unwrap();
    let module = &config.modules[0];
    assert_eq!(module.expvar.rates, vec!["output.events.acked", "requests"]);
    assert!(config.output.elasticsearch.is_none() && config.output.file.is_none());
    assert_eq!(config.http.port, Some(5066));
}

fn parse(yaml: &str) -> Result<Config, ConfigError> {
    Config::parse(yaml, config::FileFormat::Yaml, "test.yml")
}

#[test]
fn a_bad_value_is_named_by_its_key_path() {
    let err = parse("modules:\n- module: golang\n  hosts: [\"a:1\"]\n  period: 1x\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "test.yml: modules[0].period: \"1x\" is not a duration (expected e.g. 10s, 500ms, 1m30s)"
    );
}

#[test]
fn the_expvar_metric_set_needs_a_namespace() {
    let err =
        parse("modules:\n- module: golang\n  metricsets: [heap, expvar]\n  hosts: [\"a:1\"]\n")
            .unwrap_err();
    assert!(
        err.to_string().contains("modules[0].expvar.namespace"),
        "{err}"
    );
}

#[test]
fn several_outputs_and_a_file_without_a_golang_module_are_refused_clearly() {
    let err = parse("modules:\n- module: redis\n  hosts: [\"a:1\"]\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "test.yml: modules: no golang module configured (skipped: modules[0] (module: redis); gomon runs the golang module): add `modules:` (or `metricbeat.modules:`) with `module: golang` and `hosts`"
    );
    let err = parse("modules:\n- module: golang\n  hosts: [\"a:1\"]\noutput.file.path: /tmp/x\noutput.console.pretty: true\n").unwrap_err();
    assert!(err.to_string().contains("more than one output"), "{err}");
}

#[test]
fn other_metricbeat_modules_are_skipped_with_a_note_never_refused() {
    let config = parse(
        "metricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  enabled: false\n- module: golang\n  hosts: [\"a:1\"]\n- module: redis\n  metricsets: [info]\n  hosts: [\"r:6379\"]\n  perod: 5s\n",
    )
    .unwrap();
    assert_eq!(config.modules.len(), 1);
    assert_eq!(
        config.findings.skipped_modules,
        vec![
            "metricbeat.modules[0] (module: system)",
            "metricbeat.modules[2] (module: redis)"
        ]
    );
    // A skipped module's keys are not gomon's to check.
    assert!(
        config.findings.unknown_keys.is_empty(),
        "{:?}",
        config.findings
    );
}

#[test]
fn an_unknown_key_is_reported_with_its_path_and_the_nearest_known_key() {
    let config = parse(
        "modules:\n- module: golang\n  hosts: [\"a:1\"]\n  perod: 5s\n  expvar.namspace: app\n  ssl:\n    verification: none\noutptu:\n  file.path: /tmp/x\noutput.elasticsearch:\n  hots: [\"h:9200\"]\n  hosts: [\"h:9200\"]\noutput.logstash.hosts: [\"l:5044\"]\nqueue.disk.pth: /tmp/q\nqueue.disk.path: /tmp/q\nhttp.prot: 1\nsetup.template.overwirte: true\n",
    )
    .unwrap();
    assert_eq!(
        config.findings.unknown_keys,
        vec![
            "http.prot: unknown key; did you mean port?",
            "outptu: unknown key; did you mean output?",
            "output.elasticsearch.hots: unknown key; did you mean hosts?",
            "output.logstash: unknown key (gomon reads elasticsearch, store, file, console here)",
            "queue.disk.pth: unknown key; did you mean path?",
            "setup.template.overwirte: unknown key; did you mean overwrite?",
            "modules[0].expvar.namspace: unknown key; did you mean namespace?",
            "modules[0].perod: unknown key; did you mean period?",
            "modules[0].ssl.verification: unknown key; did you mean verification_mode?",
        ]
    );
    // What was misspelled keeps its default.
    assert_eq!(config.modules[0].period, Duration::from_secs(10));
}

#[test]
fn metricbeat_settings_gomon_does_not_implement_are_noted_as_ignored() {
    let config = parse(
        "name: shipper\ntags: [a]\nprocessors:\n- add_host_metadata: ~\nsetup.kibana.host: k:5601\nsetup.dashboards.enabled: true\nsetup.ilm.enabled: false\nlogging.level: debug\nmonitoring.enabled: false\nmetricbeat.config.modules.path: x\nmetricbeat.modules:\n- module: golang\n  hosts: [\"a:1\"]\n  fields: {team: a}\noutput.elasticsearch:\n  hosts: [\"h:9200\"]\n  bulk_max_size: 100\n  ssl.certificate: c.pem\n",
    )
    .unwrap();
    assert!(
        config.findings.unknown_keys.is_empty(),
        "{:?}",
        config.findings
    );
    // setup.kibana is read (for `gomon setup --dashboards`), not ignored.
    assert_eq!(config.setup.kibana.host(), "k:5601");
    assert_eq!(
        config.findings.ignored,
        vec![
            "logging",
            "metricbeat.config",
            "monitoring",
            "name",
            "output.elasticsearch.bulk_max_size",
            "output.elasticsearch.ssl.certificate",
            "processors",
            "setup.dashboards",
            "setup.ilm",
            "tags",
            "metricbeat.modules[0].fields",
        ]
    );
}

#[test]
fn test_config_refuses_what_run_would_refuse() {
    let module = "modules:\n- module: golang\n  hosts: [\"a:1\"]\n";
    let es = format!("{module}output.elasticsearch.hosts: [\"h:9200\"]\n");
    for (extra, expected) in [
        (
            format!("{module}  period: 1ns\n"),
            "modules[0].period: 1ns is below the minimum of 100ms",
        ),
        (
            format!("{module}http.host: my-laptop\n"),
            "http.host: \"my-laptop\" is not an IP address or localhost",
        ),
        (
            format!("{module}output.file:\n  path: /tmp/x\n  number_of_files: 0\n"),
            "output.file.number_of_files: 0: give at least 1",
        ),
        (
            format!("{module}  timeout: 50ms\n"),
            "modules[0].timeout: 50ms is below the minimum of 100ms",
        ),
        (
            format!("{es}output.elasticsearch.ssl.verification_mode: none\n"),
            "output.elasticsearch: ssl.verification_mode other than full is not supported",
        ),
        (
            format!("{es}output.elasticsearch.username: u\n"),
            "output.elasticsearch: username is set but password is not",
        ),
        (
            format!("{es}output.elasticsearch.api_key: nocolon\n"),
            "output.elasticsearch: api_key: give it as id:key",
        ),
        (
            format!(
                "{es}output.elasticsearch.ssl.certificate_authorities: /nonexistent/es-ca.pem\n"
            ),
            "output.elasticsearch: ssl.certificate_authorities: ",
        ),
        (
            format!("{es}queue.disk:\n  path: /tmp/q\n  max_size: 10KB\n"),
            "queue.disk.max_size: \"10KB\" is too small: give at least 1MiB",
        ),
        (
            format!("{module}queue.disk:\n  path: /tmp/q\n  max_size: 5 parsecs\n"),
            "queue.disk.max_size: \"5 parsecs\": unknown unit",
        ),
    ] {
        let err = parse(&extra).unwrap_err().to_string();
        assert!(
            err.starts_with("test.yml: ") && err.contains(expected),
            "{err}\nexpected: {expected}"
        );
    }
}

#[test]
fn certificate_authorities_is_a_path_or_a_list_of_paths() {
    for ssl in [
        "ssl.certificate_authorities: /nonexistent/one.pem",
        "ssl.certificate_authorities: [/nonexistent/one.pem]",
    ] {
        let err = parse(&format!(
            "modules:\n- module: golang\n  hosts: [\"https://a:1\"]\n  {ssl}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("modules[0].ssl") && err.contains("/nonexistent/one.pem"),
            "{err}"
        );
        let err = parse(&format!("modules:\n- module: golang\n  hosts: [\"a:1\"]\noutput.elasticsearch:\n  hosts: [\"https://h:9200\"]\n  {ssl}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("output.elasticsearch: ssl.certificate_authorities")
                && err.contains("/nonexistent/one.pem"),
            "{err}"
        );
    }
    let err = parse(
        "modules:\n- module: golang\n  hosts: [\"a:1\"]\n  ssl.certificate_authorities: {a: 1}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "modules[0].ssl.certificate_authorities: expected a file path or a list of file paths"
        ),
        "{err}"
    );
}

#[test]
fn the_printed_configuration_shows_effective_values() {
    let config = parse(
        "modules:\n- module: golang\n  period: 30s\n  hosts: [\"a:1\"]\n  expvar.namespace: app\noutput.elasticsearch.hosts: [\"h:9200\"]\nqueue.disk.path: /tmp/q\n",
    )
    .unwrap();
    let shown = config.redacted();
    let module = &shown["modules"][0];
    assert_eq!(module["period"], "30s");
    assert_eq!(module["timeout"], "10s");
    assert_eq!(module["metricsets"], serde_json::json!(["heap", "expvar"]));
    assert_eq!(module["heap"]["path"], "/debug/vars");
    assert_eq!(module["expvar"]["path"], "/debug/vars");
    assert_eq!(module["expvar"]["mode"], "flatten");
    assert_eq!(module["ssl"]["verification_mode"], "full");
    let es = &shown["output"]["elasticsearch"];
    assert_eq!(es["index"], "gomon-golang");
    assert!(
        es["dead_letter_path"]
            .as_str()
            .unwrap()
            .ends_with("dead-letters.ndjson"),
        "{es}"
    );
    assert_eq!(shown["queue"]["disk"]["max_size"], "1GiB");
    assert_eq!(shown["http"]["port"], 5066);
    assert_eq!(shown["setup"]["template"]["enabled"], true);
}

#[test]
fn hostile_configurations_are_refused_by_their_limit() {
    // Nine levels of nine aliases: 9^9 nodes from a few hundred bytes.
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(", ")
        ));
    }
    let err = parse(&bomb).unwrap_err();
    assert!(matches!(err, ConfigError::Limit { .. }), "{err:?}");
    assert!(
        err.to_string().contains("more than 500000 YAML nodes"),
        "{err}"
    );

    let deep: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
    let err = parse(&deep).unwrap_err().to_string();
    assert!(
        err.contains("nested deeper than 64 levels at line 65"),
        "{err}"
    );

    let hosts: Vec<String> = (0..20_001).map(|i| format!("\"h{i}:1\"")).collect();
    let err = parse(&format!(
        "modules:\n- module: golang\n  hosts: [{}]\n",
        hosts.join(",")
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("20001 targets") && err.contains("at most 20000"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("gomon-config-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.yml");
    std::fs::write(&big, "#".repeat(5 * 1024 * 1024)).unwrap();
    let err = Config::load(&big).unwrap_err().to_string();
    assert!(
        err.contains("5242880 bytes") && err.contains("at most 4194304 bytes"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
#[test]
fn secrets_never_appear_in_the_redacted_config() {
    let config = parse(
        "modules:\n- module: golang\n  hosts: [\"a:1\"]\noutput.elasticsearch:\n  hosts: [\"h:9200\"]\n  username: u\n  password: hunter2\n  api_key: id:topsecret\n",
    )
    .unwrap();
    let text = config.redacted().to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("topsecret"),
        "{text}"
    );
    assert!(text.contains(gomon_net::url::REDACTED));
}

#[test]
fn target_credentials_headers_and_tls_come_from_the_module() {
    let config = parse(
        "modules:\n- module: golang\n  hosts: [\"https://svc:8443\"]\n  username: ops\n  password: s3cret\n  headers:\n    X-Tenant: blue\n",
    )
    .unwrap();
    let target = config.modules[0].target("https://svc:8443").unwrap();
    let shown = format!("{target:?}");
    assert!(
        shown.contains("ops") && shown.contains("x-tenant"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(!config.redacted().to_string().contains("s3cret"));

    let err = parse("modules:\n- module: golang\n  hosts: [\"https://svc:8443\"]\n  ssl.certificate_authorities: [\"/nonexistent/ca.pem\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("modules[0].ssl") && err.contains("/nonexistent/ca.pem"),
        "{err}"
    );
    let err = parse("modules:\n- module: golang\n  hosts: [\"a:1\"]\n  username: ops\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("modules[0].hosts[0]: username is set but password is not"),
        "{err}"
    );
}

#[test]
fn credentials_in_urls_are_moved_out_of_the_hosts_when_the_config_is_read() {
    let config = parse(
        "modules:\n- module: golang\n  hosts: [\"http://alice:hunter2@a:1/debug/vars\", \"bob:p%40ss%3Aw%2Frd@b:2\", \"c:3\"]\n  username: ops\n  password: module-pw\noutput.elasticsearch:\n  hosts: [\"https://elastic:es%2Fpw@es1:9200\", \"es2:9200\"]\n",
    )
    .unwrap();
    let module = &config.modules[0];
    assert_eq!(module.hosts, ["http://a:1/debug/vars", "b:2", "c:3"]);
    let es = config.output.elasticsearch.as_ref().unwrap();
    assert_eq!(es.hosts, ["https://es1:9200", "es2:9200"]);
    assert_eq!(es.username.as_deref(), Some("elastic"));
    assert_eq!(
        es.password.as_deref(),
        Some("es/pw"),
        "percent-escapes decoded"
    );

    // Each host keeps its own credentials; the URL's win over the module's.
    let user = |host: &str| module.target(host).unwrap().username().map(str::to_owned);
    assert_eq!(user("http://a:1/debug/vars").as_deref(), Some("alice"));
    assert_eq!(user("b:2").as_deref(), Some("bob"));
    assert_eq!(user("c:3").as_deref(), Some("ops"));
    let shown = format!(
        "{config:?} {} {:?}",
        config.redacted(),
        module.target("b:2").unwrap()
    );
    for secret in ["hunter2", "p@ss:w/rd", "p%40ss", "es/pw", "es%2Fpw"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn output_credentials_given_twice_differently_are_refused_naming_the_host() {
    let err = parse(
        "modules:\n- module: golang\n  hosts: [\"a:1\"]\noutput.elasticsearch:\n  hosts: [\"http://elastic:url-pw@es1:9200\"]\n  username: elastic\n  password: other-pw\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("output.elasticsearch.hosts[0]")
            && err.contains("output.elasticsearch.password"),
        "{err}"
    );
    assert!(
        !err.contains("url-pw") && !err.contains("other-pw"),
        "{err}"
    );
    let err = parse(
        "modules:\n- module: golang\n  hosts: [\"a:1\"]\noutput.elasticsearch:\n  hosts: [\"http://a:pw@es1:9200\", \"http://b:pw@es2:9200\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("output.elasticsearch.hosts[1]"), "{err}");
    // The same credentials on every host, or repeated in username/password, are fine.
    let config = parse(
        "modules:\n- module: golang\n  hosts: [\"a:1\"]\noutput.elasticsearch:\n  hosts: [\"http://a:pw@es1:9200\", \"http://a:pw@es2:9200\"]\n  password: pw\n",
    )
    .unwrap();
    assert_eq!(
        config.output.elasticsearch.unwrap().hosts,
        ["http://es1:9200", "http://es2:9200"]
    );
    let err = parse(
        "modules:\n- module: golang\n  hosts: [\"http://a:one@h:1\", \"http://a:two@h:1\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("modules[0].hosts[1]"), "{err}");
    assert!(!err.contains("one@") && !err.contains("two@"), "{err}");
}

#[test]
fn a_value_of_the_wrong_kind_is_quoted_without_its_password() {
    let err = parse(
        "modules:\n- module: golang\n  hosts: [\"a:1\"]\noutput.elasticsearch:\n  hosts: \"http://elastic:hunter2@es:9200\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("output.elasticsearch.hosts"), "{err}");
    assert!(err.contains("http://<redacted>@es:9200"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn the_profile_metric_set_is_opt_in_with_its_own_schedule_and_checked_keys() {
    let read = |yaml: &str| Config::parse(yaml, gomon_agent::config::FileFormat::Yaml, "p.yml");
    let plain = read("modules:\n  - module: golang\n    hosts: [localhost:6060]\n").unwrap();
    assert!(!plain.modules[0].metric_sets().contains(&MetricSet::Profile));
    assert_eq!(plain.modules[0].profile.period, Duration::from_secs(60));
    assert_eq!(plain.modules[0].profile_top(), 20);

    let config = read(
        "modules:\n  - module: golang\n    metricsets: [heap, profile]\n    hosts: [localhost:6060]\n    profile.period: 5m\n    profile.seconds: 30\n    profile.path: /internal/pprof\n    profile.top: 10\n",
    )
    .unwrap();
    let module = &config.modules[0];
    assert_eq!(
        module.metric_sets(),
        vec![MetricSet::Heap, MetricSet::Profile]
    );
    assert_eq!(module.profile.period, Duration::from_secs(300));
    assert_eq!(module.profile.seconds, Some(30));
    assert_eq!(module.profile.path.as_deref(), Some("/internal/pprof"));
    let shown = config.redacted();
    assert_eq!(shown["modules"][0]["profile"]["period"], "5m");
    assert_eq!(shown["modules"][0]["profile"]["top"], 10);
    assert_eq!(shown["modules"][0]["metricsets"][1], "profile");

    for (yaml, key, says) in [
        (
            "profile.period: 500ms",
            "modules[0].profile.period",
            "below the minimum of 1s",
        ),
        (
            "profile.seconds: 60",
            "modules[0].profile.seconds",
            "shorter than profile.period (1m)",
        ),
        (
            "profile.top: 0",
            "modules[0].profile.top",
            "between 1 and 100",
        ),
    ] {
        let error = read(&format!(
            "modules:\n  - module: golang\n    metricsets: [profile]\n    hosts: [localhost:6060]\n    {yaml}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            error.contains(key) && error.contains(says),
            "{yaml}: {error}"
        );
    }
    let typo = read(
        "modules:\n  - module: golang\n    hosts: [localhost:6060]\n    profile:\n      perod: 1m\n",
    )
    .unwrap();
    assert_eq!(
        typo.findings.unknown_keys,
        ["modules[0].profile.perod: unknown key; did you mean period?"]
    );
}
