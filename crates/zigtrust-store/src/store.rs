//! [`Store`]: the SQLite file behind the Trust Center.

use crate::error::StoreError;
use crate::names::*;
use crate::schema::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, Row, TransactionBehavior};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zigtrust_crypto::Key;
use zigtrust_tc::model::{
    AuditEntry, DeviceRecord, Millis, NetworkConfig, NetworkKeyRecord, Policy, RotationRecord,
    Snapshot, StoreWrite,
};
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

/// The Trust Center's durable state in one SQLite file (WAL journal, `synchronous=FULL`: once
/// [`Store::apply`] returns `Ok`, the batch survives SIGKILL and power loss).
///
/// One `Store` per process owns the file; readers elsewhere (the CLI's `backup export`) may open
/// it concurrently, since WAL lets them read while the daemon writes.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path`, creating it (mode 0600 on Unix: it holds keys) if it does not
    /// exist and migrating it to [`SCHEMA_VERSION`] if it is older.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_file(path.as_ref(), true)
    }

    /// Like [`Store::open`] but never creates a file: a missing file is
    /// [`StoreError::Missing`]. For tools that only read (`backup export`).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_file(path.as_ref(), false)
    }

    /// A private in-memory store (tests, simulations). Nothing survives the value.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory()
            .map_err(|source| StoreError::Open { path: path.clone(), source })?;
        Store::init(conn, path)
    }

    fn open_file(path: &Path, create: bool) -> Result<Store, StoreError> {
        let owned = path.to_path_buf();
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                return Err(StoreError::NotAStore { path: owned, reason: "is a directory".into() })
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !create {
                    return Err(StoreError::Missing { path: owned });
                }
                create_private_file(path);
            }
            Err(_) => {} // let SQLite report it with its own words
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|source| StoreError::Open { path: owned.clone(), source })?;
        Store::init(conn, owned)
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Store, StoreError> {
        let mut store = Store { conn, path };
        store.configure()?;
        store.check_identity()?;
        store.check_integrity()?;
        store.migrate()?;
        Ok(store)
    }

    fn configure(&self) -> Result<(), StoreError> {
        let c = &self.conn;
        let e = |op| move |err| self.sql_err(op, err);
        c.busy_timeout(Duration::from_secs(5)).map_err(e("setting the busy timeout"))?;
        // The first statement that reads the file: a non-SQLite file fails here.
        let _: String = c
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(e("enabling the WAL journal"))?;
        c.execute_batch(
            // FULL: the WAL is synced at every commit, so an acknowledged batch is on disk.
            // secure_delete: replaced and deleted keys are overwritten, not left in free pages.
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
        )
        .map_err(e("setting pragmas"))
    }

    /// Refuses SQLite files of other applications and newer schemas before touching them.
    fn check_identity(&self) -> Result<(), StoreError> {
        let c = &self.conn;
        let app: i32 = c
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| self.sql_err("reading the application id", e))?;
        let version = self.schema_version()?;
        if app != APPLICATION_ID {
            let tables: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(|e| self.sql_err("listing tables", e))?;
            if app != 0 || version != 0 || !tables.is_empty() {
                return Err(StoreError::NotAStore {
                    path: self.path.clone(),
                    reason: format!(
                        "a SQLite database of another application (application_id {app:#x}, \
                         user_version {version}, tables: {})",
                        if tables.is_empty() { "none".to_string() } else { tables.join(", ") }
                    ),
                });
            }
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// `PRAGMA quick_check`: catches truncated or overwritten files at open, not at the first
    /// read the Trust Center makes. Linear in the file size, which for a Trust Center is small.
    /// Bad *values* (CHECK / NOT NULL findings) are left to the readers, which report them as
    /// [`StoreError::Corrupt`] naming the row and column.
    fn check_integrity(&self) -> Result<(), StoreError> {
        let problems: Vec<String> = self
            .conn
            .prepare("PRAGMA quick_check(20)")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>())
            .map_err(|e| self.sql_err("checking integrity", e))?
            .into_iter()
            .filter(|p| {
                p != "ok"
                    && !p.starts_with("CHECK constraint failed")
                    && !p.starts_with("NULL value in")
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(StoreError::NotAStore {
            path: self.path.clone(),
            reason: format!("damaged file (integrity check: {})", problems.join("; ")),
        })
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let from = self.schema_version()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let path = self.path.clone();
            let err = |e| sql_err_at(&path, "migrating the schema", e);
            let tx =
                self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(err)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(())
    }

    /// The file this store lives in (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql_err("reading the schema version", e))
    }

    /// Applies `writes` in order in ONE transaction: on `Ok` all of them are durable, on `Err`
    /// none of them happened.
    ///
    /// Rules enforced here (a breach rejects the whole batch, [`StoreError::Rejected`]):
    /// milliseconds must fit SQLite's signed 64-bit integers; the network parameters must be in
    /// range (channel 11–26); after the batch the active key sequence number must name a stored
    /// network key. Counter leases only grow: a lease below the stored one is kept at the
    /// stored value (`max` in SQL), so a stale writer can never move a counter backwards.
    pub fn apply(&mut self, writes: &[StoreWrite]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_err_at(&path, "starting a transaction", e))?;
        for (i, w) in writes.iter().enumerate() {
            apply_one(&tx, w).map_err(|e| match e {
                WriteError::Invalid(what) => {
                    StoreError::Rejected { what: format!("write #{i} ({}): {what}", w_name(w)) }
                }
                WriteError::Sql(e) if is_constraint(&e) => StoreError::Rejected {
                    what: format!("write #{i} ({}): {}", w_name(w), sql_message(&e)),
                },
                WriteError::Sql(e) => sql_err_at(&path, "applying a write", e),
            })?;
        }
        let dangling: Option<i64> = tx
            .query_row(
                "SELECT active_key_seq FROM network WHERE active_key_seq IS NOT NULL \
                 AND active_key_seq NOT IN (SELECT seq FROM network_keys)",
                [],
                |r| r.get(0),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| sql_err_at(&path, "checking the active key", e))?;
        if let Some(seq) = dangling {
            return Err(StoreError::Rejected {
                what: format!("the active key sequence number {seq} names no stored network key"),
            });
        }
        tx.commit().map_err(|e| {
            if is_constraint(&e) {
                StoreError::Rejected { what: format!("at commit: {}", sql_message(&e)) }
            } else {
                sql_err_at(&path, "committing", e)
            }
        })
    }

    /// A daemon setting (e.g. the admin token's hash), if set.
    pub fn setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.sql_err("reading a setting", e))
    }

    /// Sets a daemon setting (durable when this returns `Ok`).
    pub fn set_setting(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map(|_| ())
            .map_err(|e| self.sql_err("writing a setting", e))
    }

    /// Everything needed to restore the Trust Center core, read in one consistent transaction.
    /// Lists are sorted: keys by sequence number, devices and install codes by IEEE, leases by
    /// kind.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql_err("reading", e))?;
        let mut snap = Snapshot::default();

        let net = self.rows(
            &tx,
            "network",
            "SELECT pan_id, extended_pan_id, channel, tc_ieee, nwk_update_id, active_key_seq \
             FROM network WHERE id = 1",
            [],
            |c| {
                let network = match c.opt_int(0)? {
                    None => None,
                    Some(_) => Some(NetworkConfig {
                        pan_id: PanId(c.u16(0)?),
                        extended_pan_id: c.ieee(1)?.0,
                        channel: c.u8(2)?,
                        tc_ieee: c.ieee(3)?,
                        nwk_update_id: c.u8(4)?,
                    }),
                };
                Ok((network, c.opt_u8(5)?))
            },
        )?;
        if let Some((network, active)) = net.into_iter().next() {
            snap.network = network;
            snap.active_key_seq = active;
        }

        snap.network_keys = self.rows(
            &tx,
            "network_keys",
            "SELECT seq, key, exposed, created_at, exposure FROM network_keys ORDER BY seq",
            [],
            |c| {
                c.row_id = c.opt_int(0)?.map(|s| format!("seq {s}"));
                Ok(NetworkKeyRecord {
                    seq: c.u8(0)?,
                    key: c.key(1)?,
                    exposed: c.bool(2)?,
                    created_at: c.millis(3)?,
                    exposure: c.opt_text(4)?,
                })
            },
        )?;

        snap.devices = self.device_rows(&tx, "", [])?;

        snap.install_codes = self.rows(
            &tx,
            "install_codes",
            "SELECT ieee, key FROM install_codes ORDER BY ieee",
            [],
            |c| {
                let ieee = c.ieee(0)?;
                c.row_id = Some(ieee.to_string());
                Ok((ieee, c.key(1)?))
            },
        )?;

        snap.counter_leases =
            self.rows(&tx, "counter_leases", "SELECT kind, until FROM counter_leases", [], |c| {
                let kind = c.parse(0, "counter kind", parse_counter_kind)?;
                c.row_id = Some(counter_kind_name(kind).into());
                Ok((kind, c.u32(1)?))
            })?;
        snap.counter_leases.sort();

        let policy = self.rows(
            &tx,
            "policy",
            "SELECT legacy_join, insecure_rejoin, spoof_response, rotate_after_legacy_window, \
             rotate_after_removal FROM policy WHERE id = 1",
            [],
            |c| {
                Ok(Policy {
                    legacy_join: c.parse(0, "legacy join policy", parse_legacy_join)?,
                    insecure_rejoin: c.parse(1, "insecure rejoin policy", parse_insecure_rejoin)?,
                    spoof_response: c.parse(2, "spoof response", parse_spoof_response)?,
                    allow_list: Vec::new(),
                    deny_list: Vec::new(),
                    rotate_after_legacy_window: c.bool(3)?,
                    rotate_after_removal: c.parse(
                        4,
                        "removal rotation policy",
                        parse_removal_rotation,
                    )?,
                })
            },
        )?;
        if let Some(mut p) = policy.into_iter().next() {
            let lists = self.rows(
                &tx,
                "policy_lists",
                "SELECT list, position, ieee FROM policy_lists WHERE policy_id = 1 \
                 ORDER BY list, position",
                [],
                |c| {
                    c.row_id = c.opt_int(1)?.map(|p| format!("position {p}"));
                    let allow = match c.text(0)? {
                        "allow" => true,
                        "deny" => false,
                        other => return Err(c.corrupt(0, format!("unknown list {other:?}"))),
                    };
                    Ok((allow, c.ieee(2)?))
                },
            )?;
            for (allow, ieee) in lists {
                if allow {
                    p.allow_list.push(ieee)
                } else {
                    p.deny_list.push(ieee)
                }
            }
            snap.policy = Some(p);
        }

        let rotation = self.rows(
            &tx,
            "rotation",
            "SELECT seq, deadline, pending FROM rotation WHERE id = 1",
            [],
            |c| {
                Ok(RotationRecord {
                    seq: c.u8(0)?,
                    deadline: c.millis(1)?,
                    pending: c.parse(2, "pending device list", parse_ieee_list)?,
                })
            },
        )?;
        snap.rotation = rotation.into_iter().next();

        snap.counter_restarts = self.rows(
            &tx,
            "counter_restarts",
            "SELECT kind, key_seq FROM counter_restarts ORDER BY kind",
            [],
            |c| {
                let kind = c.parse(0, "counter kind", parse_counter_kind)?;
                c.row_id = Some(counter_kind_name(kind).into());
                Ok((kind, c.u8(1)?))
            },
        )?;
        drop(tx);
        Ok(snap)
    }

    /// All devices, sorted by IEEE.
    pub fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.device_rows(&self.conn, "", [])
    }

    /// One device, if known.
    pub fn device(&self, ieee: ExtAddr) -> Result<Option<DeviceRecord>, StoreError> {
        Ok(self
            .device_rows(&self.conn, "WHERE ieee = ?1", [ieee_blob(ieee).to_vec()])?
            .into_iter()
            .next())
    }

    /// Audit entries, newest first: at most `limit` with ids below `before_id` (all when
    /// `None`). Page by passing the smallest id of one page as `before_id` of the next.
    pub fn audit_log(
        &self,
        limit: usize,
        before_id: Option<i64>,
    ) -> Result<Vec<(i64, AuditEntry)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let before = before_id.unwrap_or(i64::MAX);
        self.rows(
            &self.conn,
            "audit_log",
            "SELECT id, time, severity, kind, ieee, detail FROM audit_log WHERE id < ?1 \
             ORDER BY id DESC LIMIT ?2",
            params![before, limit],
            |c| {
                let id = c.int(0)?;
                c.row_id = Some(format!("id {id}"));
                Ok((
                    id,
                    AuditEntry {
                        time: c.millis(1)?,
                        severity: c.parse(2, "severity", parse_severity)?,
                        kind: c.text(3)?.to_string(),
                        ieee: c.opt_ieee(4)?,
                        detail: c.text(5)?.to_string(),
                    },
                ))
            },
        )
    }

    fn device_rows<P: rusqlite::Params>(
        &self,
        conn: &Connection,
        filter: &str,
        params: P,
    ) -> Result<Vec<DeviceRecord>, StoreError> {
        let sql = format!(
            "SELECT ieee, short_addr, capability, join_method, parent, tclk, tclk_verified, \
             last_key_seq, last_seen, incoming_nwk_counter, incoming_aps_counter, tombstoned, \
             stale_nwk_counters, last_key_hash FROM devices {filter} ORDER BY ieee"
        );
        self.rows(conn, "devices", &sql, params, |c| {
            let ieee = c.ieee(0)?;
            c.row_id = Some(ieee.to_string());
            Ok(DeviceRecord {
                ieee,
                short_addr: ShortAddr(c.u16(1)?),
                capability: c.u8(2)?,
                join_method: c.parse(3, "join method", parse_join_method)?,
                parent: ShortAddr(c.u16(4)?),
                tclk: c.opt_key(5)?,
                tclk_verified: c.bool(6)?,
                last_key_seq: c.opt_u8(7)?,
                last_seen: c.millis(8)?,
                incoming_nwk_counter: c.opt_u32(9)?,
                incoming_aps_counter: c.opt_u32(10)?,
                tombstoned: c.bool(11)?,
                stale_nwk_counters: c.parse(12, "older keys' counters", parse_stale_counters)?,
                last_key_hash: c.opt_u32(13)?,
            })
        })
    }

    /// Runs a query and converts every row with `f`, turning bad values into `Corrupt`.
    fn rows<T, P: rusqlite::Params>(
        &self,
        conn: &Connection,
        table: &'static str,
        sql: &str,
        params: P,
        mut f: impl FnMut(&mut Cols<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = conn.prepare(sql).map_err(|e| self.sql_err("preparing a query", e))?;
        let mut rows = stmt.query(params).map_err(|e| self.sql_err("querying", e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.sql_err("reading a row", e))? {
            let mut cols = Cols { row, path: &self.path, table, row_id: None };
            out.push(f(&mut cols)?);
        }
        Ok(out)
    }

    fn sql_err(&self, op: &'static str, e: rusqlite::Error) -> StoreError {
        sql_err_at(&self.path, op, e)
    }
}

/// Creates an empty file readable only by its owner, so SQLite (which gives its WAL and shm
/// files the database file's mode) never writes keys into a world-readable file.
fn create_private_file(path: &Path) {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    // Failure (race, read-only dir) is reported by SQLite's own open right after.
    let _ = o.open(path);
}

fn sql_err_at(path: &Path, op: &'static str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: "not a SQLite database (unrecognised file header)".into(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: format!("damaged file ({op}: {})", sql_message(&e)),
        },
        _ => StoreError::Sqlite { path: path.to_path_buf(), op, source: e },
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

/// SQLite's own message ("CHECK constraint failed: channel BETWEEN 11 AND 26").
fn sql_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        e => e.to_string(),
    }
}

