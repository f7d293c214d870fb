//! Zigbee wire formats for zigtrust, in the smoltcp style: `Packet`-like views over bytes plus
//! `Repr` values with `parse` and `emit`.
//!
//! - [`mac`]: IEEE 802.15.4 MAC frames (data, ack, beacon, MAC commands) and the FCS.
//! - [`nwk`]: Zigbee NWK header and NWK commands.
//! - [`security`]: the auxiliary security header and securing/unsecuring NWK and APS frames
//!   with CCM*, including the over-the-air security-level quirk.
//! - [`aps`]: APS data, command and ack frames, with the Trust Center security commands.
//! - [`zdo`]: ZDO messages the Trust Center cares about (Device_annce).
//!
//! All multi-byte fields are little-endian on air. Parsers return [`Error`] on malformed or
//! truncated input and never panic.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod aps;
pub mod capability;
pub mod dissect;
pub mod error;
pub mod mac;
pub mod nwk;
pub mod security;
pub mod zdo;

pub use addr::{ExtAddr, ExtAddrParseError, PanId, ShortAddr};
pub use capability::CapabilityInfo;
pub use error::{Error, Reader, Result};
