//! The simulated network: the MAC layer shared by every node (acks, retries, indirect queues),
//! the coordinator running the real Trust Center, device models and the attacker.

use crate::attacker::Attacker;
use crate::device::{Device, Timer};
use crate::engine::*;
use std::collections::{HashMap, VecDeque};
use zigtrust_crypto::{CcmStar, Key};
use zigtrust_tc::model::{CounterKind, DeviceRecord, Snapshot, StoreWrite};
use zigtrust_tc::{Event, RxMeta, TrustCenter};
use zigtrust_wire::aps::{ApsFrameType, ApsHeader};
use zigtrust_wire::mac::{Address, MacBody, MacCommand, MacFrame};
use zigtrust_wire::nwk::{NwkFrameType, NwkHeader};
use zigtrust_wire::security::{open, AuxHeader, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

pub const PAN: PanId = PanId(0x1a62);

/// What a queued MAC frame is for, so its sender learns the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Plain,
    /// A frame toward the node's parent: failure after retries means the parent is gone.
    ToParent,
    /// A rejoin request to a candidate parent.
    Rejoin,
}

pub struct OutFrame {
    pub psdu: Vec<u8>,
    pub tag: Tag,
    tries: u8,
}

#[derive(Default)]
pub struct Mac {
    queue: VecDeque<OutFrame>,
    cur: Option<OutFrame>,
    cur_id: u64,
    awaiting_ack: bool,
    kick_pending: bool,
    /// Frames held for sleepy children: (destination, frame, expiry).
    pub indirect: Vec<(Address, Vec<u8>, Us)>,
    /// Sleepy nodes hear the medium only until this time.
    pub rx_until: Us,
}

pub enum Kind {
    Coordinator(Box<Hub>),
    Device(Box<Device>),
    Attacker,
}

pub struct Node {
    pub kind: Kind,
    pub mac: Mac,
    pub alive: bool,
    pub always_on: bool,
}

impl Node {
    pub fn short(&self) -> Option<ShortAddr> {
        match &self.kind {
            Kind::Coordinator(_) => Some(ShortAddr::COORDINATOR),
            Kind::Device(d) => d.short,
            Kind::Attacker => None,
        }
    }
    pub fn ieee(&self) -> Option<ExtAddr> {
        match &self.kind {
            Kind::Coordinator(h) => Some(h.ieee),
            Kind::Device(d) => Some(d.ieee),
            Kind::Attacker => None,
        }
    }
    fn matches(&self, a: Address) -> bool {
        match a {
            Address::Short(s) => s.is_broadcast() || self.short() == Some(s),
            Address::Extended(e) => self.ieee() == Some(e),
            Address::Absent => false,
        }
    }
}

/// The Trust Center durable state, folded from its store writes (an in-memory store).
#[derive(Default, Clone)]
pub struct MemStore {
    pub snap: Snapshot,
    pub devices: HashMap<ExtAddr, DeviceRecord>,
}

impl MemStore {
    pub fn apply(&mut self, w: StoreWrite) {
        let s = &mut self.snap;
        match w {
            StoreWrite::Network(c) => s.network = Some(c),
            StoreWrite::NetworkKey(k) => {
                s.network_keys.retain(|x| x.seq != k.seq);
                s.network_keys.push(k);
            }
            StoreWrite::ActiveKeySeq(q) => s.active_key_seq = Some(q),
            StoreWrite::Device(d) => {
                self.devices.insert(d.ieee, d);
            }
            StoreWrite::DeleteDevice(i) => {
                self.devices.remove(&i);
            }
            StoreWrite::InstallCode { ieee, key } => {
                s.install_codes.retain(|(i, _)| *i != ieee);
                s.install_codes.push((ieee, key));
            }
            StoreWrite::RemoveInstallCode(i) => s.install_codes.retain(|(x, _)| *x != i),
            StoreWrite::CounterLease { kind, until } => {
                s.counter_leases.retain(|(k, _)| *k != kind);
                s.counter_leases.push((kind, until));
            }
            StoreWrite::Policy(p) => s.policy = Some(p),
            StoreWrite::Audit(_) => {}
            StoreWrite::Rotation(r) => s.rotation = r,
            StoreWrite::CounterRestart { kind, key_seq } => {
                s.counter_leases.retain(|(k, _)| *k != kind);
                s.counter_restarts.retain(|(k, _)| *k != kind);
                s.counter_restarts.push((kind, key_seq));
            }
        }
    }
    pub fn snapshot(&self) -> Snapshot {
        let mut s = self.snap.clone();
        let mut d: Vec<DeviceRecord> = self.devices.values().cloned().collect();
        d.sort_by_key(|r| r.ieee);
        s.devices = d;
        s
    }
    pub fn lease(&self, kind: CounterKind) -> u32 {
        self.snap
            .counter_leases
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0)
    }
}

