//! Open ZigBee Coordinator Backup (the JSON format of zigpy and zigbee-herdsman /
//! Zigbee2MQTT), so a network can move between zigtrust and other coordinators.
//!
//! Byte orders follow zigpy's writer exactly: IEEE addresses, the extended PAN id, the PAN id
//! and NWK addresses are hex in display order (big-endian, no separators: `00124b0001020304`,
//! `1a62`, what zigpy gets from `serialize()[::-1].hex()`); keys are hex in transmission order
//! (`KeyData.serialize().hex()`).
//!
//! Export writes the standard fields plus `metadata.internal.zigtrust` with what the format has
//! no place for: the key history with its `exposed` flags, install codes, the policy, per-device
//! replay counters, tombstones. zigpy keeps unknown `internal` keys in `NetworkInfo.metadata`.
//!
//! Import decisions, all on the safe side:
//! - Every device becomes [`JoinMethod::Restored`].
//! - A device's `link_key` becomes its `tclk` with `tclk_verified = true`: coordinators keep a
//!   unique key in their key table only once the device holds it, and the backup is as trusted as
//!   the network key in it. zigtrust's own `internal` section may only lower this (a zigtrust
//!   device that had not yet proved its key stays unverified). A link key equal to the well-known
//!   `ZigBeeAlliance09` is no unique key: `tclk = None`.
//! - The network key is `exposed` unless zigtrust's own section says otherwise for that exact
//!   key: a foreign coordinator has most likely sent it under the well-known key.
//! - Frame-counter leases start [`RESTORE_COUNTER_MARGIN`] above the backup's counters (as zigpy
//!   does on restore): the old coordinator may have sent frames after the backup, and a reused
//!   counter makes every device drop the Trust Center's frames. Leases only grow in the store.
//! - A device without a NWK address gets `0xfffe` (the Zigbee "no short address" value); one
//!   that is not a child of the coordinator gets parent `0xfffe` (unknown).

use crate::names::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use zigtrust_crypto::Key;
use zigtrust_tc::model::{
    AuditEntry, CounterKind, DeviceRecord, JoinMethod, Millis, NetworkConfig, NetworkKeyRecord,
    Policy, RemovalRotation, Severity, Snapshot, StoreWrite,
};
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

/// `metadata.format` of an Open ZigBee Coordinator Backup.
pub const FORMAT: &str = "zigpy/open-coordinator-backup";
/// `metadata.version` this module reads and writes.
pub const VERSION: u64 = 1;
/// Version of the `metadata.internal.zigtrust` section.
pub const ZIGTRUST_SECTION_VERSION: u64 = 1;
/// Added to the backup's outgoing frame counters on import (zigpy's `counter_increment`).
pub const RESTORE_COUNTER_MARGIN: u32 = 10_000;
/// Short address / parent of an imported device whose address the backup does not give.
pub const UNKNOWN_SHORT_ADDR: ShortAddr = ShortAddr(0xfffe);

/// Why a backup could not be exported or imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupError {
    /// The store holds nothing to back up (no network, no active key).
    Incomplete { what: String },
    /// The text is not JSON.
    Syntax { line: usize, column: usize, message: String },
    /// A field is missing or invalid; `path` is its JSON path (`$.devices[2].link_key.key`).
    Field { path: String, problem: String },
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupError::Incomplete { what } => write!(f, "nothing to back up: {what}"),
            BackupError::Syntax { line, column, message } => {
                write!(f, "not JSON (line {line}, column {column}): {message}")
            }
            BackupError::Field { path, problem } => write!(f, "{path}: {problem}"),
        }
    }
}

impl std::error::Error for BackupError {}

