//! End to end through OpenThread's own RCP firmware: the real [`Hub`] (Trust Center, in-memory
//! store) on a [`SpinelRadio`] driving the simulation `ot-rcp` (node 1), and the simulator's
//! device models as further nodes on OpenThread's simulation medium
//! ([`zigtrust_sim::medium_ot`]), so every frame between the hub and a device passes through
//! the real RCP: its address filter, its ACKs, its frame-pending from the source-match table,
//! its CSMA and retries. Each test has its own PORT_OFFSET, so they run in parallel.
//!
//! No timing is asserted (only generous deadlines); the latencies seen are printed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zigtrust_crypto::{InstallCode, Key};
use zigtrust_hub::radio::spinel::{SpinelOptions, SpinelRadio};
use zigtrust_hub::radio::RadioEvent;
use zigtrust_hub::{Hub, MemStore, Radio, RadioConfig, RadioError, Received};
use zigtrust_sim::device::{self, Device, Knobs, Profile, Role};
use zigtrust_sim::medium_ot::{base_port, OtMedium, OtMediumThread};
use zigtrust_sim::world::{Kind, World, PAN};
use zigtrust_tc::model::Millis;
use zigtrust_tc::{AdminCommand, Event, Transmit};
use zigtrust_testkit::ot_medium::{rcp_transport, rx_socket, sim_nodes, spawn_world_medium};
use zigtrust_wire::mac::{Address, FrameType, MacBody, MacCommand, MacFrame};
use zigtrust_wire::ExtAddr;

const RCP_NODE: u16 = 1;
const CHANNEL: u8 = 15;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What the hub handed its radio and got from it, and when.
#[derive(Default)]
struct Log {
    tx: Vec<(Instant, Vec<u8>, bool)>,
    rx: Vec<(Instant, Vec<u8>)>,
    /// What the core said each transmitted frame is, and when.
    what: Vec<(Instant, &'static str)>,
}

impl Log {
    /// Rotation keys the Trust Center sent again (no APS ack in time) since `t`.
    fn retries_since(&self, t: Instant) -> usize {
        self.what.iter().filter(|(at, w)| *at >= t && *w == "transport-key-rotation-retry").count()
    }
}

/// The Spinel radio, with the times frames crossed the hub's `Radio` boundary.
struct Timed {
    radio: SpinelRadio,
    log: Arc<Mutex<Log>>,
}

impl Radio for Timed {
    fn configure(&mut self, config: &RadioConfig) -> Result<(), RadioError> {
        self.radio.configure(config)
    }
    fn transmit(&mut self, now: Millis, frame: Transmit) -> Result<(), RadioError> {
        let mut log = self.log.lock().unwrap();
        log.tx.push((Instant::now(), frame.psdu.clone(), frame.indirect));
        log.what.push((Instant::now(), frame.what));
        drop(log);
        self.radio.transmit(now, frame)
    }
    fn receive(&mut self, now: Millis) -> Result<Option<Received>, RadioError> {
        let r = self.radio.receive(now)?;
        if let Some(r) = &r {
            self.log.lock().unwrap().rx.push((Instant::now(), r.psdu.clone()));
        }
        Ok(r)
    }
    fn next_wake(&self) -> Option<Millis> {
        self.radio.next_wake()
    }
    fn take_events(&mut self) -> Vec<RadioEvent> {
        self.radio.take_events()
    }
}

/// A simulated device: profile, role, preferred parent (world node), install code.
struct Spec {
    profile: Profile,
    role: Role,
    parent: usize,
    install_code: bool,
}

fn knobs() -> Knobs {
    Knobs {
        poll_interval_ms: 1_000,
        report_interval_ms: 5_000,
        join_retry_ms: 4_000,
        ..Knobs::default()
    }
}

struct Rig {
    hub: Hub<MemStore, Timed>,
    medium: OtMediumThread,
    log: Arc<Mutex<Log>>,
    /// World node of each device, in spec order.
    nodes: Vec<usize>,
    /// Install-code keys by device index.
    codes: Vec<Option<Key>>,
    /// Every event the hub reported.
    events: Vec<Event>,
    offset: u16,
}

/// The hub on a fresh `ot-rcp` at `offset`, the network formed, and the devices of `specs`
/// on the medium (not booted yet); with `attacker`, an attacker node too (last world node).
fn rig(offset: u16, specs: &[Spec], attacker: bool) -> Rig {
    let base = base_port(offset);
    let rx = rx_socket(base);
    let mut w = World::new(u64::from(offset));
    w.add_node(Kind::Port(Box::default()), true);
    let mut nodes = Vec::new();
    let mut codes = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let n = i + 1;
        let ieee = ExtAddr(0x0012_4b00_0000_0000 | u64::from(offset) << 16 | n as u64);
        let code = s.install_code.then(|| {
            let mut b: Vec<u8> =
                (0..16u8).map(|k| k.wrapping_mul(17) ^ n as u8 ^ offset as u8).collect();
            let crc = zigtrust_crypto::crc16_x25(&b).to_le_bytes();
            b.extend_from_slice(&crc);
            InstallCode::from_bytes(&b).unwrap().link_key()
        });
        let mut candidates = vec![s.parent];
        if s.parent != 0 {
            candidates.push(0);
        }
        let dv = Device::new(ieee, s.profile, s.role, code.clone(), candidates, knobs());
        let node = w.add_node(Kind::Device(Box::new(dv)), s.role == Role::Router);
        nodes.push(node);
        codes.push(code);
    }
    if attacker {
        let a = w.add_node(Kind::Attacker, true);
        w.attacker_node = Some(a);
    }
    let medium = spawn_world_medium(w, base, CHANNEL, rx);
    let radio = SpinelRadio::with_transport(
        Box::new(rcp_transport(RCP_NODE, offset)),
        SpinelOptions::default(),
    )
    .expect("the simulation RCP opens");
    let log = Arc::new(Mutex::new(Log::default()));
    let timed = Timed { radio, log: log.clone() };
    let now = now_ms();
    let mut hub = Hub::open(MemStore::default(), timed, [offset as u8; 32], now).unwrap();
    let form = AdminCommand::FormNetwork {
        pan_id: PAN,
        extended_pan_id: 0xdddd_0000_0000_0000 | u64::from(offset),
        channel: CHANNEL,
    };
    hub.command(now, form).unwrap();
    assert_eq!(hub.radio_error(), None);
    Rig { hub, medium, log, nodes, codes, events: Vec::new(), offset }
}

