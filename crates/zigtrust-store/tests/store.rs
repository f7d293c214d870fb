//! The store against its contract: every write round-trips, batches are atomic, leases only
//! grow, state survives reopening (and SIGKILL), damaged files and values are errors, never
//! panics; and arbitrary write sequences agree with a plain in-memory model.

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use zigtrust_crypto::Key;
use zigtrust_store::{Store, StoreError, SCHEMA_VERSION};
use zigtrust_tc::model::*;
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

/// A fresh path under the target's temp dir (no leftovers from earlier runs).
fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
    }
    p
}

fn key(b: u8) -> Key {
    Key::from_bytes([b; 16])
}

fn network() -> NetworkConfig {
    NetworkConfig {
        pan_id: PanId(0x1a62),
        extended_pan_id: 0xdddd_dddd_dddd_dddd,
        channel: 15,
        tc_ieee: ExtAddr(0x00124b0001020304),
        nwk_update_id: 2,
    }
}

fn device(n: u8) -> DeviceRecord {
    DeviceRecord {
        ieee: ExtAddr(0x0017_8801_0000_0000 | u64::from(n)),
        short_addr: ShortAddr(0x1000 + u16::from(n)),
        capability: 0x8e,
        join_method: JoinMethod::InstallCode,
        parent: ShortAddr(0),
        tclk: Some(key(0x40u8.wrapping_add(n))),
        tclk_verified: n.is_multiple_of(2),
        last_key_seq: Some(1),
        last_key_hash: None,
        last_seen: 1_700_000_000_000 + u64::from(n),
        incoming_nwk_counter: Some(1000 + u32::from(n)),
        stale_nwk_counters: vec![],
        incoming_aps_counter: None,
        tombstoned: false,
    }
}

fn audit(n: u64) -> AuditEntry {
    AuditEntry {
        time: 1_000 + n,
        severity: [Severity::Info, Severity::Warning, Severity::Alert][n as usize % 3],
        kind: "device-joined".into(),
        ieee: (n.is_multiple_of(2)).then_some(ExtAddr(n)),
        detail: format!("entry {n}"),
    }
}

fn policy() -> Policy {
    Policy {
        legacy_join: LegacyJoinPolicy::InstallCodeRequired,
        insecure_rejoin: InsecureRejoinPolicy::Deny,
        spoof_response: SpoofResponse::Ignore,
        allow_list: vec![ExtAddr(3), ExtAddr(1), ExtAddr(3)],
        deny_list: vec![ExtAddr(9)],
        rotate_after_legacy_window: true,
        rotate_after_removal: zigtrust_tc::model::RemovalRotation::Routers,
    }
}

/// A store with one of everything.
fn populated(store: &mut Store) -> Snapshot {
    let k0 = NetworkKeyRecord { seq: 0, key: key(1), exposed: true, exposure: None, created_at: 5 };
    let k1 =
        NetworkKeyRecord { seq: 1, key: key(2), exposed: false, exposure: None, created_at: 6 };
    store
        .apply(&[
            StoreWrite::Network(network()),
            StoreWrite::NetworkKey(k0.clone()),
            StoreWrite::NetworkKey(k1.clone()),
            StoreWrite::ActiveKeySeq(1),
            StoreWrite::Device(device(2)),
            StoreWrite::Device(device(1)),
            StoreWrite::InstallCode { ieee: ExtAddr(0x77), key: key(0x77) },
            StoreWrite::CounterLease { kind: CounterKind::Nwk, until: 4096 },
            StoreWrite::CounterLease { kind: CounterKind::Aps, until: 8192 },
            StoreWrite::Policy(policy()),
            StoreWrite::Audit(audit(1)),
        ])
        .unwrap();
    Snapshot {
        network: Some(network()),
        network_keys: vec![k0, k1],
        active_key_seq: Some(1),
        devices: vec![device(1), device(2)],
        install_codes: vec![(ExtAddr(0x77), key(0x77))],
        counter_leases: vec![(CounterKind::Nwk, 4096), (CounterKind::Aps, 8192)],
        policy: Some(policy()),
        ..Snapshot::default()
    }
}

