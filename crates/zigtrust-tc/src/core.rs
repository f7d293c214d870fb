//! The Trust Center state machine. See the crate docs for the rules it implements.

use crate::model::*;
use crate::rng::KeyRng;
use std::collections::{BTreeMap, HashMap, VecDeque};
use zigtrust_crypto::{verify_key_hash, CcmStar, Key};
use zigtrust_wire::aps::{
    ApsCommand, ApsFrameType, ApsHeader, KeyType, TransportKey, UpdateDeviceStatus,
};
use zigtrust_wire::mac::{Address, AssociationStatus, MacBody, MacCommand, MacFrame, MacHeader};
use zigtrust_wire::nwk::{NwkCommand, NwkFrameType, NwkHeader};
use zigtrust_wire::security::{
    aps_command_frame, open, secure_nwk, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL,
};
use zigtrust_wire::{CapabilityInfo, ExtAddr, PanId, ShortAddr};

/// Outgoing counters are leased this far ahead; a restart skips the unused rest of a lease.
pub const COUNTER_LEASE: u32 = 4096;
/// A device that sent a frame under the current key this recently cannot need a well-known-key
/// rejoin: such a rejoin is a suspected spoof.
pub const SPOOF_WINDOW_MS: Millis = 10 * 60 * 1000;
/// Trust Center rejoins accepted per device per [`RATE_WINDOW_MS`].
pub const REJOINS_PER_DEVICE: usize = 3;
/// Trust Center rejoins accepted network-wide per [`RATE_WINDOW_MS`].
pub const REJOINS_GLOBAL: usize = 30;
pub const RATE_WINDOW_MS: Millis = 60 * 1000;
/// A stale-key device is rescued at most once per this interval.
pub const RESCUE_INTERVAL_MS: Millis = 30 * 1000;
/// Longest permit-join window the core accepts (the Zigbee maximum, 254 s, is what devices see).
pub const MAX_PERMIT_JOIN_MS: Millis = 254 * 1000;

/// Metadata the radio reports with a received frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RxMeta {
    pub rssi: Option<f32>,
    pub lqi: Option<u8>,
}

/// A frame for the radio to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// MAC frame without FCS.
    pub psdu: Vec<u8>,
    /// Hold for the destination's next data request (sleepy child / association response).
    pub indirect: bool,
    /// What this is, for logs and tests (e.g. "transport-key").
    pub what: &'static str,
}

/// How a network key was protected when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyProtection {
    /// APS key-transport key of the device's install-code key.
    InstallCodeKey,
    /// APS key-transport key of the device's unique, verified TC link key.
    UniqueTclk,
    /// APS key-transport key of ZigBeeAlliance09: readable by anyone listening.
    WellKnownKey,
    /// NWK security under a network key the device already proved it holds.
    NetworkKey { seq: u8 },
}

/// Why a join or rejoin was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    NetworkNotFormed,
    PermitJoinClosed,
    /// The open window is for another device.
    NotThisDevice,
    InstallCodeRequired,
    DenyListed,
    NotAllowListed,
    Tombstoned,
    /// `insecure-rejoin = deny`.
    PolicyDeny,
    RateLimited,
    SuspectedSpoof,
    UnknownDevice,
    /// Adaptive: the device did not miss a key change and no user window is open.
    NoReasonToTrust,
}

/// What happened, for the shell to show or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    DeviceJoined { ieee: ExtAddr, short: ShortAddr, method: JoinMethod, parent: ShortAddr },
    JoinDenied { ieee: ExtAddr, reason: DenyReason },
    DeviceRejoined { ieee: ExtAddr, short: ShortAddr, secured: bool },
    KeyDelivered { ieee: ExtAddr, key_seq: u8, protection: KeyProtection },
    TclkVerified { ieee: ExtAddr },
    RejoinDenied { ieee: ExtAddr, reason: DenyReason },
    SuspectedSpoof { ieee: ExtAddr },
    StaleKeyRescue { ieee: ExtAddr, from_seq: u8, to_seq: u8 },
    KeySwitched { seq: u8, stragglers: Vec<ExtAddr> },
    ReplayDropped { ieee: ExtAddr, counter: u32, last: u32 },
    PermitJoinClosed,
    DeviceRemoved { ieee: ExtAddr },
}

/// Commands from the hub's user or API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// Create the network: random network key, the given PAN parameters.
    FormNetwork {
        pan_id: PanId,
        extended_pan_id: u64,
        channel: u8,
    },
    /// Open joining for `duration_ms` (capped at 254 s), optionally for one device only;
    /// 0 closes it.
    PermitJoin {
        duration_ms: Millis,
        ieee: Option<ExtAddr>,
    },
    AddInstallCode {
        ieee: ExtAddr,
        link_key: Key,
    },
    RemoveInstallCode {
        ieee: ExtAddr,
    },
    SetPolicy(Policy),
    /// Make the device leave and tombstone it: it may not come back until re-admitted.
    RemoveDevice {
        ieee: ExtAddr,
    },
    /// Lift a tombstone.
    ReadmitDevice {
        ieee: ExtAddr,
    },
    /// Start a key rotation; the switch happens when every device acknowledged the new key
    /// or at `deadline_ms` from now, whichever is first.
    RotateNetworkKey {
        deadline_ms: Millis,
    },
    /// Accept well-known-key rejoins from known devices for a while (e.g. after restoring a
    /// backup onto a new coordinator).
    OpenRejoinWindow {
        duration_ms: Millis,
    },
}

/// Why an admin command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    NetworkNotFormed,
    AlreadyFormed,
    UnknownDevice(ExtAddr),
    RotationInProgress,
    InvalidChannel(u8),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::NetworkNotFormed => write!(f, "the network has not been formed"),
            AdminError::AlreadyFormed => write!(f, "the network is already formed"),
            AdminError::UnknownDevice(i) => write!(f, "unknown device {i}"),
            AdminError::RotationInProgress => write!(f, "a key rotation is already in progress"),
            AdminError::InvalidChannel(c) => {
                write!(f, "channel {c} is not a 2.4 GHz channel (11-26)")
            }
        }
    }
}

impl std::error::Error for AdminError {}

struct Counter {
    next: u32,
    leased: u32,
}

struct PermitWindow {
    until: Millis,
    ieee: Option<ExtAddr>,
    legacy_joined: bool,
}

struct Rotation {
    seq: u8,
    deadline: Millis,
    /// Devices that have not acknowledged the new key, by the APS counter of their Transport-Key.
    pending: HashMap<ExtAddr, u8>,
}

/// Volatile per-device state (not persisted: it only tunes alerts and rate limits).
#[derive(Default)]
struct Volatile {
    /// Last time a frame from the device verified under the current key.
    current_key_at: Option<Millis>,
    rejoins: VecDeque<Millis>,
    last_rescue: Option<Millis>,
}

/// The Trust Center. Feed it frames, time and admin commands; take transmits, events and store
/// writes. Apply each batch of [`TrustCenter::take_store_writes`] before sending the frames of
/// the same step: counter leases must be durable before a counter is used on air.
pub struct TrustCenter {
    now: Millis,
    network: Option<NetworkConfig>,
    keys: BTreeMap<u8, NetworkKeyRecord>,
    active_seq: u8,
    devices: HashMap<ExtAddr, DeviceRecord>,
    by_short: HashMap<ShortAddr, ExtAddr>,
    volatile: HashMap<ExtAddr, Volatile>,
    install_codes: HashMap<ExtAddr, Key>,
    policy: Policy,
    permit: Option<PermitWindow>,
    rejoin_window_until: Option<Millis>,
    nwk_fc: Counter,
    aps_fc: Counter,
    mac_seq: u8,
    nwk_seq: u8,
    aps_ctr: u8,
    rng: KeyRng,
    pending_tclk: HashMap<ExtAddr, Key>,
    rotation: Option<Rotation>,
    global_rejoins: VecDeque<Millis>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    writes: Vec<StoreWrite>,
}

