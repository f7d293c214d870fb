//! Scripted conversations between devices (frames built with zigtrust-wire) and the Trust
//! Center core: joins, TCLK update, rejoins, stale-key rescue, spoofing, rotation, replay.

mod common;

use common::*;
use zigtrust_tc::model::*;
use zigtrust_tc::{AdminCommand, DenyReason, Event, KeyProtection};

#[test]
fn ha12_join_leaks_only_inside_the_window_and_marks_the_key_exposed() {
    let mut h = Harness::new();
    let mut d = Device::new(0x1111, None);
    // Window closed: refused, and no key leaves the TC.
    let f = d.association_request();
    h.exchange(&mut d, f);
    assert!(d.network_key().is_none());
    assert!(h.has_event(|e| matches!(
        e,
        Event::JoinDenied { reason: DenyReason::PermitJoinClosed, .. }
    )));
    assert!(sniffer_keys(&h.sent).is_empty());
    open_join(&mut h);
    join(&mut h, &mut d);
    assert!(h.has_event(|e| matches!(
        e,
        Event::KeyDelivered { protection: KeyProtection::WellKnownKey, .. }
    )));
    assert_eq!(sniffer_keys(&h.sent).len(), 1, "legacy join inside the window: the sniffer has it");
    assert!(h.tc().network_key(0).unwrap().exposed);
    assert!(h.writes().iter().any(|w| matches!(w, StoreWrite::NetworkKey(k) if k.exposed)));
    h.tshark_check("ha12_join_leaks_only_inside_the_window_and_marks_the_key_exposed");
}

#[test]
fn permit_join_closes_by_itself() {
    let mut h = Harness::new();
    h.admin(AdminCommand::PermitJoin { duration_ms: 10_000, ieee: None });
    // The shell never calls handle_timeout: a late frame must still be refused.
    h.now += 20_000;
    let mut d = Device::new(0x2222, None);
    let f = d.association_request();
    h.exchange(&mut d, f);
    assert!(d.network_key().is_none());
    assert!(h.has_event(|e| matches!(e, Event::PermitJoinClosed)));
    // Windows longer than 254 s are capped.
    h.admin(AdminCommand::PermitJoin { duration_ms: 3_600_000, ieee: None });
    assert!(h.tc().permit_join_remaining().unwrap() <= 254_000);
    h.tshark_check("permit_join_closes_by_itself");
}

#[test]
fn install_code_join_and_tclk_update() {
    let mut h = Harness::new();
    h.admin(policy(|p| p.legacy_join = LegacyJoinPolicy::InstallCodeRequired));
    open_join(&mut h);
    let mut legacy = Device::new(0x3333, None);
    let f = legacy.association_request();
    h.exchange(&mut legacy, f);
    assert!(legacy.network_key().is_none());
    assert!(h.has_event(|e| matches!(
        e,
        Event::JoinDenied { reason: DenyReason::InstallCodeRequired, .. }
    )));
    let mut d = z30(&mut h, 0x4444);
    join(&mut h, &mut d);
    assert!(h.has_event(|e| matches!(
        e,
        Event::KeyDelivered { protection: KeyProtection::InstallCodeKey, .. }
    )));
    tclk_update(&mut h, &mut d);
    let rec = h.tc().device(d.ieee).unwrap();
    assert!(rec.tclk_verified);
    assert_eq!(rec.tclk.as_ref(), d.tclk.as_ref());
    assert_ne!(d.tclk.as_ref().unwrap().as_bytes(), &IC_KEY, "a fresh unique key");
    assert!(sniffer_keys(&h.sent).is_empty(), "nothing readable with the well-known key");
    assert!(!h.tc().network_key(0).unwrap().exposed);
    h.tshark_check("install_code_join_and_tclk_update");
}

