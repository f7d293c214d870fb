//! Which received frames reach which rule: frames addressed elsewhere are ignored, frames under
//! the rotation key count as current, frames under old keys only rescue (the originator of a
//! relayed one too, back the way it came), and what a device's frames teach the TC about the
//! keys it holds.

mod common;

use common::*;
use zigtrust_tc::model::*;
use zigtrust_tc::{AdminCommand, DenyReason, Event, Transmit};
use zigtrust_wire::aps::ApsHeader;
use zigtrust_wire::mac::{Address, MacBody, MacFrame};
use zigtrust_wire::nwk::{NwkFrameType, NwkHeader};
use zigtrust_wire::{CapabilityInfo, ExtAddr, PanId, ShortAddr};

/// `psdu` with its MAC destination (address and PAN) replaced.
fn readdressed(psdu: &[u8], dst: Address, pan: PanId) -> Vec<u8> {
    let mut f = MacFrame::parse(psdu).unwrap();
    f.header.dst_addr = dst;
    f.header.dst_pan = Some(pan);
    let mut v = Vec::new();
    f.emit(&mut v);
    v
}

fn mac_dst(t: &Transmit) -> Address {
    MacFrame::parse(&t.psdu).unwrap().header.dst_addr
}

fn nwk_dst(t: &Transmit) -> Option<ShortAddr> {
    let MacBody::Data(nwk) = MacFrame::parse(&t.psdu).ok()?.body else { return None };
    Some(NwkHeader::parse(nwk).ok()?.0.dst)
}

/// The APS frame inside `t`'s NWK security, opened with network key `seq`.
fn aps_inside(h: &Harness, t: &Transmit, seq: u8) -> Vec<u8> {
    use zigtrust_wire::security::{open, ZIGBEE_PRO_LEVEL};
    let MacBody::Data(nwk) = MacFrame::parse(&t.psdu).unwrap().body else { panic!("no NWK") };
    let (nh, hl) = NwkHeader::parse(nwk).unwrap();
    assert!(nh.security, "NWK-secured");
    let key = h.tc().network_key(seq).unwrap().key.clone();
    open(&zigtrust_crypto::CcmStar::new(&key), ZIGBEE_PRO_LEVEL, nwk, hl, None).unwrap().plaintext
}

/// Whether `aps` opens under link key `k` (sent by the TC).
fn aps_under(h: &Harness, aps: &[u8], k: &zigtrust_crypto::Key) -> bool {
    let lvl = zigtrust_wire::security::ZIGBEE_PRO_LEVEL;
    zigtrust_wire::security::unsecure_aps(aps, k, lvl, Some(h.tc_ieee())).is_ok()
}

/// Only frames for the coordinator (its short address, its IEEE, or a broadcast) on its PAN
/// (or the broadcast PAN) are acted on.
#[test]
fn frames_for_someone_else_are_ignored() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = legacy(&mut h, 0x7100);
    let tc = h.tc_ieee();
    let mut answered = |h: &mut Harness, dst: Address, pan: PanId| {
        h.advance(5_000); // past the answer interval
        let f = readdressed(&d.rejoin_unsecured(), dst, pan);
        sent_what(&h.rx(f), "transport-key")
    };
    assert_eq!(answered(&mut h, Address::Short(ShortAddr::COORDINATOR), PAN), 1);
    assert_eq!(answered(&mut h, Address::Extended(tc), PAN), 1, "its IEEE");
    assert_eq!(answered(&mut h, Address::Short(ShortAddr::COORDINATOR), PanId::BROADCAST), 1);
    assert_eq!(answered(&mut h, Address::Short(ShortAddr(0x1234)), PAN), 0, "another device");
    assert_eq!(answered(&mut h, Address::Extended(ExtAddr(0x99)), PAN), 0, "another IEEE");
    assert_eq!(answered(&mut h, Address::Short(ShortAddr::COORDINATOR), PanId(0x2222)), 0);
}

/// A legacy router `r` and a legacy device `c` behind the coordinator, both asleep through a
/// rotation: the network is on key 1, they are still on key 0.
fn slept_through_a_rotation() -> (Harness, Device, Device) {
    let mut h = Harness::new();
    open_join(&mut h);
    let r = legacy(&mut h, 0x7200);
    let mut c = Device::new(0x7201, None);
    c.capability = CapabilityInfo::SLEEPY_END_DEVICE;
    join(&mut h, &mut c);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
    h.advance(60_001);
    assert_eq!(h.tc().active_key_seq(), 1);
    h.advance(60_000);
    (h, r, c)
}

