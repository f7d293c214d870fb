//! Device models: Zigbee HA 1.2 (`ha12`), Zigbee 3.0 with an install code (`z30`) and Zigbee
//! 3.0 without one (`z30-wk`) devices, as routers or sleepy end devices.
//!
//! Where the behaviour comes from:
//! - Joining: IEEE 802.15.4 association (request, indirect response fetched with data
//!   requests), then the network key in an APS Transport-Key (Zigbee PRO 2007+, R21 spec
//!   05-3474 §4.6.3). `ha12` uses the well-known TC link key "ZigBeeAlliance09" (HA 1.2 spec
//!   05-3520 §5.4.6) and never updates it; `z30` uses its install-code key and then runs the
//!   R21/BDB TC link key update: Request-Key → Transport-Key (key-load key) → Verify-Key →
//!   Confirm-Key (BDB spec 13-0402 §10.2.5). `z30-wk` joins like `ha12` (no install code,
//!   inside a permit-join window) and then sends the Request-Key once, like `z30`; if no
//!   Transport-Key comes back (the Trust Center refuses the update when the new key would be
//!   readable, as under an exposed network key) it keeps the well-known key and works on.
//! - Routers relay with NWK security applied hop by hop: each hop decrypts and re-secures with
//!   its own frame counter and IEEE in the auxiliary header (Zigbee spec §4.3.1). Routers are
//!   parents: they answer association and rejoin requests, report children to the Trust Center
//!   with APS Update-Device, unwrap APS Tunnel commands, and hold frames for sleepy children
//!   (indirect transmission, 802.15.4 §6.3.4 / §7.5.6.3).
//! - Routing toward a concentrator (Zigbee spec §3.6.3–3.6.4): a router rebroadcasts the
//!   coordinator's many-to-one route request once, sends a route record before its next frame to
//!   the coordinator, appends itself to route records it relays, and forwards a source-routed
//!   frame to the relay before it in the list (the last relay to the destination). Routers
//!   announce themselves (ZDO Device_annce, rebroadcast by routers) after joining. Frames up
//!   still follow the tree (the parent); other broadcasts are not relayed.
//! - Sleepy end devices poll their parent every `poll_interval_ms` (long poll) and a few times
//!   quickly after sending something that expects an answer (short poll, as BDB end devices
//!   do); they listen only briefly after their own transmissions.
//! - Rejoin (BDB §8.2 "rejoin procedure" and the Zigbee spec's NLME-JOIN rejoin): triggered by
//!   parent loss (no MAC ack after retries), by unanswered application traffic (APS acks
//!   missing `unanswered_limit` times in a row: e.g. after a key change or a hub reboot), or by
//!   hearing a frame under a newer key sequence number it does not hold. `secured_rejoin_attempts`
//!   secured rejoins with the stored key, then a Trust Center (unsecured) rejoin; repeated
//!   `rejoin_cycles` times with doubling back-off, then the device gives up (stays orphaned
//!   until a user re-pairs it). `keep_previous_key = false` models stacks that erase the
//!   network key before a Trust Center rejoin. A device that hears a frame under the alternate
//!   key it already holds switches to it (Zigbee spec §4.3.1.2).
//! - Application traffic: a ZCL attribute report to the coordinator every `report_interval_ms`
//!   (± 10 %), with APS ack requested.

use crate::engine::Us;
use crate::world::{Kind, Tag, World, PAN};
use std::collections::{BTreeMap, HashMap};
use zigtrust_crypto::{verify_key_hash, CcmStar, Key};
use zigtrust_wire::aps::{
    ApsCommand, ApsFrameType, ApsHeader, KeyType, TransportKeyBody, UpdateDeviceStatus,
};
use zigtrust_wire::mac::{Address, AssociationStatus, MacBody, MacCommand, MacFrame, MacHeader};
use zigtrust_wire::nwk::{NwkCommand, NwkFrameType, NwkHeader};
use zigtrust_wire::security::{
    aps_command_frame, open, secure_nwk, unsecure_aps_any, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL,
};
use zigtrust_wire::{CapabilityInfo, ExtAddr, ShortAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Ha12,
    Z30,
}

/// A device class of a population (`--population ha12=N,z30=N,z30-wk=N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// HA 1.2: joins under the well-known key, never updates its link key.
    Ha12,
    /// Zigbee 3.0 with an install code: joins under its install-code key, then updates it.
    Z30,
    /// Zigbee 3.0 without an install code: joins under the well-known key inside a permit-join
    /// window, then asks for a TC link key once like `z30`. If the Trust Center does not answer
    /// (it refuses when the new key would be readable, as under an exposed network key), it
    /// keeps the well-known key and carries on.
    Z30Wk,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Ha12, Class::Z30, Class::Z30Wk];

    pub fn name(self) -> &'static str {
        match self {
            Class::Ha12 => "ha12",
            Class::Z30 => "z30",
            Class::Z30Wk => "z30-wk",
        }
    }

    pub fn profile(self) -> Profile {
        match self {
            Class::Ha12 => Profile::Ha12,
            Class::Z30 | Class::Z30Wk => Profile::Z30,
        }
    }

    /// Whether devices of this class have an install code.
    pub fn install_code(self) -> bool {
        self == Class::Z30
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Router,
    Sleepy,
}

