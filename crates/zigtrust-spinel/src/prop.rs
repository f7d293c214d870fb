//! Spinel properties a Zigbee coordinator drives an OpenThread RCP with, and their typed
//! values: [`Prop`] (the ids), [`Status`] (`LAST_STATUS` codes), the `STREAM_RAW` transmit
//! request [`TxRequest`], received frame [`RxFrame`] and transmit-done [`TransmitDone`], and
//! [`PropValue`], one variant per property value shape.
//!
//! A property's value layout can depend on the command carrying it: `STREAM_RAW` is a
//! transmit request when the host SETs it and a received frame when the RCP reports it (IS);
//! the source-match tables are whole arrays under SET/IS and a single address under
//! INSERT/REMOVE (and the INSERTED/REMOVED answers). [`PropValue::parse`] takes the
//! [`PropOp`] for that reason.
//!
//! Parsing follows Spinel's extensibility rule: bytes after the fields this crate knows (at
//! the end of a value or inside a `t(...)` struct) are fields a newer peer added, and are
//! ignored. For every value `v` that a parser returns, `parse(emit(v)) == v`.

use crate::types::{Eui64, Reader, Writer};
use crate::{PropOp, Result};

macro_rules! props {
    ($( $(#[$doc:meta])* $variant:ident = $id:expr, $name:expr; )*) => {
        /// A Spinel property id (a packed integer on the wire). Ids this crate gives a typed
        /// value are variants; any other id is [`Prop::Other`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Prop {
            $( $(#[$doc])* $variant, )*
            /// Any other property id (never one of the ids above when it comes from
            /// [`Prop::from_id`]).
            Other(u32),
        }

        impl Prop {
            /// The property id.
            pub fn id(self) -> u32 {
                match self {
                    $( Prop::$variant => $id, )*
                    Prop::Other(id) => id,
                }
            }

            /// The property with this id.
            pub fn from_id(id: u32) -> Prop {
                match id {
                    $( $id => Prop::$variant, )*
                    other => Prop::Other(other),
                }
            }

            /// The `SPINEL_PROP_*` name without the prefix, or `"?"` for [`Prop::Other`].
            pub fn name(self) -> &'static str {
                match self {
                    $( Prop::$variant => $name, )*
                    Prop::Other(_) => "?",
                }
            }
        }
    };
}

props! {
    /// `LAST_STATUS` (0, `i`): the status of the last command, a reset reason sent
    /// unprompted, or (with more fields) a `STREAM_RAW` transmit-done.
    LastStatus = 0, "LAST_STATUS";
    /// `PROTOCOL_VERSION` (1, `ii`): Spinel major and minor version (4.3 on current OpenThread).
    ProtocolVersion = 1, "PROTOCOL_VERSION";
    /// `NCP_VERSION` (2, `U`): firmware version string.
    NcpVersion = 2, "NCP_VERSION";
    /// `INTERFACE_TYPE` (3, `i`): `SPINEL_PROTOCOL_TYPE_*` (3 = Thread, what an RCP reports).
    InterfaceType = 3, "INTERFACE_TYPE";
    /// `CAPS` (5, `A(i)`): the co-processor's capability list.
    Caps = 5, "CAPS";
    /// `HWADDR` (8, `E`): the radio's factory EUI-64.
    HwAddr = 8, "HWADDR";
    /// `PHY_ENABLED` (0x20, `b`): radio on.
    PhyEnabled = 0x20, "PHY_ENABLED";
    /// `PHY_CHAN` (0x21, `C`): 802.15.4 channel (11–26 on 2.4 GHz).
    PhyChan = 0x21, "PHY_CHAN";
    /// `MAC_15_4_LADDR` (0x34, `E`): the extended address the radio's ACK filter answers to.
    MacLongAddr = 0x34, "MAC_15_4_LADDR";
    /// `MAC_15_4_SADDR` (0x35, `S`): the short address the radio's ACK filter answers to.
    MacShortAddr = 0x35, "MAC_15_4_SADDR";
    /// `MAC_15_4_PANID` (0x36, `S`): the PAN id the radio filters on.
    MacPanId = 0x36, "MAC_15_4_PANID";
    /// `MAC_RAW_STREAM_ENABLED` (0x37, `b`): deliver received frames as `STREAM_RAW`.
    MacRawStreamEnabled = 0x37, "MAC_RAW_STREAM_ENABLED";
    /// `MAC_PROMISCUOUS_MODE` (0x38, `C`): see [`PromiscuousMode`].
    MacPromiscuousMode = 0x38, "MAC_PROMISCUOUS_MODE";
    /// `STREAM_RAW` (0x71): 802.15.4 frames to transmit (SET) and received (IS).
    StreamRaw = 0x71, "STREAM_RAW";
    /// `RCP_API_VERSION` (0xB0, `i`): the RCP's host API version.
    RcpApiVersion = 0xB0, "RCP_API_VERSION";
    /// `RADIO_CAPS` (0x120B, `i`): `SPINEL_RADIO_CAPS_*` bits (ACK timeout, retries, CSMA…).
    RadioCaps = 0x120B, "RADIO_CAPS";
    /// `MAC_SRC_MATCH_ENABLED` (0x1303, `b`): set frame-pending in ACKs from the source-match
    /// tables (off: every ACK to a data request has frame-pending set).
    MacSrcMatchEnabled = 0x1303, "MAC_SRC_MATCH_ENABLED";
    /// `MAC_SRC_MATCH_SHORT_ADDRESSES` (0x1304, `A(S)`): short addresses of children with
    /// frames pending.
    MacSrcMatchShortAddresses = 0x1304, "MAC_SRC_MATCH_SHORT_ADDRESSES";
    /// `MAC_SRC_MATCH_EXTENDED_ADDRESSES` (0x1305, `A(E)`): extended addresses of children
    /// with frames pending.
    MacSrcMatchExtendedAddresses = 0x1305, "MAC_SRC_MATCH_EXTENDED_ADDRESSES";
}

macro_rules! statuses {
    ($( $(#[$doc:meta])* $variant:ident = $code:expr; )*) => {
        /// A `SPINEL_STATUS_*` code, the value of `LAST_STATUS` (numbering from OpenThread's
        /// `spinel.h`). Codes without a variant are kept as [`Status::Other`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Status {
            $( $(#[$doc])* $variant, )*
            /// Any other code (never one of the codes above when it comes from
            /// [`Status::from_code`]).
            Other(u32),
        }

        impl Status {
            /// The numeric status code.
            pub fn code(self) -> u32 {
                match self {
                    $( Status::$variant => $code, )*
                    Status::Other(c) => c,
                }
            }

            /// The status with this code.
            pub fn from_code(code: u32) -> Status {
                match code {
                    $( $code => Status::$variant, )*
                    other => Status::Other(other),
                }
            }
        }
    };
}

statuses! {
    /// 0: the command succeeded (for a transmit: sent, and ACKed if it asked for one).
    Ok = 0;
    /// 1: failed for an unspecified reason.
    Failure = 1;
    /// 2: not implemented.
    Unimplemented = 2;
    /// 3: an argument is invalid.
    InvalidArgument = 3;
    /// 4: invalid in the current state (e.g. transmit with the radio off).
    InvalidState = 4;
    /// 5: unknown command.
    InvalidCommand = 5;
    /// 6: unsupported interface id.
    InvalidInterface = 6;
    /// 7: internal error.
    InternalError = 7;
    /// 8: security or authentication error.
    SecurityError = 8;
    /// 9: the command could not be parsed.
    ParseError = 9;
    /// 10: in progress, completes asynchronously.
    InProgress = 10;
    /// 11: out of memory.
    NoMem = 11;
    /// 12: busy with a mutually exclusive operation (e.g. another transmit outstanding).
    Busy = 12;
    /// 13: unknown property.
    PropNotFound = 13;
    /// 14: the packet was dropped.
    Dropped = 14;
    /// 15: the result is empty.
    Empty = 15;
    /// 16: the command is too big for the co-processor's buffer.
    CmdTooBig = 16;
    /// 17: the frame was sent with ACK request and no ACK came after all retries.
    NoAck = 17;
    /// 18: the frame was not sent: the channel stayed busy (CSMA-CA gave up).
    CcaFailure = 18;
    /// 19: already in progress.
    Already = 19;
    /// 20: the item was not found (e.g. removing an absent source-match entry).
    ItemNotFound = 20;
    /// 21: the command cannot be performed on this property.
    InvalidCommandForProp = 21;
    /// 22: unknown neighbour.
    UnknownNeighbor = 22;
    /// 23: not capable.
    NotCapable = 23;
    /// 24: no response from the remote node.
    ResponseTimeout = 24;
    /// 112: reset by power-on (what `ot-rcp` sends at start and after `CMD_RESET`).
    ResetPowerOn = 112;
    /// 113: reset by the external reset line.
    ResetExternal = 113;
    /// 114: reset by software.
    ResetSoftware = 114;
    /// 115: reset after a fault.
    ResetFault = 115;
    /// 116: reset after a crash.
    ResetCrash = 116;
    /// 117: reset after an assertion failed.
    ResetAssert = 117;
    /// 118: reset for another reason.
    ResetOther = 118;
    /// 119: reset for an unknown reason.
    ResetUnknown = 119;
    /// 120: reset by the watchdog.
    ResetWatchdog = 120;
}

impl Status {
    /// Whether this is one of the `RESET_*` codes (112–127): the co-processor has just
    /// (re)started and lost all radio state.
    pub fn is_reset(self) -> bool {
        (112..128).contains(&self.code())
    }
}

/// `MAC_PROMISCUOUS_MODE` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PromiscuousMode {
    /// 0: normal address filtering (and hardware ACKs).
    Off,
    /// 1: every frame of this network.
    Network,
    /// 2: every decoded frame (sniffer); ACKs nothing.
    Full,
    /// Any other value (never 0–2 when parsed).
    Other(u8),
}

impl PromiscuousMode {
    /// The byte on the wire.
    pub fn value(self) -> u8 {
        match self {
            PromiscuousMode::Off => 0,
            PromiscuousMode::Network => 1,
            PromiscuousMode::Full => 2,
            PromiscuousMode::Other(v) => v,
        }
    }
    /// The mode for this byte.
    pub fn from_value(v: u8) -> PromiscuousMode {
        match v {
            0 => PromiscuousMode::Off,
            1 => PromiscuousMode::Network,
            2 => PromiscuousMode::Full,
            v => PromiscuousMode::Other(v),
        }
    }
}

/// Per-frame transmit metadata after the PSDU in a `STREAM_RAW` SET (`C C C b b b b L L C c`,
/// OpenThread's `DecodeStreamRawTxRequest`).
///
/// OpenThread accepts a shorter prefix of these fields (only the channel is required); this
/// crate always writes and expects all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxMetadata {
    /// Channel to transmit on.
    pub channel: u8,
    /// CSMA-CA backoffs before reporting [`Status::CcaFailure`].
    pub max_csma_backoffs: u8,
    /// Retransmissions after a missing ACK before reporting [`Status::NoAck`].
    pub max_frame_retries: u8,
    /// Whether to do CSMA-CA before transmitting.
    pub csma_ca_enabled: bool,
    /// Whether the host already filled the header (frame counter, key id): OpenThread's
    /// `mIsHeaderUpdated`.
    pub header_updated: bool,
    /// Whether this is a retransmission (`mIsARetx`).
    pub is_retransmission: bool,
    /// Whether MAC security was already applied (`mIsSecurityProcessed`; Zigbee never uses
    /// MAC security).
    pub security_processed: bool,
    /// Delayed-transmit interval in µs (CSL; 0 = now).
    pub tx_delay: u32,
    /// Base time for `tx_delay` (µs, radio clock).
    pub tx_delay_base_time: u32,
    /// Channel to receive on once the transmit is done.
    pub rx_channel_after_tx_done: u8,
    /// Transmit power in dBm; [`TxMetadata::TX_POWER_DEFAULT`] (127) = the radio's setting.
    pub tx_power: i8,
}

impl TxMetadata {
    /// `tx_power` meaning "use the radio's configured power" (OpenThread's
    /// `OT_RADIO_POWER_INVALID`).
    pub const TX_POWER_DEFAULT: i8 = 127;

    /// OpenThread's defaults for a direct transmit on `channel`: CSMA-CA on with 4 backoffs,
    /// 3 retries, no delay, stay on `channel`, default power. (On the wire:
    /// `<ch> 04 03 01 00 00 00 00000000 00000000 <ch> 7f`.)
    pub fn new(channel: u8) -> TxMetadata {
        TxMetadata {
            channel,
            max_csma_backoffs: 4,
            max_frame_retries: 3,
            csma_ca_enabled: true,
            header_updated: false,
            is_retransmission: false,
            security_processed: false,
            tx_delay: 0,
            tx_delay_base_time: 0,
            rx_channel_after_tx_done: channel,
            tx_power: TxMetadata::TX_POWER_DEFAULT,
        }
    }

    fn parse(r: &mut Reader<'_>) -> Result<TxMetadata> {
        const W: &str = "STREAM_RAW transmit metadata";
        Ok(TxMetadata {
            channel: r.u8(W)?,
            max_csma_backoffs: r.u8(W)?,
            max_frame_retries: r.u8(W)?,
            csma_ca_enabled: r.bool(W)?,
            header_updated: r.bool(W)?,
            is_retransmission: r.bool(W)?,
            security_processed: r.bool(W)?,
            tx_delay: r.u32(W)?,
            tx_delay_base_time: r.u32(W)?,
            rx_channel_after_tx_done: r.u8(W)?,
            tx_power: r.i8(W)?,
        })
    }

    fn emit(&self, out: &mut Vec<u8>) {
        out.put_u8(self.channel);
        out.put_u8(self.max_csma_backoffs);
        out.put_u8(self.max_frame_retries);
        out.put_bool(self.csma_ca_enabled);
        out.put_bool(self.header_updated);
        out.put_bool(self.is_retransmission);
        out.put_bool(self.security_processed);
        out.put_u32(self.tx_delay);
        out.put_u32(self.tx_delay_base_time);
        out.put_u8(self.rx_channel_after_tx_done);
        out.put_i8(self.tx_power);
    }
}

/// A `STREAM_RAW` transmit request, host to RCP (`d C C C b b b b L L C c`).
///
/// Only one may be outstanding; its answer is a [`TransmitDone`] with the same TID, and a
/// request sent with TID 0 never gets one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxRequest {
    /// The 802.15.4 PSDU: MAC header and payload followed by 2 FCS bytes, which the radio
    /// overwrites (send zeros).
    pub psdu: Vec<u8>,
    /// How to send it.
    pub meta: TxMetadata,
}

impl TxRequest {
    /// Parses a transmit request value.
    pub fn parse(buf: &[u8]) -> Result<TxRequest> {
        let mut r = Reader::new(buf);
        let psdu = r.data_with_len("STREAM_RAW PSDU")?.to_vec();
        let meta = TxMetadata::parse(&mut r)?;
        Ok(TxRequest { psdu, meta })
    }

    /// Appends the value.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.put_data_with_len(&self.psdu);
        self.meta.emit(out);
    }
}

/// `PHY data` of a received frame (`t(C C X)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RxPhyData {
    /// Channel the frame was received on.
    pub channel: u8,
    /// 802.15.4 link quality indication (0–255).
    pub lqi: u8,
    /// Reception timestamp in µs (radio clock).
    pub timestamp_us: u64,
}

