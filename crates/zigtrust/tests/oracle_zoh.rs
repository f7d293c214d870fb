//! Oracle test against zigbee-on-host (npm, GPL-3.0, an independent TypeScript codec and CCM*),
//! run as a separate node process through `oracles/zoh/*.mjs` — nothing of it is linked in.
//! Both directions:
//! 1. zigbee-on-host decodes and decrypts our seeded corpus to the same fields as we do;
//! 2. frames zigbee-on-host's encoders build are decoded by `zigtrust decode` to the values that
//!    were handed to those encoders.
//!
//! Fails (never skips) when node or the package is missing (`scripts/test` installs them).

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use zigtrust_capture::{PcapWriter, Timestamp};
use zigtrust_crypto::decode_hex_loose;
use zigtrust_testkit::corpus::Options;
use zigtrust_testkit::zoh;
use zigtrust_testkit::WELL_KNOWN;

/// Every field present in `theirs` must equal ours (zigbee-on-host omits what it doesn't decode).
fn assert_subset(path: &str, theirs: &Value, ours: &Value, ctx: &str) {
    match theirs {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{path}.{k}");
                assert!(ours.get(k).is_some(), "{p} missing in ours (theirs {v}): {ctx}");
                assert_subset(&p, v, &ours[k], ctx);
            }
        }
        _ => assert_eq!(theirs, ours, "{path} differs: {ctx}"),
    }
}

#[test]
fn zigbee_on_host_decodes_our_corpus_like_we_do() {
    let (corpus, pcap) = corpus_pcap("zoh-corpus.pcap", &Options { seed: 9, ..Options::default() });
    let ours = our_decode(&pcap, &corpus.key_args());
    // zigbee-on-host does not learn keys: hand it every key our decode used or found.
    let mut link_keys = vec![WELL_KNOWN.to_string()];
    link_keys.extend(corpus.install_codes.iter().map(|(_, ic)| ic.link_key().to_hex()));
    for o in &ours {
        for aps in [&o["aps"], &o["tunnel"]["aps"]] {
            if let (Some(k), Some(3 | 4)) = (aps["key"].as_str(), aps["key_type_id"].as_u64()) {
                if !link_keys.iter().any(|x| x == k) {
                    link_keys.push(k.to_string());
                }
            }
        }
    }
    let network_keys: Vec<String> = corpus.network_keys.iter().map(|k| k.to_hex()).collect();
    let frames: Vec<Value> = corpus
        .frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({"frame": i + 1, "psdu": zigtrust_crypto::hex(&f.psdu),
                   "network_keys": network_keys, "link_keys": link_keys})
        })
        .collect();
    let theirs = zoh::run("decode.mjs", Some(&json!({ "frames": frames })));
    assert_eq!(theirs.len(), ours.len());
    let (mut decrypted, mut ours_decrypted) = (0, 0);
    for (t, o) in theirs.iter().zip(&ours) {
        let ctx = format!("\nzoh  {t}\nours {o}");
        assert!(t.get("error").is_none(), "zigbee-on-host failed on our frame: {ctx}");
        assert_subset("", t, o, &ctx);
        decrypted += t.to_string().matches("\"mic\":\"ok\"").count();
        ours_decrypted += o.to_string().matches("\"mic\":\"ok\"").count();
    }
    // zigbee-on-host does not decode tunnelled frames, so it verifies one layer fewer there.
    let tunnels = ours.iter().filter(|o| o["tunnel"]["aps"]["security"]["mic"] == "ok").count();
    assert_eq!(decrypted + tunnels, ours_decrypted, "secured layers verified by zoh vs us");
    assert!(decrypted > 200, "zigbee-on-host verified only {decrypted} secured layers");
}

#[test]
fn we_decode_what_zigbee_on_host_encodes() {
    let encoded = zoh::run("encode.mjs", None);
    assert!(encoded.len() >= 20);
    // Frames that share a key set go into one capture, decoded with exactly those keys.
    let mut groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &encoded {
        let keys = format!("{}|{}", e["network_keys"], e["link_keys"]);
        groups.entry(keys).or_default().push(e);
    }
    let mut checked = 0;
    for (gi, frames) in groups.values().enumerate() {
        let path = tmp(&format!("zoh-encoded-{gi}.pcap"));
        let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
        for (i, e) in frames.iter().enumerate() {
            let psdu = decode_hex_loose(e["psdu"].as_str().unwrap()).unwrap();
            w.write_frame(Timestamp::new(1_700_000_000 + i as i64, 0), &psdu).unwrap();
        }
        w.finish().unwrap();
        let mut args = Vec::new();
        for k in frames[0]["network_keys"]
            .as_array()
            .unwrap()
            .iter()
            .chain(frames[0]["link_keys"].as_array().unwrap())
        {
            args.push("--key".to_string());
            args.push(k.as_str().unwrap().to_string());
        }
        let ours = our_decode(&path, &args);
        for (e, o) in frames.iter().zip(&ours) {
            let ctx = format!("{}\nexpected {}\nours {o}", e["name"], e["expect"]);
            assert!(o.get("error").is_none(), "our decode failed: {ctx}");
            assert_subset("", &e["expect"], o, &ctx);
            checked += 1;
        }
    }
    assert_eq!(checked, encoded.len());
}
