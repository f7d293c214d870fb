//! Conversations about the coordinator's NWK-layer duties (`core/routing.rs`, the hub's
//! `nwk.rs`): route records and the source routes they give, route replies for route
//! discoveries toward the coordinator, address conflicts, link status and many-to-one route
//! requests. Every frame the coordinator sends is dissected by tshark at the end of each test.

mod common;

use common::*;
use zigtrust_crypto::CcmStar;
use zigtrust_crypto::Key;
use zigtrust_tc::{Event, Transmit, ROUTE_RECORD_TTL_MS};
use zigtrust_wire::mac::{Address, MacBody, MacFrame, MacHeader};
use zigtrust_wire::nwk::{NwkCommand, NwkFrameType, NwkHeader, RouteRequestOptions, SourceRoute};
use zigtrust_wire::security::{open, secure_nwk, AuxHeader, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::{CapabilityInfo, ExtAddr, ShortAddr};

/// A NWK frame a router transmits: the NWK header `h` as the originator wrote it, secured by
/// `hop` (its frame counter and IEEE address: NWK security is hop by hop), from `hop`'s short
/// address at the MAC layer to `mac_dst`.
fn hop_frame(hop: &mut Device, h: &NwkHeader, payload: &[u8], mac_dst: ShortAddr) -> Vec<u8> {
    let seq = hop.active_seq.expect("the router has a network key");
    let key = hop.nwk_keys[&seq].clone();
    hop.nwk_fc += 1;
    let aux = AuxHeader::nwk(hop.nwk_fc, hop.ieee, seq);
    let nwk = secure_nwk(h, &aux, payload, &key, ZIGBEE_PRO_LEVEL).unwrap();
    let mac = MacHeader::data(
        (hop.nwk_fc & 0xff) as u8,
        PAN,
        Address::Short(mac_dst),
        Address::Short(hop.short),
        !mac_dst.is_broadcast(),
    );
    let mut v = Vec::new();
    MacFrame { header: mac, body: MacBody::Data(&nwk) }.emit(&mut v);
    v
}

fn command(c: &NwkCommand) -> Vec<u8> {
    let mut p = Vec::new();
    c.emit(&mut p);
    p
}

/// A route record from `origin` that went through `relays` (nearest `origin` first), as the
/// last relay `hop` hands it to the coordinator.
fn route_record(origin: &Device, relays: &[ShortAddr], hop: &mut Device) -> Vec<u8> {
    let mut h = NwkHeader::command(ShortAddr::COORDINATOR, origin.short, 30, 7);
    h.src_ieee = Some(origin.ieee);
    let p = command(&NwkCommand::RouteRecord { relays: relays.to_vec() });
    hop_frame(hop, &h, &p, ShortAddr::COORDINATOR)
}

/// The MAC destination and NWK header of a frame the coordinator sent, and its decrypted NWK
/// payload under `key`.
fn decode(t: &Transmit, key: &Key) -> (Address, NwkHeader, Vec<u8>) {
    let mac = MacFrame::parse(&t.psdu).unwrap();
    let MacBody::Data(nwk) = mac.body else { panic!("not a data frame: {}", t.what) };
    let (h, hl) = NwkHeader::parse(nwk).unwrap();
    let o = open(&CcmStar::new(key), ZIGBEE_PRO_LEVEL, nwk, hl, None).unwrap();
    (mac.header.dst_addr, h, o.plaintext)
}

fn active_key(h: &Harness) -> Key {
    h.tc().network_key(h.tc().active_key_seq()).unwrap().key.clone()
}

/// The coordinator, router R1 next to it, router R2 joined through R1 (out of the
/// coordinator's range), and a sleepy device D joined through R2.
struct Chain {
    h: Harness,
    r1: Device,
    r2: Device,
    d: Device,
}

fn chain() -> Chain {
    let mut h = Harness::new();
    h.hub.set_nwk_duties(false);
    open_join(&mut h);
    let mut r1 = z30_joined(&mut h, 0xc001);
    tclk_update(&mut h, &mut r1);
    let mut r2 = z30(&mut h, 0xc002);
    r2.short = ShortAddr(0x2222);
    let f = r1.update_device(r2.ieee, r2.short, 1);
    let out = h.rx(f);
    let (_, inner) = out.iter().find_map(|t| r1.tunnelled(&t.psdu)).expect("tunnel to R1");
    r2.receive_relayed(&inner);
    assert!(r2.network_key().is_some());
    // The router-reported join recorded R2 as a sleepy end device; its announce, rebroadcast
    // by R1, says it is a router.
    let was = h.tc().device(r2.ieee).unwrap().capability;
    assert_eq!(was, CapabilityInfo::SLEEPY_END_DEVICE.0);
    let f = hop_frame(&mut r1, &announce(&r2), &annce_aps(&r2), ShortAddr::BROADCAST);
    h.rx(f);
    assert_eq!(h.tc().device(r2.ieee).unwrap().capability, CapabilityInfo::ROUTER.0);
    let mut d = z30(&mut h, 0xc003);
    d.short = ShortAddr(0x3333);
    let f = r2.update_device(d.ieee, d.short, 1);
    // R2's Update-Device reaches the coordinator through R1 (hop by hop).
    let aps = aps_of(&f, &r2);
    let f = r1.relay_for(&r2, &aps);
    let out = h.rx(f);
    // The tunnel to R2 goes through R1, whose parent is the coordinator: R2's recorded parent.
    let t = out.iter().find(|t| t.what == "tunnel").expect("a tunnel for D");
    let (mac_dst, nh, _) = decode(t, &active_key(&h));
    assert_eq!(mac_dst, Address::Short(r1.short), "to R1, the relay nearest the coordinator");
    assert_eq!(nh.dst, r2.short);
    assert_eq!(nh.source_route, Some(SourceRoute { relay_index: 0, relays: vec![r1.short] }));
    let (_, inner) = out.iter().find_map(|t| r2.tunnelled(&t.psdu)).expect("tunnel to R2");
    d.receive_relayed(&inner);
    assert!(d.network_key().is_some());
    Chain { h, r1, r2, d }
}

/// The NWK header of `dev`'s Device_annce broadcast.
fn announce(dev: &Device) -> NwkHeader {
    let mut h = NwkHeader::data(ShortAddr::RX_ON_WHEN_IDLE, dev.short, 30, 0x61);
    h.src_ieee = Some(dev.ieee);
    h
}

/// `dev`'s ZDO Device_annce (APS frame): its short and IEEE addresses and capability.
fn annce_aps(dev: &Device) -> Vec<u8> {
    let mut a = Vec::new();
    zigtrust_wire::aps::ApsHeader::data_broadcast(0, 0x0013, 0, 0, 0x62).emit(&mut a);
    a.push(0x63);
    a.extend_from_slice(&dev.short.0.to_le_bytes());
    a.extend_from_slice(&dev.ieee.to_le_bytes());
    a.push(dev.capability.0);
    a
}

/// The APS frame inside a device's own NWK-secured frame.
fn aps_of(psdu: &[u8], dev: &Device) -> Vec<u8> {
    let mac = MacFrame::parse(psdu).unwrap();
    let MacBody::Data(nwk) = mac.body else { panic!() };
    let (_, hl) = NwkHeader::parse(nwk).unwrap();
    let key = dev.network_key().unwrap();
    open(&CcmStar::new(key), ZIGBEE_PRO_LEVEL, nwk, hl, None).unwrap().plaintext
}

#[test]
fn unicasts_follow_the_route_records_relays() {
    let Chain { mut h, mut r1, r2, mut d } = chain();
    // Without a record, the tree of recorded parents: D → R2 → R1.
    assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r1.short]);

    // R2's route record says it is reached through R1.
    let f = route_record(&r2, &[r1.short], &mut r1);
    h.rx(f);
    assert!(h.has_event(|e| matches!(e, Event::RouteRecorded { short, relays, .. }
        if *short == r2.short && relays == &vec![r1.short])));
    assert_eq!(h.tc().route_record(r2.short).map(|r| r.relays.clone()), Some(vec![r1.short]));

    // An application frame to D: MAC to R1, source route [R2, R1] with the index at R1.
    let aps = d.data_payload();
    assert!(h.send_application(d.ieee, &aps));
    let t = h.drain().pop().expect("a frame");
    let (mac_dst, nh, _) = decode(&t, &active_key(&h));
    assert_eq!(mac_dst, Address::Short(r1.short));
    assert_eq!((nh.dst, nh.dst_ieee), (d.short, Some(d.ieee)));
    assert_eq!(
        nh.source_route,
        Some(SourceRoute { relay_index: 1, relays: vec![r2.short, r1.short] })
    );

    // Source routing off: the frame goes to D's parent R2 directly, which the coordinator
    // cannot reach; the subframe is what gets it there.
    h.hub.set_source_routing(false);
    let aps = d.data_payload();
    assert!(h.send_application(d.ieee, &aps));
    let t = h.drain().pop().expect("a frame");
    let (mac_dst, nh, _) = decode(&t, &active_key(&h));
    assert_eq!((mac_dst, nh.source_route), (Address::Short(r2.short), None));
    h.hub.set_source_routing(true);

    // A record older than its lifetime is not used; the tree is.
    let f = route_record(&r2, &[], &mut r1);
    h.rx(f);
    let kept = h.tc().route_record(r2.short).map(|r| r.relays.clone());
    assert_eq!(kept, Some(vec![r1.short]), "ignored: the last hop R1 is not the originator R2");
    h.advance(ROUTE_RECORD_TTL_MS);
    assert!(h.tc().route_record(r2.short).is_none());
    assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r1.short]);
    h.tshark_check("unicasts_follow_the_route_records_relays");
}

