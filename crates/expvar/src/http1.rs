//! The client's HTTP/1.1 transport: `GET`s on kept-alive connections, one
//! request at a time per connection, pooled by scheme and authority.
//!
//! An idle connection here is its socket and nothing else: the buffers a
//! fetch reads into live only while it runs, and no task or channel stands
//! beside a connection. (A pooled hyper connection keeps a read buffer, a
//! header buffer and a request channel, about 20 KiB, plus a task, for as
//! long as it idles; with one kept-alive connection per target that was most
//! of the agent's memory.) Responses are parsed with `httparse`, the parser
//! hyper itself uses; bodies may be framed by `Content-Length`, by chunked
//! transfer coding, or by the end of the connection.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::Uri;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Most bytes a response head (status line and headers) may take.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers a response head may carry.
const MAX_HEADERS: usize = 64;
/// Most bytes of a chunk-size line, extensions included.
const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;
/// Most bytes of a chunked body's trailer section.
const MAX_TRAILER_BYTES: usize = 64 * 1024;
/// The smallest free space a read is given.
const READ_BYTES: usize = 4 * 1024;
/// The first buffer of a connection not yet used (later ones are sized by
/// the connection's last response).
const FIRST_BUFFER_BYTES: usize = 16 * 1024;
/// Idle connections kept per scheme and authority.
const MAX_IDLE_PER_HOST: usize = 4;
/// How often idle connections past their timeout are closed.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The host name did not resolve.
    Resolve(io::Error),
    /// No address of the host accepted the connection.
    Connect(SocketAddr, io::Error),
    /// No address accepted within the connect timeout.
    ConnectTimeout,
    /// The TLS handshake failed (rustls's error is inside the `io::Error`).
    Tls(io::Error),
    /// The connection was closed or reset before any byte of the response
    /// (on a kept-alive connection: the server hung up while it idled).
    Closed,
    /// Sending the request or reading the response head failed.
    Head(String),
    /// Reading the body failed after a complete head.
    Body(String),
    /// The body is longer than the cap.
    TooLarge,
}

/// How the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// The server closes the connection.
    Close,
    /// No body (204, 304).
    Empty,
}

/// A parsed response head; header values are ranges of the buffer.
#[derive(Debug)]
struct Head {
    status: u16,
    /// Bytes of the head, from the start of the buffer.
    len: usize,
    framing: Framing,
    keep_alive: bool,
    content_type: Option<Range<usize>>,
    content_encoding: Option<Range<usize>>,
}

/// A response whose head has arrived; its body is read by
/// [`Exchange::read_body`], which then parks the connection for reuse.
pub(crate) struct Exchange<'a> {
    transport: &'a Transport,
    key: &'a str,
    https: bool,
    stream: Stream,
    buf: Vec<u8>,
    head: Head,
}

/// A response read whole: its head and body share one buffer.
#[derive(Debug)]
pub(crate) struct Response {
    buf: Vec<u8>,
    body: Range<usize>,
    content_type: Option<Range<usize>>,
}

impl Response {
    /// The body, as received (still compressed if it was).
    pub(crate) fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }

    /// The `Content-Type` the server gave.
    pub(crate) fn content_type(&self) -> Option<String> {
        self.content_type
            .clone()
            .map(|range| String::from_utf8_lossy(&self.buf[range]).into_owned())
    }

    /// The body alone, as an owned buffer.
    pub(crate) fn into_body(mut self) -> Vec<u8> {
        self.buf.truncate(self.body.end);
        self.buf.drain(..self.body.start);
        self.buf
    }
}