impl TrustCenter {
    /// Restores a Trust Center from durable state. `seed` must be fresh OS entropy in
    /// production; tests pass a constant for reproducible runs.
    pub fn new(snapshot: Snapshot, seed: [u8; 32], now: Millis) -> TrustCenter {
        let lease = |k| {
            snapshot.counter_leases.iter().filter(|(kind, _)| *kind == k).map(|(_, v)| *v).max()
        };
        let keys: BTreeMap<u8, NetworkKeyRecord> =
            snapshot.network_keys.into_iter().map(|k| (k.seq, k)).collect();
        let mut tc = TrustCenter {
            now,
            network: snapshot.network,
            active_seq: snapshot.active_key_seq.unwrap_or(0),
            keys,
            devices: HashMap::new(),
            by_short: HashMap::new(),
            volatile: HashMap::new(),
            install_codes: snapshot.install_codes.into_iter().collect(),
            policy: snapshot.policy.unwrap_or_default(),
            permit: None,
            rejoin_window_until: None,
            // Continue after the leased range: counters handed out before a crash are never
            // reused, whatever was actually sent.
            nwk_fc: Counter {
                next: lease(CounterKind::Nwk).unwrap_or(0),
                leased: lease(CounterKind::Nwk).unwrap_or(0),
            },
            aps_fc: Counter {
                next: lease(CounterKind::Aps).unwrap_or(0),
                leased: lease(CounterKind::Aps).unwrap_or(0),
            },
            mac_seq: 0,
            nwk_seq: 0,
            aps_ctr: 0,
            rng: KeyRng::new(seed),
            pending_tclk: HashMap::new(),
            rotation: None,
            global_rejoins: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            writes: Vec::new(),
        };
        for d in snapshot.devices {
            tc.by_short.insert(d.short_addr, d.ieee);
            tc.devices.insert(d.ieee, d);
        }
        let r = tc.rng.u64();
        tc.mac_seq = r as u8;
        tc.nwk_seq = (r >> 8) as u8;
        tc.aps_ctr = (r >> 16) as u8;
        tc
    }

    // ---- outputs -------------------------------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Durable writes produced since the last call, in order. Persist them (atomically) before
    /// transmitting the frames produced in the same step.
    pub fn take_store_writes(&mut self) -> Vec<StoreWrite> {
        std::mem::take(&mut self.writes)
    }