/// `vendor data` of a received frame (`t(i)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RxVendorData {
    /// The receive error as an OpenThread `otError` (0 = none); a frame received with an error
    /// has an empty PSDU.
    pub error: u32,
}

/// `MAC data` of a received frame (`t(C L)`): what the radio put in a secured Enh-ACK it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RxMacData {
    /// Key id of the ACK's auxiliary security header.
    pub ack_key_id: u8,
    /// Frame counter of the ACK's auxiliary security header.
    pub ack_frame_counter: u32,
}

/// An 802.15.4 frame the RCP received (`STREAM_RAW` IS, unsolicited, TID 0), or the ACK inside
/// a [`TransmitDone`]: `d c c S t(C C X) t(i) t(C L)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RxFrame {
    /// The PSDU including its 2 FCS bytes (empty when `vendor.error` is set).
    pub psdu: Vec<u8>,
    /// Received signal strength, dBm.
    pub rssi: i8,
    /// Noise floor, dBm (OpenThread always sends −128, unused).
    pub noise_floor: i8,
    /// `SPINEL_MD_FLAG_*` bits, e.g. [`RxFrame::FLAG_ACKED_FP`].
    pub flags: u16,
    /// Channel, LQI, timestamp.
    pub phy: RxPhyData,
    /// Receive error.
    pub vendor: RxVendorData,
    /// Secured-ACK details.
    pub mac: RxMacData,
}

