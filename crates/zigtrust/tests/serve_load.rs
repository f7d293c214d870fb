//! Bounded load test on loopback: 10,000 authenticated API requests from 100 concurrent
//! keep-alive clients against the daemon running its live simulated home. Every answer must
//! be a 200 with a JSON body; latency percentiles are printed (not asserted: machines are
//! noisy). `ZIGTRUST_BIN=target/release/zigtrust cargo test --test serve_load -- --nocapture`
//! measures a release build.

mod common;

use common::daemon::{test_dir, Daemon};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const CLIENTS: usize = 100;
const PER_CLIENT: usize = 100;
const PATHS: &[&str] =
    &["/api/network", "/api/devices", "/api/permit-join", "/api/policy", "/api/alerts?limit=20"];

/// One request on a kept-alive connection; returns the status.
fn request(r: &mut BufReader<TcpStream>, auth: &str, path: &str) -> Result<u16, String> {
    let port = r.get_ref().peer_addr().map_err(|e| e.to_string())?.port();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n\r\n");
    r.get_mut().write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("bad status line {line:?}"))?;
    let mut len = None;
    loop {
        line.clear();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len.ok_or("no Content-Length")?];
    r.read_exact(&mut body).map_err(|e| e.to_string())?;
    if body.first() != Some(&b'{') {
        return Err(format!("{path}: body is not a JSON object"));
    }
    Ok(status)
}

#[test]
fn ten_thousand_requests_from_a_hundred_clients() {
    let dir = test_dir("load");
    let d = Daemon::start(&dir, &[], None);
    d.wait_for(60, "the starter home", |d| {
        (d.get("/api/devices")["devices"].as_array()?.len() >= 5).then_some(())
    });
    let auth = d.bearer();
    let port = d.port;
    let start = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let auth = auth.clone();
            std::thread::spawn(move || {
                let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut r = BufReader::new(s);
                let mut lat = Vec::with_capacity(PER_CLIENT);
                let mut errors = Vec::new();
                for i in 0..PER_CLIENT {
                    let path = PATHS[(c + i) % PATHS.len()];
                    let t = Instant::now();
                    match request(&mut r, &auth, path) {
                        Ok(200) => {}
                        Ok(st) => errors.push(format!("{path}: status {st}")),
                        Err(e) => errors.push(e),
                    }
                    lat.push(t.elapsed());
                }
                (lat, errors)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    for h in handles {
        let (l, e) = h.join().unwrap();
        lat.extend(l);
        errors.extend(e);
    }
    let wall = start.elapsed();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert_eq!(lat.len(), CLIENTS * PER_CLIENT);
    lat.sort();
    let pct =
        |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "LOAD: {} requests, {CLIENTS} concurrent keep-alive clients: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.0} req/s, 0 errors",
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.last().unwrap().as_secs_f64() * 1e3,
        lat.len() as f64 / wall.as_secs_f64()
    );
    // The daemon is still healthy afterwards.
    assert_eq!(d.get("/api/network")["radio"], "sim");
}
