//! IEEE 802.15.4 MAC frames: a [`MacPacket`] view over bytes, the [`MacHeader`] and
//! [`MacFrame`] values with `parse` / `emit`, beacons (with the Zigbee beacon payload), MAC
//! commands, and the FCS.
//!
//! Zigbee only needs frame versions 0 and 1 (802.15.4-2003/2006); version 2 (802.15.4-2015)
//! headers are decoded with the 2015 PAN ID compression table as long as they carry no
//! Information Elements. Zigbee never uses MAC-layer security, so a secured frame's header
//! parses but [`MacFrame::parse`] reports it as `Unsupported`.
//!
//! Everything is little-endian on air. Parsers never panic; `emit` appends to a `Vec` and
//! `parse(emit(x)) == x` for every value a parser can return.

use core::fmt;

use crate::{CapabilityInfo, Error, ExtAddr, PanId, Reader, Result, ShortAddr};

const FCF_SECURITY: u16 = 1 << 3;
const FCF_FRAME_PENDING: u16 = 1 << 4;
const FCF_ACK_REQUEST: u16 = 1 << 5;
const FCF_PAN_ID_COMPRESSION: u16 = 1 << 6;
const FCF_RESERVED: u16 = 1 << 7;
const FCF_SEQ_SUPPRESSION: u16 = 1 << 8;
const FCF_IE_PRESENT: u16 = 1 << 9;
const FCF_DST_MODE_SHIFT: u32 = 10;
const FCF_VERSION_SHIFT: u32 = 12;
const FCF_SRC_MODE_SHIFT: u32 = 14;

/// MAC frame type (FCF bits 0–2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// Beacon frame (type 0).
    Beacon,
    /// Data frame (type 1): carries the Zigbee NWK frame.
    Data,
    /// Acknowledgement frame (type 2).
    Ack,
    /// MAC command frame (type 3).
    MacCommand,
    /// A reserved / 802.15.4-2015 type (4–7), kept so the FCF round-trips.
    Other(u8),
}

impl FrameType {
    /// The frame type from FCF bits 0–2 (higher bits are ignored).
    pub fn from_bits(bits: u8) -> FrameType {
        match bits & 0x07 {
            0 => FrameType::Beacon,
            1 => FrameType::Data,
            2 => FrameType::Ack,
            3 => FrameType::MacCommand,
            other => FrameType::Other(other),
        }
    }

    /// The 3-bit value for FCF bits 0–2.
    pub fn bits(self) -> u8 {
        match self {
            FrameType::Beacon => 0,
            FrameType::Data => 1,
            FrameType::Ack => 2,
            FrameType::MacCommand => 3,
            FrameType::Other(b) => b & 0x07,
        }
    }

    /// Wireshark-style name.
    pub fn name(self) -> &'static str {
        match self {
            FrameType::Beacon => "Beacon",
            FrameType::Data => "Data",
            FrameType::Ack => "Ack",
            FrameType::MacCommand => "Command",
            FrameType::Other(5) => "Multipurpose",
            FrameType::Other(6) => "Fragment",
            FrameType::Other(7) => "Extended",
            FrameType::Other(_) => "Reserved",
        }
    }
}

/// A MAC source or destination address; the variant is the addressing mode (0, 2 or 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Address {
    #[default]
    /// No address (addressing mode 0).
    Absent,
    /// 16-bit short address (addressing mode 2).
    Short(ShortAddr),
    /// 64-bit IEEE extended address (addressing mode 3).
    Extended(ExtAddr),
}

impl Address {
    /// The FCF addressing mode: 0 absent, 2 short, 3 extended.
    pub fn mode(self) -> u8 {
        match self {
            Address::Absent => 0,
            Address::Short(_) => 2,
            Address::Extended(_) => 3,
        }
    }

    /// Bytes the address occupies on air.
    pub fn wire_len(self) -> usize {
        mode_len(self.mode())
    }

    /// Whether the address is absent (addressing mode 0).
    pub fn is_absent(self) -> bool {
        self == Address::Absent
    }

    /// The MAC broadcast address 0xffff.
    pub fn is_broadcast(self) -> bool {
        self == Address::Short(ShortAddr::BROADCAST)
    }

    fn read(r: &mut Reader<'_>, mode: u8, what: &'static str) -> Result<Address> {
        Ok(match mode {
            2 => Address::Short(ShortAddr(r.u16(what)?)),
            3 => Address::Extended(r.ext_addr(what)?),
            _ => Address::Absent,
        })
    }

    fn emit(self, out: &mut Vec<u8>) {
        match self {
            Address::Absent => {}
            Address::Short(a) => out.extend_from_slice(&a.0.to_le_bytes()),
            Address::Extended(a) => out.extend_from_slice(&a.to_le_bytes()),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Absent => write!(f, "-"),
            Address::Short(a) => write!(f, "{a}"),
            Address::Extended(a) => write!(f, "{a}"),
        }
    }
}

fn mode_len(mode: u8) -> usize {
    match mode {
        2 => 2,
        3 => 8,
        _ => 0,
    }
}

/// Whether the destination and source PAN IDs are on air, given the frame version, the two
/// addressing modes and the PAN ID compression bit.
fn pan_presence(version: u8, dst_mode: u8, src_mode: u8, compression: bool) -> (bool, bool) {
    let dst = dst_mode != 0;
    let src = src_mode != 0;
    if version < 2 {
        // 802.15.4-2006 §7.2.1.1.5: compression only matters when both addresses are present.
        return match (dst, src) {
            (true, true) => (true, !compression),
            _ => (dst, src),
        };
    }
    // 802.15.4-2015 Table 7-2.
    match (dst, src) {
        (false, false) => (compression, false),
        (true, false) => (!compression, false),
        (false, true) => (false, !compression),
        (true, true) if dst_mode == 3 && src_mode == 3 => (!compression, false),
        (true, true) => (true, !compression),
    }
}

/// Field presence derived from a frame control word; only built for layouts we can decode.
#[derive(Debug, Clone, Copy)]
struct Layout {
    seq: bool,
    dst_pan: bool,
    dst_mode: u8,
    src_pan: bool,
    src_mode: u8,
}

impl Layout {
    fn from_fcf(fcf: u16) -> Result<Layout> {
        let frame_type = (fcf & 0x07) as u8;
        if (5..=7).contains(&frame_type) {
            // Multipurpose, fragment and extended frames have different frame controls.
            return Err(Error::Unsupported { what: "802.15.4-2015 frame type" });
        }
        let version = ((fcf >> FCF_VERSION_SHIFT) & 0x03) as u8;
        if version == 3 {
            return Err(Error::Unsupported { what: "MAC frame version 3" });
        }
        if fcf & FCF_IE_PRESENT != 0 {
            return Err(Error::Unsupported { what: "802.15.4-2015 Information Elements" });
        }
        let dst_mode = ((fcf >> FCF_DST_MODE_SHIFT) & 0x03) as u8;
        let src_mode = ((fcf >> FCF_SRC_MODE_SHIFT) & 0x03) as u8;
        if dst_mode == 1 || src_mode == 1 {
            return Err(Error::Malformed { what: "MAC addressing mode (1 is reserved)" });
        }
        let (dst_pan, src_pan) =
            pan_presence(version, dst_mode, src_mode, fcf & FCF_PAN_ID_COMPRESSION != 0);
        Ok(Layout { seq: fcf & FCF_SEQ_SUPPRESSION == 0, dst_pan, dst_mode, src_pan, src_mode })
    }

    fn seq_off(&self) -> usize {
        2
    }
    fn dst_pan_off(&self) -> usize {
        self.seq_off() + usize::from(self.seq)
    }
    fn dst_addr_off(&self) -> usize {
        self.dst_pan_off() + if self.dst_pan { 2 } else { 0 }
    }
    fn src_pan_off(&self) -> usize {
        self.dst_addr_off() + mode_len(self.dst_mode)
    }
    fn src_addr_off(&self) -> usize {
        self.src_pan_off() + if self.src_pan { 2 } else { 0 }
    }
    fn header_len(&self) -> usize {
        self.src_addr_off() + mode_len(self.src_mode)
    }
}