#[test]
fn empty_store_snapshot_is_default() {
    let s = Store::open_in_memory().unwrap();
    assert_eq!(s.snapshot().unwrap(), Snapshot::default());
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(s.audit_log(10, None).unwrap().is_empty());
}

#[test]
fn every_write_round_trips() {
    let mut s = Store::open_in_memory().unwrap();
    let mut want = populated(&mut s);
    assert_eq!(s.snapshot().unwrap(), want);
    assert_eq!(
        s.audit_log(10, None).unwrap().into_iter().map(|e| e.1).collect::<Vec<_>>(),
        [audit(1)]
    );

    // Replacements and deletions.
    let mut d1 = device(1);
    d1.tclk = None;
    d1.tclk_verified = false;
    d1.last_key_seq = None;
    d1.incoming_nwk_counter = None;
    d1.incoming_aps_counter = Some(u32::MAX);
    d1.join_method = JoinMethod::Restored;
    d1.tombstoned = true;
    d1.last_seen = i64::MAX as u64;
    let k1 = NetworkKeyRecord { seq: 1, key: key(9), exposed: true, exposure: None, created_at: 7 };
    let mut net = network();
    net.channel = 26;
    net.nwk_update_id = 255;
    net.extended_pan_id = u64::MAX;
    let p = Policy::default();
    s.apply(&[
        StoreWrite::Network(net.clone()),
        StoreWrite::NetworkKey(k1.clone()),
        StoreWrite::ActiveKeySeq(0),
        StoreWrite::Device(d1.clone()),
        StoreWrite::DeleteDevice(device(2).ieee),
        StoreWrite::DeleteDevice(ExtAddr(0xdead)), // unknown: no-op
        StoreWrite::RemoveInstallCode(ExtAddr(0x77)),
        StoreWrite::InstallCode { ieee: ExtAddr(0x78), key: key(0x78) },
        StoreWrite::Policy(p.clone()),
    ])
    .unwrap();
    want.network = Some(net);
    want.network_keys[1] = k1;
    want.active_key_seq = Some(0);
    want.devices = vec![d1.clone()];
    want.install_codes = vec![(ExtAddr(0x78), key(0x78))];
    want.policy = Some(p);
    assert_eq!(s.snapshot().unwrap(), want);
    assert_eq!(s.devices().unwrap(), vec![d1.clone()]);
    assert_eq!(s.device(d1.ieee).unwrap(), Some(d1));
    assert_eq!(s.device(device(2).ieee).unwrap(), None);
}

#[test]
fn active_key_seq_before_network_parameters() {
    let mut s = Store::open_in_memory().unwrap();
    s.apply(&[
        StoreWrite::NetworkKey(NetworkKeyRecord {
            seq: 4,
            key: key(4),
            exposed: false,
            exposure: None,
            created_at: 0,
        }),
        StoreWrite::ActiveKeySeq(4),
    ])
    .unwrap();
    let snap = s.snapshot().unwrap();
    assert_eq!((snap.network, snap.active_key_seq), (None, Some(4)));
}

