//! The API's response bodies, typed: the JSON the daemon sends and the OpenAPI schemas are the
//! same declarations (times are Unix milliseconds; IEEE addresses colon-separated).

use serde::Serialize;
use utoipa::ToSchema;

/// `GET /api/network`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NetworkView {
    /// `0x1a62`; null before the network is formed.
    pub pan_id: Option<String>,
    pub extended_pan_id: Option<String>,
    pub channel: Option<u8>,
    /// The Trust Center's own IEEE address.
    pub tc_ieee: Option<String>,
    pub active_key_seq: u8,
    /// A sniffer or a removed device may hold the key in use.
    pub active_key_exposed: bool,
    /// Every network key the network used.
    pub keys: Vec<KeyView>,
    /// What to do while the active key is exposed.
    pub key_advice: Option<&'static str>,
    /// `sim`, `zep:ADDR:PORT` or the Spinel radio URL.
    pub radio: String,
    /// The radio's health: resets, lost links and recoveries since the daemon started.
    pub radio_status: RadioStatusView,
    pub permit_join: PermitView,
    pub rejoin_window: RejoinWindowView,
    pub policy: PolicyView,
    pub rotation: Option<RotationView>,
    /// Devices on the network (not removed).
    pub devices: usize,
    /// Devices with a high stranded risk.
    pub devices_at_risk: usize,
    /// Alert-severity lines among the last 200 of the audit log.
    pub alerts: usize,
    /// The last store failure (the radio is mute while it lasts).
    pub store_error: Option<String>,
    /// The last radio failure.
    pub radio_error: Option<String>,
    /// The daemon's clock.
    pub now: u64,
}

/// The radio's health (`radio_status` of `GET /api/network`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RadioStatusView {
    /// `sim`, `zep` or `spinel`.
    pub kind: &'static str,
    /// Whether the radio works now (false while an RCP is being re-opened).
    pub link_up: bool,
    /// The RCP's firmware (`NCP_VERSION`), for a Spinel radio.
    pub firmware: Option<String>,
    /// Times the radio was brought back after a reset or a lost link.
    pub recoveries: u32,
    /// Outages in which re-opening the radio failed at first.
    pub outages: u32,
    /// Frames lost with those faults, in all (never re-sent).
    pub frames_lost: u64,
    /// The latest reset, lost link or recovery.
    pub last_incident: Option<RadioIncidentView>,
}

/// A radio incident (also in the audit log, as `radio-recovered` or `radio-down`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RadioIncidentView {
    /// When the fault was seen.
    pub time: u64,
    /// `recovered` (the radio works again) or `down` (re-opening failed; being retried).
    pub state: &'static str,
    /// What was seen: `unexpected-reset`, `link-lost` or `unresponsive`.
    pub cause: &'static str,
    /// The reset status (e.g. `ResetPowerOn`) or what happened to the link.
    pub detail: String,
    /// Frames lost (in flight, queued, or refused while the radio was down); recoveries only.
    pub frames_lost: Option<u64>,
    /// Whether the link was re-opened (the RCP respawned or its device reopened), not just
    /// handshaken again; recoveries only.
    pub reopened: Option<bool>,
    /// Whether channel, PAN, addresses and the frame-pending table were applied again;
    /// recoveries only.
    pub config_reapplied: Option<bool>,
    /// From the fault to the radio working again (ms); recoveries only.
    pub outage_ms: Option<u64>,
    /// Why re-opening failed; `down` only.
    pub error: Option<String>,
    /// The whole incident as one line (as in the audit log and on stderr).
    pub message: String,
}

/// A network key and whether (and why) others may hold it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyView {
    pub seq: u8,
    pub active: bool,
    pub exposed: bool,
    /// How it was exposed, when it was.
    pub exposure: Option<String>,
}

/// The `state` live-update event: the network view plus the device list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StateEvent {
    #[serde(flatten)]
    pub network: NetworkView,
    pub devices_list: Vec<DeviceView>,
}

/// The permit-join window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PermitView {
    pub open: bool,
    pub remaining_s: u64,
    /// The one device the window admits, if it was opened for one.
    pub ieee: Option<String>,
}

/// The user's rejoin window for legacy devices.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejoinWindowView {
    pub open: bool,
    pub remaining_s: u64,
}

