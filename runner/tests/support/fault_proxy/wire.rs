//! HTTP/1.1 framing for the fault proxy, at the byte level: request and response heads (parsed
//! with httparse), bodies forwarded as they are framed on the wire (Content-Length, chunked, or
//! until the connection closes), and the two-way splice of a hijacked (upgraded) connection.
//!
//! Input: the two halves of a client connection and of an engine connection.
//! Output: bytes forwarded unchanged, unless a cut limit ends the copy early.
//! Invariant: nothing here re-encodes a message: what is forwarded is the bytes that arrived,
//! so the engine and the client see exactly each other's framing; a cut is reported as
//! [`Copied::Cut`] and the caller drops both connections.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most a message head may take (the engine's and bollard's heads are a few hundred bytes).
const MAX_HEAD: usize = 64 * 1024;

/// A read half with the bytes read past the last message boundary kept for the next read.
pub struct Reader<R> {
    inner: R,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub fn new(inner: R) -> Reader<R> {
        Reader {
            inner,
            buffer: Vec::new(),
        }
    }

    /// Reads more bytes into the buffer; returns how many (0 at the end of the stream).
    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.inner.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads one message head (through the blank line); `None` when the stream ends cleanly
    /// before a head starts.
    pub async fn head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                return Ok(Some(self.buffer.drain(..end + 4).collect()));
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too long"));
            }
            if self.fill().await? == 0 {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// Reads one CRLF-terminated line (with its CRLF).
    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n") {
                return Ok(self.buffer.drain(..end + 2).collect());
            }
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Takes up to `most` bytes (reading when the buffer is empty); empty at the end of the
    /// stream.
    async fn take(&mut self, most: usize) -> io::Result<Vec<u8>> {
        if self.buffer.is_empty() && self.fill().await? == 0 {
            return Ok(Vec::new());
        }
        let n = most.min(self.buffer.len());
        Ok(self.buffer.drain(..n).collect())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How a message's body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the sender closes the connection (a response without a length).
    UntilClose,
}

/// What a request head says.
#[derive(Debug, Clone)]
pub struct RequestHead {
    pub method: String,
    /// The target as sent (`/v1.41/containers/create?name=…`).
    pub target: String,
    pub framing: Framing,
}

/// What a response head says.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub status: u16,
    /// Whether the headers ask to close the connection after this response.
    pub close: bool,
}

fn header<'a>(headers: &'a [httparse::Header<'a>], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
}

fn body_framing(headers: &[httparse::Header<'_>]) -> io::Result<Option<Framing>> {
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return Ok(Some(Framing::Chunked));
    }
    match header(headers, "content-length") {
        Some(value) => value
            .trim()
            .parse()
            .map(|n| Some(Framing::Length(n)))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length")),
        None => Ok(None),
    }
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Parses a request head.
pub fn parse_request(head: &[u8]) -> io::Result<RequestHead> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head).map_err(invalid)? {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(invalid("partial request head")),
    }
    Ok(RequestHead {
        method: request.method.unwrap_or_default().to_string(),
        target: request.path.unwrap_or_default().to_string(),
        framing: body_framing(request.headers)?.unwrap_or(Framing::Empty),
    })
}

/// Parses a response head to the request `method`, and says how its body is framed.
pub fn parse_response(head: &[u8], method: &str) -> io::Result<(ResponseHead, Framing)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head).map_err(invalid)? {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(invalid("partial response head")),
    }
    let status = response.code.unwrap_or_default();
    let close = header(response.headers, "connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        || response.version == Some(0);
    let framing = if method == "HEAD" || status < 200 || status == 204 || status == 304 {
        Framing::Empty
    } else {
        body_framing(response.headers)?.unwrap_or(Framing::UntilClose)
    };
    Ok((ResponseHead { status, close }, framing))
}

/// How a forwarded body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// The whole body was forwarded.
    Whole,
    /// The cut limit was reached: the caller drops both connections.
    Cut,
}

