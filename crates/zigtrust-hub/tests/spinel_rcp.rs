//! The Spinel radio with OpenThread's own RCP firmware in the loop: `ot-rcp` built for the
//! POSIX simulation platform by `scripts/build-ot-rcp` (from the unmodified OpenThread source
//! in the `openthread-sys` 0.4.0 crate), spawned as the radio's child process. This test plays
//! further nodes on OpenThread's simulation medium (UDP multicast 224.0.0.116 on 127.0.0.1,
//! port 9000 + PORT_OFFSET × 34; each datagram is 1 channel byte + PSDU + FCS) and reads what
//! the RCP puts on air.
//!
//! The medium, the `ot-rcp` binary and its transport are the test kit's
//! (`zigtrust_testkit::ot_medium`). `ZIGTRUST_OT_RCP` names another `ot-rcp` binary. Without
//! one the test builds it with the script and fails — never skips — when that fails. Each test
//! uses its own PORT_OFFSET, so they run in parallel.

use std::time::{Duration, Instant};
use zigtrust_hub::radio::spinel::{SpinelOptions, SpinelRadio, TxReport};
use zigtrust_hub::radio::{RadioFault, RadioIncident};
use zigtrust_hub::{Radio, RadioConfig};
use zigtrust_spinel::{Eui64, Prop, PropValue, Status};
use zigtrust_tc::Transmit;
use zigtrust_testkit::ot_medium::{rcp_transport, Heard, Medium};
use zigtrust_wire::mac::{
    fcs, Address, AssociationStatus, FrameType, MacBody, MacFrame, MacHeader, MacPacket,
};
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

/// The RCP's node id on the medium (its EUI-64 is 18:b4:30:00:00:00:00:01).
const RCP_NODE: u16 = 1;
const CHANNEL: u8 = 15;
const PAN: PanId = PanId(0x1a62);
const IEEE: ExtAddr = ExtAddr(0x0012_4b00_1cc0_ffee);

struct Rig {
    radio: SpinelRadio,
    medium: Medium,
}

fn config() -> RadioConfig {
    RadioConfig {
        channel: CHANNEL,
        pan_id: PAN,
        extended_pan_id: 0xdddd_0000_0000_0001,
        ieee: IEEE,
        nwk_update_id: 0,
        permit_join: true,
    }
}

/// The radio on a fresh `ot-rcp` (node 1) at `port_offset`, configured.
fn rig(port_offset: u16) -> Rig {
    let medium = Medium::new(port_offset, CHANNEL);
    let transport = rcp_transport(RCP_NODE, port_offset);
    let mut radio = SpinelRadio::with_transport(Box::new(transport), SpinelOptions::default())
        .expect("the simulation RCP opens");
    radio.configure(&config()).expect("the RCP takes the configuration");
    Rig { radio, medium }
}

fn data(dst: Address, src: Address, seq: u8, ack: bool) -> Vec<u8> {
    let h = MacHeader::data(seq, PAN, dst, src, ack);
    let mut v = Vec::new();
    MacFrame::data(h, &[0x08, 0x02, 0xfc, 0xff, 0x00, 0x00, 0x1e, seq]).emit(&mut v);
    v
}

fn poll(child: Address, seq: u8) -> Vec<u8> {
    let mut v = Vec::new();
    MacFrame::data_request(seq, PAN, Address::Short(ShortAddr::COORDINATOR), child).emit(&mut v);
    v
}

fn tx(psdu: Vec<u8>, indirect: bool) -> Transmit {
    Transmit { psdu, indirect, what: "test" }
}

/// The RCP's ACK to sequence number `seq`.
fn ack_of(m: &Medium, seq: u8) -> Heard {
    m.next_from(RCP_NODE, Duration::from_secs(1), |h| {
        let p = MacPacket::new_unchecked(h.without_fcs());
        p.frame_type() == FrameType::Ack && p.sequence() == Some(seq)
    })
    .unwrap_or_else(|| panic!("the RCP did not ACK sequence {seq}"))
}

fn frame_pending(h: &Heard) -> bool {
    MacPacket::new_unchecked(h.without_fcs()).frame_pending()
}

