//! The Trust Center's timing and framing rules at their boundaries: windows and intervals end
//! exactly when the crate docs say, frames are addressed and flagged as the radio needs.

mod common;

use common::*;
use zigtrust_crypto::CcmStar;
use zigtrust_crypto::Key;
use zigtrust_tc::model::*;
use zigtrust_tc::{
    AdminCommand, Event, Transmit, APS_ACK_WAIT_MS, APS_ACK_WAIT_SLEEPY_MS, APS_MAX_FRAME_RETRIES,
    MAX_PERMIT_JOIN_MS, NWK_COUNTER_ROTATE_AT, RATE_WINDOW_MS, RESCUE_INTERVAL_MS, SPOOF_WINDOW_MS,
    STALE_COUNTERS_KEPT,
};
use zigtrust_wire::aps::ApsHeader;
use zigtrust_wire::mac::{Address, MacBody, MacFrame};
use zigtrust_wire::nwk::{NwkFrameType, NwkHeader};
use zigtrust_wire::security::{open, AuxHeader, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::{CapabilityInfo, ExtAddr, ShortAddr};

fn spoofs(h: &Harness) -> usize {
    h.events.iter().filter(|e| matches!(e, Event::SuspectedSpoof { .. })).count()
}

/// A well-known-key rejoin is a suspected spoof while the device spoke under the current key
/// less than 10 minutes ago, and not after.
#[test]
fn the_spoof_window_is_ten_minutes() {
    assert_eq!(SPOOF_WINDOW_MS, 600_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = legacy(&mut h, 0x5001);
    let f = d.data();
    h.exchange(&mut d, f);
    let spoke = h.now;
    let mut a = Device::new(d.ieee.0, None);
    a.short = d.short;
    let f = a.rejoin_unsecured();
    h.now = spoke + SPOOF_WINDOW_MS - 1 - 10; // `rx` adds 10 ms
    h.rx(f);
    assert_eq!(spoofs(&h), 1);
    let f = a.rejoin_unsecured();
    h.now = spoke + SPOOF_WINDOW_MS - 10;
    h.rx(f);
    assert_eq!(spoofs(&h), 1, "past the window a rejoin is not taken for a spoof");
}

/// Keys under the well-known key: 3 a minute per device; the minute is a sliding 60 s.
#[test]
fn the_rate_window_is_one_minute() {
    assert_eq!(RATE_WINDOW_MS, 60_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let mut l = legacy(&mut h, 0x5101);
    h.advance(300_000);
    h.admin(policy(|p| p.insecure_rejoin = InsecureRejoinPolicy::AllowLeakingKey));
    for _ in 0..3 {
        let f = l.rejoin_unsecured();
        h.rx(f);
    }
    let limited = |h: &Harness| {
        h.events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::RejoinDenied { reason: zigtrust_tc::DenyReason::RateLimited, .. }
                )
            })
            .count()
    };
    h.advance(RATE_WINDOW_MS - 1_000);
    let f = l.rejoin_unsecured();
    h.rx(f);
    assert_eq!(limited(&h), 1, "still inside the minute");
    h.advance(2_000);
    let f = l.rejoin_unsecured();
    h.rx(f);
    assert_eq!(limited(&h), 1, "the first three left the window");
}

/// A device on an old key is rescued at most once per 30 s at the same place.
#[test]
fn a_rescue_is_repeated_after_thirty_seconds() {
    assert_eq!(RESCUE_INTERVAL_MS, 30_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x5201);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 0 });
    h.advance(1);
    assert_eq!(h.tc().active_key_seq(), 1);
    let old = |d: &mut Device| {
        let p = d.data_payload();
        d.secured(NwkFrameType::Data, &p, Some(0))
    };
    let f = old(&mut d);
    let out = h.rx(f);
    let rescued = h.now;
    assert_eq!(sent_what(&out, "transport-key"), 1);
    assert_eq!(sent_what(&out, "rejoin-response"), 0, "a data frame is not a rejoin");
    h.now = rescued + RESCUE_INTERVAL_MS - 1 - 10;
    let f = old(&mut d);
    assert_eq!(sent_what(&h.rx(f), "transport-key"), 0);
    h.now = rescued + RESCUE_INTERVAL_MS - 10;
    let f = old(&mut d);
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 1);
    // Rescued, it speaks under the new key; a stale frame after that never moves the key it
    // is known to hold backwards.
    for t in &out {
        d.receive(&t.psdu);
    }
    assert_eq!(d.active_seq, Some(1));
    let f = d.data();
    h.rx(f);
    assert_eq!(h.tc().device(d.ieee).unwrap().last_key_seq, Some(1));
    let f = old(&mut d);
    h.rx(f);
    assert_eq!(h.tc().device(d.ieee).unwrap().last_key_seq, Some(1));
}

/// Permit-join windows are capped at 254 s; a user rejoin window lasts what was asked.
#[test]
fn windows_last_what_the_docs_say() {
    assert_eq!(MAX_PERMIT_JOIN_MS, 254_000);
    let mut h = Harness::new();
    h.admin(AdminCommand::PermitJoin { duration_ms: 600_000, ieee: None });
    assert_eq!(h.tc().permit_join_remaining(), Some(254_000));
    h.advance(253_000);
    assert!(h.tc().permit_join_remaining().is_some());
    h.advance(1_000);
    assert_eq!(h.tc().permit_join_remaining(), None);
    assert_eq!(h.tc().rejoin_window_remaining(), None);
    h.admin(AdminCommand::OpenRejoinWindow { duration_ms: 600_000 });
    h.advance(100_000);
    assert_eq!(h.tc().rejoin_window_remaining(), Some(500_000));
    h.advance(500_000);
    assert_eq!(h.tc().rejoin_window_remaining(), None);
    let p = Policy { rotate_after_legacy_window: true, ..Policy::default() };
    h.admin(AdminCommand::SetPolicy(p.clone()));
    assert_eq!(h.tc().policy(), &p);
}

