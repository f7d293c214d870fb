//! Codecs for driving an OpenThread radio co-processor (RCP) from a Zigbee hub: the
//! HDLC-lite byte framing and the Spinel protocol inside it, in the smoltcp style — a
//! [`SpinelPacket`] view over bytes plus [`Frame`] / [`PropValue`] values with `parse` and
//! `emit`. No I/O: the caller moves the bytes.
//!
//! - [`hdlc`]: HDLC-lite [`hdlc::encode`] and the streaming [`hdlc::Decoder`] (CRC-16/X.25 FCS).
//! - [`varint`]: Spinel packed unsigned integers (strict: no overlong or over-`u32` forms).
//! - [`types`]: the Spinel data types (`b C c S L X i E U d t(...) A(...)`) and [`Eui64`].
//! - [`frame`]: the header byte (IID/TID), commands (RESET, PROP_VALUE_GET/SET/INSERT/REMOVE/
//!   IS/INSERTED/REMOVED) and whole frames.
//! - [`prop`]: the properties a Zigbee coordinator uses, with typed values: statuses, versions,
//!   addresses, PAN id, channel, source-match tables, and `STREAM_RAW` transmit requests,
//!   received frames and transmit-done reports.
//!
//! ```
//! use zigtrust_spinel::{hdlc, Command, Frame, PropOp, PropValue, Status};
//!
//! // The RCP's unsolicited greeting: LAST_STATUS = RESET_POWER_ON.
//! let mut dec = hdlc::Decoder::new();
//! let frames = dec.feed(&hdlc::encode_to_vec(&[0x80, 0x06, 0x00, 0x70]));
//! let frame = Frame::parse(frames[0].as_ref().unwrap()).unwrap();
//! assert_eq!(frame.command, Command::PropValue(PropOp::Is, PropValue::LastStatus(Status::ResetPowerOn)));
//!
//! // Switch to channel 15, transaction 3.
//! let set = Frame::new(3, Command::PropValue(PropOp::Set, PropValue::PhyChan(15))).unwrap();
//! assert_eq!(set.to_vec(), [0x83, 0x03, 0x21, 0x0f]);
//! ```
//!
//! Every parser returns an [`Error`] on malformed, truncated or oversized input and never
//! panics; for every value a parser returns, parsing what `emit` writes gives it back.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod frame;
pub mod hdlc;
pub mod prop;
pub mod types;
pub mod varint;

pub use error::{Error, Result};
pub use frame::{cmd, Command, Frame, Header, PropOp, ResetType, SpinelPacket};
pub use prop::{
    PromiscuousMode, Prop, PropValue, RxFrame, RxMacData, RxPhyData, RxVendorData, Status,
    TransmitDone, TxMetadata, TxRequest, TxSecurity,
};
pub use types::Eui64;