/// A data frame under an old key rescues its sender and is nothing else, even when its
/// payload happens to read as a rejoin request (only a NWK command is one).
#[test]
fn an_old_key_data_frame_is_no_rejoin() {
    let (mut h, _r, mut c) = slept_through_a_rotation();
    let rejoin_bytes = [0x06, CapabilityInfo::SLEEPY_END_DEVICE.0];
    let f = c.secured(NwkFrameType::Data, &rejoin_bytes, Some(0));
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "rejoin-response"), 0, "{:?}", out.iter().map(|t| t.what));
    assert_eq!(sent_what(&out, "transport-key"), 1, "rescued");
}

/// A frame a router relays under an old key rescues the originator too, back through the
/// router it came from (the TC's record says the child sits behind the coordinator).
#[test]
fn a_relayed_old_key_frame_rescues_its_originator_back_the_way_it_came() {
    let (mut h, mut r, c) = slept_through_a_rotation();
    assert_eq!(h.tc().device(c.ieee).unwrap().parent, ShortAddr::COORDINATOR);
    let mut c = c;
    let aps = c.data_payload();
    let f = r.relay_for(&c, &aps);
    let n = h.events.len();
    let out = h.rx(f);
    let rescued: Vec<ExtAddr> = h.events[n..]
        .iter()
        .filter_map(|e| match e {
            Event::StaleKeyRescue { ieee, .. } => Some(*ieee),
            _ => None,
        })
        .collect();
    assert_eq!(rescued, vec![r.ieee, c.ieee], "the router and its child");
    let to_child: Vec<&Transmit> =
        out.iter().filter(|t| t.what == "transport-key" && nwk_dst(t) == Some(c.short)).collect();
    assert_eq!(to_child.len(), 1);
    assert_eq!(mac_dst(to_child[0]), Address::Short(r.short), "through the relaying router");
}

/// Before the switch, a device already using the rotation key (it overheard someone use it)
/// is current: heard, and known to hold that key, not rescued.
#[test]
fn frames_under_the_rotation_key_are_current_before_the_switch() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut a = legacy(&mut h, 0x7300);
    let _b = legacy(&mut h, 0x7301); // never acknowledges: the rotation stays pending
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 600_000 });
    let frames = h.sent.clone();
    take_rotation_key(&mut h, &mut a, &frames);
    let (seq, _) = h.tc().rotation_pending().expect("pending");
    h.advance(10_000);
    let seen = h.tc().device(a.ieee).unwrap().last_seen;
    let p = a.data_payload();
    let f = a.secured(NwkFrameType::Data, &p, Some(seq));
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 0, "no rescue");
    assert!(h.tc().device(a.ieee).unwrap().last_seen > seen, "heard");
    assert_eq!(h.tc().device(a.ieee).unwrap().last_key_seq, Some(seq));
}

/// A device whose acknowledgement of the rotation key was lost is known to hold the new key
/// once it speaks under it after the switch.
#[test]
fn a_device_is_known_to_hold_the_key_it_speaks_under() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut a = legacy(&mut h, 0x7400);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
    for t in h.sent.clone() {
        a.receive(&t.psdu); // the key arrives; the acknowledgement never does
    }
    a.acks_due.clear();
    for t in h.advance(60_001) {
        a.receive(&t.psdu);
    }
    assert_eq!((h.tc().active_key_seq(), a.active_seq), (1, Some(1)));
    assert_eq!(h.tc().device(a.ieee).unwrap().last_key_seq, Some(0));
    let f = a.data();
    h.rx(f);
    assert_eq!(h.tc().device(a.ieee).unwrap().last_key_seq, Some(1));
}

