//! Shared helpers for the oracle tests: build a corpus capture, run our CLI on it, parse JSON.
#![allow(dead_code)]

pub mod daemon;

use std::path::{Path, PathBuf};
use std::process::Command;
use zigtrust::corpus::{generate, Corpus, Options};

pub const WELL_KNOWN: &str = "5a6967426565416c6c69616e63653039";

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
    let f = std::fs::File::create(&path).unwrap();
    corpus.write_pcap(std::io::BufWriter::new(f)).unwrap();
    (corpus, path)
}

/// `--key`/`--install-code` arguments that make every frame of the corpus readable.
pub fn key_args(c: &Corpus) -> Vec<String> {
    let mut v = Vec::new();
    for k in &c.network_keys {
        v.push("--key".into());
        v.push(k.to_hex());
    }
    for (ieee, ic) in &c.install_codes {
        v.push("--install-code".into());
        v.push(format!("{ieee}:{}", zigtrust_crypto::hex(ic.as_bytes())));
    }
    v
}

/// Every key (hex) an outside tool needs: network keys, the well-known key, install-code keys.
pub fn all_keys(c: &Corpus) -> Vec<String> {
    let mut v: Vec<String> = c.network_keys.iter().map(|k| k.to_hex()).collect();
    v.push(WELL_KNOWN.into());
    v.extend(c.install_codes.iter().map(|(_, ic)| ic.link_key().to_hex()));
    v
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

/// Path of a file in ../shared/captures (next to the repo, as in CI). Panics if missing:
/// oracle tests must not skip.
pub fn shared_capture(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/captures").join(name);
    assert!(p.exists(), "{} is missing: the shared captures must sit beside the repo", p.display());
    p
}
