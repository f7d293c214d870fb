//! Spinel frames: a [`SpinelPacket`] view over the bytes of one (HDLC-decoded) frame and the
//! [`Frame`] value with `parse` / `emit`.
//!
//! A frame is `header command-id payload`: the header byte is `10 IID(2) TID(4)` ([`Header`]),
//! the command id a packed integer, and for the property commands the payload starts with the
//! property id (packed) followed by the value.

use crate::prop::{Prop, PropValue};
use crate::types::{Reader, Writer};
use crate::{varint, Error, Result};

/// The Spinel header byte: flag bits `10`, interface id (IID, 0–3) and transaction id
/// (TID, 0–15; 0 = unsolicited, or a request whose answer is not wanted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header(u8);

impl Header {
    /// The flag bits every header carries (`0x80`; bit 6 is clear).
    pub const FLAG: u8 = 0x80;
    const FLAG_MASK: u8 = 0xC0;

    /// A header for interface `iid` (0–3) and transaction `tid` (0–15);
    /// [`Error::Malformed`] when either is out of range.
    pub fn new(iid: u8, tid: u8) -> Result<Header> {
        if iid > 3 {
            return Err(Error::Malformed { what: "Spinel IID (0-3)" });
        }
        if tid > 15 {
            return Err(Error::Malformed { what: "Spinel TID (0-15)" });
        }
        Ok(Header(Header::FLAG | iid << 4 | tid))
    }

    /// Reads a header byte, checking the flag bits.
    pub fn from_byte(byte: u8) -> Result<Header> {
        if byte & Header::FLAG_MASK != Header::FLAG {
            return Err(Error::BadHeader { header: byte });
        }
        Ok(Header(byte))
    }

    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        self.0
    }
    /// Interface id (0–3).
    pub fn iid(self) -> u8 {
        (self.0 >> 4) & 0x03
    }
    /// Transaction id (0–15).
    pub fn tid(self) -> u8 {
        self.0 & 0x0f
    }
}

/// The property commands: the ones whose payload is a property id and a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropOp {
    /// `CMD_PROP_VALUE_SET` (3), host → RCP.
    Set,
    /// `CMD_PROP_VALUE_INSERT` (4), host → RCP: add an item to a list property.
    Insert,
    /// `CMD_PROP_VALUE_REMOVE` (5), host → RCP: drop an item from a list property.
    Remove,
    /// `CMD_PROP_VALUE_IS` (6), RCP → host: a property's value (answer or unsolicited).
    Is,
    /// `CMD_PROP_VALUE_INSERTED` (7), RCP → host: answer to INSERT.
    Inserted,
    /// `CMD_PROP_VALUE_REMOVED` (8), RCP → host: answer to REMOVE.
    Removed,
}

impl PropOp {
    /// All six, in command-id order.
    pub const ALL: [PropOp; 6] = [
        PropOp::Set,
        PropOp::Insert,
        PropOp::Remove,
        PropOp::Is,
        PropOp::Inserted,
        PropOp::Removed,
    ];

    /// The command id.
    pub fn command_id(self) -> u32 {
        match self {
            PropOp::Set => cmd::PROP_VALUE_SET,
            PropOp::Insert => cmd::PROP_VALUE_INSERT,
            PropOp::Remove => cmd::PROP_VALUE_REMOVE,
            PropOp::Is => cmd::PROP_VALUE_IS,
            PropOp::Inserted => cmd::PROP_VALUE_INSERTED,
            PropOp::Removed => cmd::PROP_VALUE_REMOVED,
        }
    }

    /// The property command with this id, if it is one.
    pub fn from_command_id(id: u32) -> Option<PropOp> {
        PropOp::ALL.into_iter().find(|op| op.command_id() == id)
    }

    /// Whether the host sends this command (SET, INSERT, REMOVE) rather than the RCP.
    pub fn is_from_host(self) -> bool {
        matches!(self, PropOp::Set | PropOp::Insert | PropOp::Remove)
    }
}