/// Zero-copy view of a MAC frame (without FCS), in the smoltcp `Packet` style.
///
/// Accessors never panic: on a buffer that [`MacPacket::new_checked`] would reject, fixed
/// fields read as 0 and layout-dependent ones as `None` / `Address::Absent`.
#[derive(Debug, Clone)]
pub struct MacPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MacPacket<T> {
    /// Wraps `buffer` without any check; accessors still never panic.
    pub fn new_unchecked(buffer: T) -> MacPacket<T> {
        MacPacket { buffer }
    }

    /// Wraps `buffer` after checking that the whole MAC header is present and decodable.
    pub fn new_checked(buffer: T) -> Result<MacPacket<T>> {
        let p = MacPacket::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the complete header the frame control describes.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < 2 {
            return Err(Error::Truncated { what: "MAC frame control" });
        }
        if self.header_len()? > len {
            return Err(Error::Truncated { what: "MAC header" });
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes(&self, off: usize, n: usize) -> Option<&[u8]> {
        self.buffer.as_ref().get(off..off.checked_add(n)?)
    }

    fn layout(&self) -> Option<Layout> {
        Layout::from_fcf(self.frame_control()).ok()
    }

    /// The 16-bit frame control field (FCF); 0 if the buffer is shorter than 2 bytes.
    pub fn frame_control(&self) -> u16 {
        self.bytes(0, 2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    }
    /// Frame type (FCF bits 0–2).
    pub fn frame_type(&self) -> FrameType {
        FrameType::from_bits(self.frame_control() as u8)
    }
    /// Security Enabled (FCF bit 3): MAC-layer security, which Zigbee never uses.
    pub fn security_enabled(&self) -> bool {
        self.frame_control() & FCF_SECURITY != 0
    }
    /// Frame Pending (FCF bit 4): the sender has more data queued for the recipient.
    pub fn frame_pending(&self) -> bool {
        self.frame_control() & FCF_FRAME_PENDING != 0
    }
    /// Acknowledgment Request (FCF bit 5).
    pub fn ack_request(&self) -> bool {
        self.frame_control() & FCF_ACK_REQUEST != 0
    }
    /// PAN ID Compression (FCF bit 6).
    pub fn pan_id_compression(&self) -> bool {
        self.frame_control() & FCF_PAN_ID_COMPRESSION != 0
    }
    /// Sequence Number Suppression (FCF bit 8, 802.15.4-2015).
    pub fn sequence_number_suppression(&self) -> bool {
        self.frame_control() & FCF_SEQ_SUPPRESSION != 0
    }
    /// IE Present (FCF bit 9, 802.15.4-2015): Information Elements follow the header.
    pub fn ie_present(&self) -> bool {
        self.frame_control() & FCF_IE_PRESENT != 0
    }
    /// Frame version (FCF bits 12–13): 0 = 2003, 1 = 2006, 2 = 2015.
    pub fn frame_version(&self) -> u8 {
        ((self.frame_control() >> FCF_VERSION_SHIFT) & 0x03) as u8
    }
    /// Destination addressing mode (FCF bits 10–11): 0 absent, 2 short, 3 extended.
    pub fn dst_addr_mode(&self) -> u8 {
        ((self.frame_control() >> FCF_DST_MODE_SHIFT) & 0x03) as u8
    }
    /// Source addressing mode (FCF bits 14–15): 0 absent, 2 short, 3 extended.
    pub fn src_addr_mode(&self) -> u8 {
        ((self.frame_control() >> FCF_SRC_MODE_SHIFT) & 0x03) as u8
    }

    /// MAC header length (frame control through source address, no aux security header).
    pub fn header_len(&self) -> Result<usize> {
        Ok(Layout::from_fcf(self.frame_control())?.header_len())
    }

    /// MAC sequence number; `None` when suppressed or the header is not decodable.
    pub fn sequence(&self) -> Option<u8> {
        let l = self.layout()?;
        if !l.seq {
            return None;
        }
        self.bytes(l.seq_off(), 1).map(|b| b[0])
    }

    /// Destination PAN ID, if on air.
    pub fn dst_pan(&self) -> Option<PanId> {
        let l = self.layout()?;
        if !l.dst_pan {
            return None;
        }
        self.bytes(l.dst_pan_off(), 2).map(|b| PanId(u16::from_le_bytes([b[0], b[1]])))
    }

    /// Source PAN ID, if on air (elided under PAN ID compression).
    pub fn src_pan(&self) -> Option<PanId> {
        let l = self.layout()?;
        if !l.src_pan {
            return None;
        }
        self.bytes(l.src_pan_off(), 2).map(|b| PanId(u16::from_le_bytes([b[0], b[1]])))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Address {
        self.layout().map_or(Address::Absent, |l| self.addr_at(l.dst_addr_off(), l.dst_mode))
    }

    /// Source address.
    pub fn src_addr(&self) -> Address {
        self.layout().map_or(Address::Absent, |l| self.addr_at(l.src_addr_off(), l.src_mode))
    }

    fn addr_at(&self, off: usize, mode: u8) -> Address {
        let Some(b) = self.bytes(off, mode_len(mode)) else {
            return Address::Absent;
        };
        Address::read(&mut Reader::new(b), mode, "MAC address").unwrap_or(Address::Absent)
    }

    /// Everything after the MAC header (for a secured frame this starts with the aux header).
    pub fn payload(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        match self.header_len() {
            Ok(hl) => buf.get(hl..).unwrap_or(&[]),
            Err(_) => &[],
        }
    }
}

/// The MAC header (MHR) as a value.
///
/// Flags that only describe layout are derived on emit: the addressing modes come from
/// `dst_addr` / `src_addr` and sequence-number suppression from `sequence.is_none()`. The PAN
/// fields are written where the frame version / compression rules put them (a missing one is
/// written as 0xffff, a superfluous one is ignored), so `dst_pan` / `src_pan` should match
/// those rules; values returned by [`MacHeader::parse`] always do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacHeader {
    /// Frame type (FCF bits 0–2).
    pub frame_type: FrameType,
    /// Security Enabled (FCF bit 3): MAC-layer security, which Zigbee never uses.
    pub security_enabled: bool,
    /// Frame Pending (FCF bit 4): the sender has more data queued for the recipient (set by a
    /// parent in the ack to a polling child).
    pub frame_pending: bool,
    /// Acknowledgment Request (FCF bit 5).
    pub ack_request: bool,
    /// PAN ID Compression (FCF bit 6).
    pub pan_id_compression: bool,
    /// FCF bit 7 (reserved), kept so odd frames round-trip.
    pub reserved: bool,
    /// Always false after parse: frames with IEs are `Unsupported`.
    pub ie_present: bool,
    /// 0 = 2003, 1 = 2006, 2 = 2015.
    pub frame_version: u8,
    /// `None` when the sequence number is suppressed (802.15.4-2015).
    pub sequence: Option<u8>,
    /// Destination PAN ID, if on air.
    pub dst_pan: Option<PanId>,
    /// Destination address; its variant sets the destination addressing mode.
    pub dst_addr: Address,
    /// Source PAN ID, if on air (elided under PAN ID compression).
    pub src_pan: Option<PanId>,
    /// Source address; its variant sets the source addressing mode.
    pub src_addr: Address,
}

impl MacHeader {
    /// An intra-PAN header in the shape Zigbee uses (frame version 0; PAN ID compression when
    /// both addresses are present; otherwise the PAN goes with whichever address is present).
    pub fn intra_pan(
        frame_type: FrameType,
        seq: u8,
        pan: PanId,
        dst: Address,
        src: Address,
        ack_request: bool,
    ) -> MacHeader {
        let compression = !dst.is_absent() && !src.is_absent();
        MacHeader {
            frame_type,
            security_enabled: false,
            frame_pending: false,
            ack_request,
            pan_id_compression: compression,
            reserved: false,
            ie_present: false,
            frame_version: 0,
            sequence: Some(seq),
            dst_pan: (!dst.is_absent()).then_some(pan),
            dst_addr: dst,
            src_pan: (!src.is_absent() && !compression).then_some(pan),
            src_addr: src,
        }
    }

    /// A data frame header, e.g. FCF 0x8861 for short/short with ack request.
    pub fn data(seq: u8, pan: PanId, dst: Address, src: Address, ack_request: bool) -> MacHeader {
        MacHeader::intra_pan(FrameType::Data, seq, pan, dst, src, ack_request)
    }

    /// A MAC command frame header within one PAN.
    pub fn command(
        seq: u8,
        pan: PanId,
        dst: Address,
        src: Address,
        ack_request: bool,
    ) -> MacHeader {
        MacHeader::intra_pan(FrameType::MacCommand, seq, pan, dst, src, ack_request)
    }

    /// An immediate acknowledgement (`02 00 <seq>`).
    pub fn ack(seq: u8) -> MacHeader {
        MacHeader::intra_pan(FrameType::Ack, seq, PanId(0), Address::Absent, Address::Absent, false)
    }

    /// A beacon header: no destination, source PAN + source address.
    pub fn beacon(seq: u8, pan: PanId, src: Address) -> MacHeader {
        MacHeader::intra_pan(FrameType::Beacon, seq, pan, Address::Absent, src, false)
    }

    /// Whether the sequence number is suppressed (FCF bit 8).
    pub fn sequence_number_suppression(&self) -> bool {
        self.sequence.is_none()
    }

    /// The frame control word this header emits.
    pub fn frame_control(&self) -> u16 {
        let mut fcf = u16::from(self.frame_type.bits());
        let flags = [
            (self.security_enabled, FCF_SECURITY),
            (self.frame_pending, FCF_FRAME_PENDING),
            (self.ack_request, FCF_ACK_REQUEST),
            (self.pan_id_compression, FCF_PAN_ID_COMPRESSION),
            (self.reserved, FCF_RESERVED),
            (self.sequence.is_none(), FCF_SEQ_SUPPRESSION),
            (self.ie_present, FCF_IE_PRESENT),
        ];
        for (set, bit) in flags {
            if set {
                fcf |= bit;
            }
        }
        fcf |= u16::from(self.dst_addr.mode()) << FCF_DST_MODE_SHIFT;
        fcf |= u16::from(self.frame_version & 0x03) << FCF_VERSION_SHIFT;
        fcf |= u16::from(self.src_addr.mode()) << FCF_SRC_MODE_SHIFT;
        fcf
    }

    fn pans_on_air(&self) -> (bool, bool) {
        pan_presence(
            self.frame_version & 0x03,
            self.dst_addr.mode(),
            self.src_addr.mode(),
            self.pan_id_compression,
        )
    }

    /// Parses the MHR at the start of `buf`; returns it and its length. The aux security
    /// header of a secured frame is not part of the returned length.
    pub fn parse(buf: &[u8]) -> Result<(MacHeader, usize)> {
        let mut r = Reader::new(buf);
        let fcf = r.u16("MAC frame control")?;
        let layout = Layout::from_fcf(fcf)?;
        let sequence = if layout.seq { Some(r.u8("MAC sequence number")?) } else { None };
        let dst_pan =
            if layout.dst_pan { Some(PanId(r.u16("MAC destination PAN")?)) } else { None };
        let dst_addr = Address::read(&mut r, layout.dst_mode, "MAC destination address")?;
        let src_pan = if layout.src_pan { Some(PanId(r.u16("MAC source PAN")?)) } else { None };
        let src_addr = Address::read(&mut r, layout.src_mode, "MAC source address")?;
        let header = MacHeader {
            frame_type: FrameType::from_bits(fcf as u8),
            security_enabled: fcf & FCF_SECURITY != 0,
            frame_pending: fcf & FCF_FRAME_PENDING != 0,
            ack_request: fcf & FCF_ACK_REQUEST != 0,
            pan_id_compression: fcf & FCF_PAN_ID_COMPRESSION != 0,
            reserved: fcf & FCF_RESERVED != 0,
            ie_present: false,
            frame_version: ((fcf >> FCF_VERSION_SHIFT) & 0x03) as u8,
            sequence,
            dst_pan,
            dst_addr,
            src_pan,
            src_addr,
        };
        Ok((header, r.position()))
    }

    /// Length of the MHR that [`MacHeader::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let (dp, sp) = self.pans_on_air();
        2 + usize::from(self.sequence.is_some())
            + if dp { 2 } else { 0 }
            + self.dst_addr.wire_len()
            + if sp { 2 } else { 0 }
            + self.src_addr.wire_len()
    }

    /// Appends the MHR (frame control through source address).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.frame_control().to_le_bytes());
        if let Some(seq) = self.sequence {
            out.push(seq);
        }
        let (dp, sp) = self.pans_on_air();
        if dp {
            out.extend_from_slice(&self.dst_pan.unwrap_or(PanId::BROADCAST).0.to_le_bytes());
        }
        self.dst_addr.emit(out);
        if sp {
            let pan = self.src_pan.or(self.dst_pan).unwrap_or(PanId::BROADCAST);
            out.extend_from_slice(&pan.0.to_le_bytes());
        }
        self.src_addr.emit(out);
    }

    /// The PAN the frame belongs to: the destination PAN, else the source PAN.
    pub fn pan(&self) -> Option<PanId> {
        self.dst_pan.or(self.src_pan)
    }
}

/// A whole MAC frame (without FCS) as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacFrame<'a> {
    /// The MAC header.
    pub header: MacHeader,
    /// The MAC payload, decoded by frame type.
    pub body: MacBody<'a>,
}

