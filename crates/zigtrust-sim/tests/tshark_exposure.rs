//! An outside check of the Trust Center's exposure accounting: Wireshark, given only the
//! well-known key "ZigBeeAlliance09", reads network keys out of each scenario's capture (an
//! attacker listening from power-on, a mixed population, `adaptive`); every one of them must be
//! a key the Trust Center marks exposed.

use std::collections::BTreeSet;
use zigtrust_sim::*;
use zigtrust_testkit::tshark::{key_hex, Tshark};
use zigtrust_testkit::WELL_KNOWN;

/// Network keys tshark extracts with only the well-known key: keys of Transport-Key commands
/// of the network-key type, and keys it decrypted NWK frames with.
fn tshark_network_keys(pcap: &std::path::Path, o: &Outcome) -> BTreeSet<String> {
    let rows = Tshark::new().keys([WELL_KNOWN]).fields(
        pcap,
        &["frame.number", "zbee_aps.cmd.key_type", "zbee_aps.cmd.key", "zbee.sec.key"],
    );
    assert_eq!(rows.len() as u64, o.report.frames);
    let tc_keys: BTreeSet<String> =
        (0..=255u8).filter_map(|q| o.world.tc_key(q)).map(|k| k.to_hex()).collect();
    let mut keys = BTreeSet::new();
    for r in &rows {
        for (t, k) in r.list("zbee_aps.cmd.key_type").iter().zip(r.list("zbee_aps.cmd.key")) {
            // 0x01: standard network key (Zigbee spec table 4-18).
            if u8::from_str_radix(t.trim_start_matches("0x"), 16) == Ok(1) {
                keys.insert(key_hex(&k));
            }
        }
        // Keys used to decrypt: network keys at the NWK layer, link keys at the APS layer.
        for k in r.list("zbee.sec.key") {
            let k = key_hex(&k);
            if tc_keys.contains(&k) {
                keys.insert(k);
            }
        }
    }
    keys
}

fn check(pretend_nothing_exposed: bool) -> Result<(), String> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut seen_any = false;
    for s in SCENARIOS {
        let mut c = Config::new(s, "adaptive", 43);
        c.population = Some(Population::parse("ha12=2,z30=2,z30-wk=2").unwrap());
        c.attacker_from_s = Some(0);
        if *s == "home" {
            // Reboot, spoof and the key rotation (day 3), not the whole week.
            c.duration_s = Some(3 * 86_400 + 7_200);
        }
        let o = run(&c).unwrap();
        let pcap = dir.join(format!("sim-exposure-{s}.pcap"));
        std::fs::write(&pcap, pcap_bytes(&o.world)).unwrap();
        let mut exposed = o.report.exposed_keys.clone();
        if pretend_nothing_exposed {
            exposed.clear();
        }
        let exposed: BTreeSet<String> =
            exposed.iter().filter_map(|q| o.world.tc_key(*q)).map(|k| k.to_hex()).collect();
        let read = tshark_network_keys(&pcap, &o);
        seen_any |= !read.is_empty();
        let silent: Vec<&String> = read.difference(&exposed).collect();
        if !silent.is_empty() {
            let seqs: Vec<u8> = (0..=255u8)
                .filter(|q| o.world.tc_key(*q).is_some_and(|k| silent.contains(&&k.to_hex())))
                .collect();
            return Err(format!(
                "{s}: tshark read network key(s) {seqs:?} the Trust Center does not mark \
                 exposed (exposed: {:?}); report: {:?}",
                o.report.exposed_keys, o.report
            ));
        }
    }
    if !seen_any {
        return Err("tshark read no network key at all: the check would be vacuous".into());
    }
    Ok(())
}

#[test]
fn tshark_reads_only_keys_the_trust_center_marks_exposed() {
    check(false).unwrap();
}

/// The check above can fail: with nothing marked exposed, the keys tshark reads from the
/// `ha12` joins in front of the attacker are caught.
#[test]
fn tshark_exposure_check_can_fail() {
    let e = check(true).unwrap_err();
    assert!(e.starts_with("join-legacy: tshark read network key(s) [0]"), "{e}");
}
