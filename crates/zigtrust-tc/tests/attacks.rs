//! Adversarial conversations: one per attack class of the threat model in the crate docs
//! (passive sniffer from power-on, active spoofer/replayer/forger holding every key it could
//! read, a compromised router that the user removes). Each test fails without the rule it
//! names.

mod common;

use common::*;
use zigtrust_crypto::Key;
use zigtrust_tc::model::*;
use zigtrust_tc::{AdminCommand, DenyReason, Event, NWK_COUNTER_ROTATE_AT};
use zigtrust_wire::aps::{ApsCommand, KeyType};
use zigtrust_wire::nwk::NwkFrameType;
use zigtrust_wire::{CapabilityInfo, ExtAddr};

/// Finding 1: a link key that travelled under a public key is no secret. The TC refuses the
/// TCLK update of a device whose link key is public, so an outsider who read the network key
/// from the legacy join cannot install a key of its choosing in the device's name either.
#[test]
fn tclk_update_under_public_keys_is_refused_so_it_cannot_be_hijacked() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut v = legacy(&mut h, 0xa001);
    h.advance(120_000);
    let known = sniffer_keys(&h.sent);
    assert!(known.contains(v.network_key().unwrap()), "the legacy join exposed the key");

    let mut attacker = Device::impersonating(&v, &known);
    let f = attacker.request_key();
    let out = h.exchange(&mut attacker, f);
    assert_eq!(sent_what(&out, "transport-key-tclk"), 0, "no TCLK for the hijacker");
    assert!(h.has_event(|e| matches!(e, Event::TclkUpdateRefused { .. })));
    let rec = h.tc().device(v.ieee).unwrap();
    assert!(rec.tclk.is_none() && !rec.tclk_verified, "the record keeps the public key");

    // The genuine device is refused the same way and keeps working: a rotation reaches it.
    let f = v.request_key();
    let out = h.exchange(&mut v, f);
    assert_eq!(sent_what(&out, "transport-key-tclk"), 0);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
    let frames = h.sent.clone();
    take_rotation_key(&mut h, &mut v, &frames);
    assert_eq!(h.tc().active_key_seq(), 1);
    assert_eq!(v.nwk_keys.get(&1), Some(&h.tc().network_key(1).unwrap().key));
    assert!(h.tc().network_key(1).unwrap().exposed, "sent to a public-link device: exposed");
    h.tshark_check("tclk_update_under_public_keys_is_refused");
}

/// Finding 2: APS security commands are bound to the device they concern, under the key the
/// TC holds for it; no well-known-key fallback for strangers; Update-Device only from routers.
#[test]
fn aps_commands_must_come_from_the_device_they_concern() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0xb001);
    let _l = legacy(&mut h, 0xb002);
    let known = sniffer_keys(&h.sent);

    // Request-Key in an install-code device's name, under the well-known key: dropped.
    let mut a = Device::impersonating(&c, &known);
    let f = a.request_key();
    let out = h.exchange(&mut a, f);
    assert_eq!(sent_what(&out, "transport-key-tclk"), 0);
    assert!(h.has_event(|e| matches!(e, Event::CommandRejected { ieee, .. } if *ieee == c.ieee)));

    // A stranger (unknown IEEE) holding the network key: no fallback to the well-known key.
    let mut stranger = Device::impersonating(&c, &known);
    stranger.ieee = ExtAddr(0xb0ff);
    let f = stranger.request_key();
    let out = h.exchange(&mut stranger, f);
    assert!(out.is_empty(), "nothing for a stranger");

    // Verify-Key naming another device.
    let cmd = ApsCommand::VerifyKey {
        key_type: KeyType::TrustCenterLinkKey,
        src: ExtAddr(0xb002),
        hash: [0; 16],
    };
    let aps = c.aps_cmd(&cmd, false);
    c.nwk_fc = 1_000; // past the impersonator's frames in its name above
    let f = c.secured(NwkFrameType::Data, &aps, None);
    let out = h.exchange(&mut c, f);
    assert!(out.is_empty());
    assert!(h.has_event(
        |e| matches!(e, Event::CommandRejected { why, .. } if why.contains("another device"))
    ));

    // Update-Device from a sleepy end device (not a router): ignored, no key tunnelled.
    let mut s = Device::new(0xb003, Some(Key::from_bytes(IC_KEY)));
    s.capability = CapabilityInfo::SLEEPY_END_DEVICE;
    h.admin(AdminCommand::AddInstallCode { ieee: s.ieee, link_key: Key::from_bytes(IC_KEY) });
    join(&mut h, &mut s);
    let f = s.update_device(ExtAddr(0xb0aa), zigtrust_wire::ShortAddr(0x4242), 1);
    let out = h.exchange(&mut s, f);
    assert_eq!(sent_what(&out, "tunnel"), 0);
    assert!(h.tc().device(ExtAddr(0xb0aa)).is_none(), "no device admitted on its word");

    // The genuine install-code device's own update works.
    let f = c.request_key();
    h.exchange(&mut c, f);
    let f = c.verify_key();
    h.exchange(&mut c, f);
    assert!(c.tclk_confirmed);
    h.tshark_check("aps_commands_must_come_from_the_device_they_concern");
}