/// The NWK counter rotation starts at the threshold, not before.
#[test]
fn counter_rotation_starts_at_the_threshold() {
    assert_eq!(NWK_COUNTER_ROTATE_AT, u32::MAX - (1 << 24));
    let mut h = Harness::new();
    open_join(&mut h);
    let _d = z30_joined(&mut h, 0x5301);
    h.writes_mut().push(StoreWrite::CounterLease {
        kind: CounterKind::Nwk,
        until: NWK_COUNTER_ROTATE_AT - 100,
    });
    h.restart(3);
    h.advance(10);
    assert!(h.tc().rotation_pending().is_none(), "below the threshold nothing happens");
    for _ in 0..50 {
        h.send_application(ExtAddr(0x5301), &[0, 1]);
    }
    h.drain();
    h.advance(10);
    assert!(h.tc().rotation_pending().is_none());
    for _ in 0..60 {
        h.send_application(ExtAddr(0x5301), &[0, 1]);
    }
    h.drain();
    h.advance(10);
    assert!(h.tc().rotation_pending().is_some(), "at the threshold the TC rotates");
}

/// Unicasts ask for a MAC ack, broadcasts do not; frames for sleepy devices wait for their
/// poll (indirect), frames for routers do not; frames for a device behind a router go to the
/// router.
#[test]
fn frames_are_addressed_and_flagged_for_the_radio() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut r = z30_joined(&mut h, 0x5401);
    let mut s = z30(&mut h, 0x5402);
    s.capability = CapabilityInfo::SLEEPY_END_DEVICE;
    join(&mut h, &mut s);
    // A sleepy child that joined through the router.
    let child = ExtAddr(0x5403);
    h.admin(AdminCommand::AddInstallCode { ieee: child, link_key: Key::from_bytes(IC_KEY) });
    let f = r.update_device(child, ShortAddr(0x7777), 1);
    h.exchange(&mut r, f);
    assert_eq!(h.tc().device(child).unwrap().parent, r.short);
    let before = h.sent.len();
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 0 });
    h.advance(1);
    let frames = &h.sent[before..];
    let dst_of = |t: &zigtrust_tc::Transmit| {
        let m = MacFrame::parse(&t.psdu).unwrap();
        let MacBody::Data(_) = m.body else { panic!("not data") };
        (m.header.dst_addr, m.header.ack_request)
    };
    let mut seen = 0;
    for t in frames {
        let (dst, ack) = dst_of(t);
        match dst {
            Address::Short(a) if a.is_broadcast() => {
                assert!(!ack, "no MAC ack for a broadcast");
                assert!(!t.indirect);
            }
            Address::Short(a) => {
                assert!(ack, "unicasts ask for a MAC ack");
                assert_eq!(t.indirect, a == s.short, "only the sleepy device's frame waits");
                assert_ne!(a, ShortAddr(0x7777), "the child is reached through its router");
                seen += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, 3, "the rotation key went to the router, the sleepy device and the child");
}

/// A device records counters for at most 8 older keys.
#[test]
fn older_keys_counters_are_bounded() {
    assert_eq!(STALE_COUNTERS_KEPT, 8);
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x5501);
    for _ in 0..10 {
        let f = d.data();
        h.exchange(&mut d, f);
        let before = h.sent.len();
        h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
        let frames = h.sent[before..].to_vec();
        take_rotation_key(&mut h, &mut d, &frames);
    }
    let rec = h.tc().device(d.ieee).unwrap();
    assert_eq!(rec.last_key_seq, Some(10));
    assert_eq!(rec.stale_nwk_counters.len(), STALE_COUNTERS_KEPT);
}

/// A device that joined under the well-known key but holds a unique TCLK (written by an older
/// build, which ran such updates) counts as having a public link key.
#[test]
fn a_unique_key_obtained_under_public_keys_counts_as_public() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = legacy(&mut h, 0x5601);
    let mut snap = h.snapshot();
    let rec = snap.devices.iter_mut().find(|r| r.ieee == d.ieee).unwrap();
    let tclk = Key::from_bytes([0x33; 16]);
    rec.tclk = Some(tclk.clone());
    rec.tclk_verified = true;
    h.restore(snap, 4);
    d.tclk = Some(tclk);
    let f = d.request_key();
    let out = h.exchange(&mut d, f);
    assert_eq!(sent_what(&out, "transport-key-tclk"), 0, "no update under public keys");
    h.drain();
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
    assert!(h.tc().network_key(1).unwrap().exposed, "sent under an exposed link key");
}

/// The audit log's machine names round-trip, and the TC's own address has the zigtrust
/// prefix with a random part.
#[test]
fn names_and_addresses() {
    for k in AuditKind::ALL {
        assert_eq!(AuditKind::parse(k.as_str()), Some(*k));
    }
    assert_eq!(AuditKind::parse("no-such-kind"), None);
    let a = Harness::new().tc_ieee();
    let h2 = Harness::with_seed(8);
    let b = h2.tc_ieee();
    for x in [a, b] {
        assert_eq!(x.0 >> 32, 0x0d6f, "{x}");
        assert_ne!(x.0 & 0xffff_ffff, 0xffff_ffff);
    }
    assert_ne!(a, b, "the random part differs by seed");
}

