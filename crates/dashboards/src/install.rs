//! Installing the saved objects: detect Kibana or OpenSearch Dashboards and
//! its version (`GET /api/status`), then `POST
//! [/s/<space>]/api/saved_objects/_import?overwrite=true` with the NDJSON
//! as a multipart file; or write the NDJSON to a folder instead.
//!
//! Over 500 lines (about 600 of code, the rest tests): one HTTP
//! conversation, from the settings to the report, with every error it can
//! meet named for the key to fix. The candidates to move out are the
//! multipart body and the error mapping.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use gomon_net::ca::{CaCertificates, ServerTrust};
use gomon_net::url::redact_userinfo;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::{Flavor, Source, to_ndjson};

/// The multipart boundary of the import request (fixed: the request is
/// the same bytes every time, and the NDJSON never contains it).
pub const BOUNDARY: &str = "gomon-saved-objects-7c3f9a1e";

/// Largest response body read.
const MAX_RESPONSE: usize = 4 << 20;

/// How a request authenticates.
#[derive(Clone, Default)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `setup.kibana.username` / `password`.
    Basic {
        /// User name.
        username: String,
        /// Password (never printed).
        password: String,
    },
    /// `setup.kibana.api_key`: `id:key` (sent base64-encoded, as Beats do)
    /// or the already encoded form.
    ApiKey(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &gomon_net::url::REDACTED)
                .finish(),
            Auth::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
        }
    }
}

impl Auth {
    fn header(&self) -> Option<String> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        match self {
            Auth::None => None,
            Auth::Basic { username, password } => {
                Some(format!("Basic {}", b64(&format!("{username}:{password}"))))
            }
            Auth::ApiKey(key) if key.contains(':') => Some(format!("ApiKey {}", b64(key))),
            Auth::ApiKey(key) => Some(format!("ApiKey {key}")),
        }
    }
}

/// Where Kibana or OpenSearch Dashboards is, and how to talk to it
/// (Beats' `setup.kibana.*`).
#[derive(Debug, Clone)]
pub struct Connection {
    /// `setup.kibana.host`: `http(s)://host:port[/base path]`; `host:port`
    /// means `http://`.
    pub host: String,
    /// Credentials.
    pub auth: Auth,
    /// `setup.kibana.ssl.certificate_authorities`; none: Mozilla's roots.
    pub ca: Option<CaCertificates>,
    /// `setup.kibana.space.id` (Kibana only).
    pub space: Option<String>,
    /// Time allowed for each request.
    pub timeout: Duration,
}

impl Connection {
    /// A connection to `host` without credentials, 30 s per request.
    pub fn new(host: &str) -> Connection {
        Connection {
            host: host.to_owned(),
            auth: Auth::None,
            ca: None,
            space: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Trusts the CAs in these PEM files instead of Mozilla's roots
    /// (`setup.kibana.ssl.certificate_authorities`).
    pub fn trust_ca_files(&mut self, paths: &[PathBuf]) -> Result<(), DashboardError> {
        let mut pem = Vec::new();
        for path in paths {
            let bytes = std::fs::read(path).map_err(|e| DashboardError::Ca {
                reason: format!("{}: {e}", path.display()),
            })?;
            pem.extend_from_slice(&bytes);
            pem.push(b'\n');
        }
        let ca = CaCertificates::from_pem(&pem).map_err(|e| DashboardError::Ca {
            reason: e.to_string(),
        })?;
        self.ca = Some(ca);
        Ok(())
    }

    /// The base URL, with a scheme and without a trailing slash.
    pub fn base_url(&self) -> String {
        let host = self.host.trim().trim_end_matches('/');
        if host.contains("://") {
            host.to_owned()
        } else {
            format!("http://{host}")
        }
    }
}

/// What answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Kibana or OpenSearch Dashboards.
    pub flavor: Flavor,
    /// Its version (`8.15.2`, `2.19.0`).
    pub version: String,
    /// The base URL (credentials removed).
    pub url: String,
}

/// One object the import created or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Type (`lens`, `dashboard`, ...).
    pub kind: String,
    /// Id.
    pub id: String,
    /// Title, when the server said it.
    pub title: String,
    /// True when an object with this id existed and was replaced.
    pub overwritten: bool,
}