/// Makes a batch of store writes durable (the daemon's SQLite store); an error means the
/// frames of that step must not be sent.
pub type DurableSink = Box<dyn FnMut(&[StoreWrite]) -> Result<(), String>>;

/// The coordinator: the real Trust Center core, its store, and a thin hub application.
pub struct Hub {
    pub tc: Option<TrustCenter>,
    pub store: MemStore,
    /// Called with every batch of writes before the batch's frames are queued (the hub daemon
    /// commits them to SQLite there). `None` in scenarios: the in-memory store is enough.
    pub durable: Option<DurableSink>,
    /// The core's events with their time, kept when `Some` (the hub daemon drains them).
    pub event_log: Option<Vec<(Us, Event)>>,
    pub ieee: ExtAddr,
    pub app_fc: u32,
    pub app_seq: u8,
    pub reboots: u32,
    pub seed: u64,
}

/// Counters of what the Trust Center reported.
#[derive(Debug, Default, Clone)]
pub struct TcStats {
    pub rejoins_denied: u64,
    pub spoof_alerts: u64,
    pub replays_dropped: u64,
    pub rescues: u64,
    pub joins: u64,
    pub rejoins: u64,
    pub key_switches: u64,
    /// The Trust Center's audit log entries, counted by kind (`AuditKind::as_str`).
    pub audit: std::collections::BTreeMap<String, u64>,
}

pub enum Ev {
    Kick(usize),
    TxEnd(usize, u64),
    AckStart { from: usize, to: usize, id: u64, seq: u8, pending: bool },
    AckArrive { to: usize, id: u64, pending: bool },
    AckTimeout(usize, u64),
    Timer(usize, Timer),
    TcTimeout,
    Action(usize),
}

pub struct World {
    pub q: Queue<Ev>,
    pub rng: Rng,
    pub topo: Topology,
    pub nodes: Vec<Node>,
    pub capture: Vec<Captured>,
    pub keep_capture: bool,
    pub frames: u64,
    pub airtime_us: u64,
    pub stats: TcStats,
    pub attacker: Option<Attacker>,
    pub attacker_node: Option<usize>,
    next_id: u64,
    pub used_shorts: std::collections::HashSet<u16>,
}

impl World {
    pub fn new(seed: u64) -> World {
        World {
            q: Queue::default(),
            rng: Rng::new(seed),
            topo: Topology::default(),
            nodes: Vec::new(),
            capture: Vec::new(),
            keep_capture: true,
            frames: 0,
            airtime_us: 0,
            stats: TcStats::default(),
            attacker: None,
            attacker_node: None,
            next_id: 0,
            used_shorts: Default::default(),
        }
    }

    pub fn add_node(&mut self, kind: Kind, always_on: bool) -> usize {
        self.topo.add_node();
        self.nodes.push(Node { kind, mac: Mac::default(), alive: true, always_on });
        self.nodes.len() - 1
    }

    pub fn now(&self) -> Us {
        self.q.now
    }

    pub fn now_ms(&self) -> u64 {
        self.q.now / 1000
    }

    pub fn hub(&mut self) -> &mut Hub {
        match &mut self.nodes[0].kind {
            Kind::Coordinator(h) => h,
            _ => unreachable!("node 0 is the coordinator"),
        }
    }

