//! Shared helpers for the `zigtrust` binary's tests: scratch paths, a corpus written to a
//! capture, and our decode's JSON. (`daemon` runs `zigtrust serve` for the API tests.)
#![allow(dead_code)]

pub mod daemon;

use std::path::{Path, PathBuf};
use std::process::Command;
use zigtrust_testkit::corpus::{generate, Corpus, Options};

/// Path under the test temp dir, unique per test name.
pub fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracle");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Generates a corpus and writes it to `name`.
pub fn corpus_pcap(name: &str, opts: &Options) -> (Corpus, PathBuf) {
    let corpus = generate(opts);
    let path = tmp(name);
    corpus.write_pcap_file(&path).unwrap();
    (corpus, path)
}

/// Runs `zigtrust decode --json` and returns one JSON value per record.
pub fn our_decode(pcap: &Path, args: &[String]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_zigtrust"))
        .arg("decode")
        .arg(pcap)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "decode failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}")))
        .collect()
}
