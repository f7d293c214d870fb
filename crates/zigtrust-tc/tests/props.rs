//! Property test: under `insecure-rejoin = deny | adaptive`, no sequence of input frames
//! (genuine devices, spoofed rejoins, replays, mutated and random bytes) and admin actions makes
//! the Trust Center send the network key readable with the well-known key alone outside an open
//! permit-join window that allows legacy joins; every network key a passive attacker present
//! from power-on can read (learning keys transitively) is one the TC marks exposed; and
//! nothing makes it panic. The active attacker forges with the keys it read: Request-Keys and
//! high-counter frames in genuine devices' names. Afterwards no genuine device is stranded:
//! behaving as Zigbee devices do (rejoin when unanswered), each ends on the active key with its
//! frames accepted.

mod common;

use common::*;
use proptest::prelude::*;
use zigtrust_crypto::{CcmStar, Key};
use zigtrust_tc::model::*;
use zigtrust_tc::AdminCommand;
use zigtrust_wire::aps::{ApsCommand, ApsHeader, TransportKeyBody};
use zigtrust_wire::mac::{MacBody, MacFrame};
use zigtrust_wire::nwk::NwkHeader;
use zigtrust_wire::security::{open, AuxHeader, ZIGBEE_PRO_LEVEL};

/// True if `psdu` carries a network key that the well-known TC link key alone reveals.
fn leaks_under_well_known_key(psdu: &[u8]) -> bool {
    let Ok(mac) = MacFrame::parse(psdu) else { return false };
    let MacBody::Data(nwk) = mac.body else { return false };
    let Ok((h, n)) = NwkHeader::parse(nwk) else { return false };
    if h.security {
        return false; // needs a network key, not just the well-known key
    }
    let aps = &nwk[n..];
    let Ok((ah, hl)) = ApsHeader::parse(aps) else { return false };
    let body = if ah.security {
        let Ok((aux, _)) = AuxHeader::parse(&aps[hl..]) else { return false };
        let k = aux.key_id.derive(&Key::well_known_tc_link_key());
        match open(&CcmStar::new(&k), ZIGBEE_PRO_LEVEL, aps, hl, None) {
            Ok(o) => o.plaintext,
            Err(_) => return false,
        }
    } else {
        aps[hl..].to_vec()
    };
    matches!(ApsCommand::parse(&body), Ok(ApsCommand::TransportKey(tk)) if matches!(tk.body, TransportKeyBody::Network { .. }))
}

#[derive(Debug, Clone)]
enum Action {
    Join(u8),
    Talk(u8),
    TalkOldKey(u8),
    RejoinSecured(u8),
    RejoinUnsecured(u8),
    Spoof(u8),
    ForgeRequestKey(u8),
    ForgeHighCounter(u8),
    Replay,
    Mutate(usize, u8),
    Random(Vec<u8>),
    PermitJoin(u64),
    Policy(bool, bool),
    Rotate,
    Advance(u64),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0u8..6).prop_map(Action::Join),
        (0u8..6).prop_map(Action::Talk),
        (0u8..6).prop_map(Action::TalkOldKey),
        (0u8..6).prop_map(Action::RejoinSecured),
        (0u8..6).prop_map(Action::RejoinUnsecured),
        (0u8..6).prop_map(Action::Spoof),
        (0u8..6).prop_map(Action::ForgeRequestKey),
        (0u8..6).prop_map(Action::ForgeHighCounter),
        Just(Action::Replay),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Action::Mutate(i, b)),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(Action::Random),
        (0u64..300_000).prop_map(Action::PermitJoin),
        (any::<bool>(), any::<bool>()).prop_map(|(a, b)| Action::Policy(a, b)),
        Just(Action::Rotate),
        (0u64..700_000).prop_map(Action::Advance),
    ]
}