/// Every APS frame the TC sends carries the next APS counter (receivers drop repeats as
/// duplicates).
#[test]
fn aps_counters_advance() {
    let mut h = Harness::new();
    open_join(&mut h);
    for i in 0..4 {
        legacy(&mut h, 0x7500 + i);
    }
    let counters: Vec<u8> = h
        .sent
        .iter()
        .filter(|t| t.what == "transport-key")
        .filter_map(|t| {
            let MacBody::Data(nwk) = MacFrame::parse(&t.psdu).ok()?.body else { return None };
            let (nh, n) = NwkHeader::parse(nwk).ok()?;
            assert!(!nh.security, "join keys go NWK-unsecured");
            Some(ApsHeader::parse(&nwk[n..]).ok()?.0.counter)
        })
        .collect();
    assert_eq!(counters.len(), 4);
    assert!(counters.windows(2).all(|w| w[1] == w[0].wrapping_add(1)), "{counters:?}");
}

/// A device restored from a backup that had no link key for it shares nothing secret with the
/// TC: outside a rejoin window its Trust Center rejoin gets no key under the well-known key.
#[test]
fn a_restored_device_without_a_link_key_is_a_well_known_key_device() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = legacy(&mut h, 0x7600);
    h.advance(300_000); // the permit-join window is long closed
    let mut rec = h.tc().device(d.ieee).unwrap().clone();
    rec.join_method = JoinMethod::Restored;
    rec.tclk = None;
    rec.last_key_seq = None;
    rec.last_key_hash = None;
    h.writes_mut().push(StoreWrite::Device(rec));
    h.restart(3);
    let n = h.events.len();
    let f = d.rejoin_unsecured();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "transport-key"), 0, "{:?}", out.iter().map(|t| t.what));
    assert!(h.events[n..]
        .iter()
        .any(|e| matches!(e, Event::RejoinDenied { reason: DenyReason::NoReasonToTrust, .. })));
}

/// Removing an end device starts no rotation under the default policy (routers only).
#[test]
fn removing_an_end_device_does_not_rotate_by_default() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = Device::new(0x7700, None);
    d.capability = CapabilityInfo::SLEEPY_END_DEVICE;
    join(&mut h, &mut d);
    let _r = legacy(&mut h, 0x7701);
    let _stays = legacy(&mut h, 0x7702); // keeps a rotation pending once one starts
    h.admin(AdminCommand::RemoveDevice { ieee: d.ieee });
    assert!(h.tc().rotation_pending().is_none());
    h.admin(AdminCommand::RemoveDevice { ieee: ExtAddr(0x7701) });
    assert!(h.tc().rotation_pending().is_some(), "a router's removal does");
}

/// Request-Key and Update-Device count only APS-secured under the sender's link key: with
/// NWK security alone (the network key may be exposed) they are ignored.
#[test]
fn key_requests_and_device_reports_need_aps_security() {
    use zigtrust_wire::aps::{ApsCommand, KeyType, UpdateDeviceStatus};
    let mut h = Harness::new();
    open_join(&mut h);
    let mut z = z30_joined(&mut h, 0x7800);
    let aps = z.aps_cmd(
        &ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, partner: None },
        false,
    );
    let f = z.secured(NwkFrameType::Data, &aps, None);
    assert_eq!(sent_what(&h.rx(f), "transport-key-tclk"), 0, "no TCLK for an unsecured request");
    let f = z.request_key();
    assert_eq!(sent_what(&h.rx(f), "transport-key-tclk"), 1, "the secured one is answered");

    let mut r = z30_joined(&mut h, 0x7801);
    let report = |secure: bool, r: &mut Device| {
        let cmd = ApsCommand::UpdateDevice {
            device: ExtAddr(0x7802),
            short_addr: ShortAddr(0x4242),
            status: UpdateDeviceStatus::UnsecuredJoin,
            tlvs: vec![],
        };
        let aps = r.aps_cmd(&cmd, secure);
        r.secured(NwkFrameType::Data, &aps, None)
    };
    let f = report(false, &mut r);
    h.rx(f);
    assert!(h.tc().device(ExtAddr(0x7802)).is_none(), "an unsecured report admits no one");
    let f = report(true, &mut r);
    h.rx(f);
    assert!(h.tc().device(ExtAddr(0x7802)).is_some(), "the secured one does");
}

