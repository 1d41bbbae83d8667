//! Reading a response body under a size cap, gunzipping on the way.

use std::io::{self, Write};

use bytes::Bytes;
use flate2::write::GzDecoder;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// A body read whole.
#[derive(Debug)]
pub(crate) struct ReadBody {
    /// The body, decompressed.
    pub(crate) bytes: Vec<u8>,
    /// Bytes received on the wire.
    pub(crate) wire_bytes: usize,
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// More than the cap arrived, or would after decompression.
    TooLarge { decompressed: bool },
    /// The connection failed mid-body.
    Read(String),
    /// The gzip stream is corrupt or cut off.
    Gzip(String),
}

/// How the body is encoded, from `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
}

/// Reads `body` frame by frame, failing as soon as the received bytes, or the
/// decompressed bytes, pass `cap`, so a huge or endless response (or a gzip
/// bomb) costs at most `cap` bytes of memory.
pub(crate) async fn read_capped(
    mut body: Incoming,
    encoding: Encoding,
    cap: usize,
    size_hint: Option<u64>,
) -> Result<ReadBody, BodyError> {
    let initial = size_hint
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= cap)
        .unwrap_or(0);
    let mut sink = match encoding {
        Encoding::Identity => Sink::Plain(Vec::with_capacity(initial)),
        Encoding::Gzip => Sink::Gzip(Box::new(GzDecoder::new(CappedBuffer {
            bytes: Vec::with_capacity(initial.saturating_mul(4).min(cap)),
            cap,
        }))),
    };
    let mut wire_bytes = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(gomon_net::error_chain(&e)))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing for us
        };
        wire_bytes = wire_bytes.saturating_add(data.len());
        if wire_bytes > cap {
            return Err(BodyError::TooLarge {
                decompressed: false,
            });
        }
        sink.write(&data)?;
    }
    Ok(ReadBody {
        bytes: sink.finish()?,
        wire_bytes,
    })
}

enum Sink {
    Plain(Vec<u8>),
    /// Boxed: the decoder's state is ten times the size of a `Vec`.
    Gzip(Box<GzDecoder<CappedBuffer>>),
}

impl Sink {
    fn write(&mut self, data: &Bytes) -> Result<(), BodyError> {
        match self {
            Sink::Plain(bytes) => {
                bytes.extend_from_slice(data);
                Ok(())
            }
            Sink::Gzip(decoder) => decoder.write_all(data).map_err(gzip_error),
        }
    }

    fn finish(self) -> Result<Vec<u8>, BodyError> {
        match self {
            Sink::Plain(bytes) => Ok(bytes),
            Sink::Gzip(decoder) => decoder
                .finish()
                .map(|buffer| buffer.bytes)
                .map_err(gzip_error),
        }
    }
}

fn gzip_error(error: io::Error) -> BodyError {
    if error.get_ref().is_some_and(|inner| inner.is::<OverCap>()) {
        BodyError::TooLarge { decompressed: true }
    } else {
        BodyError::Gzip(error.to_string())
    }
}

/// The decompressed output; refuses to grow past `cap`.
struct CappedBuffer {
    bytes: Vec<u8>,
    cap: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("decompressed body over the cap")]
struct OverCap;

impl Write for CappedBuffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.bytes.len().saturating_add(data.len()) > self.cap {
            return Err(io::Error::other(OverCap));
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip_sink(cap: usize) -> Sink {
        Sink::Gzip(Box::new(GzDecoder::new(CappedBuffer {
            bytes: Vec::new(),
            cap,
        })))
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_within_the_cap_is_decoded() {
        let mut sink = gzip_sink(100);
        sink.write(&Bytes::from(gzip(b"{\"a\": 1}"))).unwrap();
        assert_eq!(sink.finish().unwrap(), b"{\"a\": 1}");
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        let bomb = gzip(&vec![b' '; 1 << 20]);
        assert!(bomb.len() < 8 * 1024);
        let mut sink = gzip_sink(64 * 1024);
        let result = sink
            .write(&Bytes::from(bomb))
            .and_then(|()| sink.finish().map(drop));
        assert!(
            matches!(result, Err(BodyError::TooLarge { decompressed: true })),
            "{result:?}"
        );
    }

    #[test]
    fn a_cut_gzip_stream_is_a_gzip_error() {
        let mut data = gzip(b"{\"a\": 1, \"b\": 2, \"c\": 3}");
        data.truncate(data.len() - 6);
        let mut sink = gzip_sink(100);
        let result = sink
            .write(&Bytes::from(data))
            .and_then(|()| sink.finish().map(drop));
        assert!(matches!(result, Err(BodyError::Gzip(_))), "{result:?}");
    }
}
