//! The zigtrust hub: one [`Hub`] owns the Trust Center core, its durable store and a
//! [`Radio`], and is the only place frames are released to the radio.
//!
//! The rule that keeps keys and counters safe across crashes — a step's store writes are
//! committed before any frame of the same step goes on air — is a type in the core
//! ([`zigtrust_tc::Batch`]): frames come out of a batch only by committing it to a
//! [`Durable`] store. The hub adds what every shell around the core needs: it feeds the radio's
//! frames and the clock to the core, acknowledges device reports, keeps the radio's
//! configuration (channel, PAN, addresses, permit-join bit) and the routers' permit-join windows
//! in step with the core, and records
//! the last store and radio failures for the user.
//!
//! The daemon (SQLite store, live radio), the simulator's coordinator ([`MemStore`], the
//! simulated medium), the crash test and the Trust Center's own test harness all run this hub.
#![warn(missing_docs)]

mod app;
mod hub;
mod nwk;
mod permit;
pub mod radio;

pub use hub::{Hub, LinkQuality, Step, MAX_LINKS};
pub use nwk::{
    link_cost, CONCENTRATOR_DISCOVERY_MS, CONCENTRATOR_MIN_INTERVAL_MS, LINK_STATUS_MAX_ENTRIES,
    LINK_STATUS_PERIOD_MS, ROUTER_AGE_LIMIT,
};
pub use radio::{Outbox, Radio, RadioConfig, RadioError, RadioSpec, Received};
pub use zigtrust_tc::{Durable, MemStore};

/// 32 bytes of OS entropy for the core's key generator.
pub fn os_seed() -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(seed)
}