/// Atomicity: a batch whose LAST write fails leaves nothing of the batch. Three genuine ways to
/// fail (no test-only hook needed): an SQL CHECK constraint (channel 99), Rust-side validation
/// (a time that does not fit SQLite's i64), and the end-of-batch invariant (active key seq names
/// no stored key).
#[test]
fn failing_batch_leaves_nothing() {
    let mut s = Store::open_in_memory().unwrap();
    let before = populated(&mut s);
    let audit_before = s.audit_log(100, None).unwrap();
    let prefix = || {
        vec![
            StoreWrite::Device(device(7)),
            StoreWrite::DeleteDevice(device(1).ieee),
            StoreWrite::NetworkKey(NetworkKeyRecord {
                seq: 1,
                key: key(0xee),
                exposed: true,
                exposure: None,
                created_at: 1,
            }),
            StoreWrite::InstallCode { ieee: ExtAddr(0x99), key: key(0x99) },
            StoreWrite::CounterLease { kind: CounterKind::Nwk, until: 1 << 30 },
            StoreWrite::Policy(Policy::default()),
            StoreWrite::Audit(audit(2)),
        ]
    };
    let mut bad_net = network();
    bad_net.channel = 99;
    let mut late = audit(3);
    late.time = u64::MAX;
    let cases: Vec<(StoreWrite, &str)> = vec![
        (StoreWrite::Network(bad_net), "CHECK constraint failed"),
        (StoreWrite::Audit(late), "does not fit"),
        (StoreWrite::ActiveKeySeq(200), "names no stored network key"),
    ];
    for (last, msg) in cases {
        let mut batch = prefix();
        batch.push(last);
        let err = s.apply(&batch).unwrap_err();
        assert!(matches!(err, StoreError::Rejected { .. }), "{err:?}");
        assert!(err.to_string().contains(msg), "{err}");
        assert_eq!(s.snapshot().unwrap(), before, "after {err}");
        assert_eq!(s.audit_log(100, None).unwrap(), audit_before);
    }
    // And the store still works afterwards.
    s.apply(&prefix()).unwrap();
    assert_eq!(s.device(device(7).ieee).unwrap(), Some(device(7)));
}

#[test]
fn rejected_write_message_names_the_write() {
    let mut s = Store::open_in_memory().unwrap();
    let mut n = network();
    n.channel = 10;
    let e = s.apply(&[StoreWrite::Audit(audit(0)), StoreWrite::Network(n)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "write rejected, batch rolled back: write #1 (Network): CHECK constraint failed: \
         channel BETWEEN 11 AND 26"
    );
}

#[test]
fn counter_leases_only_increase() {
    let mut s = Store::open_in_memory().unwrap();
    let lease = |kind, until| StoreWrite::CounterLease { kind, until };
    let leases = |s: &Store| s.snapshot().unwrap().counter_leases;
    s.apply(&[lease(CounterKind::Nwk, 100)]).unwrap();
    s.apply(&[lease(CounterKind::Nwk, 50)]).unwrap();
    assert_eq!(leases(&s), [(CounterKind::Nwk, 100)]);
    s.apply(&[lease(CounterKind::Nwk, 300), lease(CounterKind::Nwk, 10)]).unwrap();
    s.apply(&[lease(CounterKind::Aps, 7)]).unwrap();
    assert_eq!(leases(&s), [(CounterKind::Nwk, 300), (CounterKind::Aps, 7)]);
    s.apply(&[lease(CounterKind::Aps, u32::MAX), lease(CounterKind::Nwk, 0)]).unwrap();
    assert_eq!(leases(&s), [(CounterKind::Nwk, 300), (CounterKind::Aps, u32::MAX)]);
}

#[test]
fn reopen_from_file_keeps_everything() {
    let path = tmp("reopen.db");
    let want = {
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.path(), path.as_path());
        populated(&mut s)
    };
    let s = Store::open(&path).unwrap();
    assert_eq!(s.snapshot().unwrap(), want);
    assert_eq!(s.audit_log(10, None).unwrap().len(), 1);
    drop(s);
    // open_existing reads the same file; WAL mode is recorded in the file itself.
    let s = Store::open_existing(&path).unwrap();
    assert_eq!(s.snapshot().unwrap(), want);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(m & 0o077, 0, "store holds keys: mode {m:o}");
    }
}

