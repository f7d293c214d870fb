//! `zigtrust serve` as a child process, known only by its command line and the lines it prints:
//! `listening: http://ADDR/`, and on first start `token: …`.

use crate::http::Client;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running daemon.
pub struct Serve {
    pub child: Child,
    /// Where its HTTP API listens.
    pub addr: SocketAddr,
    /// The admin token, when this start printed one (the first start on a database).
    pub token: Option<String>,
    /// The stdout lines read so far.
    pub stdout: Vec<String>,
    stderr: PathBuf,
    lines: mpsc::Receiver<String>,
}

impl Serve {
    /// Starts `bin serve --db DB --listen 127.0.0.1:0` with `extra` arguments, its stderr going
    /// to the file `stderr`. Returns as soon as it is spawned; [`Serve::wait_listening`] waits
    /// for its API.
    pub fn spawn(bin: &Path, db: &Path, extra: &[&str], stderr: &Path) -> Serve {
        Serve::spawn_limited(bin, db, extra, stderr, None)
    }

    /// As [`Serve::spawn`], with the daemon's soft limit of open files set to `fds`.
    pub fn spawn_limited(
        bin: &Path,
        db: &Path,
        extra: &[&str],
        stderr: &Path,
        fds: Option<u32>,
    ) -> Serve {
        Serve::spawn_with(bin, db, extra, stderr, fds, &[])
    }

    /// As [`Serve::spawn`], with `env` added to the daemon's environment (which its radio's
    /// child processes inherit, e.g. the simulation RCP's `PORT_OFFSET`).
    pub fn spawn_env(
        bin: &Path,
        db: &Path,
        extra: &[&str],
        stderr: &Path,
        env: &[(&str, &str)],
    ) -> Serve {
        Serve::spawn_with(bin, db, extra, stderr, None, env)
    }

    fn spawn_with(
        bin: &Path,
        db: &Path,
        extra: &[&str],
        stderr: &Path,
        fds: Option<u32>,
        env: &[(&str, &str)],
    ) -> Serve {
        let err = std::fs::File::create(stderr)
            .unwrap_or_else(|e| panic!("creating {}: {e}", stderr.display()));
        let mut cmd = match fds {
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\"")]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .arg("serve")
            .arg("--db")
            .arg(db)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        // Reads every line, so the daemon never blocks on a full pipe.
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { return };
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        let addr = SocketAddr::from(([0, 0, 0, 0], 0));
        Serve { child, addr, token: None, stdout: Vec::new(), stderr: stderr.to_path_buf(), lines }
    }

    /// Waits (at most `secs`) for the `listening:` line, and with `token` also for the `token:`
    /// line a first start prints after it. Panics with the daemon's stderr when it does not come.
    pub fn wait_listening(&mut self, secs: u64, token: bool) {
        self.wait_lines(secs, |s, _| token && s.token.is_none());
    }

    /// Waits for the `listening:` line and then for the line about the token: `token: …` on a
    /// first start, `log in with …` on a later one.
    pub fn wait_started(&mut self, secs: u64) {
        self.wait_lines(secs, |s, told| s.token.is_none() && !told);
    }

    /// Reads stdout until the `listening:` line has come and `more(self, told)` is false
    /// (`told`: a `log in with` line was seen).
    fn wait_lines(&mut self, secs: u64, more: impl Fn(&Serve, bool) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut listening = false;
        let mut told = false;
        while !listening || more(self, told) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(l) = self.lines.recv_timeout(left) else {
                panic!(
                    "zigtrust serve did not start: stdout {:?}, stderr {}",
                    self.stdout,
                    self.stderr_text()
                );
            };
            if let Some(a) = l.strip_prefix("listening: http://") {
                self.addr = a.trim_end_matches('/').parse().unwrap_or_else(|e| panic!("{l}: {e}"));
                listening = true;
            }
            if let Some(t) = l.strip_prefix("token: ") {
                self.token = Some(t.trim().to_string());
            }
            told |= l.starts_with("log in with");
            self.stdout.push(l);
        }
    }

    /// An HTTP client for its API with `token`.
    pub fn client(&self, token: Option<&str>) -> Client {
        Client::new(self.addr, token.map(str::to_string))
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}
