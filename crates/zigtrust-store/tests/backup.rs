//! Open ZigBee Coordinator Backup export/import against our own store: a full round trip, the
//! import decisions (Restored, verified TCLKs, exposed keys, counter margin), and validation
//! errors that name the JSON path of the bad field. zigpy itself is checked in
//! `crates/zigtrust/tests/backup.rs`.

use serde_json::{json, Value};
use zigtrust_crypto::Key;
use zigtrust_store::backup::{self, BackupError, RESTORE_COUNTER_MARGIN};
use zigtrust_store::Store;
use zigtrust_tc::model::*;
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

const NOW: Millis = 1_714_564_800_000;

fn key(b: u8) -> Key {
    Key::from_bytes([b; 16])
}

fn dev(n: u8, tclk: Option<Key>, verified: bool, parent: u16) -> DeviceRecord {
    DeviceRecord {
        ieee: ExtAddr(0x0017_8801_0000_0000 | u64::from(n)),
        short_addr: ShortAddr(0x2000 + u16::from(n)),
        capability: 0x80 | n,
        join_method: JoinMethod::InstallCode,
        parent: ShortAddr(parent),
        tclk,
        tclk_verified: verified,
        last_key_seq: Some(n % 3),
        last_key_hash: None,
        last_seen: 1_000 * u64::from(n),
        incoming_nwk_counter: Some(u32::from(n) * 100),
        stale_nwk_counters: vec![],
        incoming_aps_counter: (n.is_multiple_of(2)).then_some(u32::from(n)),
        tombstoned: false,
    }
}

fn source_snapshot() -> Snapshot {
    let mut tomb = dev(5, Some(key(0x55)), true, 0x2001);
    tomb.tombstoned = true;
    let mut unknown_addr = dev(6, None, false, 0xfffe);
    unknown_addr.short_addr = ShortAddr(0xfffe);
    Snapshot {
        network: Some(NetworkConfig {
            pan_id: PanId(0x1a62),
            extended_pan_id: 0xdddd_dddd_dddd_dd01,
            channel: 20,
            tc_ieee: ExtAddr(0x0012_4b00_0102_0304),
            nwk_update_id: 7,
        }),
        network_keys: vec![
            NetworkKeyRecord {
                seq: 0,
                key: key(0xa0),
                exposed: true,
                exposure: None,
                created_at: 10,
            },
            NetworkKeyRecord {
                seq: 1,
                key: key(0xa1),
                exposed: false,
                exposure: None,
                created_at: 20,
            },
        ],
        active_key_seq: Some(1),
        devices: vec![
            dev(1, Some(key(0x11)), true, 0),
            dev(2, Some(key(0x22)), false, 0x2001), // install-code key, not yet verified
            dev(3, None, false, 0),                 // well-known key only
            dev(4, Some(Key::well_known_tc_link_key()), false, 0),
            tomb,
            unknown_addr,
        ],
        install_codes: vec![(ExtAddr(0x77), key(0x77))],
        counter_leases: vec![(CounterKind::Nwk, 40_000), (CounterKind::Aps, 9_000)],
        policy: Some(Policy {
            legacy_join: LegacyJoinPolicy::InstallCodeRequired,
            insecure_rejoin: InsecureRejoinPolicy::Deny,
            spoof_response: SpoofResponse::Ignore,
            allow_list: vec![ExtAddr(1)],
            deny_list: vec![ExtAddr(2), ExtAddr(3)],
            rotate_after_legacy_window: true,
            rotate_after_removal: zigtrust_tc::model::RemovalRotation::Routers,
        }),
        ..Snapshot::default()
    }
}

fn exported() -> Value {
    backup::export(&source_snapshot(), NOW, "9.9.9").unwrap()
}

fn restore(v: &Value) -> Store {
    let writes = backup::import(&v.to_string(), NOW).unwrap();
    let mut s = Store::open_in_memory().unwrap();
    s.apply(&writes).unwrap();
    s
}