/// The backup of `snap` as written by zigtrust `version` (e.g. `env!("CARGO_PKG_VERSION")`),
/// created at `now` (Unix milliseconds). The network key's `frame_counter` is the NWK counter
/// lease and the TC link key's the APS lease: the high-water marks, never a counter already used.
pub fn export(snap: &Snapshot, now: Millis, version: &str) -> Result<Value, BackupError> {
    let net = snap
        .network
        .as_ref()
        .ok_or_else(|| BackupError::Incomplete { what: "no network has been formed".into() })?;
    let seq = snap
        .active_key_seq
        .ok_or_else(|| BackupError::Incomplete { what: "no active network key".into() })?;
    let active = snap.network_keys.iter().find(|k| k.seq == seq).ok_or_else(|| {
        BackupError::Incomplete { what: format!("the active network key (seq {seq}) is missing") }
    })?;
    let lease = |kind| {
        snap.counter_leases.iter().filter(|(k, _)| *k == kind).map(|(_, v)| *v).max().unwrap_or(0)
    };
    let (nwk_fc, aps_fc) = (lease(CounterKind::Nwk), lease(CounterKind::Aps));
    let coordinator = ieee_hex(net.tc_ieee);

    let mut devices: Vec<&DeviceRecord> = snap.devices.iter().collect();
    devices.sort_by_key(|d| d.ieee);
    let standard: Vec<Value> = devices
        .iter()
        .filter(|d| !d.tombstoned) // a removed device must not be re-admitted by another stack
        .map(|d| {
            let mut o = json!({
                "ieee_address": ieee_hex(d.ieee),
                // zigpy writes null for a device whose address it does not know.
                "nwk_address": (d.short_addr != UNKNOWN_SHORT_ADDR)
                    .then(|| format!("{:04x}", d.short_addr.0)),
                "is_child": d.parent == ShortAddr::COORDINATOR,
            });
            if let Some(k) = &d.tclk {
                o["link_key"] = json!({
                    "key": k.to_hex(),
                    "tx_counter": aps_fc,
                    "rx_counter": d.incoming_aps_counter.unwrap_or(0),
                });
            }
            o
        })
        .collect();
    let zig_devices: Vec<Value> = devices
        .iter()
        .map(|d| {
            let mut o = json!({
                "ieee": ieee_hex(d.ieee),
                "capability": d.capability,
                "parent": format!("{:04x}", d.parent.0),
                "tclk_verified": d.tclk_verified,
                "last_key_seq": d.last_key_seq,
                "last_seen": d.last_seen,
                "incoming_nwk_counter": d.incoming_nwk_counter,
                "stale_nwk_counters": stale_counters_text(&d.stale_nwk_counters),
                "last_key_hash": d.last_key_hash,
                "incoming_aps_counter": d.incoming_aps_counter,
                "tombstoned": d.tombstoned,
            });
            if d.tombstoned {
                // Not in the standard list, so the record must be complete here.
                o["nwk_address"] = json!(format!("{:04x}", d.short_addr.0));
                o["tclk"] = json!(d.tclk.as_ref().map(Key::to_hex));
            }
            o
        })
        .collect();
    let mut zigtrust = json!({
        "version": ZIGTRUST_SECTION_VERSION,
        "active_key_seq": seq,
        "network_keys": snap.network_keys.iter().map(|k| json!({
            "seq": k.seq, "key": k.key.to_hex(), "exposed": k.exposed, "created_at": k.created_at,
            "exposure": k.exposure,
        })).collect::<Vec<_>>(),
        "devices": zig_devices,
        "install_codes": snap.install_codes.iter().map(|(i, k)| json!({
            "ieee": ieee_hex(*i), "key": k.to_hex(),
        })).collect::<Vec<_>>(),
        "counter_leases": { "nwk": nwk_fc, "aps": aps_fc },
    });
    if let Some(p) = &snap.policy {
        zigtrust["policy"] = json!({
            "legacy_join": legacy_join_name(p.legacy_join),
            "insecure_rejoin": insecure_rejoin_name(p.insecure_rejoin),
            "spoof_response": spoof_response_name(p.spoof_response),
            "allow_list": p.allow_list.iter().map(|i| ieee_hex(*i)).collect::<Vec<_>>(),
            "deny_list": p.deny_list.iter().map(|i| ieee_hex(*i)).collect::<Vec<_>>(),
            "rotate_after_legacy_window": p.rotate_after_legacy_window,
            "rotate_after_removal": removal_rotation_name(p.rotate_after_removal),
        });
    }
    Ok(json!({
        "metadata": {
            "version": VERSION,
            "format": FORMAT,
            "source": format!("zigtrust@{version}"),
            "internal": {
                "creation_time": iso8601(now),
                "node": { "ieee": coordinator, "nwk": "0000", "type": "coordinator" },
                "network": {
                    "tc_link_key": {
                        "key": Key::well_known_tc_link_key().to_hex(),
                        "frame_counter": aps_fc,
                    },
                    "tc_address": coordinator,
                    "nwk_manager": "0000",
                },
                "zigtrust": zigtrust,
            },
        },
        "stack_specific": {},
        "coordinator_ieee": coordinator,
        "pan_id": format!("{:04x}", net.pan_id.0),
        "extended_pan_id": format!("{:016x}", net.extended_pan_id),
        "nwk_update_id": net.nwk_update_id,
        "security_level": 5,
        "channel": net.channel,
        "channel_mask": [net.channel],
        "network_key": {
            "key": active.key.to_hex(),
            "sequence_number": active.seq,
            "frame_counter": nwk_fc,
        },
        "devices": standard,
    }))
}