#[test]
fn allow_and_deny_lists_and_tombstones_are_checked_before_any_key() {
    let mut h = Harness::new();
    let bad = zigtrust_wire::ExtAddr(0x5555);
    h.admin(policy(|p| p.deny_list = vec![bad]));
    open_join(&mut h);
    let mut d = Device::new(0x5555, None);
    let f = d.association_request();
    h.exchange(&mut d, f);
    assert!(d.network_key().is_none());
    assert!(h.has_event(|e| matches!(e, Event::JoinDenied { reason: DenyReason::DenyListed, .. })));
    let mut ok = Device::new(0x6666, None);
    join(&mut h, &mut ok);
    h.admin(AdminCommand::RemoveDevice { ieee: ok.ieee });
    // A removed device is out: its frames are dropped (and reported once), whatever they are.
    let f = ok.rejoin_secured(None);
    let out = h.exchange(&mut ok, f);
    assert!(out.is_empty(), "no answer to a removed device");
    assert!(h.writes().iter().any(
        |w| matches!(w, StoreWrite::Audit(a) if a.kind == AuditKind::RemovedDeviceFrame.as_str())
    ));
    let mut again = Device::new(0x6666, None);
    let f = again.association_request();
    h.exchange(&mut again, f);
    assert!(again.network_key().is_none(), "a tombstoned IEEE cannot join again");
    h.admin(AdminCommand::ReadmitDevice { ieee: ok.ieee });
    join(&mut h, &mut again);
    h.tshark_check("allow_and_deny_lists_and_tombstones_are_checked_before_any_key");
}

#[test]
fn secured_rejoin_and_tc_rejoin_with_unique_key() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30(&mut h, 0x7777);
    join(&mut h, &mut d);
    tclk_update(&mut h, &mut d);
    let f = d.rejoin_secured(None);
    h.exchange(&mut d, f);
    assert_eq!(d.rejoin_status, Some(0));
    // Lose the network key; a TC rejoin under the unique TCLK gets it back (any policy).
    h.admin(policy(|p| p.insecure_rejoin = InsecureRejoinPolicy::Deny));
    d.nwk_keys.clear();
    d.active_seq = None;
    let f = d.rejoin_unsecured();
    h.exchange(&mut d, f);
    assert!(d.network_key().is_some());
    assert!(h.has_event(|e| matches!(
        e,
        Event::KeyDelivered { protection: KeyProtection::UniqueTclk, .. }
    )));
    assert!(sniffer_keys(&h.sent).is_empty());
    h.tshark_check("secured_rejoin_and_tc_rejoin_with_unique_key");
}

/// A Z3.0 device misses a key rotation (asleep); afterwards it speaks under the old key.
/// Adaptive rescues it under the old (never exposed) key; nothing goes out under the
/// well-known key.
#[test]
fn stale_key_rescue_under_adaptive() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut awake = z30(&mut h, 0x8881);
    let mut asleep = z30(&mut h, 0x8882);
    join(&mut h, &mut awake);
    join(&mut h, &mut asleep);
    h.admin(AdminCommand::PermitJoin { duration_ms: 0, ieee: None });
    for d in [&mut awake, &mut asleep] {
        let f = d.data();
        h.exchange(d, f);
    }
    let before = h.sent.len();
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 30_000 });
    let rotation: Vec<_> = h.sent[before..].to_vec();
    for t in &rotation {
        awake.receive(&t.psdu); // the sleepy one hears nothing
    }
    let acks = std::mem::take(&mut awake.acks_due);
    assert_eq!(acks.len(), 1);
    let f = awake.ack(acks[0]);
    h.exchange(&mut awake, f);
    assert!(h.tc().rotation_pending().is_some(), "the sleepy device has not acknowledged");
    let switch = h.advance(31_000);
    for t in &switch {
        awake.receive(&t.psdu);
        asleep.receive(&t.psdu);
    }
    assert!(h.has_event(|e| matches!(e, Event::KeySwitched { seq: 1, stragglers } if stragglers == &vec![asleep.ieee])));
    assert_eq!(awake.active_seq, Some(1));
    assert_eq!(asleep.active_seq, Some(0));
    // The straggler wakes up and talks under key 0: rescued under key 0.
    let f = asleep.data();
    h.exchange(&mut asleep, f);
    assert!(h.has_event(|e| matches!(e, Event::StaleKeyRescue { from_seq: 0, to_seq: 1, .. })));
    assert_eq!(asleep.active_seq, Some(1));
    assert_eq!(asleep.network_key(), Some(&h.tc().network_key(1).unwrap().key));
    assert!(sniffer_keys(&h.sent).is_empty(), "nothing readable with the well-known key");
    assert!(!h.tc().network_key(0).unwrap().exposed && !h.tc().network_key(1).unwrap().exposed);
    h.tshark_check("stale_key_rescue_under_adaptive");
}