    pub fn dev(&self, i: usize) -> Option<&Device> {
        match &self.nodes[i].kind {
            Kind::Device(d) => Some(d),
            _ => None,
        }
    }

    pub fn dev_mut(&mut self, i: usize) -> Option<&mut Device> {
        match &mut self.nodes[i].kind {
            Kind::Device(d) => Some(d),
            _ => None,
        }
    }

    // ---- MAC ------------------------------------------------------------------------------

    /// Queues a frame for transmission.
    pub fn send(&mut self, node: usize, psdu: Vec<u8>, tag: Tag) {
        self.nodes[node].mac.queue.push_back(OutFrame { psdu, tag, tries: 0 });
        self.kick(node);
    }

    fn kick(&mut self, node: usize) {
        let m = &mut self.nodes[node].mac;
        if m.cur.is_some() || m.kick_pending || m.queue.is_empty() {
            return;
        }
        m.kick_pending = true;
        // CSMA-CA backoff of 0-7 unit periods (collisions themselves are not modelled).
        let backoff = self.rng.below(8) * 320;
        self.q.after(backoff + 128, Ev::Kick(node));
    }

    /// Holds a frame for a sleepy child's next data request.
    pub fn send_indirect(&mut self, node: usize, psdu: Vec<u8>) {
        let Ok(f) = MacFrame::parse(&psdu) else { return };
        let dst = f.header.dst_addr;
        let exp = self.now() + PERSISTENCE_US;
        self.nodes[node].mac.indirect.push((dst, psdu, exp));
    }

    pub fn record(&mut self, psdu: &[u8]) {
        let now = self.now();
        self.frames += 1;
        self.airtime_us += airtime(psdu.len());
        let n = self.frames;
        if let Some(a) = &mut self.attacker {
            a.hear(n, now, psdu);
        }
        if self.keep_capture {
            self.capture.push(Captured { time: now, psdu: psdu.to_vec() });
        }
    }

    fn on_kick(&mut self, node: usize) {
        self.nodes[node].mac.kick_pending = false;
        if !self.nodes[node].alive || self.nodes[node].mac.cur.is_some() {
            return;
        }
        let Some(f) = self.nodes[node].mac.queue.pop_front() else { return };
        self.next_id += 1;
        let id = self.next_id;
        let air = airtime(f.psdu.len());
        let psdu = f.psdu.clone();
        let m = &mut self.nodes[node].mac;
        m.cur = Some(f);
        m.cur_id = id;
        m.rx_until = m.rx_until.max(self.q.now + air + ACK_WAIT_US + 100);
        self.record(&psdu);
        self.q.after(air, Ev::TxEnd(node, id));
    }

    fn listening(&self, n: usize) -> bool {
        let node = &self.nodes[n];
        node.alive && (node.always_on || node.mac.rx_until >= self.q.now)
    }

    fn on_tx_end(&mut self, node: usize, id: u64) {
        if self.nodes[node].mac.cur_id != id {
            return;
        }
        let psdu = match &self.nodes[node].mac.cur {
            Some(f) => f.psdu.clone(),
            None => return,
        };
        let Ok(frame) = MacFrame::parse(&psdu) else {
            self.finish(node, true);
            return;
        };
        let hdr = frame.header;
        let wants_ack = hdr.ack_request && !hdr.dst_addr.is_broadcast();
        // What an overhearing device learns (which key the network uses), worked out once per
        // frame rather than once per receiver: large networks have thousands of overhearers.
        let overheard = match &frame.body {
            MacBody::Data(nwk) => crate::device::key_seq_of(nwk),
            _ => None,
        };
        let neighbours = self.topo.neighbours[node].clone();
        let mut acker = None;
        for (n, loss) in neighbours {
            if !self.listening(n) || self.rng.chance_ppm(loss) {
                continue;
            }
            let addressed = self.nodes[n].matches(hdr.dst_addr);
            if wants_ack && addressed && !matches!(self.nodes[n].kind, Kind::Attacker) {
                let pending = match frame.body {
                    MacBody::Command(MacCommand::DataRequest) => self.has_indirect(n, hdr.src_addr),
                    _ => false,
                };
                acker = Some((n, pending));
            }
            if !addressed && matches!(self.nodes[n].kind, Kind::Device(_)) {
                if let Some(seq) = overheard {
                    crate::device::heard_seq(self, n, seq);
                }
                continue;
            }
            self.deliver(n, node, &psdu, addressed);
        }
        if wants_ack {
            self.nodes[node].mac.awaiting_ack = true;
            self.q.after(ACK_WAIT_US, Ev::AckTimeout(node, id));
            if let (Some((n, pending)), Some(seq)) = (acker, hdr.sequence) {
                self.q.after(TURNAROUND_US, Ev::AckStart { from: n, to: node, id, seq, pending });
            }
        } else {
            self.finish(node, true);
        }
    }

