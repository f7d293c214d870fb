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

mod admin;
mod counters;
mod frames;
mod incoming;
mod joins;
mod rejoins;
mod rotation;
mod routing;
mod tclk;
mod timers;

pub use routing::{
    RouteRecordEntry, ADDRESS_CONFLICT_INTERVAL_MS, MAX_SOURCE_ROUTE_RELAYS, NWK_DEFAULT_RADIUS,
    NWK_STATUS_ADDRESS_CONFLICT, ROUTE_RECORD_TTL_MS, ROUTE_REQUEST_MEMORY_MS,
};

/// Outgoing counters are leased this far ahead; a restart skips the unused rest of a lease.
pub const COUNTER_LEASE: u32 = 4096;
/// A device that sent a frame under the current key this recently cannot need a well-known-key
/// rejoin: such a rejoin is a suspected spoof.
pub const SPOOF_WINDOW_MS: Millis = 10 * 60 * 1000;
/// Trust Center rejoins accepted per device per [`RATE_WINDOW_MS`].
pub const REJOINS_PER_DEVICE: usize = 3;
/// Trust Center rejoins accepted network-wide per [`RATE_WINDOW_MS`].
pub const REJOINS_GLOBAL: usize = 30;
/// Sliding window over which the rejoin and refusal rate limits are counted.
pub const RATE_WINDOW_MS: Millis = 60 * 1000;
/// Rejoin refusals sent network-wide per [`RATE_WINDOW_MS`] (and [`REJOINS_PER_DEVICE`] per
/// device). A refusal only tells a device to stop waiting; rejoins in made-up devices' names
/// would otherwise each get one, an acknowledged unicast to nobody, retried by the MAC, and
/// a fast enough flood would fill the coordinator's radio with them.
pub const REFUSALS_GLOBAL: usize = 30;
/// A stale-key device is rescued at most once per this interval.
pub const RESCUE_INTERVAL_MS: Millis = 30 * 1000;
/// Longest permit-join window the core accepts (the Zigbee maximum, 254 s, is what devices see).
pub const MAX_PERMIT_JOIN_MS: Millis = 254 * 1000;
/// When the outgoing NWK frame counter reaches this, the network key is rotated (frame counters
/// are per network key, so the new key starts again at 0). 2^24 frames of headroom: at the
/// 802.15.4 channel's ~250 frames/s that is over 18 hours for the rotation to finish.
pub const NWK_COUNTER_ROTATE_AT: u32 = u32::MAX - (1 << 24);
/// How long an automatic rotation (counter exhaustion, a legacy window, a removal) waits for
/// acknowledgements before switching.
pub const AUTO_ROTATION_DEADLINE_MS: Millis = 10 * 60 * 1000;
/// How long a counter-resynchronising rotation waits before switching: until the switch the
/// out-of-step device, and for a router everything it relays (its children's rejoins
/// included), is still dropped, and children give up within minutes. Devices that miss the
/// new key are stragglers the stale-key rescue brings over when they next speak.
pub const RESYNC_ROTATION_DEADLINE_MS: Millis = 60 * 1000;
/// At most one counter-resynchronising rotation per this interval, whoever asks.
pub const RESYNC_ROTATION_INTERVAL_MS: Millis = 60 * 60 * 1000;
/// Frames dropped as replays from one device (under the current key, since its last accepted
/// frame) that, together with a rejoin only the genuine device can complete, mean its counter
/// is out of step (it lost its counter, or a forged frame pushed the mark up).
pub const RESYNC_DROPS: u32 = 2;
/// How long frames follow a location a device claimed in an unauthenticated rejoin, before
/// it speaks from there (a forged claim misroutes for at most this long).
pub const CLAIM_TTL_MS: Millis = 60 * 1000;
/// The same rejoin answer (only the genuine device can read it) goes to the same place at most
/// once per this interval: spoofed rejoins cannot turn the coordinator's radio into a
/// transmitter of answers to nobody. A request inside the interval is answered when it ends
/// (never dropped), so a genuine device that asks just after a spoof was answered, and did not
/// take that answer because it was not rejoining yet, gets its own within the interval.
pub const ANSWER_INTERVAL_MS: Millis = 2 * 1000;
/// How long the Trust Center waits for the APS ack of a Transport-Key it sent to a device
/// whose receiver is always on before it sends it again (the Zigbee apsAckWaitDuration for a
/// network as deep as ours, plus the MAC's own retries).
pub const APS_ACK_WAIT_MS: Millis = 3_000;
/// The same for a sleepy device: its copy waits in its parent's indirect queue until it
/// polls (up to macTransactionPersistenceTime, 7.68 s), so a retry sooner would only queue
/// behind it.
pub const APS_ACK_WAIT_SLEEPY_MS: Millis = 10_000;
/// Copies of an acknowledged Trust Center command sent after the first (the Zigbee
/// apscMaxFrameRetries). After that the device is a straggler: the switch leaves it on the
/// old key, and the stale-key rescue brings it over when it next speaks.
pub const APS_MAX_FRAME_RETRIES: u8 = 3;
/// How many older keys' incoming counters a device record keeps.
pub const STALE_COUNTERS_KEPT: usize = 8;