/// Legacy devices live on an exposed key (their join sent it under the well-known key): a key
/// rotation delivered to them under that key is exposed too, and the core says so.
#[test]
fn rotation_to_legacy_devices_on_an_exposed_key_is_marked_exposed() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = Device::new(0x8891, None);
    join(&mut h, &mut d);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 1_000 });
    assert!(h.tc().network_key(0).unwrap().exposed);
    assert!(h.tc().network_key(1).unwrap().exposed);
    h.tshark_check("rotation_to_legacy_devices_on_an_exposed_key_is_marked_exposed");
}

/// The same straggler under `deny` is stranded; under `allow` it gets the key under the
/// well-known key (the anchors' dilemma).
#[test]
fn deny_strands_allow_leaks() {
    for policy_kind in [InsecureRejoinPolicy::Deny, InsecureRejoinPolicy::AllowLeakingKey] {
        let mut h = Harness::new();
        h.admin(policy(|p| p.insecure_rejoin = policy_kind));
        let mut d = z30(&mut h, 0x9991);
        // Install-code device that never did a TCLK update, then its install code is removed:
        // its only key is the well-known one from the TC's point of view.
        let mut legacy = Device::new(0x9992, None);
        open_join(&mut h);
        join(&mut h, &mut d);
        join(&mut h, &mut legacy);
        h.admin(AdminCommand::PermitJoin { duration_ms: 0, ieee: None });
        h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 1_000 });
        h.advance(2_000); // legacy missed it all
                          // Under the old key its frames are ignored (anchors keep only the current key)...
        let f = legacy.data();
        h.exchange(&mut legacy, f);
        assert_eq!(legacy.active_seq, Some(0));
        // ...so it falls back to a TC rejoin.
        let sent_before = h.sent.len();
        let f = legacy.rejoin_unsecured();
        h.exchange(&mut legacy, f);
        match policy_kind {
            InsecureRejoinPolicy::Deny => {
                assert!(!legacy.nwk_keys.contains_key(&1), "deny strands the device");
                assert!(h.has_event(|e| matches!(
                    e,
                    Event::RejoinDenied { reason: DenyReason::PolicyDeny, .. }
                )));
            }
            _ => {
                assert!(legacy.nwk_keys.contains_key(&1));
                let leaked = sniffer_keys(&h.sent[sent_before..]);
                assert!(leaked.is_empty() || leaked.contains(&h.tc().network_key(1).unwrap().key));
                assert!(h.tc().network_key(1).unwrap().exposed, "allow leaked the new key");
            }
        }
        h.tshark_check(&format!("deny_strands_allow_leaks-{policy_kind:?}"));
    }
}

/// An attacker sends a well-known-key rejoin with the IEEE of a device that just spoke under
/// the current key: suspected spoof, and nothing readable with the well-known key goes out.
#[test]
fn spoofed_rejoin_is_flagged_and_leaks_nothing() {
    for response in [SpoofResponse::Deny, SpoofResponse::Ignore] {
        let mut h = Harness::new();
        h.admin(policy(|p| {
            p.spoof_response = response;
            p.legacy_join = LegacyJoinPolicy::InstallCodeRequired;
        }));
        let mut d = z30(&mut h, 0xaaa1);
        open_join(&mut h);
        join(&mut h, &mut d);
        h.admin(AdminCommand::RemoveInstallCode { ieee: d.ieee });
        h.admin(AdminCommand::PermitJoin { duration_ms: 0, ieee: None });
        // Make the TC forget the install-code key by restoring from a snapshot without it:
        // simplest is a device that joined legacy-style, so use the victim's records as is.
        let f = d.data();
        h.exchange(&mut d, f);
        let mut attacker = Device::new(0xaaa1, None); // same IEEE, no keys
        attacker.short = d.short;
        let before = h.sent.len();
        let f = attacker.rejoin_unsecured();
        let replies = h.exchange(&mut attacker, f);
        assert!(attacker.network_key().is_none(), "the spoofer learns nothing");
        assert!(sniffer_keys(&h.sent[before..]).is_empty());
        let _ = replies;
        h.tshark_check(&format!("spoofed_rejoin_is_flagged_and_leaks_nothing-{response:?}"));
    }
}

