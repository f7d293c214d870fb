//! Reading and writing packet captures of IEEE 802.15.4 traffic for zigtrust.
//!
//! [`CaptureReader`] streams records out of classic pcap (either byte order, µs or ns) and
//! pcapng files, one record at a time, so memory stays flat however large the file is. Each
//! record is unwrapped down to the 802.15.4 PSDU whatever the encapsulation: link types 195
//! (with FCS), 230 (no FCS), 283 (802.15.4 TAP), or ZEP v1/v2 over UDP port 17754 inside
//! Ethernet, Linux cooked, BSD loopback or raw IP captures. Records that carry no 802.15.4 frame
//! are still yielded, as [`RecordContent::Skipped`], so that record numbers match tshark's
//! 1-based frame numbers.
//!
//! [`PcapWriter`] writes classic pcap with link type 195 and a correct FCS.
//!
//! Nothing here panics on malformed input: every length read from the file is checked and
//! bounded before it is used.
#![forbid(unsafe_code)]

mod error;
mod link;
mod reader;
mod writer;
pub mod zep;

pub use error::{CaptureError, CaptureErrorKind};
pub use link::{decode_packet, LinkType, ZEP_PORT};
pub use reader::{ByteOrder, CaptureFormat, CaptureReader, InterfaceInfo, TsResolution};
pub use writer::PcapWriter;
pub use zep::ZepInfo;

use core::fmt;

/// A capture timestamp: seconds since the Unix epoch plus nanoseconds (always < 10⁹).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub const fn new(secs: i64, nanos: u32) -> Timestamp {
        Timestamp { secs, nanos }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs, self.nanos)
    }
}

/// One record of the capture file, whether or not it holds an 802.15.4 frame.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRecord {
    /// 1-based position among the packet records of the file (tshark's `frame.number`);
    /// skipped records count too so the numbers stay comparable.
    pub number: u64,
    /// Capture time from the record header (for ZEP this is the capture time of the UDP
    /// datagram, not the ZEP NTP field, which is in [`ZepInfo`]). Zero for pcapng Simple
    /// Packet Blocks, which carry no time.
    pub timestamp: Timestamp,
    /// Byte offset of the record header (pcap) or block (pcapng) in the file.
    pub offset: u64,
    /// pcapng interface id (always 0 for classic pcap).
    pub interface: u32,
    /// Length of the packet on the wire as the record header reports it.
    pub original_len: u32,
    pub content: RecordContent,
}

impl CaptureRecord {
    /// The frame, if this record carries one.
    pub fn frame(&self) -> Option<&CapturedFrame> {
        match &self.content {
            RecordContent::Frame(f) => Some(f),
            RecordContent::Skipped(_) => None,
        }
    }
}

/// What a record turned out to contain.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordContent {
    Frame(CapturedFrame),
    Skipped(SkipReason),
}

/// An 802.15.4 frame recovered from a record, with whatever radio metadata came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedFrame {
    /// The MAC frame without the FCS or CC24xx metadata trailer, ready for
    /// `zigtrust_wire::mac` parsing.
    pub psdu: Vec<u8>,
    pub fcs: FcsStatus,
    /// 802.15.4 channel, when the encapsulation records it (TAP, ZEP).
    pub channel: Option<u8>,
    /// Received signal strength in dBm (TAP float, or the CC24xx metadata byte for ZEP).
    pub rssi: Option<f32>,
    /// Link quality (TAP LQI TLV, or the ZEP header's LQI in LQI mode).
    pub lqi: Option<u8>,
    pub encapsulation: Encapsulation,
    /// ZEP header fields, for frames that arrived over ZEP.
    pub zep: Option<ZepInfo>,
}

