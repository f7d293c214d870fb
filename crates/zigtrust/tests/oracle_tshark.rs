//! Oracle test: tshark (Wireshark's Zigbee dissectors, written by others) reads a seeded corpus
//! that our emitters produced, decrypts it with the keys given on its command line, finds no
//! malformed frame and no expert error, and agrees with `zigtrust decode` field by field:
//! addresses, sequence numbers, frame counters, command ids, APS counters, transported keys,
//! and which keys decrypted which layers. Also run at every CCM* security level with tshark's
//! level preference set to match. Fails (never skips) when tshark is missing.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use zigtrust_crypto::SecurityLevel;
use zigtrust_testkit::corpus::Options;
use zigtrust_testkit::tshark::{Row, Tshark};
use zigtrust_testkit::WELL_KNOWN;

const FIELDS: &[&str] = &[
    "frame.number",
    "_ws.malformed",
    "_ws.expert.message",
    "wpan.frame_type",
    "wpan.seq_no",
    "wpan.dst_pan",
    "wpan.dst16",
    "wpan.src16",
    "wpan.dst64",
    "wpan.src64",
    "wpan.cmd",
    "zbee_nwk.src",
    "zbee_nwk.dst",
    "zbee_nwk.seqno",
    "zbee_nwk.radius",
    "zbee_nwk.cmd.id",
    "zbee.sec.counter",
    "zbee.sec.key",
    "zbee_aps.counter",
    "zbee_aps.cmd.id",
    "zbee_aps.cmd.key",
    "zbee_aps.cmd.key_type",
    "zbee_aps.cluster",
];

fn level_pref(level: SecurityLevel) -> &'static str {
    match level {
        SecurityLevel::None => "No Security",
        SecurityLevel::Mic32 => "No Encryption, 32-bit Integrity Protection",
        SecurityLevel::Mic64 => "No Encryption, 64-bit Integrity Protection",
        SecurityLevel::Mic128 => "No Encryption, 128-bit Integrity Protection",
        SecurityLevel::Enc => "AES-128 Encryption, No Integrity Protection",
        SecurityLevel::EncMic32 => "AES-128 Encryption, 32-bit Integrity Protection",
        SecurityLevel::EncMic64 => "AES-128 Encryption, 64-bit Integrity Protection",
        SecurityLevel::EncMic128 => "AES-128 Encryption, 128-bit Integrity Protection",
    }
}

/// Runs tshark with the keys in its key table and its NWK security level set to `level`.
fn tshark(pcap: &Path, keys: &[String], level: SecurityLevel) -> Vec<Row> {
    Tshark::new().pref("zbee_nwk.seclevel", level_pref(level)).keys(keys).fields(pcap, FIELDS)
}

fn hex8(v: &Value) -> String {
    format!("0x{:02x}", v.as_u64().unwrap())
}

/// Our values for the fields tshark reports as lists (NWK layer, outer APS, tunnelled APS).
struct Ours {
    counters: Vec<String>,
    keys_used: Vec<String>,
    aps_counters: Vec<String>,
    aps_cmds: Vec<String>,
    transported: Vec<String>,
}

fn collect(d: &Value) -> Ours {
    let mut o = Ours {
        counters: vec![],
        keys_used: vec![],
        aps_counters: vec![],
        aps_cmds: vec![],
        transported: vec![],
    };
    let sec = |s: &Value, o: &mut Ours| {
        if s.is_object() {
            o.counters.push(s["frame_counter"].to_string());
            if s["mic"] == "ok" {
                o.keys_used.push(s["key"].as_str().unwrap().to_string());
            }
        }
    };
    sec(&d["nwk"]["security"], &mut o);
    for aps in [&d["aps"], &d["tunnel"]["aps"]] {
        if !aps.is_object() {
            continue;
        }
        sec(&aps["security"], &mut o);
        o.aps_counters.push(aps["counter"].to_string());
        if aps["command_id"].is_u64() {
            o.aps_cmds.push(hex8(&aps["command_id"]));
        }
        if let Some(k) = aps["key"].as_str() {
            o.transported.push(k.to_string());
        }
    }
    o
}

