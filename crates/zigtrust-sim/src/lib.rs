//! zigtrust-sim: a deterministic discrete-event simulator of a Zigbee network whose coordinator
//! runs the real zigtrust Trust Center core, with HA 1.2 / Zigbee 3.0 device models (routers
//! and sleepy end devices) and an attacker that only knows public keys and what it hears.
//!
//! - [`engine`]: time, RNG, event queue, topology, airtime.
//! - [`world`]: the shared medium and MAC (acks, retries, indirect queues), the coordinator.
//! - [`device`]: device models (behaviour sources documented there).
//! - [`attacker`]: sniffer, spoofer, replayer.
//! - [`scenario`]: scenarios, policies, the run report.
//! - [`live`]: a small home run in real time for the hub daemon.
//! - [`medium_ot`]: the device models as nodes on OpenThread's simulation medium, in real time
//!   (a hub on a real `ot-rcp` talks to them through that radio).
#![forbid(unsafe_code)]

pub mod attacker;
pub mod device;
pub mod engine;
pub mod live;
pub mod medium_ot;
pub mod scenario;
pub mod world;

pub use scenario::{
    all_scenarios, pcap_bytes, report_json, run, Config, Outcome, Population, Report,
    ATTACK_SCENARIOS, LEGACY, POLICIES, SCENARIOS,
};