/// The result of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Where.
    pub server: Server,
    /// Every object the server reported, in its order.
    pub imported: Vec<Imported>,
}

/// Why installing the dashboards failed.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// `setup.kibana.host` is not a URL.
    #[error("setup.kibana.host: {url:?} is not a URL: {reason}")]
    BadUrl {
        /// The URL (credentials removed).
        url: String,
        /// Why.
        reason: String,
    },
    /// A CA file could not be read or holds no certificate.
    #[error("setup.kibana.ssl.certificate_authorities: {reason}")]
    Ca {
        /// Which file, and why.
        reason: String,
    },
    /// The server could not be reached.
    #[error(
        "cannot reach {url}: {cause} (check setup.kibana.host, and that Kibana or OpenSearch Dashboards is running)"
    )]
    Connect {
        /// The URL.
        url: String,
        /// The cause chain.
        cause: String,
    },
    /// The server's certificate was not trusted.
    #[error(
        "cannot verify the certificate of {url}: {cause} (trust its CA with setup.kibana.ssl.certificate_authorities)"
    )]
    Certificate {
        /// The URL.
        url: String,
        /// The cause chain.
        cause: String,
    },
    /// No answer in time.
    #[error("{url} did not answer within {seconds} s")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        seconds: u64,
    },
    /// 401: the credentials were refused.
    #[error(
        "{url} refused the credentials (HTTP 401): check setup.kibana.username and setup.kibana.password, or setup.kibana.api_key"
    )]
    Unauthorized {
        /// The URL.
        url: String,
    },
    /// 403: the user may not manage saved objects.
    #[error(
        "{url} refused the request (HTTP 403): the user of setup.kibana needs the privilege to manage saved objects (dashboards, visualizations, data views) in this space"
    )]
    Forbidden {
        /// The URL.
        url: String,
    },
    /// Any other unexpected status.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// `/api/status` did not look like Kibana's or OpenSearch Dashboards'.
    #[error("{url} does not look like Kibana or OpenSearch Dashboards: {detail}")]
    Unrecognised {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// Kibana older than 8.6.
    #[error(
        "Kibana {version} at {url} is too old: gomon's dashboards need Kibana 8.6 or later (Lens formBased layers); upgrade Kibana"
    )]
    TooOld {
        /// The URL.
        url: String,
        /// The version it reported.
        version: String,
    },
    /// A space was configured for OpenSearch Dashboards.
    #[error(
        "setup.kibana.space.id: {url} is OpenSearch Dashboards, which has no spaces; remove the key"
    )]
    SpaceOnOpenSearch {
        /// The URL.
        url: String,
    },
    /// The server refused some objects.
    #[error("{flavor} at {url} refused {} saved object(s): {}", errors.len(), errors.join("; "))]
    Rejected {
        /// Kibana or OpenSearch Dashboards.
        flavor: &'static str,
        /// The URL.
        url: String,
        /// One line per refused object: `type id: error`.
        errors: Vec<String>,
    },
    /// Writing the NDJSON to a folder failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The path of the import request: `[/s/<space>]/api/saved_objects/_import?overwrite=true`
/// (the default space has no prefix).
pub fn import_path(space: Option<&str>) -> String {
    match space {
        Some(space) if !space.is_empty() && space != "default" => {
            format!("/s/{space}/api/saved_objects/_import?overwrite=true")
        }
        _ => "/api/saved_objects/_import?overwrite=true".to_owned(),
    }
}

