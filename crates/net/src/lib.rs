//! What gomon's HTTP clients and data writers share, in one small crate:
//!
//! - [`ca`]: CA certificates loaded from PEM, and the rustls client
//!   configuration (the `ring` provider; Mozilla's roots from `webpki-roots`,
//!   custom CAs, or the logged-by-the-caller opt-out that verifies nothing);
//! - [`files`]: folders (`0700`) and files (`0600`) that only their owner can
//!   read, whatever the umask;
//! - [`error_chain`]: an error with its causes, for messages people read;
//! - [`url`]: percent-decoding of a URL's user-info, splitting the
//!   credentials out of a URL, and redacting them in error messages.
//!
//! **This crate knows nothing about Go, expvar or Elasticsearch; it has no
//! async code and does no network I/O.** The only I/O is reading a CA file
//! and creating local folders and files, each when the caller asks.
//!
//! ```
//! use gomon_net::ca::ServerTrust;
//! use gomon_net::url::{redact_userinfo, split_url_credentials};
//!
//! let (bare, credentials) = split_url_credentials("https://elastic:p%40ss@es.local:9200");
//! assert_eq!(bare, "https://es.local:9200");
//! assert_eq!(credentials.unwrap().password.as_deref(), Some("p@ss"));
//! assert_eq!(redact_userinfo("http://a:b@h:1/x"), "http://<redacted>@h:1/x");
//!
//! let config = ServerTrust::MozillaRoots.client_config();
//! assert!(config.alpn_protocols.is_empty());
//! ```

#![deny(missing_docs)]

pub mod ca;
pub mod files;
pub mod url;

mod chain;
mod error;

pub use chain::error_chain;
pub use error::NetError;