#[test]
fn export_has_zigpys_layout_and_byte_orders() {
    let v = exported();
    assert_eq!(v["metadata"]["format"], "zigpy/open-coordinator-backup");
    assert_eq!(v["metadata"]["version"], 1);
    assert_eq!(v["metadata"]["source"], "zigtrust@9.9.9");
    assert_eq!(v["metadata"]["internal"]["creation_time"], "2024-05-01T12:00:00.000000+00:00");
    assert_eq!(v["coordinator_ieee"], "00124b0001020304");
    assert_eq!(v["pan_id"], "1a62");
    assert_eq!(v["extended_pan_id"], "dddddddddddddd01");
    assert_eq!(v["security_level"], 5);
    assert_eq!(v["channel_mask"], json!([20]));
    assert_eq!(
        v["network_key"],
        json!({"key": "a1".repeat(16), "sequence_number": 1, "frame_counter": 40_000})
    );
    let devices = v["devices"].as_array().unwrap();
    let ieees: Vec<&str> = devices.iter().map(|d| d["ieee_address"].as_str().unwrap()).collect();
    // Sorted, tombstoned device 5 left out (another stack must not re-admit it).
    assert_eq!(
        ieees,
        [
            "0017880100000001",
            "0017880100000002",
            "0017880100000003",
            "0017880100000004",
            "0017880100000006"
        ]
    );
    assert_eq!(devices[0]["nwk_address"], "2001");
    assert_eq!(devices[0]["is_child"], true);
    assert_eq!(devices[1]["is_child"], false);
    assert_eq!(
        devices[0]["link_key"],
        json!({"key": "11".repeat(16), "tx_counter": 9000, "rx_counter": 0})
    );
    assert_eq!(devices[1]["link_key"]["rx_counter"], 2);
    assert!(devices[2].get("link_key").is_none());
    assert_eq!(devices[4]["nwk_address"], Value::Null);
    let z = &v["metadata"]["internal"]["zigtrust"];
    assert_eq!(z["network_keys"][0]["exposed"], true);
    assert_eq!(z["network_keys"][1]["exposed"], false);
    assert_eq!(z["devices"][4]["tombstoned"], true);
    assert_eq!(z["devices"][4]["tclk"], "55".repeat(16));
    assert_eq!(z["policy"]["deny_list"], json!(["0000000000000002", "0000000000000003"]));
}

#[test]
fn import_restores_our_export() {
    let src = source_snapshot();
    let s = restore(&exported());
    let got = s.snapshot().unwrap();
    assert_eq!(got.network, src.network);
    assert_eq!(got.network_keys, src.network_keys, "exposed flags and created_at come back");
    assert_eq!(got.active_key_seq, Some(1));
    assert_eq!(got.install_codes, src.install_codes);
    assert_eq!(got.policy, src.policy);
    assert_eq!(
        got.counter_leases,
        [
            (CounterKind::Nwk, 40_000 + RESTORE_COUNTER_MARGIN),
            (CounterKind::Aps, 9_000 + RESTORE_COUNTER_MARGIN)
        ]
    );
    let mut want = src.devices.clone();
    for d in &mut want {
        d.join_method = JoinMethod::Restored;
        if d.tclk.as_ref() == Some(&Key::well_known_tc_link_key()) {
            d.tclk = None; // the well-known key is no unique key
        }
        d.tclk_verified = d.tclk.is_some() && d.tclk_verified;
    }
    assert_eq!(got.devices, want);
    let log = s.audit_log(10, None).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].1.kind, "backup-imported");
    assert!(log[0].1.detail.contains("zigtrust@9.9.9") && log[0].1.detail.contains("6 devices"));
    assert!(!log[0].1.detail.contains(&"a1".repeat(16)));
    // And the restored store exports the same network again (counters moved up by the margin).
    let again = backup::export(&got, NOW, "9.9.9").unwrap();
    let mut orig = exported();
    orig["network_key"]["frame_counter"] = json!(40_000 + RESTORE_COUNTER_MARGIN);
    for d in orig["devices"].as_array_mut().unwrap() {
        if d.get("link_key").is_some() {
            d["link_key"]["tx_counter"] = json!(9_000 + RESTORE_COUNTER_MARGIN);
        }
        if d["ieee_address"] == "0017880100000004" {
            d.as_object_mut().unwrap().remove("link_key");
        }
    }
    for k in ["network_key", "devices", "coordinator_ieee", "pan_id", "extended_pan_id", "channel"]
    {
        assert_eq!(again[k], orig[k], "{k}");
    }
}