/// Device behaviour knobs (CLI: `--secured-rejoin-attempts`, `--keep-previous-key`,
/// `--poll-interval-ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knobs {
    pub secured_rejoin_attempts: u32,
    pub keep_previous_key: bool,
    pub poll_interval_ms: u64,
    pub report_interval_ms: u64,
    pub rejoin_cycles: u32,
    pub unanswered_limit: u32,
    /// 0: three join attempts 30 s apart, then wait for the user. Else retry joining at this
    /// interval for ever (a device left in pairing mode, as in the hub daemon's live home).
    pub join_retry_ms: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            secured_rejoin_attempts: 1,
            keep_previous_key: true,
            poll_interval_ms: 60_000,
            report_interval_ms: 300_000,
            rejoin_cycles: 3,
            unanswered_limit: 2,
            join_retry_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    StartJoin,
    Poll,
    FastPoll,
    Report,
    ReportTimeout(u64),
    ProcTimeout(u64),
    RejoinRestart(u64),
    /// Attacker: poll as the victim (its short address).
    AttackerPoll(u16),
    AttackerReplay(usize),
    /// Attacker: the next frame of a rejoin flood (frames left).
    AttackerFlood(u32),
    /// Attacker: step `n` of a scripted active attack.
    AttackerStep(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Secured(u32),
    Tc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proc {
    Idle,
    Joining { attempt: u32 },
    Rejoin { cycle: u32, step: Step, cand: usize, resp_ok: bool, got_key: bool, waiting: bool },
    GaveUp,
}

pub struct Device {
    pub ieee: ExtAddr,
    pub profile: Profile,
    pub role: Role,
    pub install_key: Option<Key>,
    pub tclk: Option<Key>,
    pending_tclk: Option<Key>,
    pub tclk_verified: bool,
    pub keys: BTreeMap<u8, Key>,
    pub active: Option<u8>,
    pub joined: bool,
    pub ever_joined: bool,
    pub short: Option<ShortAddr>,
    pub parent: usize,
    pub candidates: Vec<usize>,
    nwk_fc: u32,
    aps_fc: u32,
    mac_seq: u8,
    nwk_seq: u8,
    aps_ctr: u8,
    proc: Proc,
    gen: u64,
    report_wait: Option<(u8, u64)>,
    unanswered: u32,
    pub children: BTreeMap<u16, (ExtAddr, bool)>,
    /// Incoming NWK frame counters per (transmitter, network key sequence number): Zigbee
    /// keeps them per network key (the security material set), so a key change restarts them.
    neigh_fc: HashMap<(ExtAddr, u8), u32>,
    pub knobs: Knobs,
    pub rejoins: u32,
    pub rejoin_attempts: u32,
    /// A router accepts associations until then: its permit-join window, opened by a
    /// Mgmt_Permit_Joining_req (volatile, closed at boot).
    pub permit_until: Us,
    /// Router: a concentrator's many-to-one route request was heard since the last route
    /// record; the next unicast to the coordinator is preceded by one (spec §3.6.4.5.2).
    route_record_due: bool,
    /// Router: the last broadcasts relayed, by (originator, route request id or NWK sequence
    /// number, whether a route request).
    broadcasts_seen: std::collections::VecDeque<(u16, u8, bool)>,
    /// Frames to send ahead of the next frame to the coordinator (a route record).
    ahead: Vec<Vec<u8>>,
}

/// ZDO Device_annce cluster.
const DEVICE_ANNCE: u16 = 0x0013;

fn is_newer(a: u8, b: u8) -> bool {
    a != b && a.wrapping_sub(b) < 128
}

impl Device {
    pub fn new(
        ieee: ExtAddr,
        profile: Profile,
        role: Role,
        install_key: Option<Key>,
        candidates: Vec<usize>,
        knobs: Knobs,
    ) -> Device {
        Device {
            ieee,
            profile,
            role,
            install_key,
            tclk: None,
            pending_tclk: None,
            tclk_verified: false,
            keys: BTreeMap::new(),
            active: None,
            joined: false,
            ever_joined: false,
            short: None,
            parent: candidates[0],
            candidates,
            nwk_fc: 0,
            aps_fc: 0,
            mac_seq: (ieee.0 as u8).wrapping_mul(37),
            nwk_seq: (ieee.0 >> 8) as u8,
            aps_ctr: (ieee.0 >> 16) as u8,
            proc: Proc::Idle,
            gen: 0,
            report_wait: None,
            unanswered: 0,
            children: BTreeMap::new(),
            neigh_fc: HashMap::new(),
            knobs,
            rejoins: 0,
            rejoin_attempts: 0,
            permit_until: 0,
            route_record_due: false,
            broadcasts_seen: Default::default(),
            ahead: Vec::new(),
        }
    }

    pub fn capability(&self) -> CapabilityInfo {
        match self.role {
            Role::Router => CapabilityInfo::ROUTER,
            Role::Sleepy => CapabilityInfo::SLEEPY_END_DEVICE,
        }
    }

    pub fn class(&self) -> Class {
        match (self.profile, &self.install_key) {
            (Profile::Ha12, _) => Class::Ha12,
            (Profile::Z30, Some(_)) => Class::Z30,
            (Profile::Z30, None) => Class::Z30Wk,
        }
    }

    pub fn gave_up(&self) -> bool {
        self.proc == Proc::GaveUp
    }

    /// The TC link key the device uses now (its verified key, install-code key or the
    /// well-known key).
    pub fn link(&self) -> Key {
        self.tclk
            .clone()
            .or_else(|| self.install_key.clone())
            .unwrap_or_else(Key::well_known_tc_link_key)
    }

    fn mseq(&mut self) -> u8 {
        self.mac_seq = self.mac_seq.wrapping_add(1);
        self.mac_seq
    }

    fn my_short(&self) -> ShortAddr {
        self.short.unwrap_or(ShortAddr(0xfffe))
    }

    fn mac(&mut self, dst: ShortAddr, nwk: &[u8]) -> Vec<u8> {
        let s = self.mseq();
        let hdr = MacHeader::data(
            s,
            PAN,
            Address::Short(dst),
            Address::Short(self.my_short()),
            !dst.is_broadcast(),
        );
        let mut v = Vec::with_capacity(nwk.len() + 9);
        MacFrame { header: hdr, body: MacBody::Data(nwk) }.emit(&mut v);
        v
    }

    fn hdr(&mut self, ft: NwkFrameType, dst: ShortAddr) -> NwkHeader {
        self.nwk_seq = self.nwk_seq.wrapping_add(1);
        let mut h = NwkHeader::new(ft, dst, self.my_short(), 30, self.nwk_seq);
        h.src_ieee = Some(self.ieee);
        h
    }

    fn secure(&mut self, h: &NwkHeader, payload: &[u8], seq: u8) -> Option<Vec<u8>> {
        let key = self.keys.get(&seq)?.clone();
        self.nwk_fc += 1;
        let aux = AuxHeader::nwk(self.nwk_fc, self.ieee, seq);
        secure_nwk(h, &aux, payload, &key, ZIGBEE_PRO_LEVEL).ok()
    }

    fn aps_cmd(&mut self, cmd: &ApsCommand, secure: bool) -> Vec<u8> {
        self.aps_ctr = self.aps_ctr.wrapping_add(1);
        let c = self.aps_ctr;
        let hdr = ApsHeader::command(c, secure);
        if !secure {
            return aps_command_frame(&hdr, cmd, None, ZIGBEE_PRO_LEVEL, None).unwrap_or_default();
        }
        self.aps_fc += 1;
        let aux = AuxHeader::aps(KeyId::Data, self.aps_fc, Some(self.ieee));
        aps_command_frame(&hdr, cmd, Some((&aux, &self.link())), ZIGBEE_PRO_LEVEL, Some(self.ieee))
            .unwrap_or_default()
    }

    /// An NWK-secured data frame (APS payload) to the coordinator, as a MAC frame to the parent.
    fn frame_to_tc(&mut self, aps: &[u8], parent_short: ShortAddr) -> Option<Vec<u8>> {
        let seq = self.active?;
        if std::mem::take(&mut self.route_record_due) && self.role == Role::Router {
            // Built first: its frame counter must be below the data frame's it precedes.
            let h = self.hdr(NwkFrameType::Command, ShortAddr::COORDINATOR);
            let mut p = Vec::new();
            NwkCommand::RouteRecord { relays: vec![] }.emit(&mut p);
            if let Some(nwk) = self.secure(&h, &p, seq) {
                let f = self.mac(parent_short, &nwk);
                self.ahead.push(f);
            }
        }
        let h = self.hdr(NwkFrameType::Data, ShortAddr::COORDINATOR);
        let nwk = self.secure(&h, aps, seq)?;
        Some(self.mac(parent_short, &nwk))
    }
}

/// Sends a frame for the coordinator to the parent, after whatever must precede it (a route
/// record owed to a concentrator).
fn send_to_tc(w: &mut World, n: usize, f: Vec<u8>) {
    for ahead in std::mem::take(&mut d(w, n).ahead) {
        w.send(n, ahead, Tag::Plain);
    }
    w.send(n, f, Tag::ToParent);
}

fn node_short(w: &World, n: usize) -> Option<ShortAddr> {
    w.nodes[n].short()
}

fn parent_short(w: &World, n: usize) -> ShortAddr {
    let p = w.dev(n).map_or(0, |d| d.parent);
    node_short(w, p).unwrap_or(ShortAddr::COORDINATOR)
}

fn d(w: &mut World, n: usize) -> &mut Device {
    w.dev_mut(n).expect("a device node")
}

fn sleepy(w: &World, n: usize) -> bool {
    w.dev(n).is_some_and(|d| d.role == Role::Sleepy)
}

/// Sleepy devices poll a few times soon after sending something that expects an answer.
fn expect_reply(w: &mut World, n: usize) {
    if sleepy(w, n) || w.dev(n).is_some_and(|d| !d.joined) {
        for ms in [250u64, 900, 2_000] {
            w.q.after(ms * 1000, crate::world::Ev::Timer(n, Timer::FastPoll));
        }
    }
}

fn poll(w: &mut World, n: usize, tag: Tag) {
    let ps = parent_short(w, n);
    let dv = d(w, n);
    let src = match dv.short {
        Some(s) => Address::Short(s),
        None => Address::Extended(dv.ieee),
    };
    let s = dv.mseq();
    let mut v = Vec::new();
    MacFrame::data_request(s, PAN, Address::Short(ps), src).emit(&mut v);
    w.send(n, v, tag);
}

fn schedule(w: &mut World, n: usize, delay: Us, t: Timer) {
    w.q.after(delay, crate::world::Ev::Timer(n, t));
}

/// Starts a device: its first join attempt at `at`.
pub fn boot(w: &mut World, n: usize, at: Us) {
    w.q.at(at, crate::world::Ev::Timer(n, Timer::StartJoin));
}

pub fn timer(w: &mut World, n: usize, t: Timer) {
    if !w.nodes[n].alive {
        return;
    }
    if matches!(w.nodes[n].kind, Kind::Attacker) {
        crate::attacker::timer(w, n, t);
        return;
    }
    match t {
        Timer::StartJoin => start_join(w, n),
        Timer::Poll => {
            let iv = d(w, n).knobs.poll_interval_ms * 1000;
            schedule(w, n, iv, Timer::Poll);
            let dv = d(w, n);
            if dv.joined && dv.proc == Proc::Idle {
                poll(w, n, Tag::ToParent);
            }
        }
        Timer::FastPoll => {
            let dv = d(w, n);
            if dv.proc != Proc::GaveUp && (dv.joined || dv.proc != Proc::Idle) {
                poll(w, n, Tag::Plain);
            }
        }
        Timer::Report => report(w, n),
        Timer::ReportTimeout(g) => {
            let dv = d(w, n);
            if dv.report_wait.is_some_and(|(_, rg)| rg == g) {
                dv.report_wait = None;
                dv.unanswered += 1;
                if dv.unanswered >= dv.knobs.unanswered_limit {
                    start_rejoin(w, n);
                }
            }
        }
        Timer::ProcTimeout(g) => {
            if d(w, n).gen != g {
                return;
            }
            match d(w, n).proc {
                Proc::Joining { attempt } => join_failed(w, n, attempt),
                Proc::Rejoin { .. } => step_failed(w, n),
                _ => {}
            }
        }
        Timer::RejoinRestart(g) => {
            if d(w, n).gen == g {
                do_step(w, n);
            }
        }
        Timer::AttackerPoll(_)
        | Timer::AttackerReplay(_)
        | Timer::AttackerFlood(_)
        | Timer::AttackerStep(_) => {}
    }
}

fn start_join(w: &mut World, n: usize) {
    let ps = parent_short(w, n);
    let par = d(w, n).parent;
    if node_short(w, par).is_none() {
        // The parent router has not joined yet: try again later.
        schedule(w, n, 5_000_000, Timer::StartJoin);
        return;
    }
    let dv = d(w, n);
    if dv.joined {
        return;
    }
    let attempt = match dv.proc {
        Proc::Joining { attempt } => attempt + 1,
        _ => 0,
    };
    dv.proc = Proc::Joining { attempt };
    dv.gen += 1;
    dv.short = None;
    let g = dv.gen;
    let s = dv.mseq();
    let mut v = Vec::new();
    MacFrame::association_request(s, PAN, ps, dv.ieee, dv.capability()).emit(&mut v);
    w.send(n, v, Tag::Plain);
    for ms in [500u64, 1_500, 3_000, 5_000, 8_000] {
        schedule(w, n, ms * 1000, Timer::FastPoll);
    }
    schedule(w, n, 12_000_000, Timer::ProcTimeout(g));
}

fn join_failed(w: &mut World, n: usize, attempt: u32) {
    let dv = d(w, n);
    dv.short = None;
    if dv.knobs.join_retry_ms > 0 {
        dv.proc = Proc::Joining { attempt };
        let iv = dv.knobs.join_retry_ms * 1000;
        schedule(w, n, iv, Timer::StartJoin);
    } else if attempt < 2 {
        dv.proc = Proc::Joining { attempt };
        schedule(w, n, 30_000_000, Timer::StartJoin);
    } else {
        dv.proc = Proc::Idle;
    }
}

fn joined(w: &mut World, n: usize) {
    let first = !d(w, n).ever_joined;
    let dv = d(w, n);
    dv.joined = true;
    dv.ever_joined = true;
    dv.proc = Proc::Idle;
    dv.gen += 1;
    if dv.profile == Profile::Z30 && !dv.tclk_verified {
        let cmd = ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, partner: None };
        let aps = dv.aps_cmd(&cmd, true);
        let ps = parent_short(w, n);
        if let Some(f) = d(w, n).frame_to_tc(&aps, ps) {
            send_to_tc(w, n, f);
            expect_reply(w, n);
        }
    }
    if d(w, n).role == Role::Router {
        announce(w, n);
    }
    if first {
        start_duty(w, n);
    }
}

