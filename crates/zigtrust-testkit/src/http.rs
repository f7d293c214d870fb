//! A tiny HTTP/1.1 client on std sockets for tests that drive `zigtrust serve`: one request per
//! connection (`Connection: close`), so it depends on nothing of how the daemon's server is
//! built, only on HTTP.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// An answer: status, lower-cased header names with their values, body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics, naming the body, when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }
}

/// A client for one server, with the admin bearer token when it has one.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Client {
    pub fn new(addr: SocketAddr, token: Option<String>) -> Client {
        Client { addr, token }
    }

    /// Sends one request (a JSON body when given) and reads the whole answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> std::io::Result<Response> {
        self.request_with(method, path, &[], body)
    }

    /// As [`Client::request`], with extra header lines (sent after `Host`, the bearer token
    /// and `Connection: close`).
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> std::io::Result<Response> {
        let mut s = TcpStream::connect(self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if let Some(t) = &self.token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        let b = body.unwrap_or("");
        if body.is_some() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
        s.write_all(req.as_bytes())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        parse_response(&buf)
    }

    /// A request whose answer must have status `want` and a JSON body, which it returns.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>, want: u16) -> Value {
        let r = self.request(method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(r.status, want, "{method} {path}: {}", r.body);
        r.json()
    }

    /// `GET path`, which must answer 200 with JSON.
    pub fn get(&self, path: &str) -> Value {
        self.call("GET", path, None, 200)
    }
}

impl Client {
    /// Opens the daemon's Server-Sent Events stream (`GET /api/events`).
    pub fn events(&self) -> std::io::Result<EventStream> {
        let mut s = TcpStream::connect(self.addr)?;
        let mut req = format!("GET /api/events HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(t) = &self.token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        Ok(EventStream { s, raw: Vec::new(), head: None, text: String::new() })
    }
}

/// A Server-Sent Events stream, read event by event.
pub struct EventStream {
    s: TcpStream,
    /// Bytes read and not yet taken apart.
    raw: Vec<u8>,
    /// The status, once the head was read.
    head: Option<u16>,
    /// Event text taken out of the chunked body, not yet parsed.
    text: String,
}

/// One event: its `event:` name and its `data:` (lines joined with newlines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub kind: String,
    pub data: String,
}

impl EventStream {
    /// The next event within `timeout` (`None`: none came, or the stream ended).
    pub fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let end = std::time::Instant::now() + timeout;
        loop {
            if let Some(e) = self.parse() {
                return Some(e);
            }
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            self.s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
            let mut buf = [0u8; 8192];
            match self.s.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
        }
    }

    /// Takes the head, whole chunks and then one whole event out of what was read.
    fn parse(&mut self) -> Option<SseEvent> {
        if self.head.is_none() {
            let split = self.raw.windows(4).position(|w| w == b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&self.raw[..split]).into_owned();
            self.head = head.split(' ').nth(1).and_then(|s| s.parse().ok()).or(Some(0));
            self.raw.drain(..split + 4);
        }
        // The body is chunked: size line, data, CRLF.
        while let Some(eol) = self.raw.windows(2).position(|w| w == b"\r\n") {
            let size_text = String::from_utf8_lossy(&self.raw[..eol]).into_owned();
            let Ok(size) = usize::from_str_radix(size_text.split(';').next()?.trim(), 16) else {
                self.raw.clear();
                return None;
            };
            if self.raw.len() < eol + 2 + size + 2 {
                break;
            }
            let chunk = self.raw[eol + 2..eol + 2 + size].to_vec();
            self.text.push_str(&String::from_utf8_lossy(&chunk));
            self.raw.drain(..eol + 2 + size + 2);
        }
        let end = self.text.find("\n\n")?;
        let block: String = self.text.drain(..end + 2).collect();
        let mut e = SseEvent { kind: "message".into(), data: String::new() };
        for line in block.lines() {
            if let Some(k) = line.strip_prefix("event:") {
                e.kind = k.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data:") {
                if !e.data.is_empty() {
                    e.data.push('\n');
                }
                e.data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        Some(e)
    }

    /// The HTTP status, once the head came.
    pub fn status(&self) -> Option<u16> {
        self.head
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// Parses a whole HTTP/1.1 response (a body sent chunked is put back together).
pub fn parse_response(buf: &[u8]) -> std::io::Result<Response> {
    let split =
        buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no header end"))?;
    let head = String::from_utf8_lossy(&buf[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut b: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").ok_or_else(|| bad("chunk size"))?;
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("chunk size"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(b.get(..size).ok_or_else(|| bad("chunk cut short"))?);
        b = b.get(size + 2..).ok_or_else(|| bad("chunk cut short"))?;
    }
}
