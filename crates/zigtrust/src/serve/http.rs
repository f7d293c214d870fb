//! A small HTTP/1.1 server on std: one thread per connection (bounded), keep-alive,
//! `Content-Length` bodies only, and streamed responses for Server-Sent Events. A hub daemon
//! serves one household's browsers and scripts on loopback; this is enough, and it keeps the
//! binary free of an async runtime.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MAX_HEAD: usize = 16 * 1024;
pub const MAX_BODY: usize = 1024 * 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// Path without the query string, percent-decoding not applied (our paths are ASCII).
    pub path: String,
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// A query parameter's raw value.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A streamed response body: called with the connection after the head is written; it writes
/// until the client goes away. The connection is closed afterwards.
pub type Stream = Box<dyn FnOnce(&mut TcpStream) + Send>;

pub enum Reply {
    Full(Response),
    Stream { status: u16, headers: Vec<(String, String)>, body: Stream },
}

pub type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn write_head(
    s: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    len: Option<usize>,
    close: bool,
) -> std::io::Result<()> {
    let mut h = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in headers {
        h.push_str(n);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    if let Some(len) = len {
        h.push_str(&format!("Content-Length: {len}\r\n"));
    }
    h.push_str(if close { "Connection: close\r\n\r\n" } else { "Connection: keep-alive\r\n\r\n" });
    s.write_all(h.as_bytes())
}

fn error_response(status: u16, msg: &str) -> Response {
    Response::new(
        status,
        "application/json",
        format!("{{\"error\":{}}}", serde_json::Value::from(msg)),
    )
}

/// Reads one request. `Ok(None)`: the client closed the connection cleanly. `Err`: the
/// response that refuses it (the connection is then closed).
pub fn read_request(r: &mut impl BufRead) -> Result<Option<Request>, Response> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = r
            .by_ref()
            .take((MAX_HEAD + 1 - head.len().min(MAX_HEAD)) as u64)
            .read_until(b'\n', &mut line)
            .map_err(|_| error_response(400, "connection error while reading the request"))?;
        if n == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(error_response(400, "request head cut short"));
        }
        if head.len() + line.len() > MAX_HEAD {
            return Err(error_response(431, "request head larger than 16 KiB"));
        }
        let blank = line == b"\r\n" || line == b"\n";
        if blank && head.is_empty() {
            continue; // tolerate stray CRLF between requests
        }
        head.extend_from_slice(&line);
        if blank {
            break;
        }
    }
    let text =
        std::str::from_utf8(&head).map_err(|_| error_response(400, "request head is not UTF-8"))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(error_response(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(error_response(400, "only HTTP/1.x is supported"));
    }
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        let Some((n, v)) = l.split_once(':') else {
            return Err(error_response(400, "malformed header line"));
        };
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    if version == "HTTP/1.0"
        && !headers.iter().any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("keep-alive"))
    {
        headers.push(("connection".into(), "close".into()));
    }
    if headers.iter().any(|(n, _)| n == "transfer-encoding") {
        return Err(error_response(
            411,
            "chunked request bodies are not supported; send Content-Length",
        ));
    }
    let len = match headers.iter().find(|(n, _)| n == "content-length") {
        Some((_, v)) => {
            v.parse::<usize>().map_err(|_| error_response(400, "bad Content-Length"))?
        }
        None => 0,
    };
    if len > MAX_BODY {
        return Err(error_response(413, "request body larger than 1 MiB"));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).map_err(|_| error_response(400, "request body cut short"))?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    Ok(Some(Request { method: method.to_string(), path, query, headers, body }))
}