    fn has_indirect(&mut self, n: usize, child: Address) -> bool {
        let now = self.now();
        let m = &mut self.nodes[n].mac;
        m.indirect.retain(|(_, _, exp)| *exp > now);
        m.indirect.iter().any(|(d, _, _)| *d == child)
    }

    fn on_ack_start(&mut self, from: usize, to: usize, id: u64, seq: u8, pending: bool) {
        if !self.nodes[from].alive {
            return;
        }
        let mut ack = Vec::new();
        MacFrame::ack(seq, pending).emit(&mut ack);
        self.record(&ack);
        let loss = self.topo.neighbours[from].iter().find(|(n, _)| *n == to).map_or(0, |l| l.1);
        if !self.rng.chance_ppm(loss) {
            self.q.after(airtime(ack.len()), Ev::AckArrive { to, id, pending });
        }
    }

    fn on_ack_arrive(&mut self, to: usize, id: u64, pending: bool) {
        let m = &mut self.nodes[to].mac;
        if m.cur_id != id || !m.awaiting_ack {
            return;
        }
        m.awaiting_ack = false;
        if pending {
            // Stay awake for the frame the parent releases.
            m.rx_until = m.rx_until.max(self.q.now + 50_000);
        }
        self.finish(to, true);
    }

    fn on_ack_timeout(&mut self, node: usize, id: u64) {
        let m = &mut self.nodes[node].mac;
        if m.cur_id != id || !m.awaiting_ack {
            return;
        }
        m.awaiting_ack = false;
        let Some(mut f) = m.cur.take() else { return };
        if f.tries < MAX_RETRIES {
            f.tries += 1;
            m.queue.push_front(f);
            self.kick(node);
        } else {
            m.cur = Some(f);
            self.finish(node, false);
        }
    }

    fn finish(&mut self, node: usize, ok: bool) {
        let f = self.nodes[node].mac.cur.take();
        self.nodes[node].mac.awaiting_ack = false;
        if let Some(f) = f {
            if f.tag != Tag::Plain {
                crate::device::tx_done(self, node, f.tag, ok, &f.psdu);
            }
        }
        self.kick(node);
    }

    /// A frame reached node `n` from `from`.
    fn deliver(&mut self, n: usize, _from: usize, psdu: &[u8], addressed: bool) {
        let Ok(frame) = MacFrame::parse(psdu) else { return };
        if addressed {
            if let MacBody::Command(MacCommand::DataRequest) = frame.body {
                self.release_indirect(n, frame.header.src_addr);
                return;
            }
        }
        match &self.nodes[n].kind {
            Kind::Coordinator(_) => {
                if addressed {
                    self.hub_rx(psdu);
                }
            }
            Kind::Device(_) => crate::device::rx(self, n, psdu, addressed),
            Kind::Attacker => {}
        }
    }

    fn release_indirect(&mut self, n: usize, child: Address) {
        let now = self.now();
        let m = &mut self.nodes[n].mac;
        m.indirect.retain(|(_, _, exp)| *exp > now);
        let Some(i) = m.indirect.iter().position(|(d, _, _)| *d == child) else { return };
        let (_, mut psdu, _) = m.indirect.remove(i);
        let more = m.indirect.iter().any(|(d, _, _)| *d == child);
        if more && !psdu.is_empty() {
            psdu[0] |= 0x10; // frame pending
        }
        // Sent right after the ack.
        m.queue.push_front(OutFrame { psdu, tag: Tag::Plain, tries: 0 });
        self.kick(n);
    }