fn reports_until(radio: &SpinelRadio, n: usize) -> Vec<TxReport> {
    assert!(radio.wait_idle(Duration::from_secs(3)), "transmits stuck");
    let r = radio.take_tx_reports();
    assert_eq!(r.len(), n, "{r:?}");
    r
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[test]
fn handshake_and_configuration_read_back_from_the_real_rcp() {
    let Rig { radio, .. } = rig(41);
    let info = radio.info().unwrap();
    assert_eq!(info.protocol.0, 4, "{info:?}");
    assert!(info.rcp_api_version >= 4, "{info:?}");
    assert!(info.ncp_version.starts_with("OPENTHREAD/590c56e"), "{info:?}");
    assert!(info.ncp_version.contains("SIMULATION"), "{info:?}");
    assert_eq!(info.hwaddr, Eui64::from_u64(0x18b4_3000_0000_0001), "node 1's EUI-64");
    for (prop, want) in [
        (Prop::PhyEnabled, PropValue::PhyEnabled(true)),
        (Prop::PhyChan, PropValue::PhyChan(CHANNEL)),
        (Prop::MacPanId, PropValue::MacPanId(PAN.0)),
        (Prop::MacShortAddr, PropValue::MacShortAddr(0x0000)),
        (Prop::MacLongAddr, PropValue::MacLongAddr(Eui64::from_u64(IEEE.0))),
        (Prop::MacRawStreamEnabled, PropValue::MacRawStreamEnabled(true)),
        (Prop::MacSrcMatchEnabled, PropValue::MacSrcMatchEnabled(true)),
    ] {
        assert_eq!(radio.get(prop).unwrap(), want, "{}", prop.name());
    }
    let st = radio.status();
    assert!(st.link_up && st.child_pid.is_some() && st.bad_frames == 0, "{st:?}");
}

#[test]
fn a_transmitted_frame_goes_on_the_medium_with_its_fcs() {
    let Rig { mut radio, medium } = rig(42);
    let mut latencies = Vec::new();
    for seq in 0..20u8 {
        let psdu = data(
            Address::Short(ShortAddr::BROADCAST),
            Address::Short(ShortAddr::COORDINATOR),
            seq,
            false,
        );
        let t0 = Instant::now();
        radio.transmit(1_000, tx(psdu.clone(), false)).unwrap();
        let h = medium
            .next_from(RCP_NODE, Duration::from_secs(1), |h| h.without_fcs() == psdu)
            .expect("the frame on the medium");
        latencies.push(h.at - t0);
        assert_eq!(h.channel, CHANNEL);
        assert_eq!(h.psdu.len(), psdu.len() + 2);
        assert_eq!(h.psdu[psdu.len()..], fcs(&psdu).to_le_bytes(), "the radio filled the FCS");
    }
    let reports = reports_until(&radio, 20);
    assert!(reports.iter().all(|r| r.status == Status::Ok), "{reports:?}");
    latencies.sort();
    let mut on_air: Vec<Duration> = reports.iter().map(|r| r.on_air).collect();
    on_air.sort();
    println!(
        "transmit() → frame on the medium: median {:.2} ms, max {:.2} ms; transmit → transmit-done: median {:.2} ms",
        ms(latencies[10]),
        ms(latencies[19]),
        ms(on_air[10])
    );
    assert_eq!(radio.status().tx_ok, 20);
}

#[test]
fn a_frame_from_a_node_on_the_medium_arrives_intact_and_is_acked() {
    let Rig { mut radio, mut medium } = rig(43);
    let mut latencies = Vec::new();
    for (i, dst) in [Address::Short(ShortAddr::COORDINATOR), Address::Extended(IEEE)]
        .into_iter()
        .cycle()
        .take(20)
        .enumerate()
    {
        let seq = 0x40 + i as u8;
        let psdu = data(dst, Address::Short(ShortAddr(0x3d01)), seq, true);
        let t0 = medium.inject(2, &psdu);
        let got = loop {
            if let Some(r) = radio.receive(0).unwrap() {
                break r;
            }
            assert!(t0.elapsed() < Duration::from_secs(1), "the frame never reached the hub");
            std::thread::sleep(Duration::from_micros(50));
        };
        latencies.push(t0.elapsed());
        assert_eq!(got.psdu, psdu, "PSDU intact, FCS stripped");
        assert_eq!(got.meta.rssi, Some(-20.0), "the simulated radio's fixed RSSI");
        assert!(got.meta.lqi.is_some());
        // The RCP ACKed it (extended destination: MAC_15_4_LADDR was set in the right order).
        let ack = ack_of(&medium, seq);
        assert!(!frame_pending(&ack));
    }
    latencies.sort();
    println!(
        "frame injected on the medium → Radio::receive: median {:.2} ms, max {:.2} ms",
        ms(latencies[10]),
        ms(latencies[19])
    );
    // A frame for someone else is filtered out by the RCP.
    let other = data(Address::Short(ShortAddr(0x1111)), Address::Short(ShortAddr(0x3d01)), 1, true);
    medium.inject(2, &other);
    std::thread::sleep(Duration::from_millis(100));
    assert!(radio.receive(0).unwrap().is_none());
    // A beacon request gets the coordinator's beacon, permit-join bit set.
    let mut breq = Vec::new();
    MacFrame::beacon_request(9).emit(&mut breq);
    medium.inject(3, &breq);
    let b = medium
        .next_from(RCP_NODE, Duration::from_secs(1), |h| {
            MacPacket::new_unchecked(h.without_fcs()).frame_type() == FrameType::Beacon
        })
        .expect("a beacon");
    let MacBody::Beacon(beacon) = b.frame().body else { unreachable!() };
    assert!(beacon.superframe.association_permit() && beacon.superframe.pan_coordinator());
    assert_eq!(beacon.zigbee().unwrap().extended_pan_id, config().extended_pan_id);
}

#[test]
fn a_unicast_with_ack_request_to_nobody_gives_no_ack_after_retries() {
    let Rig { mut radio, medium } = rig(44);
    let psdu =
        data(Address::Short(ShortAddr(0x7777)), Address::Short(ShortAddr::COORDINATOR), 5, true);
    radio.transmit(1_000, tx(psdu.clone(), false)).unwrap();
    let r = reports_until(&radio, 1);
    assert_eq!(r[0].status, Status::NoAck);
    let copies = medium.all_from(RCP_NODE, Duration::from_millis(50));
    let copies = copies.iter().filter(|h| h.without_fcs() == psdu).count();
    assert_eq!(copies, 4, "one transmission and three retries");
    println!("unicast to nobody: NO_ACK after {:.1} ms", ms(r[0].on_air));
    let st = radio.status();
    assert_eq!((st.tx_no_ack, st.tx_ok), (1, 0));
    // Not a radio failure: nothing surfaces to the hub.
    assert!(radio.receive(0).unwrap().is_none());
    // The queue moves on.
    let b = data(Address::Short(ShortAddr::BROADCAST), Address::Short(ShortAddr(0)), 6, false);
    radio.transmit(1_000, tx(b, false)).unwrap();
    assert_eq!(reports_until(&radio, 1)[0].status, Status::Ok);
}

#[test]
fn frame_pending_follows_the_indirect_queue_through_the_source_match_table() {
    let Rig { mut radio, mut medium } = rig(45);
    let child = ShortAddr(0x4c2e);
    // Nothing held: the RCP ACKs a poll without frame-pending (source match on, table empty).
    medium.inject(2, &poll(Address::Short(child), 1));
    assert!(!frame_pending(&ack_of(&medium, 1)), "nothing waits yet");
    // Two frames held for the child.
    let f1 = data(Address::Short(child), Address::Short(ShortAddr::COORDINATOR), 0x61, true);
    let f2 = data(Address::Short(child), Address::Short(ShortAddr::COORDINATOR), 0x62, true);
    radio.transmit(5_000, tx(f1.clone(), true)).unwrap();
    radio.transmit(5_000, tx(f2.clone(), true)).unwrap();
    assert!(radio.wait_idle(Duration::from_secs(1)));
    std::thread::sleep(Duration::from_millis(20)); // the INSERT's round trip
    let early = medium.all_from(RCP_NODE, Duration::from_millis(50));
    assert!(early.is_empty(), "held, not sent: {early:?}");
    // The child polls: the RCP's ACK carries frame-pending, then the oldest frame follows,
    // with frame-pending set in it (one more waits).
    let t0 = medium.inject(2, &poll(Address::Short(child), 2));
    let ack = ack_of(&medium, 2);
    assert!(frame_pending(&ack), "the RCP set frame-pending from its source-match table");
    let got = medium
        .next_from(RCP_NODE, Duration::from_secs(1), |h| h.frame().header.sequence == Some(0x61))
        .expect("the held frame after the poll");
    let first_latency = got.at - t0;
    assert_eq!(got.without_fcs()[1..], f1[1..]);
    assert_eq!(got.without_fcs()[0], f1[0] | 0x10, "frame pending in the frame: one more waits");
    // Node 2 does not ACK it: the RCP retries, then reports NO_ACK (recorded, not fatal).
    assert!(radio.wait_idle(Duration::from_secs(2)));
    // Second poll: FP still set (one frame left), then the last frame without frame-pending.
    let t1 = medium.inject(2, &poll(Address::Short(child), 3));
    assert!(frame_pending(&ack_of(&medium, 3)));
    let got = medium
        .next_from(RCP_NODE, Duration::from_secs(1), |h| h.frame().header.sequence == Some(0x62))
        .expect("the second held frame");
    let second_latency = got.at - t1;
    assert_eq!(got.without_fcs(), f2.as_slice());
    assert!(radio.wait_idle(Duration::from_secs(2)));
    // The queue is empty and the entry removed: the next poll's ACK has the bit clear.
    medium.inject(2, &poll(Address::Short(child), 4));
    assert!(!frame_pending(&ack_of(&medium, 4)), "the source-match entry was removed");
    // An association response held for a joiner polling with its extended address.
    let joiner = ExtAddr(0x0011_2233_4455_6677);
    let mut resp = Vec::new();
    MacFrame::association_response(
        0x70,
        PAN,
        joiner,
        IEEE,
        ShortAddr(0x5e5e),
        AssociationStatus::Success,
    )
    .emit(&mut resp);
    radio.transmit(6_000, tx(resp.clone(), true)).unwrap();
    assert!(radio.wait_idle(Duration::from_secs(1)));
    std::thread::sleep(Duration::from_millis(20));
    medium.inject(3, &poll(Address::Extended(joiner), 5));
    assert!(frame_pending(&ack_of(&medium, 5)), "extended entry, byte order as the RCP wants");
    let got = medium
        .next_from(RCP_NODE, Duration::from_secs(1), |h| h.frame().header.sequence == Some(0x70))
        .expect("the association response");
    assert_eq!(got.without_fcs(), resp.as_slice());
    assert!(radio.wait_idle(Duration::from_secs(2)));
    medium.inject(3, &poll(Address::Extended(joiner), 6));
    assert!(!frame_pending(&ack_of(&medium, 6)));
    // The RCP ACKs before it hands the poll to the host: give it that moment.
    let end = Instant::now() + Duration::from_secs(1);
    while radio.status().data_requests < 6 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1));
    }
    let st = radio.status();
    assert_eq!(st.data_requests, 6, "{st:?}");
    assert_eq!(st.data_requests_fp, 3, "{st:?}");
    assert!(st.src_match.is_empty());
    println!(
        "data request on the medium → held frame on the medium: {:.2} ms and {:.2} ms",
        ms(first_latency),
        ms(second_latency)
    );
}

