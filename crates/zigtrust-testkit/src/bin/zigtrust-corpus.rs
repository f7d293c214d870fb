//! `zigtrust-corpus --out FILE [--seed N] [--frames N] [--level N] [--json]`: writes a seeded,
//! byte-for-byte reproducible capture of generated Zigbee traffic and prints the keys needed to
//! read it. Test and benchmark input (`scripts/bench-decode`, `scripts/bench-audit`,
//! `testdata/sample.pcap`), so it lives with the test kit rather than in the shipped binary:
//! `cargo run -p zigtrust-testkit --bin zigtrust-corpus -- --out c.pcap`.
//!
//! Exit codes as the `zigtrust` commands: 0 ok, 2 bad arguments or an unwritable file.

use clap::Parser;
use std::io::Write;
use std::path::PathBuf;
use zigtrust_crypto::SecurityLevel;
use zigtrust_testkit::corpus::{generate, Options};

/// Write a seeded capture of generated Zigbee traffic (joins, key updates, every command).
#[derive(Parser, Debug)]
#[command(name = "zigtrust-corpus", version)]
struct Args {
    /// Output pcap file (linktype 195, FCS appended).
    #[arg(long)]
    out: PathBuf,
    /// Seed: the same seed gives a byte-identical capture.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Minimum number of frames.
    #[arg(long, default_value_t = 300)]
    frames: usize,
    /// Network security level (0-7); real Zigbee PRO networks use 5.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..8))]
    level: u8,
    /// Print the key manifest as JSON.
    #[arg(long)]
    json: bool,
}

const BAD_INPUT: i32 = 2;

fn main() {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { BAD_INPUT } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    std::process::exit(run(&args, &mut std::io::stdout().lock()));
}

fn run(args: &Args, out: &mut dyn Write) -> i32 {
    let corpus = generate(&Options {
        seed: args.seed,
        min_frames: args.frames,
        level: SecurityLevel::from_bits(args.level),
    });
    if let Err(e) = corpus.write_pcap_file(&args.out) {
        eprintln!("zigtrust-corpus: {}: {e}", args.out.display());
        return BAD_INPUT;
    }
    let nwk: Vec<String> = corpus.network_keys.iter().map(|k| k.to_hex()).collect();
    let ics: Vec<serde_json::Value> = corpus
        .install_codes
        .iter()
        .map(|(ieee, ic)| {
            serde_json::json!({"ieee": ieee.to_string(), "install_code": zigtrust_crypto::hex(ic.as_bytes()),
                               "link_key": ic.link_key().to_hex()})
        })
        .collect();
    let r = if args.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"file": args.out.display().to_string(), "frames": corpus.frames.len(),
                "pan": corpus.pan.to_string(), "trust_center": corpus.trust_center.to_string(),
                "network_keys": nwk, "install_codes": ics})
        )
    } else {
        let mut s = format!("wrote {} frames to {}\n", corpus.frames.len(), args.out.display());
        for (i, k) in nwk.iter().enumerate() {
            s += &format!("network key seq {i}: {k}\n");
        }
        for ic in &ics {
            s += &format!(
                "install code {}:{}\n",
                ic["ieee"].as_str().unwrap_or(""),
                ic["install_code"].as_str().unwrap_or("")
            );
        }
        write!(out, "{s}")
    };
    if r.is_err() {
        return BAD_INPUT;
    }
    0
}