/// What follows the MAC header, by frame type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacBody<'a> {
    /// MAC payload of a data frame (the Zigbee NWK frame).
    Data(&'a [u8]),
    /// An acknowledgement (no payload).
    Ack,
    /// A beacon: superframe specification, GTS, pending addresses and beacon payload.
    Beacon(Beacon<'a>),
    /// A MAC command.
    Command(MacCommand),
    /// Payload of a reserved frame type, or of an ack that carries one; kept raw.
    Other(&'a [u8]),
}

impl<'a> MacFrame<'a> {
    /// Parses a PSDU whose FCS was already checked and removed (see [`strip_fcs`]).
    pub fn parse(frame: &'a [u8]) -> Result<MacFrame<'a>> {
        let (header, header_len) = MacHeader::parse(frame)?;
        if header.security_enabled {
            return Err(Error::Unsupported { what: "MAC-layer security" });
        }
        let rest = frame.get(header_len..).ok_or(Error::Truncated { what: "MAC header" })?;
        let body = match header.frame_type {
            FrameType::Data => MacBody::Data(rest),
            FrameType::Ack if rest.is_empty() => MacBody::Ack,
            FrameType::Ack => MacBody::Other(rest),
            FrameType::Beacon => MacBody::Beacon(Beacon::parse(rest)?),
            FrameType::MacCommand => MacBody::Command(MacCommand::parse(rest)?),
            FrameType::Other(_) => MacBody::Other(rest),
        };
        Ok(MacFrame { header, body })
    }

    /// Length of `emit`'s output (no FCS).
    pub fn buffer_len(&self) -> usize {
        self.header.buffer_len().saturating_add(match &self.body {
            MacBody::Data(p) | MacBody::Other(p) => p.len(),
            MacBody::Ack => 0,
            MacBody::Beacon(b) => b.buffer_len(),
            MacBody::Command(c) => c.buffer_len(),
        })
    }

    /// Appends the frame without FCS.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.header.emit(out);
        match &self.body {
            MacBody::Data(p) | MacBody::Other(p) => out.extend_from_slice(p),
            MacBody::Ack => {}
            MacBody::Beacon(b) => b.emit(out),
            MacBody::Command(c) => c.emit(out),
        }
    }

    /// Appends the frame followed by its FCS (CRC over just this frame's bytes).
    pub fn emit_with_fcs(&self, out: &mut Vec<u8>) {
        let start = out.len();
        self.emit(out);
        let crc = fcs(out.get(start..).unwrap_or(&[]));
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// Wireshark-style name: the command name for command frames, else the frame type.
    pub fn name(&self) -> &'static str {
        match &self.body {
            MacBody::Command(c) => c.name(),
            _ => self.header.frame_type.name(),
        }
    }

    /// An immediate acknowledgement.
    pub fn ack(seq: u8, frame_pending: bool) -> MacFrame<'static> {
        let mut header = MacHeader::ack(seq);
        header.frame_pending = frame_pending;
        MacFrame { header, body: MacBody::Ack }
    }

    /// A data frame carrying `payload` (usually a NWK frame).
    pub fn data(header: MacHeader, payload: &'a [u8]) -> MacFrame<'a> {
        MacFrame { header, body: MacBody::Data(payload) }
    }

    /// Beacon request: broadcast to PAN 0xffff / 0xffff, no source (`03 08 <seq> ffff ffff 07`).
    pub fn beacon_request(seq: u8) -> MacFrame<'static> {
        let mut header = MacHeader::command(
            seq,
            PanId::BROADCAST,
            Address::Short(ShortAddr::BROADCAST),
            Address::Absent,
            false,
        );
        header.dst_pan = Some(PanId::BROADCAST);
        MacFrame { header, body: MacBody::Command(MacCommand::BeaconRequest) }
    }

    /// Association request from a joiner (extended source, source PAN 0xffff) to its chosen
    /// parent, as in FCF 0xc823.
    pub fn association_request(
        seq: u8,
        pan: PanId,
        parent: ShortAddr,
        joiner: ExtAddr,
        capability: CapabilityInfo,
    ) -> MacFrame<'static> {
        let mut header =
            MacHeader::command(seq, pan, Address::Short(parent), Address::Extended(joiner), true);
        header.pan_id_compression = false;
        header.src_pan = Some(PanId::BROADCAST);
        MacFrame { header, body: MacBody::Command(MacCommand::AssociationRequest { capability }) }
    }

    /// Association response from the parent (extended/extended, FCF 0xcc63).
    pub fn association_response(
        seq: u8,
        pan: PanId,
        joiner: ExtAddr,
        parent: ExtAddr,
        short_addr: ShortAddr,
        status: AssociationStatus,
    ) -> MacFrame<'static> {
        let header = MacHeader::command(
            seq,
            pan,
            Address::Extended(joiner),
            Address::Extended(parent),
            true,
        );
        MacFrame {
            header,
            body: MacBody::Command(MacCommand::AssociationResponse { short_addr, status }),
        }
    }

    /// Data request (poll) from a child to its parent.
    pub fn data_request(seq: u8, pan: PanId, parent: Address, child: Address) -> MacFrame<'static> {
        let header = MacHeader::command(seq, pan, parent, child, true);
        MacFrame { header, body: MacBody::Command(MacCommand::DataRequest) }
    }

    /// A beacon from `src` (a router or the coordinator) answering a beacon request.
    pub fn beacon(seq: u8, pan: PanId, src: ShortAddr, beacon: Beacon<'a>) -> MacFrame<'a> {
        MacFrame {
            header: MacHeader::beacon(seq, pan, Address::Short(src)),
            body: MacBody::Beacon(beacon),
        }
    }
}