#[test]
fn only_authenticated_fresh_route_records_are_learned() {
    let Chain { mut h, mut r1, r2, d } = chain();
    let mut r3 = z30_joined(&mut h, 0xc004);
    // A genuine record: D (the sleepy device) through R2 and R1.
    let good = route_record(&d, &[r2.short, r1.short], &mut r1);
    h.rx(good.clone());
    assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r1.short]);
    // R2 learned with it: reached through R1.
    assert_eq!(h.tc().route_record(r2.short).map(|r| r.relays.clone()), Some(vec![r1.short]));

    // Replayed (to move the route back after it changed): dropped on its frame counter.
    let f = route_record(&d, &[r2.short, r3.short], &mut r3);
    h.rx(f);
    assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r3.short]);
    let n = h.events.len();
    h.rx(good);
    assert!(h.events[n..].iter().any(|e| matches!(e, Event::ReplayDropped { .. })));
    assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r3.short], "replay ignored");

    // Unsecured: ignored.
    let mut hdr = NwkHeader::command(ShortAddr::COORDINATOR, d.short, 30, 9);
    hdr.src_ieee = Some(d.ieee);
    let mut nwk = Vec::new();
    hdr.emit(&mut nwk);
    nwk.extend(command(&NwkCommand::RouteRecord { relays: vec![ShortAddr(0x0bad)] }));
    let mac = MacHeader::data(1, PAN, Address::Short(ShortAddr(0)), Address::Short(r1.short), true);
    let mut f = Vec::new();
    MacFrame { header: mac, body: MacBody::Data(&nwk) }.emit(&mut f);
    h.rx(f);
    assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r3.short]);

    // Under a key the Trust Center never issued: ignored.
    let mut forger = Device::impersonating(&r1, &[]);
    forger.nwk_keys.insert(0, Key::from_bytes([0x5a; 16]));
    forger.active_seq = Some(0);
    forger.nwk_fc = 1 << 20;
    let f = route_record(&d, &[ShortAddr(0x0bad), r1.short], &mut forger);
    h.rx(f);
    assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r3.short]);

    // Secured by R1 but naming R3 as the last relay: the hop that secured it must be the last
    // relay, so a router cannot pin routes through others.
    let f = route_record(&d, &[r2.short, r3.short], &mut r1);
    h.rx(f);
    let f = route_record(&d, &[r2.short], &mut r1);
    h.rx(f);
    assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r3.short]);
    // Relays that are no device of the network, or loops: ignored.
    for relays in [vec![ShortAddr(0x0bad), r1.short], vec![r2.short, r2.short, r1.short]] {
        let f = route_record(&d, &relays, &mut r1);
        h.rx(f);
        assert_eq!(h.tc().source_route_to(d.short), vec![r2.short, r3.short], "{relays:?}");
    }
    h.tshark_check("only_authenticated_fresh_route_records_are_learned");
}