/// Metadata the radio reports with a received frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RxMeta {
    /// Received signal strength in dBm, if the radio reports it.
    pub rssi: Option<f32>,
    /// 802.15.4 link quality indicator (0–255), if the radio reports it.
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
    /// APS key-transport key of a link key that itself travelled under public keys (a unique
    /// TCLK a well-known-key device obtained): as readable as the well-known key.
    ExposedLinkKey,
    /// NWK security under a network key the device already proved it holds.
    NetworkKey {
        /// Sequence number of that network key.
        seq: u8,
    },
}

impl KeyProtection {
    /// Whether a sniffer can read what was sent this way (given the network key it was
    /// NWK-secured under, for the `NetworkKey` case).
    pub fn is_public(self) -> bool {
        matches!(self, KeyProtection::WellKnownKey | KeyProtection::ExposedLinkKey)
    }
}

/// Why a join or rejoin was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// No permit-join window is open.
    PermitJoinClosed,
    /// The open window is for another device.
    NotThisDevice,
    /// No install code was added for the device and the policy is `install-code-required`.
    InstallCodeRequired,
    /// The device is on the policy's deny list.
    DenyListed,
    /// The allow list is not empty and the device is not on it.
    NotAllowListed,
    /// The user removed the device; it stays out until re-admitted.
    Tombstoned,
    /// `insecure-rejoin = deny`.
    PolicyDeny,
    /// Over the per-device or network-wide limit per [`RATE_WINDOW_MS`].
    RateLimited,
    /// Adaptive: the device spoke under the current key within [`SPOOF_WINDOW_MS`] and holds no
    /// key the answer could be sent under.
    SuspectedSpoof,
    /// Adaptive: the device did not miss a key change and no user window is open.
    NoReasonToTrust,
}