/// Finding 2 (insider): a router the user removed is shut out, and the network moves on to a
/// key it does not get.
#[test]
fn a_removed_router_is_shut_out_and_the_network_moves_on() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0xc001);
    let mut r = z30_joined(&mut h, 0xc002);
    let before = h.sent.len();
    h.admin(AdminCommand::RemoveDevice { ieee: r.ieee });
    assert!(h.tc().network_key(0).unwrap().exposed, "the removed router holds key 0");
    let (seq, pending) = h.tc().rotation_pending().expect("removing a router rotates");
    assert_eq!(pending, vec![c.ieee], "the removed router is left out");
    let frames = h.sent[before..].to_vec();
    for t in &frames {
        r.receive(&t.psdu);
    }
    assert!(!r.nwk_keys.contains_key(&seq), "the removed router cannot read the new key");
    take_rotation_key(&mut h, &mut c, &frames);
    assert_eq!(h.tc().active_key_seq(), seq);
    assert!(!h.tc().network_key(seq).unwrap().exposed);

    // Its frames are dropped, its Update-Device is not acted on.
    open_join(&mut h);
    let f = r.update_device(ExtAddr(0xc0aa), zigtrust_wire::ShortAddr(0x4343), 1);
    let out = h.exchange(&mut r, f);
    assert!(out.is_empty());
    assert!(h.tc().device(ExtAddr(0xc0aa)).is_none());
    assert_eq!(h.audits(AuditKind::RemovedDeviceFrame), 1);
    h.tshark_check("a_removed_router_is_shut_out");
}