#[test]
fn killing_the_rcp_is_detected_and_recovered_with_configuration_and_source_match() {
    let Rig { mut radio, mut medium } = rig(46);
    let child = ShortAddr(0x2a2a);
    let held = data(Address::Short(child), Address::Short(ShortAddr::COORDINATOR), 0x33, true);
    radio.transmit(5_000, tx(held.clone(), true)).unwrap();
    assert!(radio.wait_idle(Duration::from_secs(1)));
    let pid = radio.status().child_pid.unwrap();
    let t0 = Instant::now();
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(killed.unwrap().success());
    let events = loop {
        // Frames keep flowing on `receive`; what happened to the radio comes apart from them.
        assert!(radio.receive(0).unwrap().is_none());
        let e = radio.take_events();
        if !e.is_empty() {
            break e;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "the death went unnoticed");
        std::thread::sleep(Duration::from_millis(1));
    };
    let took = t0.elapsed();
    let [e] = &events[..] else { panic!("one event, not {events:?}") };
    let RadioIncident::Recovered {
        fault: RadioFault::LinkLost { detail },
        reopened: true,
        config_reapplied: true,
        pending_entries: 1,
        frames_lost: 0,
        ..
    } = &e.incident
    else {
        panic!("{e:?}")
    };
    assert!(detail.contains("was lost"), "{detail}");
    let line = e.to_string();
    assert!(line.contains("re-opened") && line.contains("1 frame-pending entries"), "{line}");
    println!("the radio's event: {line}");
    let st = radio.status();
    assert_eq!(st.recoveries, 1);
    assert!(st.link_up);
    assert_ne!(st.child_pid, Some(pid), "a new RCP process");
    println!("RCP killed → detected, respawned and reconfigured in {:.1} ms", ms(took));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(radio.take_events(), [], "reported once");
    // The new RCP has the configuration …
    assert_eq!(radio.get(Prop::PhyChan).unwrap(), PropValue::PhyChan(CHANNEL));
    assert_eq!(radio.get(Prop::MacPanId).unwrap(), PropValue::MacPanId(PAN.0));
    assert_eq!(
        radio.get(Prop::MacLongAddr).unwrap(),
        PropValue::MacLongAddr(Eui64::from_u64(IEEE.0))
    );
    // … and the source-match table: the child's poll is ACKed with frame-pending and gets
    // the frame held before the crash.
    medium.inject(2, &poll(Address::Short(child), 9));
    assert!(frame_pending(&ack_of(&medium, 9)));
    let got = medium
        .next_from(RCP_NODE, Duration::from_secs(1), |h| h.frame().header.sequence == Some(0x33))
        .expect("the held frame after recovery");
    assert_eq!(got.without_fcs(), held.as_slice());
    // Frames go out and come in again.
    let b = data(Address::Short(ShortAddr::BROADCAST), Address::Short(ShortAddr(0)), 0x34, false);
    radio.transmit(6_000, tx(b.clone(), false)).unwrap();
    assert!(medium.next_from(RCP_NODE, Duration::from_secs(1), |h| h.without_fcs() == b).is_some());
    let inbound = data(Address::Short(ShortAddr(0)), Address::Short(child), 0x35, true);
    medium.inject(2, &inbound);
    let end = Instant::now() + Duration::from_secs(1);
    loop {
        if let Some(r) = radio.receive(0).unwrap() {
            assert_eq!(r.psdu, inbound);
            break;
        }
        assert!(Instant::now() < end, "nothing received after recovery");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Wall-clock milliseconds, the hub's clock.
fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn the_hub_on_the_rcp_beacons_and_hands_a_joiner_its_association_and_key_by_poll() {
    use zigtrust_hub::{Hub, MemStore};
    use zigtrust_tc::{AdminCommand, Event};
    use zigtrust_wire::mac::MacCommand;
    use zigtrust_wire::CapabilityInfo;

    let mut medium = Medium::new(47, CHANNEL);
    let transport = rcp_transport(RCP_NODE, 47);
    let radio = SpinelRadio::with_transport(Box::new(transport), SpinelOptions::default()).unwrap();
    let now = now_ms();
    let mut hub = Hub::open(MemStore::default(), radio, [7; 32], now).unwrap();
    let form = AdminCommand::FormNetwork {
        pan_id: PAN,
        extended_pan_id: 0xdddd_0000_0000_0002,
        channel: CHANNEL,
    };
    hub.command(now, form).unwrap();
    hub.command(now, AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None }).unwrap();
    assert_eq!(hub.radio_error(), None);
    let tc_ieee = hub.tc().network().unwrap().tc_ieee;
    assert_eq!(
        hub.radio().get(Prop::MacLongAddr).unwrap(),
        PropValue::MacLongAddr(Eui64::from_u64(tc_ieee.0)),
        "the hub configured the RCP with the Trust Center's address"
    );
    // A scanning joiner gets the hub's beacon, permit join on.
    let mut breq = Vec::new();
    MacFrame::beacon_request(1).emit(&mut breq);
    medium.inject(2, &breq);
    let b = medium
        .next_from(RCP_NODE, Duration::from_secs(1), |h| {
            MacPacket::new_unchecked(h.without_fcs()).frame_type() == FrameType::Beacon
        })
        .expect("a beacon");
    let MacBody::Beacon(beacon) = b.frame().body else { unreachable!() };
    assert!(beacon.superframe.association_permit());
    assert_eq!(beacon.zigbee().unwrap().extended_pan_id, 0xdddd_0000_0000_0002);
    // It associates: the request reaches the Trust Center through the RCP.
    let joiner = ExtAddr(0x00aa_bbcc_ddee_0001);
    let mut areq = Vec::new();
    MacFrame::association_request(
        2,
        PAN,
        ShortAddr::COORDINATOR,
        joiner,
        CapabilityInfo::SLEEPY_END_DEVICE,
    )
    .emit(&mut areq);
    let t0 = medium.inject(2, &areq);
    assert!(!frame_pending(&ack_of(&medium, 2)), "nothing held for the joiner yet");
    let mut joined = None;
    while joined.is_none() {
        assert!(t0.elapsed() < Duration::from_secs(2), "the Trust Center never saw the join");
        for e in hub.poll(now_ms()).events {
            if let Event::DeviceJoined { ieee, short, .. } = e {
                joined = Some((ieee, short));
            }
        }
    }
    let (ieee, short) = joined.unwrap();
    assert_eq!(ieee, joiner);
    let core_latency = t0.elapsed();
    assert_eq!(hub.radio_error(), None);
    // The response and the key wait for polls (the key waits with the response, for the
    // joiner's new short address); the RCP's table has both addresses.
    std::thread::sleep(Duration::from_millis(20));
    let st = hub.radio().status();
    assert_eq!(st.indirect_held, 2, "{st:?}");
    assert_eq!(st.src_match, [Address::Extended(joiner), Address::Short(short)]);
    // Poll with the extended address: frame-pending, then the association response.
    let t1 = medium.inject(2, &poll(Address::Extended(joiner), 3));
    assert!(frame_pending(&ack_of(&medium, 3)));
    let resp = medium
        .next_from(RCP_NODE, Duration::from_secs(1), |h| {
            matches!(h.frame().body, MacBody::Command(MacCommand::AssociationResponse { .. }))
        })
        .expect("the association response");
    let resp_latency = resp.at - t1;
    let MacBody::Command(MacCommand::AssociationResponse { short_addr, status }) =
        resp.frame().body
    else {
        unreachable!()
    };
    assert_eq!((short_addr, status), (short, AssociationStatus::Success));
    assert!(hub.radio().wait_idle(Duration::from_secs(2)));
    // Poll with the new short address: frame-pending, then the network key's transport.
    let t2 = medium.inject(2, &poll(Address::Short(short), 4));
    assert!(frame_pending(&ack_of(&medium, 4)));
    let key = medium
        .next_from(RCP_NODE, Duration::from_secs(1), |h| {
            let f = h.frame();
            f.header.frame_type == FrameType::Data && f.header.dst_addr == Address::Short(short)
        })
        .expect("the transport-key frame");
    let key_latency = key.at - t2;
    assert!(hub.radio().wait_idle(Duration::from_secs(2)));
    medium.inject(2, &poll(Address::Short(short), 5));
    assert!(!frame_pending(&ack_of(&medium, 5)), "nothing left for the joiner");
    println!(
        "hub on the RCP: association request → DeviceJoined {:.2} ms; poll → association \
         response {:.2} ms; poll → transport key {:.2} ms",
        ms(core_latency),
        ms(resp_latency),
        ms(key_latency)
    );
}

/// `PHY_TX_POWER` (Spinel property 0x25, one signed byte, dBm), as the RCP reports it.
fn tx_power(radio: &SpinelRadio) -> i8 {
    match radio.get(Prop::Other(0x25)).unwrap() {
        PropValue::Other { prop: 0x25, data } if data.len() == 1 => data[0] as i8,
        other => panic!("PHY_TX_POWER answered {other:?}"),
    }
}

#[test]
fn tx_power_from_the_url_is_set_read_back_and_set_again_after_the_rcp_dies() {
    use zigtrust_hub::radio::spinel::SpinelSpec;
    use zigtrust_hub::RadioSpec;
    // Parsed from the --radio URL, as the daemon does.
    let RadioSpec::Spinel(spec) =
        "spinel+hdlc+forkpty:///bin/ot-rcp?forkpty-arg=1&tx-power=-7".parse::<RadioSpec>().unwrap()
    else {
        panic!("a Spinel URL")
    };
    assert_eq!(spec.tx_power(), Some(-7));
    let e = SpinelSpec::parse("spinel+hdlc+forkpty:///bin/ot-rcp?tx-power=25").unwrap_err();
    assert!(e.contains("out of range"), "{e}");

    let opts = SpinelOptions { tx_power: spec.tx_power(), ..SpinelOptions::default() };
    let transport = rcp_transport(RCP_NODE, 58);
    let mut radio = SpinelRadio::with_transport(Box::new(transport), opts).unwrap();
    assert_eq!(tx_power(&radio), -7, "set at open (the simulation RCP starts at 0 dBm)");
    assert_eq!(radio.status().tx_power, Some(-7), "read back: known before the hub starts");
    radio.configure(&config()).unwrap();
    assert_eq!(tx_power(&radio), -7, "what the RCP reports in use on the channel");
    // A new RCP process starts at its default again: the recovery sets the power again.
    let pid = radio.status().child_pid.unwrap();
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(killed.unwrap().success());
    let end = Instant::now() + Duration::from_secs(5);
    while radio.status().recoveries == 0 || !radio.status().link_up {
        let _ = radio.receive(0);
        assert!(Instant::now() < end, "no recovery");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_ne!(radio.status().child_pid, Some(pid));
    assert_eq!(tx_power(&radio), -7, "set again on the new RCP");
    assert_eq!(radio.status().tx_power, Some(-7));
}