/// What happened, for the shell to show or act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A device joined and was admitted (a [`Event::KeyDelivered`] follows).
    DeviceJoined {
        /// IEEE address of the joiner.
        ieee: ExtAddr,
        /// Short address it was given.
        short: ShortAddr,
        /// How it joined (what its link key is worth).
        method: JoinMethod,
        /// Short address of its parent (0x0000: the coordinator).
        parent: ShortAddr,
    },
    /// A join (MAC association, or a router's Update-Device) was refused; no key was sent.
    JoinDenied {
        /// IEEE address of the joiner.
        ieee: ExtAddr,
        /// Why.
        reason: DenyReason,
    },
    /// A known device rejoined.
    DeviceRejoined {
        /// IEEE address of the device.
        ieee: ExtAddr,
        /// Its short address.
        short: ShortAddr,
        /// True for a NWK-secured rejoin under the current key; false for a Trust Center rejoin that
        /// was answered with the network key.
        secured: bool,
    },
    /// A network key was sent to a device.
    KeyDelivered {
        /// IEEE address of the device.
        ieee: ExtAddr,
        /// Sequence number of the key sent.
        key_seq: u8,
        /// What it travelled under; [`KeyProtection::is_public`] says whether a sniffer can read it.
        protection: KeyProtection,
    },
    /// A device proved with Verify-Key that it holds its new unique TC link key.
    TclkVerified {
        /// IEEE address of the device.
        ieee: ExtAddr,
    },
    /// A Trust Center rejoin was refused.
    RejoinDenied {
        /// IEEE address the rejoin was in the name of.
        ieee: ExtAddr,
        /// Why.
        reason: DenyReason,
    },
    /// A well-known-key rejoin in the name of a device that spoke under the current key within
    /// [`SPOOF_WINDOW_MS`]: someone is probably spoofing it.
    SuspectedSpoof {
        /// IEEE address the rejoin was in the name of.
        ieee: ExtAddr,
    },
    /// A device still on an older network key was sent the current key under that older key,
    /// plus a Switch-Key.
    StaleKeyRescue {
        /// IEEE address of the device.
        ieee: ExtAddr,
        /// Sequence number of the key it proved it holds (the key the rescue was sent under).
        from_seq: u8,
        /// Sequence number of the current key it was given.
        to_seq: u8,
    },
    /// A key rotation ended: Switch-Key was broadcast and the network uses the new key.
    KeySwitched {
        /// Sequence number of the new active key.
        seq: u8,
        /// Devices that had not acknowledged the new key (rescued when they next speak), sorted.
        stragglers: Vec<ExtAddr>,
    },
    /// A NWK or APS frame with a frame counter not above the last accepted one was dropped.
    ReplayDropped {
        /// IEEE address of the sender.
        ieee: ExtAddr,
        /// The frame counter of the dropped frame.
        counter: u32,
        /// The last counter accepted from that device (for that key, for NWK counters).
        last: u32,
    },
    /// The permit-join window closed.
    PermitJoinClosed,
    /// The user removed a device: it was sent a Leave and tombstoned.
    DeviceRemoved {
        /// IEEE address of the device.
        ieee: ExtAddr,
    },
    /// An APS security command in this device's name was not authenticated by it.
    CommandRejected {
        /// IEEE address the command was in the name of.
        ieee: ExtAddr,
        /// Why it was rejected (one human line).
        why: &'static str,
    },
    /// A TC link key update was refused: the new key would travel under public keys only.
    TclkUpdateRefused {
        /// IEEE address of the device.
        ieee: ExtAddr,
    },
    /// An authenticated route record: unicasts to the device now follow its relays.
    RouteRecorded {
        /// IEEE address of the device the record came from.
        ieee: ExtAddr,
        /// Its short address.
        short: ShortAddr,
        /// The relays, the one nearest the device first.
        relays: Vec<ShortAddr>,
    },
    /// A neighbouring router's authenticated link status.
    LinkStatusReceived {
        /// Short address of the router.
        router: ShortAddr,
        /// Its IEEE address.
        ieee: ExtAddr,
        /// The (incoming, outgoing) costs it lists for its link with the coordinator; `None`
        /// if it does not list the coordinator.
        coordinator_cost: Option<(u8, u8)>,
    },
    /// A router reported (authenticated Network Status) that a route failed: the route the
    /// coordinator held to `dst` is dropped.
    RouteFailure {
        /// Short address of the router that reported it.
        reporter: ShortAddr,
        /// The destination the route failed for.
        dst: ShortAddr,
        /// The Network Status code.
        status: u8,
    },
    /// Two devices use one short address; a Network Status "address conflict" was broadcast.
    AddressConflict {
        /// The short address.
        short: ShortAddr,
        /// The device the Trust Center knows at that address.
        known: ExtAddr,
        /// The other device an authenticated frame showed using it.
        other: ExtAddr,
    },
}

/// Commands from the hub's user or API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// Create the network: random network key, the given PAN parameters.
    FormNetwork {
        /// PAN identifier.
        pan_id: PanId,
        /// Extended PAN identifier (display order, as `ExtAddr` prints it).
        extended_pan_id: u64,
        /// 802.15.4 channel, 11–26 (else [`AdminError::InvalidChannel`]).
        channel: u8,
    },
    /// Open joining for `duration_ms` (capped at 254 s), optionally for one device only;
    /// 0 closes it.
    PermitJoin {
        /// How long, in milliseconds; 0 closes the open window.
        duration_ms: Millis,
        /// The only device the window admits, if set.
        ieee: Option<ExtAddr>,
    },
    /// Add a device's install-code key: it will get the network key under it when it joins.
    AddInstallCode {
        /// IEEE address of the device.
        ieee: ExtAddr,
        /// The link key derived from the install code (not the code itself).
        link_key: Key,
    },
    /// Forget a device's install-code key.
    RemoveInstallCode {
        /// IEEE address of the device.
        ieee: ExtAddr,
    },
    /// Replace the security policy.
    SetPolicy(Policy),
    /// Make the device leave and tombstone it: it may not come back until re-admitted.
    RemoveDevice {
        /// IEEE address of the device.
        ieee: ExtAddr,
    },
    /// Lift a tombstone.
    ReadmitDevice {
        /// IEEE address of the device.
        ieee: ExtAddr,
    },
    /// Start a key rotation; the switch happens when every device acknowledged the new key
    /// or at `deadline_ms` from now, whichever is first.
    RotateNetworkKey {
        /// Milliseconds from now until the switch at the latest.
        deadline_ms: Millis,
    },
    /// Accept well-known-key rejoins from known devices for a while (e.g. after restoring a
    /// backup onto a new coordinator).
    OpenRejoinWindow {
        /// How long, in milliseconds.
        duration_ms: Millis,
    },
}