impl RxFrame {
    /// Flag: the frame was transmitted, not received.
    pub const FLAG_TX: u16 = 0x0001;
    /// Flag: received with a bad FCS.
    pub const FLAG_BAD_FCS: u16 = 0x0004;
    /// Flag: seems to be a duplicate.
    pub const FLAG_DUPE: u16 = 0x0008;
    /// Flag: the radio ACKed this frame with frame-pending set.
    pub const FLAG_ACKED_FP: u16 = 0x0010;
    /// Flag: the radio ACKed this frame with a secured Enh-ACK.
    pub const FLAG_ACKED_SEC: u16 = 0x0020;

    /// Whether the radio's automatic ACK to this frame had frame-pending set (what tells a
    /// sleepy device that polled to stay awake).
    pub fn acked_with_frame_pending(&self) -> bool {
        self.flags & RxFrame::FLAG_ACKED_FP != 0
    }

    /// Parses a received-frame value (fields appended by a newer RCP are ignored).
    pub fn parse(buf: &[u8]) -> Result<RxFrame> {
        RxFrame::read(&mut Reader::new(buf))
    }

    fn read(r: &mut Reader<'_>) -> Result<RxFrame> {
        let psdu = r.data_with_len("STREAM_RAW PSDU")?.to_vec();
        let rssi = r.i8("STREAM_RAW RSSI")?;
        let noise_floor = r.i8("STREAM_RAW noise floor")?;
        let flags = r.u16("STREAM_RAW flags")?;
        let mut p = r.structure("STREAM_RAW PHY data")?;
        let phy = RxPhyData {
            channel: p.u8("STREAM_RAW PHY data")?,
            lqi: p.u8("STREAM_RAW PHY data")?,
            timestamp_us: p.u64("STREAM_RAW PHY data")?,
        };
        let mut v = r.structure("STREAM_RAW vendor data")?;
        let vendor = RxVendorData { error: v.varint("STREAM_RAW vendor data")? };
        let mut m = r.structure("STREAM_RAW MAC data")?;
        let mac = RxMacData {
            ack_key_id: m.u8("STREAM_RAW MAC data")?,
            ack_frame_counter: m.u32("STREAM_RAW MAC data")?,
        };
        Ok(RxFrame { psdu, rssi, noise_floor, flags, phy, vendor, mac })
    }