#[test]
fn route_requests_for_the_coordinator_get_a_route_reply_back_the_way_they_came() {
    let Chain { mut h, mut r1, r2, .. } = chain();
    let key = active_key(&h);
    // R2's route discovery for the coordinator, rebroadcast by R1 (path cost 3 so far).
    let request = |id: u8, options: u8, dst: ShortAddr, cost: u8| {
        let mut hdr = NwkHeader::command(ShortAddr::ROUTERS, r2.short, 29, id);
        hdr.src_ieee = Some(r2.ieee);
        let rr = NwkCommand::RouteRequest {
            options: RouteRequestOptions(options),
            id,
            dst,
            path_cost: cost,
            dst_ieee: None,
        };
        (hdr, command(&rr))
    };
    let (hdr, p) = request(5, 0, ShortAddr::COORDINATOR, 3);
    let out = h.rx(hop_frame(&mut r1, &hdr, &p, ShortAddr::BROADCAST));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].what, "route-reply");
    let (mac_dst, nh, plain) = decode(&out[0], &key);
    // Unicast to R1, the neighbour it came from, at both layers; no source route.
    assert_eq!(mac_dst, Address::Short(r1.short));
    assert_eq!(
        (nh.dst, nh.frame_type, nh.source_route.clone()),
        (r1.short, NwkFrameType::Command, None)
    );
    assert!(nh.security);
    let NwkCommand::RouteReply {
        id,
        originator,
        responder,
        path_cost,
        originator_ieee,
        responder_ieee,
        ..
    } = NwkCommand::parse(&plain).unwrap()
    else {
        panic!("not a route reply")
    };
    assert_eq!((id, originator, responder, path_cost), (5, r2.short, ShortAddr::COORDINATOR, 4));
    assert_eq!(originator_ieee, Some(r2.ieee));
    assert_eq!(responder_ieee, Some(h.tc().network().unwrap().tc_ieee));

    // The same discovery over another router, no cheaper: not answered again.
    let mut r3 = z30_joined(&mut h, 0xc004);
    let out = h.rx(hop_frame(&mut r3, &hdr, &p, ShortAddr::BROADCAST));
    // (R3, a router that joined in the open window, is told about it now that it spoke.)
    assert_eq!(sent_what(&out, "route-reply"), 0, "{out:?}");
    // Cheaper: answered, toward R3.
    let (hdr, p) = request(5, 0, ShortAddr::COORDINATOR, 1);
    let out = h.rx(hop_frame(&mut r3, &hdr, &p, ShortAddr::BROADCAST));
    assert_eq!(out.len(), 1);
    assert_eq!(decode(&out[0], &key).0, Address::Short(r3.short));

    // Discoveries for someone else, and many-to-one requests: not the coordinator's to answer.
    for (opt, dst) in [(0, ShortAddr(0x4444)), (0x08, ShortAddr::COORDINATOR)] {
        let (hdr, p) = request(6, opt, dst, 1);
        let out = h.rx(hop_frame(&mut r1, &hdr, &p, ShortAddr::BROADCAST));
        assert!(out.is_empty(), "{opt:#x} {dst}: {out:?}");
    }
    // Unsecured: not answered.
    let (hdr, p) = request(7, 0, ShortAddr::COORDINATOR, 1);
    let mut nwk = Vec::new();
    hdr.emit(&mut nwk);
    nwk.extend(p);
    let mac = MacHeader::data(
        1,
        PAN,
        Address::Short(ShortAddr::BROADCAST),
        Address::Short(r1.short),
        false,
    );
    let mut f = Vec::new();
    MacFrame { header: mac, body: MacBody::Data(&nwk) }.emit(&mut f);
    assert!(h.rx(f).is_empty());
    h.tshark_check("route_requests_for_the_coordinator");
}