/// Forwards a body framed as `framing` from `from` to `to` (or drops it when `to` is None),
/// stopping after `cut` bytes of it when given.
pub async fn forward_body<R, W>(
    from: &mut Reader<R>,
    mut to: Option<&mut W>,
    framing: Framing,
    cut: Option<u64>,
) -> io::Result<Copied>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut budget = Budget { left: cut };
    match framing {
        Framing::Empty => {}
        Framing::Length(length) => {
            if budget.send_exactly(from, &mut to, length).await? == Copied::Cut {
                return Ok(Copied::Cut);
            }
        }
        Framing::Chunked => loop {
            let size_line = from.line().await?;
            let size_text = String::from_utf8_lossy(&size_line);
            let size_hex = size_text.trim().split(';').next().unwrap_or_default();
            let size = u64::from_str_radix(size_hex, 16).map_err(invalid)?;
            if budget.send(&mut to, &size_line).await? == Copied::Cut {
                return Ok(Copied::Cut);
            }
            if size == 0 {
                // Trailers, then the blank line that ends the body.
                loop {
                    let line = from.line().await?;
                    if budget.send(&mut to, &line).await? == Copied::Cut {
                        return Ok(Copied::Cut);
                    }
                    if line == b"\r\n" {
                        break;
                    }
                }
                break;
            }
            // The chunk and its CRLF.
            if budget.send_exactly(from, &mut to, size + 2).await? == Copied::Cut {
                return Ok(Copied::Cut);
            }
        },
        Framing::UntilClose => loop {
            let bytes = from.take(64 * 1024).await?;
            if bytes.is_empty() {
                break;
            }
            if budget.send(&mut to, &bytes).await? == Copied::Cut {
                return Ok(Copied::Cut);
            }
        },
    }
    Ok(Copied::Whole)
}

/// The bytes a copy may still forward before its cut.
struct Budget {
    left: Option<u64>,
}

impl Budget {
    /// Writes `bytes` (or the part of them under the limit) to `to`.
    async fn send<W: AsyncWrite + Unpin>(
        &mut self,
        to: &mut Option<&mut W>,
        bytes: &[u8],
    ) -> io::Result<Copied> {
        let (part, cut) = match self.left {
            Some(left) if (bytes.len() as u64) >= left => (&bytes[..left as usize], true),
            Some(left) => {
                self.left = Some(left - bytes.len() as u64);
                (bytes, false)
            }
            None => (bytes, false),
        };
        if let Some(to) = to.as_deref_mut() {
            to.write_all(part).await?;
            to.flush().await?;
        }
        Ok(if cut { Copied::Cut } else { Copied::Whole })
    }

    /// Forwards exactly `length` bytes of `from` (an early end is an error).
    async fn send_exactly<R, W>(
        &mut self,
        from: &mut Reader<R>,
        to: &mut Option<&mut W>,
        mut length: u64,
    ) -> io::Result<Copied>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        while length > 0 {
            let bytes = from.take(length.min(64 * 1024) as usize).await?;
            if bytes.is_empty() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            length -= bytes.len() as u64;
            if self.send(to, &bytes).await? == Copied::Cut {
                return Ok(Copied::Cut);
            }
        }
        Ok(Copied::Whole)
    }
}

/// Splices a hijacked connection both ways until both directions end, or until `cut` bytes
/// went from the engine to the client (then returns [`Copied::Cut`] at once).
pub async fn splice<CR, CW, UR, UW>(
    client_in: &mut Reader<CR>,
    client_out: &mut CW,
    engine_in: &mut Reader<UR>,
    engine_out: &mut UW,
    cut: Option<u64>,
) -> io::Result<Copied>
where
    CR: AsyncRead + Unpin,
    CW: AsyncWrite + Unpin,
    UR: AsyncRead + Unpin,
    UW: AsyncWrite + Unpin,
{
    let down = async {
        let copied =
            forward_body(engine_in, Some(&mut *client_out), Framing::UntilClose, cut).await;
        if copied.as_ref().is_ok_and(|c| *c == Copied::Whole) {
            let _ = client_out.shutdown().await;
        }
        copied
    };
    let up = async {
        let copied =
            forward_body(client_in, Some(&mut *engine_out), Framing::UntilClose, None).await;
        let _ = engine_out.shutdown().await;
        copied
    };
    tokio::pin!(down, up);
    tokio::select! {
        copied = &mut down => match copied? {
            Copied::Cut => Ok(Copied::Cut),
            Copied::Whole => up.await.map(|_| Copied::Whole),
        },
        copied = &mut up => {
            copied?;
            down.await
        }
    }
}

/// A JSON error response as the engine writes one (`{"message":"…"}`), keeping the connection.
pub fn error_response(status: u16, message: &str) -> Vec<u8> {
    let body = serde_json::json!({ "message": message }).to_string();
    format!(
        "HTTP/1.1 {status} Injected Fault\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A writer that keeps the first [`Capturing::LIMIT`] bytes written through it (an answer's
/// body, for the log: the ids of the images a build made).
pub struct Capturing<'a, W> {
    inner: &'a mut W,
    pub kept: Vec<u8>,
}

impl<'a, W> Capturing<'a, W> {
    /// How much of a body is kept.
    pub const LIMIT: usize = 64 * 1024;

    pub fn new(inner: &'a mut W) -> Capturing<'a, W> {
        Capturing {
            inner,
            kept: Vec::new(),
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Capturing<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut *self.inner).poll_write(context, bytes);
        if let Poll::Ready(Ok(n)) = written {
            let room = Self::LIMIT.saturating_sub(self.kept.len()).min(n);
            self.kept.extend_from_slice(&bytes[..room]);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(context)
    }
}
