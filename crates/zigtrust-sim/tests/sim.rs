//! Simulator tests: determinism, the expected results that hold, and a tshark realism
//! check of every scenario's capture (small device counts).

use zigtrust_sim::*;
use zigtrust_testkit::tshark::{key_hex, Tshark};
use zigtrust_testkit::WELL_KNOWN;

fn go(s: &str, p: &str) -> Outcome {
    run(&Config::new(s, p, 1)).unwrap()
}

#[test]
fn same_seed_same_pcap_and_report() {
    let a = run(&Config::new("hub-reboot", "adaptive", 7)).unwrap();
    let b = run(&Config::new("hub-reboot", "adaptive", 7)).unwrap();
    assert_eq!(pcap_bytes(&a.world), pcap_bytes(&b.world));
    let (mut ra, mut rb) = (a.report.clone(), b.report.clone());
    ra.wall_time_s = 0.0;
    rb.wall_time_s = 0.0;
    assert_eq!(report_json(&ra), report_json(&rb));
    let c = run(&Config::new("hub-reboot", "adaptive", 8)).unwrap();
    assert_ne!(pcap_bytes(&a.world), pcap_bytes(&c.world));
}

/// The claim for `adaptive`: no leak and no stranded device, at the default device
/// behaviour and with devices that try 0 or 3 secured rejoins before falling back to a Trust
/// Center rejoin.
#[test]
fn adaptive_no_leak_no_stranding() {
    for attempts in [1, 0, 3] {
        for s in
            ["join-z30", "hub-reboot", "router-loss", "key-rotation", "spoofed-rejoin", "replay"]
        {
            let mut c = Config::new(s, "adaptive", 1);
            c.knobs.secured_rejoin_attempts = attempts;
            let r = run(&c).unwrap().report;
            assert_eq!(r.joined, r.devices, "{s} (secured attempts {attempts}): {r:?}");
            assert!(!r.network_key_leaked, "{s} (secured attempts {attempts}): {r:?}");
            assert_eq!(r.stranded, 0, "{s} (secured attempts {attempts}): {r:?}");
        }
    }
    let r = go("spoofed-rejoin", "adaptive").report;
    assert!(r.spoof_alerts > 0 && r.spoofs_sent == 2, "{r:?}");
    let r = go("replay", "adaptive").report;
    assert!(r.replays_sent > 0 && r.replays_dropped > 0, "{r:?}");
}

#[test]
fn legacy_joins_leak_only_inside_the_permit_join_window() {
    for p in POLICIES {
        let r = go("join-legacy", p).report;
        assert!(r.network_key_leaked, "{r:?}");
        // The window: opened at 1 s for 254 s.
        assert!(r.leaks.iter().all(|l| l.time_s > 1.0 && l.time_s < 255.0), "{r:?}");
    }
    let mut c = Config::new("join-legacy", "adaptive", 1);
    c.legacy_join = "install-code-required".into();
    let r = run(&c).unwrap().report;
    assert!(!r.network_key_leaked && r.joined == 0, "{r:?}");
}

#[test]
fn allow_leaks_the_key_to_a_spoofed_rejoin() {
    let r = go("spoofed-rejoin", "allow").report;
    assert!(r.network_key_leaked, "{r:?}");
    assert!(r.leaks[0].time_s >= 900.0, "{r:?}");
    assert!(r.leaks[0].how.contains("well-known"), "{r:?}");
}

/// The anchors' dilemma under `deny`: after a key rotation devices that slept through it are
/// stranded; after a hub reboot, devices that fall back to a Trust Center rejoin (here: devices
/// that try no secured rejoin first) are stranded. `adaptive` strands none of them (above).
#[test]
fn deny_strands_devices_after_key_rotation_and_hub_reboot() {
    let r = go("key-rotation", "deny").report;
    assert!(r.stranded > 0 && !r.network_key_leaked, "key-rotation: {r:?}");
    let mut c = Config::new("hub-reboot", "deny", 1);
    c.knobs.secured_rejoin_attempts = 0;
    let r = run(&c).unwrap().report;
    assert!(r.stranded > 0 && !r.network_key_leaked, "hub-reboot: {r:?}");
}

/// tshark dissects each scenario's capture with no malformed frame or expert error, and the
/// network keys it extracts with only the well-known key are the ones our attacker reports.
#[test]
fn tshark_reads_every_scenario() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (s, p) in [
        ("join-legacy", "adaptive"),
        ("join-z30", "adaptive"),
        ("hub-reboot", "adaptive"),
        ("router-loss", "adaptive"),
        ("key-rotation", "allow"),
        ("spoofed-rejoin", "allow"),
        ("replay", "adaptive"),
    ] {
        let mut c = Config::new(s, p, 3);
        c.duration_s = Some(1500);
        let mut o = run(&c).unwrap();
        let pcap = dir.join(format!("sim-{s}-{p}.pcap"));
        std::fs::write(&pcap, pcap_bytes(&o.world)).unwrap();
        let fields = ["frame.number", "_ws.malformed", "_ws.expert.message", "zbee_aps.cmd.key"];
        let tshark = |keys: &[String]| Tshark::new().keys(keys).fields(&pcap, &fields);
        // All keys: nothing malformed, no expert message at all.
        let mut all: Vec<String> = o.network_keys.iter().map(|k| k.to_hex()).collect();
        all.push(WELL_KNOWN.into());
        for w in 1..o.world.nodes.len() {
            if let Some(d) = o.world.dev(w) {
                all.extend(d.install_key.iter().map(|k| k.to_hex()));
                all.extend(d.tclk.iter().map(|k| k.to_hex()));
            }
        }
        let rows = tshark(&all);
        assert_eq!(rows.len() as u64, o.report.frames, "{s}");
        for r in &rows {
            assert!(r["_ws.malformed"].is_empty(), "{s}/{p}: malformed: {r:?}");
            assert!(r["_ws.expert.message"].is_empty(), "{s}/{p}: expert: {r:?}");
        }
        // Only the well-known key: the network keys tshark extracts = what the attacker learned.
        // The attacker of "after pairing" scenarios arrives later: tshark reads what it heard,
        // from then on (reading the pairing too, tshark would know keys the attacker never
        // heard, and read later frames under them).
        let from = o.world.attacker.as_ref().unwrap().listen_from;
        o.world.capture.retain(|c| c.time >= from);
        std::fs::write(&pcap, pcap_bytes(&o.world)).unwrap();
        let rows = tshark(&[WELL_KNOWN.to_string()]);
        let mut seen: Vec<String> = Vec::new();
        for r in &rows {
            assert!(r["_ws.malformed"].is_empty(), "{s}/{p}: malformed: {r:?}");
            for k in r.list("zbee_aps.cmd.key") {
                let k = key_hex(&k);
                if o.network_keys.iter().any(|n| n.to_hex() == k) && !seen.contains(&k) {
                    seen.push(k);
                }
            }
        }
        seen.sort();
        let mut leaked: Vec<String> =
            o.report.leaks.iter().map(|l| o.network_keys[l.key_seq as usize].to_hex()).collect();
        leaked.sort();
        assert_eq!(seen, leaked, "{s}/{p}: tshark vs attacker");
    }
}