#[test]
fn an_address_used_by_two_devices_is_reported_once_per_interval() {
    let mut h = Harness::new();
    h.hub.set_nwk_duties(false);
    open_join(&mut h);
    let a = legacy(&mut h, 0xd001);
    let mut b = legacy(&mut h, 0xd002);
    let key = active_key(&h);
    let b_short = b.short;
    // B, a member, sends from A's address (it picked the same one).
    b.short = a.short;
    let out = h.rx(b.data());
    let status: Vec<&Transmit> = out.iter().filter(|t| t.what == "address-conflict").collect();
    assert_eq!(status.len(), 1, "{out:?}");
    let (mac_dst, nh, plain) = decode(status[0], &key);
    assert_eq!(mac_dst, Address::Short(ShortAddr::BROADCAST));
    assert_eq!(nh.dst, ShortAddr::RX_ON_WHEN_IDLE);
    assert_eq!(
        NwkCommand::parse(&plain),
        Ok(NwkCommand::NetworkStatus { status: 0x0d, dst: a.short })
    );
    assert!(h.has_event(|e| matches!(e, Event::AddressConflict { short, known, other }
        if *short == a.short && *known == a.ieee && *other == b.ieee)));
    // Once per interval, not once per frame.
    let out = h.rx(b.data());
    assert_eq!(sent_what(&out, "address-conflict"), 0);
    h.advance(zigtrust_tc::ADDRESS_CONFLICT_INTERVAL_MS);
    let out = h.rx(b.data());
    assert_eq!(sent_what(&out, "address-conflict"), 1);

    // A device announce naming A's address with B's IEEE address: a conflict too.
    h.advance(zigtrust_tc::ADDRESS_CONFLICT_INTERVAL_MS);
    b.short = b_short;
    let mut annce = Vec::new();
    zigtrust_wire::aps::ApsHeader::data_broadcast(0, 0x0013, 0, 0, 9).emit(&mut annce);
    annce.push(1);
    annce.extend_from_slice(&a.short.0.to_le_bytes());
    annce.extend_from_slice(&b.ieee.to_le_bytes());
    annce.push(0x80);
    let out = h.rx(b.secured(NwkFrameType::Data, &annce, None));
    assert_eq!(sent_what(&out, "address-conflict"), 1, "{out:?}");

    // Unsecured frames cannot trigger it: anyone can send those.
    h.advance(zigtrust_tc::ADDRESS_CONFLICT_INTERVAL_MS);
    let mut hdr = NwkHeader::data(ShortAddr::COORDINATOR, a.short, 30, 1);
    hdr.src_ieee = Some(b.ieee);
    let mut nwk = Vec::new();
    hdr.emit(&mut nwk);
    nwk.extend(b.data_payload());
    let mac = MacHeader::data(1, PAN, Address::Short(ShortAddr(0)), Address::Short(a.short), true);
    let mut f = Vec::new();
    MacFrame { header: mac, body: MacBody::Data(&nwk) }.emit(&mut f);
    assert_eq!(sent_what(&h.rx(f), "address-conflict"), 0);
    // Nor an intruder holding the network key under an IEEE address the TC never admitted.
    let mut intruder = Device::impersonating(&b, std::slice::from_ref(&key));
    intruder.ieee = ExtAddr(0xd0ff);
    intruder.short = a.short;
    intruder.nwk_fc = 1 << 20;
    assert_eq!(sent_what(&h.rx(intruder.data()), "address-conflict"), 0);
    // Nor a replay of B's conflicting frame.
    b.short = a.short;
    let f = b.data();
    assert_eq!(sent_what(&h.rx(f.clone()), "address-conflict"), 1);
    h.advance(zigtrust_tc::ADDRESS_CONFLICT_INTERVAL_MS);
    assert_eq!(sent_what(&h.rx(f), "address-conflict"), 0);
    h.tshark_check("address_conflict");
}