/// A device rejoining from another address keeps its stored one (the rejoin response says
/// so); a new parent reported by a router is followed once the device speaks through it, and
/// not before.
#[test]
fn a_device_keeps_its_address_and_is_followed_to_a_new_parent_once_it_speaks() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut r = z30_joined(&mut h, 0x5700);
    let mut d = z30_joined(&mut h, 0x5701);
    let old = d.short;
    d.short = ShortAddr(0x6666);
    let f = d.rejoin_unsecured();
    let out = h.exchange(&mut d, f);
    assert_eq!(d.short, old, "told to keep its stored address");
    assert_eq!(sent_what(&out, "transport-key"), 1);
    assert_eq!(h.tc().device(d.ieee).unwrap().short_addr, old);
    // It moves behind the router (secured rejoin there, reported by the router).
    let f = r.update_device(d.ieee, old, 0);
    h.exchange(&mut r, f);
    assert_eq!(h.tc().device(d.ieee).unwrap().parent, ShortAddr::COORDINATOR, "a report alone");
    let aps = d.data_payload();
    let f = r.relay_for(&d, &aps);
    h.rx(f);
    assert_eq!(h.tc().device(d.ieee).unwrap().parent, r.short, "followed once it speaks");
}

/// Refusals provoked by a spoofer have their own budget: they do not use up the answers a
/// legacy device gets in a rejoin window the user opened.
#[test]
fn refusals_do_not_spend_a_devices_answers() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut l = legacy(&mut h, 0x5801);
    let f = l.data();
    h.exchange(&mut l, f);
    h.admin(policy(|p| p.insecure_rejoin = InsecureRejoinPolicy::Deny));
    let mut a = Device::new(l.ieee.0, None);
    a.short = l.short;
    for _ in 0..10 {
        let f = a.rejoin_unsecured();
        h.rx(f);
    }
    h.admin(policy(|p| p.insecure_rejoin = InsecureRejoinPolicy::AllowLeakingKey));
    let n = h.events.len();
    let f = l.rejoin_unsecured();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 1, "{:?}", &h.events[n..]);
    // The refusals themselves stop after 3 a minute (airtime).
    let refusals = h.sent.iter().filter(|t| t.what == "rejoin-response").count();
    assert!(refusals <= 4, "{refusals}");
    // A removed device gets no application frames either.
    h.admin(AdminCommand::RemoveDevice { ieee: l.ieee });
    assert!(!h.send_application(l.ieee, &[0, 1]));
}

/// Short addresses the TC hands out are unicast addresses, distinct, and a router's report of
/// a child at an address another device has gets the child a different one.
#[test]
fn short_addresses_are_valid_and_distinct() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..40u64 {
        let d = legacy(&mut h, 0x6000 + i);
        assert!((1..=0xfff6).contains(&d.short.0), "{:?}", d.short);
        assert!(seen.insert(d.short), "{:?} given twice", d.short);
    }
    let mut r = z30_joined(&mut h, 0x6100);
    let taken = h.tc().device(ExtAddr(0x6000)).unwrap().short_addr;
    let f = r.update_device(ExtAddr(0x6101), taken, 1);
    h.exchange(&mut r, f);
    let child = h.tc().device(ExtAddr(0x6101)).expect("the child joined");
    assert_ne!(child.short_addr, taken);
    assert_eq!(h.tc().device(ExtAddr(0x6000)).unwrap().short_addr, taken);
}

/// A legacy device that joins again (its record has nothing secret to protect) is taken at
/// its word: its frames are heard at once.
#[test]
fn a_legacy_device_joining_again_is_heard_at_once() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = legacy(&mut h, 0x6200);
    let f = d.data();
    h.exchange(&mut d, f);
    let mut again = Device::new(d.ieee.0, None);
    join(&mut h, &mut again);
    h.advance(1_000);
    let f = again.data();
    h.rx(f);
    assert_eq!(h.tc().device(d.ieee).unwrap().last_seen, h.now, "heard");
}

/// `spoof_response = ignore` sends nothing to a suspected spoof; `deny` sends a refusal.
#[test]
fn the_spoof_response_policy_is_followed() {
    for (resp, refusals) in [(SpoofResponse::Ignore, 0), (SpoofResponse::Deny, 1)] {
        let mut h = Harness::new();
        open_join(&mut h);
        let mut d = legacy(&mut h, 0x6300);
        let f = d.data();
        h.exchange(&mut d, f);
        h.admin(policy(|p| {
            p.insecure_rejoin = InsecureRejoinPolicy::Deny;
            p.spoof_response = resp;
        }));
        let mut a = Device::new(d.ieee.0, None);
        a.short = d.short;
        let f = a.rejoin_unsecured();
        let out = h.rx(f);
        assert_eq!(sent_what(&out, "rejoin-response"), refusals, "{resp:?}");
        // `ignore` silences suspected spoofs only: a device that has not spoken lately is
        // still told no, under `deny` and under `adaptive`.
        let mut quiet = legacy(&mut h, 0x6301);
        h.advance(SPOOF_WINDOW_MS + 1);
        for p in [InsecureRejoinPolicy::Deny, InsecureRejoinPolicy::Adaptive] {
            h.admin(policy(|x| {
                x.insecure_rejoin = p;
                x.spoof_response = resp;
            }));
            let mut snap = h.snapshot();
            snap.devices.iter_mut().for_each(|r| r.last_key_seq = None); // nothing held
            h.restore(snap, 9);
            let f = quiet.rejoin_unsecured();
            let out = h.rx(f);
            assert_eq!(sent_what(&out, "rejoin-response"), 1, "{resp:?} {p:?}: refused aloud");
        }
    }
}