/// A join in a known install-code device's name (in a permit-join window) changes nothing until
/// the joiner proves it holds the install-code key: a spoofer cannot downgrade the device's
/// unique key or reset its counters, while the genuine device, factory-reset and re-paired,
/// takes its record back with its first Request-Key.
#[test]
fn a_join_in_a_known_devices_name_changes_nothing_until_proven() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0x4001);
    let f = c.request_key();
    h.exchange(&mut c, f);
    let f = c.verify_key();
    h.exchange(&mut c, f);
    assert!(c.tclk_confirmed);
    let f = c.data();
    h.exchange(&mut c, f);
    let before = h.tc().device(c.ieee).unwrap().clone();

    // A spoofer associates in its name: it gets nothing readable, the record stays.
    open_join(&mut h);
    let mut spoof = Device::new(c.ieee.0, None);
    let f = spoof.association_request();
    h.exchange(&mut spoof, f);
    assert!(spoof.network_key().is_none());
    assert_eq!(h.tc().device(c.ieee).unwrap(), &before, "a claim moved nothing");
    // The genuine device carries on as before: heard, nothing dropped.
    let n = h.events.len();
    h.advance(1_000);
    let f = c.data();
    h.exchange(&mut c, f);
    assert!(!h.events[n..].iter().any(|e| matches!(e, Event::ReplayDropped { .. })));
    assert_eq!(h.tc().device(c.ieee).unwrap().last_seen, h.now, "still heard");

    // Factory reset: it keeps only its install code, and its counters start again.
    let mut reset = Device::new(c.ieee.0, Some(Key::from_bytes(IC_KEY)));
    join(&mut h, &mut reset);
    assert_ne!(reset.short, before.short_addr, "a fresh address for the new life");
    let f = reset.request_key();
    h.exchange(&mut reset, f);
    let f = reset.verify_key();
    h.exchange(&mut reset, f);
    assert!(reset.tclk_confirmed, "the re-paired device completed its TCLK update");
    let rec = h.tc().device(c.ieee).unwrap();
    assert_eq!(rec.short_addr, reset.short);
    assert_eq!(rec.tclk.as_ref(), reset.tclk.as_ref());
    let n = h.events.len();
    let f = reset.data();
    h.exchange(&mut reset, f);
    assert!(!h.events[n..].iter().any(|e| matches!(e, Event::ReplayDropped { .. })));
    h.tshark_check("a_join_in_a_known_devices_name");
}

/// Finding 3: frames under an old key rescue and do nothing else; replays of a device's
/// pre-rotation frames are dropped, refresh nothing, and an old secured rejoin is not accepted.
#[test]
fn frames_under_an_old_key_only_trigger_a_rescue() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0xd001);
    let old: Vec<Vec<u8>> = (0..20).map(|_| d.data()).collect();
    for f in &old[..10] {
        h.rx(f.clone());
    }
    let old_rejoin = d.rejoin_secured(None);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
    let frames = h.sent.clone();
    take_rotation_key(&mut h, &mut d, &frames);
    assert_eq!(h.tc().active_key_seq(), 1);
    h.advance(120_000);
    let seen = h.tc().device(d.ieee).unwrap().last_seen;
    let n = h.events.len();
    let mut out = Vec::new();
    for f in old.iter().chain([&old_rejoin]) {
        out.extend(h.rx(f.clone()));
    }
    let new_events = &h.events[n..];
    // Its acknowledgement under key 0 carried a later counter: every earlier key-0 frame,
    // seen by the TC or not, is a replay now.
    let drops = new_events.iter().filter(|e| matches!(e, Event::ReplayDropped { .. })).count();
    assert_eq!(drops, 21);
    assert!(!new_events.iter().any(|e| matches!(e, Event::DeviceRejoined { .. })));
    assert!(out.is_empty(), "replays trigger nothing: {:?}", out.iter().map(|t| t.what));
    // A fresh frame under the old key (a device that missed the switch) is rescued, once, and
    // refreshes nothing.
    let payload = d.data_payload();
    let f = d.secured(NwkFrameType::Data, &payload, Some(0));
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 1, "rescued");
    let f = d.secured(NwkFrameType::Data, &payload, Some(0));
    assert!(h.rx(f).is_empty(), "at most one rescue per 30 s to the same place");
    // A fresh secured rejoin under it is answered there, under the old key, with the rescue:
    // the record does not move, the device is not counted as seen.
    let f = d.rejoin_secured(Some(0));
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "rejoin-response"), 1);
    assert!(!h.events[n..].iter().any(|e| matches!(e, Event::DeviceRejoined { .. })));
    assert_eq!(h.tc().device(d.ieee).unwrap().last_seen, seen, "no liveness from old keys");
    for t in &out {
        d.receive(&t.psdu);
    }
    assert_eq!(d.active_seq, Some(1), "the rescue switched it");
    h.tshark_check("frames_under_an_old_key_only_trigger_a_rescue");
}

