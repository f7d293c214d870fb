//! The simulated network: the MAC layer shared by every node (acks, retries, indirect queues),
//! the coordinator running the real hub (Trust Center core, in-memory store) or a port for a hub
//! outside the world (the daemon's), device models and the attacker.

use crate::attacker::Attacker;
use crate::device::{Device, Timer};
use crate::engine::*;
use std::collections::VecDeque;
use zigtrust_crypto::Key;
use zigtrust_hub::{Hub, Outbox, Step};
use zigtrust_tc::model::StoreWrite;
pub use zigtrust_tc::MemStore;
use zigtrust_tc::{AdminCommand, Event, RxMeta, TrustCenter};
use zigtrust_wire::mac::{Address, MacBody, MacCommand, MacFrame};
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
    Coordinator(Box<Coordinator>),
    /// The coordinator's radio for a hub outside the world: frames for it wait in `inbox`.
    Port(Box<Port>),
    Device(Box<Device>),
    Attacker,
}

/// Node 0 when the hub runs outside the world (the daemon's simulated radio).
#[derive(Debug, Default)]
pub struct Port {
    /// The hub's IEEE address (from its radio configuration).
    pub ieee: ExtAddr,
    /// Frames addressed to the coordinator, oldest first.
    pub inbox: VecDeque<Vec<u8>>,
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
            Kind::Coordinator(_) | Kind::Port(_) => Some(ShortAddr::COORDINATOR),
            Kind::Device(d) => d.short,
            Kind::Attacker => None,
        }
    }
    pub fn ieee(&self) -> Option<ExtAddr> {
        match &self.kind {
            Kind::Coordinator(h) => Some(h.ieee),
            Kind::Port(p) => Some(p.ieee),
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

/// The simulated hub: the real [`Hub`] on the in-memory store, its radio the world's MAC.
pub type SimHub = Hub<MemStore, Outbox>;

/// The coordinator node: the hub, and whether it is up. While it is down (a power cut) its
/// core's volatile state is gone and only the store counts; [`World::hub_up`] restarts it.
pub struct Coordinator {
    pub hub: SimHub,
    pub up: bool,
    pub ieee: ExtAddr,
    pub reboots: u32,
    pub seed: u64,
}

impl Coordinator {
    /// A hub restored from `store`.
    pub fn new(store: MemStore, tc_seed: [u8; 32], now_ms: u64, seed: u64) -> Coordinator {
        let hub =
            Hub::open(store, Outbox::default(), tc_seed, now_ms).unwrap_or_else(|e| match e {});
        let ieee = hub.tc().network().map_or(ExtAddr(0), |n| n.tc_ieee);
        Coordinator { hub, up: true, ieee, reboots: 0, seed }
    }

    /// The running core, `None` while the hub is down.
    pub fn tc(&self) -> Option<&TrustCenter> {
        self.up.then(|| self.hub.tc())
    }

    pub fn store(&self) -> &MemStore {
        self.hub.store()
    }

    pub fn store_mut(&mut self) -> &mut MemStore {
        self.hub.store_mut()
    }
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
    /// When set, the nodes' frames go to a medium outside the world (see [`External`]) instead
    /// of the simulated one; `None` (the default) keeps the deterministic medium.
    pub external: Option<External>,
}

/// A medium outside the world (e.g. OpenThread's simulation medium, `crate::medium_ot`): the
/// world's MAC queues, retries, indirect queues and device logic run as usual, but a node's
/// transmission is handed out through [`External::outbox`] at once (no airtime), ACKs and
/// frames come back through [`World::external_ack`], [`World::external_filter`] and
/// [`World::external_deliver`], and nothing is delivered inside the world.
#[derive(Debug, Clone, Default)]
pub struct External {
    /// Frames the nodes transmitted, in order: (node, PSDU without FCS).
    pub outbox: Vec<(usize, Vec<u8>)>,
    /// How long a sender waits for an ACK before a retry (µs).
    pub ack_wait_us: Us,
    /// How long a sleepy node keeps listening after an ACK with frame-pending (µs).
    pub pending_listen_us: Us,
}

/// What a node's radio does with a frame heard on an external medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalRx {
    /// The frame is addressed to the node (its short or extended address, or broadcast).
    pub addressed: bool,
    /// The node ACKs it: (sequence number, frame-pending).
    pub ack: Option<(u8, bool)>,
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
            external: None,
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

    pub fn hub(&mut self) -> &mut Coordinator {
        match &mut self.nodes[0].kind {
            Kind::Coordinator(h) => h,
            _ => unreachable!("node 0 is the coordinator"),
        }
    }

    pub fn coordinator(&self) -> Option<&Coordinator> {
        match &self.nodes[0].kind {
            Kind::Coordinator(h) => Some(h),
            _ => None,
        }
    }

    pub fn port(&mut self) -> Option<&mut Port> {
        match &mut self.nodes[0].kind {
            Kind::Port(p) => Some(p),
            _ => None,
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
        if let Some(ext) = &mut self.external {
            // On the outside medium: out now; the ACK (or its absence) comes from there.
            m.rx_until = m.rx_until.max(self.q.now + ext.ack_wait_us + 100);
            ext.outbox.push((node, psdu));
            self.on_tx_end(node, id);
            return;
        }
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
        if let Some(ext) = &self.external {
            if wants_ack {
                let wait = ext.ack_wait_us;
                self.nodes[node].mac.awaiting_ack = true;
                self.q.after(wait, Ev::AckTimeout(node, id));
            } else {
                self.finish(node, true);
            }
            return;
        }
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
        let listen = self.external.as_ref().map_or(50_000, |e| e.pending_listen_us);
        let m = &mut self.nodes[to].mac;
        if m.cur_id != id || !m.awaiting_ack {
            return;
        }
        m.awaiting_ack = false;
        if pending {
            // Stay awake for the frame the parent releases.
            m.rx_until = m.rx_until.max(self.q.now + listen);
        }
        self.finish(to, true);
    }

    // ---- external medium ------------------------------------------------------------------

    /// An ACK with sequence number `seq` heard on the external medium: it completes the
    /// transmission of every node waiting for that ACK. Returns the nodes it completed.
    pub fn external_ack(&mut self, seq: u8, pending: bool) -> Vec<usize> {
        let mut done = Vec::new();
        for n in 0..self.nodes.len() {
            let m = &self.nodes[n].mac;
            let waiting = m.awaiting_ack
                && m.cur.as_ref().is_some_and(|f| {
                    MacFrame::parse(&f.psdu).is_ok_and(|p| p.header.sequence == Some(seq))
                });
            if waiting {
                let id = m.cur_id;
                self.on_ack_arrive(n, id, pending);
                done.push(n);
            }
        }
        done
    }

    /// Whether node `n` hears `psdu` (without FCS) from the external medium now, and whether
    /// its radio ACKs it (frames with AR set addressed to it; frame-pending when it holds an
    /// indirect frame for the sender of a data request). `None`: not heard (asleep, down, the
    /// hub's port, an ACK, or not a frame).
    pub fn external_filter(&mut self, n: usize, psdu: &[u8]) -> Option<ExternalRx> {
        if matches!(self.nodes[n].kind, Kind::Port(_) | Kind::Coordinator(_)) || !self.listening(n)
        {
            return None;
        }
        let frame = MacFrame::parse(psdu).ok()?;
        let hdr = frame.header;
        if matches!(frame.body, MacBody::Ack) {
            return None;
        }
        let pan_ok = hdr.dst_pan.is_none_or(|p| p == PAN || p.0 == 0xffff);
        let addressed = pan_ok && self.nodes[n].matches(hdr.dst_addr);
        let acks = addressed
            && hdr.ack_request
            && !hdr.dst_addr.is_broadcast()
            && !matches!(self.nodes[n].kind, Kind::Attacker);
        let ack = match (acks, hdr.sequence) {
            (true, Some(seq)) => {
                let pending = match frame.body {
                    MacBody::Command(MacCommand::DataRequest) => self.has_indirect(n, hdr.src_addr),
                    _ => false,
                };
                Some((seq, pending))
            }
            _ => None,
        };
        Some(ExternalRx { addressed, ack })
    }

    /// Hands `psdu` (without FCS), heard on the external medium and accepted by
    /// [`World::external_filter`], to node `n`.
    pub fn external_deliver(&mut self, n: usize, psdu: &[u8], addressed: bool) {
        self.deliver(n, n, psdu, addressed);
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
        match &mut self.nodes[n].kind {
            Kind::Coordinator(_) => {
                if addressed {
                    self.hub_rx(psdu);
                }
            }
            Kind::Port(p) => {
                if addressed {
                    p.inbox.push_back(psdu.to_vec());
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
        let h = self.hub();
        if !h.up {
            return;
        }
        let step = h.hub.receive(now_ms, psdu, RxMeta::default());
        self.after_step(step);
    }

    /// An admin command to the simulated hub now, its frames queued.
    pub fn command(&mut self, cmd: AdminCommand) -> Result<(), String> {
        self.command_at(self.now_ms(), cmd)
    }

    /// An admin command on the hub's clock at `now_ms` (not before the world's clock).
    pub fn command_at(&mut self, now_ms: u64, cmd: AdminCommand) -> Result<(), String> {
        let h = self.hub();
        if !h.up {
            return Err("the hub is down".into());
        }
        let step = h.hub.command(now_ms, cmd).map_err(|e| e.to_string())?;
        self.after_step(step);
        Ok(())
    }

    /// Counts a hub step's events and audit entries, queues the frames it released on the
    /// coordinator's MAC and schedules the hub's next wake (the core's timers, permit-join announcements).
    fn after_step(&mut self, step: Step) {
        for w in &step.writes {
            if let StoreWrite::Audit(a) = w {
                *self.stats.audit.entry(a.kind.clone()).or_default() += 1;
            }
        }
        for e in &step.events {
            match e {
                Event::RejoinDenied { .. } => self.stats.rejoins_denied += 1,
                Event::SuspectedSpoof { .. } => self.stats.spoof_alerts += 1,
                Event::ReplayDropped { .. } => self.stats.replays_dropped += 1,
                Event::StaleKeyRescue { .. } => self.stats.rescues += 1,
                Event::DeviceJoined { .. } => self.stats.joins += 1,
                Event::DeviceRejoined { .. } => self.stats.rejoins += 1,
                Event::KeySwitched { .. } => self.stats.key_switches += 1,
                _ => {}
            }
        }
        let h = self.hub();
        let out = std::mem::take(&mut h.hub.radio_mut().frames);
        // The hub's own timers too (its periodic NWK broadcasts), not only the core's.
        let next = h.hub.next_wake();
        for t in out {
            self.coordinator_transmit(t);
        }
        if let Some(ms) = next {
            self.q.at(ms * 1000, Ev::TcTimeout);
        }
    }

    /// Queues a frame the hub released on the coordinator's MAC.
    pub fn coordinator_transmit(&mut self, t: zigtrust_tc::Transmit) {
        // A joiner only answers to its short address once it has fetched its association
        // response: frames for that address wait with the response (as real coordinators
        // hold the key until the association completes).
        if t.indirect || self.awaiting_association(0, &t.psdu) {
            self.send_indirect(0, t.psdu);
        } else {
            self.send(0, t.psdu, Tag::Plain);
        }
    }

    /// Whether node `node` holds an association response giving out `psdu`'s MAC destination:
    /// the joiner does not answer to that address until it fetched the response.
    pub fn awaiting_association(&self, node: usize, psdu: &[u8]) -> bool {
        let Ok(f) = MacFrame::parse(psdu) else { return false };
        let Address::Short(dst) = f.header.dst_addr else { return false };
        self.nodes[node].mac.indirect.iter().any(|(_, p, _)| {
            matches!(MacFrame::parse(p).map(|f| f.body),
                Ok(MacBody::Command(MacCommand::AssociationResponse { short_addr, .. })) if short_addr == dst)
        })
    }

    pub fn tc_timeout(&mut self) {
        let now_ms = self.now_ms();
        let Kind::Coordinator(h) = &mut self.nodes[0].kind else { return };
        if !h.up || h.hub.next_wake().is_none_or(|t| t > now_ms) {
            return;
        }
        let step = h.hub.handle_timeout(now_ms);
        self.after_step(step);
    }

    /// Takes the hub offline (radio off, volatile state lost).
    pub fn hub_down(&mut self) {
        let n = &mut self.nodes[0];
        n.alive = false;
        n.mac = Mac::default();
        self.hub().up = false;
    }

    /// Restarts the Trust Center from its store.
    pub fn hub_up(&mut self) {
        let now_ms = self.now_ms();
        let h = self.hub();
        h.reboots += 1;
        let mut r = Rng::new(h.seed ^ (h.reboots as u64).wrapping_mul(0x9e37_79b9));
        let step = h.hub.restart(r.bytes32(), now_ms).unwrap_or_else(|e| match e {});
        h.up = true;
        self.nodes[0].alive = true;
        self.after_step(step);
    }

    // ---- run loop -------------------------------------------------------------------------

    pub fn run_until(&mut self, until: Us, actions: &mut dyn FnMut(&mut World, usize)) {
        while let Some(e) = self.q.pop(until) {
            self.dispatch(e, actions);
        }
        self.q.now = self.q.now.max(until);
    }

    /// Runs until `until`, or until a frame for an outside hub waits in the port's inbox
    /// (returns true then, with the clock at that frame's arrival).
    pub fn run_until_port_frame(
        &mut self,
        until: Us,
        actions: &mut dyn FnMut(&mut World, usize),
    ) -> bool {
        loop {
            if self.port().is_some_and(|p| !p.inbox.is_empty()) {
                return true;
            }
            let Some(e) = self.q.pop(until) else { break };
            self.dispatch(e, actions);
        }
        self.q.now = self.q.now.max(until);
        false
    }

    fn dispatch(&mut self, e: Ev, actions: &mut dyn FnMut(&mut World, usize)) {
        {
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
    }

    /// Network key `seq` as the Trust Center holds it (for the realism checks only).
    pub fn tc_key(&self, seq: u8) -> Option<Key> {
        let h = self.coordinator()?;
        h.store().snap.network_keys.iter().find(|k| k.seq == seq).map(|k| k.key.clone())
    }
}