/// The allow list admits exactly the devices on it; the deny list none of those on it.
#[test]
fn allow_and_deny_lists() {
    let mut h = Harness::new();
    h.admin(policy(|p| p.allow_list = vec![ExtAddr(0x7900), ExtAddr(0x7901)]));
    open_join(&mut h);
    let joins = |h: &mut Harness, ieee: u64| {
        let mut d = Device::new(ieee, None);
        let f = d.association_request();
        h.exchange(&mut d, f);
        d.network_key().is_some()
    };
    assert!(joins(&mut h, 0x7900), "on the allow list");
    assert!(!joins(&mut h, 0x7902), "not on it");
    h.admin(policy(|p| p.deny_list = vec![ExtAddr(0x7903)]));
    open_join(&mut h);
    assert!(!joins(&mut h, 0x7903), "denied");
    assert!(joins(&mut h, 0x7904), "the allow list is empty again: anyone else");
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::JoinDenied { reason: DenyReason::NotAllowListed, .. })));
}

/// Addresses: a known device with a public link key joining again keeps its address; a device
/// a router admits keeps the address the router gave it, known or new; a device that did a
/// secured rejoin through a router at a new address is moved there once it speaks from there,
/// unless another device holds that address.
#[test]
fn addresses_follow_the_device_only_as_the_rules_say() {
    let mut h = Harness::new();
    open_join(&mut h);
    let d = legacy(&mut h, 0x7a00);
    let mut again = Device::new(d.ieee.0, None);
    join(&mut h, &mut again);
    assert_eq!(again.short, d.short, "a legacy device joining again keeps its address");

    let mut r = z30_joined(&mut h, 0x7a01);
    let _ic = z30(&mut h, 0x7a02); // its install code is known; it joins through the router
    for (child, at) in [(ExtAddr(0x7a02), ShortAddr(0x4a02)), (d.ieee, ShortAddr(0x4a00))] {
        let f = r.update_device(child, at, 1);
        h.rx(f);
        assert_eq!(h.tc().device(child).unwrap().short_addr, at, "{child}: the router's address");
    }

    let mut m = z30_joined(&mut h, 0x7a03);
    let other = z30_joined(&mut h, 0x7a04);
    let moved_to = ShortAddr(0x5a03);
    for (to, expect) in [(other.short, m.short), (moved_to, moved_to)] {
        let f = r.update_device(m.ieee, to, 0); // secured rejoin through the router
        h.rx(f);
        let stored = m.short;
        m.short = to;
        let aps = m.data_payload();
        let f = r.relay_for(&m, &aps);
        h.rx(f);
        assert_eq!(h.tc().device(m.ieee).unwrap().short_addr, expect, "rejoined at {to}");
        m.short = h.tc().device(m.ieee).unwrap().short_addr;
        if expect == moved_to {
            assert_ne!(stored, moved_to);
        }
    }
    // Its old address is free again: a Trust Center rejoin from there (another device that
    // took the address) is not taken for one from another device's address, and is answered.
    let old = ShortAddr(0x7a7a);
    assert!(h.tc().devices().all(|x| x.short_addr != old));
    let mut l = legacy(&mut h, 0x7a05);
    let mut n = z30_joined(&mut h, 0x7a06);
    let stored = n.short;
    let f = r.update_device(n.ieee, old, 0);
    h.rx(f);
    n.short = old;
    let aps = n.data_payload();
    let f = r.relay_for(&n, &aps);
    h.rx(f);
    assert_eq!(h.tc().device(n.ieee).unwrap().short_addr, old);
    h.advance(5_000);
    l.short = stored;
    let f = l.rejoin_unsecured();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "rejoin-response"), 1, "{:?}", out.iter().map(|t| t.what));
}

/// A Trust Center rejoin from a device the TC does not know is a join: inside a permit-join
/// window it is admitted (at a fresh address if the one it asks from is taken), and keys under
/// the well-known key this way are rate limited like any other, install-code keys not.
#[test]
fn an_unknown_devices_rejoin_is_a_join() {
    let mut h = Harness::new();
    open_join(&mut h);
    let taken = legacy(&mut h, 0x7b00).short;
    let mut n = Device::new(0x7b01, None);
    n.short = taken;
    let f = n.rejoin_unsecured();
    h.rx(f);
    let rec = h.tc().device(n.ieee).expect("admitted");
    assert_ne!(rec.short_addr, taken, "not onto another device's address");
    let mut free = Device::new(0x7b02, None);
    free.short = ShortAddr(0x3b02);
    let f = free.rejoin_unsecured();
    h.rx(f);
    assert_eq!(h.tc().device(free.ieee).unwrap().short_addr, ShortAddr(0x3b02), "its own");
    // Every new IEEE has a fresh per-device budget; the network-wide one holds: 30 a minute.
    let mut admitted = 2;
    for i in 0..40u64 {
        let mut d = Device::new(0x7c00 + i, None);
        d.short = ShortAddr(0x3c00 + i as u16);
        let f = d.rejoin_unsecured();
        h.rx(f);
        admitted += usize::from(h.tc().device(d.ieee).is_some());
    }
    assert_eq!(admitted, zigtrust_tc::REJOINS_GLOBAL, "well-known-key keys: 30 a minute");
    for i in 0..5u64 {
        let mut z = z30(&mut h, 0x7d00 + i);
        z.short = ShortAddr(0x3d00 + i as u16);
        let f = z.rejoin_unsecured();
        h.rx(f);
        assert!(h.tc().device(z.ieee).is_some(), "install-code keys are never rate limited");
    }
}