/// Finding 4: spoofed Trust Center rejoins, any number, in real devices' names or decoys',
/// cannot make the TC refuse a genuine device after a hub reboot, nor move its record.
#[test]
fn spoofed_rejoins_cannot_starve_or_move_genuine_devices_after_a_reboot() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut devs: Vec<Device> = (0..4).map(|i| legacy(&mut h, 0xe000 + i)).collect();
    devs.push(z30_joined(&mut h, 0xe010));
    devs.push(z30_joined(&mut h, 0xe011));
    for d in devs.iter_mut() {
        let f = d.data();
        h.exchange(d, f);
    }
    h.advance(300_000);
    h.restart(7); // the hub reboots: rate limits and liveness start empty
    let shorts: Vec<_> = devs.iter().map(|d| h.tc().device(d.ieee).unwrap().short_addr).collect();
    for round in 0..60u64 {
        for d in &devs {
            let mut a = Device::new(d.ieee.0, None);
            a.short = zigtrust_wire::ShortAddr(0x7000 + round as u16);
            let f = a.rejoin_unsecured();
            h.rx(f);
        }
        let mut decoy = Device::new(0xdec0_0000 + round, None);
        decoy.short = zigtrust_wire::ShortAddr(0x7100 + round as u16);
        let f = decoy.rejoin_unsecured();
        h.rx(f);
    }
    for (d, s) in devs.iter().zip(&shorts) {
        assert_eq!(h.tc().device(d.ieee).unwrap().short_addr, *s, "a spoof moved {}", d.ieee);
    }
    let n = h.events.len();
    for d in devs.iter_mut() {
        let f = d.rejoin_unsecured();
        h.exchange(d, f);
        assert_eq!(d.network_key(), Some(&h.tc().network_key(0).unwrap().key));
    }
    let refused = h.events[n..]
        .iter()
        .filter(|e| matches!(e, Event::RejoinDenied { reason: DenyReason::RateLimited, .. }))
        .count();
    assert_eq!(refused, 0, "a genuine device was refused for rate");
    h.tshark_check("spoofed_rejoins_cannot_starve");
}

/// Finding 4, for devices that go straight to a Trust Center rejoin (many stacks do): a spoof
/// in a device's name answered moments before the genuine device asks must not take its
/// answer. The TC answers the same place at most once per 2 s; a request inside that interval
/// is answered when it ends (rejoin response to the address the genuine device asked from,
/// which spoofs from made-up addresses do not displace), never dropped. (Found by the
/// simulator's `rate-limit-starvation` with `--secured-rejoin-attempts 0`: the flood kept every
/// genuine request within 2 s of an answer to a spoof, and the devices gave up.)
#[test]
fn a_spoof_just_before_a_genuine_rejoin_does_not_take_its_answer() {
    use zigtrust_wire::mac::{Address, MacFrame};
    let mac_dst = |t: &zigtrust_tc::Transmit| MacFrame::parse(&t.psdu).unwrap().header.dst_addr;
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0xe100);
    let f = d.data();
    h.exchange(&mut d, f);
    let mut spoofer = Device::new(d.ieee.0, None);
    spoofer.short = zigtrust_wire::ShortAddr(0x7777);
    let f = spoofer.rejoin_unsecured();
    assert_eq!(sent_what(&h.rx(f), "transport-key"), 1, "the spoof is answered (unreadably)");
    h.advance(500);
    let f = d.rejoin_unsecured();
    let mut out = h.rx(f);
    for _ in 0..10 {
        let f = spoofer.rejoin_unsecured();
        out.extend(h.rx(f));
        out.extend(h.advance(100));
    }
    out.extend(h.advance(2_000));
    let responses: Vec<_> = out.iter().filter(|t| t.what == "rejoin-response").collect();
    assert!(
        responses.iter().any(|t| mac_dst(t) == Address::Short(d.short)),
        "a rejoin response reaches the genuine device: {:?}",
        responses.iter().map(|t| mac_dst(t)).collect::<Vec<_>>()
    );
    assert!(sent_what(&out, "transport-key") >= 1);
    for t in &out {
        d.receive(&t.psdu);
    }
    assert_eq!(d.rejoin_status, Some(0));
    assert_eq!(d.network_key(), Some(&h.tc().network_key(0).unwrap().key));
    h.tshark_check("a_spoof_just_before_a_genuine_rejoin");
}

