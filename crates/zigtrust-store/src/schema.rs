//! The schema, as an ordered list of migrations. `PRAGMA user_version` holds how many have been
//! applied; [`crate::Store::open`] applies the missing ones, each in its own transaction together
//! with the version bump, so a crash mid-migration leaves the previous version intact.
//!
//! Encodings (chosen so the file is readable with the `sqlite3` shell and sorts like the model):
//! IEEE addresses and extended PAN ids are 8-byte BLOBs in display order (big-endian, so
//! `hex(ieee)` prints `00124B0001020304` and BLOB order is numeric order); keys are 16-byte
//! BLOBs; enums are lowercase-dashed TEXT; booleans are 0/1; milliseconds are INTEGER ≥ 0.
//! Never edit a shipped migration: append a new one.

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
CREATE TABLE network (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    pan_id          INTEGER CHECK (pan_id BETWEEN 0 AND 65535),
    extended_pan_id BLOB    CHECK (length(extended_pan_id) = 8),
    channel         INTEGER CHECK (channel BETWEEN 11 AND 26),
    tc_ieee         BLOB    CHECK (length(tc_ieee) = 8),
    nwk_update_id   INTEGER CHECK (nwk_update_id BETWEEN 0 AND 255),
    -- The active key may be recorded before the network parameters; the parameters are all
    -- present or all absent.
    active_key_seq  INTEGER REFERENCES network_keys (seq) DEFERRABLE INITIALLY DEFERRED,
    CHECK ((pan_id IS NULL) = (extended_pan_id IS NULL)
       AND (pan_id IS NULL) = (channel IS NULL)
       AND (pan_id IS NULL) = (tc_ieee IS NULL)
       AND (pan_id IS NULL) = (nwk_update_id IS NULL))
);

CREATE TABLE network_keys (
    seq        INTEGER PRIMARY KEY CHECK (seq BETWEEN 0 AND 255),
    key        BLOB    NOT NULL CHECK (length(key) = 16),
    exposed    INTEGER NOT NULL CHECK (exposed IN (0, 1)),
    created_at INTEGER NOT NULL CHECK (created_at >= 0)
);

CREATE TABLE devices (
    ieee                 BLOB    PRIMARY KEY CHECK (length(ieee) = 8),
    short_addr           INTEGER NOT NULL CHECK (short_addr BETWEEN 0 AND 65535),
    capability           INTEGER NOT NULL CHECK (capability BETWEEN 0 AND 255),
    join_method          TEXT    NOT NULL,
    parent               INTEGER NOT NULL CHECK (parent BETWEEN 0 AND 65535),
    tclk                 BLOB    CHECK (tclk IS NULL OR length(tclk) = 16),
    tclk_verified        INTEGER NOT NULL CHECK (tclk_verified IN (0, 1)),
    last_key_seq         INTEGER CHECK (last_key_seq BETWEEN 0 AND 255),
    last_seen            INTEGER NOT NULL CHECK (last_seen >= 0),
    incoming_nwk_counter INTEGER CHECK (incoming_nwk_counter BETWEEN 0 AND 4294967295),
    incoming_aps_counter INTEGER CHECK (incoming_aps_counter BETWEEN 0 AND 4294967295),
    tombstoned           INTEGER NOT NULL CHECK (tombstoned IN (0, 1))
) WITHOUT ROWID;

CREATE TABLE install_codes (
    ieee BLOB PRIMARY KEY CHECK (length(ieee) = 8),
    key  BLOB NOT NULL CHECK (length(key) = 16)
) WITHOUT ROWID;

-- Outgoing frame-counter leases. `until` only ever grows (see Store::apply).
CREATE TABLE counter_leases (
    kind  TEXT    PRIMARY KEY,
    until INTEGER NOT NULL CHECK (until BETWEEN 0 AND 4294967295)
) WITHOUT ROWID;

CREATE TABLE policy (
    id                         INTEGER PRIMARY KEY CHECK (id = 1),
    legacy_join                TEXT    NOT NULL,
    insecure_rejoin            TEXT    NOT NULL,
    spoof_response             TEXT    NOT NULL,
    rotate_after_legacy_window INTEGER NOT NULL CHECK (rotate_after_legacy_window IN (0, 1))
);

-- The allow and deny lists, in order; replaced with the policy row (ON DELETE CASCADE).
CREATE TABLE policy_lists (
    policy_id INTEGER NOT NULL REFERENCES policy (id) ON DELETE CASCADE,
    list      TEXT    NOT NULL CHECK (list IN ('allow', 'deny')),
    position  INTEGER NOT NULL,
    ieee      BLOB    NOT NULL CHECK (length(ieee) = 8),
    PRIMARY KEY (policy_id, list, position)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time     INTEGER NOT NULL CHECK (time >= 0),
    severity TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    ieee     BLOB    CHECK (ieee IS NULL OR length(ieee) = 8),
    detail   TEXT    NOT NULL
);
"#,
    // v2: the hub daemon's own settings (admin token hash, the simulated home's memory).
    r#"
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
) WITHOUT ROWID;
"#,
    // v3: key exposure reasons, per-key incoming counters, the removal rotation policy, the
    // rotation in progress and counter restarts (durable rotation, replay protection across
    // rotations).
    r#"
ALTER TABLE network_keys ADD COLUMN exposure TEXT;
ALTER TABLE devices ADD COLUMN stale_nwk_counters TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_key_hash INTEGER
    CHECK (last_key_hash BETWEEN 0 AND 4294967295);
ALTER TABLE policy ADD COLUMN rotate_after_removal TEXT NOT NULL DEFAULT 'routers';

CREATE TABLE rotation (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    seq      INTEGER NOT NULL CHECK (seq BETWEEN 0 AND 255),
    deadline INTEGER NOT NULL CHECK (deadline >= 0),
    -- IEEE addresses (16 hex digits), comma-separated.
    pending  TEXT    NOT NULL
);

CREATE TABLE counter_restarts (
    kind    TEXT    PRIMARY KEY,
    key_seq INTEGER NOT NULL CHECK (key_seq BETWEEN 0 AND 255)
) WITHOUT ROWID;
"#,
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// `PRAGMA application_id` of a zigtrust store ("ZGTS"), so another application's SQLite file is
/// told apart from ours.
pub(crate) const APPLICATION_ID: i32 = 0x5a47_5453;