/// The periodic life of a joined device: reports, and polls if it sleeps.
fn start_duty(w: &mut World, n: usize) {
    let dv = d(w, n);
    let (rep, poll_iv, role) = (dv.knobs.report_interval_ms, dv.knobs.poll_interval_ms, dv.role);
    let j = w.rng.below(rep * 1000);
    schedule(w, n, j + 10_000_000, Timer::Report);
    if role == Role::Sleepy {
        let j = w.rng.below(poll_iv * 1000);
        schedule(w, n, j + 1_000_000, Timer::Poll);
    }
}

/// What a device keeps in non-volatile memory. The hub daemon saves its simulated devices'
/// memory so that they stay joined across a daemon restart, as real devices do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceNv {
    pub joined: bool,
    pub short: Option<u16>,
    pub parent: usize,
    /// (key sequence number, key as hex).
    pub keys: Vec<(u8, String)>,
    pub active: Option<u8>,
    pub tclk: Option<String>,
    pub tclk_verified: bool,
    pub nwk_fc: u32,
    pub aps_fc: u32,
    /// (short address, IEEE, sleepy).
    pub children: Vec<(u16, u64, bool)>,
}

impl Device {
    pub fn nv(&self) -> DeviceNv {
        DeviceNv {
            joined: self.joined,
            short: self.short.map(|s| s.0),
            parent: self.parent,
            keys: self.keys.iter().map(|(q, k)| (*q, k.to_hex())).collect(),
            active: self.active,
            tclk: self.tclk.as_ref().map(Key::to_hex),
            tclk_verified: self.tclk_verified,
            nwk_fc: self.nwk_fc,
            aps_fc: self.aps_fc,
            children: self.children.iter().map(|(s, (i, z))| (*s, i.0, *z)).collect(),
        }
    }