impl Rig {
    fn command(&mut self, cmd: AdminCommand) {
        let step = self.hub.command(now_ms(), cmd).expect("the command is accepted");
        self.events.extend(step.events);
    }

    fn boot(&self, i: usize, delay: Duration) {
        let n = self.nodes[i];
        self.medium.with(|m| {
            let at = m.now_us() + delay.as_micros() as u64;
            device::boot(&mut m.world, n, at);
        });
    }

    fn dev<T>(&self, i: usize, f: impl FnOnce(&Device) -> T) -> T {
        let n = self.nodes[i];
        self.medium.with(|m| f(m.world.dev(n).expect("a device")))
    }

    fn ieee(&self, i: usize) -> ExtAddr {
        self.dev(i, |d| d.ieee)
    }

    /// Runs the hub until `done` holds, at most `secs` (then fails with `what`).
    fn run_until(&mut self, secs: u64, what: &str, mut done: impl FnMut(&mut Rig) -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let step = self.hub.poll(now_ms());
            self.events.extend(step.events);
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < end,
                "port offset {}: {what} within {secs} s; radio {:?}; events {:?}",
                self.offset,
                self.hub.radio().radio.status(),
                self.events
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs the hub for `d`.
    #[allow(dead_code)]
    fn run_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        self.run_until(d.as_secs() + 5, "", |_| Instant::now() >= end);
    }

    fn joined(&self, i: usize) -> bool {
        self.dev(i, |d| d.joined && d.active.is_some())
    }