/// The core asks to be woken when a window closes or a rotation is due.
#[test]
fn next_timeout_names_the_next_deadline() {
    let mut h = Harness::new();
    assert_eq!(h.tc().next_timeout(), None);
    h.admin(AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None });
    let permit_until = h.now + 60_000;
    assert_eq!(h.tc().next_timeout(), Some(permit_until));
    let _d = z30_joined(&mut h, 0x6400);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 30_000 });
    // The rotation key's APS ack is due before the deadline.
    assert_eq!(h.tc().next_timeout(), Some(h.now + APS_ACK_WAIT_MS));
    let mut d = _d;
    let frames = h.sent.clone();
    take_rotation_key(&mut h, &mut d, &frames);
    assert_eq!(h.tc().active_key_seq(), 1, "acknowledged: the rotation switched");
    assert_eq!(h.tc().next_timeout(), Some(permit_until), "nothing more to wait for");
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 30_000 });
    for _ in 0..APS_MAX_FRAME_RETRIES {
        h.advance(APS_ACK_WAIT_MS);
    }
    let deadline = h.now + 30_000 - 3 * APS_ACK_WAIT_MS;
    assert_eq!(h.tc().next_timeout(), Some(deadline.min(permit_until)), "no retry left");
}

/// A device joining while a rotation runs on a secret network gets the new key without
/// exposing it; a rescue never sends a secret key under an exposed one.
#[test]
fn rotation_keys_stay_secret_where_they_can() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut a = z30_joined(&mut h, 0x6500);
    let l = legacy(&mut h, 0x6501);
    // Remove the legacy device: key 0 is exposed, key 1 goes to install-code devices only.
    h.admin(AdminCommand::RemoveDevice { ieee: l.ieee });
    h.admin(AdminCommand::PermitJoin { duration_ms: 60_000, ieee: Some(ExtAddr(0x6502)) });
    let _b = z30_joined(&mut h, 0x6502);
    let (seq, _) = h.tc().rotation_pending().expect("removal rotates");
    assert!(!h.tc().network_key(seq).unwrap().exposed, "a late joiner does not expose it");
    h.advance(10 * 60 * 1000 + 1);
    assert_eq!(h.tc().active_key_seq(), seq);
    // `a` slept through it and speaks under key 0, which the removed device holds.
    let p = a.data_payload();
    let f = a.secured(zigtrust_wire::nwk::NwkFrameType::Data, &p, Some(0));
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 0, "no key under an exposed one");
}

/// A restored rotation record that names the active key (the switch was already durable) is
/// dropped, not resumed.
#[test]
fn a_finished_rotation_record_is_not_resumed() {
    let mut h = Harness::new();
    open_join(&mut h);
    let _d = z30_joined(&mut h, 0x6600);
    let deadline = h.now + 1_000;
    h.writes_mut().push(StoreWrite::Rotation(Some(RotationRecord {
        seq: 0,
        deadline,
        pending: vec![ExtAddr(0x6600)],
    })));
    h.restart(12);
    assert_eq!(h.tc().rotation_pending(), None);
    assert_eq!(h.snapshot().rotation, None);
}

/// A legacy device the TC knows no held key for (e.g. restored from a backup) is refused
/// outside a rejoin window and answered, under the well-known key, inside one.
#[test]
fn the_rejoin_window_is_the_way_back_for_a_legacy_device_without_a_key() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = legacy(&mut h, 0x6700);
    h.advance(300_000);
    let mut snap = h.snapshot();
    snap.devices.iter_mut().for_each(|r| {
        r.last_key_seq = None;
        r.last_key_hash = None;
    });
    h.restore(snap, 5);
    let f = d.rejoin_unsecured();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 0);
    h.admin(AdminCommand::OpenRejoinWindow { duration_ms: 60_000 });
    let opened = h.now;
    h.now = opened + 60_000 - 1 - 10;
    let f = d.rejoin_unsecured();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 1, "inside the window, to its last ms");
    h.now = opened + 60_000 - 10;
    let f = d.rejoin_unsecured();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 0, "not at its end");
}

