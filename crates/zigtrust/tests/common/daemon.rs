//! Runs `zigtrust serve` as a child process and talks HTTP/1.1 to it over std sockets.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Daemon {
    pub child: Child,
    pub port: u16,
    /// The token printed at this start, if one was.
    pub printed_token: Option<String>,
    pub token: String,
    pub stdout: Vec<String>,
    pub stderr_path: PathBuf,
}

/// A fresh directory for one test.
pub fn test_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn bin() -> PathBuf {
    std::env::var_os("ZIGTRUST_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_zigtrust")), PathBuf::from)
}

impl Daemon {
    /// Starts the daemon on `db` with extra args; `token` is the one from an earlier start.
    pub fn start(dir: &Path, extra: &[&str], token: Option<&str>) -> Daemon {
        Daemon::start_limited(dir, extra, token, None)
    }

    /// As [`Daemon::start`], with the daemon's soft limit of open files set to `fds`.
    pub fn start_limited(
        dir: &Path,
        extra: &[&str],
        token: Option<&str>,
        fds: Option<u32>,
    ) -> Daemon {
        let stderr_path = dir.join(format!("stderr-{}.txt", std::process::id() ^ rand_u32()));
        let mut cmd = match fds {
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")]).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let mut child = cmd
            .arg("serve")
            .arg("--db")
            .arg(dir.join("hub.db"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(l) = line else { return };
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        let mut lines = Vec::new();
        let (mut port, mut printed, mut told) = (None, None, false);
        let deadline = Instant::now() + Duration::from_secs(30);
        while port.is_none() || (printed.is_none() && !told) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(l) = rx.recv_timeout(left) else {
                let _ = child.kill();
                panic!(
                    "daemon did not start: stdout {lines:?}, stderr {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            };
            if let Some(rest) = l.strip_prefix("listening: http://127.0.0.1:") {
                port = rest.trim_end_matches('/').parse().ok();
            }
            told |= l.starts_with("log in with");
            if let Some(t) = l.strip_prefix("token: ") {
                printed = Some(t.to_string());
            }
            lines.push(l);
        }
        let token = printed.clone().or(token.map(String::from)).unwrap();
        Daemon {
            child,
            port: port.unwrap(),
            printed_token: printed,
            token,
            stdout: lines,
            stderr_path,
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends one request on a fresh connection; returns (status, lower-cased headers, body).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (u16, Vec<(String, String)>, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        let b = body.unwrap_or("");
        req.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        parse_response(&buf)
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// An authenticated request with a JSON body; returns (status, JSON body).
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let auth = self.bearer();
        let (st, _, b) = self.raw(method, path, &[("Authorization", &auth)], body);
        let v = serde_json::from_str(&b)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {b}"));
        (st, v)
    }

    pub fn get(&self, path: &str) -> Value {
        let (st, v) = self.call("GET", path, None);
        assert_eq!(st, 200, "GET {path}: {v}");
        v
    }

    /// Polls `f` every 500 ms until it returns Some, or panics after `secs`.
    pub fn wait_for<T>(&self, secs: u64, what: &str, mut f: impl FnMut(&Daemon) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {secs} s waiting for {what}; stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

pub fn parse_response(buf: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let text = String::from_utf8_lossy(buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}