    /// Outgoing (NWK, APS) frame counters.
    pub fn frame_counters(&self) -> (u32, u32) {
        (self.nwk_fc, self.aps_fc)
    }

    /// A reboot that lost the outgoing NWK frame counter (non-volatile memory not written):
    /// it starts again from 0 under the same key.
    pub fn lose_nwk_counter(&mut self) {
        self.nwk_fc = 0;
    }
}

/// Restores node `n` from its saved memory. Counters resume `margin` above the saved values:
/// memory is saved in blocks, so a counter used after the last save is never used again.
pub fn restore(w: &mut World, n: usize, nv: &DeviceNv, margin: u32) -> Result<(), String> {
    let mut keys = BTreeMap::new();
    for (q, k) in &nv.keys {
        keys.insert(*q, Key::from_hex(k).map_err(|e| format!("saved network key {q}: {e}"))?);
    }
    let tclk = match &nv.tclk {
        Some(k) => Some(Key::from_hex(k).map_err(|e| format!("saved link key: {e}"))?),
        None => None,
    };
    if nv.parent >= w.nodes.len() {
        return Err(format!("saved parent {} is not a node", nv.parent));
    }
    let dv = d(w, n);
    dv.keys = keys;
    dv.tclk = tclk;
    dv.tclk_verified = nv.tclk_verified;
    dv.active = nv.active.filter(|a| dv.keys.contains_key(a));
    dv.short = nv.short.map(ShortAddr);
    dv.parent = nv.parent;
    dv.joined = nv.joined && dv.active.is_some() && dv.short.is_some();
    dv.ever_joined = dv.joined;
    dv.nwk_fc = nv.nwk_fc.saturating_add(margin);
    dv.aps_fc = nv.aps_fc.saturating_add(margin);
    dv.children = nv.children.iter().map(|(s, i, z)| (*s, (ExtAddr(*i), *z))).collect();
    dv.proc = Proc::Idle;
    let (joined, short) = (dv.joined, dv.short);
    if joined {
        if let Some(s) = short {
            w.used_shorts.insert(s.0);
        }
        start_duty(w, n);
    }
    Ok(())
}

fn report(w: &mut World, n: usize) {
    let rep = d(w, n).knobs.report_interval_ms * 1000;
    let jitter = w.rng.below(rep / 5 + 1);
    schedule(w, n, rep - rep / 10 + jitter, Timer::Report);
    let dv = d(w, n);
    if !dv.joined || dv.proc != Proc::Idle || dv.active.is_none() {
        return;
    }
    dv.aps_ctr = dv.aps_ctr.wrapping_add(1);
    let c = dv.aps_ctr;
    let mut aps = Vec::new();
    let mut h = ApsHeader::data_unicast(1, 0x0402, 0x0104, 1, c);
    h.ack_request = true;
    h.emit(&mut aps);
    // ZCL: global, server-to-client, report attributes: MeasuredValue (int16) = 21.50 °C.
    aps.extend_from_slice(&[0x18, c, 0x0a, 0x00, 0x00, 0x29, 0x66, 0x08]);
    dv.gen += 0;
    let g = w.rng.next_u64();
    let ps = parent_short(w, n);
    let dv = d(w, n);
    dv.report_wait = Some((c, g));
    if let Some(f) = dv.frame_to_tc(&aps, ps) {
        send_to_tc(w, n, f);
        expect_reply(w, n);
        schedule(w, n, 4_000_000, Timer::ReportTimeout(g));
    }
}