fn w_name(w: &StoreWrite) -> String {
    match w {
        StoreWrite::Network(_) => "Network".into(),
        StoreWrite::NetworkKey(k) => format!("NetworkKey seq {}", k.seq),
        StoreWrite::ActiveKeySeq(s) => format!("ActiveKeySeq {s}"),
        StoreWrite::Device(d) => format!("Device {}", d.ieee),
        StoreWrite::DeleteDevice(i) => format!("DeleteDevice {i}"),
        StoreWrite::InstallCode { ieee, .. } => format!("InstallCode {ieee}"),
        StoreWrite::RemoveInstallCode(i) => format!("RemoveInstallCode {i}"),
        StoreWrite::CounterLease { kind, .. } => {
            format!("CounterLease {}", counter_kind_name(*kind))
        }
        StoreWrite::Policy(_) => "Policy".into(),
        StoreWrite::Audit(a) => format!("Audit {}", a.kind),
        StoreWrite::Rotation(_) => "Rotation".into(),
        StoreWrite::CounterRestart { kind, .. } => {
            format!("CounterRestart {}", counter_kind_name(*kind))
        }
    }
}

enum WriteError {
    Invalid(String),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for WriteError {
    fn from(e: rusqlite::Error) -> Self {
        WriteError::Sql(e)
    }
}

fn parse_ieee_list(s: &str) -> Option<Vec<ExtAddr>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(',').map(|h| u64::from_str_radix(h, 16).ok().map(ExtAddr)).collect()
}