#[test]
fn open_existing_does_not_create() {
    let path = tmp("missing.db");
    let e = Store::open_existing(&path).unwrap_err();
    assert!(matches!(e, StoreError::Missing { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.db"), "{e}");
    assert!(!path.exists());
}

#[test]
fn random_bytes_are_not_a_store() {
    let path = tmp("random.db");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    let e = Store::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("random.db") && msg.contains("not a SQLite database"), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file must be left alone");
}

#[test]
fn truncated_file_is_an_error() {
    let path = tmp("truncated.db");
    {
        let mut s = Store::open(&path).unwrap();
        populated(&mut s);
        for chunk in (0..600u16).collect::<Vec<_>>().chunks(50) {
            let mut batch: Vec<StoreWrite> = chunk
                .iter()
                .map(|&n| {
                    let mut d = device(n as u8);
                    d.ieee = ExtAddr(0x1000 + u64::from(n) * 7919);
                    StoreWrite::Device(d)
                })
                .collect();
            batch.extend(chunk.iter().map(|&n| StoreWrite::Audit(audit(u64::from(n)))));
            s.apply(&batch).unwrap();
        }
    }
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 16 * 4096, "{len}");
    for cut in [len / 2, len - 4096, 100] {
        let copy = tmp(&format!("truncated-{cut}.db"));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&copy, &bytes[..cut as usize]).unwrap();
        let r = Store::open(&copy).and_then(|s| s.snapshot().map(|_| ()));
        let e = r.expect_err("a truncated store must not open cleanly");
        assert!(matches!(e, StoreError::NotAStore { .. }), "cut {cut}: {e:?}");
        assert!(e.to_string().contains(&copy.display().to_string()), "{e}");
    }
}

#[test]
fn another_applications_database_is_refused() {
    let path = tmp("foreign.db");
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("CREATE TABLE things (x); INSERT INTO things VALUES (1);").unwrap();
    drop(raw);
    let e = Store::open(&path).unwrap_err();
    assert!(
        e.to_string().contains("another application") && e.to_string().contains("things"),
        "{e}"
    );
}

#[test]
fn newer_schema_is_refused() {
    let path = tmp("newer.db");
    drop(Store::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(raw);
    let e = Store::open(&path).unwrap_err();
    assert!(
        matches!(e, StoreError::NewerSchema { found, supported, .. } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{e:?}"
    );
    assert!(e.to_string().contains("newer.db") && e.to_string().contains("upgrade"), "{e}");
}

/// Values that the schema's CHECKs would refuse, written behind the store's back with checks
/// off (as bit rot or a hand edit would): reading them is `Corrupt` naming table, row, column.
#[test]
fn invalid_values_on_read_are_corrupt() {
    let cases: &[(&str, &str)] = &[
        ("UPDATE devices SET tclk = zeroblob(15)", "column tclk: key is 15 bytes, expected 16"),
        ("UPDATE devices SET join_method = 'teleported'", "unknown join method \"teleported\""),
        ("UPDATE devices SET tombstoned = 2", "2 is not a boolean"),
        ("UPDATE devices SET short_addr = 70000", "out of range"),
        ("UPDATE devices SET last_seen = 'yesterday'", "expected an integer, found text"),
        ("UPDATE network_keys SET key = x'00'", "table network_keys row seq 0, column key"),
        ("UPDATE network SET nwk_update_id = 300", "column nwk_update_id: 300 is out of range"),
        ("UPDATE network SET tc_ieee = x'0102'", "IEEE address is 2 bytes, expected 8"),
        ("UPDATE counter_leases SET kind = 'zigbee' WHERE kind = 'aps'", "unknown counter kind"),
        ("UPDATE policy SET spoof_response = 'laugh'", "unknown spoof response"),
        ("UPDATE install_codes SET key = 'k'", "column key: expected a BLOB, found text"),
        ("UPDATE policy_lists SET list = 'maybe' WHERE list = 'deny'", "unknown list"),
    ];
    for (i, (sql, want)) in cases.iter().enumerate() {
        let path = tmp(&format!("corrupt-{i}.db"));
        drop(populated_file(&path));
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(&format!("PRAGMA ignore_check_constraints = ON; {sql};")).unwrap();
        drop(raw);
        let s = Store::open(&path).unwrap();
        let e = s.snapshot().unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{sql}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains(want) && msg.contains(&format!("corrupt-{i}.db")), "{sql}: {msg}");
    }
    // The audit log is validated too.
    let path = tmp("corrupt-audit.db");
    drop(populated_file(&path));
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("UPDATE audit_log SET severity = 'meh'").unwrap();
    drop(raw);
    let e = Store::open(&path).unwrap().audit_log(10, None).unwrap_err();
    assert!(e.to_string().contains("table audit_log row id 1, column severity"), "{e}");
}

fn populated_file(path: &std::path::Path) -> Store {
    let mut s = Store::open(path).unwrap();
    populated(&mut s);
    s
}

#[test]
fn audit_log_pages_newest_first() {
    let mut s = Store::open_in_memory().unwrap();
    let entries: Vec<StoreWrite> = (0..25).map(|n| StoreWrite::Audit(audit(n))).collect();
    s.apply(&entries[..10]).unwrap();
    s.apply(&entries[10..]).unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = Vec::new();
    loop {
        let page = s.audit_log(10, before).unwrap();
        if page.is_empty() {
            break;
        }
        pages.push(page.len());
        before = Some(page.last().unwrap().0);
        seen.extend(page);
    }
    assert_eq!(pages, [10, 10, 5]);
    assert!(seen.windows(2).all(|w| w[0].0 > w[1].0), "ids strictly descending");
    let got: Vec<AuditEntry> = seen.into_iter().rev().map(|(_, e)| e).collect();
    let want: Vec<AuditEntry> = (0..25).map(audit).collect();
    assert_eq!(got, want);
    assert!(s.audit_log(0, None).unwrap().is_empty());
    assert_eq!(s.audit_log(3, Some(2)).unwrap().len(), 1);
}

/// An acknowledged batch survives SIGKILL: a child process (this test binary, re-run) applies
/// numbered batches to a file store and prints each number once `apply` returned; the parent
/// kills it mid-stream and checks every acknowledged batch is in the reopened store.
#[cfg(unix)]
#[test]
fn acknowledged_batches_survive_sigkill() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    if let Ok(path) = std::env::var("ZIGTRUST_STORE_SIGKILL_CHILD") {
        let mut s = Store::open(&path).unwrap();
        for n in 0u64.. {
            s.apply(&[
                StoreWrite::Audit(audit(n)),
                StoreWrite::CounterLease { kind: CounterKind::Nwk, until: n as u32 },
            ])
            .unwrap();
            println!("acked {n}");
        }
        return;
    }
    let path = tmp("sigkill.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_batches_survive_sigkill",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZIGTRUST_STORE_SIGKILL_CHILD", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut last = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("acked ") {
            last = Some(n.parse::<u64>().unwrap());
            if last == Some(40) {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
    }
    child.wait().unwrap();
    let last = last.expect("child acknowledged nothing");
    let s = Store::open(&path).unwrap();
    let log = s.audit_log(usize::MAX, None).unwrap();
    assert!(log.len() as u64 > last, "acked {last}, stored {}", log.len());
    let lease = s.snapshot().unwrap().counter_leases;
    assert!(lease[0].1 as u64 >= last, "{lease:?}");
}

// ---- model-based property test ----

/// The store's semantics as plain maps.
#[derive(Clone, Default)]
struct Model {
    network: Option<NetworkConfig>,
    keys: BTreeMap<u8, NetworkKeyRecord>,
    active: Option<u8>,
    devices: BTreeMap<ExtAddr, DeviceRecord>,
    codes: BTreeMap<ExtAddr, Key>,
    leases: BTreeMap<CounterKind, u32>,
    policy: Option<Policy>,
    audit: Vec<AuditEntry>,
    rotation: Option<zigtrust_tc::model::RotationRecord>,
    restarts: BTreeMap<CounterKind, u8>,
}

const MAX_MS: u64 = i64::MAX as u64;

impl Model {
    /// All or nothing, with the store's three rejection rules.
    fn apply(&mut self, batch: &[StoreWrite]) -> bool {
        let mut m = self.clone();
        for w in batch {
            match w.clone() {
                StoreWrite::Network(n) => {
                    if !(11..=26).contains(&n.channel) {
                        return false;
                    }
                    m.network = Some(n);
                }
                StoreWrite::NetworkKey(k) => {
                    if k.created_at > MAX_MS {
                        return false;
                    }
                    m.keys.insert(k.seq, k);
                }
                StoreWrite::ActiveKeySeq(s) => m.active = Some(s),
                StoreWrite::Device(d) => {
                    if d.last_seen > MAX_MS {
                        return false;
                    }
                    m.devices.insert(d.ieee, d);
                }
                StoreWrite::DeleteDevice(i) => {
                    m.devices.remove(&i);
                }
                StoreWrite::InstallCode { ieee, key } => {
                    m.codes.insert(ieee, key);
                }
                StoreWrite::RemoveInstallCode(i) => {
                    m.codes.remove(&i);
                }
                StoreWrite::CounterLease { kind, until } => {
                    let v = m.leases.entry(kind).or_insert(until);
                    *v = (*v).max(until);
                }
                StoreWrite::Policy(p) => m.policy = Some(p),
                StoreWrite::Audit(a) => {
                    if a.time > MAX_MS {
                        return false;
                    }
                    m.audit.push(a);
                }
                StoreWrite::Rotation(r) => m.rotation = r,
                StoreWrite::CounterRestart { kind, key_seq } => {
                    if let Some(v) = m.leases.get_mut(&kind) {
                        *v = 0;
                    }
                    m.restarts.insert(kind, key_seq);
                }
            }
        }
        if m.active.is_some_and(|s| !m.keys.contains_key(&s)) {
            return false;
        }
        *self = m;
        true
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            network: self.network.clone(),
            network_keys: self.keys.values().cloned().collect(),
            active_key_seq: self.active,
            devices: self.devices.values().cloned().collect(),
            install_codes: self.codes.iter().map(|(i, k)| (*i, k.clone())).collect(),
            counter_leases: self.leases.iter().map(|(k, v)| (*k, *v)).collect(),
            policy: self.policy.clone(),
            rotation: self.rotation.clone(),
            counter_restarts: self.restarts.iter().map(|(k, v)| (*k, *v)).collect(),
        }
    }
}

fn ieee() -> impl Strategy<Value = ExtAddr> {
    prop_oneof![4 => (1u64..5).prop_map(ExtAddr), 1 => any::<u64>().prop_map(ExtAddr)]
}

fn a_key() -> impl Strategy<Value = Key> {
    prop_oneof![(0u8..4).prop_map(key), any::<[u8; 16]>().prop_map(Key::from_bytes)]
}

fn millis() -> impl Strategy<Value = u64> {
    prop_oneof![20 => 0..=MAX_MS, 1 => (MAX_MS + 1)..=u64::MAX]
}

fn write() -> impl Strategy<Value = StoreWrite> {
    let net =
        (any::<u16>(), any::<u64>(), 10u8..28, ieee(), any::<u8>()).prop_map(|(p, e, c, t, u)| {
            StoreWrite::Network(NetworkConfig {
                pan_id: PanId(p),
                extended_pan_id: e,
                channel: c,
                tc_ieee: t,
                nwk_update_id: u,
            })
        });
    let nk = (0u8..4, a_key(), any::<bool>(), millis()).prop_map(|(seq, key, exposed, t)| {
        StoreWrite::NetworkKey(NetworkKeyRecord {
            seq,
            key,
            exposed,
            exposure: None,
            created_at: t,
        })
    });
    let dev = (
        (ieee(), any::<u16>(), any::<u8>(), 0u8..3, any::<u16>(), proptest::option::of(a_key())),
        (
            any::<bool>(),
            proptest::option::of(any::<u8>()),
            millis(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            any::<bool>(),
        ),
    )
        .prop_map(|((ieee, s, cap, jm, parent, tclk), (v, lks, seen, nc, ac, tomb))| {
            StoreWrite::Device(DeviceRecord {
                ieee,
                short_addr: ShortAddr(s),
                capability: cap,
                join_method: [
                    JoinMethod::WellKnownKey,
                    JoinMethod::InstallCode,
                    JoinMethod::Restored,
                ][jm as usize],
                parent: ShortAddr(parent),
                tclk,
                tclk_verified: v,
                last_key_seq: lks,
                last_key_hash: None,
                last_seen: seen,
                incoming_nwk_counter: nc,
                stale_nwk_counters: vec![],
                incoming_aps_counter: ac,
                tombstoned: tomb,
            })
        });
    let pol = (
        0u8..2,
        0u8..3,
        any::<bool>(),
        proptest::collection::vec(ieee(), 0..3),
        proptest::collection::vec(ieee(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(l, r, s, allow, deny, rot)| {
            StoreWrite::Policy(Policy {
                legacy_join: [
                    LegacyJoinPolicy::InstallCodeRequired,
                    LegacyJoinPolicy::AllowedWhilePermitJoin,
                ][l as usize],
                insecure_rejoin: [
                    InsecureRejoinPolicy::AllowLeakingKey,
                    InsecureRejoinPolicy::Deny,
                    InsecureRejoinPolicy::Adaptive,
                ][r as usize],
                spoof_response: if s { SpoofResponse::Deny } else { SpoofResponse::Ignore },
                allow_list: allow,
                deny_list: deny,
                rotate_after_legacy_window: rot,
                rotate_after_removal: zigtrust_tc::model::RemovalRotation::Routers,
            })
        });
    let aud = (millis(), 0u8..3, "[a-z-]{0,12}", proptest::option::of(ieee()), "\\PC{0,20}")
        .prop_map(|(t, sev, kind, ieee, detail)| {
            StoreWrite::Audit(AuditEntry {
                time: t,
                severity: [Severity::Info, Severity::Warning, Severity::Alert][sev as usize],
                kind,
                ieee,
                detail,
            })
        });
    prop_oneof![
        net,
        nk,
        (0u8..5).prop_map(StoreWrite::ActiveKeySeq),
        dev,
        ieee().prop_map(StoreWrite::DeleteDevice),
        (ieee(), a_key()).prop_map(|(ieee, key)| StoreWrite::InstallCode { ieee, key }),
        ieee().prop_map(StoreWrite::RemoveInstallCode),
        (any::<bool>(), any::<u32>()).prop_map(|(n, until)| StoreWrite::CounterLease {
            kind: if n { CounterKind::Nwk } else { CounterKind::Aps },
            until
        }),
        pol,
        aud,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any sequence of batches, applied to a file store and reopened, gives the model's state;
    /// each batch is accepted or rejected exactly when the model accepts or rejects it.
    #[test]
    fn store_agrees_with_model(batches in proptest::collection::vec(proptest::collection::vec(write(), 1..6), 1..10)) {
        let path = tmp("proptest.db");
        let mut model = Model::default();
        {
            let mut store = Store::open(&path).unwrap();
            for b in &batches {
                let ok = model.apply(b);
                let r = store.apply(b);
                prop_assert_eq!(r.is_ok(), ok, "{:?}", r);
            }
            prop_assert_eq!(store.snapshot().unwrap(), model.snapshot());
        }
        let store = Store::open(&path).unwrap();
        prop_assert_eq!(store.snapshot().unwrap(), model.snapshot());
        let log: Vec<AuditEntry> =
            store.audit_log(usize::MAX, None).unwrap().into_iter().rev().map(|(_, e)| e).collect();
        prop_assert_eq!(log, model.audit.clone());
    }
}
