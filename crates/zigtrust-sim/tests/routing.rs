//! Source routing in the simulator: a sleepy device behind router R2 behind router R1, with
//! R2 out of the coordinator's range (the topology is the radio range: only neighbours hear
//! each other). The coordinator reaches R2 and the device only along source routes: it joins,
//! and later takes a rotation key and confirms it. The same run with source routing off
//! strands it.

use zigtrust_crypto::Key;
use zigtrust_sim::device::{self, Device, Knobs, Profile, Role};
use zigtrust_sim::engine::Topology;
use zigtrust_sim::world::{Coordinator, Kind, MemStore, World, PAN};
use zigtrust_tc::AdminCommand;
use zigtrust_wire::ExtAddr;

const S: u64 = 1_000_000;
const R1: usize = 1;
const R2: usize = 2;
const SLEEPY: usize = 3;

/// Coordinator — R1 — R2 — sleepy device, each hearing only its neighbours in the chain.
fn chain(seed: u64, source_routing: bool) -> World {
    let mut w = World::new(seed);
    let hub = Coordinator::new(MemStore::default(), [seed as u8; 32], 0, seed);
    w.add_node(Kind::Coordinator(Box::new(hub)), true);
    w.hub().hub.set_source_routing(source_routing);
    w.command(AdminCommand::FormNetwork {
        pan_id: PAN,
        extended_pan_id: 0xdddd_0000_0000_0001,
        channel: 15,
    })
    .unwrap();
    let ieee = w.hub().hub.tc().network().unwrap().tc_ieee;
    w.hub().ieee = ieee;
    let mut topo = Topology::new(4);
    for (a, b) in [(0, R1), (R1, R2), (R2, SLEEPY)] {
        topo.link(a, b, 0);
    }
    for (n, role) in [(R1, Role::Router), (R2, Role::Router), (SLEEPY, Role::Sleepy)] {
        let ieee = ExtAddr(0x0012_4b00_0000_0000 | n as u64);
        let ic = Key::from_bytes([n as u8; 16]);
        let parent = n - 1;
        // The sleepy device polls within a parent's indirect persistence time (7.68 s), so a
        // frame routed to it is fetched before its parent drops it (the Trust Center does not
        // resend its own commands yet).
        let knobs = Knobs { poll_interval_ms: 5_000, ..Knobs::default() };
        let dv = Device::new(ieee, Profile::Z30, role, Some(ic.clone()), vec![parent], knobs);
        w.add_node(Kind::Device(Box::new(dv)), role == Role::Router);
        w.command_at(1_000, AdminCommand::AddInstallCode { ieee, link_key: ic }).unwrap();
    }
    w.topo = topo;
    assert!(!w.topo.linked(0, R2) && !w.topo.linked(0, SLEEPY), "R2 is out of range");
    w.command_at(1_000, AdminCommand::PermitJoin { duration_ms: 254_000, ieee: None }).unwrap();
    for (n, at) in [(R1, 2), (R2, 20), (SLEEPY, 40)] {
        device::boot(&mut w, n, at * S);
    }
    w.run_until(120 * S, &mut |_, _| {});
    w
}

fn tc(w: &World) -> &zigtrust_tc::TrustCenter {
    w.coordinator().expect("a coordinator").hub.tc()
}

fn joined(w: &World, n: usize) -> bool {
    w.dev(n).is_some_and(|d| d.joined && d.active.is_some())
}

#[test]
fn a_sleepy_device_two_routers_out_joins_and_confirms_a_rotation() {
    let mut w = chain(5, true);
    assert!(joined(&w, R1) && joined(&w, R2) && joined(&w, SLEEPY));
    let t = tc(&w);
    let (r1, r2, s) = (
        w.dev(R1).unwrap().short.unwrap(),
        w.dev(R2).unwrap().short.unwrap(),
        w.dev(SLEEPY).unwrap().short.unwrap(),
    );
    assert_eq!(t.source_route_to(s), vec![r2, r1], "through R2, then R1");
    let r2_ieee = w.dev(R2).unwrap().ieee;
    assert_eq!(
        t.device(r2_ieee).unwrap().capability,
        zigtrust_wire::CapabilityInfo::ROUTER.0,
        "R2's announce told the Trust Center it is a router"
    );

    // A rotation: every device, the sleepy one included, acknowledges its key well before the
    // deadline, so the switch comes early (a straggler would hold it to the deadline).
    w.command_at(130_000, AdminCommand::RotateNetworkKey { deadline_ms: 900_000 }).unwrap();
    w.run_until(400 * S, &mut |_, _| {});
    let t = tc(&w);
    assert_eq!(t.active_key_seq(), 1, "switched before the deadline: every device confirmed");
    assert!(t.rotation_pending().is_none());
    assert_eq!(w.stats.key_switches, 1);
    // The routers switch on the Switch-Key broadcast; the sleepy device holds the new key and
    // moves to it on the first frame it hears under it (an answer to its next report).
    w.run_until(1_000 * S, &mut |_, _| {});
    for n in [R1, R2, SLEEPY] {
        assert_eq!(w.dev(n).unwrap().active, Some(1), "node {n} on the new key");
    }
    assert_eq!(w.stats.key_switches, 1);
    // By now R2 answered a many-to-one route request with a route record through R1.
    let rec = tc(&w).route_record(r2).map(|r| r.relays.clone());
    assert_eq!(rec, Some(vec![r1]));

    // tshark reads every frame of the run (source-routed frames and their relays, route
    // records, announces, link statuses, route requests) with every key, without complaint.
    let pcap = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sim-routing-chain.pcap");
    std::fs::write(&pcap, zigtrust_sim::pcap_bytes(&w)).unwrap();
    let mut keys: Vec<String> = (0..=1).filter_map(|q| w.tc_key(q)).map(|k| k.to_hex()).collect();
    keys.push(zigtrust_testkit::WELL_KNOWN.into());
    for n in [R1, R2, SLEEPY] {
        let d = w.dev(n).unwrap();
        keys.extend(d.install_key.iter().chain(d.tclk.iter()).map(|k| k.to_hex()));
    }
    let fields = ["frame.number", "_ws.malformed", "_ws.expert.message", "zbee_nwk.cmd.id"];
    let rows = zigtrust_testkit::tshark::Tshark::new().keys(&keys).fields(&pcap, &fields);
    assert_eq!(rows.len(), w.capture.len());
    for r in &rows {
        assert!(r["_ws.malformed"].is_empty() && r["_ws.expert.message"].is_empty(), "{r:?}");
    }
    let commands: Vec<String> = rows.iter().flat_map(|r| r.list("zbee_nwk.cmd.id")).collect();
    for id in ["0x01", "0x05", "0x08"] {
        assert!(commands.iter().any(|c| c == id), "no NWK command {id} decrypted: {commands:?}");
    }
}

#[test]
fn without_source_routing_the_device_behind_two_routers_never_joins() {
    let w = chain(5, false);
    assert!(joined(&w, R1) && joined(&w, R2));
    assert!(!joined(&w, SLEEPY), "its key, tunnelled to R2 directly, never arrives");
}

#[test]
fn the_chain_is_deterministic() {
    let a = chain(9, true);
    let b = chain(9, true);
    assert_eq!(zigtrust_sim::pcap_bytes(&a), zigtrust_sim::pcap_bytes(&b));
}
