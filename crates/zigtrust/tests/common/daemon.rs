//! `zigtrust serve` for the API tests, on the test kit's launcher and HTTP client.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zigtrust_testkit::http::Client;
use zigtrust_testkit::serve::Serve;

pub struct Daemon {
    pub serve: Serve,
    pub port: u16,
    /// The token printed at this start, if one was.
    pub printed_token: Option<String>,
    pub token: String,
    pub stdout: Vec<String>,
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
    /// Starts the daemon on `dir/hub.db` with extra args; `token` is the one from an earlier
    /// start.
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
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let stderr = dir.join(format!("stderr-{}.txt", std::process::id() ^ n));
        let mut serve = Serve::spawn_limited(&bin(), &dir.join("hub.db"), extra, &stderr, fds);
        serve.wait_started(30);
        let printed_token = serve.token.clone();
        let token = printed_token.clone().or(token.map(String::from)).expect("a token");
        Daemon {
            port: serve.addr.port(),
            stdout: serve.stdout.clone(),
            printed_token,
            token,
            serve,
        }
    }

    pub fn stderr(&self) -> String {
        self.serve.stderr_text()
    }

    /// Sends one request with exactly these extra headers (no credentials of its own) on a
    /// fresh connection; returns (status, lower-cased headers, body).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (u16, Vec<(String, String)>, String) {
        let r = Client::new(self.serve.addr, None)
            .request_with(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (r.status, r.headers, r.body)
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// An authenticated request with a JSON body; returns (status, JSON body).
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let r = Client::new(self.serve.addr, Some(self.token.clone()))
            .request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (r.status, r.json())
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
        self.serve.kill();
    }
}

/// A raw answer as (status, lower-cased headers, body); status 0 when nothing parsable came.
pub fn parse_response(buf: &[u8]) -> (u16, Vec<(String, String)>, String) {
    zigtrust_testkit::http::parse_response(buf)
        .map_or((0, Vec::new(), String::new()), |r| (r.status, r.headers, r.body))
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}