/// The link status and many-to-one route requests the hub broadcasts (`zigtrust-hub`'s
/// `nwk.rs`), through the core's `send_nwk_command`.
#[test]
fn link_status_and_many_to_one_route_requests_are_broadcast_periodically() {
    use zigtrust_hub::{link_cost, LINK_STATUS_PERIOD_MS};
    use zigtrust_tc::RxMeta;
    use zigtrust_wire::nwk::LinkStatusEntry;
    let mut h = Harness::new();
    open_join(&mut h);
    let mut r1 = z30_joined(&mut h, 0xe101);
    let mut s = Device::new(0xe102, None);
    s.capability = CapabilityInfo::SLEEPY_END_DEVICE;
    join(&mut h, &mut s);
    let heard = |h: &mut Harness, f: Vec<u8>, lqi: u8| {
        let step = h.hub.receive(h.now, &f, RxMeta { rssi: None, lqi: Some(lqi) });
        h.events.extend(step.events);
        h.drain();
    };
    // Both neighbours heard; R1's own link status lists the coordinator with incoming cost 3
    // (so the coordinator's outgoing cost to R1 is 3).
    let f = s.data();
    heard(&mut h, f, 250);
    let mut ls = NwkHeader::command(ShortAddr::ROUTERS, r1.short, 1, 0x70);
    ls.src_ieee = Some(r1.ieee);
    let entries = vec![LinkStatusEntry::new(ShortAddr::COORDINATOR, 3, 2)];
    let cmd =
        NwkCommand::LinkStatus { first_frame: true, last_frame: true, reserved: false, entries };
    let f = hop_frame(&mut r1, &ls, &command(&cmd), ShortAddr::BROADCAST);
    heard(&mut h, f, 100);
    assert!(h.has_event(|e| matches!(e, Event::LinkStatusReceived { router, coordinator_cost: Some((3, 2)), .. } if *router == r1.short)));

    let decoded = |h: &Harness, out: &[Transmit]| -> Vec<(NwkHeader, NwkCommand)> {
        out.iter()
            .filter(|t| t.what == "nwk-command")
            .map(|t| {
                let (mac_dst, nh, p) = decode(t, &active_key(h));
                assert_eq!(mac_dst, Address::Short(ShortAddr::BROADCAST));
                (nh, NwkCommand::parse(&p).unwrap())
            })
            .collect()
    };
    let out = h.advance(10);
    let cmds = decoded(&h, &out);
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    let (rh, rr) = &cmds[0];
    assert_eq!((rh.dst, rh.radius), (ShortAddr::ROUTERS, 30));
    let NwkCommand::RouteRequest { options, dst, path_cost, .. } = rr else { panic!("{rr:?}") };
    assert_eq!((options.many_to_one(), *dst, *path_cost), (1, ShortAddr::ROUTERS, 0));
    let (lh, l) = &cmds[1];
    assert_eq!(
        (lh.dst, lh.radius, lh.src_ieee),
        (ShortAddr::ROUTERS, 1, Some(h.tc().network().unwrap().tc_ieee))
    );
    let expect = vec![LinkStatusEntry::new(r1.short, link_cost(Some(100)), 3)];
    assert_eq!(
        l,
        &NwkCommand::LinkStatus {
            first_frame: true,
            last_frame: true,
            reserved: false,
            entries: expect.clone()
        },
        "R1 only: the sleepy neighbour is no router"
    );
    assert_eq!(link_cost(Some(100)), 4);
    // Every period; the route request every minute.
    let out = h.advance(LINK_STATUS_PERIOD_MS - 20);
    assert!(decoded(&h, &out).is_empty(), "not before the period");
    let out = h.advance(20);
    let cmds = decoded(&h, &out);
    assert_eq!(cmds.len(), 1);
    assert!(matches!(&cmds[0].1, NwkCommand::LinkStatus { entries, .. } if entries == &expect));
    let mut requests = 0;
    for _ in 0..3 {
        let out = h.advance(LINK_STATUS_PERIOD_MS);
        requests += decoded(&h, &out)
            .iter()
            .filter(|(_, c)| matches!(c, NwkCommand::RouteRequest { .. }))
            .count();
    }
    assert_eq!(requests, 1, "one many-to-one route request a minute");
    // R1 silent for longer than the router age limit: no longer listed.
    let out = h.advance(LINK_STATUS_PERIOD_MS);
    let cmds = decoded(&h, &out);
    let last = cmds.iter().rev().find(|(_, c)| matches!(c, NwkCommand::LinkStatus { .. })).unwrap();
    assert!(
        matches!(&last.1, NwkCommand::LinkStatus { entries, .. } if entries.is_empty()),
        "{last:?}"
    );
    // The frame counter is the one the core uses for everything.
    let counters = nwk_counters(&h.sent);
    assert!(counters.windows(2).all(|w| w[0] < w[1]), "{counters:?}");
    h.tshark_check("link_status_and_many_to_one_route_requests");
}