/// An automatic rotation waits 10 minutes for acknowledgements before switching.
#[test]
fn automatic_rotations_switch_after_ten_minutes() {
    assert_eq!(zigtrust_tc::AUTO_ROTATION_DEADLINE_MS, 600_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let _d = z30_joined(&mut h, 0x6800);
    h.writes_mut()
        .push(StoreWrite::CounterLease { kind: CounterKind::Nwk, until: NWK_COUNTER_ROTATE_AT });
    h.restart(13);
    h.advance(1);
    assert!(h.tc().rotation_pending().is_some());
    h.advance(599_000);
    assert_eq!(h.tc().active_key_seq(), 0, "still waiting");
    h.advance(1_000);
    assert_eq!(h.tc().active_key_seq(), 1);
}

/// The same rejoin answer goes to the same place at most once per 2 s; a request inside the
/// interval is answered when it ends, never dropped (a genuine device asking just after a
/// spoof in its name was answered must still get its own answer).
#[test]
fn a_repeated_rejoin_is_answered_again_after_two_seconds() {
    assert_eq!(zigtrust_tc::ANSWER_INTERVAL_MS, 2_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x6900);
    let answers = |h: &mut Harness, d: &mut Device| {
        let f = d.rejoin_unsecured();
        sent_what(&h.rx(f), "transport-key")
    };
    assert_eq!(answers(&mut h, &mut d), 1);
    let t0 = h.now;
    h.advance(1_500);
    assert_eq!(answers(&mut h, &mut d), 0, "not at once");
    assert_eq!(h.tc().next_timeout(), Some(t0 + 2_000), "but when the interval ends");
    assert_eq!(answers(&mut h, &mut d), 0);
    let out = h.advance(2_000 - 1_520 - 1);
    assert_eq!(sent_what(&out, "transport-key"), 0);
    let out = h.advance(1);
    assert_eq!(sent_what(&out, "transport-key"), 1, "one answer for both requests");
    assert_eq!(sent_what(&out, "rejoin-response"), 1);
    for t in &out {
        d.receive(&t.psdu);
    }
    assert_eq!(d.rejoin_status, Some(0), "the deferred answer is one the device takes");
    // A flood from the device's own address: one answer per interval, none lost at the end.
    let mut sent = 0;
    for _ in 0..100 {
        let f = d.rejoin_unsecured();
        sent += sent_what(&h.rx(f), "transport-key");
        sent += sent_what(&h.advance(90), "transport-key");
    }
    sent += sent_what(&h.advance(2_000), "transport-key");
    assert_eq!(sent, 5, "10 s of requests: one answer per 2 s");
}

/// A parent claimed in a Trust Center rejoin through a router is where answers go for a
/// minute; then frames go back to the stored route until the device speaks from there.
#[test]
fn a_claimed_parent_is_followed_for_a_minute() {
    assert_eq!(zigtrust_tc::CLAIM_TTL_MS, 60_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let mut r = z30_joined(&mut h, 0x6a00);
    let d = z30_joined(&mut h, 0x6a01);
    let f = r.update_device(d.ieee, d.short, 3); // reports the child's Trust Center rejoin
    let out = h.exchange(&mut r, f);
    let claimed = h.now;
    assert_eq!(sent_what(&out, "tunnel"), 1, "answered through the router");
    let mac_dst = |t: &zigtrust_tc::Transmit| MacFrame::parse(&t.psdu).unwrap().header.dst_addr;
    h.now = claimed + 60_000 - 1;
    h.send_application(d.ieee, &[0, 1]);
    let out = h.drain();
    assert_eq!(mac_dst(&out[0]), Address::Short(r.short), "still through the router");
    h.now = claimed + 60_000;
    h.send_application(d.ieee, &[0, 1]);
    let out = h.drain();
    assert_eq!(mac_dst(&out[0]), Address::Short(d.short), "back to the stored route");
}

/// Someone holding the active key forges a frame with counter 0xFFFFFFFE in `c`'s name; `c`'s
/// next two frames are dropped; then `c` does a Trust Center rejoin. Returns the TC's answer.
fn poison_and_rejoin(h: &mut Harness, c: &mut Device) -> Vec<zigtrust_tc::Transmit> {
    let key = h.tc().network_key(h.tc().active_key_seq()).unwrap().key.clone();
    let mut a = Device::impersonating(c, &[key]);
    a.nwk_fc = u32::MAX - 1;
    let f = a.data();
    h.rx(f);
    for _ in 0..2 {
        let f = c.data();
        h.rx(f);
    }
    let f = c.rejoin_unsecured();
    h.rx(f)
}

/// At most one resynchronising rotation an hour, whoever asks.
#[test]
fn resync_rotations_are_at_most_hourly() {
    assert_eq!(zigtrust_tc::RESYNC_ROTATION_INTERVAL_MS, 3_600_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0x6b00);
    let resync = |h: &mut Harness, c: &mut Device| {
        for t in poison_and_rejoin(h, c) {
            c.receive(&t.psdu);
        }
        // Let the rotation (if any) finish and the device follow it.
        for t in h.advance(600_001) {
            c.receive(&t.psdu);
        }
        c.nwk_fc = 0;
    };
    resync(&mut h, &mut c);
    assert_eq!(h.audits(AuditKind::CounterResync), 1);
    h.advance(30 * 60 * 1000);
    resync(&mut h, &mut c);
    assert_eq!(h.audits(AuditKind::CounterResync), 1, "not twice within the hour");
    h.advance(60 * 60 * 1000);
    resync(&mut h, &mut c);
    assert_eq!(h.audits(AuditKind::CounterResync), 2);
}

/// Only drops under the key that is current when the device proves itself count towards a
/// resynchronisation: counters are per key, so a device that was cut off under a key the
/// network has since left is fresh under the new one, and a rotation would only make every
/// sleepy device catch up once more. (Found by the simulator's `tclk-hijack` on an all-legacy
/// population: forged frames under key 0, the victim slept through the switch to key 1, and
/// its rejoin set off a second rotation that sleepy devices had not caught up with by the end.)
#[test]
fn drops_under_a_replaced_key_do_not_resync() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0x6c00);
    let key0 = h.tc().network_key(0).unwrap().key.clone();
    let mut a = Device::impersonating(&c, &[key0]);
    a.nwk_fc = 1000;
    let f = a.data();
    h.rx(f);
    for _ in 0..2 {
        let f = c.data();
        h.rx(f);
    }
    assert!(h.has_event(|e| matches!(e, Event::ReplayDropped { ieee, .. } if *ieee == c.ieee)));
    // A rotation the device sleeps through: it never receives key 1.
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
    h.advance(60_001);
    assert_eq!(h.tc().active_key_seq(), 1);
    let f = c.rejoin_unsecured();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 1, "the genuine device gets key 1");
    assert_eq!(h.audits(AuditKind::CounterResync), 0, "its counter under key 1 is fresh");
    assert!(h.tc().rotation_pending().is_none());
}