/// Whether the frame's integrity check passed, as far as the capture lets us tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FcsStatus {
    /// A 16-bit FCS was present and matches.
    Ok,
    /// A 16-bit FCS was present and does not match: the frame is corrupt or was
    /// captured from a noisy channel; upper layers should not trust it.
    Bad { computed: u16, received: u16 },
    /// The capture has no FCS for this frame (link type 230, TAP without an FCS, or a record
    /// too short to hold one, which tshark also treats as FCS-less).
    Absent,
    /// The radio replaced the FCS with CC24xx metadata whose "CRC OK" bit is set.
    MetadataOk,
    /// CC24xx metadata whose "CRC OK" bit is clear.
    MetadataBad,
    /// A 32-bit FCS (TAP FCS type 2) was present and removed but not verified.
    Unverified32,
}

impl FcsStatus {
    /// True unless the capture positively says the frame is corrupt.
    pub fn is_trustworthy(self) -> bool {
        !matches!(self, FcsStatus::Bad { .. } | FcsStatus::MetadataBad)
    }
}

/// How the frame was wrapped in the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encapsulation {
    /// Link type 195: PSDU followed by the FCS.
    Wpan195,
    /// Link type 230: PSDU without FCS.
    Wpan230,
    /// Link type 283: 802.15.4 TAP header and TLVs before the PSDU.
    Tap,
    /// ZEP version 1 over UDP.
    ZepV1,
    /// ZEP version 2 (data) over UDP.
    ZepV2,
}

/// Why a record yielded no frame. Skipped records are normal (other traffic on an Ethernet
/// capture, ZEP acks) and never end the iteration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The record's pcapng interface has a link type this crate does not decode.
    UnsupportedLinkType(u16),
    /// The record names a pcapng interface that was never described.
    UnknownInterface(u32),
    /// The capture kept fewer bytes than the packet had (snaplen), so the frame is incomplete.
    SnapTruncated { captured: u32, original: u32 },
    /// Not IPv4/IPv6 (e.g. ARP).
    NotIp { ethertype: u16 },
    /// IP but not UDP.
    NotUdp { protocol: u8 },
    /// An IP fragment; ZEP datagrams are never fragmented in practice.
    IpFragment,
    /// UDP, but neither port is 17754.
    NotZep { src_port: u16, dst_port: u16 },
    /// A ZEP v2 acknowledgement, which carries no 802.15.4 frame.
    ZepAck { sequence: u32 },
    /// A ZEP version or v2 type this crate does not know.
    UnsupportedZep { version: u8, kind: u8 },
    /// A pcapng block that tshark numbers as a frame but that holds no packet (Custom Block,
    /// systemd Journal Export Block).
    NonPacketBlock { block_type: u32 },
    /// A layer's header is inconsistent or cut short.
    Malformed { layer: &'static str, what: &'static str },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::UnsupportedLinkType(lt) => write!(f, "unsupported link type {lt}"),
            SkipReason::UnknownInterface(id) => write!(f, "undescribed pcapng interface {id}"),
            SkipReason::SnapTruncated { captured, original } => {
                write!(f, "only {captured} of {original} bytes captured")
            }
            SkipReason::NotIp { ethertype } => write!(f, "not IP (ethertype {ethertype:#06x})"),
            SkipReason::NotUdp { protocol } => write!(f, "not UDP (IP protocol {protocol})"),
            SkipReason::IpFragment => write!(f, "IP fragment"),
            SkipReason::NotZep { src_port, dst_port } => {
                write!(f, "UDP {src_port} -> {dst_port} is not ZEP (port 17754)")
            }
            SkipReason::ZepAck { sequence } => write!(f, "ZEP ack (sequence {sequence})"),
            SkipReason::UnsupportedZep { version, kind } => {
                write!(f, "unsupported ZEP version {version} type {kind}")
            }
            SkipReason::NonPacketBlock { block_type } => {
                write!(f, "pcapng block type {block_type:#x} holds no packet")
            }
            SkipReason::Malformed { layer, what } => write!(f, "malformed {layer}: {what}"),
        }
    }
}