/// Spinel command ids.
pub mod cmd {
    /// `CMD_NOOP`.
    pub const NOOP: u32 = 0;
    /// `CMD_RESET`.
    pub const RESET: u32 = 1;
    /// `CMD_PROP_VALUE_GET`.
    pub const PROP_VALUE_GET: u32 = 2;
    /// `CMD_PROP_VALUE_SET`.
    pub const PROP_VALUE_SET: u32 = 3;
    /// `CMD_PROP_VALUE_INSERT`.
    pub const PROP_VALUE_INSERT: u32 = 4;
    /// `CMD_PROP_VALUE_REMOVE`.
    pub const PROP_VALUE_REMOVE: u32 = 5;
    /// `CMD_PROP_VALUE_IS`.
    pub const PROP_VALUE_IS: u32 = 6;
    /// `CMD_PROP_VALUE_INSERTED`.
    pub const PROP_VALUE_INSERTED: u32 = 7;
    /// `CMD_PROP_VALUE_REMOVED`.
    pub const PROP_VALUE_REMOVED: u32 = 8;
}

/// What `CMD_RESET` resets (its optional one-byte argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetType {
    /// 1: the whole platform (for `ot-rcp` simulation: the process re-execs).
    Platform,
    /// 2: the protocol stack (the default).
    Stack,
    /// 3: into the bootloader.
    Bootloader,
    /// Any other value (never 1–3 when parsed).
    Other(u8),
}

impl ResetType {
    /// The byte on the wire.
    pub fn value(self) -> u8 {
        match self {
            ResetType::Platform => 1,
            ResetType::Stack => 2,
            ResetType::Bootloader => 3,
            ResetType::Other(v) => v,
        }
    }
    /// The reset type for this byte.
    pub fn from_value(v: u8) -> ResetType {
        match v {
            1 => ResetType::Platform,
            2 => ResetType::Stack,
            3 => ResetType::Bootloader,
            v => ResetType::Other(v),
        }
    }
}

/// A Spinel command with its decoded payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// `CMD_RESET` (1), with its reset type if one is given. The RCP answers with
    /// `LAST_STATUS` = a `RESET_*` status.
    Reset(Option<ResetType>),
    /// `CMD_PROP_VALUE_GET` (2): ask for a property; answered by IS (or `LAST_STATUS`).
    PropValueGet(Prop),
    /// A property command (SET, INSERT, REMOVE, IS, INSERTED, REMOVED) with its value; the
    /// value names the property. See [`PropValue::fits`] for which values go with which op.
    PropValue(PropOp, PropValue),
    /// Any other command id (never 1–8 when parsed), with its raw payload.
    Other {
        /// The command id.
        id: u32,
        /// The bytes after the command id.
        payload: Vec<u8>,
    },
}

impl Command {
    /// The command id.
    pub fn id(&self) -> u32 {
        match self {
            Command::Reset(_) => cmd::RESET,
            Command::PropValueGet(_) => cmd::PROP_VALUE_GET,
            Command::PropValue(op, _) => op.command_id(),
            Command::Other { id, .. } => *id,
        }
    }
}

/// One Spinel frame as a value (the `Repr`): header and command.
///
/// `Frame::parse(emit(f)) == f` for every frame `parse` returns; a hand-built frame
/// round-trips as long as its [`Command`] is one `parse` could produce (see
/// [`PropValue::fits`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Header byte (IID and TID).
    pub header: Header,
    /// Command and payload.
    pub command: Command,
}

impl Frame {
    /// A frame on interface 0 with transaction id `tid` (0–15);
    /// [`Error::Malformed`] when `tid` is out of range.
    pub fn new(tid: u8, command: Command) -> Result<Frame> {
        Ok(Frame { header: Header::new(0, tid)?, command })
    }

    /// Parses one whole frame (the payload of one HDLC-lite frame).
    pub fn parse(buf: &[u8]) -> Result<Frame> {
        let p = SpinelPacket::new_checked(buf)?;
        let header = p.header();
        let payload = p.payload();
        let command = match p.command_id()? {
            cmd::RESET => Command::Reset(payload.first().map(|&b| ResetType::from_value(b))),
            cmd::PROP_VALUE_GET => {
                let mut r = Reader::new(payload);
                Command::PropValueGet(Prop::from_id(r.varint("Spinel property id")?))
            }
            id => match PropOp::from_command_id(id) {
                Some(op) => {
                    let mut r = Reader::new(payload);
                    let prop = r.varint("Spinel property id")?;
                    Command::PropValue(op, PropValue::parse(op, prop, r.rest())?)
                }
                None => Command::Other { id, payload: payload.to_vec() },
            },
        };
        Ok(Frame { header, command })
    }