/// Superframe specification of a beacon (16 bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SuperframeSpec(pub u16);

impl SuperframeSpec {
    /// What Zigbee (non-beacon mode) routers send: beacon order 15, superframe order 15,
    /// final CAP slot 15.
    pub fn zigbee(pan_coordinator: bool, association_permit: bool) -> SuperframeSpec {
        let mut v = 0x0fff;
        if pan_coordinator {
            v |= 1 << 14;
        }
        if association_permit {
            v |= 1 << 15;
        }
        SuperframeSpec(v)
    }
    /// Beacon order (bits 0–3); 15 = non-beacon network.
    pub fn beacon_order(self) -> u8 {
        (self.0 & 0x0f) as u8
    }
    /// Superframe order (bits 4–7).
    pub fn superframe_order(self) -> u8 {
        ((self.0 >> 4) & 0x0f) as u8
    }
    /// Final CAP slot (bits 8–11).
    pub fn final_cap_slot(self) -> u8 {
        ((self.0 >> 8) & 0x0f) as u8
    }
    /// Battery Life Extension (bit 12).
    pub fn battery_life_extension(self) -> bool {
        self.0 & (1 << 12) != 0
    }
    /// PAN Coordinator (bit 14): the beacon comes from the PAN coordinator.
    pub fn pan_coordinator(self) -> bool {
        self.0 & (1 << 14) != 0
    }
    /// "Permit join" as seen by a scanning joiner.
    pub fn association_permit(self) -> bool {
        self.0 & (1 << 15) != 0
    }
}

impl fmt::Debug for SuperframeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SuperframeSpec({:#06x} BO {} SO {} cap {}{}{}{})",
            self.0,
            self.beacon_order(),
            self.superframe_order(),
            self.final_cap_slot(),
            if self.battery_life_extension() { " ble" } else { "" },
            if self.pan_coordinator() { " coordinator" } else { "" },
            if self.association_permit() { " permit" } else { "" },
        )
    }
}

/// One GTS descriptor of a beacon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GtsDescriptor {
    /// Short address of the device the GTS is allocated to.
    pub short_addr: ShortAddr,
    /// 4 bits.
    pub starting_slot: u8,
    /// 4 bits.
    pub length: u8,
}

/// The GTS fields of a beacon. The descriptor count is derived from `descriptors` (at most 7
/// are emitted); `directions` is only on air when there is at least one descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GtsInfo {
    /// GTS Permit (bit 7 of the GTS specification): the coordinator accepts GTS requests.
    pub permit: bool,
    /// GTS specification bits 3–6 (reserved), shifted down.
    pub reserved: u8,
    /// GTS directions mask (one bit per descriptor, 1 = receive-only); on air only with descriptors.
    pub directions: u8,
    /// GTS descriptors (at most 7 on air).
    pub descriptors: Vec<GtsDescriptor>,
}

/// A beacon frame body. Zigbee beacons have no GTS and no pending addresses; the payload is
/// a [`ZigbeeBeaconPayload`]. List counts are derived on emit (at most 7 of each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon<'a> {
    /// Superframe specification.
    pub superframe: SuperframeSpec,
    /// GTS specification, directions and descriptors.
    pub gts: GtsInfo,
    /// Short addresses the coordinator holds pending data for (at most 7 on air).
    pub pending_short: Vec<ShortAddr>,
    /// Extended addresses the coordinator holds pending data for (at most 7 on air).
    pub pending_ext: Vec<ExtAddr>,
    /// Pending address specification bits 3 and 7 (reserved), in place.
    pub pending_reserved: u8,
    /// Beacon payload (the Zigbee beacon payload for a Zigbee network).
    pub payload: &'a [u8],
}

impl<'a> Beacon<'a> {
    /// A Zigbee-style beacon (no GTS, no pending addresses) with the given payload bytes.
    pub fn new(superframe: SuperframeSpec, payload: &'a [u8]) -> Beacon<'a> {
        Beacon {
            superframe,
            gts: GtsInfo::default(),
            pending_short: Vec::new(),
            pending_ext: Vec::new(),
            pending_reserved: 0,
            payload,
        }
    }

    /// Parses a beacon body (everything after the MHR); the rest after the pending address list
    /// is the payload.
    pub fn parse(buf: &'a [u8]) -> Result<Beacon<'a>> {
        let mut r = Reader::new(buf);
        let superframe = SuperframeSpec(r.u16("beacon superframe specification")?);
        let spec = r.u8("beacon GTS specification")?;
        let count = spec & 0x07;
        let mut gts = GtsInfo {
            permit: spec & 0x80 != 0,
            reserved: (spec >> 3) & 0x0f,
            directions: 0,
            descriptors: Vec::new(),
        };
        if count > 0 {
            gts.directions = r.u8("beacon GTS directions")?;
            for _ in 0..count {
                let short_addr = ShortAddr(r.u16("beacon GTS descriptor")?);
                let slot = r.u8("beacon GTS descriptor")?;
                gts.descriptors.push(GtsDescriptor {
                    short_addr,
                    starting_slot: slot & 0x0f,
                    length: slot >> 4,
                });
            }
        }
        let pending = r.u8("beacon pending address specification")?;
        let mut pending_short = Vec::new();
        for _ in 0..(pending & 0x07) {
            pending_short.push(ShortAddr(r.u16("beacon pending short address")?));
        }
        let mut pending_ext = Vec::new();
        for _ in 0..((pending >> 4) & 0x07) {
            pending_ext.push(r.ext_addr("beacon pending extended address")?);
        }
        Ok(Beacon {
            superframe,
            gts,
            pending_short,
            pending_ext,
            pending_reserved: pending & 0x88,
            payload: r.rest(),
        })
    }

    fn gts_count(&self) -> usize {
        self.gts.descriptors.len().min(7)
    }
    fn short_count(&self) -> usize {
        self.pending_short.len().min(7)
    }
    fn ext_count(&self) -> usize {
        self.pending_ext.len().min(7)
    }

    /// Length of the beacon body [`Beacon::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let gts = if self.gts_count() > 0 { 1 + 3 * self.gts_count() } else { 0 };
        (2 + 1 + gts + 1 + 2 * self.short_count() + 8 * self.ext_count())
            .saturating_add(self.payload.len())
    }

    /// Appends the beacon body (counts derived from the lists).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.superframe.0.to_le_bytes());
        let count = self.gts_count();
        out.push(
            (count as u8)
                | ((self.gts.reserved & 0x0f) << 3)
                | if self.gts.permit { 0x80 } else { 0 },
        );
        if count > 0 {
            out.push(self.gts.directions);
            for d in self.gts.descriptors.iter().take(count) {
                out.extend_from_slice(&d.short_addr.0.to_le_bytes());
                out.push((d.starting_slot & 0x0f) | (d.length << 4));
            }
        }
        let (ns, ne) = (self.short_count(), self.ext_count());
        out.push((ns as u8) | ((ne as u8) << 4) | (self.pending_reserved & 0x88));
        for a in self.pending_short.iter().take(ns) {
            out.extend_from_slice(&a.0.to_le_bytes());
        }
        for a in self.pending_ext.iter().take(ne) {
            out.extend_from_slice(&a.to_le_bytes());
        }
        out.extend_from_slice(self.payload);
    }