/// A router's Network Status "source route failure" drops the route and brings the next
/// many-to-one route request forward (at most one per 10 s).
#[test]
fn a_reported_route_failure_drops_the_route_and_reannounces_the_concentrator() {
    use zigtrust_hub::CONCENTRATOR_MIN_INTERVAL_MS;
    let Chain { mut h, mut r1, r2, d } = chain();
    let f = route_record(&d, &[r2.short, r1.short], &mut r1);
    h.rx(f);
    assert!(h.tc().route_record(d.short).is_some());
    h.hub.set_nwk_duties(true);
    let requests = |out: &[Transmit], h: &Harness| {
        out.iter()
            .filter(|t| t.what == "nwk-command")
            .filter(|t| {
                let (_, _, p) = decode(t, &active_key(h));
                matches!(NwkCommand::parse(&p), Ok(NwkCommand::RouteRequest { .. }))
            })
            .count()
    };
    assert_eq!(requests(&h.advance(10), &h), 1, "the first, at once");
    let failure = |r1: &mut Device, status: u8| {
        let mut hdr = NwkHeader::command(ShortAddr::COORDINATOR, r1.short, 30, 0x44);
        hdr.src_ieee = Some(r1.ieee);
        let p = command(&NwkCommand::NetworkStatus { status, dst: d.short });
        hop_frame(r1, &hdr, &p, ShortAddr::COORDINATOR)
    };
    h.advance(1_000);
    let f = failure(&mut r1, 0x0b);
    h.rx(f);
    assert!(h.has_event(
        |e| matches!(e, Event::RouteFailure { dst, status: 0x0b, .. } if *dst == d.short)
    ));
    assert!(h.tc().route_record(d.short).is_none(), "the failed route is dropped");
    // Not sooner than the minimum interval after the last one, then at once.
    assert_eq!(requests(&h.advance(CONCENTRATOR_MIN_INTERVAL_MS - 1_100), &h), 0);
    assert_eq!(requests(&h.advance(200), &h), 1);
    // Other statuses (an address conflict report, say) leave routes alone.
    let f = route_record(&d, &[r2.short, r1.short], &mut r1);
    h.rx(f);
    let f = failure(&mut r1, 0x0d);
    h.rx(f);
    assert!(h.tc().route_record(d.short).is_some());
    h.tshark_check("route_failure");
}

