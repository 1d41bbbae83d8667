//! A minimal blocking HTTP/1.1 client for tests (loopback only): enough to
//! ask a real server what it holds, or to read a program's `/debug/vars`,
//! without pulling an HTTP stack into the test support.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response: status code and body (de-chunked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Response {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request with `Connection: close` and reads the whole answer.
/// `url` is `http://HOST:PORT/path`; `body` is sent as JSON (or NDJSON for
/// paths that end in `_bulk`).
///
/// # Errors
/// When the connection or the exchange fails, or the answer is not HTTP.
pub fn request(method: &str, url: &str, body: Option<&str>) -> std::io::Result<Response> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| std::io::Error::other(format!("{url}: only http:// URLs")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let content_type = if path.contains("_bulk") {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// Sends a request that must answer 2xx and returns its body as JSON.
///
/// # Panics
/// When the request fails, the status is not 2xx or the body is not JSON.
pub fn json(method: &str, url: &str, body: Option<&str>) -> serde_json::Value {
    let response = request(method, url, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    assert!(
        (200..300).contains(&response.status),
        "{method} {url}: {} {}",
        response.status,
        response.body
    );
    serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("{method} {url}: body is not JSON ({e}): {}", response.body))
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let bad = |what: &str| std::io::Error::other(format!("malformed HTTP response: {what}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_and_plain_answers_are_read_whole() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            parse_response(plain).ok(),
            Some(Response {
                status: 200,
                headers: vec![("content-length".to_owned(), "2".to_owned())],
                body: "{}".to_owned()
            })
        );
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(chunked).ok(),
            Some(Response {
                status: 404,
                headers: vec![("transfer-encoding".to_owned(), "chunked".to_owned())],
                body: "abcde".to_owned()
            })
        );
        assert!(parse_response(b"garbage").is_err());
    }
}