/// Every device hears every frame the TC sends (the harness's radio is one shared channel).
fn deliver(devs: &mut [Device], frames: &[zigtrust_tc::Transmit]) {
    for t in frames {
        for d in devs.iter_mut() {
            d.receive(&t.psdu);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn no_well_known_leak_outside_a_legacy_window(actions in proptest::collection::vec(action(), 1..50)) {
        let mut h = Harness::new();
        let ic = Key::from_bytes([0x5a; 16]);
        let mut devs: Vec<Device> = (0..6u64)
            .map(|i| {
                if i % 2 == 0 {
                    h.admin(AdminCommand::AddInstallCode { ieee: zigtrust_wire::ExtAddr(0x500 + i), link_key: ic.clone() });
                    Device::new(0x500 + i, Some(ic.clone()))
                } else {
                    Device::new(0x500 + i, None)
                }
            })
            .collect();
        let mut last_frame: Option<Vec<u8>> = None;
        let mut legacy_allowed = true;
        for a in actions {
            let a_copy = a.clone();
            let frame: Option<Vec<u8>> = match a {
                Action::Join(i) => Some(devs[i as usize].association_request()),
                Action::Talk(i) => devs[i as usize].network_key().is_some().then(|| devs[i as usize].data()),
                Action::TalkOldKey(i) => {
                    let d = &mut devs[i as usize];
                    d.nwk_keys.keys().next().copied().map(|s| {
                        let mut p = Vec::new();
                        ApsHeader::data_unicast(1, 6, 0x104, 1, 1).emit(&mut p);
                        d.secured(zigtrust_wire::nwk::NwkFrameType::Data, &p, Some(s))
                    })
                }
                Action::RejoinSecured(i) => devs[i as usize].network_key().is_some().then(|| devs[i as usize].rejoin_secured(None)),
                Action::RejoinUnsecured(i) => Some(devs[i as usize].rejoin_unsecured()),
                Action::Spoof(i) => {
                    let mut attacker = Device::new(0x500 + i as u64, None);
                    attacker.short = devs[i as usize].short;
                    Some(attacker.rejoin_unsecured())
                }
                Action::ForgeRequestKey(i) | Action::ForgeHighCounter(i) => {
                    let known = attacker_keys(&h.sent).0;
                    let mut a = Device::impersonating(&devs[i as usize], &known);
                    a.nwk_fc = if matches!(a_copy, Action::ForgeHighCounter(_)) { u32::MAX - 1 } else { 1 << 20 };
                    a.network_key().is_some().then(|| {
                        if matches!(a_copy, Action::ForgeHighCounter(_)) { a.data() } else { a.request_key() }
                    })
                }
                Action::Replay => last_frame.clone(),
                Action::Mutate(at, b) => last_frame.clone().map(|mut f| {
                    if !f.is_empty() {
                        let n = f.len();
                        f[at % n] ^= b | 1;
                    }
                    f
                }),
                Action::Random(bytes) => Some(bytes),
                Action::PermitJoin(ms) => {
                    h.admin(AdminCommand::PermitJoin { duration_ms: ms, ieee: None });
                    None
                }
                Action::Policy(legacy, adaptive) => {
                    legacy_allowed = legacy;
                    h.admin(AdminCommand::SetPolicy(Policy {
                        legacy_join: if legacy { LegacyJoinPolicy::AllowedWhilePermitJoin } else { LegacyJoinPolicy::InstallCodeRequired },
                        insecure_rejoin: if adaptive { InsecureRejoinPolicy::Adaptive } else { InsecureRejoinPolicy::Deny },
                        ..Policy::default()
                    }));
                    None
                }
                Action::Rotate => {
                    let _ = h.command(AdminCommand::RotateNetworkKey { deadline_ms: 5_000 });
                    h.drain();
                    None
                }
                Action::Advance(ms) => {
                    h.advance(ms);
                    None
                }
            };
            let before = h.sent.len();
            if let Some(f) = frame {
                let replies = h.rx(f.clone());
                for t in &replies {
                    for d in devs.iter_mut() {
                        d.receive(&t.psdu);
                    }
                }
                last_frame = Some(f);
            }
            let window_open = h.tc().permit_join_remaining().is_some() && legacy_allowed;
            for t in &h.sent[before..] {
                prop_assert!(
                    window_open || !leaks_under_well_known_key(&t.psdu),
                    "network key sent under the well-known key outside a legacy window: {}", t.what
                );
            }
        }
        // No genuine device is stranded: under `adaptive`, time passes and every device that
        // ever got a key does what Zigbee devices do when nothing answers them (a secured
        // rejoin with the key it holds, then a Trust Center rejoin), acknowledging what asks
        // for it; each must end holding the active key, with its frames accepted.
        // (Long enough for the resynchronising rotation, at most one an hour, to run: a device
        // whose counter the attacker poisoned recovers once the attacker stops.)
        h.admin(AdminCommand::SetPolicy(Policy::default()));
        for _ in 0..8 {
            let out = h.advance(11 * 60 * 1000);
            deliver(&mut devs, &out);
            for i in 0..devs.len() {
                if devs[i].nwk_keys.is_empty() {
                    continue;
                }
                // Its report: unanswered (dropped) or on a key that is no longer the network's,
                // it rejoins.
                let n = h.events.len();
                let f = devs[i].data();
                let out = h.rx(f);
                deliver(&mut devs, &out);
                let me = devs[i].ieee;
                let dropped = |h: &Harness, n: usize| {
                    h.events[n..].iter().any(|e| matches!(e, zigtrust_tc::Event::ReplayDropped { ieee, .. } if *ieee == me))
                };
                let current = |h: &Harness, d: &Device| {
                    d.network_key() == h.tc().network_key(h.tc().active_key_seq()).map(|k| &k.key)
                };
                if dropped(&h, n) || !current(&h, &devs[i]) {
                    let n = h.events.len();
                    let f = devs[i].rejoin_secured(None);
                    let out = h.rx(f);
                    deliver(&mut devs, &out);
                    if dropped(&h, n) || !current(&h, &devs[i]) || devs[i].rejoin_status != Some(0) {
                        let f = devs[i].rejoin_unsecured();
                        let out = h.rx(f);
                        deliver(&mut devs, &out);
                    }
                }
                for c in std::mem::take(&mut devs[i].acks_due) {
                    let f = devs[i].ack(c);
                    let out = h.rx(f);
                    deliver(&mut devs, &out);
                }
                devs[i].rejoin_status = None;
            }
        }
        let n = h.events.len();
        for d in devs.iter_mut().filter(|d| !d.nwk_keys.is_empty()) {
            prop_assert_eq!(
                d.network_key(),
                h.tc().network_key(h.tc().active_key_seq()).map(|k| &k.key),
                "device {} stranded", d.ieee
            );
            let f = d.data();
            h.rx(f);
        }
        prop_assert!(
            !h.events[n..].iter().any(|e| matches!(e, zigtrust_tc::Event::ReplayDropped { .. })),
            "a genuine device's frames are dropped: {:?}", &h.events[n..]
        );

        let (read, _) = attacker_keys(&h.sent);
        for k in read {
            let rec = (0..=255u8).filter_map(|s| h.tc().network_key(s)).find(|r| r.key == k);
            prop_assert!(rec.is_some_and(|r| r.exposed), "the attacker read a key the TC marks clean (a silent leak)");
        }
    }
}