#[test]
fn spoofed_rejoin_of_legacy_device_under_adaptive() {
    let mut h = Harness::new();
    let mut d = Device::new(0xbbb1, None);
    open_join(&mut h);
    join(&mut h, &mut d);
    h.admin(AdminCommand::PermitJoin { duration_ms: 0, ieee: None });
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 }); // new key, never exposed
    let acks: Vec<u8> = {
        let out: Vec<_> = h.sent.clone();
        for t in &out {
            d.receive(&t.psdu);
        }
        std::mem::take(&mut d.acks_due)
    };
    let f = d.ack(*acks.last().unwrap());
    let out = h.exchange(&mut d, f);
    for t in &out {
        d.receive(&t.psdu);
    }
    assert_eq!(h.tc().active_key_seq(), 1);
    let f = d.data();
    h.exchange(&mut d, f);
    let before = h.sent.len();
    let writes_before = h.writes().len();
    let mut attacker = Device::new(0xbbb1, None);
    attacker.short = d.short;
    let f = attacker.rejoin_unsecured();
    h.exchange(&mut attacker, f);
    assert!(h.has_event(|e| matches!(e, Event::SuspectedSpoof { .. })));
    // The answer is readable only under a key the genuine device holds: the spoofer gets nothing.
    assert!(attacker.network_key().is_none());
    assert!(sniffer_keys(&h.sent[before..]).is_empty(), "never under the well-known key");
    let exposures = h.writes()[writes_before..]
        .iter()
        .filter(|w| matches!(w, StoreWrite::Audit(a) if a.kind == "network-key-exposed"))
        .count();
    assert_eq!(exposures, 0, "the spoofed rejoin exposed nothing");
    h.tshark_check("spoofed_rejoin_of_legacy_device_under_adaptive");
}

#[test]
fn replayed_frame_is_dropped() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = Device::new(0xccc1, None);
    join(&mut h, &mut d);
    let f1 = d.data();
    h.exchange(&mut d, f1.clone());
    h.exchange(&mut d, f1);
    assert!(h.has_event(|e| matches!(e, Event::ReplayDropped { .. })));
    // An APS-secured command replayed inside a fresh NWK frame is caught by the APS counter
    // (for a device with a secret link key: under a public one a network-key holder forges
    // fresh APS frames anyway, so the TC keeps no mark a forger could push up).
    let mut d = z30(&mut h, 0xccc2);
    join(&mut h, &mut d);
    let n = h.events.len();
    let rk = d.request_key();
    h.exchange(&mut d, rk);
    assert!(!h.events[n..].iter().any(|e| matches!(e, Event::ReplayDropped { .. })));
    d.aps_fc -= 1; // the device (or an attacker replaying its APS payload) reuses a counter
    let rk = d.request_key();
    h.exchange(&mut d, rk);
    assert!(h.events[n..].iter().any(|e| matches!(e, Event::ReplayDropped { .. })));
    h.tshark_check("replayed_frame_is_dropped");
}

#[test]
fn restart_never_reuses_a_frame_counter() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = Device::new(0xddd1, None);
    join(&mut h, &mut d);
    let f = d.rejoin_secured(None);
    h.exchange(&mut d, f);
    // Rebuild the TC from what it wrote (as a store would hand back).
    let snap = h.snapshot();
    let used_before = nwk_counters(&h.sent);
    let mut h2 = Harness::from_snapshot(snap, 9, h.now);
    let f = d.rejoin_secured(None);
    h2.exchange(&mut d, f);
    let used_after = nwk_counters(&h2.sent);
    assert!(!used_after.is_empty());
    assert!(used_after.iter().all(|c| !used_before.contains(c)), "counter reused after restart");
    assert!(used_after.iter().min() > used_before.iter().max());
    h.tshark_check("restart_never_reuses_a_frame_counter");
}