/// Why an admin command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// The command needs a formed network.
    NetworkNotFormed,
    /// `FormNetwork` on a network that is already formed.
    AlreadyFormed,
    /// No device with this IEEE address is known.
    UnknownDevice(ExtAddr),
    /// A key rotation is already running.
    RotationInProgress,
    /// The channel is not a 2.4 GHz channel (11–26).
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
    /// Devices that have not acknowledged the new key (ordered: retries go out in a fixed
    /// order, so the simulator stays deterministic).
    pending: BTreeMap<ExtAddr, KeyInFlight>,
}

/// A rotation's Transport-Key to one device, waiting for its APS acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyInFlight {
    /// The APS counter every copy carries: the device's duplicate rejection takes a retry it
    /// already has for what it is, and an ack of any copy is an ack of this one.
    aps_counter: u8,
    /// Transmissions so far (the first one included).
    sent: u8,
    /// When to send the next copy if no ack has come.
    retry_at: Millis,
}

/// Where a device says it is now (after a Trust Center rejoin), held until it proves itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
    short: ShortAddr,
    parent: ShortAddr,
    capability: u8,
}

/// How a Trust Center rejoin reached the TC: directly (the request's MAC source address), or
/// reported by a router's Update-Device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RejoinVia {
    Direct { short: ShortAddr },
    Router { router: ExtAddr, router_short: ShortAddr, short: ShortAddr },
}

impl RejoinVia {
    /// The parent the rejoining device names.
    fn parent(self) -> ShortAddr {
        match self {
            RejoinVia::Direct { .. } => ShortAddr::COORDINATOR,
            RejoinVia::Router { router_short, .. } => router_short,
        }
    }

    /// The short address the request came from (or the router reported).
    fn short(self) -> ShortAddr {
        match self {
            RejoinVia::Direct { short } | RejoinVia::Router { short, .. } => short,
        }
    }
}

/// A rejoin answer held back by [`ANSWER_INTERVAL_MS`], sent when the interval ends.
#[derive(Debug, Clone, Copy)]
struct DeferredAnswer {
    at: Millis,
    via: RejoinVia,
}

/// A claimed location.
#[derive(Debug, Clone, Copy)]
struct Claim {
    loc: Location,
    at: Millis,
    /// Frames go there until [`CLAIM_TTL_MS`] has passed: set for the device's own rejoin (its
    /// answer must reach it there), not for a router's report, which anyone holding a public
    /// router's keys could forge.
    route: bool,
}

/// Volatile per-device state (not persisted: it only tunes alerts, rate limits and routing).
#[derive(Default)]
struct Volatile {
    /// Last time a frame from the device verified under the current key.
    current_key_at: Option<Millis>,
    rejoins: VecDeque<Millis>,
    /// Refusals sent, for their own rate limit.
    refusals: VecDeque<Millis>,
    last_rescue: Option<Millis>,
    /// A location claimed in an unauthenticated rejoin (or reported by a router): the stored
    /// record changes only when the device speaks from there under the current key.
    claimed: Option<Claim>,
    /// The last answer to a Trust Center rejoin that only the genuine device can read: when
    /// and where (the same answer to the same place is not repeated within
    /// [`ANSWER_INTERVAL_MS`]).
    last_answer: Option<(Millis, Location)>,
    /// Frames dropped as replays since its last accepted frame, and the key they were under:
    /// only drops under the key that is current when the device proves itself call for a
    /// resynchronising rotation (after a switch its counter under the new key is fresh).
    replay_drops: (u8, u32),
    /// Under key .0, the counter accepted from it before the current mark: a frame between
    /// the two is no replay of anything accepted (e.g. a genuine frame after a forged jump).
    mark_before: Option<(u8, u32)>,
    /// A frame from this removed device was already reported.
    removed_reported: bool,
    /// An unauthenticated command in its name was already reported.
    rejected_reported: bool,
    /// A join in the name of this known device: the record it gets once it proves itself.
    pending_join: Option<DeviceRecord>,
    /// It joined through a router, whose Update-Device carries no capability: the one it was
    /// recorded with is a stand-in until its own Device_annce states it (once).
    capability_unstated: bool,
}

