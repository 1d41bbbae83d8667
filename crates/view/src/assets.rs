//! The page and what it loads, embedded in the binary at build time.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// Path, content type and bytes of every file the page loads.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_bytes!("../assets/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "/vendor/uplot/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "/vendor/uplot/uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/vendor/uplot/uPlot.min.css"),
    ),
    (
        "/favicon.svg",
        "image/svg+xml",
        include_bytes!("../assets/favicon.svg"),
    ),
];

/// Everything the page loads comes from here: no inline script, no other
/// origin (the policy lets the browser refuse anything else).
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

pub(crate) fn router() -> Router {
    let mut router = Router::new();
    for (path, content_type, bytes) in ASSETS {
        let (content_type, bytes): (&'static str, &'static [u8]) = (content_type, bytes);
        router = router.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::CACHE_CONTROL, "no-cache"),
                        (header::CONTENT_SECURITY_POLICY, CSP),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    ],
                    bytes,
                )
                    .into_response()
            }),
        );
    }
    router
}

/// Bytes of the page and everything it loads.
#[cfg(test)]
pub(crate) fn total_bytes() -> usize {
    ASSETS.iter().map(|(_, _, b)| b.len()).sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_weighs_less_than_300_kb() {
        let total = super::total_bytes();
        assert!(total < 300 * 1024, "{total} bytes");
    }

    #[test]
    fn the_page_loads_nothing_from_another_origin() {
        for (path, _, bytes) in super::ASSETS {
            if path.starts_with("/vendor/") || path.ends_with(".svg") {
                continue;
            }
            let text = String::from_utf8_lossy(bytes);
            for pattern in ["http://", "https://", "//cdn", "<script>"] {
                assert!(!text.contains(pattern), "{path} contains {pattern}");
            }
        }
    }
}