/// Parses and validates a backup and returns the writes that restore it, to be applied in one
/// batch ([`crate::Store::apply`]), ending with an audit entry. `now` stamps new key records and
/// the audit entry. Nothing is returned unless the whole backup is valid.
pub fn import(text: &str, now: Millis) -> Result<Vec<StoreWrite>, BackupError> {
    let v: Value = serde_json::from_str(text).map_err(|e| BackupError::Syntax {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    import_value(&v, now)
}

/// [`import`] for an already parsed document.
pub fn import_value(v: &Value, now: Millis) -> Result<Vec<StoreWrite>, BackupError> {
    let root = Obj::root(v)?;
    let meta = root.obj("metadata")?;
    let format = meta.str("format")?;
    if format != FORMAT {
        return Err(meta.bad("format", format!("is {format:?}, expected {FORMAT:?}")));
    }
    let version = meta.uint("version", u64::MAX)?;
    if version != VERSION {
        return Err(meta.bad("version", format!("{version} is not supported (only {VERSION})")));
    }
    let source = match meta.opt("source") {
        Some(_) => meta.str("source")?.to_string(),
        None => "an unnamed tool".into(),
    };
    let internal = meta.opt_obj("internal")?;
    let zig = match &internal {
        Some(i) => i.opt_obj("zigtrust")?,
        None => None,
    };
    if let Some(z) = &zig {
        let zv = z.uint("version", u64::MAX)?;
        if zv != ZIGTRUST_SECTION_VERSION {
            return Err(z.bad("version", format!("zigtrust section version {zv} is not supported")));
        }
    }

    let tc_ieee = root.ieee("coordinator_ieee")?;
    let pan = root.hex_u16("pan_id", false)?;
    if pan == 0xffff {
        return Err(root.bad("pan_id", "ffff is the broadcast PAN id"));
    }
    let epid = root.u64_hex("extended_pan_id")?;
    let nwk_update_id = root.uint("nwk_update_id", 255)? as u8;
    let level = root.uint("security_level", 255)?;
    if level != 5 {
        return Err(
            root.bad("security_level", format!("{level} is not supported (Zigbee PRO uses 5)"))
        );
    }
    let channel = root.uint("channel", 255)? as u8;
    if !(11..=26).contains(&channel) {
        return Err(root.bad("channel", format!("{channel} is not a 2.4 GHz channel (11-26)")));
    }
    let mask = root.arr("channel_mask")?;
    for (i, c) in mask.items.iter().enumerate() {
        let p = format!("{}[{i}]", mask.path);
        match c.as_u64() {
            Some(11..=26) => {}
            _ => return Err(field(&p, format!("{c} is not a channel (11-26)"))),
        }
    }
    let nk = root.obj("network_key")?;
    let net_key = nk.key("key")?;
    let net_seq = nk.uint("sequence_number", 255)? as u8;
    let nwk_fc = nk.uint("frame_counter", u32::MAX as u64)? as u32;

    let mut aps_fc = 0u32;
    if let Some(n) = internal.as_ref().map(|i| i.opt_obj("network")).transpose()?.flatten() {
        if let Some(t) = n.opt_obj("tc_link_key")? {
            if t.opt("frame_counter").is_some() {
                aps_fc = t.uint("frame_counter", u32::MAX as u64)? as u32;
            }
        }
    }

    // Standard device list.
    let mut devices: BTreeMap<ExtAddr, DeviceRecord> = BTreeMap::new();
    let list = root.arr("devices")?;
    for (i, item) in list.items.iter().enumerate() {
        let d = Obj::new(item, format!("{}[{i}]", list.path))?;
        let ieee = d.ieee("ieee_address")?;
        if ieee == tc_ieee {
            return Err(d.bad("ieee_address", "is the coordinator's own address"));
        }
        let short = match d.opt("nwk_address") {
            None | Some(Value::Null) => UNKNOWN_SHORT_ADDR,
            Some(_) => ShortAddr(d.hex_u16("nwk_address", true)?),
        };
        let is_child = match d.opt("is_child") {
            None => true, // zigpy's default when the field is absent
            Some(_) => d.bool("is_child")?,
        };
        let (mut tclk, mut rx) = (None, None);
        if let Some(lk) = d.opt_obj("link_key")? {
            let key = lk.key("key")?;
            aps_fc = aps_fc.max(lk.uint("tx_counter", u32::MAX as u64)? as u32);
            let r = lk.uint("rx_counter", u32::MAX as u64)? as u32;
            rx = (r > 0).then_some(r);
            if key != Key::well_known_tc_link_key() {
                tclk = Some(key);
            }
        }
        let rec = DeviceRecord {
            ieee,
            short_addr: short,
            capability: 0,
            join_method: JoinMethod::Restored,
            parent: if is_child { ShortAddr::COORDINATOR } else { UNKNOWN_SHORT_ADDR },
            tclk_verified: tclk.is_some(),
            tclk,
            last_key_seq: None,
            last_key_hash: None,
            last_seen: now,
            incoming_nwk_counter: None,
            stale_nwk_counters: Vec::new(),
            incoming_aps_counter: rx,
            tombstoned: false,
        };
        if devices.insert(ieee, rec).is_some() {
            return Err(d.bad("ieee_address", format!("device {ieee} is listed twice")));
        }
    }

    let mut writes = vec![StoreWrite::Network(NetworkConfig {
        pan_id: PanId(pan),
        extended_pan_id: epid,
        channel,
        tc_ieee,
        nwk_update_id,
    })];
    let mut active_record = NetworkKeyRecord {
        seq: net_seq,
        key: net_key,
        exposed: true,
        exposure: Some("restored from a backup: who read it before is unknown".into()),
        created_at: now,
    };

    if let Some(z) = &zig {
        // Key history: the standard network_key wins for its sequence number; the zigtrust
        // entry only contributes `exposed`/`created_at`, and only if it is the same key.
        let keys = z.arr("network_keys")?;
        for (i, item) in keys.items.iter().enumerate() {
            let k = Obj::new(item, format!("{}[{i}]", keys.path))?;
            let rec = NetworkKeyRecord {
                seq: k.uint("seq", 255)? as u8,
                key: k.key("key")?,
                exposed: k.bool("exposed")?,
                exposure: k.opt_string("exposure")?,
                created_at: k.uint("created_at", i64::MAX as u64)?,
            };
            if rec.seq != net_seq {
                writes.push(StoreWrite::NetworkKey(rec));
            } else if rec.key == active_record.key {
                active_record = rec;
            }
        }
        let zdevs = z.arr("devices")?;
        for (i, item) in zdevs.items.iter().enumerate() {
            let d = Obj::new(item, format!("{}[{i}]", zdevs.path))?;
            let ieee = d.ieee("ieee")?;
            let tombstoned = d.bool("tombstoned")?;
            let verified = d.bool("tclk_verified")?;
            let rec = match devices.get_mut(&ieee) {
                Some(r) => r,
                None if tombstoned => {
                    let tclk = match d.opt("tclk") {
                        None | Some(Value::Null) => None,
                        Some(_) => Some(d.key("tclk")?),
                    };
                    devices.entry(ieee).or_insert(DeviceRecord {
                        ieee,
                        short_addr: ShortAddr(d.hex_u16("nwk_address", false)?),
                        capability: 0,
                        join_method: JoinMethod::Restored,
                        parent: UNKNOWN_SHORT_ADDR,
                        tclk_verified: tclk.is_some(),
                        tclk,
                        last_key_seq: None,
                        last_key_hash: None,
                        last_seen: now,
                        incoming_nwk_counter: None,
                        stale_nwk_counters: Vec::new(),
                        incoming_aps_counter: None,
                        tombstoned: true,
                    })
                }
                None => {
                    return Err(d.bad(
                        "ieee",
                        format!("device {ieee} is not in $.devices and not tombstoned"),
                    ))
                }
            };
            rec.capability = d.uint("capability", 255)? as u8;
            rec.parent = ShortAddr(d.hex_u16("parent", false)?);
            rec.tclk_verified &= verified; // may only lower trust
            rec.last_key_seq = d.opt_uint("last_key_seq", 255)?.map(|v| v as u8);
            rec.last_key_hash = d.opt_uint("last_key_hash", u32::MAX as u64)?.map(|v| v as u32);
            rec.last_seen = d.uint("last_seen", i64::MAX as u64)?;
            rec.incoming_nwk_counter =
                d.opt_uint("incoming_nwk_counter", u32::MAX as u64)?.map(|v| v as u32);
            if d.opt("stale_nwk_counters").is_some() {
                rec.stale_nwk_counters = d.name("stale_nwk_counters", parse_stale_counters)?;
            }
            rec.incoming_aps_counter =
                d.opt_uint("incoming_aps_counter", u32::MAX as u64)?.map(|v| v as u32);
            rec.tombstoned |= tombstoned;
        }
        let codes = z.arr("install_codes")?;
        for (i, item) in codes.items.iter().enumerate() {
            let c = Obj::new(item, format!("{}[{i}]", codes.path))?;
            writes.push(StoreWrite::InstallCode { ieee: c.ieee("ieee")?, key: c.key("key")? });
        }
        if let Some(p) = z.opt_obj("policy")? {
            writes.push(StoreWrite::Policy(Policy {
                legacy_join: p.name("legacy_join", parse_legacy_join)?,
                insecure_rejoin: p.name("insecure_rejoin", parse_insecure_rejoin)?,
                spoof_response: p.name("spoof_response", parse_spoof_response)?,
                allow_list: p.ieee_list("allow_list")?,
                deny_list: p.ieee_list("deny_list")?,
                rotate_after_legacy_window: p.bool("rotate_after_legacy_window")?,
                rotate_after_removal: match p.opt("rotate_after_removal") {
                    None => RemovalRotation::Routers,
                    Some(_) => p.name("rotate_after_removal", parse_removal_rotation)?,
                },
            }));
        }
    }

    writes.push(StoreWrite::NetworkKey(active_record));
    writes.push(StoreWrite::ActiveKeySeq(net_seq));
    writes.push(StoreWrite::CounterLease {
        kind: CounterKind::Nwk,
        until: nwk_fc.saturating_add(RESTORE_COUNTER_MARGIN),
    });
    writes.push(StoreWrite::CounterLease {
        kind: CounterKind::Aps,
        until: aps_fc.saturating_add(RESTORE_COUNTER_MARGIN),
    });
    let n_devices = devices.len();
    let n_keys = devices.values().filter(|d| d.tclk.is_some()).count();
    writes.extend(devices.into_values().map(StoreWrite::Device));
    writes.push(StoreWrite::Audit(AuditEntry {
        time: now,
        severity: Severity::Warning,
        kind: "backup-imported".into(),
        ieee: None,
        detail: format!(
            "restored network {} (PAN {}, channel {channel}, key seq {net_seq}) from a backup \
             by {source}: {n_devices} devices, {n_keys} unique link keys",
            ExtAddr(epid),
            PanId(pan)
        ),
    }));
    Ok(writes)
}

/// zigpy's form: 16 hex digits, display order.
fn ieee_hex(a: ExtAddr) -> String {
    format!("{:016x}", a.0)
}

fn field(path: &str, problem: impl Into<String>) -> BackupError {
    BackupError::Field { path: path.to_string(), problem: problem.into() }
}

/// Strict hex: only hex digits, exactly `len` bytes.
fn parse_hex(s: &str, len: usize) -> Result<Vec<u8>, String> {
    check_hex(s, len)?;
    Ok((0..len).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0)).collect())
}