/// A rescue of a device with a secret link key sends the current key APS-secured under that
/// link key too, not only inside the old network key.
#[test]
fn a_rescue_keeps_the_link_key_layer() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x7e00);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 0 });
    h.advance(1);
    let p = d.data_payload();
    let f = d.secured(NwkFrameType::Data, &p, Some(0));
    let out = h.rx(f);
    let tk = out.iter().find(|t| t.what == "transport-key").expect("rescued");
    let aps = aps_inside(&h, tk, 0);
    assert!(ApsHeader::parse(&aps).unwrap().0.security, "APS-secured as well");
}

/// A key after the active one that exists without a rotation record (the rotation was
/// written, then lost) is reused by the next rotation with its key: a number devices may hold
/// never names a different key.
#[test]
fn a_stored_next_key_is_reused_by_the_next_rotation() {
    let mut h = Harness::new();
    open_join(&mut h);
    let _d = legacy(&mut h, 0x7f00);
    let _e = legacy(&mut h, 0x7f01);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 600_000 });
    let key1 = h.tc().network_key(1).unwrap().key.clone();
    h.writes_mut().push(StoreWrite::Rotation(None));
    h.restart(4);
    assert!(h.tc().rotation_pending().is_none(), "the record is gone");
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 600_000 });
    assert_eq!(h.tc().rotation_pending().unwrap().0, 1);
    assert_eq!(h.tc().network_key(1).unwrap().key, key1, "same number, same key");
}

/// The Confirm-Key that ends a TC link key update is secured under the new key (the device
/// proves nothing to itself with the old one), a failed one under the old.
#[test]
fn confirm_key_is_under_the_new_link_key() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x7f10);
    let old = d.tclk.clone().unwrap();
    tclk_update(&mut h, &mut d);
    let new = h.tc().device(d.ieee).unwrap().tclk.clone().unwrap();
    assert_ne!(new, old);
    let ck = h.sent.iter().rev().find(|t| t.what == "confirm-key").expect("confirmed");
    let aps = aps_inside(&h, ck, 0);
    assert!(aps_under(&h, &aps, &new) && !aps_under(&h, &aps, &old));

    // A Verify-Key with the wrong hash: the update fails, Confirm-Key (failure) under the old
    // key, which is the one the device keeps.
    let mut e = z30_joined(&mut h, 0x7f11);
    let f = e.request_key();
    h.rx(f);
    let aps = e.aps_cmd(
        &zigtrust_wire::aps::ApsCommand::VerifyKey {
            key_type: zigtrust_wire::aps::KeyType::TrustCenterLinkKey,
            src: e.ieee,
            hash: [0; 16],
        },
        false,
    );
    let f = e.secured(NwkFrameType::Data, &aps, None);
    let out = h.rx(f);
    let ck = out.iter().find(|t| t.what == "confirm-key").expect("answered");
    let aps = aps_inside(&h, ck, 0);
    let kept = e.tclk.clone().unwrap();
    assert!(aps_under(&h, &aps, &kept), "the failure is readable under the key the device keeps");
    assert!(!h.tc().device(e.ieee).unwrap().tclk_verified);
}

