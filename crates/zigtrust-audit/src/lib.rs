//! zigtrust-audit: a streaming security audit of Zigbee captures.
//!
//! An [`Auditor`] is fed capture records one at a time (record number, timestamp, PSDU, FCS
//! verdict). It runs the full-stack [`Dissector`] (which learns keys from Transport-Key
//! commands) and keeps state per device and per key only — never per frame — so memory is
//! bounded by the number of devices and keys in the capture, not its length:
//!
//! - per (layer, transmitter IEEE, key): the highest frame counter and a bitmap of the
//!   [`COUNTER_WINDOW`] counters below it (exact replays vs counter regressions);
//! - per device: short addresses (at most [`MAX_SHORTS`]), join / TCLK-update / activity state;
//! - per key: where it came from, whether an outsider can read it, what it decrypted;
//! - per finding: a count and the first [`MAX_FRAMES_PER_FINDING`] frame numbers;
//! - a ring of the last [`RETRANSMIT_RING`] frame hashes, to tell MAC/NWK retransmissions
//!   (identical bytes within [`RETRANSMIT_WINDOW_US`]) from replays.
//!
//! [`Auditor::report`] gives the findings (sorted by severity, then first frame) and the
//! inventory.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use zigtrust_crypto::Key;
use zigtrust_wire::aps::{ApsCommand, KeyType, TransportKeyBody};
use zigtrust_wire::dissect::{ApsLayer, Decryption, Dissection, Dissector, KeySource, Keyring};
use zigtrust_wire::mac::{Address, MacCommand};
use zigtrust_wire::nwk::NwkCommand;
use zigtrust_wire::zdo::ZdoMessage;
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

/// "Shortly before" for spoofed-rejoin suspicion: 10 minutes.
pub const SPOOF_WINDOW_US: i64 = 600 * 1_000_000;
/// A network key sent to a device this soon after its unsecured rejoin request answers it.
pub const REJOIN_ANSWER_WINDOW_US: i64 = 60 * 1_000_000;
/// Identical frame bytes (ignoring the MAC sequence number) within this time are a
/// retransmission (MAC retry, indirect re-send, broadcast retry), not a replay.
pub const RETRANSMIT_WINDOW_US: i64 = 10 * 1_000_000;
/// How many recent frame hashes the retransmission filter remembers.
pub const RETRANSMIT_RING: usize = 512;
/// Frame counters remembered below the highest one, per transmitter and key.
pub const COUNTER_WINDOW: u32 = 4096;
/// Frame numbers kept per finding (the count keeps counting).
pub const MAX_FRAMES_PER_FINDING: usize = 16;
/// Short addresses kept per device.
pub const MAX_SHORTS: usize = 8;
/// Devices tracked (a hostile capture with random addresses cannot grow memory beyond this).
pub const MAX_DEVICES: usize = 100_000;
/// Counter-tracking entries (transmitter × key × layer).
pub const MAX_COUNTER_STATES: usize = 200_000;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.name().eq_ignore_ascii_case(s))
    }
}

/// Stable kebab-case finding kinds.
pub mod kind {
    pub const NETWORK_KEY_LEAKED: &str = "network-key-leaked";
    pub const LEGACY_JOIN: &str = "legacy-well-known-key-join";
    pub const INSECURE_REJOIN_KEY: &str = "insecure-rejoin-key-leak";
    pub const SPOOFED_REJOIN: &str = "suspected-spoofed-rejoin";
    pub const REPLAY: &str = "replayed-frame";
    pub const COUNTER_REGRESSION: &str = "frame-counter-regression";
    pub const MIC_FAILURE: &str = "mic-failure";
    pub const TCLK_NOT_UPDATED: &str = "tclk-never-updated";
    pub const LINK_KEY_LEAKED: &str = "link-key-leaked";
}

/// One finding: a kind of problem for one device (or key), with the frames showing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub kind: &'static str,
    pub ieee: Option<ExtAddr>,
    pub short: Option<ShortAddr>,
    /// The first [`MAX_FRAMES_PER_FINDING`] frames that show it, in capture order.
    pub frames: Vec<u64>,
    /// How many frames (or events) show it in all.
    pub count: u64,
    pub explanation: String,
    /// For `network-key-leaked`: the key (hex) and its sequence number.
    pub key: Option<String>,
    pub key_seq: Option<u8>,
    /// For `network-key-leaked`: how an outsider reads it: `well-known`, `unsecured`,
    /// `leaked-link-key`, `leaked-network-key` (keys leaked earlier in the capture), or
    /// `given` / `install-code` (only with keys supplied to the audit).
    pub via: Option<&'static str>,
}

/// What the TCLK update (R21 / BDB) of a device showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TclkSteps {
    pub request_key: bool,
    pub transport_key: bool,
    pub verify_key: bool,
    pub confirm_key: bool,
}

impl TclkSteps {
    pub fn any(self) -> bool {
        self.request_key || self.transport_key || self.verify_key || self.confirm_key
    }
}