fn ieee_blob(a: ExtAddr) -> [u8; 8] {
    a.0.to_be_bytes()
}

fn millis(ms: Millis, what: &str) -> Result<i64, WriteError> {
    i64::try_from(ms).map_err(|_| {
        WriteError::Invalid(format!("{what} {ms} ms does not fit a signed 64-bit integer"))
    })
}

fn apply_one(tx: &Connection, w: &StoreWrite) -> Result<(), WriteError> {
    match w {
        StoreWrite::Network(n) => {
            tx.execute(
                "INSERT INTO network (id, pan_id, extended_pan_id, channel, tc_ieee, nwk_update_id) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
                 pan_id = excluded.pan_id, extended_pan_id = excluded.extended_pan_id, \
                 channel = excluded.channel, tc_ieee = excluded.tc_ieee, \
                 nwk_update_id = excluded.nwk_update_id",
                params![
                    n.pan_id.0,
                    n.extended_pan_id.to_be_bytes(),
                    n.channel,
                    ieee_blob(n.tc_ieee),
                    n.nwk_update_id
                ],
            )?;
        }
        StoreWrite::NetworkKey(k) => {
            // An upsert, not REPLACE: REPLACE deletes the row first, which the active-key
            // foreign key would see.
            tx.execute(
                "INSERT INTO network_keys (seq, key, exposed, created_at, exposure) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (seq) DO UPDATE SET key = excluded.key, exposed = excluded.exposed, \
                 created_at = excluded.created_at, exposure = excluded.exposure",
                params![
                    k.seq,
                    &k.key.as_bytes()[..],
                    k.exposed,
                    millis(k.created_at, "created_at")?,
                    k.exposure
                ],
            )?;
        }
        StoreWrite::ActiveKeySeq(s) => {
            tx.execute(
                "INSERT INTO network (id, active_key_seq) VALUES (1, ?1) \
                 ON CONFLICT (id) DO UPDATE SET active_key_seq = excluded.active_key_seq",
                [s],
            )?;
        }
        StoreWrite::Device(d) => {
            tx.execute(
                "INSERT OR REPLACE INTO devices (ieee, short_addr, capability, join_method, parent, \
                 tclk, tclk_verified, last_key_seq, last_seen, incoming_nwk_counter, \
                 incoming_aps_counter, tombstoned, stale_nwk_counters, last_key_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    ieee_blob(d.ieee),
                    d.short_addr.0,
                    d.capability,
                    join_method_name(d.join_method),
                    d.parent.0,
                    d.tclk.as_ref().map(|k| &k.as_bytes()[..]),
                    d.tclk_verified,
                    d.last_key_seq,
                    millis(d.last_seen, "last_seen")?,
                    d.incoming_nwk_counter,
                    d.incoming_aps_counter,
                    d.tombstoned,
                    stale_counters_text(&d.stale_nwk_counters),
                    d.last_key_hash
                ],
            )?;
        }
        StoreWrite::DeleteDevice(ieee) => {
            tx.execute("DELETE FROM devices WHERE ieee = ?1", [ieee_blob(*ieee)])?;
        }
        StoreWrite::InstallCode { ieee, key } => {
            tx.execute(
                "INSERT OR REPLACE INTO install_codes (ieee, key) VALUES (?1, ?2)",
                params![ieee_blob(*ieee), &key.as_bytes()[..]],
            )?;
        }
        StoreWrite::RemoveInstallCode(ieee) => {
            tx.execute("DELETE FROM install_codes WHERE ieee = ?1", [ieee_blob(*ieee)])?;
        }
        StoreWrite::CounterLease { kind, until } => {
            // The lease never moves backwards, whatever the caller sends.
            tx.execute(
                "INSERT INTO counter_leases (kind, until) VALUES (?1, ?2) \
                 ON CONFLICT (kind) DO UPDATE SET until = max(until, excluded.until)",
                params![counter_kind_name(*kind), until],
            )?;
        }
        StoreWrite::Policy(p) => {
            tx.execute("DELETE FROM policy", [])?; // cascades to policy_lists
            tx.execute(
                "INSERT INTO policy (id, legacy_join, insecure_rejoin, spoof_response, \
                 rotate_after_legacy_window, rotate_after_removal) \
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                params![
                    legacy_join_name(p.legacy_join),
                    insecure_rejoin_name(p.insecure_rejoin),
                    spoof_response_name(p.spoof_response),
                    p.rotate_after_legacy_window,
                    removal_rotation_name(p.rotate_after_removal)
                ],
            )?;
            for (list, ieees) in [("allow", &p.allow_list), ("deny", &p.deny_list)] {
                for (pos, ieee) in ieees.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO policy_lists (policy_id, list, position, ieee) \
                         VALUES (1, ?1, ?2, ?3)",
                        params![list, pos as i64, ieee_blob(*ieee)],
                    )?;
                }
            }
        }
        StoreWrite::Rotation(r) => {
            tx.execute("DELETE FROM rotation", [])?;
            if let Some(r) = r {
                let pending =
                    r.pending.iter().map(|i| format!("{:016X}", i.0)).collect::<Vec<_>>().join(",");
                tx.execute(
                    "INSERT INTO rotation (id, seq, deadline, pending) VALUES (1, ?1, ?2, ?3)",
                    params![r.seq, millis(r.deadline, "deadline")?, pending],
                )?;
            }
        }
        StoreWrite::CounterRestart { kind, key_seq } => {
            // The one way a lease goes down: a new network key restarts its counter (frame
            // counters are per key), recorded together so older keys are never used again.
            tx.execute(
                "UPDATE counter_leases SET until = 0 WHERE kind = ?1",
                [counter_kind_name(*kind)],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO counter_restarts (kind, key_seq) VALUES (?1, ?2)",
                params![counter_kind_name(*kind), key_seq],
            )?;
        }
        StoreWrite::Audit(a) => {
            tx.execute(
                "INSERT INTO audit_log (time, severity, kind, ieee, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    millis(a.time, "time")?,
                    severity_name(a.severity),
                    a.kind,
                    a.ieee.map(ieee_blob),
                    a.detail
                ],
            )?;
        }
    }
    Ok(())
}

fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a BLOB",
    }
}

/// Typed, validating access to one result row. Every failure names file, table, row, column.
struct Cols<'r, 's> {
    row: &'r Row<'s>,
    path: &'r Path,
    table: &'static str,
    /// How to name the row in messages, once its key has been read.
    row_id: Option<String>,
}

impl Cols<'_, '_> {
    fn corrupt(&self, i: usize, msg: impl Display) -> StoreError {
        let col = self.row.as_ref().column_name(i).unwrap_or("?");
        let row = self.row_id.as_deref().map(|r| format!(" row {r}")).unwrap_or_default();
        StoreError::Corrupt {
            what: format!(
                "{}: table {}{row}, column {col}: {msg}",
                self.path.display(),
                self.table
            ),
        }
    }

    fn value(&self, i: usize) -> Result<ValueRef<'_>, StoreError> {
        self.row.get_ref(i).map_err(|e| self.corrupt(i, e))
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.value(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            other => {
                Err(self.corrupt(i, format!("expected an integer, found {}", type_name(other))))
            }
        }
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?.ok_or_else(|| self.corrupt(i, "missing (NULL)"))
    }

    fn ranged<T: TryFrom<i64>>(&self, i: usize, v: i64) -> Result<T, StoreError> {
        T::try_from(v).map_err(|_| {
            self.corrupt(i, format!("{v} is out of range for {}", std::any::type_name::<T>()))
        })
    }

    fn u8(&self, i: usize) -> Result<u8, StoreError> {
        self.ranged(i, self.int(i)?)
    }
    fn u16(&self, i: usize) -> Result<u16, StoreError> {
        self.ranged(i, self.int(i)?)
    }
    fn u32(&self, i: usize) -> Result<u32, StoreError> {
        self.ranged(i, self.int(i)?)
    }
    fn millis(&self, i: usize) -> Result<Millis, StoreError> {
        self.ranged(i, self.int(i)?)
    }
    fn opt_u8(&self, i: usize) -> Result<Option<u8>, StoreError> {
        self.opt_int(i)?.map(|v| self.ranged(i, v)).transpose()
    }
    fn opt_u32(&self, i: usize) -> Result<Option<u32>, StoreError> {
        self.opt_int(i)?.map(|v| self.ranged(i, v)).transpose()
    }

    fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.int(i)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.corrupt(i, format!("{v} is not a boolean (0 or 1)"))),
        }
    }

    fn text(&self, i: usize) -> Result<&str, StoreError> {
        match self.value(i)? {
            ValueRef::Text(t) => std::str::from_utf8(t).map_err(|_| self.corrupt(i, "not UTF-8")),
            other => Err(self.corrupt(i, format!("expected text, found {}", type_name(other)))),
        }
    }

    fn parse<T>(&self, i: usize, what: &str, f: fn(&str) -> Option<T>) -> Result<T, StoreError> {
        let t = self.text(i)?;
        f(t).ok_or_else(|| self.corrupt(i, format!("unknown {what} {t:?}")))
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.value(i)? {
            ValueRef::Null => Ok(None),
            _ => self.text(i).map(|t| Some(t.to_string())),
        }
    }

    fn opt_blob(&self, i: usize) -> Result<Option<&[u8]>, StoreError> {
        match self.value(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(b) => Ok(Some(b)),
            other => Err(self.corrupt(i, format!("expected a BLOB, found {}", type_name(other)))),
        }
    }

    fn opt_ieee(&self, i: usize) -> Result<Option<ExtAddr>, StoreError> {
        self.opt_blob(i)?
            .map(|b| {
                let a: [u8; 8] = b.try_into().map_err(|_| {
                    self.corrupt(i, format!("IEEE address is {} bytes, expected 8", b.len()))
                })?;
                Ok(ExtAddr(u64::from_be_bytes(a)))
            })
            .transpose()
    }

    fn ieee(&self, i: usize) -> Result<ExtAddr, StoreError> {
        self.opt_ieee(i)?.ok_or_else(|| self.corrupt(i, "missing (NULL)"))
    }

    /// Copies straight from SQLite's buffer into the zeroizing `Key`: no stray heap copy.
    fn opt_key(&self, i: usize) -> Result<Option<Key>, StoreError> {
        self.opt_blob(i)?
            .map(|b| {
                Key::from_slice(b)
                    .map_err(|_| self.corrupt(i, format!("key is {} bytes, expected 16", b.len())))
            })
            .transpose()
    }

    fn key(&self, i: usize) -> Result<Key, StoreError> {
        self.opt_key(i)?.ok_or_else(|| self.corrupt(i, "missing (NULL)"))
    }
}