pub fn start_rejoin(w: &mut World, n: usize) {
    let dv = d(w, n);
    if !dv.ever_joined
        || matches!(dv.proc, Proc::Rejoin { .. } | Proc::GaveUp | Proc::Joining { .. })
    {
        return;
    }
    dv.report_wait = None;
    dv.unanswered = 0;
    let step = first_step(dv);
    dv.proc =
        Proc::Rejoin { cycle: 0, step, cand: 0, resp_ok: false, got_key: false, waiting: false };
    do_step(w, n);
}

fn first_step(dv: &Device) -> Step {
    if dv.active.is_some() && dv.knobs.secured_rejoin_attempts > 0 {
        Step::Secured(0)
    } else {
        Step::Tc
    }
}

fn do_step(w: &mut World, n: usize) {
    let Proc::Rejoin { cycle, step, cand, .. } = d(w, n).proc else { return };
    let Some(&c) = d(w, n).candidates.get(cand) else {
        step_failed(w, n);
        return;
    };
    let Some(target) = node_short(w, c) else {
        next_candidate(w, n);
        return;
    };
    let dv = d(w, n);
    dv.proc = Proc::Rejoin { cycle, step, cand, resp_ok: false, got_key: false, waiting: false };
    dv.parent = c;
    dv.gen += 1;
    dv.rejoin_attempts += 1;
    let g = dv.gen;
    let cap = dv.capability();
    let mut p = Vec::new();
    NwkCommand::RejoinRequest { capability: cap }.emit(&mut p);
    let mut h = dv.hdr(NwkFrameType::Command, target);
    h.radius = 1;
    let frame = match (step, dv.active) {
        (Step::Secured(_), Some(seq)) => dv.secure(&h, &p, seq).map(|nwk| dv.mac(target, &nwk)),
        _ => {
            let mut nwk = Vec::new();
            h.emit(&mut nwk);
            nwk.extend_from_slice(&p);
            Some(dv.mac(target, &nwk))
        }
    };
    if let Some(f) = frame {
        w.send(n, f, Tag::Rejoin);
    }
    expect_reply(w, n);
    schedule(w, n, 3_000_000, Timer::ProcTimeout(g));
}

/// Moves a rejoin on to its next candidate parent (this one is gone or did not answer).
fn next_candidate(w: &mut World, n: usize) {
    let dv = d(w, n);
    if let Proc::Rejoin { cycle, step, cand, .. } = dv.proc {
        dv.proc = Proc::Rejoin {
            cycle,
            step,
            cand: cand + 1,
            resp_ok: false,
            got_key: false,
            waiting: false,
        };
        do_step(w, n);
    }
}

fn step_failed(w: &mut World, n: usize) {
    let dv = d(w, n);
    let Proc::Rejoin { cycle, step, .. } = dv.proc else { return };
    let next = match step {
        Step::Secured(k) if k + 1 < dv.knobs.secured_rejoin_attempts => Some(Step::Secured(k + 1)),
        Step::Secured(_) => {
            if !dv.knobs.keep_previous_key {
                dv.keys.clear();
                dv.active = None;
            }
            Some(Step::Tc)
        }
        Step::Tc => None,
    };
    match next {
        Some(step) => {
            dv.proc = Proc::Rejoin {
                cycle,
                step,
                cand: 0,
                resp_ok: false,
                got_key: false,
                waiting: false,
            };
            do_step(w, n);
        }
        None if cycle + 1 < dv.knobs.rejoin_cycles => {
            let step = first_step(dv);
            dv.proc = Proc::Rejoin {
                cycle: cycle + 1,
                step,
                cand: 0,
                resp_ok: false,
                got_key: false,
                waiting: true,
            };
            dv.gen += 1;
            let g = dv.gen;
            schedule(w, n, 60_000_000 << cycle, Timer::RejoinRestart(g));
        }
        None => {
            dv.proc = Proc::GaveUp;
            dv.joined = false;
            dv.gen += 1;
        }
    }
}

fn rejoin_progress(w: &mut World, n: usize, resp: Option<bool>, key: bool) {
    let dv = d(w, n);
    let Proc::Rejoin { cycle, step, cand, mut resp_ok, mut got_key, waiting } = dv.proc else {
        return;
    };
    if waiting {
        return;
    }
    if resp == Some(false) {
        // Refused: go on at once.
        step_failed(w, n);
        return;
    }
    resp_ok |= resp == Some(true);
    got_key |= key;
    dv.proc = Proc::Rejoin { cycle, step, cand, resp_ok, got_key, waiting };
    let done = match step {
        Step::Secured(_) => resp_ok,
        Step::Tc => resp_ok && got_key && dv.active.is_some(),
    };
    if done {
        dv.proc = Proc::Idle;
        dv.gen += 1;
        dv.joined = true;
        dv.unanswered = 0;
        dv.rejoins += 1;
    }
}

/// The MAC outcome of a frame the device sent.
pub fn tx_done(w: &mut World, n: usize, tag: Tag, ok: bool, _psdu: &[u8]) {
    if ok || w.dev(n).is_none() {
        return;
    }
    match tag {
        Tag::ToParent => {
            let dv = d(w, n);
            if dv.joined && dv.proc == Proc::Idle {
                start_rejoin(w, n);
            }
        }
        Tag::Rejoin => {
            next_candidate(w, n);
        }
        Tag::Plain => {}
    }
}

/// A frame heard by device `n` (`addressed`: its MAC destination is this device).
pub fn rx(w: &mut World, n: usize, psdu: &[u8], addressed: bool) {
    let Ok(frame) = MacFrame::parse(psdu) else { return };
    if !addressed {
        // Overheard traffic only tells which key the network uses.
        if let MacBody::Data(nwk) = frame.body {
            overheard_key(w, n, nwk);
        }
        return;
    }
    if frame.header.frame_pending && sleepy(w, n) {
        poll(w, n, Tag::Plain);
    }
    let mac_src = frame.header.src_addr;
    match frame.body {
        MacBody::Command(MacCommand::AssociationResponse { short_addr, status }) => {
            let dv = d(w, n);
            if let Proc::Joining { attempt } = dv.proc {
                if status == AssociationStatus::Success {
                    dv.short = Some(short_addr);
                } else {
                    let g = dv.gen;
                    dv.gen += 1;
                    let _ = g;
                    join_failed(w, n, attempt.max(2));
                }
            }
        }
        MacBody::Command(MacCommand::AssociationRequest { capability }) => {
            if let Address::Extended(joiner) = mac_src {
                router_assoc(w, n, joiner, capability);
            }
        }
        MacBody::Data(nwk) => nwk_rx(w, n, nwk, mac_src),
        _ => {}
    }
}

