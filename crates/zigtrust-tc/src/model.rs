//! The Trust Center's durable state, as plain values. The core emits [`StoreWrite`]s; a store
//! (`zigtrust-store`) applies them in order inside one transaction per batch and gives back a
//! [`Snapshot`] to restore the core after a restart.

use zigtrust_crypto::Key;
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

/// Milliseconds on the core's clock (whatever epoch the shell feeds it; the daemon uses Unix time).
pub type Millis = u64;

/// Network parameters chosen when the network is formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    /// PAN identifier.
    pub pan_id: PanId,
    /// Extended PAN id (display order, as `ExtAddr` prints it).
    pub extended_pan_id: u64,
    /// 802.15.4 channel, 11-26.
    pub channel: u8,
    /// The Trust Center's (coordinator's) IEEE address.
    pub tc_ieee: ExtAddr,
    /// nwkUpdateId advertised in beacons (0 at formation).
    pub nwk_update_id: u8,
}

/// A network key the network has used or will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkKeyRecord {
    /// Key sequence number (carried in the NWK auxiliary security header; wraps after 256).
    pub seq: u8,
    /// The 128-bit network key.
    pub key: Key,
    /// A passive sniffer may hold it: it was transported under a public key (the well-known TC
    /// link key, or an exposed network key with a public link key), or a removed device holds
    /// it. Exposure only ever grows.
    pub exposed: bool,
    /// Why and when it became exposed (one human line; `None` while secret, and for records
    /// written before reasons were kept).
    pub exposure: Option<String>,
    /// When the key was generated.
    pub created_at: Millis,
}

/// How a device got onto the network, which decides what its link key is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinMethod {
    /// Joined with the well-known key (HA 1.2 style).
    WellKnownKey,
    /// Joined with its install-code-derived key (Zigbee 3.0).
    InstallCode,
    /// Restored from a backup; how it joined is unknown.
    Restored,
}

/// Everything the Trust Center remembers about one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// IEEE address of the device.
    pub ieee: ExtAddr,
    /// Its short (NWK) address.
    pub short_addr: ShortAddr,
    /// Capability byte from its association / rejoin request.
    pub capability: u8,
    /// How it joined.
    pub join_method: JoinMethod,
    /// Short address of its parent (the coordinator itself is 0x0000).
    pub parent: ShortAddr,
    /// The current Trust Center link key: a unique key after a verified TCLK update, else the
    /// install-code key, else `None` (the well-known key).
    pub tclk: Option<Key>,
    /// The device proved (Verify-Key) that it holds `tclk`, a unique key.
    pub tclk_verified: bool,
    /// Sequence number of the newest network key this device is known to hold: given to it at
    /// join, acknowledged by it in a rotation, or used by it in a frame it sent.
    pub last_key_seq: Option<u8>,
    /// [`key_hash`] of that key: with the sequence number it names the key (numbers wrap after
    /// 256 rotations, so a number alone could name a different key).
    pub last_key_hash: Option<u32>,
    /// When a frame from it (sent by it, or relayed for it by a router) last verified.
    pub last_seen: Millis,
    /// Highest NWK frame counter accepted from this device under `last_key_seq` (replay
    /// protection).
    pub incoming_nwk_counter: Option<u32>,
    /// Highest NWK frame counter accepted from this device under each older key it used, so
    /// frames it sent before a rotation cannot be replayed after it (kept across restarts).
    pub stale_nwk_counters: Vec<(u8, u32)>,
    /// Highest APS frame counter accepted from this device.
    pub incoming_aps_counter: Option<u32>,
    /// Removed by the user: it may not join or rejoin until re-admitted.
    pub tombstoned: bool,
}

/// A short fingerprint of a network key (the first 4 bytes of its AES-MMO hash): stored with a
/// sequence number to tell which key a device holds, never enough to recover the key.
pub fn key_hash(key: &Key) -> u32 {
    let h = zigtrust_crypto::aes_mmo_hash(key.as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// Whether a device without an install code may join with the well-known key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegacyJoinPolicy {
    /// Only devices whose install code was added may join (Zigbee 3.0 only).
    InstallCodeRequired,
    /// Legacy joins (network key under the well-known key) while a permit-join window is open.
    AllowedWhilePermitJoin,
}

/// What to do with a Trust Center rejoin from a device that only has the well-known key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsecureRejoinPolicy {
    /// Risky: answer with the key under the well-known key, readable by anyone listening (and
    /// by anyone who spoofs such a rejoin) — what permissive stacks do. Named so that no one
    /// picks it by accident; stored and shown as "allow".
    AllowLeakingKey,
    /// Refuse: devices that missed a key change are stranded.
    Deny,
    /// zigtrust's rules (see the crate docs).
    Adaptive,
}

/// How a suspected spoof is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpoofResponse {
    /// Send a rejoin response with status "access denied".
    Deny,
    /// Send nothing.
    Ignore,
}