/// The hub's durable store: a step's writes in one SQLite transaction.
impl zigtrust_tc::Durable for Store {
    type Error = StoreError;

    fn commit(&mut self, writes: &[StoreWrite]) -> Result<(), StoreError> {
        self.apply(writes)
    }

    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Store::snapshot(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(s: &Store, name: &str) -> String {
        s.conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| format!("{v:?}"))
            .unwrap()
    }

    #[test]
    fn durability_pragmas_are_set() {
        let dir = std::env::temp_dir().join(format!("zigtrust-store-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pragmas.db");
        let _ = std::fs::remove_file(&path);
        let s = Store::open(&path).unwrap();
        assert_eq!(pragma(&s, "journal_mode"), "Text(\"wal\")");
        assert_eq!(pragma(&s, "synchronous"), "Integer(2)"); // FULL
        assert_eq!(pragma(&s, "foreign_keys"), "Integer(1)");
        assert_eq!(pragma(&s, "secure_delete"), "Integer(1)");
        assert_eq!(pragma(&s, "application_id"), format!("Integer({APPLICATION_ID})"));
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn policy_lists_cascade_with_the_policy_row() {
        let mut s = Store::open_in_memory().unwrap();
        let p = Policy { allow_list: vec![ExtAddr(1), ExtAddr(2)], ..Policy::default() };
        s.apply(&[StoreWrite::Policy(p)]).unwrap();
        s.apply(&[StoreWrite::Policy(Policy::default())]).unwrap();
        let n: i64 =
            s.conn.query_row("SELECT count(*) FROM policy_lists", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "foreign key ON DELETE CASCADE removed the old lists");
    }

    #[test]
    fn migrations_are_idempotent_on_reopen() {
        let mut s = Store::open_in_memory().unwrap();
        s.migrate().unwrap(); // nothing left to apply
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }
}