fn overheard_key(w: &mut World, n: usize, nwk: &[u8]) {
    if let Some(seq) = key_seq_of(nwk) {
        heard_seq(w, n, seq);
    }
}

/// The network key sequence number a NWK frame is secured with, if it is secured.
pub fn key_seq_of(nwk: &[u8]) -> Option<u8> {
    let (h, hl) = NwkHeader::parse(nwk).ok()?;
    if !h.security {
        return None;
    }
    AuxHeader::parse(nwk.get(hl..)?).ok()?.0.key_seq
}

pub fn heard_seq(w: &mut World, n: usize, seq: u8) {
    let dv = d(w, n);
    let Some(a) = dv.active else { return };
    if !dv.joined || !is_newer(seq, a) {
        return;
    }
    if dv.keys.contains_key(&seq) {
        dv.active = Some(seq);
    } else if dv.proc == Proc::Idle {
        start_rejoin(w, n);
    }
}

fn nwk_rx(w: &mut World, n: usize, nwk: &[u8], mac_src: Address) {
    let Ok((h, hl)) = NwkHeader::parse(nwk) else { return };
    let dv = d(w, n);
    let for_me = h.dst_ieee == Some(dv.ieee)
        || (dv.short.is_some() && Some(h.dst) == dv.short)
        || h.dst.is_broadcast();
    if !for_me {
        if dv.role == Role::Router && dv.joined {
            relay(w, n, nwk, &h, hl);
        }
        return;
    }
    let payload = if h.security {
        let Ok((aux, _)) = AuxHeader::parse(&nwk[hl..]) else { return };
        let Some(seq) = aux.key_seq else { return };
        let Some(key) = dv.keys.get(&seq).cloned() else {
            heard_seq(w, n, seq);
            return;
        };
        let Ok(o) = open(&CcmStar::new(&key), ZIGBEE_PRO_LEVEL, nwk, hl, None) else { return };
        if let Some(src) = aux.source {
            let last = dv.neigh_fc.get(&(src, seq)).copied();
            if last.is_some_and(|l| aux.frame_counter <= l) && src != dv.ieee {
                return; // replayed
            }
            dv.neigh_fc.insert((src, seq), aux.frame_counter);
        }
        heard_seq(w, n, seq);
        Some((o.plaintext, seq))
    } else {
        None
    };
    let secured_seq = payload.as_ref().map(|p| p.1);
    let body = match &payload {
        Some((p, _)) => p.clone(),
        None => nwk[hl..].to_vec(),
    };
    if let (true, Some(seq)) = (h.dst.is_broadcast(), secured_seq) {
        if h.frame_type == NwkFrameType::Data
            && is_device_annce(&body)
            && first_time(w, n, (h.src.0, h.seq, false), seq)
        {
            rebroadcast(w, n, &h, &body, seq);
        }
    }
    match h.frame_type {
        NwkFrameType::Command => match NwkCommand::parse(&body) {
            Ok(NwkCommand::RejoinResponse { short_addr, status }) => {
                // Only the answer to its own pending rejoin (NLME-JOIN.request): an unsolicited
                // response, or one for another device at its address, changes nothing.
                let dv = d(w, n);
                let mine = h.dst_ieee.is_none_or(|i| i == dv.ieee);
                if mine && matches!(dv.proc, Proc::Rejoin { .. }) {
                    if status == 0 {
                        dv.short = Some(short_addr);
                    }
                    rejoin_progress(w, n, Some(status == 0), false);
                }
            }
            Ok(NwkCommand::RejoinRequest { capability }) => {
                if let (Some(ieee), Address::Short(cs)) = (h.src_ieee, mac_src) {
                    router_rejoin(w, n, ieee, cs, capability, secured_seq);
                }
            }
            Ok(NwkCommand::RouteRequest { options, id, dst, path_cost, dst_ieee })
                if options.many_to_one() != 0 =>
            {
                if let Some(seq) = secured_seq {
                    let rr = NwkCommand::RouteRequest { options, id, dst, path_cost, dst_ieee };
                    many_to_one_route_request(w, n, &h, rr, seq);
                }
            }
            _ => {}
        },
        NwkFrameType::Data if secured_seq.is_some() && permit_joining(w, n, &body) => {}
        NwkFrameType::Data => aps_rx(w, n, &body),
        _ => {}
    }
}

/// A ZDO Mgmt_Permit_Joining_req (NWK-secured: from a device of the network, the Trust
/// Center's broadcast or unicast): a router opens or closes its own permit-join window. Like
/// real routers it takes the request from any device on the network: its window only lets a
/// joiner reach the Trust Center, which decides. Whether the frame was one.
fn permit_joining(w: &mut World, n: usize, aps: &[u8]) -> bool {
    use zigtrust_wire::zdo::{PermitJoiningReq, MGMT_PERMIT_JOINING_REQ};
    let Ok((ah, hl)) = ApsHeader::parse(aps) else { return false };
    if ah.frame_type != ApsFrameType::Data
        || ah.profile != Some(0)
        || ah.cluster != Some(MGMT_PERMIT_JOINING_REQ)
        || ah.dst_endpoint != Some(0)
    {
        return false;
    }
    let Ok(req) = PermitJoiningReq::parse(&aps[hl..]) else { return true };
    let now = w.now();
    let dv = d(w, n);
    if dv.role == Role::Router {
        // 0xff ("until told otherwise") is forbidden since R21; taken as the 254-s maximum.
        dv.permit_until = now + u64::from(req.duration.min(254)) * 1_000_000;
    }
    true
}