/// Inventory entry for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub ieee: ExtAddr,
    /// Short addresses seen for it, in order (at most [`MAX_SHORTS`]).
    pub shorts: Vec<ShortAddr>,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Short address 0x0000 (the coordinator / Trust Center).
    pub trust_center: bool,
    /// Got a network key in a Transport-Key readable with the well-known key.
    pub joined_with_well_known_key: bool,
    /// Frame of the first Transport-Key of a network key addressed to it (readable or not known).
    pub network_key_received: Option<u64>,
    pub tclk: TclkSteps,
    /// NWK frames it secured that a key verified.
    pub secured_frames: u64,
    pub mic_failures: u64,
    pub unsecured_rejoins: u64,
}

/// Inventory entry for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub key: String,
    /// `network`, `link` (TC or application link key), or `unknown` (given, role unknown).
    pub role: &'static str,
    /// `well-known`, `given`, `install-code`, `transported`.
    pub source: &'static str,
    pub install_code_device: Option<ExtAddr>,
    /// Key sequence number (network keys from a Transport-Key).
    pub seq: Option<u8>,
    /// Frame of the first Transport-Key carrying it.
    pub transported_in: Option<u64>,
    /// Readable by an outsider who knows only public keys and the capture.
    pub leaked: bool,
    pub nwk_frames_decrypted: u64,
    pub aps_frames_decrypted: u64,
    pub first_decrypted: Option<u64>,
}

/// Frames by NWK key sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqStats {
    pub frames: u64,
    pub decrypted: u64,
}

/// Overall counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames: u64,
    pub bad_fcs: u64,
    pub undecodable: u64,
    pub retransmissions: u64,
    pub nwk_secured: u64,
    pub nwk_decrypted: u64,
    pub aps_secured: u64,
    pub aps_decrypted: u64,
    pub devices_dropped: bool,
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub devices: Vec<DeviceInfo>,
    pub keys: Vec<KeyInfo>,
    /// (key sequence number, counts) for every sequence number seen in NWK aux headers.
    pub key_seqs: Vec<(u8, SeqStats)>,
    pub stats: Stats,
}

impl Report {
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
    pub fn of_kind<'a>(&'a self, k: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.kind == k)
    }
}

#[derive(Default)]
struct Device {
    info: Option<DeviceInfo>,
    last_short: Option<(ShortAddr, i64)>,
    /// Last NWK frame it secured: (time, key sequence number, was a rejoin request).
    last_secured: Option<(i64, u8, bool)>,
    last_unsecured_rejoin: Option<(i64, u64)>,
}

