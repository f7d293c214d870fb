//! Unit tests: counter window, severities, and the simulator's ground truth.

use super::*;
use zigtrust_sim::{run, Config, POLICIES, SCENARIOS};

#[test]
fn counter_window_tells_replays_from_regressions() {
    let mut s = CounterState::new(10, 0);
    assert!(matches!(s.check(0, 11), CounterVerdict::New));
    assert!(matches!(s.check(0, 10), CounterVerdict::Replay));
    assert!(matches!(s.check(0, 5), CounterVerdict::Regression));
    assert!(matches!(s.check(0, 5), CounterVerdict::Replay));
    assert!(matches!(s.check(0, 200), CounterVerdict::New));
    assert!(matches!(s.check(0, 11), CounterVerdict::Replay));
    assert!(matches!(s.check(0, 130), CounterVerdict::Regression));
    assert!(matches!(s.check(0, 199 + COUNTER_WINDOW), CounterVerdict::New));
    assert!(matches!(s.check(0, 200), CounterVerdict::Replay));
    assert!(matches!(s.check(0, 199), CounterVerdict::Regression));
    assert!(matches!(s.check(0, 199), CounterVerdict::Regression), "outside the window: unknown");
    assert!(matches!(s.check(0, u32::MAX), CounterVerdict::New));
    assert!(
        matches!(s.check(1, u32::MAX), CounterVerdict::New),
        "a quick re-send is a retransmission"
    );
    assert!(matches!(s.check(RETRANSMIT_WINDOW_US + 2, u32::MAX), CounterVerdict::Replay));
}

#[test]
fn severity_names_round_trip() {
    for s in Severity::ALL {
        assert_eq!(Severity::parse(s.name()), Some(s));
    }
    assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
    assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
    assert_eq!(Severity::parse("severe"), None);
}

#[test]
fn garbage_and_bad_fcs_frames_are_counted_not_trusted() {
    let mut a = Auditor::new(Keyring::new());
    a.feed(1, 0, &[], true);
    a.feed(2, 1, &[0xff; 40], true);
    a.feed(3, 2, &[0x41, 0x88, 0, 0xff, 0xff], false);
    let r = a.report();
    assert_eq!(r.stats.frames, 3);
    assert_eq!(r.stats.bad_fcs, 1);
    assert!(r.findings.is_empty());
}

/// A scenario run small enough for a debug test.
pub(crate) fn small(scenario: &str, policy: &str) -> Config {
    let mut c = Config::new(scenario, policy, 7);
    if scenario == "home" {
        c.devices = Some(8);
    }
    c
}

/// Audits the simulator's capture from the moment its attacker started listening (the
/// attacker's vantage point, which is what its leak ground truth is measured from).
pub(crate) fn audit_from(o: &zigtrust_sim::Outcome, from_us: u64) -> Report {
    let mut a = Auditor::new(Keyring::new());
    for (i, c) in o.world.capture.iter().enumerate() {
        if c.time >= from_us {
            a.feed(i as u64 + 1, c.time as i64, &c.psdu, true);
        }
    }
    a.report()
}

/// `whole`: the attacker listens from t = 0, so the audit of the whole pcap must match.
fn check(scenario: &str, policy: &str, whole: bool) -> String {
    let mut cfg = small(scenario, policy);
    if whole {
        cfg.attacker_from_s = Some(0);
    }
    let o = run(&cfg).unwrap();
    let from = o.world.attacker.as_ref().unwrap().listen_from;
    assert!(!whole || from == 0);
    let r = audit_from(&o, from);
    let mut ours: Vec<(u8, u64)> = r
        .of_kind(kind::NETWORK_KEY_LEAKED)
        .filter(|f| f.severity == Severity::Critical)
        .map(|f| (f.key_seq.unwrap(), f.frames[0]))
        .collect();
    ours.sort_by_key(|x| x.1);
    let truth: Vec<(u8, u64)> = o.report.leaks.iter().map(|l| (l.key_seq, l.frame)).collect();
    assert_eq!(ours, truth, "{scenario}/{policy}: leaks (key seq, first frame)");
    // Leaked keys are the Trust Center's real keys.
    for f in r.of_kind(kind::NETWORK_KEY_LEAKED) {
        let k = f.key.as_ref().unwrap();
        assert!(o.network_keys.iter().any(|n| &n.to_hex() == k), "{scenario}/{policy}");
    }
    let spoofs: u64 = r.of_kind(kind::SPOOFED_REJOIN).map(|f| f.count).sum();
    assert_eq!(spoofs, o.report.spoofs_sent, "{scenario}/{policy}: suspected spoofed rejoins");
    let replays: u64 = r.of_kind(kind::REPLAY).map(|f| f.count).sum();
    if o.report.replays_sent == 0 {
        assert_eq!(replays, 0, "{scenario}/{policy}: no replays sent, none may be reported");
    } else {
        assert!(replays > 0, "{scenario}/{policy}: replays sent but none found");
    }
    format!(
        "{scenario}/{policy} (whole pcap: {whole}): leaks {} spoofs {spoofs} replays found {replays} of {} sent",
        truth.len(),
        o.report.replays_sent
    )
}