#[test]
fn foreign_backup_defaults() {
    // Zigbee2MQTT-style: unpadded NWK address, no is_child, no internal section.
    let v = json!({
        "metadata": {"format": "zigpy/open-coordinator-backup", "version": 1, "source": "zigbee-herdsman@0.50.0"},
        "coordinator_ieee": "00124B0001020304",
        "pan_id": "1a62", "extended_pan_id": "dddddddddddddd01", "nwk_update_id": 0,
        "security_level": 5, "channel": 11, "channel_mask": [11],
        "network_key": {"key": "0102030405060708090a0b0c0d0e0f10", "sequence_number": 0, "frame_counter": 5},
        "devices": [
            {"ieee_address": "0017880100000001", "nwk_address": "abc",
             "link_key": {"key": "11111111111111111111111111111111", "tx_counter": 3, "rx_counter": 0}},
            {"ieee_address": "0017880100000002", "nwk_address": "1234", "is_child": false,
             "link_key": {"key": "5a6967426565416c6c69616e63653039", "tx_counter": 900, "rx_counter": 12}}
        ]
    });
    let s = restore(&v);
    let snap = s.snapshot().unwrap();
    assert_eq!(snap.network.unwrap().tc_ieee, ExtAddr(0x0012_4b00_0102_0304));
    assert!(snap.network_keys[0].exposed, "a foreign network key is assumed exposed");
    assert_eq!(snap.network_keys[0].created_at, NOW);
    let d = &snap.devices;
    assert_eq!((d[0].short_addr, d[0].parent), (ShortAddr(0x0abc), ShortAddr(0)));
    assert_eq!(d[0].tclk, Some(key(0x11)));
    assert!(d[0].tclk_verified);
    assert_eq!(d[0].incoming_aps_counter, None);
    assert_eq!(d[0].join_method, JoinMethod::Restored);
    assert_eq!(
        (d[1].parent, d[1].tclk.clone(), d[1].tclk_verified),
        (ShortAddr(0xfffe), None, false)
    );
    assert_eq!(d[1].incoming_aps_counter, Some(12));
    assert_eq!(
        snap.counter_leases,
        [
            (CounterKind::Nwk, 5 + RESTORE_COUNTER_MARGIN),
            (CounterKind::Aps, 900 + RESTORE_COUNTER_MARGIN)
        ]
    );
    assert_eq!(snap.policy, None);
}

#[test]
fn stale_zigtrust_section_never_overrides_the_standard_key() {
    let mut v = exported();
    v["network_key"]["key"] = json!("c3".repeat(16)); // another tool rotated the key
    let snap = restore(&v).snapshot().unwrap();
    let active = snap.network_keys.iter().find(|k| k.seq == 1).unwrap();
    assert_eq!(active.key, key(0xc3));
    assert!(active.exposed && active.created_at == NOW);
}

fn set(v: &mut Value, path: &[&str], new: Option<Value>) {
    let (last, parents) = path.split_last().unwrap();
    let mut cur = v;
    for p in parents {
        cur = match p.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[*p],
        };
    }
    match (new, last.parse::<usize>()) {
        (Some(n), Ok(i)) => cur[i] = n,
        (Some(n), Err(_)) => cur[*last] = n,
        (None, _) => {
            cur.as_object_mut().unwrap().remove(*last);
        }
    }
}