    /// Frame latencies seen, printed: hub `transmit` → frame read off the medium by the
    /// devices' side (direct frames); a device's data request → the held frame the RCP
    /// released for it; a device's frame on the medium → the hub's `Radio::receive`.
    fn latencies(&self, name: &str) {
        let log = self.log.lock().unwrap();
        let (heard, sent) = self.medium.with(|m| (m.heard.clone(), m.sent.clone()));
        let mut down = Vec::new();
        for (t, psdu, indirect) in &log.tx {
            if *indirect {
                continue;
            }
            let Some(h) = heard
                .iter()
                .find(|h| h.node == RCP_NODE && h.at >= *t && h.without_fcs() == psdu.as_slice())
            else {
                continue;
            };
            // A frame the radio held for a joiner's poll is not a direct transmission.
            let polled = heard.iter().any(|p| {
                p.at >= *t
                    && p.at < h.at
                    && MacFrame::parse(p.without_fcs())
                        .is_ok_and(|f| matches!(f.body, MacBody::Command(MacCommand::DataRequest)))
            });
            if !polled {
                down.push(h.at - *t);
            }
        }
        let mut held = Vec::new();
        let mut last_poll: Option<(Instant, Address)> = None;
        for h in &heard {
            let Ok(f) = MacFrame::parse(h.without_fcs()) else { continue };
            if h.node != RCP_NODE {
                if matches!(f.body, MacBody::Command(MacCommand::DataRequest)) {
                    last_poll = Some((h.at, f.header.src_addr));
                }
                continue;
            }
            if f.header.frame_type == FrameType::Ack {
                continue;
            }
            if let Some((t, a)) = last_poll {
                if f.header.dst_addr == a {
                    held.push(h.at - t);
                    last_poll = None;
                }
            }
        }
        // MAC ACK turnaround on the medium (both read by the devices' side): the RCP's ACKs to
        // the devices' frames, and the devices' ACKs to the RCP's (due within its 16 ms).
        let (mut rcp_ack, mut dev_ack) = (Vec::new(), Vec::new());
        for (i, h) in heard.iter().enumerate() {
            let Ok(f) = MacFrame::parse(h.without_fcs()) else { continue };
            if f.header.frame_type == FrameType::Ack
                || !f.header.ack_request
                || f.header.dst_addr.is_broadcast()
            {
                continue;
            }
            let ack = heard[i + 1..].iter().take(8).find(|a| {
                a.node != h.node
                    && MacFrame::parse(a.without_fcs()).is_ok_and(|x| {
                        x.header.frame_type == FrameType::Ack
                            && x.header.sequence == f.header.sequence
                    })
            });
            if let Some(a) = ack {
                if h.node == RCP_NODE {
                    dev_ack.push(a.at - h.at);
                } else if a.node == RCP_NODE {
                    rcp_ack.push(a.at - h.at);
                }
            }
        }
        let mut up = Vec::new();
        for (t, psdu) in &log.rx {
            if let Some(s) =
                sent.iter().rev().find(|s| s.at <= *t && s.without_fcs() == psdu.as_slice())
            {
                up.push(*t - s.at);
            }
        }
        let fmt = |mut v: Vec<Duration>| {
            if v.is_empty() {
                return "none".to_string();
            }
            v.sort();
            format!(
                "n={} median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
                v.len(),
                ms(v[v.len() / 2]),
                ms(v[v.len() * 9 / 10]),
                ms(v[v.len() - 1])
            )
        };
        println!("{name}: hub transmit → device side reads it off the medium: {}", fmt(down));
        println!("{name}: device data request → held frame from the RCP: {}", fmt(held));
        println!("{name}: device frame on the medium → hub Radio::receive: {}", fmt(up));
        println!("{name}: device frame → the RCP's ACK on the medium: {}", fmt(rcp_ack));
        println!("{name}: RCP frame → a device's ACK on the medium: {}", fmt(dev_ack));
        let st = self.hub.radio().radio.status();
        let ms_ = self.medium.with(|m| m.stats.clone());
        println!(
            "{name}: RCP tx ok {} no-ack {} cca {} lost {}; data requests {} (FP {}); medium {:?}",
            st.tx_ok,
            st.tx_no_ack,
            st.tx_cca_failure,
            st.tx_lost,
            st.data_requests,
            st.data_requests_fp,
            ms_
        );
    }
}

fn spec(profile: Profile, role: Role, parent: usize, install_code: bool) -> Spec {
    Spec { profile, role, parent, install_code }
}

