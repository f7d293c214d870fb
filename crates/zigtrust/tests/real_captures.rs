//! Every real capture in ../shared/captures decodes, and the keys we find (transported keys) and
//! the keys that decrypt each frame equal what tshark extracts with the same keys — once with only
//! the well-known key, once with the keys MANIFEST.md lists for the capture.

mod common;

use common::*;
use zigtrust_testkit::tshark::Tshark;
use zigtrust_testkit::{shared_capture, WELL_KNOWN};

/// (file, keys from MANIFEST.md, install codes as EUI64:CODE, frames whose network key is unknown to everyone)
fn captures() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    vec![
        (
            "zoh-frames-nofcs.pcap",
            vec![
                "01030507090b0d0f00020406080a0c0d",
                "edc06b9a9fdb8e0185358892d7f1d468",
                "43a30be53feed52104fd82d657a3cb4a",
            ],
            vec![],
        ),
        (
            "zoh-frames-nofcs.pcapng",
            vec![
                "01030507090b0d0f00020406080a0c0d",
                "edc06b9a9fdb8e0185358892d7f1d468",
                "43a30be53feed52104fd82d657a3cb4a",
            ],
            vec![],
        ),
        ("zigator-01-phy-testing.pcap", vec![], vec![]),
        ("zigator-02-mac-testing.pcap", vec!["11111111111111111111111111111111"], vec![]),
        ("zigator-03-nwk-testing.pcap", vec!["11111111111111111111111111111111"], vec![]),
        (
            "zigator-04-aps-testing.pcap",
            vec!["11111111111111111111111111111111", "33333333333333333333333333333333"],
            vec!["00:00:00:00:00:00:00:00:55555555555555555555555555555555A9D1"],
        ),
        ("zigator-05-zdp-testing.pcap", vec!["11111111111111111111111111111111"], vec![]),
        ("zigator-06-zcl-testing.pcap", vec!["11111111111111111111111111111111"], vec![]),
        ("zbtk-trace-zep.pcap", vec!["52f0fe8052ebb35907daa243c95a2ff4"], vec![]),
        (
            "zbtk-vectors-zep.pcap",
            vec!["52f0fe8052ebb35907daa243c95a2ff4"],
            vec!["00:00:00:00:00:00:00:00:EE917C25E94123C227B93F4D50A0C34F373D"],
        ),
    ]
}

/// tshark's (transported keys, keys that decrypted) per frame.
fn tshark_keys(pcap: &std::path::Path, keys: &[String]) -> Vec<(String, String)> {
    Tshark::new()
        .keys(keys)
        .fields(pcap, &["zbee_aps.cmd.key", "zbee.sec.key"])
        .into_iter()
        .map(|r| (r["zbee_aps.cmd.key"].clone(), r["zbee.sec.key"].clone()))
        .collect()
}

fn ours_keys(frames: &[serde_json::Value]) -> Vec<(String, String)> {
    frames
        .iter()
        .map(|o| {
            let mut transported = vec![];
            let mut used = vec![];
            if o["nwk"]["security"]["mic"] == "ok" {
                used.push(o["nwk"]["security"]["key"].as_str().unwrap().to_string());
            }
            for aps in [&o["aps"], &o["tunnel"]["aps"]] {
                if aps["security"]["mic"] == "ok" {
                    used.push(aps["security"]["key"].as_str().unwrap().to_string());
                }
                if let Some(k) = aps["key"].as_str() {
                    transported.push(k.to_string());
                }
            }
            (transported.join(","), used.join(","))
        })
        .collect()
}

#[test]
fn real_captures_match_tshark() {
    let mut total_found = 0;
    for (file, keys, install_codes) in captures() {
        let pcap = shared_capture(file);
        for with_keys in [false, true] {
            let mut args = vec![];
            let mut tkeys = vec![WELL_KNOWN.to_string()];
            if with_keys {
                for k in &keys {
                    args.extend(["--key".to_string(), k.to_string()]);
                    tkeys.push(k.to_string());
                }
                for ic in &install_codes {
                    args.extend(["--install-code".to_string(), ic.to_string()]);
                    let p = zigtrust_crypto::InstallCodePayload::parse(ic).unwrap();
                    tkeys.push(p.code.link_key().to_hex());
                }
            }
            let ours = our_decode(&pcap, &args);
            let theirs = tshark_keys(&pcap, &tkeys);
            assert_eq!(ours.len(), theirs.len(), "{file}: frame count");
            let ours = ours_keys(&ours);
            for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert_eq!(
                    o.0,
                    t.0,
                    "{file} (keys given: {with_keys}) frame {}: transported keys",
                    i + 1
                );
                assert_eq!(
                    o.1,
                    t.1,
                    "{file} (keys given: {with_keys}) frame {}: decrypting keys",
                    i + 1
                );
                total_found += o.0.matches(',').count() + usize::from(!o.0.is_empty());
            }
        }
    }
    // MANIFEST: zoh frames 16/20 (x2 files, x2 runs), zigator-04 frames 2/5/6, zbtk-vectors frame 3.
    assert!(total_found >= 12, "only {total_found} transported keys found across the captures");
}

/// Facts MANIFEST.md states, checked on our own output.
#[test]
fn manifest_facts() {
    let zoh = our_decode(&shared_capture("zoh-frames-nofcs.pcap"), &[]);
    assert_eq!(zoh.len(), 32);
    assert_eq!(zoh[15]["aps"]["key"], "01030507090b0d0f00020406080a0c0d");
    assert_eq!(zoh[15]["aps"]["security"]["key_source"], "well-known");
    assert!(zoh[15]["nwk"]["security"].is_null(), "frame 16 is NWK-unsecured");
    assert_eq!(zoh[19]["aps"]["key"], WELL_KNOWN, "frame 20 transports the well-known key itself");
    let z4 = our_decode(&shared_capture("zigator-04-aps-testing.pcap"), &[]);
    assert!(
        z4.iter().all(|o| o["aps"]["key"].is_null()),
        "nothing decrypts with the well-known key alone"
    );
    let zb = our_decode(
        &shared_capture("zbtk-vectors-zep.pcap"),
        &[
            "--install-code".into(),
            "00:00:00:00:00:00:00:00:EE917C25E94123C227B93F4D50A0C34F373D".into(),
        ],
    );
    assert_eq!(zb[2]["aps"]["key"], "52f0fe8052ebb35907daa243c95a2ff4");
    assert_eq!(zb[2]["aps"]["security"]["key_source"], "install-code");
    assert_eq!(zb[9]["nwk"]["command"], "Rejoin Request");
    assert_eq!(zb[9]["nwk"]["src"], "0xa96b");
    assert_eq!(zb[9]["nwk"]["security"]["src64"], "28:db:a7:ff:fe:23:b0:7d");
    assert_eq!(zb[10]["nwk"]["command"], "Rejoin Response");
    let trace = our_decode(
        &shared_capture("zbtk-trace-zep.pcap"),
        &["--key".into(), "52f0fe8052ebb35907daa243c95a2ff4".into()],
    );
    let secured = trace.iter().filter(|o| o["nwk"]["security"].is_object()).count();
    let ok = trace.iter().filter(|o| o["nwk"]["security"]["mic"] == "ok").count();
    assert_eq!((secured, ok), (53, 53), "all 53 NWK-secured frames decrypt");
    let z3 = our_decode(&shared_capture("zigator-03-nwk-testing.pcap"), &[]);
    assert_eq!(z3[13]["nwk"]["command"], "Rejoin Request");
    assert!(z3[13]["nwk"]["security"].is_null(), "frame 14 is an unsecured (insecure) rejoin");
}