impl Exchange<'_> {
    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.head.status
    }

    /// The `Content-Encoding` the server gave.
    pub(crate) fn content_encoding(&self) -> Option<&[u8]> {
        self.head
            .content_encoding
            .clone()
            .map(|range| &self.buf[range])
    }

    /// The announced body length, if the body is framed by one.
    pub(crate) fn content_length(&self) -> Option<u64> {
        match self.head.framing {
            Framing::Length(n) => Some(n),
            Framing::Empty => Some(0),
            Framing::Chunked | Framing::Close => None,
        }
    }

    /// Reads the body (unchunked, at most `cap` bytes of it) and parks the
    /// connection when it can carry another request.
    pub(crate) async fn read_body(mut self, cap: usize) -> Result<Response, Failure> {
        let start = self.head.len;
        let (end, clean) = match self.head.framing {
            Framing::Empty => (start, self.buf.len() == start),
            Framing::Length(n) => {
                let n = usize::try_from(n)
                    .ok()
                    .filter(|n| *n <= cap)
                    .ok_or(Failure::TooLarge)?;
                let end = start + n;
                self.buf.reserve(end.saturating_sub(self.buf.len()));
                while self.buf.len() < end {
                    if self.fill().await? == 0 {
                        return Err(Failure::Body(format!(
                            "the connection closed after {} of {n} body bytes",
                            self.buf.len() - start
                        )));
                    }
                }
                (end, self.buf.len() == end)
            }
            Framing::Close => {
                while self.fill().await? > 0 {
                    if self.buf.len() - start > cap {
                        return Err(Failure::TooLarge);
                    }
                }
                (self.buf.len(), false)
            }
            Framing::Chunked => self.read_chunked(cap).await?,
        };
        let response = Response {
            body: start..end,
            content_type: self.head.content_type.clone(),
            buf: self.buf,
        };
        if clean && self.head.keep_alive {
            self.transport
                .park(self.key, self.https, self.stream, response.buf.len());
        }
        Ok(response)
    }

    /// Reads more bytes at the end of the buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> Result<usize, Failure> {
        self.stream
            .read_more(&mut self.buf)
            .await
            .map_err(|e| Failure::Body(e.to_string()))
    }

    /// Decodes a chunked body in place: data is moved down over the chunk
    /// lines as it arrives, so the buffer holds the body plus one read.
    /// Returns the body's end and whether nothing followed it.
    async fn read_chunked(&mut self, cap: usize) -> Result<(usize, bool), Failure> {
        enum State {
            Size,
            Data(usize),
            DataEnd,
            Trailer(usize),
        }
        let start = self.head.len;
        let mut out = start;
        let mut pos = start;
        let mut state = State::Size;
        loop {
            let progressed = match state {
                State::Size => match line_at(&self.buf, pos) {
                    Some((line, next)) => {
                        let size = chunk_size(line)?;
                        if size > cap.saturating_sub(out - start) {
                            return Err(Failure::TooLarge);
                        }
                        pos = next;
                        state = if size == 0 {
                            State::Trailer(0)
                        } else {
                            State::Data(size)
                        };
                        true
                    }
                    None if self.buf.len() - pos > MAX_CHUNK_LINE_BYTES => {
                        return Err(Failure::Body("a chunk-size line is too long".to_owned()));
                    }
                    None => false,
                },
                State::Data(left) => {
                    let n = left.min(self.buf.len() - pos);
                    self.buf.copy_within(pos..pos + n, out);
                    out += n;
                    pos += n;
                    state = if n == left {
                        State::DataEnd
                    } else {
                        State::Data(left - n)
                    };
                    n == left
                }
                State::DataEnd => match line_at(&self.buf, pos) {
                    Some((b"", next)) => {
                        pos = next;
                        state = State::Size;
                        true
                    }
                    Some(_) => {
                        return Err(Failure::Body(
                            "a chunk's data is longer than its size".to_owned(),
                        ));
                    }
                    None if self.buf.len() - pos >= 2 => {
                        return Err(Failure::Body(
                            "a chunk's data is longer than its size".to_owned(),
                        ));
                    }
                    None => false,
                },
                State::Trailer(seen) => match line_at(&self.buf, pos) {
                    Some((b"", next)) => return Ok((out, next == self.buf.len())),
                    Some((_, next)) => {
                        let seen = seen + (next - pos);
                        if seen > MAX_TRAILER_BYTES {
                            return Err(Failure::Body("the trailers are too long".to_owned()));
                        }
                        pos = next;
                        state = State::Trailer(seen);
                        true
                    }
                    None if self.buf.len() - pos > MAX_TRAILER_BYTES => {
                        return Err(Failure::Body("the trailers are too long".to_owned()));
                    }
                    None => false,
                },
            };
            if progressed {
                continue;
            }
            // Move what is left of the raw bytes down to the body's end.
            if pos > out {
                let raw = self.buf.len() - pos;
                self.buf.copy_within(pos.., out);
                self.buf.truncate(out + raw);
                pos = out;
            }
            if self.fill().await? == 0 {
                return Err(Failure::Body(
                    "the connection closed in the middle of a chunked body".to_owned(),
                ));
            }
        }
    }
}