/// The user's security switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Whether devices without an install code may join under the well-known key.
    pub legacy_join: LegacyJoinPolicy,
    /// How Trust Center rejoins from devices with a public link key are answered.
    pub insecure_rejoin: InsecureRejoinPolicy,
    /// How a suspected spoof is answered.
    pub spoof_response: SpoofResponse,
    /// If non-empty, only these IEEEs may join.
    pub allow_list: Vec<ExtAddr>,
    /// These IEEEs may never join.
    pub deny_list: Vec<ExtAddr>,
    /// Rotate the network key automatically when a legacy permit-join window closes.
    pub rotate_after_legacy_window: bool,
    /// Whether removing a device starts a rotation that leaves it out (it holds the network
    /// key: until a rotation, that key counts as exposed).
    pub rotate_after_removal: RemovalRotation,
}

/// Which removals start a key rotation that excludes the removed device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemovalRotation {
    /// Never rotate: the removed device keeps reading the network.
    Never,
    /// Rotate when a router is removed (routers relay everyone's traffic).
    Routers,
    /// Rotate after every removal.
    Always,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            legacy_join: LegacyJoinPolicy::AllowedWhilePermitJoin,
            insecure_rejoin: InsecureRejoinPolicy::Adaptive,
            spoof_response: SpoofResponse::Deny,
            allow_list: Vec::new(),
            deny_list: Vec::new(),
            rotate_after_legacy_window: false,
            rotate_after_removal: RemovalRotation::Routers,
        }
    }
}

/// Which outgoing frame counter a lease covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterKind {
    /// The TC's NWK frame counter (one per device, shared by all network keys).
    Nwk,
    /// The TC's APS frame counter.
    Aps,
    /// The NWK frame counter for network keys older than the last counter restart (see
    /// [`StoreWrite::CounterRestart`]): it goes on from where the shared counter stopped, so
    /// stragglers can still be rescued under their old key without a counter ever repeating.
    NwkRetired,
}

/// Severity of an audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Routine: joins, windows, rotations.
    Info,
    /// Worth a look: refusals, replays, removals, a user-opened rejoin window.
    Warning,
    /// A security event: a suspected spoof, a rejected command, a removed device still
    /// sending, a network key exposed.
    Alert,
}

/// What an audit entry records: the stable machine names of [`AuditEntry::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// The network was formed.
    NetworkFormed,
    /// A permit-join window opened.
    PermitJoinOpened,
    /// A permit-join window closed.
    PermitJoinClosed,
    /// An install code was added.
    InstallCodeAdded,
    /// The user changed the policy.
    PolicyChanged,
    /// A device joined.
    DeviceJoined,
    /// A join was refused.
    JoinDenied,
    /// A device rejoined.
    DeviceRejoined,
    /// A rejoin was refused.
    RejoinDenied,
    /// A well-known-key rejoin in the name of a device that is evidently alive.
    SuspectedSpoof,
    /// The current network key was delivered under a key the device proved it holds.
    KeyDelivered,
    /// A network key became readable to a sniffer (or to a removed device).
    NetworkKeyExposed,
    /// A device verified its unique TC link key.
    TclkVerified,
    /// A TC link key update was refused: it would travel under public keys only.
    TclkUpdateRefused,
    /// An APS security command was dropped: not authenticated by the device it concerns.
    CommandRejected,
    /// A removed device is still sending; its frames are dropped.
    RemovedDeviceFrame,
    /// The user removed a device.
    DeviceRemoved,
    /// The user lifted a device's tombstone.
    DeviceReadmitted,
    /// The user opened a well-known-key rejoin window.
    RejoinWindowOpened,
    /// A network key rotation started.
    KeyRotationStarted,
    /// A rotation interrupted by a restart was resumed.
    KeyRotationResumed,
    /// The network switched to a new key.
    KeySwitched,
    /// A frame with an old frame counter was dropped.
    ReplayDropped,
    /// A device's frame counter is out of step; a rotation resynchronises it.
    CounterResync,
    /// The Trust Center's outgoing frame counter nears its end.
    CounterExhaustion,
}