    /// When [`TrustCenter::handle_timeout`] next needs to run.
    pub fn next_timeout(&self) -> Option<Millis> {
        [
            self.permit.as_ref().map(|p| p.until),
            self.rejoin_window_until,
            self.rotation.as_ref().map(|r| r.deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- read access ----------------------------------------------------------------------

    pub fn network(&self) -> Option<&NetworkConfig> {
        self.network.as_ref()
    }
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    pub fn device(&self, ieee: ExtAddr) -> Option<&DeviceRecord> {
        self.devices.get(&ieee)
    }
    pub fn devices(&self) -> impl Iterator<Item = &DeviceRecord> {
        self.devices.values()
    }
    pub fn active_key_seq(&self) -> u8 {
        self.active_seq
    }
    pub fn network_key(&self, seq: u8) -> Option<&NetworkKeyRecord> {
        self.keys.get(&seq)
    }
    /// Milliseconds left in the permit-join window, if one is open.
    pub fn permit_join_remaining(&self) -> Option<Millis> {
        self.permit.as_ref().map(|p| p.until.saturating_sub(self.now))
    }
    /// Time left in a user-opened rejoin window (well-known-key rejoins accepted), if open.
    pub fn rejoin_window_remaining(&self) -> Option<Millis> {
        self.rejoin_window_until.filter(|u| *u > self.now).map(|u| u - self.now)
    }
    /// The key rotation in progress: new key sequence number and devices yet to confirm.
    pub fn rotation_pending(&self) -> Option<(u8, Vec<ExtAddr>)> {
        self.rotation.as_ref().map(|r| (r.seq, r.pending.keys().copied().collect()))
    }

    // ---- time and admin -------------------------------------------------------------------

    fn advance(&mut self, now: Millis) {
        // The core's clock never goes backwards: a shell feeding an older time cannot reopen
        // or extend a window.
        self.now = self.now.max(now);
    }

    /// Runs timers: closes permit-join and rejoin windows, switches keys at a deadline.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.advance(now);
        if let Some(p) = &self.permit {
            if self.now >= p.until {
                let legacy = p.legacy_joined;
                self.permit = None;
                self.events.push_back(Event::PermitJoinClosed);
                self.audit(
                    Severity::Info,
                    "permit-join-closed",
                    None,
                    "permit-join window closed".into(),
                );
                if legacy && self.policy.rotate_after_legacy_window && self.rotation.is_none() {
                    let _ = self.start_rotation(60_000);
                }
            }
        }
        if self.rejoin_window_until.is_some_and(|u| self.now >= u) {
            self.rejoin_window_until = None;
        }
        if self.rotation.as_ref().is_some_and(|r| self.now >= r.deadline) {
            self.switch_key();
        }
    }

    pub fn command(&mut self, now: Millis, cmd: AdminCommand) -> Result<(), AdminError> {
        self.advance(now);
        self.handle_timeout(self.now);
        match cmd {
            AdminCommand::FormNetwork { pan_id, extended_pan_id, channel } => {
                if self.network.is_some() {
                    return Err(AdminError::AlreadyFormed);
                }
                if !(11..=26).contains(&channel) {
                    return Err(AdminError::InvalidChannel(channel));
                }
                let tc_ieee = ExtAddr(0x00_0d6f_0000_0000 | (self.rng.u64() & 0xffff_ffff));
                let cfg =
                    NetworkConfig { pan_id, extended_pan_id, channel, tc_ieee, nwk_update_id: 0 };
                self.writes.push(StoreWrite::Network(cfg.clone()));
                self.network = Some(cfg);
                let key = NetworkKeyRecord {
                    seq: 0,
                    key: self.rng.key(),
                    exposed: false,
                    created_at: self.now,
                };
                self.writes.push(StoreWrite::NetworkKey(key.clone()));
                self.writes.push(StoreWrite::ActiveKeySeq(0));
                self.writes.push(StoreWrite::Policy(self.policy.clone()));
                self.keys.insert(0, key);
                self.active_seq = 0;
                self.audit(
                    Severity::Info,
                    "network-formed",
                    None,
                    format!("PAN {pan_id}, channel {channel}"),
                );
            }
            AdminCommand::PermitJoin { duration_ms, ieee } => {
                self.require_network()?;
                if duration_ms == 0 {
                    if let Some(p) = &mut self.permit {
                        p.until = self.now;
                        self.handle_timeout(self.now);
                    }
                } else {
                    let until = self.now + duration_ms.min(MAX_PERMIT_JOIN_MS);
                    let legacy_joined = self.permit.as_ref().is_some_and(|p| p.legacy_joined);
                    self.permit = Some(PermitWindow { until, ieee, legacy_joined });
                    let who = ieee.map(|i| format!(" for {i}")).unwrap_or_default();
                    self.audit(
                        Severity::Info,
                        "permit-join-opened",
                        ieee,
                        format!(
                            "permit join for {} s{who}",
                            duration_ms.min(MAX_PERMIT_JOIN_MS) / 1000
                        ),
                    );
                }
            }
            AdminCommand::AddInstallCode { ieee, link_key } => {
                self.writes.push(StoreWrite::InstallCode { ieee, key: link_key.clone() });
                self.install_codes.insert(ieee, link_key);
                self.audit(
                    Severity::Info,
                    "install-code-added",
                    Some(ieee),
                    "install code added".into(),
                );
            }
            AdminCommand::RemoveInstallCode { ieee } => {
                self.install_codes.remove(&ieee);
                self.writes.push(StoreWrite::RemoveInstallCode(ieee));
            }
            AdminCommand::SetPolicy(p) => {
                self.writes.push(StoreWrite::Policy(p.clone()));
                self.audit(
                    Severity::Info,
                    "policy-changed",
                    None,
                    format!("{:?} / insecure rejoin {:?}", p.legacy_join, p.insecure_rejoin),
                );
                self.policy = p;
            }
            AdminCommand::RemoveDevice { ieee } => {
                self.require_network()?;
                let d = self.devices.get_mut(&ieee).ok_or(AdminError::UnknownDevice(ieee))?;
                d.tombstoned = true;
                let (short, parent) = (d.short_addr, d.parent);
                let rec = d.clone();
                self.writes.push(StoreWrite::Device(rec));
                // Ask the device to leave (NWK-secured, no rejoin).
                let mut h = self.nwk_header(NwkFrameType::Command, short);
                h.dst_ieee = Some(ieee);
                let mut p = Vec::new();
                NwkCommand::Leave { options: zigtrust_wire::nwk::LeaveOptions(0x40) }.emit(&mut p);
                self.send_nwk_secured(h, &p, self.active_seq, next_hop(short, parent), "leave");
                self.events.push_back(Event::DeviceRemoved { ieee });
                self.audit(
                    Severity::Warning,
                    "device-removed",
                    Some(ieee),
                    "removed and tombstoned".into(),
                );
            }
            AdminCommand::ReadmitDevice { ieee } => {
                let d = self.devices.get_mut(&ieee).ok_or(AdminError::UnknownDevice(ieee))?;
                d.tombstoned = false;
                let rec = d.clone();
                self.writes.push(StoreWrite::Device(rec));
                self.audit(
                    Severity::Info,
                    "device-readmitted",
                    Some(ieee),
                    "tombstone lifted".into(),
                );
            }
            AdminCommand::RotateNetworkKey { deadline_ms } => {
                self.require_network()?;
                if self.rotation.is_some() {
                    return Err(AdminError::RotationInProgress);
                }
                self.start_rotation(deadline_ms)?;
            }
            AdminCommand::OpenRejoinWindow { duration_ms } => {
                self.rejoin_window_until = Some(self.now + duration_ms);
                self.audit(
                    Severity::Warning,
                    "rejoin-window-opened",
                    None,
                    format!("well-known-key rejoins accepted for {} s", duration_ms / 1000),
                );
            }
        }
        Ok(())
    }

    fn require_network(&self) -> Result<&NetworkConfig, AdminError> {
        self.network.as_ref().ok_or(AdminError::NetworkNotFormed)
    }

    fn audit(&mut self, severity: Severity, kind: &str, ieee: Option<ExtAddr>, detail: String) {
        self.writes.push(StoreWrite::Audit(AuditEntry {
            time: self.now,
            severity,
            kind: kind.into(),
            ieee,
            detail,
        }));
    }

    // ---- outgoing frames ------------------------------------------------------------------

    fn next_counter(&mut self, kind: CounterKind) -> u32 {
        let c = match kind {
            CounterKind::Nwk => &mut self.nwk_fc,
            CounterKind::Aps => &mut self.aps_fc,
        };
        if c.next >= c.leased {
            c.leased = c.next.saturating_add(COUNTER_LEASE);
            let until = c.leased;
            self.writes.push(StoreWrite::CounterLease { kind, until });
        }
        let v = c.next;
        c.next += 1;
        v
    }

    fn cfg(&self) -> (PanId, ExtAddr) {
        let n = self.network.as_ref().expect("frames are only built on a formed network");
        (n.pan_id, n.tc_ieee)
    }

    fn nwk_header(&mut self, ft: NwkFrameType, dst: ShortAddr) -> NwkHeader {
        self.nwk_seq = self.nwk_seq.wrapping_add(1);
        let mut h = NwkHeader::new(ft, dst, ShortAddr::COORDINATOR, 30, self.nwk_seq);
        h.src_ieee = Some(self.cfg().1);
        h
    }

    fn mac_data(&mut self, next_hop: ShortAddr, nwk: &[u8]) -> Vec<u8> {
        self.mac_seq = self.mac_seq.wrapping_add(1);
        let hdr = MacHeader::data(
            self.mac_seq,
            self.cfg().0,
            Address::Short(next_hop),
            Address::Short(ShortAddr::COORDINATOR),
            !next_hop.is_broadcast(),
        );
        let mut out = Vec::with_capacity(nwk.len() + 9);
        MacFrame { header: hdr, body: MacBody::Data(nwk) }.emit(&mut out);
        out
    }

    fn transmit(&mut self, next_hop: ShortAddr, nwk: &[u8], what: &'static str) {
        let psdu = self.mac_data(next_hop, nwk);
        let indirect = self
            .by_short
            .get(&next_hop)
            .and_then(|i| self.devices.get(i))
            .is_some_and(|d| d.capability & CapabilityInfo::RX_ON_WHEN_IDLE == 0);
        self.transmits.push_back(Transmit { psdu, indirect, what });
    }

    fn send_nwk_secured(
        &mut self,
        h: NwkHeader,
        payload: &[u8],
        key_seq: u8,
        next_hop: ShortAddr,
        what: &'static str,
    ) {
        let Some(key) = self.keys.get(&key_seq).map(|k| k.key.clone()) else { return };
        let fc = self.next_counter(CounterKind::Nwk);
        let aux = AuxHeader::nwk(fc, self.cfg().1, key_seq);
        if let Ok(nwk) = secure_nwk(&h, &aux, payload, &key, ZIGBEE_PRO_LEVEL) {
            self.transmit(next_hop, &nwk, what);
        }
    }

    fn send_nwk_plain(
        &mut self,
        h: NwkHeader,
        payload: &[u8],
        next_hop: ShortAddr,
        what: &'static str,
    ) {
        let mut nwk = Vec::with_capacity(h.buffer_len() + payload.len());
        h.emit(&mut nwk);
        nwk.extend_from_slice(payload);
        self.transmit(next_hop, &nwk, what);
    }

    fn next_aps_ctr(&mut self) -> u8 {
        self.aps_ctr = self.aps_ctr.wrapping_add(1);
        self.aps_ctr
    }

    /// An APS command frame, APS-secured with `key_id` derived from `link_key` (None: the
    /// well-known key), or unsecured when `key_id` is None.
    fn aps_command(
        &mut self,
        cmd: &ApsCommand,
        key_id: Option<KeyId>,
        link_key: Option<&Key>,
        ack: bool,
    ) -> (Vec<u8>, u8) {
        let ctr = self.next_aps_ctr();
        let mut hdr = ApsHeader::command(ctr, key_id.is_some());
        hdr.ack_request = ack;
        let tc = self.cfg().1;
        let out = match key_id {
            None => aps_command_frame(&hdr, cmd, None, ZIGBEE_PRO_LEVEL, None),
            Some(key_id) => {
                let base = link_key.cloned().unwrap_or_else(Key::well_known_tc_link_key);
                let aux = AuxHeader::aps(key_id, self.next_counter(CounterKind::Aps), Some(tc));
                aps_command_frame(&hdr, cmd, Some((&aux, &base)), ZIGBEE_PRO_LEVEL, Some(tc))
            }
        }
        .unwrap_or_default();
        (out, ctr)
    }

    /// The device's current link key and how it protects a key sent under it.
    fn link_key_of(&self, ieee: ExtAddr) -> (Option<Key>, KeyProtection) {
        match self.devices.get(&ieee) {
            Some(d) if d.tclk.is_some() => {
                let p = if d.tclk_verified {
                    KeyProtection::UniqueTclk
                } else {
                    KeyProtection::InstallCodeKey
                };
                (d.tclk.clone(), p)
            }
            _ => match self.install_codes.get(&ieee) {
                Some(k) => (Some(k.clone()), KeyProtection::InstallCodeKey),
                None => (None, KeyProtection::WellKnownKey),
            },
        }
    }

    fn transport_network_key_aps(
        &mut self,
        ieee: ExtAddr,
        link: Option<&Key>,
        ack: bool,
    ) -> (Vec<u8>, u8) {
        let key = self.active_key();
        let tc = self.cfg().1;
        let tk = ApsCommand::TransportKey(TransportKey::network(key, self.active_seq, ieee, tc));
        self.aps_command(&tk, Some(KeyId::KeyTransport), link, ack)
    }

    fn mark_exposed(&mut self, seq: u8, why: &str, ieee: ExtAddr) {
        if let Some(k) = self.keys.get_mut(&seq) {
            if !k.exposed {
                k.exposed = true;
                let rec = k.clone();
                self.writes.push(StoreWrite::NetworkKey(rec));
            }
        }
        self.audit(
            Severity::Alert,
            "network-key-exposed",
            Some(ieee),
            format!("network key {seq} sent under the well-known key ({why})"),
        );
    }

    /// Sends an application APS frame (ZCL/ZDO data, an APS ack) from the hub to a device,
    /// NWK-secured under the active key with the core's own leased frame counter: the hub
    /// application and the Trust Center share one NWK counter, so neighbours never see it go
    /// backwards. Returns false if the network is not formed or the device is unknown.
    pub fn send_application(&mut self, now: Millis, dst: ExtAddr, aps_frame: &[u8]) -> bool {
        self.advance(now);
        if self.network.is_none() {
            return false;
        }
        let Some(d) = self.devices.get(&dst) else { return false };
        let (short, parent) = (d.short_addr, d.parent);
        let mut h = self.nwk_header(NwkFrameType::Data, short);
        h.dst_ieee = Some(dst);
        self.send_nwk_secured(
            h,
            aps_frame,
            self.active_seq,
            next_hop(short, parent),
            "application",
        );
        true
    }

    // ---- incoming frames ------------------------------------------------------------------

    /// Handles one received MAC frame (without FCS). Malformed frames are ignored: the core
    /// never panics on input.
    pub fn handle_frame(&mut self, now: Millis, psdu: &[u8], _meta: RxMeta) {
        self.advance(now);
        self.handle_timeout(self.now);
        let Some((pan, tc_ieee)) = self.network.as_ref().map(|n| (n.pan_id, n.tc_ieee)) else {
            return;
        };
        let Ok(mac) = MacFrame::parse(psdu) else { return };
        let for_us = match mac.header.dst_addr {
            Address::Short(s) => s == ShortAddr::COORDINATOR || s.is_broadcast(),
            Address::Extended(e) => e == tc_ieee,
            Address::Absent => false,
        };
        if !for_us || mac.header.dst_pan.is_some_and(|p| p != pan && p != PanId::BROADCAST) {
            return;
        }
        match mac.body {
            MacBody::Command(MacCommand::AssociationRequest { capability }) => {
                if let Address::Extended(ieee) = mac.header.src_addr {
                    self.association(ieee, capability);
                }
            }
            MacBody::Data(nwk) if !nwk.is_empty() => {
                let mac_src = mac.header.src_addr;
                self.nwk_frame(nwk, mac_src);
            }
            _ => {}
        }
    }

    fn admission(&self, ieee: ExtAddr) -> Result<(Option<Key>, KeyProtection), DenyReason> {
        if self.devices.get(&ieee).is_some_and(|d| d.tombstoned) {
            return Err(DenyReason::Tombstoned);
        }
        if self.policy.deny_list.contains(&ieee) {
            return Err(DenyReason::DenyListed);
        }
        if !self.policy.allow_list.is_empty() && !self.policy.allow_list.contains(&ieee) {
            return Err(DenyReason::NotAllowListed);
        }
        let Some(p) = &self.permit else { return Err(DenyReason::PermitJoinClosed) };
        if p.ieee.is_some_and(|only| only != ieee) {
            return Err(DenyReason::NotThisDevice);
        }
        if let Some(k) = self.install_codes.get(&ieee) {
            return Ok((Some(k.clone()), KeyProtection::InstallCodeKey));
        }
        match self.policy.legacy_join {
            LegacyJoinPolicy::AllowedWhilePermitJoin => Ok((None, KeyProtection::WellKnownKey)),
            LegacyJoinPolicy::InstallCodeRequired => Err(DenyReason::InstallCodeRequired),
        }
    }

    fn deny_join(&mut self, ieee: ExtAddr, reason: DenyReason) {
        self.events.push_back(Event::JoinDenied { ieee, reason });
        self.audit(Severity::Warning, "join-denied", Some(ieee), format!("{reason:?}"));
    }

    fn allocate_short(&mut self) -> ShortAddr {
        loop {
            let s = ShortAddr(1 + (self.rng.u64() % 0xfff6) as u16);
            if !self.by_short.contains_key(&s) {
                return s;
            }
        }
    }

    fn admit_device(
        &mut self,
        ieee: ExtAddr,
        short: ShortAddr,
        capability: u8,
        parent: ShortAddr,
        link: &Option<Key>,
        protection: KeyProtection,
    ) {
        let method = if protection == KeyProtection::InstallCodeKey {
            JoinMethod::InstallCode
        } else {
            JoinMethod::WellKnownKey
        };
        if let Some(old) = self.devices.get(&ieee) {
            self.by_short.remove(&old.short_addr);
        }
        let rec = DeviceRecord {
            ieee,
            short_addr: short,
            capability,
            join_method: method,
            parent,
            tclk: link.clone(),
            tclk_verified: false,
            // It is given the active key now; frames and acks move this forward later.
            last_key_seq: Some(self.active_seq),
            last_seen: self.now,
            incoming_nwk_counter: None,
            incoming_aps_counter: None,
            tombstoned: false,
        };
        self.by_short.insert(short, ieee);
        self.writes.push(StoreWrite::Device(rec.clone()));
        self.devices.insert(ieee, rec);
        self.volatile.remove(&ieee);
        if protection == KeyProtection::WellKnownKey {
            if let Some(p) = &mut self.permit {
                p.legacy_joined = true;
            }
            self.mark_exposed(self.active_seq, "legacy join inside a permit-join window", ieee);
        }
        self.events.push_back(Event::DeviceJoined { ieee, short, method, parent });
        self.events.push_back(Event::KeyDelivered { ieee, key_seq: self.active_seq, protection });
        self.audit(
            Severity::Info,
            "device-joined",
            Some(ieee),
            format!("joined as {short} via {parent} ({method:?})"),
        );
    }

    fn association(&mut self, ieee: ExtAddr, capability: CapabilityInfo) {
        let (pan, tc) = self.cfg();
        let (status, short, grant) = match self.admission(ieee) {
            Ok(g) => {
                let short = match self.devices.get(&ieee) {
                    Some(d) if self.by_short.get(&d.short_addr).is_none_or(|i| *i == ieee) => {
                        d.short_addr
                    }
                    _ => self.allocate_short(),
                };
                (AssociationStatus::Success, short, Some(g))
            }
            Err(r) => {
                self.deny_join(ieee, r);
                (AssociationStatus::PanAccessDenied, ShortAddr(0xffff), None)
            }
        };
        self.mac_seq = self.mac_seq.wrapping_add(1);
        let mut resp = Vec::new();
        MacFrame::association_response(self.mac_seq, pan, ieee, tc, short, status).emit(&mut resp);
        self.transmits.push_back(Transmit {
            psdu: resp,
            indirect: true,
            what: "association-response",
        });
        let Some((link, protection)) = grant else { return };
        self.admit_device(ieee, short, capability.0, ShortAddr::COORDINATOR, &link, protection);
        // First key delivery: NWK unsecured (the joiner has no network key yet).
        let (aps, _) = self.transport_network_key_aps(ieee, link.as_ref(), false);
        let mut h = self.nwk_header(NwkFrameType::Data, short);
        h.src_ieee = None;
        self.send_nwk_plain(h, &aps, short, "transport-key");
        self.include_in_rotation(ieee);
    }

    fn nwk_frame(&mut self, nwk: &[u8], mac_src: Address) {
        let Ok((h, hlen)) = NwkHeader::parse(nwk) else { return };
        if !(h.dst == ShortAddr::COORDINATOR || h.dst.is_broadcast()) {
            return;
        }
        if !h.security {
            if h.frame_type == NwkFrameType::Command {
                if let Ok(NwkCommand::RejoinRequest { capability }) =
                    NwkCommand::parse(&nwk[hlen..])
                {
                    self.unsecured_rejoin(&h, capability, mac_src);
                }
            }
            return;
        }
        let Ok((aux, _)) = AuxHeader::parse(&nwk[hlen..]) else { return };
        let (Some(seq), Some(sender)) = (aux.key_seq, aux.source) else { return };
        let Some(key) = self.keys.get(&seq).map(|k| k.key.clone()) else { return };
        let Ok(opened) = open(&CcmStar::new(&key), ZIGBEE_PRO_LEVEL, nwk, hlen, None) else {
            return;
        };
        // Replay protection per transmitting device, for the key it is using now.
        let originator = h.src_ieee.or_else(|| self.by_short.get(&h.src).copied());
        if let Some(d) = self.devices.get(&sender) {
            if d.last_key_seq == Some(seq) {
                if let Some(last) = d.incoming_nwk_counter {
                    if aux.frame_counter <= last {
                        self.events.push_back(Event::ReplayDropped {
                            ieee: sender,
                            counter: aux.frame_counter,
                            last,
                        });
                        self.audit(
                            Severity::Warning,
                            "replay-dropped",
                            Some(sender),
                            format!("NWK frame counter {} <= {last}", aux.frame_counter),
                        );
                        return;
                    }
                }
            }
        }
        let stale = seq != self.active_seq && self.rotation.as_ref().is_none_or(|r| r.seq != seq);
        if stale && self.policy.insecure_rejoin != InsecureRejoinPolicy::Adaptive {
            // Today's stacks keep only the current key: a frame under an old one is noise.
            return;
        }
        self.note_seen(sender, seq, aux.frame_counter);
        if let Some(o) = originator.filter(|o| *o != sender) {
            self.note_alive(o);
        }
        if stale {
            self.rescue(sender, seq);
        }
        let payload = opened.plaintext;
        match h.frame_type {
            NwkFrameType::Command => {
                if let Ok(NwkCommand::RejoinRequest { capability }) = NwkCommand::parse(&payload) {
                    self.secured_rejoin(&h, sender, seq, capability);
                }
            }
            NwkFrameType::Data => self.aps_frame(&h, &payload, originator, seq),
            _ => {}
        }
    }

    /// Records that `ieee` sent a frame that verified under key `seq` with counter `fc`.
    fn note_seen(&mut self, ieee: ExtAddr, seq: u8, fc: u32) {
        let now = self.now;
        let active = self.active_seq;
        let Some(d) = self.devices.get_mut(&ieee) else { return };
        if d.last_key_seq != Some(seq) && d.last_key_seq.is_none_or(|old| is_newer(seq, old)) {
            d.last_key_seq = Some(seq);
            d.incoming_nwk_counter = None;
        }
        if d.last_key_seq == Some(seq) {
            d.incoming_nwk_counter = Some(fc);
        }
        d.last_seen = now;
        let rec = d.clone();
        self.writes.push(StoreWrite::Device(rec));
        if seq == active {
            self.volatile.entry(ieee).or_default().current_key_at = Some(now);
        }
    }

    /// A frame that a router relayed for `ieee` verified: the device is alive. Only liveness:
    /// security is hop by hop, so the key the relayed frame used is the router's, not the
    /// originator's, and says nothing about which keys the originator holds.
    fn note_alive(&mut self, ieee: ExtAddr) {
        let now = self.now;
        let Some(d) = self.devices.get_mut(&ieee) else { return };
        if d.last_seen == now {
            return;
        }
        d.last_seen = now;
        let rec = d.clone();
        self.writes.push(StoreWrite::Device(rec));
    }

    /// Adaptive: a known device spoke under an old key. Send it the current key NWK-secured
    /// under that old key (plus APS security under its link key when that key is not public),
    /// then a Switch-Key, unless the old key was exposed.
    fn rescue(&mut self, ieee: ExtAddr, old_seq: u8) {
        let now = self.now;
        let Some(d) = self.devices.get(&ieee) else { return };
        if d.tombstoned || !self.may_send_under(old_seq) {
            return;
        }
        let v = self.volatile.entry(ieee).or_default();
        if v.last_rescue.is_some_and(|t| now.saturating_sub(t) < RESCUE_INTERVAL_MS) {
            return;
        }
        v.last_rescue = Some(now);
        self.deliver_under_proven_key(ieee, old_seq);
    }

    /// The active network key. A store guarantees it exists; a broken snapshot yields an
    /// all-zero key rather than a panic (frames under it are useless, never dangerous).
    fn active_key(&self) -> Key {
        self.keys.get(&self.active_seq).map(|k| k.key.clone()).unwrap_or(Key::from_bytes([0; 16]))
    }

    /// Whether the current key may be sent NWK-secured under key `seq`: only if that tells a
    /// sniffer nothing new (the old key was never exposed, or the current one already is).
    fn may_send_under(&self, seq: u8) -> bool {
        let current_exposed = self.keys.get(&self.active_seq).is_some_and(|k| k.exposed);
        self.keys.get(&seq).is_some_and(|k| !k.exposed || current_exposed)
    }

    fn deliver_under_proven_key(&mut self, ieee: ExtAddr, proven_seq: u8) {
        let Some(d) = self.devices.get(&ieee) else { return };
        let (short, parent) = (d.short_addr, d.parent);
        let (link, protection) = self.link_key_of(ieee);
        let aps_key = (protection != KeyProtection::WellKnownKey).then_some(link).flatten();
        let key = self.active_key();
        let tc = self.cfg().1;
        let tk = ApsCommand::TransportKey(TransportKey::network(key, self.active_seq, ieee, tc));
        let (aps, _) = match &aps_key {
            Some(k) => self.aps_command(&tk, Some(KeyId::KeyTransport), Some(k), false),
            None => self.aps_command(&tk, None, None, false),
        };
        let mut h = self.nwk_header(NwkFrameType::Data, short);
        h.dst_ieee = Some(ieee);
        let hop = next_hop(short, parent);
        self.send_nwk_secured(h, &aps, proven_seq, hop, "transport-key");
        let (sw, _) =
            self.aps_command(&ApsCommand::SwitchKey { seq: self.active_seq }, None, None, false);
        let h = self.nwk_header(NwkFrameType::Data, short);
        self.send_nwk_secured(h, &sw, proven_seq, hop, "switch-key");
        let to_seq = self.active_seq;
        if proven_seq != to_seq {
            self.events.push_back(Event::StaleKeyRescue { ieee, from_seq: proven_seq, to_seq });
        }
        self.events.push_back(Event::KeyDelivered {
            ieee,
            key_seq: to_seq,
            protection: KeyProtection::NetworkKey { seq: proven_seq },
        });
        self.audit(
            Severity::Info,
            "key-delivered",
            Some(ieee),
            format!("network key {to_seq} under network key {proven_seq}"),
        );
    }

    fn secured_rejoin(
        &mut self,
        h: &NwkHeader,
        sender: ExtAddr,
        seq: u8,
        capability: CapabilityInfo,
    ) {
        let ieee = h.src_ieee.unwrap_or(sender);
        let Some(d) = self.devices.get(&ieee) else { return };
        if d.tombstoned {
            self.reject_rejoin(ieee, h.src, DenyReason::Tombstoned, Some(seq));
            return;
        }
        let short = d.short_addr;
        let mut rec = d.clone();
        rec.capability = capability.0;
        rec.parent = ShortAddr::COORDINATOR;
        self.writes.push(StoreWrite::Device(rec.clone()));
        self.devices.insert(ieee, rec);
        let mut rh = self.nwk_header(NwkFrameType::Command, h.src);
        rh.dst_ieee = Some(ieee);
        let mut p = Vec::new();
        NwkCommand::RejoinResponse { short_addr: short, status: 0 }.emit(&mut p);
        self.send_nwk_secured(rh, &p, seq, h.src, "rejoin-response");
        self.events.push_back(Event::DeviceRejoined { ieee, short, secured: true });
        self.audit(
            Severity::Info,
            "device-rejoined",
            Some(ieee),
            format!("secured rejoin under key {seq}"),
        );
    }

    fn reject_rejoin(
        &mut self,
        ieee: ExtAddr,
        short: ShortAddr,
        reason: DenyReason,
        secured_seq: Option<u8>,
    ) {
        self.events.push_back(Event::RejoinDenied { ieee, reason });
        self.audit(Severity::Warning, "rejoin-denied", Some(ieee), format!("{reason:?}"));
        if reason == DenyReason::SuspectedSpoof
            && self.policy.spoof_response == SpoofResponse::Ignore
        {
            return;
        }
        let mut rh = self.nwk_header(NwkFrameType::Command, short);
        rh.dst_ieee = Some(ieee);
        let mut p = Vec::new();
        NwkCommand::RejoinResponse {
            short_addr: ShortAddr(0xffff),
            status: AssociationStatus::PanAccessDenied.to_u8(),
        }
        .emit(&mut p);
        match secured_seq {
            Some(seq) => self.send_nwk_secured(rh, &p, seq, short, "rejoin-response"),
            None => {
                rh.src_ieee = Some(self.cfg().1);
                self.send_nwk_plain(rh, &p, short, "rejoin-response");
            }
        }
    }

    /// Rate limits for Trust Center rejoins; true if this one may proceed.
    fn rate_ok(&mut self, ieee: ExtAddr) -> bool {
        let now = self.now;
        let trim = |q: &mut VecDeque<Millis>| {
            while q.front().is_some_and(|t| now.saturating_sub(*t) >= RATE_WINDOW_MS) {
                q.pop_front();
            }
        };
        trim(&mut self.global_rejoins);
        let v = self.volatile.entry(ieee).or_default();
        trim(&mut v.rejoins);
        if v.rejoins.len() >= REJOINS_PER_DEVICE || self.global_rejoins.len() >= REJOINS_GLOBAL {
            return false;
        }
        v.rejoins.push_back(now);
        self.global_rejoins.push_back(now);
        true
    }

    /// A Trust Center (unsecured) rejoin, directly to the coordinator or reported by a router
    /// (`via`) in an Update-Device.
    fn unsecured_rejoin(&mut self, h: &NwkHeader, capability: CapabilityInfo, mac_src: Address) {
        let Some(ieee) = h.src_ieee else { return };
        let short = match mac_src {
            Address::Short(s) => s,
            _ => h.src,
        };
        match self.trust_center_rejoin(ieee, short, capability.0, ShortAddr::COORDINATOR) {
            Ok(grant) => {
                let mut rh = self.nwk_header(NwkFrameType::Command, short);
                rh.dst_ieee = Some(ieee);
                let mut p = Vec::new();
                let new_short = self.devices[&ieee].short_addr;
                NwkCommand::RejoinResponse { short_addr: new_short, status: 0 }.emit(&mut p);
                self.send_nwk_plain(rh, &p, short, "rejoin-response");
                self.send_rejoin_key(ieee, grant, None);
                self.include_in_rotation(ieee);
            }
            Err(reason) => self.reject_rejoin(ieee, short, reason, None),
        }
    }

    /// Decides a Trust Center rejoin; on success the device record is updated and the grant
    /// says how to send the key.
    fn trust_center_rejoin(
        &mut self,
        ieee: ExtAddr,
        short: ShortAddr,
        capability: u8,
        parent: ShortAddr,
    ) -> Result<Grant, DenyReason> {
        let Some(d) = self.devices.get(&ieee) else {
            // Unknown device: this is a join, subject to the join rules.
            let (link, protection) = self.admission(ieee)?;
            let short = if self.by_short.contains_key(&short) || short.is_broadcast() {
                self.allocate_short()
            } else {
                short
            };
            self.admit_device(ieee, short, capability, parent, &link, protection);
            return Ok(Grant::LinkKey(link));
        };
        if d.tombstoned {
            return Err(DenyReason::Tombstoned);
        }
        if !self.rate_ok(ieee) {
            return Err(DenyReason::RateLimited);
        }
        let (link, protection) = self.link_key_of(ieee);
        let spoke_recently = self
            .volatile
            .get(&ieee)
            .and_then(|v| v.current_key_at)
            .is_some_and(|t| self.now.saturating_sub(t) < SPOOF_WINDOW_MS);
        let proven = self.devices[&ieee].last_key_seq.filter(|s| self.may_send_under(*s));
        let grant = if protection != KeyProtection::WellKnownKey {
            // A unique or install-code key never travels in public: always allowed.
            Grant::LinkKey(link)
        } else {
            match self.policy.insecure_rejoin {
                InsecureRejoinPolicy::Allow => Grant::LinkKey(None),
                InsecureRejoinPolicy::Deny => {
                    // Detection does not depend on the answer: a strict hub is still told
                    // that someone is impersonating a live device.
                    if spoke_recently {
                        self.events.push_back(Event::SuspectedSpoof { ieee });
                        self.audit(Severity::Alert, "suspected-spoof", Some(ieee), "well-known-key rejoin from a device that spoke under the current key moments ago (denied by policy)".into());
                    }
                    return Err(DenyReason::PolicyDeny);
                }
                InsecureRejoinPolicy::Adaptive => {
                    if spoke_recently {
                        self.events.push_back(Event::SuspectedSpoof { ieee });
                        self.audit(Severity::Alert, "suspected-spoof", Some(ieee), "well-known-key rejoin from a device that spoke under the current key moments ago".into());
                        // Never the well-known key. The genuine device (e.g. one whose parent
                        // or hub just went away) can read the key under one it holds; a spoofer
                        // cannot, so answering that way strands nobody and leaks nothing.
                        match proven {
                            Some(seq) => Grant::UnderNetworkKey(seq),
                            None => return Err(DenyReason::SuspectedSpoof),
                        }
                    } else if let Some(seq) = proven {
                        Grant::UnderNetworkKey(seq)
                    } else if self.rejoin_window_until.is_some_and(|u| self.now < u) {
                        Grant::LinkKey(None)
                    } else {
                        return Err(DenyReason::NoReasonToTrust);
                    }
                }
            }
        };
        let mut rec = self.devices[&ieee].clone();
        if rec.short_addr != short
            && !short.is_broadcast()
            && self.by_short.get(&short).is_none_or(|i| *i == ieee)
        {
            self.by_short.remove(&rec.short_addr);
            rec.short_addr = short;
            self.by_short.insert(short, ieee);
        }
        rec.capability = capability;
        rec.parent = parent;
        rec.last_seen = self.now;
        self.writes.push(StoreWrite::Device(rec.clone()));
        self.devices.insert(ieee, rec);
        Ok(grant)
    }

    /// Sends the network key after an accepted TC rejoin, directly or tunnelled via `router`.
    fn send_rejoin_key(
        &mut self,
        ieee: ExtAddr,
        grant: Grant,
        router: Option<(ExtAddr, ShortAddr)>,
    ) {
        let short = self.devices[&ieee].short_addr;
        match grant {
            Grant::UnderNetworkKey(seq) => self.deliver_under_proven_key(ieee, seq),
            Grant::LinkKey(link) => {
                let protection = match &link {
                    None => KeyProtection::WellKnownKey,
                    Some(_) => self.link_key_of(ieee).1,
                };
                if protection == KeyProtection::WellKnownKey {
                    self.mark_exposed(self.active_seq, "well-known-key rejoin", ieee);
                }
                let (aps, _) = self.transport_network_key_aps(ieee, link.as_ref(), false);
                match router {
                    None => {
                        let mut h = self.nwk_header(NwkFrameType::Data, short);
                        h.src_ieee = None;
                        self.send_nwk_plain(h, &aps, short, "transport-key");
                    }
                    Some((r_ieee, r_short)) => self.tunnel(r_ieee, r_short, ieee, aps),
                }
                self.events.push_back(Event::KeyDelivered {
                    ieee,
                    key_seq: self.active_seq,
                    protection,
                });
                self.events.push_back(Event::DeviceRejoined { ieee, short, secured: false });
                self.audit(
                    Severity::Info,
                    "device-rejoined",
                    Some(ieee),
                    format!("trust center rejoin, key under {protection:?}"),
                );
            }
        }
    }

    /// Tunnels an APS frame for `dst` to its parent router.
    fn tunnel(&mut self, r_ieee: ExtAddr, r_short: ShortAddr, dst: ExtAddr, inner: Vec<u8>) {
        let (rk, rprot) = self.link_key_of(r_ieee);
        let rk = (rprot != KeyProtection::WellKnownKey).then_some(rk).flatten();
        let (aps, _) = self.aps_command(
            &ApsCommand::Tunnel { dst, frame: inner },
            Some(KeyId::Data),
            rk.as_ref(),
            false,
        );
        let h = self.nwk_header(NwkFrameType::Data, r_short);
        self.send_nwk_secured(h, &aps, self.active_seq, r_short, "tunnel");
    }

    /// An NWK-secured data frame's APS layer.
    fn aps_frame(&mut self, nh: &NwkHeader, aps: &[u8], originator: Option<ExtAddr>, seq: u8) {
        let Ok((ah, hlen)) = ApsHeader::parse(aps) else { return };
        if ah.frame_type == ApsFrameType::Ack {
            if let (Some(r), Some(ieee)) = (&mut self.rotation, originator) {
                if r.pending.get(&ieee) == Some(&ah.counter) {
                    r.pending.remove(&ieee);
                    let seq = r.seq;
                    if let Some(d) = self.devices.get_mut(&ieee) {
                        // The device acknowledged the new key: it holds it.
                        d.last_key_seq = Some(seq);
                        d.incoming_nwk_counter = None;
                        let rec = d.clone();
                        self.writes.push(StoreWrite::Device(rec));
                    }
                    if r.pending.is_empty() {
                        self.switch_key();
                    }
                }
            }
            return;
        }
        if ah.frame_type != ApsFrameType::Command {
            return;
        }
        let Some(ieee) = originator else { return };
        let cmd = if ah.security {
            let Ok((aux, _)) = AuxHeader::parse(&aps[hlen..]) else { return };
            let src = aux.source.unwrap_or(ieee);
            let base = match self
                .devices
                .get(&src)
                .and_then(|d| d.tclk.clone())
                .or_else(|| self.install_codes.get(&src).cloned())
            {
                Some(k) => k,
                None => Key::well_known_tc_link_key(),
            };
            let cipher = CcmStar::new(&aux.key_id.derive(&base));
            let Ok(o) = open(&cipher, ZIGBEE_PRO_LEVEL, aps, hlen, Some(src)) else { return };
            // APS replay protection: per device, across link keys (APS counters never reset).
            if let Some(d) = self.devices.get_mut(&src) {
                if let Some(last) = d.incoming_aps_counter.filter(|l| aux.frame_counter <= *l) {
                    let counter = aux.frame_counter;
                    self.events.push_back(Event::ReplayDropped { ieee: src, counter, last });
                    self.audit(
                        Severity::Warning,
                        "replay-dropped",
                        Some(src),
                        format!("APS frame counter {counter} <= {last}"),
                    );
                    return;
                }
                d.incoming_aps_counter = Some(aux.frame_counter);
                let rec = d.clone();
                self.writes.push(StoreWrite::Device(rec));
            }
            match ApsCommand::parse(&o.plaintext) {
                Ok(c) => c,
                Err(_) => return,
            }
        } else {
            match ApsCommand::parse(&aps[hlen..]) {
                Ok(c) => c,
                Err(_) => return,
            }
        };
        let secured = ah.security;
        match cmd {
            ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, .. } if secured => {
                self.request_tclk(ieee, nh.src, seq)
            }
            ApsCommand::VerifyKey { key_type: KeyType::TrustCenterLinkKey, src, hash }
                if src == ieee =>
            {
                self.verify_key(ieee, nh.src, hash, seq)
            }
            ApsCommand::UpdateDevice { device, short_addr, status, .. } if secured => {
                self.update_device(ieee, nh.src, device, short_addr, status)
            }
            _ => {}
        }
    }

    fn request_tclk(&mut self, ieee: ExtAddr, short: ShortAddr, seq: u8) {
        if self.devices.get(&ieee).is_none_or(|d| d.tombstoned) {
            return;
        }
        let new = self.rng.key();
        let (link, _) = self.link_key_of(ieee);
        let tc = self.cfg().1;
        let tk =
            ApsCommand::TransportKey(TransportKey::trust_center_link_key(new.clone(), ieee, tc));
        let (aps, _) = self.aps_command(&tk, Some(KeyId::KeyLoad), link.as_ref(), false);
        self.pending_tclk.insert(ieee, new);
        let parent = self.devices[&ieee].parent;
        let h = self.nwk_header(NwkFrameType::Data, short);
        self.send_nwk_secured(h, &aps, seq, next_hop(short, parent), "transport-key-tclk");
    }

    fn verify_key(&mut self, ieee: ExtAddr, short: ShortAddr, hash: [u8; 16], seq: u8) {
        let Some(new) = self.pending_tclk.get(&ieee) else { return };
        let status = if verify_key_hash(new) == hash { 0x00 } else { 0xad }; // 0xad: SECURITY_FAIL
        let new = new.clone();
        if status == 0 {
            self.pending_tclk.remove(&ieee);
            let Some(d) = self.devices.get_mut(&ieee) else { return };
            d.tclk = Some(new.clone());
            d.tclk_verified = true;
            // APS counters belong to a key pair: the device may start again under the new key.
            d.incoming_aps_counter = None;
            let rec = d.clone();
            self.writes.push(StoreWrite::Device(rec));
            self.events.push_back(Event::TclkVerified { ieee });
            self.audit(
                Severity::Info,
                "tclk-verified",
                Some(ieee),
                "unique trust center link key verified".into(),
            );
        }
        let ck =
            ApsCommand::ConfirmKey { status, key_type: KeyType::TrustCenterLinkKey, dst: ieee };
        let key = if status == 0 { Some(new) } else { self.link_key_of(ieee).0 };
        let (aps, _) = self.aps_command(&ck, Some(KeyId::Data), key.as_ref(), false);
        let parent = self.devices[&ieee].parent;
        let h = self.nwk_header(NwkFrameType::Data, short);
        self.send_nwk_secured(h, &aps, seq, next_hop(short, parent), "confirm-key");
    }

    /// A router reports a child that joined, rejoined or left.
    fn update_device(
        &mut self,
        router: ExtAddr,
        r_short: ShortAddr,
        device: ExtAddr,
        short: ShortAddr,
        status: UpdateDeviceStatus,
    ) {
        match status {
            UpdateDeviceStatus::UnsecuredJoin => match self.admission(device) {
                Ok((link, protection)) => {
                    let short = if self.by_short.get(&short).is_some_and(|i| *i != device) {
                        self.allocate_short()
                    } else {
                        short
                    };
                    self.admit_device(
                        device,
                        short,
                        CapabilityInfo::SLEEPY_END_DEVICE.0,
                        r_short,
                        &link,
                        protection,
                    );
                    let (aps, _) = self.transport_network_key_aps(device, link.as_ref(), false);
                    self.tunnel(router, r_short, device, aps);
                    self.include_in_rotation(device);
                }
                Err(r) => self.deny_join(device, r),
            },
            UpdateDeviceStatus::TrustCenterRejoin => {
                let cap = self
                    .devices
                    .get(&device)
                    .map(|d| d.capability)
                    .unwrap_or(CapabilityInfo::SLEEPY_END_DEVICE.0);
                match self.trust_center_rejoin(device, short, cap, r_short) {
                    Ok(grant) => {
                        self.send_rejoin_key(device, grant, Some((router, r_short)));
                        self.include_in_rotation(device);
                    }
                    Err(reason) => {
                        self.events.push_back(Event::RejoinDenied { ieee: device, reason });
                        self.audit(
                            Severity::Warning,
                            "rejoin-denied",
                            Some(device),
                            format!("{reason:?} (via {r_short})"),
                        );
                    }
                }
            }
            UpdateDeviceStatus::SecuredRejoin => {
                if let Some(d) = self.devices.get_mut(&device) {
                    d.parent = r_short;
                    d.last_seen = self.now;
                    let rec = d.clone();
                    self.writes.push(StoreWrite::Device(rec));
                    self.events.push_back(Event::DeviceRejoined {
                        ieee: device,
                        short,
                        secured: true,
                    });
                }
            }
            _ => {}
        }
    }

    // ---- key rotation ---------------------------------------------------------------------

    fn start_rotation(&mut self, deadline_ms: Millis) -> Result<(), AdminError> {
        let new_seq = self.active_seq.wrapping_add(1);
        // A key sent to a well-known-key device is protected only by the current network key.
        let current_exposed = self.keys.get(&self.active_seq).is_some_and(|k| k.exposed);
        let mut rec = NetworkKeyRecord {
            seq: new_seq,
            key: self.rng.key(),
            exposed: false,
            created_at: self.now,
        };
        let targets: Vec<ExtAddr> =
            self.devices.values().filter(|d| !d.tombstoned).map(|d| d.ieee).collect();
        if current_exposed
            && targets.iter().any(|i| self.link_key_of(*i).1 == KeyProtection::WellKnownKey)
        {
            rec.exposed = true;
        }
        self.writes.push(StoreWrite::NetworkKey(rec.clone()));
        let new_key = rec.key.clone();
        self.keys.insert(new_seq, rec);
        let mut pending = HashMap::new();
        let mut targets = targets;
        targets.sort();
        for ieee in targets {
            let ctr = self.send_rotation_key(ieee, new_seq, &new_key);
            pending.insert(ieee, ctr);
        }
        self.audit(
            Severity::Info,
            "key-rotation-started",
            None,
            format!("network key {new_seq} sent to {} devices", pending.len()),
        );
        self.rotation = Some(Rotation { seq: new_seq, deadline: self.now + deadline_ms, pending });
        if self.rotation.as_ref().is_some_and(|r| r.pending.is_empty()) {
            self.switch_key();
        }
        Ok(())
    }

    /// Sends the rotation's new key to one device (NWK under the active key, APS under its
    /// link key); returns the APS counter its acknowledgement will carry.
    fn send_rotation_key(&mut self, ieee: ExtAddr, new_seq: u8, new_key: &Key) -> u8 {
        let tc = self.cfg().1;
        let (link, protection) = self.link_key_of(ieee);
        let tk =
            ApsCommand::TransportKey(TransportKey::network(new_key.clone(), new_seq, ieee, tc));
        let (aps, ctr) = match protection {
            KeyProtection::WellKnownKey => self.aps_command(&tk, None, None, true),
            _ => self.aps_command(&tk, Some(KeyId::KeyTransport), link.as_ref(), true),
        };
        let d = &self.devices[&ieee];
        let (short, parent) = (d.short_addr, d.parent);
        let mut h = self.nwk_header(NwkFrameType::Data, short);
        h.dst_ieee = Some(ieee);
        self.send_nwk_secured(
            h,
            &aps,
            self.active_seq,
            next_hop(short, parent),
            "transport-key-rotation",
        );
        ctr
    }

    /// A device that joins or rejoins while a rotation is pending gets the new key too (after
    /// the active one), so the switch does not leave it behind.
    fn include_in_rotation(&mut self, ieee: ExtAddr) {
        let Some(seq) = self.rotation.as_ref().map(|r| r.seq) else { return };
        let Some(key) = self.keys.get(&seq).map(|k| k.key.clone()) else { return };
        let active_exposed = self.keys.get(&self.active_seq).is_some_and(|k| k.exposed);
        if active_exposed
            && self.link_key_of(ieee).1 == KeyProtection::WellKnownKey
            && !self.keys[&seq].exposed
        {
            // Sent under a public link key inside NWK security of an exposed key: public too.
            self.mark_exposed(
                seq,
                "rotation key sent to a legacy device under an exposed key",
                ieee,
            );
        }
        let ctr = self.send_rotation_key(ieee, seq, &key);
        if let Some(r) = self.rotation.as_mut() {
            r.pending.insert(ieee, ctr);
        }
    }

    fn switch_key(&mut self) {
        let Some(r) = self.rotation.take() else { return };
        let (sw, _) = self.aps_command(&ApsCommand::SwitchKey { seq: r.seq }, None, None, false);
        let h = self.nwk_header(NwkFrameType::Data, ShortAddr::RX_ON_WHEN_IDLE);
        self.send_nwk_secured(h, &sw, self.active_seq, ShortAddr::BROADCAST, "switch-key");
        self.active_seq = r.seq;
        self.writes.push(StoreWrite::ActiveKeySeq(r.seq));
        let mut stragglers: Vec<ExtAddr> = r.pending.into_keys().collect();
        stragglers.sort();
        self.audit(
            Severity::Info,
            "key-switched",
            None,
            format!("switched to network key {}; {} stragglers", r.seq, stragglers.len()),
        );
        self.events.push_back(Event::KeySwitched { seq: r.seq, stragglers });
    }
}

/// How to send the network key after an accepted Trust Center rejoin.
enum Grant {
    /// APS key-transport key of this link key (None: the well-known key).
    LinkKey(Option<Key>),
    /// NWK-secured under this network key, which the device proved it holds.
    UnderNetworkKey(u8),
}

/// MAC next hop toward a device: itself if it is the coordinator's child, else its parent.
fn next_hop(short: ShortAddr, parent: ShortAddr) -> ShortAddr {
    if parent == ShortAddr::COORDINATOR {
        short
    } else {
        parent
    }
}

/// Key sequence numbers wrap at 256: `a` is newer than `b` if it is less than half a cycle ahead.
fn is_newer(a: u8, b: u8) -> bool {
    a != b && a.wrapping_sub(b) < 128
}