/// The Trust Center. Feed it frames, time and admin commands; take each step's output with
/// [`TrustCenter::take_batch`], whose frames are released only once its store writes are
/// committed: counter leases must be durable before a counter is used on air.
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
    nwk_retired_fc: Counter,
    aps_fc: Counter,
    mac_seq: u8,
    nwk_seq: u8,
    aps_ctr: u8,
    rng: KeyRng,
    pending_tclk: HashMap<ExtAddr, Key>,
    rotation: Option<Rotation>,
    /// A device was removed while a rotation was running: rotate again after the switch.
    rotate_again: bool,
    /// The key the NWK counter last restarted with: older keys use the retired counter.
    nwk_restart_seq: Option<u8>,
    /// The last rotation started to resynchronise frame counters.
    last_resync_rotation: Option<Millis>,
    global_rejoins: VecDeque<Millis>,
    global_refusals: VecDeque<Millis>,
    /// Rejoin answers held back by [`ANSWER_INTERVAL_MS`], by device (at most one each).
    deferred_answers: BTreeMap<ExtAddr, DeferredAnswer>,
    /// Source routes and the other NWK-layer duties' state (`routing.rs`).
    routing: routing::Routing,
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
            nwk_retired_fc: Counter {
                next: lease(CounterKind::NwkRetired).unwrap_or(0),
                leased: lease(CounterKind::NwkRetired).unwrap_or(0),
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
            rotate_again: false,
            last_resync_rotation: None,
            nwk_restart_seq: snapshot
                .counter_restarts
                .iter()
                .find(|(k, _)| *k == CounterKind::Nwk)
                .map(|(_, s)| *s),
            global_rejoins: VecDeque::new(),
            global_refusals: VecDeque::new(),
            deferred_answers: BTreeMap::new(),
            routing: routing::Routing::default(),
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
        if let Some(r) = snapshot.rotation {
            tc.resume_rotation(r);
        }
        tc
    }

    /// Everything the core produced since the last call: store writes, frames and events.
    /// Its frames come out only through [`Batch::commit`](crate::Batch::commit), after the
    /// writes are durable (see [`crate::durable`]).
    pub fn take_batch(&mut self) -> crate::Batch {
        crate::Batch::new(
            std::mem::take(&mut self.writes),
            self.transmits.drain(..).collect(),
            self.events.drain(..).collect(),
        )
    }

    /// The network parameters, once the network is formed.
    pub fn network(&self) -> Option<&NetworkConfig> {
        self.network.as_ref()
    }

    /// The security policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The record of a known device (tombstoned ones included).
    pub fn device(&self, ieee: ExtAddr) -> Option<&DeviceRecord> {
        self.devices.get(&ieee)
    }

    /// Every known device's record (tombstoned ones included), in no particular order.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceRecord> {
        self.devices.values()
    }

    /// Sequence number of the network key in use now.
    pub fn active_key_seq(&self) -> u8 {
        self.active_seq
    }

    /// The network key with this sequence number, if the TC still has it.
    pub fn network_key(&self, seq: u8) -> Option<&NetworkKeyRecord> {
        self.keys.get(&seq)
    }
    /// The sequence number of the network key `d` holds, if the TC still has that very key
    /// (same number and [`key_hash`]; a record without a hash, from an older store, is taken
    /// by number).
    pub fn held_key(&self, d: &DeviceRecord) -> Option<u8> {
        let seq = d.last_key_seq?;
        let k = self.keys.get(&seq)?;
        d.last_key_hash.is_none_or(|h| h == key_hash(&k.key)).then_some(seq)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_numbers_are_newer_up_to_half_a_cycle_ahead() {
        assert!(is_newer(1, 0) && is_newer(127, 0) && is_newer(0, 255) && is_newer(100, 229));
        assert!(!is_newer(128, 0), "exactly half a cycle is not newer");
        assert!(!is_newer(0, 0) && !is_newer(255, 0) && !is_newer(0, 1));
    }
}
