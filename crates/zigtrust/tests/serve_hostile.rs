//! `zigtrust serve` against hostile clients on the same host (a black-box test of the daemon):
//! slow and unauthenticated clients holding every connection slot they can get, trickled
//! heads and bodies, bodies sent before credentials, ambiguous lengths, foreign Host headers,
//! HEAD on the event stream, a second daemon on the same store. Loads are bounded and stay on
//! loopback.

mod common;

use common::daemon::{header, parse_response, test_dir, Daemon};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn connect(d: &Daemon) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Sends raw bytes on a fresh connection and reads the answer until the daemon closes it.
fn raw_bytes(d: &Daemon, bytes: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let mut s = connect(d);
    s.write_all(bytes).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf)
}

/// Whether the daemon closed `s` (EOF or reset) within `secs`, having sent nothing or an
/// error answer.
fn closed_within(s: &mut TcpStream, secs: u64) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // e.g. a 408 before the close
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn slow_heads_and_bodies_are_cut_off_and_bodies_wait_for_credentials() {
    let dir = test_dir("hostile-slow");
    let d = Daemon::start(&dir, &[], None);
    let host = format!("Host: 127.0.0.1:{}\r\n", d.port);

    // A head trickled a byte at a time never completes: the daemon closes it after its head
    // deadline (10 s), however steadily the bytes come.
    let mut slow = connect(&d);
    let t0 = Instant::now();
    slow.write_all(format!("GET /api/network HTTP/1.1\r\n{host}").as_bytes()).unwrap();
    let mut cut = false;
    while t0.elapsed() < Duration::from_secs(30) {
        if slow.write_all(b"X").is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(cut || closed_within(&mut slow, 1), "a trickled head was kept for 30 s");

    // An authenticated body that stops coming is answered 408 and the connection closed.
    let mut s = connect(&d);
    let head = format!(
        "PUT /api/policy HTTP/1.1\r\n{host}Authorization: {}\r\nContent-Length: 100\r\n\r\n{{\"insecure",
        d.bearer()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let (st, _, body) = parse_response(&got);
    assert_eq!(st, 408, "{body}");

    // Without credentials the body is never read: the 401 comes at once, before the
    // megabyte the head announces is sent.
    let mut s = connect(&d);
    let head = format!("PUT /api/policy HTTP/1.1\r\n{host}Content-Length: 1000000\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    let (st, h, _) = parse_response(&buf[..n]);
    assert_eq!(st, 401);
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
    // Nor is a login body over 4 KiB.
    let head = format!("POST /api/session HTTP/1.1\r\n{host}Content-Length: 100000\r\n\r\n");
    let (st, _, _) = raw_bytes(&d, head.as_bytes());
    assert_eq!(st, 413);
    // An authenticated body over 1 MiB is refused by its announced length.
    let head = format!(
        "PUT /api/policy HTTP/1.1\r\n{host}Authorization: {}\r\nContent-Length: 2000000\r\n\r\n",
        d.bearer()
    );
    let (st, _, _) = raw_bytes(&d, head.as_bytes());
    assert_eq!(st, 413);
}

#[test]
fn ambiguous_lengths_foreign_hosts_and_head_on_the_stream_are_refused() {
    let dir = test_dir("hostile-framing");
    let d = Daemon::start(&dir, &[], None);
    let p = d.port;
    let auth = d.bearer();
    let policy = d.get("/api/policy");

    // Two different Content-Lengths, or a signed one: smuggling material, refused.
    for lengths in ["Content-Length: 2\r\nContent-Length: 30\r\n", "Content-Length: +2\r\n"] {
        let req = format!(
            "PUT /api/policy HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nAuthorization: {auth}\r\n{lengths}\r\n{{}}"
        );
        let (st, _, body) = raw_bytes(&d, req.as_bytes());
        assert_eq!(st, 400, "{lengths:?}: {body}");
    }
    // A head over 16 KiB.
    let big =
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nX-Pad: {}\r\n\r\n", "a".repeat(20_000));
    let (st, _, _) = raw_bytes(&d, big.as_bytes());
    assert_eq!(st, 431);

    // Host: only our names and addresses, with our port. A DNS-rebinding page sends its own
    // name and reaches neither the page, nor the login, nor the API.
    for host in ["evil.example", "evil.example:{p}", "127.0.0.1:1", "localhost"] {
        let host = host.replace("{p}", &p.to_string());
        for path in ["/", "/api/session"] {
            let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let (st, h, body) = raw_bytes(&d, req.as_bytes());
            assert_eq!(st, 421, "{host} {path}: {body}");
            assert_eq!(header(&h, "cache-control"), Some("no-store"));
        }
        let req =
            format!("GET /api/network HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n");
        let (st, _, body) = raw_bytes(&d, req.as_bytes());
        assert_eq!(st, 421, "{host}: {body}");
        assert!(body.contains("does not answer to Host"), "{body}");
    }
    let (st, _, _) = raw_bytes(&d, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(st, 400, "no Host header");
    for host in [format!("localhost:{p}"), format!("[::1]:{p}")] {
        let req = format!("GET /api/network HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n");
        let (st, _, body) = raw_bytes(&d, req.as_bytes());
        assert_eq!(st, 200, "{host}: {body}");
    }

    // HEAD on the event stream answers at once and holds nothing open.
    let req = format!("HEAD /api/events HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n");
    let (st, _, _) = raw_bytes(&d, req.as_bytes());
    assert_eq!(st, 405);

    // Every answer says nosniff; API answers and errors are never cached.
    for (path, auth) in [
        ("/api/network", Some(auth.as_str())),
        ("/api/nope", Some(&auth)),
        ("/nope", None),
        ("/", None),
    ] {
        let hs: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
        let (st, h, _) = d.raw("GET", path, &hs, None);
        assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"), "{path}");
        if path != "/" {
            assert_eq!(header(&h, "cache-control"), Some("no-store"), "{path} {st}");
        }
    }
    assert_eq!(d.get("/api/policy"), policy, "refused requests changed nothing");
}

#[test]
fn clients_without_the_token_cannot_lock_the_owner_out() {
    let dir = test_dir("hostile-slots");
    // 128 descriptors: the daemon caps itself at 64 connections, below what accept could
    // take, so it never runs out of descriptors however many clients come.
    let d = Daemon::start_limited(&dir, &[], None, Some(128));
    let p = d.port;
    let auth = d.bearer();
    // An attacker without the token opens 300 connections and trickles header bytes into
    // each, keeping as many slots as it can.
    let mut hostile: Vec<TcpStream> = Vec::new();
    for _ in 0..300 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", p)) else { continue };
        let _ =
            s.write_all(format!("GET /api/network HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n").as_bytes());
        hostile.push(s);
    }
    // The owner keeps being answered, each request on a fresh connection while the attacker
    // keeps trickling and reconnecting.
    let mut answered = 0;
    for round in 0..20 {
        for s in hostile.iter_mut() {
            let _ = s.write_all(b"X");
        }
        for s in hostile.iter_mut().skip(round * 15).take(15) {
            if let Ok(mut n) = TcpStream::connect(("127.0.0.1", p)) {
                let _ =
                    n.write_all(format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n").as_bytes());
                *s = n;
            }
        }
        let (st, _, body) = d.raw("GET", "/api/network", &[("Authorization", &auth)], None);
        assert_eq!(st, 200, "round {round}: the owner was refused: {body}");
        answered += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(answered, 20);
    // The owner's keep-alive connection, once proven, is never evicted by newcomers.
    let mut owner = connect(&d);
    let req =
        format!("GET /api/policy HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nAuthorization: {auth}\r\n\r\n");
    owner.write_all(req.as_bytes()).unwrap();
    let mut buf = [0u8; 8192];
    let n = owner.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    for _ in 0..200 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", p)) {
            let _ = s.write_all(b"GET");
            hostile.push(s);
        }
    }
    owner.write_all(req.as_bytes()).unwrap();
    let n = owner.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    assert!(!d.stderr().contains("accept failed"), "{}", d.stderr());
}

#[test]
fn a_second_daemon_on_the_same_store_is_refused() {
    let dir = test_dir("hostile-lock");
    let d = Daemon::start(&dir, &[], None);
    let out = std::process::Command::new(common::daemon::bin())
        .arg("serve")
        .arg("--db")
        .arg(dir.join("hub.db"))
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another zigtrust serve"), "{err}");
    // The first one is untouched, and once it is gone the store opens again.
    assert_eq!(d.call("GET", "/api/network", None).0, 200);
    let token = d.token.clone();
    drop(d);
    let d2 = Daemon::start(&dir, &[], Some(&token));
    assert_eq!(d2.call("GET", "/api/network", None).0, 200);
}