#[test]
fn an_install_code_device_and_a_legacy_device_join_through_the_rcp_and_a_sleepy_one_gets_its_key_by_poll(
) {
    let mut r = rig(
        51,
        &[spec(Profile::Z30, Role::Sleepy, 0, true), spec(Profile::Ha12, Role::Router, 0, false)],
        false,
    );
    let (z30, ha12) = (r.ieee(0), r.ieee(1));
    let key = r.codes[0].clone().unwrap();
    r.command(AdminCommand::AddInstallCode { ieee: z30, link_key: key });
    r.command(AdminCommand::PermitJoin { duration_ms: 120_000, ieee: None });
    r.boot(0, Duration::from_millis(100));
    r.boot(1, Duration::from_millis(300));
    r.run_until(30, "both devices joined", |r| r.joined(0) && r.joined(1));
    // The Zigbee 3.0 device also finished its TCLK update (Request-Key, Transport-Key,
    // Verify-Key, Confirm-Key), all through the RCP and its indirect queue.
    r.run_until(20, "the Z3.0 device's TCLK update", |r| r.dev(0, |d| d.tclk_verified));
    let tc = r.hub.tc();
    let d = tc.device(z30).expect("the Trust Center knows the Z3.0 device");
    assert_eq!(d.join_method, zigtrust_tc::model::JoinMethod::InstallCode);
    assert!(d.tclk_verified);
    let d = tc.device(ha12).expect("the Trust Center knows the HA 1.2 device");
    assert_eq!(d.join_method, zigtrust_tc::model::JoinMethod::WellKnownKey);
    assert_eq!(r.dev(0, |d| d.short), Some(tc.device(z30).unwrap().short_addr));
    let active = tc.active_key_seq();
    assert!(r.dev(0, |d| d.active == Some(active)) && r.dev(1, |d| d.active == Some(active)));
    // The sleepy device's association response and key were released by its polls, each ACKed
    // by the RCP with frame-pending from its source-match table.
    let st = r.hub.radio().radio.status();
    assert!(st.data_requests_fp >= 2, "{st:?}");
    let heard = r.medium.with(|m| m.heard.clone());
    let z30_short = Address::Short(r.dev(0, |d| d.short.unwrap()));
    let key_by_poll = heard.windows(3).any(|w| {
        let f: Vec<_> = w.iter().map(|h| MacFrame::parse(h.without_fcs()).ok()).collect();
        let (Some(p), Some(a), Some(k)) = (&f[0], &f[1], &f[2]) else { return false };
        matches!(p.body, MacBody::Command(MacCommand::DataRequest))
            && p.header.src_addr == z30_short
            && w[1].node == RCP_NODE
            && a.header.frame_type == FrameType::Ack
            && a.header.frame_pending
            && w[2].node == RCP_NODE
            && matches!(k.body, MacBody::Data(_))
            && k.header.dst_addr == z30_short
    });
    assert!(key_by_poll, "poll, ACK with FP from the RCP, then the frame for the sleepy device");
    r.latencies("joins");
}

/// The network key the hub's backup (Open ZigBee Coordinator Backup, as the API exports it)
/// reports, as hex.
/// The stragglers of every key switch among `events`, in order.
fn stragglers(events: &[Event]) -> Vec<Vec<ExtAddr>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::KeySwitched { stragglers, .. } => Some(stragglers.clone()),
            _ => None,
        })
        .collect()
}

fn backup_network_key(r: &Rig) -> String {
    use zigtrust_tc::Durable;
    let snap = r.hub.store().snapshot().unwrap_or_else(|e| match e {});
    let v = zigtrust_store::backup::export(&snap, now_ms(), "test").expect("a backup");
    v["network_key"]["key"].as_str().expect("network_key.key").to_string()
}

/// Devices' network key state: every one holds and uses the Trust Center's active key.
fn all_on_active_key(r: &mut Rig) -> bool {
    let active = r.hub.tc().active_key_seq();
    (0..r.nodes.len()).all(|i| r.dev(i, |d| d.joined && d.active == Some(active)))
}