fn aps_rx(w: &mut World, n: usize, aps: &[u8]) {
    let Ok((ah, hl)) = ApsHeader::parse(aps) else { return };
    let dv = d(w, n);
    if ah.frame_type == ApsFrameType::Ack {
        if dv.report_wait.is_some_and(|(c, _)| c == ah.counter) {
            dv.report_wait = None;
            dv.unanswered = 0;
        }
        return;
    }
    if ah.frame_type != ApsFrameType::Command {
        return;
    }
    let body = if ah.security {
        let mut cands = vec![dv.link()];
        cands.extend(dv.pending_tclk.clone());
        if dv.tclk.is_some() {
            cands.extend(dv.install_key.clone());
        }
        match unsecure_aps_any(aps, &cands, ZIGBEE_PRO_LEVEL, None) {
            Ok(u) => u.payload,
            Err(_) => return,
        }
    } else {
        aps[hl..].to_vec()
    };
    let Ok(cmd) = ApsCommand::parse(&body) else { return };
    match cmd {
        ApsCommand::TransportKey(tk) => match tk.body {
            TransportKeyBody::Network { seq, dst, .. }
                if dst == dv.ieee || dst == ExtAddr::ZERO =>
            {
                dv.keys.insert(seq, tk.key.clone());
                if ah.ack_request && dv.active.is_some() {
                    // Key rotation: hold the new key until the Switch-Key; acknowledge it.
                    let mut a = Vec::new();
                    ApsHeader::command_ack(ah.counter).emit(&mut a);
                    let ps = parent_short(w, n);
                    if let Some(f) = d(w, n).frame_to_tc(&a, ps) {
                        send_to_tc(w, n, f);
                    }
                    return;
                }
                dv.active = Some(seq);
                if matches!(dv.proc, Proc::Joining { .. }) && dv.short.is_some() {
                    joined(w, n);
                } else {
                    rejoin_progress(w, n, None, true);
                }
            }
            TransportKeyBody::TrustCenter { dst, .. }
                if dst == dv.ieee && dv.profile == Profile::Z30 =>
            {
                dv.pending_tclk = Some(tk.key.clone());
                let cmd = ApsCommand::VerifyKey {
                    key_type: KeyType::TrustCenterLinkKey,
                    src: dv.ieee,
                    hash: verify_key_hash(&tk.key),
                };
                let a = dv.aps_cmd(&cmd, false);
                let ps = parent_short(w, n);
                if let Some(f) = d(w, n).frame_to_tc(&a, ps) {
                    send_to_tc(w, n, f);
                    expect_reply(w, n);
                }
            }
            _ => {}
        },
        ApsCommand::ConfirmKey { status: 0, dst, .. } if dst == dv.ieee => {
            if let Some(k) = dv.pending_tclk.take() {
                dv.tclk = Some(k);
                dv.tclk_verified = true;
            }
        }
        ApsCommand::SwitchKey { seq } if dv.keys.contains_key(&seq) => {
            dv.active = Some(seq);
            rejoin_progress(w, n, None, true);
        }
        ApsCommand::Tunnel { dst, frame } if dv.role == Role::Router => {
            relay_tunnel(w, n, dst, frame);
        }
        _ => {}
    }
}

// ---- router (parent) duties ----------------------------------------------------------------

fn child_frame(w: &mut World, n: usize, child_short: ShortAddr, psdu: Vec<u8>) {
    let sleepy_child = d(w, n).children.get(&child_short.0).is_some_and(|c| c.1);
    // A router child that has not fetched its association response yet is not listening on
    // its address either: its first frames wait with the response.
    if sleepy_child || w.awaiting_association(n, &psdu) {
        w.send_indirect(n, psdu);
    } else {
        w.send(n, psdu, Tag::Plain);
    }
}

/// Forwards a frame one hop, re-securing it with this router's counter (Zigbee PRO NWK
/// security is hop by hop).
fn relay(w: &mut World, n: usize, nwk: &[u8], h: &NwkHeader, hl: usize) {
    let ps = parent_short(w, n);
    let dv = d(w, n);
    let me = dv.my_short();
    let mut h2 = h.clone();
    let (next, up) = if let Some(sr) = &h.source_route {
        // A source-routed frame (spec §3.6.3.3.2): this router must be the relay the index
        // names; the last relay (index 0) delivers to the destination, the others pass it to
        // the relay before them in the list.
        let i = usize::from(sr.relay_index);
        if sr.relays.get(i) != Some(&me) {
            return;
        }
        if i == 0 {
            (h.dst, false)
        } else {
            if let Some(s2) = &mut h2.source_route {
                s2.relay_index -= 1;
            }
            (sr.relays[i - 1], false)
        }
    } else if h.dst == ShortAddr::COORDINATOR {
        (ps, true)
    } else if dv.children.contains_key(&h.dst.0) {
        (h.dst, false)
    } else {
        return;
    };
    if h2.radius <= 1 {
        return;
    }
    h2.radius -= 1;
    let out = if h.security {
        let Ok((aux, _)) = AuxHeader::parse(&nwk[hl..]) else { return };
        let Some(seq) = aux.key_seq else { return };
        let Some(key) = dv.keys.get(&seq).cloned() else { return };
        let Ok(o) = open(&CcmStar::new(&key), ZIGBEE_PRO_LEVEL, nwk, hl, None) else { return };
        if let Some(src) = aux.source {
            if dv.neigh_fc.get(&(src, seq)).is_some_and(|l| aux.frame_counter <= *l) {
                return; // replayed frame: dropped by the neighbour's counter check
            }
            dv.neigh_fc.insert((src, seq), aux.frame_counter);
        }
        let mut plain = o.plaintext;
        if up && h.frame_type == NwkFrameType::Command {
            // A route record collects the relays it passes (spec §3.6.4.5.2).
            if let Ok(NwkCommand::RouteRecord { mut relays }) = NwkCommand::parse(&plain) {
                relays.push(me);
                plain.clear();
                NwkCommand::RouteRecord { relays }.emit(&mut plain);
            }
        }
        dv.nwk_fc += 1;
        let aux2 = AuxHeader::nwk(dv.nwk_fc, dv.ieee, seq);
        match secure_nwk(&h2, &aux2, &plain, &key, ZIGBEE_PRO_LEVEL) {
            Ok(v) => v,
            Err(_) => return,
        }
    } else {
        let mut v = Vec::new();
        h2.emit(&mut v);
        v.extend_from_slice(&nwk[hl..]);
        v
    };
    let f = dv.mac(next, &out);
    if up {
        w.send(n, f, Tag::ToParent);
    } else if dv.children.contains_key(&next.0) {
        child_frame(w, n, next, f);
    } else {
        w.send(n, f, Tag::Plain);
    }
}

/// A concentrator's many-to-one route request: a router notes that it owes the concentrator a
/// route record and rebroadcasts the request once with its path cost updated. Routes toward
/// the coordinator stay the tree's (the parent).
fn many_to_one_route_request(w: &mut World, n: usize, h: &NwkHeader, rr: NwkCommand, seq: u8) {
    let NwkCommand::RouteRequest { options, id, dst, path_cost, dst_ieee } = rr else { return };
    if !first_time(w, n, (h.src.0, id, true), seq) {
        return;
    }
    d(w, n).route_record_due = true;
    let fwd = NwkCommand::RouteRequest {
        options,
        id,
        dst,
        path_cost: path_cost.saturating_add(1),
        dst_ieee,
    };
    let mut p = Vec::new();
    fwd.emit(&mut p);
    rebroadcast(w, n, h, &p, seq);
}