/// The multipart body of the import request: one part, `file`, holding the NDJSON.
pub fn multipart_body(ndjson: &str) -> String {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"gomon-golang.ndjson\"\r\nContent-Type: application/ndjson\r\n\r\n{ndjson}\r\n--{BOUNDARY}--\r\n"
    )
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client(connection: &Connection) -> HttpClient {
    let trust = match &connection.ca {
        Some(ca) => ServerTrust::CustomCa(ca.clone()),
        None => ServerTrust::MozillaRoots,
    };
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(connection.timeout));
    tcp.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(trust.client_config())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// A status and a JSON body (or its text).
struct Answer {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

async fn send(
    client: &HttpClient,
    connection: &Connection,
    request: Request<Full<Bytes>>,
) -> Result<Answer, DashboardError> {
    let url = redact_userinfo(&request.uri().to_string());
    let seconds = connection.timeout.as_secs();
    let exchange = async {
        let response = client.request(request).await.map_err(|e| {
            let cause = gomon_net::error_chain(&e);
            if cause.contains("certificate") {
                DashboardError::Certificate {
                    url: url.clone(),
                    cause,
                }
            } else {
                DashboardError::Connect {
                    url: url.clone(),
                    cause,
                }
            }
        })?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| DashboardError::Connect {
                url: url.clone(),
                cause: format!("reading the answer: {e}"),
            })?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    let answer = tokio::time::timeout(connection.timeout, exchange)
        .await
        .map_err(|_| DashboardError::Timeout {
            url: url.clone(),
            seconds,
        })??;
    match answer.status {
        StatusCode::UNAUTHORIZED => Err(DashboardError::Unauthorized { url }),
        StatusCode::FORBIDDEN => Err(DashboardError::Forbidden { url }),
        s if !s.is_success() => Err(DashboardError::Status {
            url,
            status: s.as_u16(),
            body: answer.body.chars().take(300).collect(),
        }),
        _ => Ok(answer),
    }
}

fn request(
    connection: &Connection,
    method: Method,
    path: &str,
) -> Result<hyper::http::request::Builder, DashboardError> {
    let base = connection.base_url();
    let uri: hyper::Uri =
        format!("{base}{path}")
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| DashboardError::BadUrl {
                url: redact_userinfo(&base),
                reason: e.to_string(),
            })?;
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(value) = connection.auth.header() {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    Ok(builder)
}

/// Tells Kibana from OpenSearch Dashboards by `/api/status`: OpenSearch
/// Dashboards names itself in an `osd-name` header, Kibana in `kbn-name`;
/// without either, versions 1 to 3 are OpenSearch Dashboards' and 7 and
/// later Kibana's.
fn identify(url: &str, headers: &header::HeaderMap, body: &str) -> Result<Server, DashboardError> {
    let unrecognised = |detail: String| DashboardError::Unrecognised {
        url: url.to_owned(),
        detail,
    };
    let status: Value = serde_json::from_str(body)
        .map_err(|e| unrecognised(format!("GET /api/status is not JSON ({e})")))?;
    let version = status["version"]["number"]
        .as_str()
        .ok_or_else(|| unrecognised("GET /api/status has no version.number".to_owned()))?
        .to_owned();
    let major: u64 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| unrecognised(format!("version {version:?} is not a version")))?;
    let flavor = if headers.contains_key("osd-name") {
        Flavor::OpenSearchDashboards
    } else if headers.contains_key("kbn-name") || major >= 7 {
        Flavor::Kibana
    } else {
        Flavor::OpenSearchDashboards
    };
    Ok(Server {
        flavor,
        version,
        url: url.to_owned(),
    })
}