#[test]
fn every_scenario_and_policy_matches_the_simulators_ground_truth() {
    let rows: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = SCENARIOS
            .iter()
            .flat_map(|sc| POLICIES.iter().map(move |p| (sc, p)))
            .flat_map(|(sc, p)| [false, true].map(|w| (sc, p, w)))
            .map(|(sc, p, w)| s.spawn(move || check(sc, p, w)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(rows.len(), 2 * SCENARIOS.len() * POLICIES.len());
    eprintln!("{}", rows.join("\n"));
}

/// A unique link key sent under the key-load key of the well-known key is readable by anyone:
/// reported as leaked (and what travels under it after that leaks too).
#[test]
fn a_link_key_sent_under_a_public_key_is_reported_leaked() {
    use zigtrust_wire::aps::{ApsHeader, TransportKey};
    use zigtrust_wire::mac::{Address, MacBody, MacFrame, MacHeader};
    use zigtrust_wire::nwk::{NwkFrameType, NwkHeader};
    use zigtrust_wire::security::{aps_command_frame, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL};
    use zigtrust_wire::{PanId, ShortAddr};
    let tc = ExtAddr(0x000d_6f00_0000_0001);
    let dev = ExtAddr(0x0012_4b00_0000_0042);
    let frame = |seq: u8, cmd: ApsCommand, key_id: KeyId, base: &Key| -> Vec<u8> {
        let aux = AuxHeader::aps(key_id, u32::from(seq), Some(tc));
        let aps = aps_command_frame(
            &ApsHeader::command(seq, true),
            &cmd,
            Some((&aux, base)),
            ZIGBEE_PRO_LEVEL,
            Some(tc),
        )
        .unwrap();
        let mut nwk = Vec::new();
        NwkHeader::new(NwkFrameType::Data, ShortAddr(0x1234), ShortAddr::COORDINATOR, 30, seq)
            .emit(&mut nwk);
        nwk.extend_from_slice(&aps);
        let hdr = MacHeader::data(
            seq,
            PanId(0x1a62),
            Address::Short(ShortAddr(0x1234)),
            Address::Short(ShortAddr::COORDINATOR),
            true,
        );
        let mut out = Vec::new();
        MacFrame { header: hdr, body: MacBody::Data(&nwk) }.emit(&mut out);
        out
    };
    let tclk = Key::from_bytes([0x42; 16]);
    let nwk_key = Key::from_bytes([0x17; 16]);
    let f1 = frame(
        1,
        ApsCommand::TransportKey(TransportKey::trust_center_link_key(tclk.clone(), dev, tc)),
        KeyId::KeyLoad,
        &Key::well_known_tc_link_key(),
    );
    let f2 = frame(
        2,
        ApsCommand::TransportKey(TransportKey::network(nwk_key.clone(), 3, dev, tc)),
        KeyId::KeyTransport,
        &tclk,
    );
    let mut a = Auditor::new(Keyring::new());
    a.feed(1, 0, &f1, true);
    a.feed(2, 1_000_000, &f2, true);
    let r = a.report();
    let link: Vec<_> = r.of_kind(kind::LINK_KEY_LEAKED).collect();
    assert_eq!(link.len(), 1, "{:?}", r.findings);
    assert_eq!(link[0].ieee, Some(dev));
    assert_eq!(link[0].key.as_deref(), Some(tclk.to_hex().as_str()));
    assert!(
        r.of_kind(kind::NETWORK_KEY_LEAKED).any(|f| f.key.as_deref() == Some(&nwk_key.to_hex())),
        "the network key sent under the leaked link key leaks too: {:?}",
        r.findings
    );
}
