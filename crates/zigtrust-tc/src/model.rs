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
    pub pan_id: PanId,
    /// Extended PAN id (display order, as `ExtAddr` prints it).
    pub extended_pan_id: u64,
    /// 802.15.4 channel, 11-26.
    pub channel: u8,
    /// The Trust Center's (coordinator's) IEEE address.
    pub tc_ieee: ExtAddr,
    pub nwk_update_id: u8,
}

/// A network key the network has used or will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkKeyRecord {
    pub seq: u8,
    pub key: Key,
    /// Ever transported under a public key (the well-known TC link key): a sniffer may have it.
    pub exposed: bool,
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
    pub ieee: ExtAddr,
    pub short_addr: ShortAddr,
    /// Capability byte from its association / rejoin request.
    pub capability: u8,
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
    /// When a frame from it (sent by it, or relayed for it by a router) last verified.
    pub last_seen: Millis,
    /// Highest NWK frame counter accepted from this device (replay protection).
    pub incoming_nwk_counter: Option<u32>,
    /// Highest APS frame counter accepted from this device.
    pub incoming_aps_counter: Option<u32>,
    /// Removed by the user: it may not join or rejoin until re-admitted.
    pub tombstoned: bool,
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
    Allow,
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
    pub legacy_join: LegacyJoinPolicy,
    pub insecure_rejoin: InsecureRejoinPolicy,
    pub spoof_response: SpoofResponse,
    /// If non-empty, only these IEEEs may join.
    pub allow_list: Vec<ExtAddr>,
    /// These IEEEs may never join.
    pub deny_list: Vec<ExtAddr>,
    /// Rotate the network key automatically when a legacy permit-join window closes.
    pub rotate_after_legacy_window: bool,
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
}

/// Severity of an audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Alert,
}

/// One line of the security audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub time: Millis,
    pub severity: Severity,
    /// Stable machine name, e.g. "device-joined", "suspected-spoof", "replay-dropped".
    pub kind: String,
    pub ieee: Option<ExtAddr>,
    /// One human line; never contains a whole key.
    pub detail: String,
}

/// One change to durable state. Applied in order; a batch is atomic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreWrite {
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
        ieee: ExtAddr,
        key: Key,
    },
    RemoveInstallCode(ExtAddr),
    /// Outgoing counters below `until` may be used; a restarted TC continues from `until`.
    CounterLease {
        kind: CounterKind,
        until: u32,
    },
    Policy(Policy),
    Audit(AuditEntry),
}

/// The durable state a store hands back to restore the core.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub network: Option<NetworkConfig>,
    pub network_keys: Vec<NetworkKeyRecord>,
    pub active_key_seq: Option<u8>,
    pub devices: Vec<DeviceRecord>,
    pub install_codes: Vec<(ExtAddr, Key)>,
    /// Lease high-water marks: the restored core starts each counter here.
    pub counter_leases: Vec<(CounterKind, u32)>,
    pub policy: Option<Policy>,
}