/// Whether gomon's objects suit this server: Kibana 8.6 and later;
/// OpenSearch Dashboards any (2.x is what they are made for; others are
/// tried with a warning).
fn check_version(server: &Server) -> Result<(), DashboardError> {
    let mut parts = server.version.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u64>()
            .unwrap_or(0)
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    match server.flavor {
        Flavor::Kibana if (major, minor) < crate::kibana::MIN_VERSION => {
            Err(DashboardError::TooOld {
                url: server.url.clone(),
                version: server.version.clone(),
            })
        }
        Flavor::Kibana if major > 9 => {
            tracing::warn!(version = %server.version, "gomon's dashboards are made for Kibana 8.6 to 9.x; trying anyway");
            Ok(())
        }
        Flavor::OpenSearchDashboards if major != 2 => {
            tracing::warn!(version = %server.version, "gomon's dashboards are made for OpenSearch Dashboards 2.x; trying anyway");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `GET /api/status`: which application, which version.
pub async fn detect(connection: &Connection) -> Result<Server, DashboardError> {
    let client = client(connection);
    detect_with(&client, connection).await
}

async fn detect_with(
    client: &HttpClient,
    connection: &Connection,
) -> Result<Server, DashboardError> {
    let req = request(connection, Method::GET, "/api/status")?
        .body(Full::new(Bytes::new()))
        .map_err(|e| DashboardError::BadUrl {
            url: redact_userinfo(&connection.base_url()),
            reason: e.to_string(),
        })?;
    let answer = send(client, connection, req).await?;
    identify(
        &redact_userinfo(&connection.base_url()),
        &answer.headers,
        &answer.body,
    )
}

/// Detects the server, checks its version, and imports `source`'s objects
/// for it with `overwrite=true`.
pub async fn install(
    connection: &Connection,
    source: &Source,
) -> Result<ImportReport, DashboardError> {
    let client = client(connection);
    let server = detect_with(&client, connection).await?;
    tracing::info!(url = %server.url, flavor = server.flavor.name(), version = %server.version, "found");
    check_version(&server)?;
    if server.flavor == Flavor::OpenSearchDashboards
        && connection
            .space
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "default")
    {
        return Err(DashboardError::SpaceOnOpenSearch { url: server.url });
    }
    let ndjson = to_ndjson(&source.objects(server.flavor));
    let req = request(
        connection,
        Method::POST,
        &import_path(connection.space.as_deref()),
    )?
    .header(server.flavor.xsrf_header(), "true")
    .header(
        header::CONTENT_TYPE,
        format!("multipart/form-data; boundary={BOUNDARY}"),
    )
    .body(Full::new(Bytes::from(multipart_body(&ndjson))))
    .map_err(|e| DashboardError::BadUrl {
        url: server.url.clone(),
        reason: e.to_string(),
    })?;
    let answer = send(&client, connection, req).await?;
    read_import_answer(server, &answer.body)
}

fn read_import_answer(server: Server, body: &str) -> Result<ImportReport, DashboardError> {
    let answer: Value = serde_json::from_str(body).map_err(|e| DashboardError::Unrecognised {
        url: server.url.clone(),
        detail: format!("the import answer is not JSON ({e})"),
    })?;
    let errors: Vec<String> = answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    format!(
                        "{} {}: {}",
                        e["type"].as_str().unwrap_or("?"),
                        e["id"].as_str().unwrap_or("?"),
                        e["error"]["type"].as_str().unwrap_or("error")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if !errors.is_empty() || answer["success"] == false {
        return Err(DashboardError::Rejected {
            flavor: server.flavor.name(),
            url: server.url,
            errors,
        });
    }
    let imported = answer["successResults"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|r| Imported {
                    kind: r["type"].as_str().unwrap_or_default().to_owned(),
                    id: r["id"].as_str().unwrap_or_default().to_owned(),
                    title: r["meta"]["title"].as_str().unwrap_or_default().to_owned(),
                    overwritten: r["overwrite"] == true,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ImportReport { server, imported })
}

/// Writes `<dir>/kibana/gomon-golang.ndjson` and
/// `<dir>/opensearch/gomon-golang.ndjson` (for air-gapped installs: import
/// them in Stack Management → Saved objects → Import), and returns their paths.
pub fn write_ndjson(dir: &Path, source: &Source) -> Result<Vec<PathBuf>, DashboardError> {
    let mut written = Vec::new();
    for flavor in [Flavor::Kibana, Flavor::OpenSearchDashboards] {
        let folder = dir.join(flavor.folder());
        std::fs::create_dir_all(&folder).map_err(|source| DashboardError::Write {
            path: folder.clone(),
            source,
        })?;
        let path = folder.join(flavor.file_name());
        std::fs::write(&path, to_ndjson(&source.objects(flavor))).map_err(|source| {
            DashboardError::Write {
                path: path.clone(),
                source,
            }
        })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str) -> header::HeaderMap {
        let mut map = header::HeaderMap::new();
        map.insert(name, "x".parse().unwrap());
        map
    }

    #[test]
    fn the_status_answer_tells_kibana_from_opensearch_dashboards() {
        let body = r#"{"name":"x","version":{"number":"8.15.2"}}"#;
        let kibana = identify("u", &headers("kbn-name"), body).unwrap();
        assert_eq!(kibana.flavor, Flavor::Kibana);
        assert_eq!(kibana.version, "8.15.2");
        let osd = r#"{"name":"x","version":{"number":"2.19.0"}}"#;
        assert_eq!(
            identify("u", &headers("osd-name"), osd).unwrap().flavor,
            Flavor::OpenSearchDashboards
        );
        // Without the headers, the version decides.
        assert_eq!(
            identify("u", &header::HeaderMap::new(), osd)
                .unwrap()
                .flavor,
            Flavor::OpenSearchDashboards
        );
        assert!(identify("u", &header::HeaderMap::new(), "{}").is_err());
    }

    #[test]
    fn kibana_before_8_6_is_refused_and_later_ones_accepted() {
        let server = |version: &str| Server {
            flavor: Flavor::Kibana,
            version: version.into(),
            url: "u".into(),
        };
        assert!(matches!(
            check_version(&server("8.5.3")),
            Err(DashboardError::TooOld { .. })
        ));
        assert!(matches!(
            check_version(&server("7.17.0")),
            Err(DashboardError::TooOld { .. })
        ));
        assert!(check_version(&server("8.6.0")).is_ok());
        assert!(check_version(&server("9.1.0")).is_ok());
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error_naming_the_key() {
        let mut connection = Connection::new("localhost:5601");
        let missing = connection.trust_ca_files(&[PathBuf::from("/nonexistent/ca.pem")]);
        let message = missing.unwrap_err().to_string();
        assert!(
            message.starts_with("setup.kibana.ssl.certificate_authorities: /nonexistent/ca.pem"),
            "{message}"
        );
        let empty =
            std::env::temp_dir().join(format!("gomon-dash-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate").unwrap();
        assert!(
            connection
                .trust_ca_files(std::slice::from_ref(&empty))
                .is_err()
        );
        let _ = std::fs::remove_file(&empty);
        assert!(connection.ca.is_none());
        assert_eq!(connection.base_url(), "http://localhost:5601");
    }

    #[test]
    fn the_space_goes_in_the_path_except_the_default_one() {
        assert_eq!(
            import_path(None),
            "/api/saved_objects/_import?overwrite=true"
        );
        assert_eq!(
            import_path(Some("default")),
            "/api/saved_objects/_import?overwrite=true"
        );
        assert_eq!(
            import_path(Some("ops")),
            "/s/ops/api/saved_objects/_import?overwrite=true"
        );
    }

    #[test]
    fn api_keys_in_id_colon_key_form_are_encoded_and_debug_hides_secrets() {
        let key = Auth::ApiKey("id:secret".into());
        assert_eq!(key.header().unwrap(), "ApiKey aWQ6c2VjcmV0");
        assert!(!format!("{key:?}").contains("secret"));
        let basic = Auth::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{basic:?}").contains("hunter2"));
    }
}