impl AuditKind {
    /// Every kind, for documentation and tests.
    pub const ALL: &'static [AuditKind] = &[
        AuditKind::NetworkFormed,
        AuditKind::PermitJoinOpened,
        AuditKind::PermitJoinClosed,
        AuditKind::InstallCodeAdded,
        AuditKind::PolicyChanged,
        AuditKind::DeviceJoined,
        AuditKind::JoinDenied,
        AuditKind::DeviceRejoined,
        AuditKind::RejoinDenied,
        AuditKind::SuspectedSpoof,
        AuditKind::KeyDelivered,
        AuditKind::NetworkKeyExposed,
        AuditKind::TclkVerified,
        AuditKind::TclkUpdateRefused,
        AuditKind::CommandRejected,
        AuditKind::RemovedDeviceFrame,
        AuditKind::DeviceRemoved,
        AuditKind::DeviceReadmitted,
        AuditKind::RejoinWindowOpened,
        AuditKind::KeyRotationStarted,
        AuditKind::KeyRotationResumed,
        AuditKind::KeySwitched,
        AuditKind::ReplayDropped,
        AuditKind::CounterResync,
        AuditKind::CounterExhaustion,
    ];

    /// The stable machine name stored in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::NetworkFormed => "network-formed",
            AuditKind::PermitJoinOpened => "permit-join-opened",
            AuditKind::PermitJoinClosed => "permit-join-closed",
            AuditKind::InstallCodeAdded => "install-code-added",
            AuditKind::PolicyChanged => "policy-changed",
            AuditKind::DeviceJoined => "device-joined",
            AuditKind::JoinDenied => "join-denied",
            AuditKind::DeviceRejoined => "device-rejoined",
            AuditKind::RejoinDenied => "rejoin-denied",
            AuditKind::SuspectedSpoof => "suspected-spoof",
            AuditKind::KeyDelivered => "key-delivered",
            AuditKind::NetworkKeyExposed => "network-key-exposed",
            AuditKind::TclkVerified => "tclk-verified",
            AuditKind::TclkUpdateRefused => "tclk-update-refused",
            AuditKind::CommandRejected => "command-rejected",
            AuditKind::RemovedDeviceFrame => "removed-device-frame",
            AuditKind::DeviceRemoved => "device-removed",
            AuditKind::DeviceReadmitted => "device-readmitted",
            AuditKind::RejoinWindowOpened => "rejoin-window-opened",
            AuditKind::KeyRotationStarted => "key-rotation-started",
            AuditKind::KeyRotationResumed => "key-rotation-resumed",
            AuditKind::KeySwitched => "key-switched",
            AuditKind::ReplayDropped => "replay-dropped",
            AuditKind::CounterResync => "counter-resync",
            AuditKind::CounterExhaustion => "counter-exhaustion",
        }
    }

    /// The kind with this machine name.
    pub fn parse(name: &str) -> Option<AuditKind> {
        AuditKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

/// One line of the security audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When it happened.
    pub time: Millis,
    /// How serious it is.
    pub severity: Severity,
    /// Stable machine name: [`AuditKind::as_str`] of what happened.
    pub kind: String,
    /// The device it concerns, if any.
    pub ieee: Option<ExtAddr>,
    /// One human line; never contains a whole key.
    pub detail: String,
}

/// One change to durable state. Applied in order; a batch is atomic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreWrite {
    /// Store the network parameters (written once, at formation).
    Network(NetworkConfig),
    /// Insert or replace the key with this sequence number.
    NetworkKey(NetworkKeyRecord),
    /// The key sequence number the network uses now.
    ActiveKeySeq(u8),
    /// Insert or replace a device (keyed by IEEE).
    Device(DeviceRecord),
    /// Forget a device entirely (re-admitted tombstones are rewritten with `Device`).
    DeleteDevice(ExtAddr),
    /// An install code's derived link key for a device not (yet) joined.
    InstallCode {
        /// IEEE address of the device.
        ieee: ExtAddr,
        /// The link key derived from its install code.
        key: Key,
    },
    /// Forget a device's install-code key.
    RemoveInstallCode(ExtAddr),
    /// Outgoing counters below `until` may be used; a restarted TC continues from `until`.
    CounterLease {
        /// Which counter.
        kind: CounterKind,
        /// First counter value not covered by the lease.
        until: u32,
    },
    /// Store the security policy.
    Policy(Policy),
    /// Append a line to the audit log.
    Audit(AuditEntry),
    /// The outgoing counter starts again from 0 with network key `key_seq` (frame counters
    /// are per network key). Written in the same batch as the switch to that key and a
    /// [`CounterKind::NwkRetired`] lease: older keys continue on that counter, so no counter is
    /// ever reused under one key.
    CounterRestart {
        /// Which counter restarted.
        kind: CounterKind,
        /// Sequence number of the network key it restarted with.
        key_seq: u8,
    },
    /// The key rotation in progress (`None`: none), so a restart resumes it instead of
    /// forgetting a key some devices already hold.
    Rotation(Option<RotationRecord>),
}

/// A key rotation in progress, as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRecord {
    /// Sequence number of the new key (its record is in the key table).
    pub seq: u8,
    /// When the switch happens even if not every device acknowledged.
    pub deadline: Millis,
    /// Devices that have not acknowledged the new key.
    pub pending: Vec<ExtAddr>,
}

/// The durable state a store hands back to restore the core.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The network parameters, if formed.
    pub network: Option<NetworkConfig>,
    /// Every network key kept.
    pub network_keys: Vec<NetworkKeyRecord>,
    /// Sequence number of the key in use.
    pub active_key_seq: Option<u8>,
    /// Every device record, tombstones included.
    pub devices: Vec<DeviceRecord>,
    /// Install-code link keys by device.
    pub install_codes: Vec<(ExtAddr, Key)>,
    /// Lease high-water marks: the restored core starts each counter here.
    pub counter_leases: Vec<(CounterKind, u32)>,
    /// The security policy (`None`: the default).
    pub policy: Option<Policy>,
    /// The key rotation in progress, to resume.
    pub rotation: Option<RotationRecord>,
    /// The key each restarted counter restarted with (see [`StoreWrite::CounterRestart`]).
    pub counter_restarts: Vec<(CounterKind, u8)>,
}