fn check_hex(s: &str, len: usize) -> Result<(), String> {
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!("invalid character {c:?} at position {i} (expected hex digits)"));
    }
    if s.len() != 2 * len {
        return Err(format!("{} hex digits, expected {}", s.len(), 2 * len));
    }
    Ok(())
}

/// A JSON object with its path, for validating accessors whose errors name the field.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

struct Arr<'a> {
    items: &'a [Value],
    path: String,
}

impl<'a> Obj<'a> {
    fn root(v: &'a Value) -> Result<Obj<'a>, BackupError> {
        Obj::new(v, "$".into())
    }

    fn new(v: &'a Value, path: String) -> Result<Obj<'a>, BackupError> {
        match v {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(field(&path, format!("expected an object, found {}", kind(other)))),
        }
    }

    fn at(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    fn bad(&self, name: &str, problem: impl Into<String>) -> BackupError {
        field(&self.at(name), problem)
    }

    fn opt(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name)
    }

    fn req(&self, name: &str) -> Result<&'a Value, BackupError> {
        self.map.get(name).ok_or_else(|| self.bad(name, "missing"))
    }

    fn obj(&self, name: &str) -> Result<Obj<'a>, BackupError> {
        Obj::new(self.req(name)?, self.at(name))
    }

    fn opt_obj(&self, name: &str) -> Result<Option<Obj<'a>>, BackupError> {
        self.opt(name).map(|v| Obj::new(v, self.at(name))).transpose()
    }

    fn arr(&self, name: &str) -> Result<Arr<'a>, BackupError> {
        match self.req(name)? {
            Value::Array(items) => Ok(Arr { items, path: self.at(name) }),
            other => Err(self.bad(name, format!("expected an array, found {}", kind(other)))),
        }
    }

    fn str(&self, name: &str) -> Result<&'a str, BackupError> {
        match self.req(name)? {
            Value::String(s) => Ok(s),
            other => Err(self.bad(name, format!("expected a string, found {}", kind(other)))),
        }
    }

    fn bool(&self, name: &str) -> Result<bool, BackupError> {
        match self.req(name)? {
            Value::Bool(b) => Ok(*b),
            other => Err(self.bad(name, format!("expected true or false, found {}", kind(other)))),
        }
    }

    fn uint(&self, name: &str, max: u64) -> Result<u64, BackupError> {
        let v = self.req(name)?;
        match v.as_u64() {
            Some(n) if n <= max => Ok(n),
            _ => Err(self.bad(name, format!("{v} is not an integer in 0..={max}"))),
        }
    }

    /// Absent or null → `None`; otherwise an integer in `0..=max`.
    fn opt_string(&self, name: &str) -> Result<Option<String>, BackupError> {
        match self.opt(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(name, "expected a string or null")),
        }
    }

    fn opt_uint(&self, name: &str, max: u64) -> Result<Option<u64>, BackupError> {
        match self.opt(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.uint(name, max).map(Some),
        }
    }

    fn hex(&self, name: &str, len: usize) -> Result<Vec<u8>, BackupError> {
        parse_hex(self.str(name)?, len).map_err(|p| self.bad(name, p))
    }

    /// Straight into the zeroizing `Key` (`Key::from_hex` wipes its buffer) once the text is
    /// known to be exactly 32 hex digits.
    fn key(&self, name: &str) -> Result<Key, BackupError> {
        let s = self.str(name)?;
        check_hex(s, 16).map_err(|p| self.bad(name, p))?;
        Key::from_hex(s).map_err(|e| self.bad(name, e.to_string()))
    }

    fn u64_hex(&self, name: &str) -> Result<u64, BackupError> {
        let b = self.hex(name, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_be_bytes(a))
    }

    /// A device or coordinator IEEE address: display-order hex, not all-zero / all-ones.
    fn ieee(&self, name: &str) -> Result<ExtAddr, BackupError> {
        let v = self.u64_hex(name)?;
        if v == 0 || v == u64::MAX {
            return Err(self.bad(name, format!("{} is not a device address", ExtAddr(v))));
        }
        Ok(ExtAddr(v))
    }

    /// A 16-bit value as 4 hex digits; with `short_ok`, 1–3 digits too (Zigbee2MQTT writes
    /// NWK addresses unpadded, and zigpy reads them with `zfill(4)`).
    fn hex_u16(&self, name: &str, short_ok: bool) -> Result<u16, BackupError> {
        let s = self.str(name)?;
        let padded =
            if short_ok && (1..4).contains(&s.len()) { format!("{s:0>4}") } else { s.into() };
        let b = parse_hex(&padded, 2).map_err(|p| self.bad(name, p))?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn name<T>(&self, name: &str, parse: fn(&str) -> Option<T>) -> Result<T, BackupError> {
        let s = self.str(name)?;
        parse(s).ok_or_else(|| self.bad(name, format!("unknown value {s:?}")))
    }

    fn ieee_list(&self, name: &str) -> Result<Vec<ExtAddr>, BackupError> {
        let a = self.arr(name)?;
        a.items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let p = format!("{}[{i}]", a.path);
                let s = v.as_str().ok_or_else(|| field(&p, "expected a string"))?;
                let b = parse_hex(s, 8).map_err(|e| field(&p, e))?;
                Ok(ExtAddr(u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))))
            })
            .collect()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `2024-05-01T12:00:00.123000+00:00`: what Python's `datetime.fromisoformat` reads.
fn iso8601(ms: Millis) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}000+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000000+00:00");
        assert_eq!(iso8601(1_714_564_800_123), "2024-05-01T12:00:00.123000+00:00");
    }

    #[test]
    fn hex_is_strict() {
        assert_eq!(parse_hex("00ff", 2).unwrap(), vec![0, 255]);
        assert!(parse_hex("00f", 2).is_err());
        assert!(parse_hex("00:f", 2).unwrap_err().contains("invalid character ':'"));
        assert!(parse_hex("0g00", 2).is_err());
    }
}