    /// Appends the value.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.put_data_with_len(&self.psdu);
        out.put_i8(self.rssi);
        out.put_i8(self.noise_floor);
        out.put_u16(self.flags);
        out.put_struct(|s| {
            s.put_u8(self.phy.channel);
            s.put_u8(self.phy.lqi);
            s.put_u64(self.phy.timestamp_us);
        });
        out.put_struct(|s| s.put_varint(self.vendor.error));
        out.put_struct(|s| {
            s.put_u8(self.mac.ack_key_id);
            s.put_u32(self.mac.ack_frame_counter);
        });
    }
}

/// Key id and frame counter the RCP put in a transmitted frame's auxiliary security header
/// (sent after a transmit-done only for MAC-secured frames, which Zigbee never sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxSecurity {
    /// Key id mode / index byte used.
    pub key_id: u8,
    /// Frame counter used.
    pub frame_counter: u32,
}

/// The answer to a [`TxRequest`]: `LAST_STATUS` IS with the request's TID, carrying
/// `i b b` then, when the status is OK, the ACK as an [`RxFrame`] (an empty PSDU when the
/// frame asked for none), then optionally [`TxSecurity`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransmitDone {
    /// [`Status::Ok`], [`Status::NoAck`], [`Status::CcaFailure`], [`Status::Busy`], …
    pub status: Status,
    /// Frame-pending bit of the received ACK.
    pub frame_pending: bool,
    /// Whether the radio updated the frame's header (security frame counter).
    pub header_updated: bool,
    /// The ACK frame, when the RCP sent the ACK block.
    pub ack: Option<RxFrame>,
    /// The security parameters used, for MAC-secured frames.
    pub security: Option<TxSecurity>,
}