#[test]
fn a_device_joins_through_a_router_the_key_rotates_and_tshark_reads_the_medium() {
    let mut r = rig(
        52,
        &[
            spec(Profile::Ha12, Role::Router, 0, false),
            // Behind the router (world node 1): its association goes to the router.
            spec(Profile::Z30, Role::Sleepy, 1, true),
            spec(Profile::Ha12, Role::Sleepy, 0, false),
        ],
        false,
    );
    let (router, child) = (r.ieee(0), r.ieee(1));
    let key = r.codes[1].clone().unwrap();
    r.command(AdminCommand::AddInstallCode { ieee: child, link_key: key });
    r.command(AdminCommand::PermitJoin { duration_ms: 120_000, ieee: None });
    r.boot(0, Duration::from_millis(100));
    r.boot(2, Duration::from_millis(200));
    r.run_until(30, "the router joined", |r| r.joined(0));
    r.boot(1, Duration::from_millis(100));
    r.run_until(40, "every device joined", |r| (0..3).all(|i| r.joined(i)));
    r.run_until(20, "the child's TCLK update", |r| r.dev(1, |d| d.tclk_verified));
    // The Trust Center learned of the child from the router's Update-Device: its parent is
    // the router, and it joined with its install code.
    let tc = r.hub.tc();
    let rshort = tc.device(router).unwrap().short_addr;
    let c = tc.device(child).expect("the Trust Center knows the child");
    assert_eq!(c.parent, rshort, "joined through the router");
    assert_eq!(c.join_method, zigtrust_tc::model::JoinMethod::InstallCode);
    assert!(c.tclk_verified);
    assert_eq!(r.dev(1, |d| d.parent), r.nodes[0]);
    let before = r.hub.tc().active_key_seq();
    let key_before = backup_network_key(&r);
    // Key rotation: every device confirms (well before the deadline), then the switch.
    let t0 = Instant::now();
    r.command(AdminCommand::RotateNetworkKey { deadline_ms: 120_000 });
    r.run_until(60, "the rotation finished", |r| r.hub.tc().rotation_pending().is_none());
    let switched: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::KeySwitched { seq, stragglers } => Some((*seq, stragglers.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(switched.len(), 1, "{switched:?}");
    assert!(switched[0].1.is_empty(), "every device confirmed: {switched:?}");
    assert_ne!(switched[0].0, before);
    println!(
        "rotation: every device confirmed and the key switched in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    r.run_until(30, "every device on the new key", all_on_active_key);
    r.latencies("router+rotation");
    // The medium as a pcap (linktype 195, FCS included): tshark finds nothing malformed and
    // decrypts every NWK-secured frame with the network keys the Trust Center holds.
    let heard = r.medium.with(|m| m.heard.clone());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let pcap = dir.join("ot-rcp-medium.pcap");
    let mut w = zigtrust_capture::PcapWriter::new(Vec::new()).unwrap();
    for h in &heard {
        let ts = zigtrust_capture::Timestamp {
            secs: (h.unix_us / 1_000_000) as i64,
            nanos: (h.unix_us % 1_000_000) as u32 * 1000,
        };
        w.write_psdu_raw(ts, &h.psdu).unwrap();
    }
    std::fs::write(&pcap, w.finish().unwrap()).unwrap();
    // The keys the backup reported before and after the rotation.
    let keys = vec![key_before, backup_network_key(&r)];
    assert_ne!(keys[0], keys[1], "the old and the new network key");
    let t = zigtrust_testkit::tshark::Tshark::new().keys(&keys);
    let rows =
        t.fields(&pcap, &["frame.number", "wpan.fcs_ok", "zbee_nwk.security", "zbee.sec.key"]);
    assert_eq!(rows.len(), heard.len());
    let malformed = t
        .clone()
        .filter("_ws.malformed || _ws.expert.severity >= error")
        .fields(&pcap, &["frame.number", "_ws.expert.message"]);
    assert!(malformed.is_empty(), "malformed frames: {malformed:?}");
    let mut secured = 0;
    for row in &rows {
        assert!(row["wpan.fcs_ok"].is_empty() || row["wpan.fcs_ok"] == "1", "{row:?}");
        if row["zbee_nwk.security"] == "1" || row["zbee_nwk.security"] == "True" {
            secured += 1;
            let used = row.list("zbee.sec.key");
            assert!(
                used.iter().any(|k| keys.contains(&zigtrust_testkit::tshark::key_hex(k))),
                "frame {} not decrypted with a network key: {row:?}",
                row["frame.number"]
            );
        }
    }
    assert!(secured > 10, "{secured} NWK-secured frames");
    println!(
        "pcap: {} frames, {secured} NWK-secured, all decrypted by tshark, none malformed",
        rows.len()
    );
}

#[test]
fn an_attacker_node_spoofing_trust_center_rejoins_reads_nothing() {
    use zigtrust_sim::attacker::{self, Attacker};
    use zigtrust_wire::dissect::{Dissector, Keyring};
    let mut r = rig(
        53,
        &[spec(Profile::Ha12, Role::Router, 0, false), spec(Profile::Ha12, Role::Sleepy, 0, false)],
        true,
    );
    r.command(AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None });
    r.boot(0, Duration::from_millis(100));
    r.boot(1, Duration::from_millis(300));
    r.run_until(30, "both devices joined", |r| r.joined(0) && r.joined(1));
    r.command(AdminCommand::PermitJoin { duration_ms: 0, ieee: None });
    // The attacker, on its own medium node, listens from now on (the joins' well-known-key
    // Transport-Keys went by before: what a sniffer arriving later faces) and knows the
    // victims' short addresses, as a sniffer reads them in plaintext NWK headers.
    let victims: Vec<_> =
        (0..2).map(|i| r.dev(i, |d| (d.ieee, d.short.unwrap(), d.capability()))).collect();
    let (heard_from, spoofs) = r.medium.with(|m| {
        let mut a = Attacker::new(m.now_us());
        for (ieee, short, _) in &victims {
            a.shorts.insert(*ieee, *short);
        }
        m.world.attacker = Some(a);
        let from = m.heard.len();
        for (ieee, _, cap) in &victims {
            attacker::spoof(&mut m.world, *ieee, *cap);
        }
        (from, m.world.attacker.as_ref().unwrap().spoofs_sent)
    });
    assert_eq!(spoofs, 2);
    let events_from = r.events.len();
    // Its polls as the victims follow for 3 s; the network goes on meanwhile.
    let t0 = Instant::now();
    r.run_until(30, "the attacker's polls done", |_| t0.elapsed() > Duration::from_secs(5));
    let attacker_id = r.medium.with(|m| m.node_id(m.world.attacker_node.unwrap()).unwrap());
    let (heard, sent) = r.medium.with(|m| (m.heard[heard_from..].to_vec(), m.sent.clone()));
    // The spoofed rejoin requests went through the RCP to the Trust Center.
    let injected: Vec<_> = sent.iter().filter(|s| s.node == attacker_id).collect();
    assert!(injected.len() >= 2, "{injected:?}");
    let got = r
        .log
        .lock()
        .unwrap()
        .rx
        .iter()
        .filter(|(_, p)| injected.iter().any(|s| s.without_fcs() == p.as_slice()))
        .count();
    assert!(got >= 2, "the hub received the attacker's frames ({got})");
    let rejoin_requests = r
        .log
        .lock()
        .unwrap()
        .rx
        .iter()
        .filter(|(_, p)| {
            let mut d = Dissector::new(Keyring::new());
            matches!(
                d.dissect(1, p).nwk_command,
                Some(zigtrust_wire::nwk::NwkCommand::RejoinRequest { .. })
            ) && injected.iter().any(|s| s.without_fcs() == p.as_slice())
        })
        .count();
    assert_eq!(rejoin_requests, 2, "both spoofed rejoin requests reached the Trust Center");
    // Nothing it heard decrypts with any key it can know: the well-known key and whatever it
    // learned (nothing).
    let a = r.medium.with(|m| {
        let a = m.world.attacker.as_ref().unwrap();
        (a.leaks.clone(), a.learned.len(), a.injected)
    });
    assert!(a.0.is_empty() && a.1 == 0, "the attacker learned a key: {:?}", a.0);
    let mut dissector = Dissector::new(Keyring::new());
    let mut secured = 0;
    for (i, h) in heard.iter().enumerate() {
        let d = dissector.dissect(i as u64 + 1, h.without_fcs());
        if let Some(s) = &d.nwk_security {
            secured += 1;
            assert!(!s.decrypted(), "frame {i} decrypts at NWK with a key the attacker knows");
        }
        for aps in d.aps.iter().chain(d.tunnel.as_deref()) {
            if let Some(s) = &aps.security {
                assert!(!s.decrypted(), "frame {i} decrypts at APS with a key the attacker knows");
            }
        }
        assert!(d.learned_keys.is_empty(), "frame {i} revealed a key");
    }
    assert!(secured > 0);
    // What the Trust Center did about the spoofs (under `adaptive`: answered, the key
    // protected by the network key itself, which the spoofer cannot read).
    let reactions = &r.events[events_from..];
    println!(
        "attacker: {} frames injected, {} heard after it started ({secured} NWK-secured), none readable; the Trust Center's events: {reactions:?}",
        a.2,
        heard.len()
    );
    r.latencies("attacker");
}

#[test]
fn the_network_carries_on_when_the_rcp_is_killed() {
    let mut r = rig(
        54,
        &[spec(Profile::Ha12, Role::Router, 0, false), spec(Profile::Z30, Role::Sleepy, 0, true)],
        false,
    );
    let z30 = r.ieee(1);
    let key = r.codes[1].clone().unwrap();
    r.command(AdminCommand::AddInstallCode { ieee: z30, link_key: key });
    r.command(AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None });
    r.boot(0, Duration::from_millis(100));
    r.boot(1, Duration::from_millis(300));
    r.run_until(30, "both devices joined", |r| r.joined(0) && r.joined(1));
    r.run_until(20, "the TCLK update", |r| r.dev(1, |d| d.tclk_verified));
    let pid = r.hub.radio().radio.status().child_pid.expect("the RCP's pid");
    let t0 = Instant::now();
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(killed.unwrap().success());
    r.run_until(20, "the radio recovered", |r| {
        let st = r.hub.radio().radio.status();
        st.recoveries >= 1 && st.link_up && st.child_pid != Some(pid)
    });
    let recovered = t0.elapsed();
    let err = r.hub.radio_error().map(str::to_string);
    println!("RCP killed: recovered in {:.1} ms; the hub's radio error: {err:?}", ms(recovered));
    let rx_before = r.log.lock().unwrap().rx.len();
    // The network carries on: a key rotation every device confirms through the new RCP
    // (the sleepy device's key by poll, frame-pending from the re-applied source match).
    let before = r.hub.tc().active_key_seq();
    r.command(AdminCommand::RotateNetworkKey { deadline_ms: 120_000 });
    r.run_until(60, "the rotation after the restart", |r| r.hub.tc().rotation_pending().is_none());
    assert_eq!(stragglers(&r.events), [vec![]], "every device confirmed");
    assert_ne!(r.hub.tc().active_key_seq(), before);
    r.run_until(30, "every device on the new key", all_on_active_key);
    assert!(r.log.lock().unwrap().rx.len() > rx_before, "frames reach the hub again");
    let rejoins_before_second_kill = r.dev(0, |d| d.rejoins) + r.dev(1, |d| d.rejoins);
    assert_eq!(rejoins_before_second_kill, 0, "nobody had to rejoin");
    // Killed again in the middle of a rotation, while the new key is on its way. A frame in
    // flight dies with the RCP; the Trust Center sends a rotation key again when its APS ack
    // does not come, so every device still confirms the new key and the switch comes at the
    // last ack, long before the deadline.
    let before = r.hub.tc().active_key_seq();
    let from = r.events.len();
    let started = Instant::now();
    r.command(AdminCommand::RotateNetworkKey { deadline_ms: 120_000 });
    let st = r.hub.radio().radio.status();
    let pid = st.child_pid.expect("the RCP's pid");
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(killed.unwrap().success());
    r.run_until(20, "the radio recovered again", |r| {
        let st = r.hub.radio().radio.status();
        st.recoveries >= 2 && st.link_up && st.child_pid != Some(pid)
    });
    let err = r.hub.radio_error().map(str::to_string);
    r.run_until(40, "the rotation across the restart", |r| r.hub.tc().rotation_pending().is_none());
    let switched = started.elapsed();
    assert_ne!(r.hub.tc().active_key_seq(), before);
    assert_eq!(
        stragglers(&r.events[from..]),
        [vec![]],
        "every device confirmed across the restart"
    );
    let retries = r.log.lock().unwrap().retries_since(started);
    println!(
        "rotation across the RCP kill: switched after {:.1} s, {retries} key retries",
        switched.as_secs_f64()
    );
    r.run_until(40, "every device on the newest key", all_on_active_key);
    let after: Vec<_> = r.events[from..]
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::KeySwitched { .. }
                    | Event::StaleKeyRescue { .. }
                    | Event::DeviceRejoined { .. }
            )
        })
        .collect();
    println!("killed mid-rotation: {err:?}; then {after:?}");
    r.latencies("rcp-killed");
}