/// Finding 4, at any rate: rejoins in made-up devices' names each earned a refusal, an
/// acknowledged unicast to nobody that the MAC retries; at 200 spoofs/s those filled the
/// coordinator's radio and 5 of 6 genuine devices were stranded (simulator,
/// `--flood-rate 200`). Refusals now have a network-wide budget as well (30 a minute).
#[test]
fn refusals_to_made_up_devices_are_bounded_network_wide() {
    assert_eq!(zigtrust_tc::REFUSALS_GLOBAL, 30);
    let mut h = Harness::new();
    let mut refusals = 0;
    for i in 0..500u64 {
        let mut decoy = Device::new(0xdec0_0000 + i, None);
        decoy.short = zigtrust_wire::ShortAddr(0x7000 + i as u16);
        let f = decoy.rejoin_unsecured();
        refusals += sent_what(&h.rx(f), "rejoin-response");
    }
    assert_eq!(refusals, 30, "one minute's budget for 500 decoys");
    h.advance(zigtrust_tc::RATE_WINDOW_MS);
    let f = Device::new(0xdec1_0000, None).rejoin_unsecured();
    assert_eq!(sent_what(&h.rx(f), "rejoin-response"), 1, "the next minute has its own");
}

/// Finding 5, without a rejoin. A device whose NWK counter is out of step is resynchronised
/// as soon as it can be: under an exposed key (anyone holding it can already force a resync
/// with a forged counter and a rejoin in the device's name) the drops alone start it; under a
/// secret one, an APS command secured under the device's secret link key with a fresh APS
/// counter proves it (no one else can make one; a replay carries an old APS counter), and is
/// acted on. Before, a router's children rejoining through it were dropped with its frames until
/// it noticed and rejoined itself, and they gave up first (simulator, `counter-poisoning` with
/// `--secured-rejoin-attempts 0`, 1-2 stranded on 13 of 90 runs).
#[test]
fn an_out_of_step_router_is_resynced_without_waiting_for_its_rejoin() {
    let answers =
        |out: &[zigtrust_tc::Transmit]| sent_what(out, "tunnel") + sent_what(out, "transport-key");
    // Exposed key: a legacy device joined in front of the attacker, who poisons a router.
    let mut h = Harness::new();
    open_join(&mut h);
    let mut r = z30_joined(&mut h, 0xf101);
    let _l = legacy(&mut h, 0xf102);
    let known = sniffer_keys(&h.sent);
    // Replays, however many, are no such drops: a replayer needs no key at all.
    let captured: Vec<Vec<u8>> = (0..3).map(|_| r.data()).collect();
    for f in &captured {
        h.rx(f.clone());
    }
    for _ in 0..3 {
        for f in &captured[..2] {
            h.rx(f.clone());
        }
    }
    assert_eq!(h.audits(AuditKind::CounterResync), 0, "replays force no rotation");
    let mut a = Device::impersonating(&r, &known);
    a.nwk_fc = u32::MAX - 1;
    let f = a.data();
    h.rx(f);
    let f = r.data();
    h.rx(f);
    assert_eq!(h.audits(AuditKind::CounterResync), 0, "one drop is no pattern");
    let f = r.data();
    h.rx(f);
    assert_eq!(h.audits(AuditKind::CounterResync), 1, "two in a row under an exposed key");

    // Secret key (install-code devices only): a router that lost its counter in a reboot.
    let mut h = Harness::new();
    open_join(&mut h);
    let mut r = z30_joined(&mut h, 0xf201);
    let c = z30_joined(&mut h, 0xf202);
    let old_report = r.update_device(c.ieee, c.short, 3);
    assert_eq!(answers(&h.rx(old_report.clone())), 1);
    for _ in 0..5 {
        let f = r.data();
        h.rx(f);
    }
    r.nwk_fc = 0; // rebooted
    for _ in 0..2 {
        let f = r.data();
        h.rx(f);
    }
    assert_eq!(h.audits(AuditKind::CounterResync), 0, "drops alone prove nothing here");
    h.advance(5_000);
    assert_eq!(answers(&h.rx(old_report)), 0, "a replayed report is no proof");
    assert_eq!(h.audits(AuditKind::CounterResync), 0);
    let f = r.update_device(c.ieee, c.short, 3);
    let out = h.rx(f);
    assert_eq!(answers(&out), 1, "its fresh report is acted on: the key goes to the child");
    assert_eq!(h.audits(AuditKind::CounterResync), 1, "and its counter is resynchronised");
}