    /// Decodes the payload as a Zigbee beacon payload.
    pub fn zigbee(&self) -> Result<ZigbeeBeaconPayload> {
        ZigbeeBeaconPayload::parse(self.payload)
    }
}

/// The Zigbee NWK beacon payload (protocol id 0): what a joiner uses to pick a network and a
/// parent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZigbeeBeaconPayload {
    /// 4 bits; 2 = Zigbee PRO.
    pub stack_profile: u8,
    /// 4 bits; 2 = Zigbee 2006 and later.
    pub protocol_version: u8,
    /// Bits 0–1 of the capacity byte (reserved), in place.
    pub reserved: u8,
    /// Router Capacity: the sender accepts router joins.
    pub router_capacity: bool,
    /// 4 bits.
    pub device_depth: u8,
    /// End Device Capacity: the sender accepts end-device joins.
    pub end_device_capacity: bool,
    /// Over the air little-endian; `ExtAddr(epid)` prints it the way Wireshark does.
    pub extended_pan_id: u64,
    /// 24 bits.
    pub tx_offset: u32,
    /// nwkUpdateId: incremented on each network configuration change (e.g. channel or PAN ID change).
    pub update_id: u8,
    /// Bytes after the 15-byte payload, kept for round-trip.
    pub trailing: Vec<u8>,
}

impl ZigbeeBeaconPayload {
    /// Length of the Zigbee beacon payload on air (without trailing bytes).
    pub const LEN: usize = 15;

    /// What a Zigbee PRO coordinator advertises: depth 0, room for routers and end devices,
    /// no beacon-mode tx offset.
    pub fn coordinator(extended_pan_id: u64, update_id: u8) -> ZigbeeBeaconPayload {
        ZigbeeBeaconPayload {
            stack_profile: 2,
            protocol_version: 2,
            reserved: 0,
            router_capacity: true,
            device_depth: 0,
            end_device_capacity: true,
            extended_pan_id,
            tx_offset: 0xff_ffff,
            update_id,
            trailing: Vec::new(),
        }
    }

    /// Parses a beacon payload; [`Error::Malformed`] if the protocol id is not 0 (Zigbee).
    pub fn parse(buf: &[u8]) -> Result<ZigbeeBeaconPayload> {
        let mut r = Reader::new(buf);
        if r.u8("Zigbee beacon protocol id")? != 0 {
            return Err(Error::Malformed { what: "Zigbee beacon protocol id (not 0)" });
        }
        let b1 = r.u8("Zigbee beacon stack profile")?;
        let b2 = r.u8("Zigbee beacon capacity")?;
        let extended_pan_id = r.u64("Zigbee beacon extended PAN id")?;
        let t = r.array::<3>("Zigbee beacon tx offset")?;
        let update_id = r.u8("Zigbee beacon update id")?;
        Ok(ZigbeeBeaconPayload {
            stack_profile: b1 & 0x0f,
            protocol_version: b1 >> 4,
            reserved: b2 & 0x03,
            router_capacity: b2 & 0x04 != 0,
            device_depth: (b2 >> 3) & 0x0f,
            end_device_capacity: b2 & 0x80 != 0,
            extended_pan_id,
            tx_offset: u32::from_le_bytes([t[0], t[1], t[2], 0]),
            update_id,
            trailing: r.rest().to_vec(),
        })
    }

    /// Length of the payload [`ZigbeeBeaconPayload::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        Self::LEN.saturating_add(self.trailing.len())
    }

    /// Appends the payload (protocol id 0 first).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(0);
        out.push((self.stack_profile & 0x0f) | (self.protocol_version << 4));
        out.push(
            (self.reserved & 0x03)
                | if self.router_capacity { 0x04 } else { 0 }
                | ((self.device_depth & 0x0f) << 3)
                | if self.end_device_capacity { 0x80 } else { 0 },
        );
        out.extend_from_slice(&self.extended_pan_id.to_le_bytes());
        let t = self.tx_offset.to_le_bytes();
        out.extend_from_slice(&t[..3]);
        out.push(self.update_id);
        out.extend_from_slice(&self.trailing);
    }

    /// The extended PAN id in IEEE-address display form.
    pub fn extended_pan_id_display(&self) -> ExtAddr {
        ExtAddr(self.extended_pan_id)
    }
}

/// MAC association status (also the NWK Rejoin Response status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssociationStatus {
    /// 0x00: association successful.
    Success,
    /// 0x01: PAN at capacity (the parent has no room for the device).
    PanAtCapacity,
    /// 0x02: PAN access denied.
    PanAccessDenied,
    /// Zigbee addition: the device must take the address in the response.
    AddressConflict,
    /// Any other (reserved) status value.
    Other(u8),
}

impl AssociationStatus {
    /// The status from its byte value.
    pub fn from_u8(v: u8) -> AssociationStatus {
        match v {
            0x00 => AssociationStatus::Success,
            0x01 => AssociationStatus::PanAtCapacity,
            0x02 => AssociationStatus::PanAccessDenied,
            0xf0 => AssociationStatus::AddressConflict,
            o => AssociationStatus::Other(o),
        }
    }
    /// The byte value on air.
    pub fn to_u8(self) -> u8 {
        match self {
            AssociationStatus::Success => 0x00,
            AssociationStatus::PanAtCapacity => 0x01,
            AssociationStatus::PanAccessDenied => 0x02,
            AssociationStatus::AddressConflict => 0xf0,
            AssociationStatus::Other(o) => o,
        }
    }
    /// Wireshark-style name.
    pub fn name(self) -> &'static str {
        match self {
            AssociationStatus::Success => "Association Successful",
            AssociationStatus::PanAtCapacity => "PAN at Capacity",
            AssociationStatus::PanAccessDenied => "PAN Access Denied",
            AssociationStatus::AddressConflict => "Address Conflict",
            AssociationStatus::Other(_) => "Reserved",
        }
    }
}

/// MAC command frame body, starting at the command id.
///
/// A command whose payload is longer than its layout is kept as `Other` (so nothing is
/// silently dropped and round-trip holds); a shorter one is `Truncated`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MacCommand {
    /// Association Request (0x01), sent by a joiner to its chosen parent.
    AssociationRequest {
        /// Capability information of the joiner.
        capability: CapabilityInfo,
    },
    /// Association Response (0x02), sent by the parent to the joiner.
    AssociationResponse {
        /// Short address allocated to the joiner (0xffff when the association failed).
        short_addr: ShortAddr,
        /// Association status.
        status: AssociationStatus,
    },
    /// Disassociation Notification (0x03).
    DisassociationNotification {
        /// Disassociation reason (1 = the coordinator wants the device to leave, 2 = the device wants
        /// to leave).
        reason: u8,
    },
    /// Data Request (0x04): a poll from a (sleepy) child for data its parent holds.
    DataRequest,
    /// PAN ID Conflict Notification (0x05).
    PanIdConflictNotification,
    /// Orphan Notification (0x06).
    OrphanNotification,
    /// Beacon Request (0x07), broadcast by a scanning device.
    BeaconRequest,
    /// Coordinator Realignment (0x08).
    CoordinatorRealignment {
        /// PAN identifier the coordinator will use.
        pan_id: PanId,
        /// Short address of the coordinator.
        coordinator_short: ShortAddr,
        /// Logical channel the coordinator will use.
        channel: u8,
        /// Short address of the orphaned device it is sent to (0xffff when broadcast).
        short_addr: ShortAddr,
        /// Present in 2006 frames that carry it (8-byte payload).
        channel_page: Option<u8>,
    },
    /// GTS Request (0x09).
    GtsRequest {
        /// GTS characteristics byte (length, direction, allocate/deallocate).
        characteristics: u8,
    },
    /// Any other command id, or a known one whose payload does not fit its layout; kept raw.
    Other {
        /// Command identifier.
        id: u8,
        /// Command payload after the id.
        payload: Vec<u8>,
    },
}