    // ---- coordinator ----------------------------------------------------------------------

    fn hub_rx(&mut self, psdu: &[u8]) {
        let now_ms = self.now_ms();
        let ack_to = self.hub_app_wants_ack(psdu);
        let Kind::Coordinator(h) = &mut self.nodes[0].kind else { return };
        let Some(tc) = &mut h.tc else { return };
        tc.handle_frame(now_ms, psdu, RxMeta::default());
        let replay = self.drain_tc();
        if let (Some((short, ieee, ctr)), false) = (ack_to, replay) {
            self.hub_app_ack(short, ieee, ctr);
        }
    }

    /// A report under the active key asking for an APS ack: (source short, IEEE, APS counter).
    fn hub_app_wants_ack(&mut self, psdu: &[u8]) -> Option<(ShortAddr, ExtAddr, u8)> {
        let Kind::Coordinator(h) = &self.nodes[0].kind else { return None };
        let tc = h.tc.as_ref()?;
        let mac = MacFrame::parse(psdu).ok()?;
        let MacBody::Data(nwk) = mac.body else { return None };
        let (nh, hl) = NwkHeader::parse(nwk).ok()?;
        if !nh.security || nh.dst != ShortAddr::COORDINATOR || nh.frame_type != NwkFrameType::Data {
            return None;
        }
        let (aux, _) = AuxHeader::parse(&nwk[hl..]).ok()?;
        if aux.key_seq != Some(tc.active_key_seq()) {
            return None;
        }
        let key = tc.network_key(tc.active_key_seq())?.key.clone();
        let o = open(&CcmStar::new(&key), ZIGBEE_PRO_LEVEL, nwk, hl, None).ok()?;
        let (ah, _) = ApsHeader::parse(&o.plaintext).ok()?;
        if ah.frame_type != ApsFrameType::Data || !ah.ack_request {
            return None;
        }
        Some((nh.src, nh.src_ieee?, ah.counter))
    }

    /// The hub application acknowledges a device report. It goes through the Trust Center core
    /// so it shares the core's leased NWK frame counter.
    fn hub_app_ack(&mut self, _short: ShortAddr, ieee: ExtAddr, ctr: u8) {
        let now_ms = self.q.now / 1000;
        let Kind::Coordinator(h) = &mut self.nodes[0].kind else { return };
        let Some(tc) = &mut h.tc else { return };
        let mut aps = Vec::new();
        ApsHeader::data_ack(1, 0x0402, 0x0104, 1, ctr).emit(&mut aps);
        if tc.send_application(now_ms, ieee, &aps) {
            self.drain_tc();
        }
    }