/// A genuine device that rejoins from a new address (it lost its own) just after a spoof in
/// its name was answered is answered there when the interval ends.
#[test]
fn a_deferred_answer_reaches_a_device_at_a_new_address() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x7f50);
    let mut spoofer = Device::new(d.ieee.0, None);
    spoofer.short = ShortAddr(0x7777);
    let f = spoofer.rejoin_unsecured();
    assert_eq!(sent_what(&h.rx(f), "transport-key"), 1);
    h.advance(500);
    d.short = ShortAddr(0x5f50);
    let f = d.rejoin_unsecured();
    let mut out = h.rx(f);
    out.extend(h.advance(2_000));
    let to_it = out
        .iter()
        .filter(|t| t.what == "rejoin-response" && mac_dst(t) == Address::Short(ShortAddr(0x5f50)))
        .count();
    assert_eq!(to_it, 1, "{:?}", out.iter().map(|t| (t.what, mac_dst(t))).collect::<Vec<_>>());
}

/// A Trust Center rejoin is answered where it came from over the air: its MAC source (the
/// NWK source of a one-hop request is normally the same).
#[test]
fn a_rejoin_response_goes_to_the_mac_source() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = legacy(&mut h, 0x7f20);
    h.advance(5_000);
    let req = d.rejoin_unsecured();
    let mut f = MacFrame::parse(&req).unwrap();
    f.header.src_addr = Address::Short(ShortAddr(0x2f20));
    let mut v = Vec::new();
    f.emit(&mut v);
    let out = h.rx(v);
    let resp = out.iter().find(|t| t.what == "rejoin-response").expect("answered");
    assert_eq!(mac_dst(resp), Address::Short(ShortAddr(0x2f20)));
}

/// A secured rejoin under an old key from where the TC already sends the device's frames is
/// rescued at most once per 30 s; answered each time.
#[test]
fn a_repeated_old_key_rejoin_from_the_same_place_is_rescued_once() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x7f30);
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 0 });
    h.advance(1);
    let f = d.rejoin_secured(Some(0));
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "rejoin-response"), 1);
    assert_eq!(sent_what(&out, "transport-key"), 1, "rescued");
    h.advance(5_000);
    let f = d.rejoin_secured(Some(0));
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "rejoin-response"), 1, "answered again");
    assert_eq!(sent_what(&out, "transport-key"), 0, "the rescue is not repeated");
}

/// Marks under older keys survive a frame under another older key: a replay under the
/// oldest is still dropped after the device spoke under the one in between.
#[test]
fn older_keys_keep_their_marks() {
    let mut h = Harness::new();
    open_join(&mut h);
    let mut d = z30_joined(&mut h, 0x7f40);
    let _asleep = z30_joined(&mut h, 0x7f41);
    let old0 = d.data();
    h.rx(old0.clone());
    for _ in 0..2 {
        h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 1_000 });
        let frames = h.sent.clone();
        take_rotation_key(&mut h, &mut d, &frames);
        for t in h.advance(1_001) {
            d.receive(&t.psdu);
        }
        let f = d.data();
        h.rx(f);
    }
    assert_eq!(h.tc().active_key_seq(), 2);
    h.advance(60_000);
    let p = d.data_payload();
    let f = d.secured(NwkFrameType::Data, &p, Some(1)); // fresh, under key 1
    h.rx(f);
    let n = h.events.len();
    h.rx(old0);
    assert!(
        h.events[n..].iter().any(|e| matches!(e, Event::ReplayDropped { .. })),
        "the key-0 replay is still known as one"
    );
}

/// A factory-reset device re-paired with its install code takes its record back at a fresh
/// address and frees its old one: a Trust Center rejoin from the old address is not taken for
/// one from another device's address.
#[test]
fn a_re_paired_device_frees_its_old_address() {
    let mut h = Harness::new();
    open_join(&mut h);
    let c = z30_joined(&mut h, 0x7f60);
    let old = c.short;
    let mut reset = Device::new(c.ieee.0, Some(zigtrust_crypto::Key::from_bytes(IC_KEY)));
    join(&mut h, &mut reset);
    let f = reset.request_key(); // proves the install-code key: the record is taken back
    h.rx(f);
    assert_eq!(h.tc().device(c.ieee).unwrap().short_addr, reset.short);
    assert_ne!(reset.short, old);
    let mut l = legacy(&mut h, 0x7f61);
    h.advance(5_000);
    l.short = old;
    let f = l.rejoin_unsecured();
    let out = h.rx(f);
    assert_eq!(sent_what(&out, "rejoin-response"), 1, "{:?}", out.iter().map(|t| t.what));
}