impl MacCommand {
    /// Command id of Association Request.
    pub const ASSOCIATION_REQUEST: u8 = 0x01;
    /// Command id of Association Response.
    pub const ASSOCIATION_RESPONSE: u8 = 0x02;
    /// Command id of Disassociation Notification.
    pub const DISASSOCIATION_NOTIFICATION: u8 = 0x03;
    /// Command id of Data Request.
    pub const DATA_REQUEST: u8 = 0x04;
    /// Command id of PAN ID Conflict Notification.
    pub const PAN_ID_CONFLICT_NOTIFICATION: u8 = 0x05;
    /// Command id of Orphan Notification.
    pub const ORPHAN_NOTIFICATION: u8 = 0x06;
    /// Command id of Beacon Request.
    pub const BEACON_REQUEST: u8 = 0x07;
    /// Command id of Coordinator Realignment.
    pub const COORDINATOR_REALIGNMENT: u8 = 0x08;
    /// Command id of GTS Request.
    pub const GTS_REQUEST: u8 = 0x09;

    /// The command identifier (first byte on air).
    pub fn id(&self) -> u8 {
        match self {
            MacCommand::AssociationRequest { .. } => Self::ASSOCIATION_REQUEST,
            MacCommand::AssociationResponse { .. } => Self::ASSOCIATION_RESPONSE,
            MacCommand::DisassociationNotification { .. } => Self::DISASSOCIATION_NOTIFICATION,
            MacCommand::DataRequest => Self::DATA_REQUEST,
            MacCommand::PanIdConflictNotification => Self::PAN_ID_CONFLICT_NOTIFICATION,
            MacCommand::OrphanNotification => Self::ORPHAN_NOTIFICATION,
            MacCommand::BeaconRequest => Self::BEACON_REQUEST,
            MacCommand::CoordinatorRealignment { .. } => Self::COORDINATOR_REALIGNMENT,
            MacCommand::GtsRequest { .. } => Self::GTS_REQUEST,
            MacCommand::Other { id, .. } => *id,
        }
    }

    /// Wireshark-style name (by id, so an `Other` with a known id keeps its name).
    pub fn name(&self) -> &'static str {
        mac_command_name(self.id())
    }

    /// Parses a command body starting at the command id. A payload longer than the command's
    /// layout gives [`MacCommand::Other`], a shorter one [`Error::Truncated`].
    pub fn parse(buf: &[u8]) -> Result<MacCommand> {
        let mut r = Reader::new(buf);
        let id = r.u8("MAC command id")?;
        let body = r.rest();
        let cmd = match id {
            Self::ASSOCIATION_REQUEST => MacCommand::AssociationRequest {
                capability: CapabilityInfo(r.u8("Association Request capability")?),
            },
            Self::ASSOCIATION_RESPONSE => MacCommand::AssociationResponse {
                short_addr: ShortAddr(r.u16("Association Response short address")?),
                status: AssociationStatus::from_u8(r.u8("Association Response status")?),
            },
            Self::DISASSOCIATION_NOTIFICATION => MacCommand::DisassociationNotification {
                reason: r.u8("Disassociation Notification reason")?,
            },
            Self::DATA_REQUEST => MacCommand::DataRequest,
            Self::PAN_ID_CONFLICT_NOTIFICATION => MacCommand::PanIdConflictNotification,
            Self::ORPHAN_NOTIFICATION => MacCommand::OrphanNotification,
            Self::BEACON_REQUEST => MacCommand::BeaconRequest,
            Self::COORDINATOR_REALIGNMENT => {
                let what = "Coordinator Realignment";
                MacCommand::CoordinatorRealignment {
                    pan_id: PanId(r.u16(what)?),
                    coordinator_short: ShortAddr(r.u16(what)?),
                    channel: r.u8(what)?,
                    short_addr: ShortAddr(r.u16(what)?),
                    channel_page: if r.is_empty() { None } else { Some(r.u8(what)?) },
                }
            }
            Self::GTS_REQUEST => {
                MacCommand::GtsRequest { characteristics: r.u8("GTS Request characteristics")? }
            }
            _ => return Ok(MacCommand::Other { id, payload: body.to_vec() }),
        };
        if !r.is_empty() {
            return Ok(MacCommand::Other { id, payload: body.to_vec() });
        }
        Ok(cmd)
    }

    /// Length of the command (id included) [`MacCommand::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let body = match self {
            MacCommand::AssociationRequest { .. } => 1,
            MacCommand::AssociationResponse { .. } => 3,
            MacCommand::DisassociationNotification { .. } => 1,
            MacCommand::DataRequest
            | MacCommand::PanIdConflictNotification
            | MacCommand::OrphanNotification
            | MacCommand::BeaconRequest => 0,
            MacCommand::CoordinatorRealignment { channel_page, .. } => {
                7 + usize::from(channel_page.is_some())
            }
            MacCommand::GtsRequest { .. } => 1,
            MacCommand::Other { payload, .. } => payload.len(),
        };
        body.saturating_add(1)
    }

    /// Appends the command id and payload.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.id());
        match self {
            MacCommand::AssociationRequest { capability } => out.push(capability.0),
            MacCommand::AssociationResponse { short_addr, status } => {
                out.extend_from_slice(&short_addr.0.to_le_bytes());
                out.push(status.to_u8());
            }
            MacCommand::DisassociationNotification { reason } => out.push(*reason),
            MacCommand::DataRequest
            | MacCommand::PanIdConflictNotification
            | MacCommand::OrphanNotification
            | MacCommand::BeaconRequest => {}
            MacCommand::CoordinatorRealignment {
                pan_id,
                coordinator_short,
                channel,
                short_addr,
                channel_page,
            } => {
                out.extend_from_slice(&pan_id.0.to_le_bytes());
                out.extend_from_slice(&coordinator_short.0.to_le_bytes());
                out.push(*channel);
                out.extend_from_slice(&short_addr.0.to_le_bytes());
                if let Some(p) = channel_page {
                    out.push(*p);
                }
            }
            MacCommand::GtsRequest { characteristics } => out.push(*characteristics),
            MacCommand::Other { payload, .. } => out.extend_from_slice(payload),
        }
    }
}

/// Wireshark-style name of a MAC command id.
pub fn mac_command_name(id: u8) -> &'static str {
    match id {
        0x01 => "Association Request",
        0x02 => "Association Response",
        0x03 => "Disassociation Notification",
        0x04 => "Data Request",
        0x05 => "PAN ID Conflict",
        0x06 => "Orphan Notification",
        0x07 => "Beacon Request",
        0x08 => "Coordinator Realignment",
        0x09 => "GTS Request",
        _ => "Unknown Command",
    }
}

/// CRC-16/KERMIT (the 802.15.4 "ITU-T CRC-16"): reflected 0x1021, init 0, no xorout.
/// Sent little-endian after the MAC payload.
pub fn fcs(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= b as u16;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x8408 } else { crc >> 1 };
        }
    }
    crc
}

/// Checks the trailing 2-byte FCS of a PSDU and returns the frame without it.
pub fn strip_fcs(psdu: &[u8]) -> crate::Result<&[u8]> {
    if psdu.len() < 2 {
        return Err(crate::Error::Truncated { what: "FCS" });
    }
    let (frame, tail) = psdu.split_at(psdu.len() - 2);
    let received = u16::from_le_bytes([tail[0], tail[1]]);
    let computed = fcs(frame);
    if computed != received {
        return Err(crate::Error::BadFcs { computed, received });
    }
    Ok(frame)
}

/// Appends the FCS of `frame` (little-endian) to it.
pub fn append_fcs(frame: &mut Vec<u8>) {
    let f = fcs(frame);
    frame.extend_from_slice(&f.to_le_bytes());
}