    /// Appends the frame's bytes (before HDLC framing).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.header.byte());
        out.put_varint(self.command.id());
        match &self.command {
            Command::Reset(t) => {
                if let Some(t) = t {
                    out.push(t.value());
                }
            }
            Command::PropValueGet(prop) => out.put_varint(prop.id()),
            Command::PropValue(_, value) => {
                out.put_varint(value.prop().id());
                value.emit(out);
            }
            Command::Other { payload, .. } => out.extend_from_slice(payload),
        }
    }

    /// [`Frame::emit`] into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }
}

/// Zero-copy view of a Spinel frame, in the smoltcp `Packet` style: the header and the raw
/// command / property ids and bytes, without interpreting the value.
///
/// Accessors never panic; on a buffer [`SpinelPacket::new_checked`] would reject they return
/// errors or empty slices.
#[derive(Debug, Clone)]
pub struct SpinelPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SpinelPacket<T> {
    /// Wraps `buffer` without checking it.
    pub fn new_unchecked(buffer: T) -> SpinelPacket<T> {
        SpinelPacket { buffer }
    }

    /// Wraps `buffer` after checking the header byte and that the command id decodes.
    pub fn new_checked(buffer: T) -> Result<SpinelPacket<T>> {
        let p = SpinelPacket::new_unchecked(buffer);
        p.check()?;
        Ok(p)
    }

