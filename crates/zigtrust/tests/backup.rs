//! `zigtrust backup export|import` end to end, with zigpy 2.4.0 (`zigpy.backups`) as the oracle:
//! zigpy loads what we export and must understand every field the same way; zigpy writes a
//! backup, we import it and export again, and zigpy must see the same network. Malformed input
//! exits 2 and leaves the store untouched. Runs `python3 oracles/zigpy/backup.py`; fails (never
//! skips) if python3 or zigpy is missing — `scripts/test` installs them.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use zigtrust_crypto::Key;
use zigtrust_store::Store;
use zigtrust_tc::model::*;
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("backup");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
    }
    p
}

fn zigtrust(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zigtrust")).args(args).output().unwrap()
}

fn zigpy(request: &Value) -> Value {
    let v = zigtrust_testkit::zigpy::run("backup.py", request);
    assert!(v.get("error").is_none(), "zigpy refused: {v}");
    v
}

fn key(b: u8) -> Key {
    Key::from_bytes([b; 16])
}

fn device(n: u8, tclk: Option<Key>, parent: u16) -> DeviceRecord {
    DeviceRecord {
        ieee: ExtAddr(0x00158d00_0a0b0000 | u64::from(n)),
        short_addr: ShortAddr(0x3a00 + u16::from(n)),
        capability: 0x8e,
        join_method: JoinMethod::InstallCode,
        parent: ShortAddr(parent),
        tclk_verified: tclk.is_some(),
        tclk,
        last_key_seq: Some(1),
        last_key_hash: None,
        last_seen: 1_700_000_000_000,
        incoming_nwk_counter: Some(77),
        stale_nwk_counters: vec![],
        incoming_aps_counter: Some(u32::from(n) * 3),
        tombstoned: false,
    }
}

const NETWORK: NetworkConfig = NetworkConfig {
    pan_id: PanId(0x1a62),
    extended_pan_id: 0xdd01_0203_0405_0607,
    channel: 25,
    tc_ieee: ExtAddr(0x0012_4b00_1cdd_ee01),
    nwk_update_id: 4,
};

/// A store with a network, two keys, devices with and without unique TCLKs, a tombstone, a
/// device whose address is unknown, install codes, leases and a policy.
fn populated_store(path: &Path) -> Snapshot {
    let mut s = Store::open(path).unwrap();
    let mut tomb = device(9, Some(key(0x99)), 0);
    tomb.tombstoned = true;
    let mut lost = device(8, Some(key(0x88)), 0x3a01);
    lost.short_addr = ShortAddr(0xfffe);
    s.apply(&[
        StoreWrite::Network(NETWORK),
        StoreWrite::NetworkKey(NetworkKeyRecord {
            seq: 0,
            key: key(0xa0),
            exposed: true,
            exposure: None,
            created_at: 1,
        }),
        StoreWrite::NetworkKey(NetworkKeyRecord {
            seq: 1,
            key: key(0xa1),
            exposed: false,
            exposure: None,
            created_at: 2,
        }),
        StoreWrite::ActiveKeySeq(1),
        StoreWrite::Device(device(1, Some(key(0x11)), 0)),
        StoreWrite::Device(device(2, Some(key(0x22)), 0x3a01)),
        StoreWrite::Device(device(3, None, 0)),
        StoreWrite::Device(device(4, None, 0x3a01)),
        StoreWrite::Device(tomb),
        StoreWrite::Device(lost),
        StoreWrite::InstallCode { ieee: ExtAddr(0x42), key: key(0x42) },
        StoreWrite::CounterLease { kind: CounterKind::Nwk, until: 123_456 },
        StoreWrite::CounterLease { kind: CounterKind::Aps, until: 6_000 },
        StoreWrite::Policy(Policy::default()),
        StoreWrite::Audit(AuditEntry {
            time: 5,
            severity: Severity::Info,
            kind: "network-formed".into(),
            ieee: None,
            detail: "formed".into(),
        }),
    ])
    .unwrap();
    s.snapshot().unwrap()
}

