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
    assert_eq!(config.http.port, 5066);
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
fn other_modules_and_several_outputs_are_refused_clearly() {
    let err = parse("modules:\n- module: redis\n  hosts: [\"a:1\"]\n").unwrap_err();
    assert!(
        err.to_string().contains("\"redis\" is not supported"),
        "{err}"
    );
    let err = parse("modules:\n- module: golang\n  hosts: [\"a:1\"]\noutput.file.path: /tmp/x\noutput.console.pretty: true\n").unwrap_err();
    assert!(err.to_string().contains("more than one output"), "{err}");
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
    assert!(text.contains("[redacted]"));
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
