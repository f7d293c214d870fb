//! `zigtrust audit` end to end: the simulator's ground truth, real captures against tshark,
//! `--fail-on` exit codes, corrupt and truncated captures.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use zigtrust_testkit::tshark::Tshark;
use zigtrust_testkit::{shared_capture, WELL_KNOWN};

fn audit(args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_zigtrust")).arg("audit").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn audit_json(pcap: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![pcap.to_str().unwrap(), "--json"];
    args.extend(extra);
    let (code, out, err) = audit(&args);
    assert!(code == 0 || code == 1, "audit failed ({code}): {err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("bad JSON: {e}: {out}"))
}

/// (frame, key) for every frame where an outsider reads a network key.
fn leaks(v: &serde_json::Value) -> BTreeSet<(u64, String)> {
    let mut s = BTreeSet::new();
    for f in v["findings"].as_array().unwrap() {
        if f["kind"] == "network-key-leaked" && f["severity"] == "critical" {
            assert!(f["count"].as_u64().unwrap() <= 16, "frames list capped: {f}");
            for n in f["frames"].as_array().unwrap() {
                s.insert((n.as_u64().unwrap(), f["key"].as_str().unwrap().to_string()));
            }
        }
    }
    s
}

fn sim_pcap(
    scenario: &str,
    policy: &str,
    name: &str,
) -> (zigtrust_sim::Outcome, std::path::PathBuf) {
    let o = zigtrust_sim::run(&zigtrust_sim::Config::new(scenario, policy, 3)).unwrap();
    let p = tmp(name);
    std::fs::write(&p, zigtrust_sim::pcap_bytes(&o.world)).unwrap();
    (o, p)
}

/// The attacker of `join-legacy` listens from t = 0, so the audit of the whole pcap must find
/// exactly its leaks; `spoofed-rejoin` must count exactly the spoofs it sent. (Every
/// scenario × policy is checked from the attacker's vantage in zigtrust-audit's unit tests.)
#[test]
fn simulator_pcaps_match_ground_truth() {
    for policy in ["allow", "deny", "adaptive"] {
        let (o, p) = sim_pcap("join-legacy", policy, &format!("audit-join-legacy-{policy}.pcap"));
        let v = audit_json(&p, &[]);
        let mut first: Vec<(u64, u64)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "network-key-leaked")
            .map(|f| (f["key_seq"].as_u64().unwrap(), f["frames"][0].as_u64().unwrap()))
            .collect();
        first.sort_by_key(|x| x.1);
        let truth: Vec<(u64, u64)> =
            o.report.leaks.iter().map(|l| (u64::from(l.key_seq), l.frame)).collect();
        assert_eq!(first, truth, "join-legacy/{policy}");
        let legacy = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "legacy-well-known-key-join")
            .count();
        assert_eq!(legacy, o.report.joined, "every ha12 device joined with the well-known key");

        let (o, p) = sim_pcap("spoofed-rejoin", policy, &format!("audit-spoof-{policy}.pcap"));
        let v = audit_json(&p, &[]);
        let spoofs: u64 = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "suspected-spoofed-rejoin")
            .map(|f| f["count"].as_u64().unwrap())
            .sum();
        assert_eq!(spoofs, o.report.spoofs_sent, "spoofed-rejoin/{policy}");
        let insecure = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "insecure-rejoin-key-leak");
        if policy == "allow" {
            assert!(insecure, "spoofed-rejoin/allow: the spoofed rejoin is answered with the key");
        }
    }
}

/// tshark's Transport-Keys of network keys (types 1 and 5) with only the well-known key.
fn tshark_network_keys(pcap: &Path) -> BTreeSet<(u64, String)> {
    let rows = Tshark::new()
        .keys([WELL_KNOWN])
        .filter("zbee_aps.cmd.key")
        .fields(pcap, &["frame.number", "zbee_aps.cmd.key", "zbee_aps.cmd.key_type"]);
    let mut s = BTreeSet::new();
    for r in rows {
        for (k, t) in r.list("zbee_aps.cmd.key").into_iter().zip(r.list("zbee_aps.cmd.key_type")) {
            if t == "0x01" || t == "0x05" {
                s.insert((r["frame.number"].parse().unwrap(), k));
            }
        }
    }
    s
}

#[test]
fn real_captures_leaked_keys_equal_tshark() {
    let mut total = 0;
    for f in zigtrust_testkit::SHARED_CAPTURES {
        let p = shared_capture(f);
        let ours = leaks(&audit_json(&p, &[]));
        let theirs = tshark_network_keys(&p);
        assert_eq!(ours, theirs, "{f}: (frame, network key) readable with the well-known key");
        total += ours.len();
    }
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample.pcap");
    let ours = leaks(&audit_json(&sample, &[]));
    assert_eq!(ours, tshark_network_keys(&sample), "testdata/sample.pcap");
    assert!(total >= 2, "the zoh captures leak a network key");
}

#[test]
fn fail_on_exit_codes_and_text_summary() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample.pcap");
    let s = sample.to_str().unwrap();
    let (code, out, _) = audit(&[s]);
    assert_eq!(code, 0);
    assert!(out.contains("findings: 2 critical"), "{out}");
    assert!(out.contains("[CRITICAL] network-key-leaked"), "{out}");
    assert!(out.contains("devices (") && out.contains("keys ("), "{out}");
    assert_eq!(audit(&[s, "--fail-on", "high"]).0, 1);
    assert_eq!(audit(&[s, "--fail-on", "critical"]).0, 1);
    let clean = shared_capture("zigator-01-phy-testing.pcap");
    let (code, out, _) = audit(&[clean.to_str().unwrap(), "--fail-on", "high", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["counts"]["critical"], 0);
    assert_eq!(v["complete"], true);
    assert_eq!(audit(&[s, "--fail-on", "severe"]).0, 2);
    assert_eq!(audit(&[s, "--key", "zz"]).0, 2);
    assert_eq!(audit(&[]).0, 2);
    // Two captures: one stream, frame numbers continue.
    let (code, out, _) = audit(&[s, s, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["captures"][1]["first_frame"], 163);
    assert_eq!(v["stats"]["frames"], 324);
}

#[test]
fn corrupt_and_truncated_captures_exit_2_with_offset() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample.pcap");
    let bytes = std::fs::read(&sample).unwrap();
    let cut = tmp("audit-truncated.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let (code, out, err) = audit(&[cut.to_str().unwrap(), "--json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at byte offset"), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["complete"], false);
    assert_eq!(v["captures"][0]["records"], 161, "every whole record was audited");
    assert!(v["error"]["message"].as_str().unwrap().contains("at byte offset"));
    let junk = tmp("audit-junk.pcap");
    std::fs::write(&junk, b"not a capture at all").unwrap();
    let (code, _, err) = audit(&[junk.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("at byte offset 0"), "{err}");
    assert_eq!(audit(&["/nonexistent/x.pcap"]).0, 2);
}