#[test]
fn join_through_a_router_is_tunnelled() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut router = z30(&mut h, 0xe001);
    join(&mut h, &mut router);
    tclk_update(&mut h, &mut router);
    let mut child = z30(&mut h, 0xe002);
    child.short = zigtrust_wire::ShortAddr(0x4242);
    let f = router.update_device(child.ieee, child.short, 1);
    let replies = h.rx(f);
    let (dst, inner) =
        replies.iter().find_map(|t| router.tunnelled(&t.psdu)).expect("a Tunnel to the router");
    assert_eq!(dst, child.ieee);
    child.receive_relayed(&inner);
    assert_eq!(child.network_key(), Some(&h.tc().network_key(0).unwrap().key));
    assert!(
        h.has_event(|e| matches!(e, Event::DeviceJoined { parent, .. } if *parent == router.short))
    );
    assert!(sniffer_keys(&h.sent).is_empty());
    // A TC rejoin reported by the router is answered through the tunnel under the child's key.
    let before = h.sent.len();
    let f = router.update_device(child.ieee, child.short, 3);
    let replies = h.rx(f);
    assert!(replies.iter().any(|t| router.tunnelled(&t.psdu).is_some()), "{:?}", &h.sent[before..]);
    h.tshark_check("join_through_a_router_is_tunnelled");
}

#[test]
fn permit_join_for_one_device_only() {
    let mut h = Harness::new();
    h.admin(AdminCommand::PermitJoin {
        duration_ms: 60_000,
        ieee: Some(zigtrust_wire::ExtAddr(0xf001)),
    });
    let mut other = Device::new(0xf002, None);
    let f = other.association_request();
    h.exchange(&mut other, f);
    assert!(other.network_key().is_none());
    assert!(
        h.has_event(|e| matches!(e, Event::JoinDenied { reason: DenyReason::NotThisDevice, .. }))
    );
    let mut me = Device::new(0xf001, None);
    join(&mut h, &mut me);
    h.tshark_check("permit_join_for_one_device_only");
}

#[test]
fn trust_center_rejoins_are_rate_limited_only_when_a_sniffer_can_read_the_answer() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30(&mut h, 0xf101);
    join(&mut h, &mut d);
    // Answers under a secret link key are never refused for rate: spoofs in this device's
    // name cannot spend its budget.
    for _ in 0..10 {
        let f = d.rejoin_unsecured();
        h.exchange(&mut d, f);
    }
    assert!(!h.has_event(|e| matches!(e, Event::RejoinDenied { .. })));
    // Under the risky `allow` policy a legacy device gets the key under the well-known key:
    // that is limited to 3 a minute.
    let mut l = Device::new(0xf102, None);
    join(&mut h, &mut l);
    h.advance(300_000);
    h.admin(policy(|p| p.insecure_rejoin = InsecureRejoinPolicy::AllowLeakingKey));
    for _ in 0..3 {
        let f = l.rejoin_unsecured();
        h.exchange(&mut l, f);
    }
    assert!(!h.has_event(|e| matches!(e, Event::RejoinDenied { .. })));
    let f = l.rejoin_unsecured();
    h.exchange(&mut l, f);
    assert!(
        h.has_event(|e| matches!(e, Event::RejoinDenied { reason: DenyReason::RateLimited, .. }))
    );
    h.advance(61_000);
    let n = h.events.len();
    let f = l.rejoin_unsecured();
    h.exchange(&mut l, f);
    assert!(!h.events[n..].iter().any(|e| matches!(e, Event::RejoinDenied { .. })));
    h.tshark_check("trust_center_rejoins_are_rate_limited");
}

#[test]
fn legacy_window_closing_rotates_the_exposed_key() {
    let mut h = Harness::new();
    h.admin(policy(|p| p.rotate_after_legacy_window = true));
    h.admin(AdminCommand::PermitJoin { duration_ms: 30_000, ieee: None });
    let mut d = Device::new(0xf201, None);
    join(&mut h, &mut d);
    assert!(h.tc().network_key(0).unwrap().exposed);
    h.advance(31_000);
    assert!(h.has_event(|e| matches!(e, Event::PermitJoinClosed)));
    assert!(h.tc().rotation_pending().is_some(), "rotation started when the legacy window closed");
    h.tshark_check("legacy_window_closing_rotates_the_exposed_key");
}