/// The bridge's radios alone (no RCP): a test node injects frames and reads the answers.
#[test]
fn the_bridge_filters_by_address_acks_for_its_nodes_and_fills_the_fcs() {
    use zigtrust_testkit::ot_medium::Medium;
    use zigtrust_wire::mac::{fcs, MacHeader};
    use zigtrust_wire::ShortAddr;
    const PROBE: u16 = 9;
    let offset = 55;
    let base = base_port(offset);
    let mut probe = Medium::new(offset, CHANNEL);
    let mut w = World::new(5);
    w.add_node(Kind::Port(Box::default()), true);
    let (router, sleepy) = (ShortAddr(0x1234), ShortAddr(0x4321));
    let mut rd = Device::new(ExtAddr(0xaa01), Profile::Ha12, Role::Router, None, vec![0], knobs());
    rd.short = Some(router);
    rd.joined = true;
    let r = w.add_node(Kind::Device(Box::new(rd)), true);
    let mut sd = Device::new(ExtAddr(0xaa02), Profile::Ha12, Role::Sleepy, None, vec![r], knobs());
    sd.short = Some(sleepy);
    let s = w.add_node(Kind::Device(Box::new(sd)), false);
    let medium = OtMedium::new(
        w,
        base,
        CHANNEL,
        rx_socket(base),
        sim_nodes(base, &[(r, 2), (s, 3)]),
        Duration::from_millis(40),
        Duration::from_millis(400),
    )
    .spawn()
    .unwrap();
    let data = |dst: ShortAddr, seq: u8| {
        let h =
            MacHeader::data(seq, PAN, Address::Short(dst), Address::Short(ShortAddr(0x5555)), true);
        let mut v = Vec::new();
        MacFrame::data(h, &[0x08, 0x02, 0xfc, 0xff, 0x00, 0x00, 0x1e, seq]).emit(&mut v);
        v
    };
    let ack_from = |probe: &Medium, node: u16, seq: u8| {
        probe.next_from(node, Duration::from_millis(300), |h| {
            MacFrame::parse(h.without_fcs()).is_ok_and(|f| {
                f.header.frame_type == FrameType::Ack && f.header.sequence == Some(seq)
            })
        })
    };
    // Addressed to the router, AR set: the router's radio ACKs it, FCS correct.
    probe.inject(PROBE, &data(router, 1));
    let a = ack_from(&probe, 2, 1).expect("the router ACKs a frame for it");
    assert_eq!(a.psdu[a.psdu.len() - 2..], fcs(a.without_fcs()).to_le_bytes());
    assert!(!a.frame().header.frame_pending);
    // Another address, or another PAN: nobody ACKs.
    probe.inject(PROBE, &data(ShortAddr(0x7777), 2));
    assert!(ack_from(&probe, 2, 2).is_none(), "filtered out");
    let h = MacHeader::data(
        3,
        zigtrust_wire::PanId(0x0bad),
        Address::Short(router),
        Address::Short(ShortAddr(0x5555)),
        true,
    );
    let mut other_pan = Vec::new();
    MacFrame::data(h, &[0x08]).emit(&mut other_pan);
    probe.inject(PROBE, &other_pan);
    assert!(ack_from(&probe, 2, 3).is_none(), "another PAN");
    // The sleepy device's receiver is off: no ACK.
    probe.inject(PROBE, &data(sleepy, 4));
    assert!(ack_from(&probe, 3, 4).is_none(), "asleep");
    // A child's poll while the router holds a frame for it: ACK with frame-pending, then the
    // frame, with its FCS.
    let held = data(ShortAddr(0x5555), 0x40);
    medium.with(|m| m.world.send_indirect(r, held.clone()));
    let mut poll = Vec::new();
    MacFrame::data_request(5, PAN, Address::Short(router), Address::Short(ShortAddr(0x5555)))
        .emit(&mut poll);
    probe.inject(PROBE, &poll);
    let a = ack_from(&probe, 2, 5).expect("the router ACKs the poll");
    assert!(a.frame().header.frame_pending, "frame-pending: something waits for the child");
    let f = probe
        .next_from(2, Duration::from_millis(500), |h| h.without_fcs() == held.as_slice())
        .expect("the held frame follows the ACK");
    assert_eq!(f.psdu[f.psdu.len() - 2..], fcs(&held).to_le_bytes());
    assert_eq!(f.channel, CHANNEL);
    // Nothing left: the next poll's ACK has it clear.
    let mut poll = Vec::new();
    MacFrame::data_request(6, PAN, Address::Short(router), Address::Short(ShortAddr(0x5555)))
        .emit(&mut poll);
    probe.inject(PROBE, &poll);
    assert!(!ack_from(&probe, 2, 6).expect("an ACK").frame().header.frame_pending);
    let st = medium.with(|m| m.stats.clone());
    assert_eq!(st.acks_sent, 3, "{st:?}");
}