impl TransmitDone {
    /// The received ACK's PSDU, if an ACK was received.
    pub fn ack_psdu(&self) -> Option<&[u8]> {
        self.ack.as_ref().map(|a| a.psdu.as_slice()).filter(|p| !p.is_empty())
    }

    /// Parses the fields after the status (the status already read).
    fn read_rest(status: Status, r: &mut Reader<'_>) -> Result<TransmitDone> {
        let frame_pending = r.bool("transmit-done frame pending")?;
        let header_updated = r.bool("transmit-done header updated")?;
        // The security trailer alone is 5 bytes; an ACK block is at least 27, so the two
        // cannot be confused.
        let ack = if r.is_empty() || r.remaining() == 5 { None } else { Some(RxFrame::read(r)?) };
        let security = if r.remaining() >= 5 {
            Some(TxSecurity {
                key_id: r.u8("transmit-done key id")?,
                frame_counter: r.u32("transmit-done frame counter")?,
            })
        } else {
            None
        };
        Ok(TransmitDone { status, frame_pending, header_updated, ack, security })
    }

    /// Appends the whole `LAST_STATUS` value.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.put_varint(self.status.code());
        out.put_bool(self.frame_pending);
        out.put_bool(self.header_updated);
        if let Some(ack) = &self.ack {
            ack.emit(out);
        }
        if let Some(s) = &self.security {
            out.put_u8(s.key_id);
            out.put_u32(s.frame_counter);
        }
    }
}