    /// Checks the header byte and the command id.
    pub fn check(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        let &first = buf.first().ok_or(Error::Truncated { what: "Spinel header" })?;
        Header::from_byte(first)?;
        self.command_id().map(|_| ())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header (the raw byte, unchecked, when the view was built unchecked).
    pub fn header(&self) -> Header {
        Header(self.buffer.as_ref().first().copied().unwrap_or(0))
    }

    /// The command id.
    pub fn command_id(&self) -> Result<u32> {
        let buf = self.buffer.as_ref();
        let rest = buf.get(1..).unwrap_or(&[]);
        match varint::decode(rest) {
            Err(Error::Truncated { .. }) => Err(Error::Truncated { what: "Spinel command id" }),
            other => other.map(|(v, _)| v),
        }
    }

    /// Everything after the command id (empty if the command id does not decode).
    pub fn payload(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let rest = buf.get(1..).unwrap_or(&[]);
        match varint::decode(rest) {
            Ok((_, n)) => &rest[n..],
            Err(_) => &[],
        }
    }

    /// For a property command (GET, SET, INSERT, REMOVE, IS, INSERTED, REMOVED): the property
    /// id and the raw value bytes after it.
    pub fn property(&self) -> Result<(Prop, &[u8])> {
        let id = self.command_id()?;
        if id != cmd::PROP_VALUE_GET && PropOp::from_command_id(id).is_none() {
            return Err(Error::Malformed { what: "Spinel command (not a property command)" });
        }
        let payload = self.payload();
        let (prop, n) = varint::decode(payload).map_err(|e| match e {
            Error::Truncated { .. } => Error::Truncated { what: "Spinel property id" },
            e => e,
        })?;
        Ok((Prop::from_id(prop), &payload[n..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prop::{
        PromiscuousMode, RxFrame, RxPhyData, Status, TransmitDone, TxMetadata, TxRequest,
    };
    use crate::types::Eui64;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn roundtrip(bytes: &[u8]) -> Frame {
        let f = Frame::parse(bytes).unwrap();
        assert_eq!(f.to_vec(), bytes, "{f:?}");
        f
    }

    fn prop_frame(tid: u8, op: PropOp, v: PropValue) -> Frame {
        Frame::new(tid, Command::PropValue(op, v)).unwrap()
    }

    #[test]
    fn header_byte() {
        let h = Header::new(2, 9).unwrap();
        assert_eq!(h.byte(), 0xa9);
        assert_eq!((h.iid(), h.tid()), (2, 9));
        assert_eq!(Header::from_byte(0xa9), Ok(h));
        assert_eq!(Header::from_byte(0x40), Err(Error::BadHeader { header: 0x40 }));
        assert_eq!(Header::from_byte(0xc1), Err(Error::BadHeader { header: 0xc1 }));
        assert_eq!(Header::from_byte(0x01), Err(Error::BadHeader { header: 0x01 }));
        assert!(Header::new(4, 0).is_err() && Header::new(0, 16).is_err());
    }

    #[test]
    fn reset_command() {
        let f = roundtrip(&hex("80 01 02"));
        assert_eq!(f.header.tid(), 0);
        assert_eq!(f.command, Command::Reset(Some(ResetType::Stack)));
        assert_eq!(roundtrip(&hex("81 01")).command, Command::Reset(None));
        assert_eq!(roundtrip(&hex("81 01 01")).command, Command::Reset(Some(ResetType::Platform)));
    }

    #[test]
    fn last_status_reset_power_on() {
        let f = roundtrip(&hex("80 06 00 70"));
        assert_eq!(
            f.command,
            Command::PropValue(PropOp::Is, PropValue::LastStatus(Status::ResetPowerOn))
        );
        assert!(Status::ResetPowerOn.is_reset() && !Status::Ok.is_reset());
        assert_eq!(Status::from_code(14), Status::Dropped);
        assert_eq!(Status::from_code(17), Status::NoAck);
        assert_eq!(Status::from_code(18), Status::CcaFailure);
        assert_eq!(Status::from_code(12), Status::Busy);
        assert_eq!(Status::from_code(9999), Status::Other(9999));
        assert!(Status::from_code(127).is_reset());
    }

    #[test]
    fn versions_and_rcp_api() {
        let get = Frame::new(1, Command::PropValueGet(Prop::RcpApiVersion)).unwrap();
        assert_eq!(get.to_vec(), hex("81 02 b0 01"));
        assert_eq!(roundtrip(&hex("81 02 b0 01")), get);
        assert_eq!(
            roundtrip(&hex("81 06 b0 01 0b")).command,
            Command::PropValue(PropOp::Is, PropValue::RcpApiVersion(11))
        );
        assert_eq!(
            roundtrip(&hex("82 06 01 04 03")).command,
            Command::PropValue(PropOp::Is, PropValue::ProtocolVersion { major: 4, minor: 3 })
        );
        let mut ncp = hex("83 06 02");
        ncp.extend_from_slice(b"OPENTHREAD/590c56e; SIMULATION\0");
        assert_eq!(
            roundtrip(&ncp).command,
            Command::PropValue(
                PropOp::Is,
                PropValue::NcpVersion("OPENTHREAD/590c56e; SIMULATION".into())
            )
        );
        assert_eq!(
            roundtrip(&hex("84 06 03 03")).command,
            Command::PropValue(PropOp::Is, PropValue::InterfaceType(3))
        );
        assert_eq!(
            roundtrip(&hex("85 06 8b 24 7f")).command,
            Command::PropValue(PropOp::Is, PropValue::RadioCaps(0x7f))
        );
        assert_eq!(
            roundtrip(&hex("86 06 05 01 02 b0 01")).command,
            Command::PropValue(PropOp::Is, PropValue::Caps(vec![1, 2, 0xb0]))
        );
    }

    #[test]
    fn addresses_channel_and_switches() {
        let hw = Eui64([0x18, 0xb4, 0x30, 0, 0, 0, 0, 1]);
        assert_eq!(
            roundtrip(&hex("81 06 08 18b4300000000001")).command,
            Command::PropValue(PropOp::Is, PropValue::HwAddr(hw))
        );
        let cases = [
            (PropValue::MacLongAddr(hw), "81 03 34 18b4300000000001"),
            (PropValue::MacShortAddr(0x0000), "81 03 35 00 00"),
            (PropValue::MacPanId(0x1a62), "81 03 36 62 1a"),
            (PropValue::PhyEnabled(true), "81 03 20 01"),
            (PropValue::PhyChan(25), "81 03 21 19"),
            (PropValue::MacRawStreamEnabled(true), "81 03 37 01"),
            (PropValue::MacPromiscuousMode(PromiscuousMode::Full), "81 03 38 02"),
            (PropValue::MacSrcMatchEnabled(false), "81 03 83 26 00"),
            (PropValue::MacSrcMatchShortAddresses(vec![0x1234, 0xabcd]), "81 03 84 26 34 12 cd ab"),
            (PropValue::MacSrcMatchExtendedAddresses(vec![]), "81 03 85 26"),
        ];
        for (v, bytes) in cases {
            let f = prop_frame(1, PropOp::Set, v);
            assert_eq!(f.to_vec(), hex(bytes), "{f:?}");
            assert_eq!(roundtrip(&hex(bytes)), f);
        }
        // INSERT / REMOVE carry one address.
        let ins = prop_frame(2, PropOp::Insert, PropValue::MacSrcMatchShortEntry(0x1234));
        assert_eq!(ins.to_vec(), hex("82 04 84 26 34 12"));
        assert_eq!(roundtrip(&hex("82 04 84 26 34 12")), ins);
        let rem = prop_frame(3, PropOp::Removed, PropValue::MacSrcMatchExtendedEntry(hw));
        assert_eq!(roundtrip(&hex("83 08 85 26 18b4300000000001")), rem);
    }

    #[test]
    fn stream_raw_transmit_request_as_sent_to_a_real_rcp() {
        let psdu = hex("41 88 01 62 1a ff ff 00 00 09 12 00 00");
        let mut bytes = hex("82 03 71");
        bytes.extend_from_slice(&(psdu.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&psdu);
        bytes.extend_from_slice(&hex("0b 04 03 01 00 00 00 00000000 00000000 0b 7f"));
        let f = roundtrip(&bytes);
        let expected = TxRequest { psdu, meta: TxMetadata::new(11) };
        assert_eq!(f.header.tid(), 2);
        assert_eq!(f.command, Command::PropValue(PropOp::Set, PropValue::StreamRawTx(expected)));
        // Metadata is required in full here.
        bytes.pop();
        assert_eq!(
            Frame::parse(&bytes),
            Err(Error::Truncated { what: "STREAM_RAW transmit metadata" })
        );
    }

    fn received(psdu: &str) -> RxFrame {
        RxFrame {
            psdu: hex(psdu),
            rssi: -20,
            noise_floor: -128,
            flags: RxFrame::FLAG_ACKED_FP,
            phy: RxPhyData { channel: 11, lqi: 0, timestamp_us: 0x0102_0304_0506 },
            ..RxFrame::default()
        }
    }

    #[test]
    fn stream_raw_received_frame() {
        let bytes = hex("80 06 71 05 00 03 08 2a 00 00 ec 80 10 00 \
             0a 00 0b 00 06 05 04 03 02 01 00 00 \
             01 00 00 \
             05 00 00 00 00 00 00");
        let f = roundtrip(&bytes);
        let rx = received("03 08 2a 00 00");
        assert!(rx.acked_with_frame_pending());
        assert_eq!(f.command, Command::PropValue(PropOp::Is, PropValue::StreamRawRx(rx.clone())));
        // A newer RCP appending fields to a struct and to the value: ignored.
        let newer = hex("80 06 71 05 00 03 08 2a 00 00 ec 80 10 00 \
             0b 00 0b 00 06 05 04 03 02 01 00 00 ff \
             01 00 00 \
             05 00 00 00 00 00 00 99");
        assert_eq!(Frame::parse(&newer).unwrap().command, f.command);
        // Cut anywhere: a typed error.
        for n in 3..bytes.len() {
            assert!(matches!(Frame::parse(&bytes[..n]), Err(Error::Truncated { .. })), "{n}");
        }
    }

    #[test]
    fn transmit_done() {
        // NO_ACK after the retries: status, frame pending, header updated, no ACK block.
        let f = roundtrip(&hex("82 06 00 11 00 00"));
        let nack = TransmitDone {
            status: Status::NoAck,
            frame_pending: false,
            header_updated: false,
            ack: None,
            security: None,
        };
        assert_eq!(f.command, Command::PropValue(PropOp::Is, PropValue::TransmitDone(nack)));
        // OK with an Imm-ACK that has frame pending set.
        let ack = received("12 00 2a 00 00");
        let done = TransmitDone {
            status: Status::Ok,
            frame_pending: true,
            header_updated: false,
            ack: Some(ack),
            security: None,
        };
        let f = prop_frame(3, PropOp::Is, PropValue::TransmitDone(done.clone()));
        let bytes = f.to_vec();
        assert_eq!(&bytes[..6], &hex("83 06 00 00 01 00")[..]);
        assert_eq!(roundtrip(&bytes), f);
        assert_eq!(done.ack_psdu(), Some(&hex("12 00 2a 00 00")[..]));
        // With the security trailer only.
        let sec = roundtrip(&hex("83 06 00 00 00 01 05 78 56 34 12"));
        let Command::PropValue(_, PropValue::TransmitDone(t)) = sec.command else { panic!() };
        assert_eq!(t.security.map(|s| (s.key_id, s.frame_counter)), Some((5, 0x1234_5678)));
        assert_eq!(t.ack_psdu(), None);
    }

    #[test]
    fn unknown_properties_and_commands_stay_raw() {
        let f = roundtrip(&hex("81 06 82 10 01 02 03"));
        assert_eq!(
            f.command,
            Command::PropValue(PropOp::Is, PropValue::Other { prop: 0x802, data: vec![1, 2, 3] })
        );
        let f = roundtrip(&hex("81 00"));
        assert_eq!(f.command, Command::Other { id: 0, payload: vec![] });
        let f = roundtrip(&hex("81 c0 01 aa"));
        assert_eq!(f.command, Command::Other { id: 0xc0, payload: vec![0xaa] });
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        let cases: &[(&str, Error)] = &[
            ("", Error::Truncated { what: "Spinel header" }),
            ("80", Error::Truncated { what: "Spinel command id" }),
            ("40 06 00 00", Error::BadHeader { header: 0x40 }),
            ("80 86", Error::Truncated { what: "Spinel command id" }),
            ("80 80 00", Error::VarintOverlong),
            ("80 06", Error::Truncated { what: "Spinel property id" }),
            ("80 06 80 00 00", Error::VarintOverlong),
            ("80 06 00", Error::Truncated { what: "LAST_STATUS" }),
            ("80 06 00 00 01", Error::Truncated { what: "transmit-done header updated" }),
            ("80 06 00 00 02 00", Error::Malformed { what: "transmit-done frame pending" }),
            ("80 06 20 02", Error::Malformed { what: "PHY_ENABLED" }),
            ("80 06 35 01", Error::Truncated { what: "MAC_15_4_SADDR" }),
            ("80 06 84 26 01 02 03", Error::Truncated { what: "MAC_SRC_MATCH_SHORT_ADDRESSES" }),
            ("80 06 02 41 42", Error::Truncated { what: "NCP_VERSION" }),
            ("80 06 02 ff 00", Error::Malformed { what: "NCP_VERSION" }),
            ("80 06 01 04", Error::Truncated { what: "PROTOCOL_VERSION" }),
            ("80 06 05 01 ff ff ff ff 7f", Error::VarintOverflow),
            ("80 06 71 05 00 01", Error::Truncated { what: "STREAM_RAW PSDU" }),
        ];
        for (bytes, err) in cases {
            assert_eq!(Frame::parse(&hex(bytes)), Err(*err), "{bytes}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn packet_view() {
        let p = SpinelPacket::new_checked(hex("81 06 b0 01 0b")).unwrap();
        assert_eq!(p.header().tid(), 1);
        assert_eq!(p.command_id(), Ok(cmd::PROP_VALUE_IS));
        assert_eq!(p.payload(), &hex("b0 01 0b")[..]);
        assert_eq!(p.property(), Ok((Prop::RcpApiVersion, &[0x0b][..])));
        let bad = SpinelPacket::new_unchecked(&[0x80u8, 0x80][..]);
        assert!(bad.check().is_err());
        assert_eq!(bad.payload(), &[] as &[u8]);
        assert!(SpinelPacket::new_unchecked(&[0x80u8, 0x01][..]).property().is_err());
        assert_eq!(Prop::from_id(0x1305), Prop::MacSrcMatchExtendedAddresses);
        assert_eq!(Prop::StreamRaw.name(), "STREAM_RAW");
    }
}