/// Compares one frame; returns the command ids seen (for coverage).
/// With a MIC-only level tshark shows the clear payload without checking the MIC (so it names no
/// key); we still require our MIC check to pass (see `run_level`).
fn compare(frame: usize, level: SecurityLevel, ours: &Value, t: &Row, seen: &mut BTreeSet<String>) {
    let ctx = format!("frame {frame}: ours {ours}\ntshark {t:?}");
    assert_eq!(t["frame.number"], frame.to_string());
    assert!(t["_ws.malformed"].is_empty(), "malformed in tshark: {ctx}");
    assert!(t["_ws.expert.message"].is_empty(), "tshark expert info: {ctx}");
    let mac = &ours["mac"];
    assert_eq!(t["wpan.seq_no"], mac["seq"].to_string(), "MAC seq: {ctx}");
    for (field, ours_addr) in [("dst", &mac["dst"]), ("src", &mac["src"])] {
        if let Some(a) = ours_addr.as_str() {
            if a.starts_with("0x") {
                assert_eq!(t[&format!("wpan.{field}16")], a, "MAC {field}: {ctx}");
            } else {
                assert_eq!(t[&format!("wpan.{field}64")], a, "MAC {field}: {ctx}");
            }
        }
    }
    if let Some(p) = mac["dst_pan"].as_str() {
        assert_eq!(t["wpan.dst_pan"], p, "MAC dst PAN: {ctx}");
    }
    match mac["command_id"].as_u64() {
        Some(_) => {
            assert_eq!(t["wpan.cmd"], hex8(&mac["command_id"]), "MAC command: {ctx}");
            seen.insert(format!("mac {}", t["wpan.cmd"]));
        }
        None => assert!(t["wpan.cmd"].is_empty(), "{ctx}"),
    }
    let nwk = &ours["nwk"];
    if nwk.is_object() {
        assert_eq!(t["zbee_nwk.src"], nwk["src"].as_str().unwrap(), "{ctx}");
        assert_eq!(t["zbee_nwk.dst"], nwk["dst"].as_str().unwrap(), "{ctx}");
        assert_eq!(t["zbee_nwk.seqno"], nwk["seq"].to_string(), "{ctx}");
        assert_eq!(t["zbee_nwk.radius"], nwk["radius"].to_string(), "{ctx}");
        if nwk["command_id"].is_u64() {
            assert_eq!(t["zbee_nwk.cmd.id"], hex8(&nwk["command_id"]), "NWK command: {ctx}");
            seen.insert(format!("nwk {}", t["zbee_nwk.cmd.id"]));
        }
    } else {
        assert!(t["zbee_nwk.src"].is_empty(), "{ctx}");
    }
    let o = collect(ours);
    assert_eq!(t.list("zbee.sec.counter"), o.counters, "frame counters: {ctx}");
    if level.is_encrypted() {
        assert_eq!(t.list("zbee.sec.key"), o.keys_used, "keys that decrypted: {ctx}");
    }
    assert_eq!(t.list("zbee_aps.counter"), o.aps_counters, "APS counters: {ctx}");
    assert_eq!(t.list("zbee_aps.cmd.id"), o.aps_cmds, "APS commands: {ctx}");
    assert_eq!(t.list("zbee_aps.cmd.key"), o.transported, "transported keys: {ctx}");
    for c in t.list("zbee_aps.cmd.id") {
        seen.insert(format!("aps {c}"));
    }
}

fn run_level(level: SecurityLevel, min_frames: usize, seed: u64) -> (usize, BTreeSet<String>) {
    let opts = Options { seed, min_frames, level };
    let (corpus, pcap) = corpus_pcap(&format!("tshark-level{}.pcap", level.bits()), &opts);
    let mut args = corpus.key_args();
    args.extend(["--security-level".to_string(), level.bits().to_string()]);
    let ours = our_decode(&pcap, &args);
    let theirs = tshark(&pcap, &corpus.all_keys(), level);
    assert_eq!(ours.len(), corpus.frames.len());
    assert_eq!(theirs.len(), corpus.frames.len(), "tshark saw a different number of frames");
    let mut seen = BTreeSet::new();
    let mut secured_layers = 0;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert!(o.get("error").is_none(), "our decode error on frame {}: {o}", i + 1);
        compare(i + 1, level, o, t, &mut seen);
        let c = collect(o);
        // Every secured layer of our own corpus must decrypt with the keys we gave.
        assert_eq!(c.counters.len(), c.keys_used.len(), "frame {} not fully decrypted: {o}", i + 1);
        secured_layers += c.counters.len();
    }
    assert!(secured_layers > corpus.frames.len() / 2, "corpus must be mostly secured");
    (corpus.frames.len(), seen)
}

#[test]
fn tshark_agrees_on_corpus_at_level_5() {
    let (n, seen) = run_level(SecurityLevel::EncMic32, 320, 7);
    assert!(n >= 300);
    // Every MAC, NWK and APS command type we emit was recognised by tshark with the same id.
    for want in [
        "mac 0x01", "mac 0x02", "mac 0x03", "mac 0x04", "mac 0x06", "mac 0x07", "nwk 0x01",
        "nwk 0x02", "nwk 0x03", "nwk 0x04", "nwk 0x05", "nwk 0x06", "nwk 0x07", "nwk 0x08",
        "nwk 0x09", "nwk 0x0a", "nwk 0x0b", "nwk 0x0c", "nwk 0x0d", "aps 0x05", "aps 0x06",
        "aps 0x07", "aps 0x08", "aps 0x09", "aps 0x0e", "aps 0x0f", "aps 0x10",
    ] {
        assert!(seen.contains(want), "tshark never saw {want}; saw {seen:?}");
    }
}

/// Levels 1-3 and 6-7 (level 5 above). Level 0 has no security and level 4 (encryption without
/// a MIC) cannot tell a right key from a wrong one, so no tool can be checked on which key
/// decrypted; neither occurs in Zigbee PRO.
#[test]
fn tshark_agrees_at_every_mic_security_level() {
    for level in SecurityLevel::ALL {
        if level.mic_len() == 0 || level == SecurityLevel::EncMic32 {
            continue;
        }
        run_level(level, 60, 11 + level.bits() as u64);
    }
}

/// With only the well-known key, tshark and we learn exactly the same transported keys.
#[test]
fn tshark_learns_the_same_keys_from_the_well_known_key() {
    let (_, pcap) =
        corpus_pcap("tshark-wellknown.pcap", &Options { seed: 5, ..Options::default() });
    let ours = our_decode(&pcap, &[]);
    let theirs = tshark(&pcap, &[WELL_KNOWN.to_string()], SecurityLevel::EncMic32);
    let ours_keys: Vec<(usize, String)> = ours
        .iter()
        .enumerate()
        .flat_map(|(i, o)| collect(o).transported.into_iter().map(move |k| (i + 1, k)))
        .collect();
    let theirs_keys: Vec<(usize, String)> = theirs
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.list("zbee_aps.cmd.key").into_iter().map(move |k| (i + 1, k)))
        .collect();
    assert!(!ours_keys.is_empty());
    assert_eq!(ours_keys, theirs_keys);
}