#[test]
fn invalid_backups_name_the_bad_field() {
    let secret = "a1".repeat(16);
    let cases: Vec<(&[&str], Option<Value>, &str)> = vec![
        (&["metadata", "format"], Some(json!("z2m")), "$.metadata.format: is \"z2m\""),
        (&["metadata", "version"], Some(json!(2)), "$.metadata.version: 2 is not supported"),
        (&["metadata"], None, "$.metadata: missing"),
        (&["network_key", "key"], None, "$.network_key.key: missing"),
        (
            &["network_key", "key"],
            Some(json!("zz".repeat(16))),
            "$.network_key.key: invalid character 'z'",
        ),
        (
            &["network_key", "key"],
            Some(json!("a1".repeat(15))),
            "$.network_key.key: 30 hex digits, expected 32",
        ),
        (
            &["network_key", "key"],
            Some(json!(17)),
            "$.network_key.key: expected a string, found a number",
        ),
        (
            &["network_key", "frame_counter"],
            Some(json!(4_294_967_296u64)),
            "$.network_key.frame_counter: 4294967296 is not an integer",
        ),
        (
            &["network_key", "sequence_number"],
            Some(json!(-1)),
            "$.network_key.sequence_number: -1 is not",
        ),
        (&["channel"], Some(json!(27)), "$.channel: 27 is not a 2.4 GHz channel"),
        (&["channel_mask", "0"], Some(json!(5)), "$.channel_mask[0]: 5 is not a channel"),
        (&["security_level"], Some(json!(0)), "$.security_level: 0 is not supported"),
        (&["pan_id"], Some(json!("1a6")), "$.pan_id: 3 hex digits, expected 4"),
        (&["pan_id"], Some(json!("ffff")), "$.pan_id: ffff is the broadcast"),
        (&["extended_pan_id"], Some(json!("dd:dd")), "$.extended_pan_id: invalid character ':'"),
        (
            &["coordinator_ieee"],
            Some(json!("0000000000000000")),
            "$.coordinator_ieee: 00:00:00:00:00:00:00:00 is not a device address",
        ),
        (&["devices"], Some(json!({})), "$.devices: expected an array, found an object"),
        (
            &["devices", "1", "ieee_address"],
            Some(json!("0017")),
            "$.devices[1].ieee_address: 4 hex digits",
        ),
        (
            &["devices", "1", "ieee_address"],
            Some(json!("0017880100000001")),
            "$.devices[1].ieee_address: device 00:17:88:01:00:00:00:01 is listed twice",
        ),
        (
            &["devices", "1", "ieee_address"],
            Some(json!("00124b0001020304")),
            "is the coordinator's own address",
        ),
        (
            &["devices", "0", "nwk_address"],
            Some(json!("12345")),
            "$.devices[0].nwk_address: 5 hex digits",
        ),
        (
            &["devices", "0", "is_child"],
            Some(json!("yes")),
            "$.devices[0].is_child: expected true or false",
        ),
        (
            &["devices", "0", "link_key", "key"],
            Some(json!("11".repeat(17))),
            "$.devices[0].link_key.key: 34 hex digits",
        ),
        (
            &["devices", "0", "link_key", "rx_counter"],
            None,
            "$.devices[0].link_key.rx_counter: missing",
        ),
        (&["devices", "0"], Some(json!([])), "$.devices[0]: expected an object, found an array"),
        (
            &["metadata", "internal", "zigtrust", "version"],
            Some(json!(9)),
            "$.metadata.internal.zigtrust.version",
        ),
        (
            &["metadata", "internal", "zigtrust", "policy", "legacy_join"],
            Some(json!("yes")),
            "$.metadata.internal.zigtrust.policy.legacy_join: unknown value \"yes\"",
        ),
        (
            &["metadata", "internal", "zigtrust", "network_keys", "0", "key"],
            Some(json!("00")),
            "$.metadata.internal.zigtrust.network_keys[0].key: 2 hex digits",
        ),
        (
            &["metadata", "internal", "zigtrust", "devices", "0", "ieee"],
            Some(json!("00000000000000ff")),
            "not in $.devices and not tombstoned",
        ),
        (
            &["metadata", "internal", "zigtrust", "install_codes", "0", "ieee"],
            Some(json!(1)),
            "$.metadata.internal.zigtrust.install_codes[0].ieee: expected a string",
        ),
        (
            &["metadata", "internal", "network", "tc_link_key", "frame_counter"],
            Some(json!("x")),
            "$.metadata.internal.network.tc_link_key.frame_counter",
        ),
    ];
    for (path, new, want) in cases {
        let mut v = exported();
        set(&mut v, path, new);
        let e = backup::import(&v.to_string(), NOW).unwrap_err();
        assert!(matches!(e, BackupError::Field { .. }), "{path:?}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(want), "{path:?}: got {msg:?}, want {want:?}");
        assert!(!msg.contains(&secret) && !msg.contains(&"11".repeat(16)), "key leaked: {msg}");
    }
    let e = backup::import("{\"metadata\": ", NOW).unwrap_err();
    assert!(matches!(e, BackupError::Syntax { line: 1, .. }), "{e:?}");
    assert_eq!(
        backup::import("[]", NOW).unwrap_err().to_string(),
        "$: expected an object, found an array"
    );
}

#[test]
fn export_needs_a_network_and_its_active_key() {
    let mut snap = source_snapshot();
    snap.active_key_seq = Some(9);
    assert!(backup::export(&snap, NOW, "x").unwrap_err().to_string().contains("seq 9"));
    snap.active_key_seq = None;
    assert!(backup::export(&snap, NOW, "x")
        .unwrap_err()
        .to_string()
        .contains("no active network key"));
    snap.network = None;
    assert_eq!(
        backup::export(&snap, NOW, "x").unwrap_err().to_string(),
        "nothing to back up: no network has been formed"
    );
}

/// A backup whose network frame counter is near the top (e.g. from a coordinator that ran for
/// years) restores a Trust Center that rotates the key straight away, instead of ever wrapping
/// its counter; a counter at the very top imports saturated, never wrapped.
#[test]
fn importing_counters_near_the_top_schedules_a_rotation() {
    for fc in [zigtrust_tc::NWK_COUNTER_ROTATE_AT - 5_000, u32::MAX] {
        let mut v = exported();
        v["network_key"]["frame_counter"] = serde_json::json!(fc);
        let s = restore(&v);
        let snap = s.snapshot().unwrap();
        let lease = snap.counter_leases.iter().find(|(k, _)| *k == CounterKind::Nwk).unwrap().1;
        assert!(lease >= fc.min(zigtrust_tc::NWK_COUNTER_ROTATE_AT), "{lease}");
        let mut tc = zigtrust_tc::TrustCenter::new(snap, [1; 32], NOW);
        tc.handle_timeout(NOW + 1);
        assert!(tc.rotation_pending().is_some(), "fc {fc}: the restored TC rotates");
        drop(tc.take_batch());
    }
}