/// A typed property value: one variant per property and value shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PropValue {
    /// `LAST_STATUS` with only a status.
    LastStatus(Status),
    /// `LAST_STATUS` answering a `STREAM_RAW` transmit.
    TransmitDone(TransmitDone),
    /// `PROTOCOL_VERSION`.
    ProtocolVersion {
        /// Major version (4).
        major: u32,
        /// Minor version.
        minor: u32,
    },
    /// `NCP_VERSION` (without its NUL).
    NcpVersion(String),
    /// `INTERFACE_TYPE`.
    InterfaceType(u32),
    /// `CAPS`.
    Caps(Vec<u32>),
    /// `HWADDR`.
    HwAddr(Eui64),
    /// `PHY_ENABLED`.
    PhyEnabled(bool),
    /// `PHY_CHAN`.
    PhyChan(u8),
    /// `MAC_15_4_LADDR`.
    MacLongAddr(Eui64),
    /// `MAC_15_4_SADDR`.
    MacShortAddr(u16),
    /// `MAC_15_4_PANID`.
    MacPanId(u16),
    /// `MAC_RAW_STREAM_ENABLED`.
    MacRawStreamEnabled(bool),
    /// `MAC_PROMISCUOUS_MODE`.
    MacPromiscuousMode(PromiscuousMode),
    /// `STREAM_RAW` from the host (SET / INSERT / REMOVE): a frame to transmit.
    StreamRawTx(TxRequest),
    /// `STREAM_RAW` from the RCP (IS / INSERTED / REMOVED): a received frame.
    StreamRawRx(RxFrame),
    /// `RCP_API_VERSION`.
    RcpApiVersion(u32),
    /// `RADIO_CAPS`.
    RadioCaps(u32),
    /// `MAC_SRC_MATCH_ENABLED`.
    MacSrcMatchEnabled(bool),
    /// `MAC_SRC_MATCH_SHORT_ADDRESSES` as a whole table (SET / IS).
    MacSrcMatchShortAddresses(Vec<u16>),
    /// `MAC_SRC_MATCH_EXTENDED_ADDRESSES` as a whole table (SET / IS).
    MacSrcMatchExtendedAddresses(Vec<Eui64>),
    /// One `MAC_SRC_MATCH_SHORT_ADDRESSES` entry (INSERT / REMOVE / INSERTED / REMOVED).
    MacSrcMatchShortEntry(u16),
    /// One `MAC_SRC_MATCH_EXTENDED_ADDRESSES` entry (INSERT / REMOVE / INSERTED / REMOVED).
    MacSrcMatchExtendedEntry(Eui64),
    /// A property this crate has no type for, with its raw value bytes.
    Other {
        /// The property id (not one of [`Prop`]'s named ids when parsed).
        prop: u32,
        /// The value bytes.
        data: Vec<u8>,
    },
}