/// Finding 5: a forged frame with counter 0xFFFFFFFF cuts a device's frames only until it
/// proves itself: its rejoin under its secret link key triggers a resynchronising rotation.
#[test]
fn a_forged_high_counter_cannot_cut_a_device_off_for_good() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut c = z30_joined(&mut h, 0xf001);
    let _l = legacy(&mut h, 0xf002);
    let known = sniffer_keys(&h.sent);
    let f = c.data();
    h.exchange(&mut c, f);
    let mut a = Device::impersonating(&c, &known);
    a.nwk_fc = u32::MAX - 1;
    let f = a.data();
    h.rx(f);
    for _ in 0..2 {
        let f = c.data();
        h.exchange(&mut c, f);
    }
    assert!(h.has_event(|e| matches!(e, Event::ReplayDropped { ieee, .. } if *ieee == c.ieee)));
    // The device notices and does a Trust Center rejoin; only it can read the answer.
    let before = h.sent.len();
    let f = c.rejoin_unsecured();
    h.exchange(&mut c, f);
    assert_eq!(h.audits(AuditKind::CounterResync), 1);
    let frames = h.sent[before..].to_vec();
    take_rotation_key(&mut h, &mut c, &frames);
    let rest = h.advance(600_000); // its ack was dropped too: the deadline switches
    for t in &rest {
        c.receive(&t.psdu);
    }
    assert_eq!(h.tc().active_key_seq(), 1);
    assert_eq!(c.active_seq, Some(1));
    let n = h.events.len();
    let f = c.data();
    h.exchange(&mut c, f);
    assert!(!h.events[n..].iter().any(|e| matches!(e, Event::ReplayDropped { .. })));
    assert_eq!(h.tc().device(c.ieee).unwrap().last_key_seq, Some(1));
    h.tshark_check("a_forged_high_counter_cannot_cut_a_device_off");
}

/// Finding 6: a restart mid-rotation resumes it with the same key; a key sequence number is
/// never reused for a different key.
#[test]
fn a_rotation_survives_a_restart_with_the_same_key() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut a = z30_joined(&mut h, 0x1001);
    let mut b = z30_joined(&mut h, 0x1002);
    let before = h.sent.len();
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 600_000 });
    let frames = h.sent[before..].to_vec();
    take_rotation_key(&mut h, &mut a, &frames);
    let key1 = h.tc().network_key(1).unwrap().key.clone();
    assert_eq!(a.nwk_keys.get(&1), Some(&key1));
    h.restart(8);
    assert_eq!(h.tc().rotation_pending(), Some((1, vec![b.ieee])), "the rotation resumed");
    assert_eq!(h.audits(AuditKind::KeyRotationResumed), 1);
    let frames = h.sent[before..].to_vec();
    take_rotation_key(&mut h, &mut b, &frames);
    assert_eq!(h.tc().active_key_seq(), 1);
    assert_eq!(h.tc().network_key(1).unwrap().key, key1, "same key under seq 1");
    assert_eq!(b.nwk_keys.get(&1), Some(&key1));
    h.tshark_check("a_rotation_survives_a_restart");
}