/// Whether router `n` (joined, on key `seq`) sees broadcast `key` for the first time; it is
/// remembered among the last few.
fn first_time(w: &mut World, n: usize, key: (u16, u8, bool), seq: u8) -> bool {
    let dv = d(w, n);
    if dv.role != Role::Router || !dv.joined || dv.active != Some(seq) {
        return false;
    }
    if dv.broadcasts_seen.contains(&key) {
        return false;
    }
    if dv.broadcasts_seen.len() >= 16 {
        dv.broadcasts_seen.pop_front();
    }
    dv.broadcasts_seen.push_back(key);
    true
}

/// Relays a broadcast one hop further: radius down by one, re-secured with this router's
/// counter (hop by hop), as a MAC broadcast.
fn rebroadcast(w: &mut World, n: usize, h: &NwkHeader, payload: &[u8], seq: u8) {
    if h.radius <= 1 {
        return;
    }
    let mut h2 = h.clone();
    h2.radius -= 1;
    let dv = d(w, n);
    let Some(nwk) = dv.secure(&h2, payload, seq) else { return };
    let f = dv.mac(ShortAddr::BROADCAST, &nwk);
    w.send(n, f, Tag::Plain);
}

/// ZDO Device_annce (cluster 0x0013), broadcast by a router once it has joined: its short and
/// IEEE addresses and its capability, which the Trust Center learns routers' roles from (a
/// join reported by a router carries none).
fn announce(w: &mut World, n: usize) {
    let dv = d(w, n);
    let Some(seq) = dv.active else { return };
    dv.aps_ctr = dv.aps_ctr.wrapping_add(1);
    let mut aps = Vec::new();
    ApsHeader::data_broadcast(0, DEVICE_ANNCE, 0, 0, dv.aps_ctr).emit(&mut aps);
    aps.push(dv.aps_ctr);
    aps.extend_from_slice(&dv.my_short().0.to_le_bytes());
    aps.extend_from_slice(&dv.ieee.to_le_bytes());
    aps.push(dv.capability().0);
    let h = dv.hdr(NwkFrameType::Data, ShortAddr::RX_ON_WHEN_IDLE);
    let Some(nwk) = dv.secure(&h, &aps, seq) else { return };
    let f = dv.mac(ShortAddr::BROADCAST, &nwk);
    w.send(n, f, Tag::Plain);
}

/// Whether an APS frame is a ZDO Device_annce.
fn is_device_annce(aps: &[u8]) -> bool {
    ApsHeader::parse(aps).is_ok_and(|(a, _)| {
        a.frame_type == ApsFrameType::Data
            && a.profile == Some(0)
            && a.cluster == Some(DEVICE_ANNCE)
    })
}

fn update_device(w: &mut World, n: usize, child: ExtAddr, short: ShortAddr, status: u8) {
    let cmd = ApsCommand::UpdateDevice {
        device: child,
        short_addr: short,
        status: UpdateDeviceStatus::from_u8(status),
        tlvs: vec![],
    };
    let ps = parent_short(w, n);
    let dv = d(w, n);
    let aps = dv.aps_cmd(&cmd, true);
    if let Some(f) = dv.frame_to_tc(&aps, ps) {
        send_to_tc(w, n, f);
    }
}

fn alloc_short(w: &mut World) -> ShortAddr {
    loop {
        let s = 1 + w.rng.below(0xfff0) as u16;
        if w.used_shorts.insert(s) {
            return ShortAddr(s);
        }
    }
}

fn router_assoc(w: &mut World, n: usize, joiner: ExtAddr, cap: CapabilityInfo) {
    // A router whose window is closed does not take joiners (its beacons say so; a joiner that
    // asks anyway hears nothing and tries again later).
    let now = w.now();
    let dv = d(w, n);
    if !dv.joined || dv.role != Role::Router || now >= dv.permit_until {
        return;
    }
    let short = alloc_short(w);
    let dv = d(w, n);
    dv.children.insert(short.0, (joiner, cap.0 & CapabilityInfo::RX_ON_WHEN_IDLE == 0));
    let s = dv.mseq();
    let mut v = Vec::new();
    MacFrame::association_response(s, PAN, joiner, dv.ieee, short, AssociationStatus::Success)
        .emit(&mut v);
    w.send_indirect(n, v);
    update_device(w, n, joiner, short, 1);
}

fn router_rejoin(
    w: &mut World,
    n: usize,
    child: ExtAddr,
    cs: ShortAddr,
    cap: CapabilityInfo,
    secured: Option<u8>,
) {
    let dv = d(w, n);
    if dv.role != Role::Router || !dv.joined {
        return;
    }
    if secured.is_some() && secured != dv.active {
        return;
    }
    dv.children.insert(cs.0, (child, cap.0 & CapabilityInfo::RX_ON_WHEN_IDLE == 0));
    let mut h = dv.hdr(NwkFrameType::Command, cs);
    h.dst_ieee = Some(child);
    let mut p = Vec::new();
    NwkCommand::RejoinResponse { short_addr: cs, status: 0 }.emit(&mut p);
    let nwk = match secured {
        Some(seq) => match dv.secure(&h, &p, seq) {
            Some(v) => v,
            None => return,
        },
        None => {
            let mut v = Vec::new();
            h.emit(&mut v);
            v.extend_from_slice(&p);
            v
        }
    };
    let f = dv.mac(cs, &nwk);
    child_frame(w, n, cs, f);
    update_device(w, n, child, cs, if secured.is_some() { 0 } else { 3 });
}

fn relay_tunnel(w: &mut World, n: usize, dst: ExtAddr, inner: Vec<u8>) {
    let dv = d(w, n);
    let Some((&cs, _)) = dv.children.iter().find(|(_, c)| c.0 == dst) else { return };
    let cs = ShortAddr(cs);
    dv.nwk_seq = dv.nwk_seq.wrapping_add(1);
    let h = NwkHeader::new(NwkFrameType::Data, cs, dv.my_short(), 1, dv.nwk_seq);
    let mut nwk = Vec::new();
    h.emit(&mut nwk);
    nwk.extend_from_slice(&inner);
    let f = dv.mac(cs, &nwk);
    child_frame(w, n, cs, f);
}