/// A frame at exactly the last accepted counter is a retransmission (its MAC ack was lost):
/// dropped, but no evidence that the device's counter is out of step.
#[test]
fn retransmissions_do_not_resync() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0x6d00);
    let f = c.data();
    for _ in 0..3 {
        h.rx(f.clone());
    }
    let drops = h.events.iter().filter(|e| matches!(e, Event::ReplayDropped { .. })).count();
    assert_eq!(drops, 2, "the copies are still dropped");
    let f = c.rejoin_unsecured();
    h.rx(f);
    assert_eq!(h.audits(AuditKind::CounterResync), 0);
    // Below the mark, the same number of drops does resynchronise.
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0x6d00);
    let old = c.data();
    let f = c.data();
    h.rx(f);
    for _ in 0..2 {
        h.rx(old.clone());
    }
    let f = c.rejoin_unsecured();
    h.rx(f);
    assert_eq!(h.audits(AuditKind::CounterResync), 1);
}

/// The NWK key sequence number of each secured frame in `out`.
fn nwk_key_seqs(out: &[zigtrust_tc::Transmit]) -> Vec<u8> {
    use zigtrust_wire::nwk::NwkHeader;
    use zigtrust_wire::security::AuxHeader;
    out.iter()
        .filter_map(|t| {
            let MacBody::Data(nwk) = MacFrame::parse(&t.psdu).ok()?.body else { return None };
            let (nh, n) = NwkHeader::parse(nwk).ok()?;
            nh.security.then(|| AuxHeader::parse(&nwk[n..]).ok()?.0.key_seq).flatten()
        })
        .collect()
}

/// A legacy device that already acknowledged the pending rotation key and then does a Trust
/// Center rejoin (its hub was away, say) is answered under the active key, which it holds too,
/// never under the rotation key: a frame under that key before the Switch-Key makes every
/// device that hears it and holds it switch early, away from the rest of the network. (Found
/// by the simulator's `counter-exhaustion` with devices that go straight to a TC rejoin: the
/// answer under the rotation key and a Switch-Key back to the active key stranded a router
/// and its children.)
#[test]
fn a_rejoin_during_a_rotation_is_answered_under_the_active_key() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = legacy(&mut h, 0x6e00);
    let _asleep = legacy(&mut h, 0x6e01); // keeps the rotation pending
    h.advance(300_000);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 600_000 });
    let frames = h.sent.clone();
    take_rotation_key(&mut h, &mut d, &frames);
    let (seq, pending) = h.tc().rotation_pending().expect("rotating");
    assert!(!pending.contains(&d.ieee), "it acknowledged key {seq}");
    assert_eq!(h.tc().held_key(h.tc().device(d.ieee).unwrap()), Some(seq));
    let f = d.rejoin_unsecured();
    let out = h.rx(f);
    assert!(sent_what(&out, "transport-key") >= 1, "answered: {:?}", out.iter().map(|t| t.what));
    let seqs = nwk_key_seqs(&out);
    assert!(!seqs.is_empty() && seqs.iter().all(|s| *s == 0), "under key 0 only: {seqs:?}");
    for t in &out {
        d.receive(&t.psdu);
    }
    assert_eq!(d.active_seq, Some(0), "still on the network's key");
}

/// The hour between resynchronising rotations ends exactly an hour after the last one.
#[test]
fn the_resync_interval_ends_after_exactly_an_hour() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0x6f00);
    // Four frames 10 ms apart: the forged one, two dropped, then the rejoin at `at`.
    let poison_and_rejoin_at = |h: &mut Harness, c: &mut Device, at: u64| {
        h.now = at - 40;
        let out = poison_and_rejoin(h, c);
        assert_eq!(h.now, at);
        for t in &out {
            c.receive(&t.psdu);
        }
        for t in h.advance(60_001) {
            c.receive(&t.psdu);
        }
        c.nwk_fc = 0;
    };
    let t1 = 1_000_000;
    poison_and_rejoin_at(&mut h, &mut c, t1);
    assert_eq!(h.audits(AuditKind::CounterResync), 1);
    poison_and_rejoin_at(&mut h, &mut c, t1 + zigtrust_tc::RESYNC_ROTATION_INTERVAL_MS);
    assert_eq!(h.audits(AuditKind::CounterResync), 2);
}

/// A resynchronising rotation switches 60 s after it starts, acknowledged or not.
#[test]
fn resync_rotations_switch_after_a_minute() {
    assert_eq!(zigtrust_tc::RESYNC_ROTATION_DEADLINE_MS, 60_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0x7100);
    let _asleep = z30_joined(&mut h, 0x7101); // never acknowledges
    h.advance(120_000); // the permit-join window is closed: the rotation is the next timeout
    poison_and_rejoin(&mut h, &mut c);
    let started = h.now;
    assert_eq!(h.audits(AuditKind::CounterResync), 1);
    assert_eq!(h.tc().next_timeout(), Some(started + APS_ACK_WAIT_MS), "a key retry first");
    h.advance(60_000 - 1);
    assert_eq!(h.tc().active_key_seq(), 0);
    h.advance(1);
    assert_eq!(h.tc().active_key_seq(), 1);
}