/// The security policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyView {
    /// `allowed-while-permit-join` or `install-code-required`.
    pub legacy_join: &'static str,
    /// `allow`, `deny` or `adaptive`.
    pub insecure_rejoin: &'static str,
    /// `deny` or `ignore`.
    pub spoof_response: &'static str,
    pub rotate_after_legacy_window: bool,
    /// `never`, `routers` or `always`.
    pub rotate_after_removal: &'static str,
}

/// A key rotation started from the API and how far it got.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RotationView {
    /// `distributing` or `switched`.
    pub state: &'static str,
    pub from_seq: u8,
    pub to_seq: u8,
    pub started: u64,
    pub deadline: u64,
    pub devices: Vec<RotationDevice>,
    pub confirmed: usize,
    pub total: usize,
    /// Devices that had not confirmed at the switch.
    pub stragglers: Vec<String>,
}

/// One device of a rotation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RotationDevice {
    pub ieee: String,
    pub confirmed: bool,
}

/// A device the Trust Center knows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceView {
    pub ieee: String,
    /// `0x1234`.
    pub short_addr: String,
    /// Its name in the simulated home.
    pub name: Option<String>,
    /// `router`, `end-device` or `sleepy-end-device`.
    pub role: &'static str,
    /// How it joined: `z3.0` (install code), `legacy` (well-known key) or `restored`.
    pub security: &'static str,
    pub install_code_key: bool,
    pub tclk_verified: bool,
    /// `well-known`, `exposed`, `install-code` or `unique` (a verified updated TCLK).
    pub link_key: &'static str,
    /// Whether a sniffer can read what is sent under its link key.
    pub link_key_public: bool,
    pub advice: Option<&'static str>,
    pub last_key_seq: Option<u8>,
    pub has_active_key: bool,
    pub last_seen: u64,
    /// Its parent's short address (`0x0000`: the coordinator).
    pub parent: String,
    /// `none`, `low` or `high`: whether it could be left unable to talk.
    pub stranded_risk: &'static str,
    pub stranded_reason: Option<String>,
    pub removed: bool,
    pub link: LinkView,
}

/// What the coordinator's radio last heard directly from a device (all null when it is heard
/// only through a router).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkView {
    pub lqi: Option<u8>,
    pub rssi: Option<f32>,
    pub heard_at: Option<u64>,
}

/// `GET /api/devices`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

/// An audit-log line (alerts are the warning and alert lines).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    pub time: u64,
    /// `info`, `warning` or `alert`.
    pub severity: &'static str,
    /// A stable name, e.g. `network-key-exposed`, `suspected-spoof`.
    pub kind: String,
    pub ieee: Option<String>,
    pub detail: String,
}

/// `GET /api/alerts`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<AuditEntryView>,
}

/// `GET /api/audit-log`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditLog {
    pub entries: Vec<AuditEntryView>,
}

/// A stored install code (never the code itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstallCodeView {
    pub ieee: String,
    /// The device is on the network (the code is kept for its rejoins).
    pub joined: bool,
}

/// `GET /api/install-codes`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstallCodeList {
    pub install_codes: Vec<InstallCodeView>,
}

/// `POST /api/install-codes`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstallCodeAdded {
    pub ieee: String,
    /// The form the code was given in.
    pub format: &'static str,
    /// 6, 8, 12 or 16.
    pub code_bytes: usize,
}

/// A removal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Removed {
    pub removed: String,
}

/// `GET /api/sim`: the simulated home.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimView {
    pub attacker: bool,
    pub spoofs_sent: u64,
    /// The simulated attacker holds a network key (it decrypted one).
    pub attacker_knows_network_key: bool,
    pub devices: Vec<SimDeviceView>,
}

/// A simulated device.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimDeviceView {
    pub ieee: String,
    pub name: String,
    /// `z3.0` or `legacy`.
    pub profile: &'static str,
    /// `router` or `sleepy-end-device`.
    pub role: &'static str,
    pub joined: bool,
    /// Paired at first start.
    pub starter: bool,
    /// Its install-code label payload (Z3.0 devices).
    pub label: Option<String>,
}

/// Session answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub authenticated: bool,
    /// The CSRF token (login only): send it as `X-CSRF-Token` with the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
}