impl PropValue {
    /// The property this value belongs to.
    pub fn prop(&self) -> Prop {
        match self {
            PropValue::LastStatus(_) | PropValue::TransmitDone(_) => Prop::LastStatus,
            PropValue::ProtocolVersion { .. } => Prop::ProtocolVersion,
            PropValue::NcpVersion(_) => Prop::NcpVersion,
            PropValue::InterfaceType(_) => Prop::InterfaceType,
            PropValue::Caps(_) => Prop::Caps,
            PropValue::HwAddr(_) => Prop::HwAddr,
            PropValue::PhyEnabled(_) => Prop::PhyEnabled,
            PropValue::PhyChan(_) => Prop::PhyChan,
            PropValue::MacLongAddr(_) => Prop::MacLongAddr,
            PropValue::MacShortAddr(_) => Prop::MacShortAddr,
            PropValue::MacPanId(_) => Prop::MacPanId,
            PropValue::MacRawStreamEnabled(_) => Prop::MacRawStreamEnabled,
            PropValue::MacPromiscuousMode(_) => Prop::MacPromiscuousMode,
            PropValue::StreamRawTx(_) | PropValue::StreamRawRx(_) => Prop::StreamRaw,
            PropValue::RcpApiVersion(_) => Prop::RcpApiVersion,
            PropValue::RadioCaps(_) => Prop::RadioCaps,
            PropValue::MacSrcMatchEnabled(_) => Prop::MacSrcMatchEnabled,
            PropValue::MacSrcMatchShortAddresses(_) | PropValue::MacSrcMatchShortEntry(_) => {
                Prop::MacSrcMatchShortAddresses
            }
            PropValue::MacSrcMatchExtendedAddresses(_) | PropValue::MacSrcMatchExtendedEntry(_) => {
                Prop::MacSrcMatchExtendedAddresses
            }
            PropValue::Other { prop, .. } => Prop::from_id(*prop),
        }
    }

    /// Whether [`PropValue::parse`] under `op` can return this value, i.e. whether it
    /// round-trips in a frame with that command: a transmit request goes with a host command,
    /// a received frame with an RCP one, a single source-match entry with
    /// INSERT/REMOVE/INSERTED/REMOVED and a whole table with SET/IS, and
    /// [`PropValue::Other`] only with an id that has no variant.
    pub fn fits(&self, op: PropOp) -> bool {
        let entry_op =
            matches!(op, PropOp::Insert | PropOp::Remove | PropOp::Inserted | PropOp::Removed);
        match self {
            PropValue::StreamRawTx(_) => op.is_from_host(),
            PropValue::StreamRawRx(_) => !op.is_from_host(),
            PropValue::MacSrcMatchShortEntry(_) | PropValue::MacSrcMatchExtendedEntry(_) => {
                entry_op
            }
            PropValue::MacSrcMatchShortAddresses(_)
            | PropValue::MacSrcMatchExtendedAddresses(_) => !entry_op,
            PropValue::Other { prop, .. } => matches!(Prop::from_id(*prop), Prop::Other(_)),
            _ => true,
        }
    }