/// A rejoin window's remaining time runs out exactly at its end; the device list is the
/// devices; admin errors say what is wrong.
#[test]
fn small_things_the_api_shows() {
    let mut h = Harness::new();
    open_join(&mut h);
    let _a = legacy(&mut h, 0x7200);
    let _b = z30_joined(&mut h, 0x7201);
    let mut ieees: Vec<ExtAddr> = h.tc().devices().map(|d| d.ieee).collect();
    ieees.sort();
    assert_eq!(ieees, vec![ExtAddr(0x7200), ExtAddr(0x7201)]);
    h.admin(AdminCommand::OpenRejoinWindow { duration_ms: 10_000 });
    let opened = h.now;
    h.now = opened + 9_999;
    h.timeout();
    assert_eq!(h.tc().rejoin_window_remaining(), Some(1));
    h.now = opened + 10_000;
    // Moves the core's clock without running its timers: the window reads as over by itself.
    h.send_application(ExtAddr(0x7200), &[0, 1]);
    h.drain();
    assert_eq!(h.tc().rejoin_window_remaining(), None);
    let e = h.command(AdminCommand::RemoveDevice { ieee: ExtAddr(0x99) }).unwrap_err();
    assert_eq!(e.to_string(), "unknown device 00:00:00:00:00:00:00:99");
    let e = zigtrust_tc::AdminError::InvalidChannel(5).to_string();
    assert!(e.contains("channel 5") && e.contains("11-26"), "{e}");
}

/// A rotation key copy as the radio would carry it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct KeyCopy {
    aps_counter: u8,
    nwk_counter: u32,
    /// The APS security frame counter (None: a well-known-key device, APS unsecured).
    aps_security_counter: Option<u32>,
}

/// The rotation key copies in `frames` addressed to `ieee`.
fn key_copies(h: &Harness, frames: &[Transmit], ieee: ExtAddr) -> Vec<KeyCopy> {
    frames
        .iter()
        .filter(|t| t.what.starts_with("transport-key-rotation"))
        .filter_map(|t| {
            let MacBody::Data(nwk) = MacFrame::parse(&t.psdu).ok()?.body else { return None };
            let (nh, n) = NwkHeader::parse(nwk).ok()?;
            if nh.dst_ieee != Some(ieee) {
                return None;
            }
            let (aux, _) = AuxHeader::parse(&nwk[n..]).ok()?;
            let key = h.tc().network_key(aux.key_seq?)?.key.clone();
            let o = open(&CcmStar::new(&key), ZIGBEE_PRO_LEVEL, nwk, n, None).ok()?;
            let (ah, an) = ApsHeader::parse(&o.plaintext).ok()?;
            let aps_security_counter = ah
                .security
                .then(|| AuxHeader::parse(&o.plaintext[an..]).ok().map(|(a, _)| a.frame_counter))
                .flatten();
            Some(KeyCopy {
                aps_counter: ah.counter,
                nwk_counter: aux.frame_counter,
                aps_security_counter,
            })
        })
        .collect()
}

/// A rotation key lost on the way (here: one device's copy never arrives) goes again when the
/// APS ack wait ends, to that device only, with the same APS counter (so the device's
/// duplicate rejection and the ack match it) and fresh NWK and APS security counters; the
/// rotation then completes at the ack instead of waiting for its deadline.
#[test]
fn a_lost_rotation_key_is_sent_again_and_the_rotation_completes_at_the_ack() {
    assert_eq!((APS_ACK_WAIT_MS, APS_MAX_FRAME_RETRIES), (3_000, 3));
    let mut h = Harness::new();
    open_join(&mut h);
    let mut a = z30_joined(&mut h, 0x5a01);
    let mut b = z30_joined(&mut h, 0x5a02);
    let mut c = legacy(&mut h, 0x5a03);
    let before = h.sent.len();
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 600_000 });
    let started = h.now;
    let first = h.sent[before..].to_vec();
    take_rotation_key(&mut h, &mut a, &first);
    let early = h.advance(started + APS_ACK_WAIT_MS - 1 - h.now);
    assert_eq!(sent_what(&early, "transport-key-rotation-retry"), 0, "none before the wait ends");
    let retries = h.advance(1);
    assert_eq!(sent_what(&retries, "transport-key-rotation-retry"), 2);
    assert!(key_copies(&h, &retries, a.ieee).is_empty(), "the device that acked gets none");
    for d in [&b, &c] {
        let (orig, again) = (key_copies(&h, &first, d.ieee), key_copies(&h, &retries, d.ieee));
        assert_eq!((orig.len(), again.len()), (1, 1));
        assert_eq!(again[0].aps_counter, orig[0].aps_counter, "a retry keeps its APS counter");
        assert!(again[0].nwk_counter > orig[0].nwk_counter, "and never reuses a NWK counter");
        match (orig[0].aps_security_counter, again[0].aps_security_counter) {
            (Some(o), Some(r)) => assert!(r > o, "nor an APS security counter"),
            (None, None) => assert_eq!(d.ieee, c.ieee, "only the legacy device's is APS-plain"),
            other => panic!("security changed between copies: {other:?}"),
        }
    }
    take_rotation_key(&mut h, &mut b, &retries);
    assert_eq!(h.tc().rotation_pending().map(|(_, p)| p), Some(vec![c.ieee]));
    take_rotation_key(&mut h, &mut c, &retries);
    assert_eq!(h.tc().active_key_seq(), 1, "switched at the last ack, long before the deadline");
    assert_eq!(b.nwk_keys.get(&1), Some(&h.tc().network_key(1).unwrap().key));
    h.tshark_check("a_lost_rotation_key_is_sent_again");
}

