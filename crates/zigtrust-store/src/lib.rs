//! The durable store of the zigtrust Trust Center: one SQLite file (bundled SQLite, WAL,
//! `synchronous=FULL`) holding what the core needs after a restart — the network, its keys, the
//! devices and their link keys and replay counters, install codes, outgoing frame-counter
//! leases, the policy — and the security audit log.
//!
//! - [`Store`]: open/create/migrate, [`Store::apply`] a batch of
//!   [`StoreWrite`](zigtrust_tc::model::StoreWrite)s atomically, read a
//!   [`Snapshot`](zigtrust_tc::model::Snapshot) back, page the audit log.
//! - [`backup`]: export/import the Open ZigBee Coordinator Backup JSON format (zigpy,
//!   zigbee-herdsman), to move a network between zigtrust and other coordinators.
//!
//! Everything read back is validated: a damaged value is a [`StoreError::Corrupt`] naming file,
//! table, row and column, never a panic.
#![forbid(unsafe_code)]

pub mod backup;
mod error;
mod names;
mod schema;
mod store;

pub use error::StoreError;
pub use schema::SCHEMA_VERSION;
pub use store::Store;
