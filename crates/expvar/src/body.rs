//! Decoding a response body: gunzipping under a size cap.

use std::io::{self, Write};

use flate2::write::GzDecoder;

/// A body read whole.
#[derive(Debug)]
pub(crate) struct ReadBody {
    /// The response; its body is still compressed when `gunzipped` holds it.
    pub(crate) response: crate::http1::Response,
    /// The body decompressed, for a gzip response.
    pub(crate) gunzipped: Option<Vec<u8>>,
}

impl ReadBody {
    /// The body, decompressed.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.gunzipped
            .as_deref()
            .unwrap_or_else(|| self.response.body())
    }

    /// Bytes of the body on the wire (before decompression).
    pub(crate) fn wire_bytes(&self) -> usize {
        self.response.body().len()
    }

    /// The body, decompressed, as an owned buffer.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        match self.gunzipped {
            Some(bytes) => bytes,
            None => self.response.into_body(),
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The decompressed bytes would pass the cap.
    TooLarge,
    /// The gzip stream is corrupt or cut off.
    Gzip(String),
}

/// How the body is encoded, from `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
}

/// Decompresses a gzip body, failing as soon as the output passes `cap`, so
/// a gzip bomb costs at most `cap` bytes of memory.
pub(crate) fn gunzip_capped(data: &[u8], cap: usize) -> Result<Vec<u8>, BodyError> {
    let mut decoder = GzDecoder::new(CappedBuffer {
        bytes: Vec::with_capacity(data.len().saturating_mul(4).min(cap)),
        cap,
    });
    decoder.write_all(data).map_err(gzip_error)?;
    decoder
        .finish()
        .map(|buffer| buffer.bytes)
        .map_err(gzip_error)
}

fn gzip_error(error: io::Error) -> BodyError {
    if error.get_ref().is_some_and(|inner| inner.is::<OverCap>()) {
        BodyError::TooLarge
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

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_within_the_cap_is_decoded() {
        let body = gunzip_capped(&gzip(b"{\"a\": 1}"), 100).unwrap();
        assert_eq!(body, b"{\"a\": 1}");
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        let bomb = gzip(&vec![b' '; 1 << 20]);
        assert!(bomb.len() < 8 * 1024);
        let result = gunzip_capped(&bomb, 64 * 1024);
        assert!(matches!(result, Err(BodyError::TooLarge)), "{result:?}");
    }

    #[test]
    fn a_cut_gzip_stream_is_a_gzip_error() {
        let mut data = gzip(b"{\"a\": 1, \"b\": 2, \"c\": 3}");
        data.truncate(data.len() - 6);
        let result = gunzip_capped(&data, 100);
        assert!(matches!(result, Err(BodyError::Gzip(_))), "{result:?}");
    }
}