/// Finding 6: a device's held key is identified by sequence number and key hash: after 256
/// rotations the number names a different key, and the TC does not take the device for a
/// holder of it (it would send it keys under one it cannot read).
#[test]
fn a_held_key_is_named_by_number_and_hash() {
    let mut h = Harness::new();
    open_join(&mut h);
    let _away = legacy(&mut h, 0x3001);
    let mut other = z30_joined(&mut h, 0x3002);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 0 });
    h.advance(1);
    let frames = h.sent.clone();
    take_rotation_key(&mut h, &mut other, &frames);
    let held = h.tc().device(ExtAddr(0x3001)).unwrap().clone();
    assert_eq!(h.tc().held_key(&held), Some(0));
    for _ in 0..256 {
        h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 0 });
        h.advance(1);
    }
    assert_eq!(h.tc().active_key_seq(), 1);
    let d = h.tc().device(ExtAddr(0x3001)).unwrap();
    assert_eq!(d.last_key_seq, Some(0), "it acknowledged nothing since");
    assert_eq!(h.tc().held_key(d), None, "seq 0 now names another key");
}

/// Finding 7: the outgoing NWK counter never wraps; near the top (e.g. after importing a
/// backup) the TC rotates and the new key's counter starts again at 0, while older keys are
/// never used again.
#[test]
fn counter_exhaustion_rotates_and_never_wraps() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x2001);
    h.writes_mut().push(StoreWrite::CounterLease {
        kind: CounterKind::Nwk,
        until: NWK_COUNTER_ROTATE_AT + 5,
    });
    h.restart(9);
    let out = h.advance(10);
    assert_eq!(h.audits(AuditKind::CounterExhaustion), 1);
    assert!(h.tc().rotation_pending().is_some());
    take_rotation_key(&mut h, &mut d, &out);
    assert_eq!(h.tc().active_key_seq(), 1);
    let f = d.data();
    h.exchange(&mut d, f);
    let after = h.send_application(d.ieee, &[0x00, 0x01]);
    assert!(after);
    let out = h.drain();
    let counters = nwk_counters(&out);
    assert!(counters.iter().all(|c| *c < 4096), "the new key's counter restarted: {counters:?}");
    // A straggler still on key 0 is rescued under it, on the retired counter: above anything
    // key 0 ever used, also after a restart from the store.
    h.restart(10);
    assert!(h.snapshot().counter_restarts.contains(&(CounterKind::Nwk, 1)));
    let mut s = Device::impersonating(&d, &[h.tc().network_key(0).unwrap().key.clone()]);
    s.active_seq = Some(0);
    s.nwk_fc = 1 << 20;
    let f = s.data();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 1, "the straggler is rescued");
    assert!(
        nwk_counters(&out).iter().all(|c| *c > NWK_COUNTER_ROTATE_AT),
        "{:?}",
        nwk_counters(&out)
    );

    // At the very top, nothing is sent rather than wrapping.
    let mut h = Harness::new();
    open_join(&mut h);
    let d = z30_joined(&mut h, 0x2002);
    h.writes_mut().push(StoreWrite::CounterLease { kind: CounterKind::Nwk, until: u32::MAX });
    h.restart(11);
    for _ in 0..3 {
        h.send_application(d.ieee, &[0x00, 0x01]);
    }
    let out = h.drain();
    assert!(nwk_counters(&out).iter().all(|c| *c >= NWK_COUNTER_ROTATE_AT), "no wrap to 0");
}