fn connection(stream: TcpStream, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    // A client that stops reading (a stalled event stream) frees its thread after this.
    let _ = stream.set_write_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(mut w) = stream.try_clone() else { return };
    let mut r = BufReader::new(stream);
    loop {
        let req = match read_request(&mut r) {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(resp) => {
                let _ = write_head(&mut w, resp.status, &resp.headers, Some(resp.body.len()), true)
                    .and_then(|_| w.write_all(&resp.body));
                return;
            }
        };
        let close = req.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let head_only = req.method == "HEAD";
        match handler(req) {
            Reply::Full(resp) => {
                let ok =
                    write_head(&mut w, resp.status, &resp.headers, Some(resp.body.len()), close)
                        .and_then(|_| if head_only { Ok(()) } else { w.write_all(&resp.body) })
                        .and_then(|_| w.flush());
                if ok.is_err() || close {
                    return;
                }
            }
            Reply::Stream { status, headers, body } => {
                if write_head(&mut w, status, &headers, None, true).and_then(|_| w.flush()).is_ok()
                {
                    let _ = w.set_read_timeout(None);
                    body(&mut w);
                }
                return;
            }
        }
    }
}

/// Accepts connections for ever, each on its own thread, at most `max_connections` at once
/// (further clients wait in the kernel's backlog).
pub fn serve(listener: TcpListener, handler: Handler, max_connections: usize) {
    let live = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        while live.load(Ordering::Acquire) >= max_connections {
            std::thread::sleep(Duration::from_millis(2));
        }
        live.fetch_add(1, Ordering::AcqRel);
        let (h, l) = (handler.clone(), live.clone());
        let spawned = std::thread::Builder::new().name("http".into()).spawn(move || {
            connection(stream, &h);
            l.fetch_sub(1, Ordering::AcqRel);
        });
        if spawned.is_err() {
            live.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn server() -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let h: Handler = Arc::new(|r: Request| {
            Reply::Full(Response::new(
                200,
                "text/plain",
                format!("{} {} {}", r.method, r.path, r.body.len()),
            ))
        });
        std::thread::spawn(move || serve(l, h, 4));
        a
    }

    fn roundtrip(a: std::net::SocketAddr, raw: &[u8]) -> String {
        let mut s = TcpStream::connect(a).unwrap();
        s.write_all(raw).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn keep_alive_then_close() {
        let a = server();
        let out = roundtrip(
            a,
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b?x=1 HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        );
        assert!(out.contains("GET /a 0"), "{out}");
        assert!(out.contains("POST /b 3"), "{out}");
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2);
    }

    #[test]
    fn malformed_and_oversized_requests_are_refused() {
        let a = server();
        assert!(roundtrip(a, b"garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
        let big = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
        assert!(roundtrip(a, big.as_bytes()).starts_with("HTTP/1.1 413"));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert!(roundtrip(a, chunked).starts_with("HTTP/1.1 411"));
        let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert!(roundtrip(a, &huge).starts_with("HTTP/1.1 431"));
    }

    proptest::proptest! {
        /// Whatever a client sends, the parser answers with a request or an error response.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut r = std::io::Cursor::new(bytes);
            while let Ok(Some(_)) = read_request(&mut r) {}
        }

        /// Requests we build parse back to what was sent.
        #[test]
        fn built_requests_parse_back(path in "/[a-z/-]{0,30}", query in "[a-z=&0-9]{0,20}", body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let mut raw = format!("PUT {path}?{query} HTTP/1.1\r\nX-A:  b \r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            raw.extend_from_slice(&body);
            let req = read_request(&mut std::io::Cursor::new(raw)).ok().flatten().unwrap();
            proptest::prop_assert_eq!(req.header("x-a"), Some("b"));
            proptest::prop_assert_eq!(req.path, path);
            proptest::prop_assert_eq!(req.query, query);
            proptest::prop_assert_eq!(req.body, body);
        }
    }

    #[test]
    fn request_helpers() {
        let r = Request {
            method: "GET".into(),
            path: "/".into(),
            query: "limit=5&before=9".into(),
            headers: vec![("cookie".into(), "a=1; zt_session=abc".into())],
            body: vec![],
        };
        assert_eq!(r.query_param("before"), Some("9"));
        assert_eq!(r.query_param("x"), None);
        assert_eq!(r.cookie("zt_session"), Some("abc"));
    }
}