/// More neighbouring routers than one 127-byte frame holds: the link status is split, in
/// ascending address order, the first frame flagged first and the last flagged last.
#[test]
fn a_long_link_status_is_split_into_frames_that_fit() {
    use zigtrust_hub::LINK_STATUS_MAX_ENTRIES;
    let mut h = Harness::new();
    open_join(&mut h);
    let n = LINK_STATUS_MAX_ENTRIES as u64 + 3;
    for i in 0..n {
        let mut r = legacy(&mut h, 0xf100 + i);
        let f = r.data();
        h.rx(f);
    }
    let out = h.advance(10);
    let key = active_key(&h);
    let mut all = Vec::new();
    let mut flags = Vec::new();
    for t in out.iter().filter(|t| t.what == "nwk-command") {
        assert!(t.psdu.len() + 2 <= 127, "{} bytes with the FCS", t.psdu.len() + 2);
        let (_, _, p) = decode(t, &key);
        if let Ok(NwkCommand::LinkStatus { first_frame, last_frame, entries, .. }) =
            NwkCommand::parse(&p)
        {
            flags.push((first_frame, last_frame, entries.len()));
            all.extend(entries.iter().map(|e| e.addr.0));
        }
    }
    let rest = n as usize - LINK_STATUS_MAX_ENTRIES;
    assert_eq!(flags, [(true, false, LINK_STATUS_MAX_ENTRIES), (false, true, rest)]);
    assert_eq!(all.len(), n as usize);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "ascending: {all:?}");
    h.tshark_check("long_link_status");
}

/// A Device_annce proves only that its sender holds the network key. It replaces, once, the
/// stand-in capability a router-reported join recorded (Update-Device carries none); it never
/// overrides a capability the device stated itself. Otherwise an insider with the network key
/// could re-announce a device as a router (its Update-Devices then accepted) or as a sleepy
/// device (its frames held for polls it never sends).
#[test]
fn a_forged_announce_cannot_change_a_devices_capability() {
    let Chain { mut h, mut r1, mut r2, .. } = chain();
    let sleepy = CapabilityInfo::SLEEPY_END_DEVICE;
    // R2 stated its capability in its own announce (in `chain`): a second one, forged, is
    // not taken.
    r2.capability = sleepy;
    let f = hop_frame(&mut r1, &announce(&r2), &annce_aps(&r2), ShortAddr::BROADCAST);
    h.rx(f);
    assert_eq!(h.tc().device(r2.ieee).unwrap().capability, CapabilityInfo::ROUTER.0);
    // R1 stated its capability in its association request: an announce cannot change it.
    let stated = h.tc().device(r1.ieee).unwrap().capability;
    r1.capability = sleepy;
    let (hdr, aps) = (announce(&r1), annce_aps(&r1));
    let f = hop_frame(&mut r1, &hdr, &aps, ShortAddr::BROADCAST);
    h.rx(f);
    assert_eq!(h.tc().device(r1.ieee).unwrap().capability, stated);
    assert_ne!(stated, sleepy.0);
    h.tshark_check("a_forged_announce_cannot_change_a_devices_capability");
}