    /// Parses the value of property `prop` carried by a command `op`.
    pub fn parse(op: PropOp, prop: u32, buf: &[u8]) -> Result<PropValue> {
        let entry_op =
            matches!(op, PropOp::Insert | PropOp::Remove | PropOp::Inserted | PropOp::Removed);
        let mut r = Reader::new(buf);
        let r = &mut r;
        Ok(match Prop::from_id(prop) {
            Prop::LastStatus => {
                let status = Status::from_code(r.varint("LAST_STATUS")?);
                if r.is_empty() {
                    PropValue::LastStatus(status)
                } else {
                    PropValue::TransmitDone(TransmitDone::read_rest(status, r)?)
                }
            }
            Prop::ProtocolVersion => PropValue::ProtocolVersion {
                major: r.varint("PROTOCOL_VERSION")?,
                minor: r.varint("PROTOCOL_VERSION")?,
            },
            Prop::NcpVersion => PropValue::NcpVersion(r.utf8("NCP_VERSION")?.to_owned()),
            Prop::InterfaceType => PropValue::InterfaceType(r.varint("INTERFACE_TYPE")?),
            Prop::Caps => {
                let mut caps = Vec::new();
                while !r.is_empty() {
                    caps.push(r.varint("CAPS")?);
                }
                PropValue::Caps(caps)
            }
            Prop::HwAddr => PropValue::HwAddr(r.eui64("HWADDR")?),
            Prop::PhyEnabled => PropValue::PhyEnabled(r.bool("PHY_ENABLED")?),
            Prop::PhyChan => PropValue::PhyChan(r.u8("PHY_CHAN")?),
            Prop::MacLongAddr => PropValue::MacLongAddr(r.eui64("MAC_15_4_LADDR")?),
            Prop::MacShortAddr => PropValue::MacShortAddr(r.u16("MAC_15_4_SADDR")?),
            Prop::MacPanId => PropValue::MacPanId(r.u16("MAC_15_4_PANID")?),
            Prop::MacRawStreamEnabled => {
                PropValue::MacRawStreamEnabled(r.bool("MAC_RAW_STREAM_ENABLED")?)
            }
            Prop::MacPromiscuousMode => PropValue::MacPromiscuousMode(PromiscuousMode::from_value(
                r.u8("MAC_PROMISCUOUS_MODE")?,
            )),
            Prop::StreamRaw if op.is_from_host() => PropValue::StreamRawTx(TxRequest::parse(buf)?),
            Prop::StreamRaw => PropValue::StreamRawRx(RxFrame::parse(buf)?),
            Prop::RcpApiVersion => PropValue::RcpApiVersion(r.varint("RCP_API_VERSION")?),
            Prop::RadioCaps => PropValue::RadioCaps(r.varint("RADIO_CAPS")?),
            Prop::MacSrcMatchEnabled => {
                PropValue::MacSrcMatchEnabled(r.bool("MAC_SRC_MATCH_ENABLED")?)
            }
            Prop::MacSrcMatchShortAddresses if entry_op => {
                PropValue::MacSrcMatchShortEntry(r.u16("MAC_SRC_MATCH_SHORT_ADDRESSES")?)
            }
            Prop::MacSrcMatchShortAddresses => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(r.u16("MAC_SRC_MATCH_SHORT_ADDRESSES")?);
                }
                PropValue::MacSrcMatchShortAddresses(v)
            }
            Prop::MacSrcMatchExtendedAddresses if entry_op => {
                PropValue::MacSrcMatchExtendedEntry(r.eui64("MAC_SRC_MATCH_EXTENDED_ADDRESSES")?)
            }
            Prop::MacSrcMatchExtendedAddresses => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(r.eui64("MAC_SRC_MATCH_EXTENDED_ADDRESSES")?);
                }
                PropValue::MacSrcMatchExtendedAddresses(v)
            }
            Prop::Other(prop) => PropValue::Other { prop, data: buf.to_vec() },
        })
    }

    /// Appends the value bytes (without the property id).
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            PropValue::LastStatus(s) => out.put_varint(s.code()),
            PropValue::TransmitDone(t) => t.emit(out),
            PropValue::ProtocolVersion { major, minor } => {
                out.put_varint(*major);
                out.put_varint(*minor);
            }
            PropValue::NcpVersion(s) => out.put_utf8(s),
            PropValue::InterfaceType(v) | PropValue::RcpApiVersion(v) | PropValue::RadioCaps(v) => {
                out.put_varint(*v)
            }
            PropValue::Caps(caps) => caps.iter().for_each(|&c| out.put_varint(c)),
            PropValue::HwAddr(e)
            | PropValue::MacLongAddr(e)
            | PropValue::MacSrcMatchExtendedEntry(e) => out.put_eui64(*e),
            PropValue::PhyEnabled(b)
            | PropValue::MacRawStreamEnabled(b)
            | PropValue::MacSrcMatchEnabled(b) => out.put_bool(*b),
            PropValue::PhyChan(c) => out.put_u8(*c),
            PropValue::MacShortAddr(v)
            | PropValue::MacPanId(v)
            | PropValue::MacSrcMatchShortEntry(v) => out.put_u16(*v),
            PropValue::MacPromiscuousMode(m) => out.put_u8(m.value()),
            PropValue::StreamRawTx(t) => t.emit(out),
            PropValue::StreamRawRx(f) => f.emit(out),
            PropValue::MacSrcMatchShortAddresses(v) => v.iter().for_each(|&a| out.put_u16(a)),
            PropValue::MacSrcMatchExtendedAddresses(v) => v.iter().for_each(|&a| out.put_eui64(a)),
            PropValue::Other { data, .. } => out.extend_from_slice(data),
        }
    }
}