    /// Applies the core's writes, counts its events and queues its frames. True if a replay
    /// was dropped in this step.
    pub fn drain_tc(&mut self) -> bool {
        let Kind::Coordinator(h) = &mut self.nodes[0].kind else { return false };
        let Some(tc) = &mut h.tc else { return false };
        let writes = tc.take_store_writes();
        let durable = match (&mut h.durable, writes.is_empty()) {
            (Some(sink), false) => sink(&writes).is_ok(),
            _ => true,
        };
        for w in writes {
            if let StoreWrite::Audit(a) = &w {
                *self.stats.audit.entry(a.kind.clone()).or_default() += 1;
            }
            h.store.apply(w);
        }
        if !durable {
            // Frames whose counter lease is not on disk must never go on air.
            while tc.poll_transmit().is_some() {}
        }
        let mut replay = false;
        let now = self.q.now;
        while let Some(e) = tc.poll_event() {
            if let Some(log) = &mut h.event_log {
                log.push((now, e.clone()));
            }
            match e {
                Event::RejoinDenied { .. } => self.stats.rejoins_denied += 1,
                Event::SuspectedSpoof { .. } => self.stats.spoof_alerts += 1,
                Event::ReplayDropped { .. } => {
                    self.stats.replays_dropped += 1;
                    replay = true;
                }
                Event::StaleKeyRescue { .. } => self.stats.rescues += 1,
                Event::DeviceJoined { .. } => self.stats.joins += 1,
                Event::DeviceRejoined { .. } => self.stats.rejoins += 1,
                Event::KeySwitched { .. } => self.stats.key_switches += 1,
                _ => {}
            }
        }
        let mut out = Vec::new();
        while let Some(t) = tc.poll_transmit() {
            out.push(t);
        }
        let next = tc.next_timeout();
        for t in out {
            // A joiner only answers to its short address once it has fetched its association
            // response: frames for that address wait with the response (as real coordinators
            // hold the key until the association completes).
            if t.indirect || self.awaiting_association(&t.psdu) {
                self.send_indirect(0, t.psdu);
            } else {
                self.send(0, t.psdu, Tag::Plain);
            }
        }
        if let Some(ms) = next {
            self.q.at(ms * 1000, Ev::TcTimeout);
        }
        replay
    }

    fn awaiting_association(&self, psdu: &[u8]) -> bool {
        let Ok(f) = MacFrame::parse(psdu) else { return false };
        let Address::Short(dst) = f.header.dst_addr else { return false };
        self.nodes[0].mac.indirect.iter().any(|(_, p, _)| {
            matches!(MacFrame::parse(p).map(|f| f.body),
                Ok(MacBody::Command(MacCommand::AssociationResponse { short_addr, .. })) if short_addr == dst)
        })
    }

    pub fn tc_timeout(&mut self) {
        let now_ms = self.now_ms();
        let Kind::Coordinator(h) = &mut self.nodes[0].kind else { return };
        let Some(tc) = &mut h.tc else { return };
        if tc.next_timeout().is_some_and(|t| t <= now_ms) {
            tc.handle_timeout(now_ms);
            self.drain_tc();
        }
    }

    /// Takes the hub offline (radio off, volatile state lost).
    pub fn hub_down(&mut self) {
        let n = &mut self.nodes[0];
        n.alive = false;
        n.mac = Mac::default();
        let h = self.hub();
        h.tc = None;
    }

    /// Restarts the Trust Center from its store.
    pub fn hub_up(&mut self) {
        let now_ms = self.now_ms();
        let h = self.hub();
        h.reboots += 1;
        let mut r = Rng::new(h.seed ^ (h.reboots as u64).wrapping_mul(0x9e37_79b9));
        let snap = h.store.snapshot();
        h.tc = Some(TrustCenter::new(snap, r.bytes32(), now_ms));
        self.nodes[0].alive = true;
        self.drain_tc();
    }

    // ---- run loop -------------------------------------------------------------------------

    pub fn run_until(&mut self, until: Us, actions: &mut dyn FnMut(&mut World, usize)) {
        while let Some(e) = self.q.pop(until) {
            match e {
                Ev::Kick(n) => self.on_kick(n),
                Ev::TxEnd(n, id) => self.on_tx_end(n, id),
                Ev::AckStart { from, to, id, seq, pending } => {
                    self.on_ack_start(from, to, id, seq, pending)
                }
                Ev::AckArrive { to, id, pending } => self.on_ack_arrive(to, id, pending),
                Ev::AckTimeout(n, id) => self.on_ack_timeout(n, id),
                Ev::Timer(n, t) => crate::device::timer(self, n, t),
                Ev::TcTimeout => self.tc_timeout(),
                Ev::Action(i) => actions(self, i),
            }
        }
        self.q.now = self.q.now.max(until);
    }

    /// Network key `seq` as the Trust Center holds it (for the realism checks only).
    pub fn tc_key(&self, seq: u8) -> Option<Key> {
        let Kind::Coordinator(h) = &self.nodes[0].kind else { return None };
        h.store.snap.network_keys.iter().find(|k| k.seq == seq).map(|k| k.key.clone())
    }
}
