//! A minimal HTTP/1.1 client connection for the HTTP targets (DynamoDB JSON, etcd's JSON
//! gateway): one request at a time on a keep-alive connection.
//!
//! Why not hyper: the workspace pins hyper server-only; its client stack would be a second
//! HTTP implementation in the tree for one request shape (POST of a small JSON body).
//! Invariant: a response is read whole, by `Content-Length`, chunked transfer coding, or to
//! EOF, within `HTTP_RESPONSE_BYTES_MAX` bytes and `HTTP_CHUNKS_MAX` chunks; anything else is
//! an error, after which the caller drops the connection.
//! Does not do TLS, redirects, 100-continue or trailers (they are read and ignored).

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response accepted.
const HTTP_RESPONSE_BYTES_MAX: usize = 64 << 20;
/// Largest response head (status line and headers).
const HTTP_HEAD_BYTES_MAX: usize = 64 << 10;
/// Most chunks of one chunked response.
const HTTP_CHUNKS_MAX: usize = 1 << 16;
/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 64 << 10;

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    Length(usize),
    Chunked,
    ToEof,
}

/// One keep-alive HTTP/1.1 connection.
pub struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
    /// False once a response said `Connection: close` (or came as HTTP/1.0 without
    /// keep-alive): the server closes it, so the next request needs a new connection.
    reusable: bool,
}

impl Http {
    /// Connects to `addr` (HOST:PORT).
    pub async fn connect(addr: &str) -> io::Result<Http> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            buf: Vec::new(),
            reusable: true,
        })
    }

    /// Whether another request may go on this connection.
    pub fn reusable(&self) -> bool {
        self.reusable
    }

    /// Sends `head` (request line and headers, ending with the blank line) and `body`;
    /// returns the status and the response body.
    pub async fn post(&mut self, head: &str, body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        // One write (one segment) per request; the response buffer doubles as the send
        // buffer, its capacity kept across requests.
        self.buf.clear();
        self.buf.extend_from_slice(head.as_bytes());
        self.buf.extend_from_slice(body);
        self.stream.write_all(&self.buf).await?;
        self.buf.clear();
        // Bounded: each pass reads at least one byte, up to HTTP_HEAD_BYTES_MAX.
        let (status, length, head_len) = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let (status, length) = parse_head(&self.buf[..end])?;
                self.reusable = keeps_alive(&self.buf[..end]);
                break (status, length, end + 4);
            }
            if self.buf.len() > HTTP_HEAD_BYTES_MAX {
                return Err(io::Error::other("HTTP response head too large"));
            }
            self.read_more().await?;
        };
        let body = match length {
            BodyLength::Length(length) => {
                if length > HTTP_RESPONSE_BYTES_MAX {
                    return Err(io::Error::other(format!("response of {length} bytes")));
                }
                while self.buf.len() < head_len + length {
                    self.read_more().await?;
                }
                self.buf[head_len..head_len + length].to_vec()
            }
            BodyLength::Chunked => self.read_chunked(head_len).await?,
            BodyLength::ToEof => {
                while self.read_more().await.is_ok() {}
                self.buf[head_len..].to_vec()
            }
        };
        Ok((status, body))
    }

    async fn read_chunked(&mut self, mut at: usize) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        for _ in 0..HTTP_CHUNKS_MAX {
            let line_end = loop {
                if let Some(end) = self.buf[at..].windows(2).position(|w| w == b"\r\n") {
                    break at + end;
                }
                self.read_more().await?;
            };
            let line = std::str::from_utf8(&self.buf[at..line_end])
                .map_err(|_| io::Error::other("chunk size is not UTF-8"))?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
            if body.len() + size > HTTP_RESPONSE_BYTES_MAX {
                return Err(io::Error::other("chunked response too large"));
            }
            at = line_end + 2;
            if size == 0 {
                // Trailers (ignored) end with an empty line.
                while !self.buf[at..].windows(2).any(|w| w == b"\r\n") {
                    self.read_more().await?;
                }
                return Ok(body);
            }
            while self.buf.len() < at + size + 2 {
                self.read_more().await?;
            }
            body.extend_from_slice(&self.buf[at..at + size]);
            at += size + 2;
        }
        Err(io::Error::other(format!(
            "more than {HTTP_CHUNKS_MAX} chunks"
        )))
    }

    async fn read_more(&mut self) -> io::Result<()> {
        if self.buf.len() > HTTP_RESPONSE_BYTES_MAX + HTTP_HEAD_BYTES_MAX {
            return Err(io::Error::other("HTTP response too large"));
        }
        // Reads into spare capacity: zero-filling 64 KiB per response was 7% of the load
        // generator's CPU.
        self.buf.reserve(READ_CHUNK_BYTES);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(())
    }
}

/// Whether the server keeps the connection open after this response: HTTP/1.1 unless it
/// says `Connection: close`, HTTP/1.0 only if it says `Connection: keep-alive`.
pub fn keeps_alive(head: &[u8]) -> bool {
    let contains = |value: &[u8], word: &[u8]| {
        value
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    let mut lines = head.split(|&b| b == b'\n');
    let http11 = lines
        .next()
        .is_some_and(|l| l.len() >= 8 && l[..8].eq_ignore_ascii_case(b"http/1.1"));
    let connection = lines.find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"connection")
            .then(|| &line[colon + 1..])
    });
    match connection {
        Some(v) if contains(v, b"close") => false,
        Some(v) if contains(v, b"keep-alive") => true,
        _ => http11,
    }
}

/// Status code and body delimitation of a response head.
pub fn parse_head(head: &[u8]) -> io::Result<(u16, BodyLength)> {
    let text =
        std::str::from_utf8(head).map_err(|_| io::Error::other("response head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut length = BodyLength::ToEof;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                let n = value
                    .trim()
                    .parse()
                    .map_err(|_| io::Error::other("bad Content-Length"))?;
                length = BodyLength::Length(n);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
            {
                length = BodyLength::Chunked;
            }
        }
    }
    Ok((status, length))
}

/// Standard base64 (with padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_parse() {
        let head = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\nX: y";
        assert_eq!(parse_head(head).unwrap(), (400, BodyLength::Length(12)));
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked";
        assert_eq!(parse_head(head).unwrap(), (200, BodyLength::Chunked));
        assert!(parse_head(b"garbage").is_err());
        assert!(keeps_alive(b"HTTP/1.1 200 OK\r\nContent-Length: 2"));
        assert!(!keeps_alive(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2"
        ));
        assert!(!keeps_alive(b"HTTP/1.0 200 OK\r\nContent-Length: 2"));
        assert!(keeps_alive(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive"));
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in vectors {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