#[cfg(test)]
mod fcs_tests {
    use super::*;

    #[test]
    fn kermit_check_value_and_notes_vector() {
        assert_eq!(fcs(b"123456789"), 0x2189);
        // zigbee-notes §5.8: PSDU whose FCS is E0 34.
        let psdu = zigtrust_crypto::decode_hex_loose(
            "618801621a000034124802000034121e42280100000004030201004b120000cbac548854610a91480429573efb97e034",
        )
        .unwrap();
        assert_eq!(strip_fcs(&psdu).unwrap().len(), psdu.len() - 2);
        let mut bad = psdu.clone();
        bad[3] ^= 1;
        assert!(matches!(strip_fcs(&bad), Err(crate::Error::BadFcs { .. })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        zigtrust_crypto::decode_hex_loose(s).unwrap()
    }

    fn emit(f: &MacFrame<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        f.emit(&mut out);
        assert_eq!(out.len(), f.buffer_len());
        out
    }

    /// parse → emit gives the same bytes, and every strict prefix of a command frame fails.
    fn roundtrip(bytes: &[u8]) -> MacFrame<'_> {
        let f = MacFrame::parse(bytes).unwrap();
        assert_eq!(emit(&f), bytes);
        f
    }

    fn assert_prefixes_fail(bytes: &[u8]) {
        for n in 0..bytes.len() {
            assert!(MacFrame::parse(&bytes[..n]).is_err(), "prefix of len {n} parsed");
        }
    }

    const JOINER: ExtAddr = ExtAddr(0xa4c1_386d_9b28_0fdf);
    const TC: ExtAddr = ExtAddr(0x804b_50ff_fe05_99f9);

    #[test]
    fn beacon_request() {
        let b = hex("0308 64 ffff ffff 07");
        let f = roundtrip(&b);
        assert_eq!(f.header.frame_control(), 0x0803);
        assert_eq!(f.header.frame_type, FrameType::MacCommand);
        assert_eq!(f.header.sequence, Some(0x64));
        assert_eq!(f.header.dst_pan, Some(PanId::BROADCAST));
        assert!(f.header.dst_addr.is_broadcast());
        assert_eq!(f.header.src_pan, None);
        assert_eq!(f.header.src_addr, Address::Absent);
        assert_eq!(f.body, MacBody::Command(MacCommand::BeaconRequest));
        assert_eq!(f.name(), "Beacon Request");
        assert_eq!(f, MacFrame::beacon_request(0x64));
        assert_prefixes_fail(&b);
    }

    #[test]
    fn association_request() {
        let b = hex("23c8 74 641a 0000 ffff df0f289b6d38c1a4 01 8e");
        let f = roundtrip(&b);
        let h = f.header;
        assert_eq!(h.frame_control(), 0xc823);
        assert!(h.ack_request && !h.pan_id_compression);
        assert_eq!(h.dst_pan, Some(PanId(0x1a64)));
        assert_eq!(h.dst_addr, Address::Short(ShortAddr(0)));
        assert_eq!(h.src_pan, Some(PanId::BROADCAST));
        assert_eq!(h.src_addr, Address::Extended(JOINER));
        assert_eq!(
            f.body,
            MacBody::Command(MacCommand::AssociationRequest { capability: CapabilityInfo(0x8e) })
        );
        assert_eq!(f.name(), "Association Request");
        let built = MacFrame::association_request(
            0x74,
            PanId(0x1a64),
            ShortAddr(0),
            JOINER,
            CapabilityInfo::ROUTER,
        );
        assert_eq!(emit(&built), b);
        assert_prefixes_fail(&b);
    }

    #[test]
    fn association_response() {
        let b = hex("63cc bb 641a df0f289b6d38c1a4 f99905feff504b80 02 8fa1 00");
        let f = roundtrip(&b);
        assert_eq!(f.header.frame_control(), 0xcc63);
        assert_eq!(f.header.dst_pan, Some(PanId(0x1a64)));
        assert_eq!(f.header.src_pan, None);
        assert_eq!(f.header.dst_addr, Address::Extended(JOINER));
        assert_eq!(f.header.src_addr, Address::Extended(TC));
        assert_eq!(
            f.body,
            MacBody::Command(MacCommand::AssociationResponse {
                short_addr: ShortAddr(0xa18f),
                status: AssociationStatus::Success
            })
        );
        let built = MacFrame::association_response(
            0xbb,
            PanId(0x1a64),
            JOINER,
            TC,
            ShortAddr(0xa18f),
            AssociationStatus::Success,
        );
        assert_eq!(emit(&built), b);
        assert_prefixes_fail(&b);
    }

    #[test]
    fn data_request() {
        let b = hex("63c8 75 641a 0000 df0f289b6d38c1a4 04");
        let f = roundtrip(&b);
        assert_eq!(f.header.frame_control(), 0xc863);
        assert_eq!(f.header.src_addr, Address::Extended(JOINER));
        assert_eq!(f.body, MacBody::Command(MacCommand::DataRequest));
        assert_eq!(f.name(), "Data Request");
        let built = MacFrame::data_request(
            0x75,
            PanId(0x1a64),
            Address::Short(ShortAddr(0)),
            Address::Extended(JOINER),
        );
        assert_eq!(emit(&built), b);
        assert_prefixes_fail(&b);
    }

    #[test]
    fn data_frame_from_capture() {
        let b = hex(
            "6188bf621a0000ba96 48020000ba961e97 28ed82b302 73b9a4feff504b80 00 249091d59cff06da 74295ed5",
        );
        let f = roundtrip(&b);
        let h = f.header;
        assert_eq!(h.frame_control(), 0x8861);
        assert_eq!(h.frame_type, FrameType::Data);
        assert!(h.ack_request && h.pan_id_compression && !h.security_enabled);
        assert_eq!(h.sequence, Some(0xbf));
        assert_eq!(h.dst_pan, Some(PanId(0x1a62)));
        assert_eq!(h.dst_addr, Address::Short(ShortAddr(0x0000)));
        assert_eq!(h.src_addr, Address::Short(ShortAddr(0x96ba)));
        assert_eq!(h.buffer_len(), 9);
        assert_eq!(f.body, MacBody::Data(&b[9..]));
        let built = MacHeader::data(
            0xbf,
            PanId(0x1a62),
            Address::Short(ShortAddr(0)),
            Address::Short(ShortAddr(0x96ba)),
            true,
        );
        assert_eq!(built, h);
        for n in 0..9 {
            assert!(MacFrame::parse(&b[..n]).is_err());
        }

        let p = MacPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.frame_type(), FrameType::Data);
        assert_eq!(p.sequence(), Some(0xbf));
        assert_eq!(p.dst_pan(), Some(PanId(0x1a62)));
        assert_eq!(p.src_pan(), None);
        assert_eq!(p.src_addr(), Address::Short(ShortAddr(0x96ba)));
        assert_eq!(p.header_len(), Ok(9));
        assert_eq!(p.payload(), &b[9..]);
        assert!(MacPacket::new_checked(&b[..8]).is_err());
    }

    #[test]
    fn fcs_emit_matches_notes() {
        let psdu = hex(
            "618801621a000034124802000034121e42280100000004030201004b120000cbac548854610a91480429573efb97e034",
        );
        let frame = strip_fcs(&psdu).unwrap();
        let f = MacFrame::parse(frame).unwrap();
        let mut out = vec![0xaa]; // pre-existing bytes must not enter the CRC
        f.emit_with_fcs(&mut out);
        assert_eq!(&out[1..], &psdu[..]);
    }

    #[test]
    fn ack() {
        let b = hex("02 00 5a");
        let f = roundtrip(&b);
        assert_eq!(f.header.frame_type, FrameType::Ack);
        assert_eq!(f.header.sequence, Some(0x5a));
        assert_eq!(f.body, MacBody::Ack);
        assert_eq!(f.name(), "Ack");
        assert_eq!(f, MacFrame::ack(0x5a, false));
        let b = hex("020000");
        assert_eq!(roundtrip(&b), MacFrame::ack(0, false));
        let pending = MacFrame::ack(7, true);
        assert_eq!(emit(&pending), hex("12 00 07"));
        assert!(MacFrame::parse(&b[..2]).is_err());
    }