/// Under `deny` a spoofed rejoin is refused like any other, but still reported: detection does
/// not depend on the policy.
#[test]
fn spoofed_rejoin_under_deny_is_refused_and_reported() {
    let mut h = Harness::new();
    h.admin(policy(|p| p.insecure_rejoin = InsecureRejoinPolicy::Deny));
    let mut d = Device::new(0xdd01, None);
    open_join(&mut h);
    join(&mut h, &mut d);
    h.admin(AdminCommand::PermitJoin { duration_ms: 0, ieee: None });
    let f = d.data();
    h.exchange(&mut d, f);
    let before = h.sent.len();
    let mut attacker = Device::new(0xdd01, None);
    attacker.short = d.short;
    let f = attacker.rejoin_unsecured();
    h.exchange(&mut attacker, f);
    assert!(h.has_event(|e| matches!(e, Event::SuspectedSpoof { .. })));
    assert!(
        h.has_event(|e| matches!(e, Event::RejoinDenied { reason: DenyReason::PolicyDeny, .. }))
    );
    assert!(attacker.network_key().is_none());
    assert!(sniffer_keys(&h.sent[before..]).is_empty());
    // A device that has been quiet for longer than the spoof window is only denied.
    let mut h = Harness::new();
    h.admin(policy(|p| p.insecure_rejoin = InsecureRejoinPolicy::Deny));
    let mut quiet = Device::new(0xdd02, None);
    open_join(&mut h);
    join(&mut h, &mut quiet);
    h.advance(11 * 60_000);
    let f = quiet.rejoin_unsecured();
    h.exchange(&mut quiet, f);
    assert!(!h.has_event(|e| matches!(e, Event::SuspectedSpoof { .. })));
    assert!(h.has_event(|e| matches!(e, Event::RejoinDenied { .. })));
    h.tshark_check("spoofed_rejoin_under_deny_is_refused_and_reported");
}

/// A device that joins while a rotation is pending gets the new key too, acknowledges it, and
/// the switch leaves nobody behind (the hub daemon's first minutes, where users rotate while a
/// device is still pairing).
#[test]
fn a_device_joining_during_a_rotation_gets_the_new_key() {
    let mut h = Harness::new();
    let mut a = z30(&mut h, 0xee01);
    open_join(&mut h);
    join(&mut h, &mut a);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
    let mut late = z30(&mut h, 0xee02);
    let req = late.association_request();
    h.exchange(&mut late, req);
    assert_eq!(late.network_key(), Some(&h.tc().network_key(0).unwrap().key));
    assert!(late.nwk_keys.contains_key(&1), "the joiner was not given the pending key");
    let (seq, pending) = h.tc().rotation_pending().unwrap();
    assert_eq!(seq, 1);
    assert!(pending.contains(&late.ieee));
    for dev in [&mut a, &mut late] {
        for t in h.sent.clone() {
            dev.receive(&t.psdu);
        }
        let acks = std::mem::take(&mut dev.acks_due);
        for c in acks {
            let f = dev.ack(c);
            h.exchange(dev, f);
        }
    }
    assert_eq!(h.tc().active_key_seq(), 1, "everyone acknowledged: the switch happens at once");
    assert!(h.has_event(
        |e| matches!(e, Event::KeySwitched { stragglers, .. } if stragglers.is_empty())
    ));
    assert!(!h.tc().network_key(1).unwrap().exposed, "install-code devices only: never exposed");
    h.tshark_check("a_device_joining_during_a_rotation_gets_the_new_key");
}

/// A frame a router relays for its child marks the child as seen (liveness only).
#[test]
fn relayed_frames_mark_the_originator_alive() {
    let mut h = Harness::new();
    let mut router = z30(&mut h, 0xef01);
    open_join(&mut h);
    join(&mut h, &mut router);
    let mut child = Device::new(0xef02, None);
    let f = router.update_device(child.ieee, zigtrust_wire::ShortAddr(0x4242), 1);
    let out = h.exchange(&mut router, f);
    let tunnelled = out.iter().find_map(|t| router.tunnelled(&t.psdu)).expect("key tunnelled");
    child.short = zigtrust_wire::ShortAddr(0x4242);
    child.receive_relayed(&tunnelled.1);
    let joined_at = h.tc().device(child.ieee).unwrap().last_seen;
    h.advance(5_000);
    // The child's report, as its parent re-secures and forwards it (aux source = router).
    let payload = child.data_payload();
    let f = router.relay_for(&child, &payload);
    h.exchange(&mut router, f);
    assert!(h.tc().device(child.ieee).unwrap().last_seen >= joined_at + 5_000);
    assert_eq!(h.tc().device(child.ieee).unwrap().last_key_seq, Some(0));
}