/// Retries stop after [`APS_MAX_FRAME_RETRIES`] (the device is then a straggler the deadline
/// leaves behind), and wait [`APS_ACK_WAIT_SLEEPY_MS`] for a sleepy device, whose copy sits in
/// its parent's indirect queue until it polls.
#[test]
fn rotation_key_retries_are_bounded_and_wait_longer_for_sleepy_devices() {
    assert_eq!(APS_ACK_WAIT_SLEEPY_MS, 10_000);
    let mut h = Harness::new();
    open_join(&mut h);
    let r = z30_joined(&mut h, 0x5b01);
    let mut s = z30(&mut h, 0x5b02);
    s.capability = CapabilityInfo::SLEEPY_END_DEVICE;
    join(&mut h, &mut s);
    let deadline = 120_000;
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: deadline });
    let start = h.now;
    let (mut to_router, mut to_sleepy) = (vec![], vec![]);
    while h.now < start + deadline - 1_000 {
        let out = h.advance(500);
        for t in out.iter().filter(|t| t.what == "transport-key-rotation-retry") {
            let MacBody::Data(nwk) = MacFrame::parse(&t.psdu).unwrap().body else { panic!() };
            let dst = NwkHeader::parse(nwk).unwrap().0.dst_ieee;
            if dst == Some(r.ieee) {
                to_router.push(h.now - start);
            } else if dst == Some(s.ieee) {
                assert!(t.indirect, "a sleepy device's copy waits for its poll");
                to_sleepy.push(h.now - start);
            }
        }
    }
    assert_eq!(to_router, vec![3_000, 6_000, 9_000]);
    assert_eq!(to_sleepy, vec![10_000, 20_000, 30_000]);
    h.advance(1_000);
    assert_eq!(h.tc().active_key_seq(), 1, "the deadline switches");
    assert!(h.has_event(
        |e| matches!(e, Event::KeySwitched { stragglers, .. } if stragglers.len() == 2)
    ));
}

/// A device removed while its rotation key is unacknowledged gets no further copy.
#[test]
fn a_removed_device_gets_no_rotation_key_retry() {
    let mut h = Harness::new();
    open_join(&mut h);
    h.admin(policy(|p| p.rotate_after_removal = RemovalRotation::Never));
    let mut a = z30_joined(&mut h, 0x5c01);
    let b = z30_joined(&mut h, 0x5c02);
    let before = h.sent.len();
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 600_000 });
    let first = h.sent[before..].to_vec();
    take_rotation_key(&mut h, &mut a, &first);
    h.admin(AdminCommand::RemoveDevice { ieee: b.ieee });
    let after = h.sent.len();
    for _ in 0..60 {
        h.advance(1_000);
    }
    assert!(key_copies(&h, &h.sent[after..], b.ieee).is_empty(), "no key for a removed device");
}

/// At the switch, a sleepy device that acknowledged the new key gets its own Switch-Key, held
/// for its poll (the broadcast reaches only receivers that are always on); a router does not
/// need one, and a sleepy straggler, which never took the new key, is left to the rescue.
#[test]
fn sleepy_devices_that_took_the_new_key_get_their_own_switch_key() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut r = z30_joined(&mut h, 0x5d01);
    let mut s = z30(&mut h, 0x5d02);
    s.capability = CapabilityInfo::SLEEPY_END_DEVICE;
    join(&mut h, &mut s);
    let mut late = z30(&mut h, 0x5d03);
    late.capability = CapabilityInfo::SLEEPY_END_DEVICE;
    join(&mut h, &mut late);
    let before = h.sent.len();
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
    let frames = h.sent[before..].to_vec();
    take_rotation_key(&mut h, &mut s, &frames);
    let at_ack = h.sent.len();
    take_rotation_key(&mut h, &mut r, &frames);
    assert_eq!(h.tc().active_key_seq(), 0, "the straggler holds the switch back");
    h.advance(60_000);
    assert_eq!(h.tc().active_key_seq(), 1);
    let out = h.sent[at_ack..].to_vec();
    let unicasts: Vec<_> = out.iter().filter(|t| t.what == "switch-key-unicast").collect();
    assert_eq!(unicasts.len(), 1, "only the sleepy device that took the key");
    assert!(unicasts[0].indirect, "held for its poll");
    let MacBody::Data(nwk) = MacFrame::parse(&unicasts[0].psdu).unwrap().body else { panic!() };
    assert_eq!(NwkHeader::parse(nwk).unwrap().0.dst_ieee, Some(s.ieee));
    assert_eq!(s.active_seq, Some(0));
    for t in &out {
        s.receive(&t.psdu);
    }
    assert_eq!(s.active_seq, Some(1), "it switched");
    late.receive(&unicasts[0].psdu);
    assert_eq!(late.active_seq, Some(0), "not addressed to the straggler");
    h.tshark_check("sleepy_devices_get_their_own_switch_key");
}