struct KeyEntry {
    info: KeyInfo,
    /// Short form of how an outsider reads it, when `info.leaked`.
    public: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum KeyRef {
    Known(usize),
    /// MIC failed: only the key id / sequence number is known.
    Unverified(u8),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Layer {
    Nwk,
    Aps,
}

struct CounterState {
    max: u32,
    /// When `max` was last seen: the same counter again soon after is a retransmission.
    max_time: i64,
    /// Bit i of the window: counter `max - i` was seen.
    bits: Box<[u64; (COUNTER_WINDOW / 64) as usize]>,
}

enum CounterVerdict {
    New,
    Replay,
    Regression,
}

impl CounterState {
    fn new(fc: u32, t: i64) -> CounterState {
        let mut s = CounterState {
            max: fc,
            max_time: t,
            bits: Box::new([0; (COUNTER_WINDOW / 64) as usize]),
        };
        s.bits[0] = 1;
        s
    }
    fn get(&self, i: u32) -> bool {
        self.bits[(i / 64) as usize] >> (i % 64) & 1 == 1
    }
    fn set(&mut self, i: u32) {
        self.bits[(i / 64) as usize] |= 1 << (i % 64);
    }
    fn shift(&mut self, by: u32) {
        if by >= COUNTER_WINDOW {
            self.bits.fill(0);
            return;
        }
        let words = (by / 64) as usize;
        let bits = by % 64;
        let n = self.bits.len();
        for i in (0..n).rev() {
            let lo = if i >= words { self.bits[i - words] } else { 0 };
            let lower = if i > words && bits > 0 { self.bits[i - words - 1] } else { 0 };
            self.bits[i] = if bits == 0 { lo } else { lo << bits | lower >> (64 - bits) };
        }
    }
    fn check(&mut self, t: i64, fc: u32) -> CounterVerdict {
        if fc == self.max && t >= self.max_time && t - self.max_time <= RETRANSMIT_WINDOW_US {
            // The same frame re-sent by its transmitter (APS retry, broadcast retry).
            self.max_time = t;
            return CounterVerdict::New;
        }
        if fc > self.max {
            self.shift(fc - self.max);
            self.max = fc;
            self.max_time = t;
            self.set(0);
            return CounterVerdict::New;
        }
        let back = self.max - fc;
        if back < COUNTER_WINDOW {
            if self.get(back) {
                return CounterVerdict::Replay;
            }
            self.set(back);
        }
        CounterVerdict::Regression
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct FindingKey {
    kind: &'static str,
    ieee: Option<ExtAddr>,
    extra: u64,
}

/// The streaming auditor.
pub struct Auditor {
    dissector: Dissector,
    devices: HashMap<ExtAddr, Device>,
    addr: HashMap<(PanId, ShortAddr), ExtAddr>,
    keys: Vec<KeyEntry>,
    key_index: HashMap<[u8; 16], usize>,
    counters: HashMap<(Layer, ExtAddr, ExtAddr, KeyRef), CounterState>,
    findings: HashMap<FindingKey, Finding>,
    finding_order: Vec<FindingKey>,
    ring: Vec<(u64, i64)>,
    recent: HashMap<u64, i64>,
    ring_pos: usize,
    seqs: Box<[SeqStats; 256]>,
    /// Key sequence number of the coordinator's last NWK-secured frame (the current key).
    current_seq: Option<u8>,
    stats: Stats,
    unknown_mic_failures: (u64, Vec<u64>),
}

const MAX_KEYS: usize = zigtrust_wire::dissect::MAX_LEARNED_KEYS + 1024;

fn source_name(s: KeySource) -> &'static str {
    s.name()
}

fn is_network_key(kt: KeyType) -> bool {
    matches!(kt, KeyType::StandardNetworkKey | KeyType::HighSecurityNetworkKey)
}

fn fnv(bytes: &[u8], skip: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, &b) in bytes.iter().enumerate() {
        let b = if i == skip { 0 } else { b };
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^ bytes.len() as u64
}

fn valid_ieee(e: ExtAddr) -> bool {
    e != ExtAddr::ZERO && e != ExtAddr::BROADCAST
}

fn valid_short(s: ShortAddr) -> bool {
    s.0 < 0xfff8
}

impl Auditor {
    /// An auditor with this keyring (the well-known key is always in it; add `--key` /
    /// install-code keys before).
    pub fn new(keyring: Keyring) -> Auditor {
        Auditor::with_dissector(Dissector::new(keyring))
    }

    /// An auditor around a configured dissector (e.g. another security level).
    pub fn with_dissector(dissector: Dissector) -> Auditor {
        let mut a = Auditor {
            dissector,
            devices: HashMap::new(),
            addr: HashMap::new(),
            keys: Vec::new(),
            key_index: HashMap::new(),
            counters: HashMap::new(),
            findings: HashMap::new(),
            finding_order: Vec::new(),
            ring: vec![(0, i64::MIN); RETRANSMIT_RING],
            ring_pos: 0,
            recent: HashMap::new(),
            seqs: Box::new([SeqStats::default(); 256]),
            current_seq: None,
            stats: Stats::default(),
            unknown_mic_failures: (0, Vec::new()),
        };
        let net: Vec<(Key, KeySource)> =
            a.dissector.keyring.network_keys().map(|(k, s)| (k.clone(), s)).collect();
        let link: Vec<(Key, KeySource)> =
            a.dissector.keyring.link_keys().map(|(k, s)| (k.clone(), s)).collect();
        for (k, s) in net {
            a.intern(&k, s, Some("network"));
        }
        for (k, s) in link {
            a.intern(&k, s, Some("link"));
        }
        a
    }

    /// The index of `key`, adding it (with where it came from) if new.
    fn intern(&mut self, key: &Key, source: KeySource, role: Option<&'static str>) -> usize {
        if let Some(&i) = self.key_index.get(key.as_bytes()) {
            if let Some(r) = role {
                let e = &mut self.keys[i].info;
                if e.role != r && e.role != "unknown" {
                    e.role = "unknown";
                } else if e.role == "unknown" && matches!(source, KeySource::Transported { .. }) {
                    e.role = r;
                }
            }
            return i;
        }
        if self.keys.len() >= MAX_KEYS {
            return usize::MAX;
        }
        let public = source == KeySource::WellKnown;
        let info = KeyInfo {
            key: key.to_hex(),
            role: role.unwrap_or("unknown"),
            source: source_name(source),
            install_code_device: match source {
                KeySource::InstallCode { ieee } => Some(ieee),
                _ => None,
            },
            seq: None,
            transported_in: None,
            leaked: public,
            nwk_frames_decrypted: 0,
            aps_frames_decrypted: 0,
            first_decrypted: None,
        };
        self.keys.push(KeyEntry { info, public });
        self.key_index.insert(*key.as_bytes(), self.keys.len() - 1);
        self.keys.len() - 1
    }

    fn device(&mut self, ieee: ExtAddr, frame: u64) -> Option<&mut Device> {
        if !valid_ieee(ieee) {
            return None;
        }
        if !self.devices.contains_key(&ieee) {
            if self.devices.len() >= MAX_DEVICES {
                self.stats.devices_dropped = true;
                return None;
            }
            let info = DeviceInfo {
                ieee,
                shorts: Vec::new(),
                first_frame: frame,
                last_frame: frame,
                trust_center: false,
                joined_with_well_known_key: false,
                network_key_received: None,
                tclk: TclkSteps::default(),
                secured_frames: 0,
                mic_failures: 0,
                unsecured_rejoins: 0,
            };
            self.devices.insert(ieee, Device { info: Some(info), ..Device::default() });
        }
        let d = self.devices.get_mut(&ieee)?;
        if let Some(i) = d.info.as_mut() {
            i.last_frame = frame;
        }
        Some(d)
    }

    fn info(&mut self, ieee: ExtAddr, frame: u64) -> Option<&mut DeviceInfo> {
        self.device(ieee, frame).and_then(|d| d.info.as_mut())
    }

    /// Records that `ieee` uses `short` (seen at time `t`).
    fn bind(&mut self, pan: Option<PanId>, short: ShortAddr, ieee: ExtAddr, t: i64, frame: u64) {
        if !valid_short(short) || !valid_ieee(ieee) {
            return;
        }
        if self.addr.len() < MAX_DEVICES * 4
            || self.addr.contains_key(&(pan.unwrap_or_default(), short))
        {
            self.addr.insert((pan.unwrap_or_default(), short), ieee);
        }
        if let Some(d) = self.device(ieee, frame) {
            d.last_short = Some((short, t));
            if let Some(i) = d.info.as_mut() {
                if !i.shorts.contains(&short) && i.shorts.len() < MAX_SHORTS {
                    i.shorts.push(short);
                }
                if short == ShortAddr::COORDINATOR {
                    i.trust_center = true;
                }
            }
        }
    }

    fn lookup(&self, pan: Option<PanId>, short: ShortAddr) -> Option<ExtAddr> {
        self.addr.get(&(pan.unwrap_or_default(), short)).copied()
    }

    fn short_of(&self, ieee: Option<ExtAddr>) -> Option<ShortAddr> {
        let d = self.devices.get(&ieee?)?;
        d.last_short.map(|(s, _)| s)
    }

    #[allow(clippy::too_many_arguments)]
    fn report_finding(
        &mut self,
        severity: Severity,
        kind: &'static str,
        ieee: Option<ExtAddr>,
        extra: u64,
        frame: u64,
        explanation: impl FnOnce() -> String,
    ) -> &mut Finding {
        let fk = FindingKey { kind, ieee, extra };
        let short = self.short_of(ieee);
        if !self.findings.contains_key(&fk) {
            self.finding_order.push(fk);
            self.findings.insert(
                fk,
                Finding {
                    severity,
                    kind,
                    ieee,
                    short,
                    frames: Vec::new(),
                    count: 0,
                    explanation: explanation(),
                    key: None,
                    key_seq: None,
                    via: None,
                },
            );
        }
        let f = self.findings.get_mut(&fk).expect("inserted");
        f.count += 1;
        if f.short.is_none() {
            f.short = short;
        }
        if f.frames.len() < MAX_FRAMES_PER_FINDING && !f.frames.contains(&frame) {
            f.frames.push(frame);
        }
        f
    }

    /// Feeds one capture record. `time_us` is the capture time in microseconds (any epoch);
    /// `fcs_ok` false means the frame is corrupt: counted, nothing above the MAC is trusted.
    pub fn feed(&mut self, frame: u64, time_us: i64, psdu: &[u8], fcs_ok: bool) {
        self.stats.frames += 1;
        if !fcs_ok {
            self.stats.bad_fcs += 1;
            return;
        }
        let d = self.dissector.dissect(frame, psdu);
        if d.mac.is_none() || d.error.is_some() && d.nwk.is_none() {
            self.stats.undecodable += 1;
        }
        // Retransmission filter: same bytes (MAC sequence number aside) within the window.
        let h = fnv(psdu, 2);
        let retransmission = d.nwk.is_some()
            && self
                .recent
                .get(&h)
                .is_some_and(|&rt| rt <= time_us && time_us - rt <= RETRANSMIT_WINDOW_US);
        if d.nwk.is_some() {
            let (old_h, old_t) = self.ring[self.ring_pos];
            if self.recent.get(&old_h) == Some(&old_t) {
                self.recent.remove(&old_h);
            }
            self.ring[self.ring_pos] = (h, time_us);
            self.recent.insert(h, time_us);
            self.ring_pos = (self.ring_pos + 1) % RETRANSMIT_RING;
        }
        if retransmission {
            self.stats.retransmissions += 1;
        }
        self.process(frame, time_us, &d, retransmission);
    }

    fn process(&mut self, frame: u64, t: i64, d: &Dissection, retx: bool) {
        let Some(mac) = d.mac else { return };
        let pan = mac.dst_pan.or(mac.src_pan);
        let mac_src_ext = match mac.src_addr {
            Address::Extended(e) => Some(e),
            _ => None,
        };
        let mac_src_short = match mac.src_addr {
            Address::Short(s) => Some(s),
            _ => None,
        };
        if let (Some(MacCommand::AssociationResponse { short_addr, .. }), Address::Extended(dst)) =
            (&d.mac_command, mac.dst_addr)
        {
            self.bind(pan, *short_addr, dst, t, frame);
        }
        let Some(nwk) = &d.nwk else { return };
        if let Some(e) = nwk.src_ieee {
            self.bind(pan, nwk.src, e, t, frame);
        }
        if let (Some(s), Some(e)) = (mac_src_short, mac_src_ext) {
            self.bind(pan, s, e, t, frame);
        }
        if let Some(e) = nwk.dst_ieee {
            if !matches!(d.nwk_command, Some(NwkCommand::RejoinResponse { .. })) {
                self.bind(pan, nwk.dst, e, t, frame);
            }
        }
        let originator = nwk.src_ieee.or_else(|| self.lookup(pan, nwk.src));

        // Transport-Key readability: which keys opened the layers around it.
        let mut public = true;
        let mut via: Option<&'static str> = None;
        let mut private_via: Option<&'static str> = None;
        let mut aps_well_known = false;

        // NWK security.
        if let Some(sec) = &d.nwk_security {
            self.stats.nwk_secured += 1;
            if let Some(seq) = sec.aux.key_seq {
                self.seqs[seq as usize].frames += 1;
                if sec.decrypted() {
                    self.seqs[seq as usize].decrypted += 1;
                }
            }
            // The hop transmitter secured it: the aux source, or the MAC source's IEEE.
            let tx = sec
                .aux
                .source
                .or(mac_src_ext)
                .or_else(|| mac_src_short.and_then(|s| self.lookup(pan, s)));
            if let (Some(s), Some(e)) = (mac_src_short, sec.aux.source) {
                self.bind(pan, s, e, t, frame);
            }
            // "Speaking under the current key": by key sequence number, so it works whether
            // or not the audit holds the key (a rejoin request itself is no evidence).
            if nwk.src == ShortAddr::COORDINATOR && sec.aux.key_seq.is_some() {
                self.current_seq = sec.aux.key_seq;
            }
            if let (Some(x), Some(seq)) = (tx, sec.aux.key_seq) {
                // A secured rejoin request, or a NWK command we cannot read that may be one: a
                // rejoin request is a one-hop unicast (radius 1, to the parent), so broadcasts
                // (link status, route requests) and multi-hop commands (route records) are not.
                let rejoin = matches!(d.nwk_command, Some(NwkCommand::RejoinRequest { .. }))
                    || nwk.frame_type == zigtrust_wire::nwk::NwkFrameType::Command
                        && !sec.decrypted()
                        && nwk.radius == 1
                        && !nwk.dst.is_broadcast();
                if let Some(dev) = self.device(x, frame) {
                    dev.last_secured = Some((t, seq, rejoin));
                }
            }
            let kref = match &sec.result {
                Decryption::Ok { key, source } => {
                    self.stats.nwk_decrypted += 1;
                    let i = self.intern(key, *source, Some("network"));
                    self.key_used(i, frame, true);
                    if i != usize::MAX {
                        if !self.keys[i].public {
                            public = false;
                            private_via.get_or_insert(source_name(*source));
                        } else if via.is_none() && *source != KeySource::WellKnown {
                            via = Some("leaked-network-key");
                        }
                    }
                    if let Some(inf) = tx.and_then(|x| self.info(x, frame)) {
                        inf.secured_frames += 1;
                    }
                    KeyRef::Known(i)
                }
                Decryption::Failed => {
                    self.mic_failure(tx, frame, "NWK");
                    KeyRef::Unverified(sec.aux.key_seq.unwrap_or(0))
                }
            };
            if let Some(tx) = tx {
                if !retx {
                    self.counter(
                        Layer::Nwk,
                        tx,
                        ExtAddr::ZERO,
                        kref,
                        t,
                        sec.aux.frame_counter,
                        frame,
                    );
                }
            }
        }

        // NWK commands: rejoins.
        if let Some(NwkCommand::RejoinRequest { .. }) = &d.nwk_command {
            if d.nwk_security.is_none() && !retx {
                let who = nwk.src_ieee.or(mac_src_ext).or(originator);
                if let Some(x) = who {
                    self.unsecured_rejoin(x, nwk.src, pan, t, frame);
                }
            }
        }
        if let Some(NwkCommand::RejoinResponse { short_addr, .. }) = &d.nwk_command {
            if let Some(e) = nwk.dst_ieee {
                self.bind(pan, *short_addr, e, t, frame);
            }
        }

        // APS layers: the frame's, then a tunnelled one.
        let mut layers: Vec<&ApsLayer> = Vec::with_capacity(2);
        if let Some(a) = &d.aps {
            layers.push(a);
        }
        if let Some(tl) = &d.tunnel {
            layers.push(tl);
        }
        let mut replayed_aps = false;
        let rx_of = [
            nwk.dst_ieee.or_else(|| self.lookup(pan, nwk.dst)),
            match d.aps.as_ref().and_then(|a| a.command.as_ref()) {
                Some(ApsCommand::Tunnel { dst, .. }) => Some(*dst),
                _ => None,
            },
        ];
        for (li, a) in layers.iter().enumerate() {
            let Some(sec) = &a.security else { continue };
            self.stats.aps_secured += 1;
            // APS transmitter: the aux source (extended nonce), else the NWK originator.
            let tx = sec.aux.source.or(if li == 0 { originator } else { None });
            let kref = match &sec.result {
                Decryption::Ok { key, source } => {
                    self.stats.aps_decrypted += 1;
                    let role = if sec.aux.key_id == zigtrust_wire::security::KeyId::Network {
                        "network"
                    } else {
                        "link"
                    };
                    let i = self.intern(key, *source, Some(role));
                    self.key_used(i, frame, false);
                    if i != usize::MAX {
                        if !self.keys[i].public {
                            public = false;
                            private_via.get_or_insert(source_name(*source));
                        } else if *source == KeySource::WellKnown {
                            aps_well_known = true;
                            via = Some("well-known");
                        } else if via != Some("well-known") {
                            via = Some(if role == "network" {
                                "leaked-network-key"
                            } else {
                                "leaked-link-key"
                            });
                        }
                    }
                    KeyRef::Known(i)
                }
                Decryption::Failed => {
                    self.mic_failure(tx, frame, "APS");
                    KeyRef::Unverified(sec.aux.key_seq.unwrap_or(0xff))
                }
            };
            if let Some(tx) = tx {
                // Link-key counters are per pair of devices (the TC keeps one per device even
                // under the shared well-known key), so the receiver is part of the identity.
                let rx = match kref {
                    KeyRef::Known(i)
                        if self.keys.get(i).is_some_and(|k| k.info.role == "network") =>
                    {
                        ExtAddr::ZERO
                    }
                    _ => rx_of[li].unwrap_or(ExtAddr::ZERO),
                };
                if !retx && self.counter(Layer::Aps, tx, rx, kref, t, sec.aux.frame_counter, frame)
                {
                    replayed_aps = true;
                }
            }
        }
        let _ = replayed_aps;

        // APS commands and ZDO.
        for a in &layers {
            if let Some(ZdoMessage::DeviceAnnce(an)) = &a.zdo {
                self.bind(pan, an.nwk_addr, an.ieee, t, frame);
            }
            let Some(cmd) = &a.command else { continue };
            match cmd {
                ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, .. } => {
                    if let Some(o) = originator {
                        if let Some(i) = self.info(o, frame) {
                            i.tclk.request_key = true;
                        }
                    }
                }
                ApsCommand::VerifyKey { src, .. } => {
                    let who = if valid_ieee(*src) { Some(*src) } else { originator };
                    if let Some(i) = who.and_then(|w| self.info(w, frame)) {
                        i.tclk.verify_key = true;
                    }
                }
                ApsCommand::ConfirmKey { dst, .. } => {
                    if let Some(i) = self.info(*dst, frame) {
                        i.tclk.confirm_key = true;
                    }
                }
                ApsCommand::TransportKey(tk) => {
                    if let TransportKeyBody::TrustCenter { dst, .. } = &tk.body {
                        if let Some(i) = self.info(*dst, frame) {
                            i.tclk.transport_key = true;
                        }
                    }
                }
                _ => {}
            }
        }

        // Keys this frame revealed.
        if d.learned_keys.is_empty() {
            return;
        }
        let via = if public { via.unwrap_or("unsecured") } else { private_via.unwrap_or("given") };
        // The network Transport-Keys (with seq and destination) in this frame's APS layers.
        let mut net_tks: Vec<(Key, u8, ExtAddr)> = Vec::new();
        for a in &layers {
            if let Some(ApsCommand::TransportKey(tk)) = &a.command {
                if let TransportKeyBody::Network { seq, dst, .. } = tk.body {
                    net_tks.push((tk.key.clone(), seq, dst));
                }
            }
        }
        for (kt, key) in &d.learned_keys {
            let role = if is_network_key(*kt) { "network" } else { "link" };
            let i = self.intern(key, KeySource::Transported { frame }, Some(role));
            if i == usize::MAX {
                continue;
            }
            let newly_public = public && !self.keys[i].public;
            {
                let e = &mut self.keys[i];
                e.info.transported_in.get_or_insert(frame);
                if public {
                    e.public = true;
                    e.info.leaked = true;
                }
            }
            let _ = newly_public;
            if !is_network_key(*kt) {
                // A unique link key an outsider can read is no secret: every key later sent
                // under it is readable too (the audit follows that on its own).
                if public && !retx {
                    let dst = layers.iter().find_map(|a| match &a.command {
                        Some(ApsCommand::TransportKey(tk)) if tk.key == *key => match tk.body {
                            TransportKeyBody::TrustCenter { dst, .. } => Some(dst),
                            _ => None,
                        },
                        _ => None,
                    });
                    let hex = self.keys[i].info.key.clone();
                    let f = self.report_finding(
                        Severity::High,
                        kind::LINK_KEY_LEAKED,
                        dst.filter(|d| valid_ieee(*d)),
                        i as u64,
                        frame,
                        || {
                            format!(
                                "link key {hex} sent in a Transport-Key an outsider can read ({via}): \
                                 it is no secret; re-pair the device with its install code"
                            )
                        },
                    );
                    f.key = Some(hex);
                    f.via.get_or_insert(via);
                }
                continue;
            }
            let tk = net_tks.iter().find(|(k, _, _)| k == key);
            let seq = tk.map(|t| t.1);
            let dst = tk.map(|t| t.2).filter(|d| valid_ieee(*d));
            if self.keys[i].info.seq.is_none() {
                self.keys[i].info.seq = seq;
            }
            let hex = self.keys[i].info.key.clone();
            let severity = if public { Severity::Critical } else { Severity::High };
            let explanation = || {
                if public {
                    format!(
                        "network key {hex} (seq {}) sent in a Transport-Key an outsider can read ({via})",
                        seq.map_or("?".into(), |s| s.to_string())
                    )
                } else {
                    format!(
                        "network key {hex} (seq {}) sent in a Transport-Key readable with a key supplied to the audit ({via})",
                        seq.map_or("?".into(), |s| s.to_string())
                    )
                }
            };
            let f = self.report_finding(
                severity,
                kind::NETWORK_KEY_LEAKED,
                None,
                (i as u64) << 1 | u64::from(public),
                frame,
                explanation,
            );
            f.key = Some(hex.clone());
            f.key_seq = f.key_seq.or(seq);
            f.via.get_or_insert(via);

            // Per device: legacy join or answered insecure rejoin (once per transmission).
            let Some(x) = dst else { continue };
            if retx {
                continue;
            }
            let recent_rejoin = self
                .devices
                .get(&x)
                .and_then(|dv| dv.last_unsecured_rejoin)
                .filter(|(rt, _)| t - rt <= REJOIN_ANSWER_WINDOW_US && t >= *rt);
            if let Some(inf) = self.info(x, frame) {
                inf.network_key_received.get_or_insert(frame);
            }
            if public && recent_rejoin.is_some() {
                let rf = recent_rejoin.map(|r| r.1).unwrap_or(frame);
                let f = self.report_finding(
                    Severity::Critical,
                    kind::INSECURE_REJOIN_KEY,
                    Some(x),
                    0,
                    rf,
                    || {
                        format!(
                            "unsecured (Trust Center) rejoin answered with the network key under a public key ({via})"
                        )
                    },
                );
                if f.frames.len() < MAX_FRAMES_PER_FINDING && !f.frames.contains(&frame) {
                    f.frames.push(frame);
                }
            } else if aps_well_known && recent_rejoin.is_none() {
                if let Some(inf) = self.info(x, frame) {
                    inf.joined_with_well_known_key = true;
                }
                self.report_finding(Severity::High, kind::LEGACY_JOIN, Some(x), 0, frame, || {
                    "joined with the well-known TC link key (ZigBeeAlliance09): the network key went out under a public key".into()
                });
            }
        }
    }

    fn key_used(&mut self, i: usize, frame: u64, nwk: bool) {
        let Some(e) = self.keys.get_mut(i) else { return };
        if nwk {
            e.info.nwk_frames_decrypted += 1;
        } else {
            e.info.aps_frames_decrypted += 1;
        }
        e.info.first_decrypted.get_or_insert(frame);
    }

    fn mic_failure(&mut self, tx: Option<ExtAddr>, frame: u64, layer: &'static str) {
        if let Some(i) = tx.and_then(|x| self.info(x, frame)) {
            i.mic_failures += 1;
        }
        let known = tx.filter(|x| self.devices.contains_key(x));
        self.report_finding(Severity::Low, kind::MIC_FAILURE, known, 0, frame, || {
            format!("secured frames ({layer} first) no known key verified: an unknown key, or tampering")
        });
        if known.is_none() {
            self.unknown_mic_failures.0 += 1;
            if self.unknown_mic_failures.1.len() < MAX_FRAMES_PER_FINDING {
                self.unknown_mic_failures.1.push(frame);
            }
        }
    }

    /// Checks a frame counter; true if it was an exact replay.
    #[allow(clippy::too_many_arguments)]
    fn counter(
        &mut self,
        layer: Layer,
        tx: ExtAddr,
        rx: ExtAddr,
        k: KeyRef,
        t: i64,
        fc: u32,
        frame: u64,
    ) -> bool {
        let key = (layer, tx, rx, k);
        let verdict = match self.counters.get_mut(&key) {
            Some(s) => s.check(t, fc),
            None => {
                if self.counters.len() < MAX_COUNTER_STATES {
                    self.counters.insert(key, CounterState::new(fc, t));
                }
                CounterVerdict::New
            }
        };
        let lname = match layer {
            Layer::Nwk => "NWK",
            Layer::Aps => "APS",
        };
        match verdict {
            CounterVerdict::New => false,
            CounterVerdict::Replay => {
                // Both layers of one replayed frame count once (frames list is deduplicated).
                let f = self.report_finding(Severity::High, kind::REPLAY, Some(tx), 0, frame, || {
                    "frames re-sent with a transmitter + key + frame counter already seen (replay)"
                        .into()
                });
                if layer == Layer::Aps && f.frames.last() == Some(&frame) && f.count > 1 {
                    f.count -= 1;
                }
                let _ = lname;
                true
            }
            CounterVerdict::Regression => {
                self.report_finding(
                    Severity::Medium,
                    kind::COUNTER_REGRESSION,
                    Some(tx),
                    0,
                    frame,
                    || {
                        format!(
                            "{lname} frame counter went below the highest seen from this transmitter under the same key (not an exact replay of a counter within the last {COUNTER_WINDOW})"
                        )
                    },
                );
                false
            }
        }
    }

    fn unsecured_rejoin(
        &mut self,
        x: ExtAddr,
        short: ShortAddr,
        pan: Option<PanId>,
        t: i64,
        frame: u64,
    ) {
        let current = self.current_seq;
        let Some(dev) = self.device(x, frame) else { return };
        if let Some(i) = dev.info.as_mut() {
            i.unsecured_rejoins += 1;
        }
        let moved = dev
            .last_short
            .filter(|(s, st)| *s != short && valid_short(short) && t - st <= SPOOF_WINDOW_US)
            .map(|(s, _)| s);
        let speaking = dev.last_secured.filter(|(st, k, was_rejoin)| {
            t - st <= SPOOF_WINDOW_US && Some(*k) == current && !was_rejoin
        });
        dev.last_unsecured_rejoin = Some((t, frame));
        let why = if let Some(old) = moved {
            Some(format!(
                "unsecured rejoin request from short {short}, but the device was at {old} shortly before (< {} min)",
                SPOOF_WINDOW_US / 60_000_000
            ))
        } else if speaking.is_some() {
            Some(format!(
                "unsecured rejoin request from a device that was speaking under the current network key {} s before, without a secured rejoin attempt",
                (t - speaking.map_or(t, |s| s.0)) / 1_000_000
            ))
        } else {
            None
        };
        if let Some(why) = why {
            self.report_finding(Severity::High, kind::SPOOFED_REJOIN, Some(x), 0, frame, || why);
        }
        self.bind(pan, short, x, t, frame);
    }

    /// The findings and inventory so far (the auditor can keep going).
    pub fn report(&self) -> Report {
        let mut findings: Vec<Finding> =
            self.finding_order.iter().map(|k| self.findings[k].clone()).collect();
        // Devices that never updated their TCLK.
        let mut devices: Vec<DeviceInfo> =
            self.devices.values().filter_map(|d| d.info.clone()).collect();
        devices.sort_by_key(|d| (d.first_frame, d.ieee));
        for d in &devices {
            if d.trust_center || d.tclk.any() {
                continue;
            }
            if d.network_key_received.is_none() && d.secured_frames == 0 {
                continue;
            }
            let first = d.network_key_received.unwrap_or(d.first_frame);
            findings.push(Finding {
                severity: Severity::Low,
                kind: kind::TCLK_NOT_UPDATED,
                ieee: Some(d.ieee),
                short: d.shorts.last().copied(),
                frames: vec![first],
                count: 1,
                explanation: if d.joined_with_well_known_key {
                    "joined with the well-known key and never updated its TC link key (no Request-Key/Transport-Key/Verify-Key/Confirm-Key seen)".into()
                } else {
                    "active, but no TC link key update (Request-Key/Transport-Key/Verify-Key/Confirm-Key) seen in the capture".into()
                },
                key: None,
                key_seq: None,
                via: None,
            });
        }
        for f in &mut findings {
            if let Some(i) = f.ieee {
                if f.short.is_none() {
                    f.short = self.short_of(Some(i));
                }
            }
            if f.kind == kind::MIC_FAILURE {
                f.explanation = format!(
                    "{} secured layer(s) no known key verified: an unknown key (give it with --key) or tampering",
                    f.count
                );
            }
            if f.kind == kind::SPOOFED_REJOIN {
                f.explanation = format!(
                    "{} suspected spoofed rejoin(s) (unsecured rejoin requests in this device's name); first: {}",
                    f.count, f.explanation
                );
            }
            if f.kind == kind::REPLAY {
                f.explanation = format!(
                    "{} frame(s) re-sent with a transmitter + key + frame counter already seen (replay)",
                    f.count
                );
            }
            if f.kind == kind::COUNTER_REGRESSION {
                f.explanation = format!(
                    "{} frame(s) with a frame counter below the highest seen from this transmitter under the same key, not an exact replay",
                    f.count
                );
            }
        }
        findings.sort_by(|a, b| {
            b.severity.cmp(&a.severity).then(a.frames.first().cmp(&b.frames.first()))
        });
        let keys = self.keys.iter().map(|k| k.info.clone()).collect();
        let key_seqs = self
            .seqs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.frames > 0)
            .map(|(i, s)| (i as u8, *s))
            .collect();
        Report { findings, devices, keys, key_seqs, stats: self.stats }
    }
}

#[cfg(test)]
mod tests;
