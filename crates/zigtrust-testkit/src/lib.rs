//! Test support for the zigtrust workspace. `publish = false`, and only ever a
//! `[dev-dependencies]` entry: nothing here ships in the `zigtrust` binary.
//!
//! - [`corpus`]: the seeded frame generator the oracle tests, the sample capture and the
//!   benchmarks read (also the `zigtrust-corpus` binary of this crate).
//! - [`device`]: a scripted Zigbee device built from `zigtrust-wire` that knows only what it
//!   was told over the air (Trust Center conversations, the daemon crash test).
//! - [`tshark`], [`zoh`], [`zigpy`]: the outside oracles, run as separate processes. Each fails
//!   the test loudly when its oracle is missing; none skips (`scripts/test` installs them).
//! - [`fuzz`]: replays the inputs kept under a crate's `tests/fuzz-regressions/`.
//! - [`zep`]: a device's end of a `zigtrust serve --radio zep:…` link: sends ZEP, and sees the
//!   daemon's frames by capturing the loopback interface.
//! - [`ot_medium`]: OpenThread's simulation medium: the `ot-rcp` binary, multicast sockets, a
//!   test's view of the medium, simulated devices on it.
//! - [`http`] and [`serve`]: a tiny HTTP/1.1 client, and `zigtrust serve` as a child process.
#![forbid(unsafe_code)]

pub mod corpus;
pub mod device;
pub mod fuzz;
pub mod http;
pub mod ot_medium;
pub mod serve;
pub mod tshark;
pub mod zep;
pub mod zigpy;
pub mod zoh;

use std::path::{Path, PathBuf};

/// The well-known TC link key "ZigBeeAlliance09", as hex (what every oracle is given).
pub const WELL_KNOWN: &str = "5a6967426565416c6c69616e63653039";

/// The repository's root directory (oracle scripts, test data).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every capture in `../shared/captures` (real traffic from other tools; see its MANIFEST.md).
pub const SHARED_CAPTURES: &[&str] = &[
    "zbtk-trace-zep.pcap",
    "zbtk-vectors-zep.pcap",
    "zigator-01-phy-testing.pcap",
    "zigator-02-mac-testing.pcap",
    "zigator-03-nwk-testing.pcap",
    "zigator-04-aps-testing.pcap",
    "zigator-05-zdp-testing.pcap",
    "zigator-06-zcl-testing.pcap",
    "zoh-frames-nofcs.pcap",
    "zoh-frames-nofcs.pcapng",
];

/// A file of `../shared/captures`, the real captures that sit beside the repository (as in
/// CI). Panics when it is missing: the tests that read them must not skip.
pub fn shared_capture(name: &str) -> PathBuf {
    let p = repo_root().join("../shared/captures").join(name);
    assert!(p.exists(), "{} is missing: the shared captures must sit beside the repo", p.display());
    p
}

/// Runs `program script` with `input` on stdin and returns what it did. The input is written
/// from a thread of its own while the output is read, so neither side can block the other on a
/// full pipe however much they exchange. Fails the test, saying what to install, when the
/// program cannot start.
pub fn run_process(program: &str, script: &Path, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} must be installed (scripts/test installs the oracles): {e}")
        });
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    // A write error means the program exited early; its status and stderr say why.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    let _ = writer.join();
    out
}

/// Runs `program script` with `input` on stdin and returns its stdout; fails the test, with
/// what it printed on stderr, when it cannot start or does not succeed. For the oracles that
/// are scripts (`oracles/`), run as separate processes so nothing of them is linked in.
pub(crate) fn run_script(program: &str, script: &Path, input: &[u8], what: &str) -> Vec<u8> {
    let out = run_process(program, script, input);
    assert!(
        out.status.success(),
        "{} failed (is {what} installed?): {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A scratch directory of this test kit under the system temp dir, created if needed.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("zigtrust-testkit").join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}
