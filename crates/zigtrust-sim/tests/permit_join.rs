//! Joining through a router: sim routers accept associations only while their own permit-join
//! window is open, and they learn of it from the coordinator's Mgmt_Permit_Joining_req. A
//! small network (coordinator, a router, a sleepy device only in the router's range): the
//! router is already on the network when the user opens a window, so the broadcast is the only
//! way it hears of it; a router without a window takes no joiner; and a router whose window is
//! open while the Trust Center's is closed lets nothing in.

use zigtrust_crypto::Key;
use zigtrust_sim::device::{self, Device, Knobs, Profile, Role};
use zigtrust_sim::engine::Topology;
use zigtrust_sim::world::{Coordinator, Kind, MemStore, World, PAN};
use zigtrust_tc::model::{InsecureRejoinPolicy, Policy};
use zigtrust_tc::AdminCommand;
use zigtrust_wire::ExtAddr;

const S: u64 = 1_000_000;
const ROUTER: usize = 1;
const SLEEPY: usize = 2;

/// A formed network with a Z3.0 router (node 1, next to the coordinator) and a Z3.0 sleepy
/// device (node 2, that hears only the router), both with install codes the hub knows; the
/// router joined in a first 30-s window that has since run out. The sleepy device is not
/// booted.
fn network(seed: u64) -> World {
    let mut w = World::new(seed);
    let hub = Coordinator::new(MemStore::default(), w.rng.bytes32(), 0, seed);
    w.add_node(Kind::Coordinator(Box::new(hub)), true);
    let policy = Policy { insecure_rejoin: InsecureRejoinPolicy::Adaptive, ..Policy::default() };
    w.command(AdminCommand::SetPolicy(policy)).unwrap();
    w.command(AdminCommand::FormNetwork {
        pan_id: PAN,
        extended_pan_id: 0xdddd_0000_0000_0001,
        channel: 15,
    })
    .unwrap();
    w.hub().ieee = w.hub().hub.tc().network().unwrap().tc_ieee;
    let mut topo = Topology::new(3);
    topo.link(ROUTER, 0, 0);
    topo.link(SLEEPY, ROUTER, 0);
    w.topo = topo;
    for (n, role, parent) in [(ROUTER, Role::Router, 0), (SLEEPY, Role::Sleepy, ROUTER)] {
        let ieee = ExtAddr(0x0012_4b00_00aa_0000 | n as u64);
        let key = Key::from_bytes([n as u8; 16]);
        w.command(AdminCommand::AddInstallCode { ieee, link_key: key.clone() }).unwrap();
        let dv = Device::new(ieee, Profile::Z30, role, Some(key), vec![parent], Knobs::default());
        w.add_node(Kind::Device(Box::new(dv)), role == Role::Router);
    }
    w.command(AdminCommand::PermitJoin { duration_ms: 30_000, ieee: None }).unwrap();
    device::boot(&mut w, ROUTER, S);
    w.run_until(60 * S, &mut |_, _| {});
    assert!(w.dev(ROUTER).unwrap().joined, "the router joined at the coordinator");
    assert!(w.now() >= w.dev(ROUTER).unwrap().permit_until, "its window ran out with the TC's");
    w
}

fn joined(w: &World, n: usize) -> bool {
    w.dev(n).is_some_and(|d| d.joined && d.active.is_some())
}

#[test]
fn a_window_opened_later_reaches_the_router_and_a_device_joins_through_it() {
    let mut w = network(21);
    w.command(AdminCommand::PermitJoin { duration_ms: 120_000, ieee: None }).unwrap();
    let opened = w.now();
    device::boot(&mut w, SLEEPY, opened + S);
    w.run_until(opened + 60 * S, &mut |_, _| {});
    let r = w.dev(ROUTER).unwrap();
    assert!(r.permit_until > opened + 100 * S, "the broadcast opened the router's window");
    assert!(joined(&w, SLEEPY), "the device joined through the router");
    let ieee = w.dev(SLEEPY).unwrap().ieee;
    let rec = w.hub().hub.tc().device(ieee).unwrap().clone();
    assert_eq!(Some(rec.parent), w.dev(ROUTER).unwrap().short, "its parent is the router");
    // Closing the window early closes the router's too.
    w.command(AdminCommand::PermitJoin { duration_ms: 0, ieee: None }).unwrap();
    let closed = w.now();
    w.run_until(closed + S, &mut |_, _| {});
    assert!(w.dev(ROUTER).unwrap().permit_until <= closed + S, "closed with the Trust Center");
}

#[test]
fn a_router_without_a_window_takes_no_joiner() {
    // The Trust Center's window is open, but the router lost its own (a reboot after the
    // broadcast: the window is volatile): the joiner hears nothing and the Trust Center never
    // hears of it.
    let mut w = network(22);
    w.command(AdminCommand::PermitJoin { duration_ms: 120_000, ieee: None }).unwrap();
    let opened = w.now();
    w.run_until(opened + S / 2, &mut |_, _| {});
    assert!(w.dev(ROUTER).unwrap().permit_until > opened, "the broadcast arrived");
    w.dev_mut(ROUTER).unwrap().permit_until = 0;
    device::boot(&mut w, SLEEPY, opened + S);
    w.run_until(opened + 60 * S, &mut |_, _| {});
    assert!(!joined(&w, SLEEPY));
    let ieee = w.dev(SLEEPY).unwrap().ieee;
    assert!(w.hub().hub.tc().device(ieee).is_none(), "the Trust Center never heard of it");
}

#[test]
fn a_routers_open_window_lets_nothing_in_while_the_trust_centers_is_closed() {
    // The router's window is open (it heard some device's Mgmt_Permit_Joining_req, or opened
    // it itself) while the Trust Center's is closed: the router takes the association and
    // reports it, and the Trust Center refuses it: no network key is sent.
    let mut w = network(23);
    assert!(w.hub().hub.tc().permit_join_remaining().is_none());
    let now = w.now();
    w.dev_mut(ROUTER).unwrap().permit_until = now + 200 * S;
    device::boot(&mut w, SLEEPY, now + S);
    w.run_until(now + 120 * S, &mut |_, _| {});
    let d = w.dev(SLEEPY).unwrap();
    assert!(!d.joined && d.keys.is_empty(), "no network key reached the device");
    let ieee = d.ieee;
    assert!(w.hub().hub.tc().device(ieee).is_none(), "not admitted");
    let denied = w.stats.audit.get("join-denied").copied().unwrap_or(0);
    assert!(denied >= 1, "the Trust Center refused the router's report: {:?}", w.stats.audit);
}