fn export_file(db: &Path, out: &Path) -> Value {
    let o = zigtrust(&[
        "backup",
        "export",
        "--db",
        db.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

#[test]
fn zigpy_loads_our_export_field_by_field() {
    let db = tmp("export.db");
    let snap = populated_store(&db);
    let file = tmp("export.json");
    let ours = export_file(&db, &file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the backup holds keys: mode {mode:o}");
    }
    // stdout gives the same document (but for the creation time).
    let o = zigtrust(&["backup", "export", "--db", db.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let mut stdout: Value = serde_json::from_slice(&o.stdout).unwrap();
    stdout["metadata"]["internal"]["creation_time"] =
        ours["metadata"]["internal"]["creation_time"].clone();
    assert_eq!(stdout, ours);

    let z = zigpy(&json!({ "load": ours }));
    assert_eq!(z["is_complete"], true);
    assert_eq!(z["source"], format!("zigtrust@{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(
        z["node"],
        json!({"ieee": NETWORK.tc_ieee.to_string(), "nwk": 0, "logical_type": "coordinator"})
    );
    let n = &z["network"];
    assert_eq!(n["extended_pan_id"], ExtAddr(NETWORK.extended_pan_id).to_string());
    assert_eq!(n["pan_id"], NETWORK.pan_id.0);
    assert_eq!(n["channel"], NETWORK.channel);
    assert_eq!(n["channel_mask"], json!([NETWORK.channel]));
    assert_eq!(n["nwk_update_id"], NETWORK.nwk_update_id);
    assert_eq!(n["nwk_manager_id"], 0);
    assert_eq!(n["security_level"], 5);
    assert_eq!(
        n["network_key"],
        json!({"key": key(0xa1).to_hex(), "seq": 1, "tx_counter": 123_456})
    );
    assert_eq!(
        n["tc_link_key"],
        json!({"key": Key::well_known_tc_link_key().to_hex(), "tx_counter": 6_000, "partner_ieee": NETWORK.tc_ieee.to_string()})
    );
    // Our extra section survives in zigpy's NetworkInfo.metadata.
    assert_eq!(n["metadata"]["zigtrust"]["active_key_seq"], 1);
    assert_eq!(n["metadata"]["zigtrust"]["network_keys"][0]["exposed"], true);

    let want: Vec<Value> = snap
        .devices
        .iter()
        .filter(|d| !d.tombstoned)
        .map(|d| {
            json!({
                "ieee": d.ieee.to_string(),
                "nwk": (d.short_addr.0 != 0xfffe).then_some(d.short_addr.0),
                "is_child": d.parent.0 == 0,
                "link_key": d.tclk.as_ref().map(|k| json!({
                    "key": k.to_hex(), "tx_counter": 6_000,
                    "rx_counter": d.incoming_aps_counter.unwrap_or(0), "seq": 0,
                })),
            })
        })
        .collect();
    assert_eq!(z["devices"], json!(want));
    assert_eq!(want.len(), 5, "the tombstoned device is not offered to other stacks");
}

fn zigpy_params() -> Value {
    json!({
        "coordinator_ieee": "00:12:4b:00:29:aa:bb:cc",
        "pan_id": 0x9c41,
        "extended_pan_id": "5a:11:22:33:44:55:66:77",
        "channel": 15,
        "channel_mask": [11, 15, 20, 25],
        "nwk_update_id": 9,
        "security_level": 5,
        "network_key": {"key": "0f0e0d0c0b0a09080706050403020100", "seq": 3, "tx_counter": 987_654},
        "tc_link_key_tx_counter": 4_321,
        "source": "bellows@0.40.0",
        "devices": [
            {"ieee": "00:0d:6f:00:0a:90:11:01", "nwk": 0x0001, "is_child": true,
             "link_key": {"key": "101112131415161718191a1b1c1d1e1f", "tx_counter": 4_321, "rx_counter": 17, "seq": 0}},
            {"ieee": "00:0d:6f:00:0a:90:11:02", "nwk": 0xfe01, "is_child": false,
             "link_key": {"key": "202122232425262728292a2b2c2d2e2f", "tx_counter": 4_321, "rx_counter": 0, "seq": 0}},
            {"ieee": "00:0d:6f:00:0a:90:11:03", "nwk": 0x4e2a, "is_child": true, "link_key": null},
            {"ieee": "00:0d:6f:00:0a:90:11:04", "nwk": null, "is_child": false,
             "link_key": {"key": "404142434445464748494a4b4c4d4e4f", "tx_counter": 4_321, "rx_counter": 5, "seq": 0}},
            {"ieee": "00:0d:6f:00:0a:90:11:05", "nwk": 0x0ab0, "is_child": false, "link_key": null}
        ]
    })
}

#[test]
fn zigpy_backup_round_trips_through_our_store() {
    let theirs = zigpy(&json!({ "make": zigpy_params() }));
    let file = tmp("zigpy-made.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&theirs).unwrap()).unwrap();
    let db = tmp("from-zigpy.db");
    let o = zigtrust(&["backup", "import", "--db", db.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("5 devices"));

    let store = Store::open(&db).unwrap();
    let snap = store.snapshot().unwrap();
    assert!(snap.devices.iter().all(|d| d.join_method == JoinMethod::Restored));
    assert!(snap.devices.iter().all(|d| d.tclk_verified == d.tclk.is_some()));
    assert_eq!(snap.counter_leases, [(CounterKind::Nwk, 997_654), (CounterKind::Aps, 14_321)]);
    drop(store);

    let ours = export_file(&db, &tmp("reexport.json"));
    for k in [
        "coordinator_ieee",
        "pan_id",
        "extended_pan_id",
        "nwk_update_id",
        "security_level",
        "channel",
    ] {
        assert_eq!(ours[k], theirs[k], "{k}");
    }
    assert_eq!(ours["network_key"]["key"], theirs["network_key"]["key"]);
    assert_eq!(ours["network_key"]["sequence_number"], 3);
    assert_eq!(ours["network_key"]["frame_counter"], 987_654 + 10_000);

    // zigpy's view of both documents: same devices, keys and counters (ours moved up by the
    // restore margin), and zigpy considers our export the same network, and newer.
    let [a, b] = [zigpy(&json!({"load": ours})), zigpy(&json!({"load": theirs}))];
    let strip = |devs: &Value| -> Value {
        let mut d = devs.clone();
        for x in d.as_array_mut().unwrap() {
            if x["link_key"].is_object() {
                x["link_key"]["tx_counter"] = json!(0);
            }
        }
        d
    };
    assert_eq!(strip(&a["devices"]), strip(&b["devices"]));
    assert_eq!(a["devices"].as_array().unwrap().len(), 5);
    assert_eq!(a["devices"][0]["link_key"]["tx_counter"], 14_321);
    for k in ["extended_pan_id", "pan_id", "nwk_update_id", "channel", "security_level"] {
        assert_eq!(a["network"][k], b["network"][k], "{k}");
    }
    assert_eq!(a["network"]["tc_link_key"]["key"], b["network"]["tc_link_key"]["key"]);
    assert_eq!(a["node"], b["node"]);
    let c = zigpy(&json!({"compatible": [ours, theirs]}));
    assert_eq!(c, json!({"compatible": true, "supersedes": true}));
}

#[test]
fn bad_backups_exit_2_and_leave_the_store_unchanged() {
    let db = tmp("keep.db");
    populated_store(&db);
    let before = Store::open(&db).unwrap();
    let (snap, log) = (before.snapshot().unwrap(), before.audit_log(100, None).unwrap());
    drop(before);
    let good_path = tmp("good.json");
    let good = export_file(&db, &good_path);

    let mut variants: Vec<(&str, String, &str)> = vec![
        ("not-json", "{ this is not json".into(), "not JSON (line 1"),
        ("empty", String::new(), "not JSON"),
    ];
    let mut edit = |name: &'static str, f: &dyn Fn(&mut Value), msg: &'static str| {
        let mut v = good.clone();
        f(&mut v);
        variants.push((name, v.to_string(), msg));
    };
    edit(
        "bad-key-hex",
        &|v| v["network_key"]["key"] = json!("xx".repeat(16)),
        "$.network_key.key: invalid character 'x'",
    );
    edit(
        "short-link-key",
        &|v| v["devices"][0]["link_key"]["key"] = json!("11".repeat(8)),
        "$.devices[0].link_key.key: 16 hex digits, expected 32",
    );
    edit(
        "no-channel",
        &|v| {
            v.as_object_mut().unwrap().remove("channel");
        },
        "$.channel: missing",
    );
    edit("wrong-format", &|v| v["metadata"]["format"] = json!("z2m/whatever"), "$.metadata.format");
    edit(
        "wrong-version",
        &|v| v["metadata"]["version"] = json!(2),
        "$.metadata.version: 2 is not supported",
    );
    edit(
        "bad-ieee",
        &|v| v["devices"][2]["ieee_address"] = json!("00158d000a0b00"),
        "$.devices[2].ieee_address: 14 hex digits",
    );
    // Valid, but of another network: refused, not merged.
    edit("other-network", &|v| v["extended_pan_id"] = json!("0102030405060708"), "refusing to mix");
    for (name, text, msg) in &variants {
        let f = tmp(&format!("bad-{name}.json"));
        std::fs::write(&f, text).unwrap();
        let o = zigtrust(&["backup", "import", "--db", db.to_str().unwrap(), f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(msg), "{name}: {err}");
        assert!(!err.contains(&"a1".repeat(16)), "{name}: key in message: {err}");
        let after = Store::open(&db).unwrap();
        assert_eq!(after.snapshot().unwrap(), snap, "{name}");
        assert_eq!(after.audit_log(100, None).unwrap(), log, "{name}");

        // A bad backup does not leave a new, empty store behind either.
        let fresh = tmp(&format!("fresh-{name}.db"));
        let o =
            zigtrust(&["backup", "import", "--db", fresh.to_str().unwrap(), f.to_str().unwrap()]);
        if *name != "other-network" {
            assert_eq!(o.status.code(), Some(2), "{name}");
            assert!(!fresh.exists(), "{name}: created {}", fresh.display());
        }
    }
    // Re-importing our own export into the same store is fine (same network).
    let o =
        zigtrust(&["backup", "import", "--db", db.to_str().unwrap(), good_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let missing =
        zigtrust(&["backup", "import", "--db", db.to_str().unwrap(), "/nonexistent/b.json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/b.json: cannot read"));
}

#[test]
fn export_refuses_missing_corrupt_and_empty_stores() {
    let missing = tmp("nope.db");
    let o = zigtrust(&["backup", "export", "--db", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nope.db: no such store"), "{err}");
    assert!(!missing.exists(), "export must not create a store");

    let junk = tmp("junk.db");
    std::fs::write(&junk, vec![0x5au8; 4096]).unwrap();
    let o = zigtrust(&["backup", "export", "--db", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("junk.db: not a zigtrust store"));

    let empty = tmp("empty.db");
    drop(Store::open(&empty).unwrap());
    let out = tmp("empty.json");
    let o = zigtrust(&[
        "backup",
        "export",
        "--db",
        empty.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no network has been formed"));
    assert!(!out.exists());
    assert!(o.stdout.is_empty());
}