/// The line starting at `pos` (without its CRLF or LF) and where the next
/// one starts, if its end has arrived.
fn line_at(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = &buf[pos..];
    let lf = rest.iter().position(|b| *b == b'\n')?;
    let line = &rest[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, pos + lf + 1))
}

/// The size on a chunk-size line (hex digits, then optional extensions).
fn chunk_size(line: &[u8]) -> Result<usize, Failure> {
    let digits = line
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let invalid = || Failure::Body("an invalid chunk-size line".to_owned());
    if digits.is_empty() || digits.len() > 15 {
        return Err(invalid());
    }
    digits.iter().try_fold(0usize, |size, b| {
        let digit = (*b as char).to_digit(16).ok_or_else(invalid)?;
        Ok(size * 16 + digit as usize)
    })
}

/// Parses the head at the start of `buf`, skipping interim (1xx) responses;
/// `None` while it is incomplete.
fn parse_head(buf: &mut Vec<u8>) -> Result<Option<Head>, Failure> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
                return Err(Failure::Head(format!(
                    "the response head is larger than {MAX_HEAD_BYTES} bytes"
                )));
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(Failure::Head(format!("invalid response: {e}"))),
        };
        let status = response.code.unwrap_or_default();
        if (100..200).contains(&status) && status != 101 {
            buf.drain(..len);
            continue;
        }
        let base = buf.as_ptr() as usize;
        let range = |value: &[u8]| {
            let from = value.as_ptr() as usize - base;
            from..from + value.len()
        };
        let mut head = Head {
            status,
            len,
            framing: Framing::Close,
            keep_alive: response.version == Some(1),
            content_type: None,
            content_encoding: None,
        };
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut transfer_coded = false;
        for header in response.headers.iter() {
            let name = header.name;
            let value = header.value;
            if name.eq_ignore_ascii_case("content-type") {
                head.content_type = Some(range(value));
            } else if name.eq_ignore_ascii_case("content-encoding") {
                head.content_encoding = Some(range(value));
            } else if name.eq_ignore_ascii_case("content-length") {
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| Failure::Head("an invalid Content-Length".to_owned()))?;
                if length.is_some_and(|known| known != parsed) {
                    return Err(Failure::Head(
                        "two different Content-Length headers".to_owned(),
                    ));
                }
                length = Some(parsed);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                transfer_coded = true;
                // Only the last coding frames the body.
                chunked = value
                    .rsplit(|b| *b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                for token in value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        head.keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        head.keep_alive = true;
                    }
                }
            }
        }
        if transfer_coded && length.is_some() {
            // Both framings: the coding wins, but the connection is not
            // trusted with another request (RFC 9112, 6.3).
            head.keep_alive = false;
        }
        head.framing = if status == 204 || status == 304 {
            Framing::Empty
        } else if transfer_coded {
            if chunked {
                Framing::Chunked
            } else {
                Framing::Close
            }
        } else {
            length.map_or(Framing::Close, Framing::Length)
        };
        if head.framing == Framing::Close {
            head.keep_alive = false;
        }
        return Ok(Some(head));
    }
}

/// A connection, plain or over TLS.
enum Stream {
    Plain(TcpStream),
    /// Boxed: rustls's state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }

    async fn write_request(&mut self, request: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.write_all(request).await,
            Stream::Tls(tls) => {
                tls.write_all(request).await?;
                tls.flush().await
            }
        }
    }

    /// Reads into the free space at the end of `buf`, making some first.
    async fn read_more(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        if buf.capacity() - buf.len() < READ_BYTES / 4 {
            buf.reserve(READ_BYTES);
        }
        match self {
            Stream::Plain(tcp) => tcp.read_buf(buf).await,
            Stream::Tls(tls) => tls.read_buf(buf).await,
        }
    }

    /// Whether the peer closed the idle connection or sent something
    /// unasked; both make it unusable.
    fn is_spent(&self) -> bool {
        let mut byte = [0u8; 1];
        !matches!(self.tcp().try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// A connection waiting for its next request.
struct Parked {
    stream: Stream,
    https: bool,
    since: Instant,
    /// The size of the last response on it, to size the next buffer.
    last_bytes: usize,
}

struct Idle {
    by_authority: HashMap<String, Vec<Parked>>,
    swept: Instant,
}

/// Opens, reuses and parks connections for one client.
pub(crate) struct Transport {
    tls: TlsConnector,
    connect_timeout: Duration,
    idle_timeout: Duration,
    idle: Mutex<Idle>,
}

impl Transport {
    /// A pool with no connections yet.
    pub(crate) fn new(
        tls: rustls::ClientConfig,
        connect_timeout: Duration,
        idle_timeout: Duration,
    ) -> Transport {
        let mut tls = tls;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Transport {
            tls: TlsConnector::from(Arc::new(tls)),
            connect_timeout,
            idle_timeout,
            idle: Mutex::new(Idle {
                by_authority: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Sends `request` (a whole `GET` head) to `uri`'s host on a kept-alive
    /// connection, or a new one, and reads the response head. A kept-alive
    /// connection that turns out closed before any byte of the response is
    /// replaced by a new one, once: the request is a `GET`, safe to repeat.
    pub(crate) async fn send<'a>(
        &'a self,
        uri: &'a Uri,
        request: &[u8],
    ) -> Result<Exchange<'a>, Failure> {
        let https = uri.scheme_str() == Some("https");
        let key = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        if let Some(parked) = self.unpark(key, https) {
            // Room for the last response and some growth of its counters.
            let buf = Vec::with_capacity(parked.last_bytes + READ_BYTES / 4);
            match exchange(parked.stream, request, buf).await {
                Err(Failure::Closed) => {}
                answered => return answered.map(|started| started.on(self, key, https)),
            }
        }
        let stream = self.connect(uri, https).await?;
        exchange(stream, request, Vec::with_capacity(FIRST_BUFFER_BYTES))
            .await
            .map(|started| started.on(self, key, https))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        // Nothing panics while the lock is held; a poisoned pool is still
        // a valid pool.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A live idle connection to `key`, if there is one.
    fn unpark(&self, key: &str, https: bool) -> Option<Parked> {
        let mut idle = self.lock();
        let parked = idle.by_authority.get_mut(key)?;
        while let Some(index) = parked.iter().rposition(|p| p.https == https) {
            let candidate = parked.swap_remove(index);
            if candidate.since.elapsed() < self.idle_timeout && !candidate.stream.is_spent() {
                return Some(candidate);
            }
        }
        None
    }

    /// Keeps `stream` for the next request to `key`, and now and then closes
    /// the connections idle for longer than the timeout.
    fn park(&self, key: &str, https: bool, stream: Stream, last_bytes: usize) {
        let now = Instant::now();
        let mut idle = self.lock();
        if now.duration_since(idle.swept) >= SWEEP_EVERY {
            let timeout = self.idle_timeout;
            idle.by_authority.retain(|_, parked| {
                parked.retain(|p| now.duration_since(p.since) < timeout);
                !parked.is_empty()
            });
            idle.swept = now;
        }
        let parked = match idle.by_authority.get_mut(key) {
            Some(parked) => parked,
            None => idle.by_authority.entry(key.to_owned()).or_default(),
        };
        if parked.len() < MAX_IDLE_PER_HOST {
            parked.push(Parked {
                stream,
                https,
                since: now,
                last_bytes,
            });
        }
    }

    /// A new connection to `uri`'s host: each resolved address in turn,
    /// sharing the connect timeout, then TLS for `https`.
    async fn connect(&self, uri: &Uri, https: bool) -> Result<Stream, Failure> {
        let host = uri.host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(Failure::Resolve)?
                .collect(),
        };
        if addresses.is_empty() {
            return Err(Failure::Resolve(io::Error::new(
                io::ErrorKind::NotFound,
                "the name has no address",
            )));
        }
        let each = self.connect_timeout / addresses.len() as u32;
        let mut last = None;
        for address in &addresses {
            match tokio::time::timeout(each, TcpStream::connect(address)).await {
                Ok(Ok(tcp)) => {
                    // Requests are written whole; nothing to coalesce.
                    let _ = tcp.set_nodelay(true);
                    if !https {
                        return Ok(Stream::Plain(tcp));
                    }
                    let name = ServerName::try_from(host)
                        .map_err(|e| Failure::Tls(io::Error::new(io::ErrorKind::InvalidInput, e)))?
                        .to_owned();
                    return self
                        .tls
                        .connect(name, tcp)
                        .await
                        .map(|tls| Stream::Tls(Box::new(tls)))
                        .map_err(Failure::Tls);
                }
                Ok(Err(error)) => last = Some(Failure::Connect(*address, error)),
                Err(_) => last = Some(last.unwrap_or(Failure::ConnectTimeout)),
            }
        }
        Err(last.unwrap_or(Failure::ConnectTimeout))
    }
}

/// A connection whose response head has arrived, before it is tied to
/// its pool.
struct Started {
    stream: Stream,
    buf: Vec<u8>,
    head: Head,
}

impl Started {
    fn on<'a>(self, transport: &'a Transport, key: &'a str, https: bool) -> Exchange<'a> {
        Exchange {
            transport,
            key,
            https,
            stream: self.stream,
            buf: self.buf,
            head: self.head,
        }
    }
}

/// Writes `request` on `stream` and reads the response head into `buf`.
async fn exchange(
    mut stream: Stream,
    request: &[u8],
    mut buf: Vec<u8>,
) -> Result<Started, Failure> {
    stream
        .write_request(request)
        .await
        .map_err(|_| Failure::Closed)?;
    loop {
        let read = stream.read_more(&mut buf).await;
        match read {
            Ok(0) | Err(_) if buf.is_empty() => return Err(Failure::Closed),
            Ok(0) => {
                return Err(Failure::Head(
                    "the connection closed in the middle of the response head".to_owned(),
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(Failure::Head(e.to_string())),
        }
        if let Some(head) = parse_head(&mut buf)? {
            return Ok(Started { stream, buf, head });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        let mut buf = text.as_bytes().to_vec();
        parse_head(&mut buf).unwrap().expect("a complete head")
    }

    #[test]
    fn framing_follows_the_headers() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(12));
        assert!(h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        assert!(h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        assert!(!h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(h.framing, Framing::Close);
        assert!(!h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n");
        assert!(h.keep_alive);
        let h = head("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(h.framing, Framing::Empty);
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(h.framing, Framing::Close);
    }

    #[test]
    fn interim_responses_are_skipped_and_header_values_located() {
        let mut buf = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}".to_vec();
        let h = parse_head(&mut buf).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(&buf[h.content_type.unwrap()], b"application/json");
        assert_eq!(&buf[h.content_encoding.unwrap()], b"gzip");
        assert_eq!(&buf[h.len..], b"{}");
    }

    #[test]
    fn a_partial_head_waits_and_a_bad_one_is_named() {
        let mut buf = b"HTTP/1.1 200 OK\r\nContent-Le".to_vec();
        assert!(parse_head(&mut buf).unwrap().is_none());
        let mut buf = b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n".to_vec();
        assert!(
            matches!(parse_head(&mut buf), Err(Failure::Head(r)) if r.contains("Content-Length"))
        );
        let mut buf = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_vec();
        assert!(parse_head(&mut buf).is_err());
        let mut buf = b"SSH-2.0-OpenSSH\r\n\r\n".to_vec();
        assert!(
            matches!(parse_head(&mut buf), Err(Failure::Head(r)) if r.starts_with("invalid response"))
        );
        let mut buf = format!("HTTP/1.1 200 OK\r\nX: {}", "y".repeat(MAX_HEAD_BYTES)).into_bytes();
        assert!(matches!(parse_head(&mut buf), Err(Failure::Head(r)) if r.contains("larger than")));
    }

    #[test]
    fn chunk_sizes_are_hex_with_optional_extensions() {
        assert_eq!(chunk_size(b"1a").ok(), Some(26));
        assert_eq!(chunk_size(b"FF ; name=value").ok(), Some(255));
        assert_eq!(chunk_size(b"0").ok(), Some(0));
        assert!(chunk_size(b"").is_err());
        assert!(chunk_size(b"g1").is_err());
        assert!(chunk_size(b"1234567890abcdef").is_err());
    }

    #[test]
    fn lines_end_at_crlf_or_lf() {
        assert_eq!(line_at(b"ab\r\ncd", 0), Some((&b"ab"[..], 4)));
        assert_eq!(line_at(b"ab\ncd\n", 3), Some((&b"cd"[..], 6)));
        assert_eq!(line_at(b"ab", 0), None);
    }
}