    #[test]
    fn zigbee_beacon() {
        let zb = ZigbeeBeaconPayload {
            stack_profile: 2,
            protocol_version: 2,
            reserved: 0,
            router_capacity: true,
            device_depth: 0,
            end_device_capacity: true,
            extended_pan_id: 0xdddd_dddd_dddd_dddd,
            tx_offset: 0xff_ffff,
            update_id: 0,
            trailing: Vec::new(),
        };
        let mut payload = Vec::new();
        zb.emit(&mut payload);
        assert_eq!(payload.len(), zb.buffer_len());
        assert_eq!(payload, hex("00 22 84 dddddddddddddddd ffffff 00"));
        let f = MacFrame::beacon(
            0x33,
            PanId(0x1a62),
            ShortAddr(0),
            Beacon::new(SuperframeSpec::zigbee(true, true), &payload),
        );
        let b = emit(&f);
        assert_eq!(b, hex("0080 33 621a 0000 ffcf 00 00 0022 84 dddddddddddddddd ffffff 00"));
        let p = roundtrip(&b);
        assert_eq!(p, f);
        assert_eq!(p.name(), "Beacon");
        let MacBody::Beacon(beacon) = &p.body else { panic!("not a beacon") };
        let s = beacon.superframe;
        assert_eq!((s.beacon_order(), s.superframe_order(), s.final_cap_slot()), (15, 15, 15));
        assert!(s.pan_coordinator() && s.association_permit() && !s.battery_life_extension());
        assert_eq!(beacon.zigbee().unwrap(), zb);
        assert_eq!(zb.extended_pan_id_display().to_string(), "dd:dd:dd:dd:dd:dd:dd:dd");
        for n in 0..payload.len() {
            assert!(ZigbeeBeaconPayload::parse(&payload[..n]).is_err());
        }
        assert!(ZigbeeBeaconPayload::parse(&hex("01 22 84 dddddddddddddddd ffffff 00")).is_err());
    }

    #[test]
    fn beacon_with_gts_and_pending_addresses() {
        let b = hex("0080 01 3412 0100 11ef 81 85 0200 ab 11 0300 0807060504030201 aabb");
        let f = roundtrip(&b);
        let MacBody::Beacon(beacon) = &f.body else { panic!("not a beacon") };
        assert!(beacon.gts.permit);
        assert_eq!(beacon.gts.directions, 0x85);
        assert_eq!(beacon.gts.descriptors.len(), 1);
        assert_eq!(
            beacon.gts.descriptors[0],
            GtsDescriptor { short_addr: ShortAddr(2), starting_slot: 0x0b, length: 0x0a }
        );
        assert_eq!(beacon.pending_short, vec![ShortAddr(3)]);
        assert_eq!(beacon.pending_ext, vec![ExtAddr(0x0102_0304_0506_0708)]);
        assert_eq!(beacon.payload, &[0xaa, 0xbb]);
        // Everything up to the payload is required.
        for n in 0..b.len() - 2 {
            assert!(MacFrame::parse(&b[..n]).is_err(), "{n}");
        }
    }

    #[test]
    fn other_commands_round_trip() {
        let cmds = [
            MacCommand::DisassociationNotification { reason: 2 },
            MacCommand::PanIdConflictNotification,
            MacCommand::OrphanNotification,
            MacCommand::CoordinatorRealignment {
                pan_id: PanId(0x1a62),
                coordinator_short: ShortAddr(0),
                channel: 15,
                short_addr: ShortAddr(0x1234),
                channel_page: None,
            },
            MacCommand::CoordinatorRealignment {
                pan_id: PanId(0x1a62),
                coordinator_short: ShortAddr(0),
                channel: 15,
                short_addr: ShortAddr(0x1234),
                channel_page: Some(0),
            },
            MacCommand::GtsRequest { characteristics: 0x13 },
            MacCommand::Other { id: 0x20, payload: vec![1, 2, 3] },
            MacCommand::AssociationResponse {
                short_addr: ShortAddr(0xfffe),
                status: AssociationStatus::AddressConflict,
            },
        ];
        for c in cmds {
            let mut out = Vec::new();
            c.emit(&mut out);
            assert_eq!(out.len(), c.buffer_len());
            assert_eq!(MacCommand::parse(&out).unwrap(), c);
            assert_eq!(out[0], c.id());
        }
        // Extra bytes after a fixed layout are kept raw.
        let c = MacCommand::parse(&[0x04, 0x99]).unwrap();
        assert_eq!(c, MacCommand::Other { id: 4, payload: vec![0x99] });
        assert_eq!(c.name(), "Data Request");
        assert_eq!(
            MacCommand::parse(&[0x01]),
            Err(Error::Truncated { what: "Association Request capability" })
        );
    }

    #[test]
    fn rejects_what_it_cannot_decode() {
        // Addressing mode 1 is reserved.
        assert!(matches!(MacFrame::parse(&hex("0104 01 ffff")), Err(Error::Malformed { .. })));
        // MAC-layer security: header parses, frame does not.
        let b = hex("6988 01 621a 0000 3412 00");
        assert!(MacHeader::parse(&b).unwrap().0.security_enabled);
        assert_eq!(MacFrame::parse(&b), Err(Error::Unsupported { what: "MAC-layer security" }));
        // IEs.
        assert!(matches!(MacFrame::parse(&hex("0122 01")), Err(Error::Unsupported { .. })));
        // Frame version 3.
        assert!(matches!(MacFrame::parse(&hex("0130 01")), Err(Error::Unsupported { .. })));
        // Multipurpose frame type.
        assert!(matches!(MacFrame::parse(&hex("0500 01")), Err(Error::Unsupported { .. })));
        // Reserved frame type 4 keeps its payload raw.
        let f = roundtrip(&[0x04, 0x00, 0x01, 0xee]);
        assert_eq!(f.body, MacBody::Other(&[0xee]));
        assert_eq!(f.name(), "Reserved");
    }

    #[test]
    fn version_2_pan_id_compression_table() {
        // (dst mode, src mode, compression) -> (dst PAN, src PAN), 802.15.4-2015 Table 7-2.
        let rows = [
            (0, 0, false, false, false),
            (0, 0, true, true, false),
            (2, 0, false, true, false),
            (3, 0, true, false, false),
            (0, 2, false, false, true),
            (0, 3, true, false, false),
            (3, 3, false, true, false),
            (3, 3, true, false, false),
            (2, 2, false, true, true),
            (2, 3, false, true, true),
            (3, 2, false, true, true),
            (2, 3, true, true, false),
            (3, 2, true, true, false),
            (2, 2, true, true, false),
        ];
        for (dm, sm, c, dp, sp) in rows {
            assert_eq!(pan_presence(2, dm, sm, c), (dp, sp), "{dm} {sm} {c}");
            let fcf: u16 =
                0x2001 | (u16::from(dm) << 10) | (u16::from(sm) << 14) | if c { 0x40 } else { 0 };
            let mut b = fcf.to_le_bytes().to_vec();
            b.push(9);
            b.resize(
                b.len() + 2 * usize::from(dp) + mode_len(dm) + 2 * usize::from(sp) + mode_len(sm),
                0x11,
            );
            b.push(0x42);
            let f = roundtrip(&b);
            assert_eq!(f.header.dst_pan.is_some(), dp);
            assert_eq!(f.header.src_pan.is_some(), sp);
            assert_eq!(f.body, MacBody::Data(&[0x42]));
        }
        // Sequence number suppression.
        let b = hex("0121 55");
        let f = roundtrip(&b);
        assert_eq!(f.header.sequence, None);
        assert!(f.header.sequence_number_suppression());
    }

    #[test]
    fn version_1_without_compression_and_dst_only() {
        // 2006 frame, dst absent, src short: src PAN present.
        let b = hex("0190 07 621a 3412 aa");
        let f = roundtrip(&b);
        assert_eq!(f.header.frame_version, 1);
        assert_eq!(f.header.dst_pan, None);
        assert_eq!(f.header.src_pan, Some(PanId(0x1a62)));
        // Both addresses, no compression: both PANs.
        let b = hex("0188 07 621a 0000 631a 3412");
        let f = roundtrip(&b);
        assert_eq!(f.header.src_pan, Some(PanId(0x1a63)));
        // Compression with only one address is ignored for layout but kept.
        let b = hex("4108 07 621a ffff");
        let f = roundtrip(&b);
        assert!(f.header.pan_id_compression);
        assert_eq!(f.header.dst_pan, Some(PanId(0x1a62)));
    }
}
