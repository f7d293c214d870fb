//! Zigbee NWK layer: a [`NwkPacket`] view over bytes, the [`NwkHeader`] and [`NwkFrame`]
//! values with `parse` / `emit`, and the NWK commands ([`NwkCommand`]).
//!
//! The NWK header is what CCM* authenticates for NWK security, so `emit(parse(x)) == x` must
//! hold byte for byte: every frame control bit (reserved ones included) survives a round trip.
//! Decryption itself lives in `security.rs`; a secured frame's [`NwkFrame::payload`] is the aux
//! security header followed by ciphertext and MIC.

use core::fmt;

use crate::{CapabilityInfo, Error, ExtAddr, PanId, Reader, Result, ShortAddr};

const FCF_MULTICAST: u16 = 1 << 8;
const FCF_SECURITY: u16 = 1 << 9;
const FCF_SOURCE_ROUTE: u16 = 1 << 10;
const FCF_DST_IEEE: u16 = 1 << 11;
const FCF_SRC_IEEE: u16 = 1 << 12;
const FCF_END_DEVICE_INITIATOR: u16 = 1 << 13;
const FCF_RESERVED_SHIFT: u32 = 14;
/// Bits that change the header layout; an inter-PAN stub header cannot carry them.
const FCF_LAYOUT_BITS: u16 = FCF_MULTICAST | FCF_SOURCE_ROUTE | FCF_DST_IEEE | FCF_SRC_IEEE;

/// NWK frame type (FCF bits 0–1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NwkFrameType {
    /// Data frame (0): carries an APS frame.
    Data,
    /// NWK command frame (1).
    Command,
    /// Smart Energy / Touchlink inter-PAN: the NWK header is only the frame control.
    InterPan,
    /// The reserved value 2.
    Other(u8),
}

impl NwkFrameType {
    /// The frame type from FCF bits 0–1 (higher bits are ignored).
    pub fn from_bits(bits: u8) -> NwkFrameType {
        match bits & 0x03 {
            0 => NwkFrameType::Data,
            1 => NwkFrameType::Command,
            3 => NwkFrameType::InterPan,
            o => NwkFrameType::Other(o),
        }
    }
    /// The 2-bit value for FCF bits 0–1.
    pub fn bits(self) -> u8 {
        match self {
            NwkFrameType::Data => 0,
            NwkFrameType::Command => 1,
            NwkFrameType::InterPan => 3,
            NwkFrameType::Other(o) => o & 0x03,
        }
    }
    /// Wireshark-style name.
    pub fn name(self) -> &'static str {
        match self {
            NwkFrameType::Data => "Data",
            NwkFrameType::Command => "Command",
            NwkFrameType::InterPan => "Inter-PAN",
            NwkFrameType::Other(_) => "Reserved",
        }
    }
}

/// Discover-route field (FCF bits 6–7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscoverRoute {
    /// 0: suppress route discovery (use an existing route or the tree).
    Suppress,
    /// 1: enable route discovery if no route exists.
    Enable,
    /// Legacy (Zigbee 2006) "force route discovery".
    Force,
    /// The reserved value 2.
    Other(u8),
}

impl DiscoverRoute {
    /// The field from its 2-bit value (higher bits are ignored).
    pub fn from_bits(bits: u8) -> DiscoverRoute {
        match bits & 0x03 {
            0 => DiscoverRoute::Suppress,
            1 => DiscoverRoute::Enable,
            3 => DiscoverRoute::Force,
            o => DiscoverRoute::Other(o),
        }
    }
    /// The 2-bit value for FCF bits 6–7.
    pub fn bits(self) -> u8 {
        match self {
            DiscoverRoute::Suppress => 0,
            DiscoverRoute::Enable => 1,
            DiscoverRoute::Force => 3,
            DiscoverRoute::Other(o) => o & 0x03,
        }
    }
}

/// Source route subframe. The relay count is derived from `relays` (at most 255 emitted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SourceRoute {
    /// Relay Index: position in `relays` of the next relay to forward to (counts down as the frame
    /// travels).
    pub relay_index: u8,
    /// Relay List: short addresses of the relays, the one closest to the destination first.
    pub relays: Vec<ShortAddr>,
}

/// The NWK header as a value.
///
/// The multicast, source-route, destination-IEEE and source-IEEE flags are derived from the
/// corresponding `Option`s, so a header cannot claim a field it does not carry. For
/// [`NwkFrameType::InterPan`] the header is the frame control only: `dst`, `src`, `radius`
/// and `seq` are not on air (parse sets them to 0, emit skips them) and the optional fields
/// must be `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NwkHeader {
    /// Frame type (FCF bits 0–1).
    pub frame_type: NwkFrameType,
    /// 4 bits; 2 for Zigbee 2007 / PRO / 3.0.
    pub protocol_version: u8,
    /// Discover Route (FCF bits 6–7).
    pub discover_route: DiscoverRoute,
    /// Security (FCF bit 9): the payload is NWK-secured with the network key and starts with the
    /// auxiliary security header.
    pub security: bool,
    /// End Device Initiator (FCF bit 13, R21): set on frames an end device originates.
    pub end_device_initiator: bool,
    /// FCF bits 14–15 (reserved), shifted down.
    pub reserved: u8,
    /// Destination Address: NWK short address of the final destination, or a NWK broadcast address.
    pub dst: ShortAddr,
    /// Source Address: NWK short address of the originator (not of the last relay).
    pub src: ShortAddr,
    /// Radius: hops the frame may still travel; each relay decrements it.
    pub radius: u8,
    /// NWK sequence number of the originator.
    pub seq: u8,
    /// Destination IEEE Address; present iff FCF bit 11 is set.
    pub dst_ieee: Option<ExtAddr>,
    /// Source IEEE Address of the originator; present iff FCF bit 12 is set.
    pub src_ieee: Option<ExtAddr>,
    /// Multicast Control byte; present iff the multicast flag (FCF bit 8) is set.
    pub multicast_control: Option<u8>,
    /// Source route subframe; present iff the source-route flag (FCF bit 10) is set.
    pub source_route: Option<SourceRoute>,
}

impl NwkHeader {
    /// Zigbee PRO protocol version.
    pub const PROTOCOL_VERSION: u8 = 2;

    /// A plain Zigbee PRO header: version 2, route discovery suppressed, no optional fields.
    pub fn new(
        frame_type: NwkFrameType,
        dst: ShortAddr,
        src: ShortAddr,
        radius: u8,
        seq: u8,
    ) -> NwkHeader {
        NwkHeader {
            frame_type,
            protocol_version: Self::PROTOCOL_VERSION,
            discover_route: DiscoverRoute::Suppress,
            security: false,
            end_device_initiator: false,
            reserved: 0,
            dst,
            src,
            radius,
            seq,
            dst_ieee: None,
            src_ieee: None,
            multicast_control: None,
            source_route: None,
        }
    }

    /// A data frame header (FCF 0x0008; set `security` / `discover_route` as needed).
    pub fn data(dst: ShortAddr, src: ShortAddr, radius: u8, seq: u8) -> NwkHeader {
        NwkHeader::new(NwkFrameType::Data, dst, src, radius, seq)
    }

    /// A command frame header (FCF 0x0009).
    pub fn command(dst: ShortAddr, src: ShortAddr, radius: u8, seq: u8) -> NwkHeader {
        NwkHeader::new(NwkFrameType::Command, dst, src, radius, seq)
    }

    /// Whether the multicast flag (FCF bit 8) is set, i.e. a multicast control byte is present.
    pub fn multicast(&self) -> bool {
        self.multicast_control.is_some()
    }

    /// Whether the source-route flag (FCF bit 10) is set, i.e. a source route subframe is present.
    pub fn has_source_route(&self) -> bool {
        self.source_route.is_some()
    }

    /// The frame control word this header emits.
    pub fn frame_control(&self) -> u16 {
        let mut fcf = u16::from(self.frame_type.bits())
            | (u16::from(self.protocol_version & 0x0f) << 2)
            | (u16::from(self.discover_route.bits()) << 6)
            | (u16::from(self.reserved & 0x03) << FCF_RESERVED_SHIFT);
        let flags = [
            (self.multicast_control.is_some(), FCF_MULTICAST),
            (self.security, FCF_SECURITY),
            (self.source_route.is_some(), FCF_SOURCE_ROUTE),
            (self.dst_ieee.is_some(), FCF_DST_IEEE),
            (self.src_ieee.is_some(), FCF_SRC_IEEE),
            (self.end_device_initiator, FCF_END_DEVICE_INITIATOR),
        ];
        for (set, bit) in flags {
            if set {
                fcf |= bit;
            }
        }
        fcf
    }

    /// Parses the NWK header at the start of `buf`; returns it and its length.
    pub fn parse(buf: &[u8]) -> Result<(NwkHeader, usize)> {
        let mut r = Reader::new(buf);
        let fcf = r.u16("NWK frame control")?;
        let frame_type = NwkFrameType::from_bits(fcf as u8);
        let mut h = NwkHeader {
            frame_type,
            protocol_version: ((fcf >> 2) & 0x0f) as u8,
            discover_route: DiscoverRoute::from_bits((fcf >> 6) as u8),
            security: fcf & FCF_SECURITY != 0,
            end_device_initiator: fcf & FCF_END_DEVICE_INITIATOR != 0,
            reserved: (fcf >> FCF_RESERVED_SHIFT) as u8 & 0x03,
            dst: ShortAddr(0),
            src: ShortAddr(0),
            radius: 0,
            seq: 0,
            dst_ieee: None,
            src_ieee: None,
            multicast_control: None,
            source_route: None,
        };
        if frame_type == NwkFrameType::InterPan {
            if fcf & FCF_LAYOUT_BITS != 0 {
                return Err(Error::Malformed { what: "inter-PAN NWK frame control" });
            }
            return Ok((h, r.position()));
        }
        h.dst = ShortAddr(r.u16("NWK destination")?);
        h.src = ShortAddr(r.u16("NWK source")?);
        h.radius = r.u8("NWK radius")?;
        h.seq = r.u8("NWK sequence number")?;
        if fcf & FCF_DST_IEEE != 0 {
            h.dst_ieee = Some(r.ext_addr("NWK destination IEEE address")?);
        }
        if fcf & FCF_SRC_IEEE != 0 {
            h.src_ieee = Some(r.ext_addr("NWK source IEEE address")?);
        }
        if fcf & FCF_MULTICAST != 0 {
            h.multicast_control = Some(r.u8("NWK multicast control")?);
        }
        if fcf & FCF_SOURCE_ROUTE != 0 {
            let count = r.u8("NWK source route")?;
            let relay_index = r.u8("NWK source route")?;
            let mut relays = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                relays.push(ShortAddr(r.u16("NWK source route relay list")?));
            }
            h.source_route = Some(SourceRoute { relay_index, relays });
        }
        Ok((h, r.position()))
    }

    /// Length of the header [`NwkHeader::emit`] writes (2 for an inter-PAN stub).
    pub fn buffer_len(&self) -> usize {
        if self.frame_type == NwkFrameType::InterPan {
            return 2;
        }
        8 + if self.dst_ieee.is_some() { 8 } else { 0 }
            + if self.src_ieee.is_some() { 8 } else { 0 }
            + usize::from(self.multicast_control.is_some())
            + self.source_route.as_ref().map_or(0, |s| 2 + 2 * s.relays.len().min(255))
    }

    /// Appends the header byte for byte as CCM* authenticates it.
    pub fn emit(&self, out: &mut Vec<u8>) {
        if self.frame_type == NwkFrameType::InterPan {
            let fcf = self.frame_control() & !FCF_LAYOUT_BITS;
            out.extend_from_slice(&fcf.to_le_bytes());
            return;
        }
        out.extend_from_slice(&self.frame_control().to_le_bytes());
        out.extend_from_slice(&self.dst.0.to_le_bytes());
        out.extend_from_slice(&self.src.0.to_le_bytes());
        out.push(self.radius);
        out.push(self.seq);
        if let Some(a) = self.dst_ieee {
            out.extend_from_slice(&a.to_le_bytes());
        }
        if let Some(a) = self.src_ieee {
            out.extend_from_slice(&a.to_le_bytes());
        }
        if let Some(m) = self.multicast_control {
            out.push(m);
        }
        if let Some(sr) = &self.source_route {
            let count = sr.relays.len().min(255);
            out.push(count as u8);
            out.push(sr.relay_index);
            for a in sr.relays.iter().take(count) {
                out.extend_from_slice(&a.0.to_le_bytes());
            }
        }
    }
}

/// A NWK frame as a value: the header and everything after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NwkFrame<'a> {
    /// The NWK header.
    pub header: NwkHeader,
    /// The NWK payload: APS frame (data), command id + fields (command), or — when
    /// `header.security` is set — aux security header, ciphertext and MIC.
    pub payload: &'a [u8],
}

impl<'a> NwkFrame<'a> {
    /// Parses the header and takes the rest of `buf` as the payload.
    pub fn parse(buf: &'a [u8]) -> Result<NwkFrame<'a>> {
        let (header, len) = NwkHeader::parse(buf)?;
        let payload = buf.get(len..).ok_or(Error::Truncated { what: "NWK header" })?;
        Ok(NwkFrame { header, payload })
    }

    /// Length of the frame [`NwkFrame::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.header.buffer_len().saturating_add(self.payload.len())
    }

    /// Appends the header and the payload.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.header.emit(out);
        out.extend_from_slice(self.payload);
    }

    /// The command of an unsecured command frame. Secured frames must be decrypted first.
    pub fn command(&self) -> Result<NwkCommand> {
        if self.header.frame_type != NwkFrameType::Command {
            return Err(Error::Malformed { what: "NWK frame type (not a command)" });
        }
        if self.header.security {
            return Err(Error::Unsupported { what: "secured NWK command (decrypt first)" });
        }
        NwkCommand::parse(self.payload)
    }
}

/// Zero-copy view of a NWK frame, in the smoltcp `Packet` style.
///
/// Accessors never panic: on a buffer [`NwkPacket::new_checked`] would reject, fixed fields read
/// as 0 and optional ones as `None`.
#[derive(Debug, Clone)]
pub struct NwkPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NwkPacket<T> {
    /// Wraps `buffer` without any check; accessors still never panic.
    pub fn new_unchecked(buffer: T) -> NwkPacket<T> {
        NwkPacket { buffer }
    }

    /// Wraps `buffer` after checking that the whole NWK header is present.
    pub fn new_checked(buffer: T) -> Result<NwkPacket<T>> {
        let p = NwkPacket::new_unchecked(buffer);
        p.header_len()?;
        Ok(p)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes(&self, off: usize, n: usize) -> Option<&[u8]> {
        self.buffer.as_ref().get(off..off.checked_add(n)?)
    }
    fn u8_at(&self, off: usize) -> u8 {
        self.bytes(off, 1).map_or(0, |b| b[0])
    }
    fn u16_at(&self, off: usize) -> u16 {
        self.bytes(off, 2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn ext_at(&self, off: usize) -> Option<ExtAddr> {
        let b = self.bytes(off, 8)?;
        Reader::new(b).ext_addr("NWK IEEE address").ok()
    }

    /// The 16-bit NWK frame control field; 0 if the buffer is shorter than 2 bytes.
    pub fn frame_control(&self) -> u16 {
        self.u16_at(0)
    }
    /// Frame type (FCF bits 0–1).
    pub fn frame_type(&self) -> NwkFrameType {
        NwkFrameType::from_bits(self.frame_control() as u8)
    }
    /// Protocol version (FCF bits 2–5); 2 for Zigbee PRO.
    pub fn protocol_version(&self) -> u8 {
        ((self.frame_control() >> 2) & 0x0f) as u8
    }
    /// Discover Route (FCF bits 6–7).
    pub fn discover_route(&self) -> DiscoverRoute {
        DiscoverRoute::from_bits((self.frame_control() >> 6) as u8)
    }
    /// Multicast flag (FCF bit 8).
    pub fn multicast(&self) -> bool {
        self.frame_control() & FCF_MULTICAST != 0
    }
    /// Security flag (FCF bit 9): the payload is NWK-secured.
    pub fn security(&self) -> bool {
        self.frame_control() & FCF_SECURITY != 0
    }
    /// Source Route flag (FCF bit 10).
    pub fn source_route(&self) -> bool {
        self.frame_control() & FCF_SOURCE_ROUTE != 0
    }
    /// Destination IEEE Address flag (FCF bit 11).
    pub fn dst_ieee_present(&self) -> bool {
        self.frame_control() & FCF_DST_IEEE != 0
    }
    /// Source IEEE Address flag (FCF bit 12).
    pub fn src_ieee_present(&self) -> bool {
        self.frame_control() & FCF_SRC_IEEE != 0
    }
    /// End Device Initiator flag (FCF bit 13, R21).
    pub fn end_device_initiator(&self) -> bool {
        self.frame_control() & FCF_END_DEVICE_INITIATOR != 0
    }
    fn is_inter_pan(&self) -> bool {
        self.frame_type() == NwkFrameType::InterPan
    }
    /// NWK destination short address (0 for inter-PAN).
    pub fn dst_addr(&self) -> ShortAddr {
        ShortAddr(if self.is_inter_pan() { 0 } else { self.u16_at(2) })
    }
    /// NWK source (originator) short address (0 for inter-PAN).
    pub fn src_addr(&self) -> ShortAddr {
        ShortAddr(if self.is_inter_pan() { 0 } else { self.u16_at(4) })
    }
    /// Radius (0 for inter-PAN).
    pub fn radius(&self) -> u8 {
        if self.is_inter_pan() {
            0
        } else {
            self.u8_at(6)
        }
    }
    /// NWK sequence number (0 for inter-PAN).
    pub fn seq(&self) -> u8 {
        if self.is_inter_pan() {
            0
        } else {
            self.u8_at(7)
        }
    }
    /// Destination IEEE Address, if the flag is set and the bytes are present.
    pub fn dst_ieee(&self) -> Option<ExtAddr> {
        if self.is_inter_pan() || !self.dst_ieee_present() {
            return None;
        }
        self.ext_at(8)
    }
    /// Source IEEE Address, if the flag is set and the bytes are present.
    pub fn src_ieee(&self) -> Option<ExtAddr> {
        if self.is_inter_pan() || !self.src_ieee_present() {
            return None;
        }
        self.ext_at(if self.dst_ieee_present() { 16 } else { 8 })
    }
    /// Multicast Control byte, if the multicast flag is set and the byte is present.
    pub fn multicast_control(&self) -> Option<u8> {
        if self.is_inter_pan() || !self.multicast() {
            return None;
        }
        let off = 8
            + if self.dst_ieee_present() { 8 } else { 0 }
            + if self.src_ieee_present() { 8 } else { 0 };
        self.bytes(off, 1).map(|b| b[0])
    }

    /// Header length, or why the buffer does not hold a whole header.
    pub fn header_len(&self) -> Result<usize> {
        NwkHeader::parse(self.buffer.as_ref()).map(|(_, len)| len)
    }

    /// The header bytes (what NWK security authenticates), empty if incomplete.
    pub fn header_bytes(&self) -> &[u8] {
        match self.header_len() {
            Ok(n) => self.buffer.as_ref().get(..n).unwrap_or(&[]),
            Err(_) => &[],
        }
    }

    /// Everything after the header, empty if the header is incomplete.
    pub fn payload(&self) -> &[u8] {
        match self.header_len() {
            Ok(n) => self.buffer.as_ref().get(n..).unwrap_or(&[]),
            Err(_) => &[],
        }
    }
}

/// Route Request options byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RouteRequestOptions(pub u8);

impl RouteRequestOptions {
    /// Many-to-One sub-field (bits 3–4).
    pub const MANY_TO_ONE_MASK: u8 = 0x18;
    /// Destination IEEE Address flag (bit 5): the request carries the destination's IEEE.
    pub const DST_IEEE: u8 = 0x20;
    /// Multicast flag (bit 6): the destination is a multicast group.
    pub const MULTICAST: u8 = 0x40;

    /// 0 not many-to-one, 1 many-to-one with route record table, 2 without, 3 reserved.
    pub fn many_to_one(self) -> u8 {
        (self.0 & Self::MANY_TO_ONE_MASK) >> 3
    }
    /// Whether the Destination IEEE Address flag is set.
    pub fn dst_ieee(self) -> bool {
        self.0 & Self::DST_IEEE != 0
    }
    /// Whether the Multicast flag is set.
    pub fn multicast(self) -> bool {
        self.0 & Self::MULTICAST != 0
    }
}

impl fmt::Debug for RouteRequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RouteRequestOptions({:#04x})", self.0)
    }
}

/// Route Reply options byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RouteReplyOptions(pub u8);

impl RouteReplyOptions {
    /// Originator IEEE Address flag (bit 4).
    pub const ORIGINATOR_IEEE: u8 = 0x10;
    /// Responder IEEE Address flag (bit 5).
    pub const RESPONDER_IEEE: u8 = 0x20;
    /// Multicast flag (bit 6).
    pub const MULTICAST: u8 = 0x40;

    /// Whether the Originator IEEE Address flag is set.
    pub fn originator_ieee(self) -> bool {
        self.0 & Self::ORIGINATOR_IEEE != 0
    }
    /// Whether the Responder IEEE Address flag is set.
    pub fn responder_ieee(self) -> bool {
        self.0 & Self::RESPONDER_IEEE != 0
    }
    /// Whether the Multicast flag is set.
    pub fn multicast(self) -> bool {
        self.0 & Self::MULTICAST != 0
    }
}

impl fmt::Debug for RouteReplyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RouteReplyOptions({:#04x})", self.0)
    }
}

/// Leave options byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LeaveOptions(pub u8);

impl LeaveOptions {
    /// Rejoin flag (bit 5): the leaving device is to rejoin afterwards.
    pub const REJOIN: u8 = 0x20;
    /// Request flag (bit 6): a request that the destination leave.
    pub const REQUEST: u8 = 0x40;
    /// Remove Children flag (bit 7): the device's children leave too.
    pub const REMOVE_CHILDREN: u8 = 0x80;

    /// Whether the Remove Children flag is set.
    pub fn remove_children(self) -> bool {
        self.0 & Self::REMOVE_CHILDREN != 0
    }
    /// Set: a request telling the destination to leave; clear: the sender announces it left.
    pub fn request(self) -> bool {
        self.0 & Self::REQUEST != 0
    }
    /// Whether the Rejoin flag is set.
    pub fn rejoin(self) -> bool {
        self.0 & Self::REJOIN != 0
    }
}

impl fmt::Debug for LeaveOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeaveOptions({:#04x}", self.0)?;
        for (set, name) in [
            (self.request(), " request"),
            (self.rejoin(), " rejoin"),
            (self.remove_children(), " remove-children"),
        ] {
            if set {
                write!(f, "{name}")?;
            }
        }
        write!(f, ")")
    }
}

/// One neighbour in a Link Status command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkStatusEntry {
    /// Short address of the neighbour.
    pub addr: ShortAddr,
    /// 3 bits.
    pub incoming_cost: u8,
    /// 3 bits.
    pub outgoing_cost: u8,
    /// Reserved bits 3 and 7 of the cost byte, in place.
    pub reserved: u8,
}

impl LinkStatusEntry {
    /// An entry with the reserved bits clear.
    pub fn new(addr: ShortAddr, incoming_cost: u8, outgoing_cost: u8) -> LinkStatusEntry {
        LinkStatusEntry { addr, incoming_cost, outgoing_cost, reserved: 0 }
    }
    fn cost_byte(&self) -> u8 {
        (self.incoming_cost & 0x07) | ((self.outgoing_cost & 0x07) << 4) | (self.reserved & 0x88)
    }
}

/// One entry of a Link Power Delta command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PowerDeltaEntry {
    /// Short address of the device the entry concerns.
    pub addr: ShortAddr,
    /// Requested / reported transmit power change in dBm.
    pub delta: i8,
}

/// Report information of a Network Report command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NetworkReportInfo {
    /// Report type 0: PAN identifiers heard that conflict with ours (at most 31 emitted).
    PanIdConflict(Vec<PanId>),
    /// Any other report type, kept raw (`report_type` 3 bits, `count` 5 bits).
    Other {
        /// Report command identifier (options bits 5–7).
        report_type: u8,
        /// Report information count (options bits 0–4).
        count: u8,
        /// Report information, undecoded.
        data: Vec<u8>,
    },
}

/// A NWK command, starting at the command id.
///
/// Length policy: a payload shorter than the command's layout is `Error::Truncated`; one longer
/// than it (fixed-size commands, or bytes beyond a declared count) is kept whole as `Other`, so
/// round-trip holds and nothing is silently dropped. `name()` still names a known id then.
/// Option bits that announce optional fields (route request 0x20, route reply 0x10/0x20) and
/// list counts are derived from the fields on emit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NwkCommand {
    /// Route Request (0x01).
    RouteRequest {
        /// Command options.
        options: RouteRequestOptions,
        /// Route request identifier.
        id: u8,
        /// Short address of the destination sought (0xfffc for many-to-one).
        dst: ShortAddr,
        /// Path cost accumulated so far.
        path_cost: u8,
        /// Destination IEEE Address (options bit 5).
        dst_ieee: Option<ExtAddr>,
    },
    /// Route Reply (0x02).
    RouteReply {
        /// Command options.
        options: RouteReplyOptions,
        /// Identifier of the route request this answers.
        id: u8,
        /// Short address of the route request's originator.
        originator: ShortAddr,
        /// Short address of the responder (the destination sought).
        responder: ShortAddr,
        /// Path cost accumulated so far.
        path_cost: u8,
        /// Originator IEEE Address (options bit 4).
        originator_ieee: Option<ExtAddr>,
        /// Responder IEEE Address (options bit 5).
        responder_ieee: Option<ExtAddr>,
    },
    /// Network Status (0x03): a routing failure or address event report.
    NetworkStatus {
        /// Status code (see [`network_status_name`]).
        status: u8,
        /// Destination address the status concerns.
        dst: ShortAddr,
    },
    /// Leave (0x04): a device announces it left, or is asked to leave.
    Leave {
        /// Leave options.
        options: LeaveOptions,
    },
    /// At most 255 relays emitted.
    RouteRecord {
        /// Relays the frame passed through, in the order traversed.
        relays: Vec<ShortAddr>,
    },
    /// Rejoin Request (0x06); unsecured for a Trust Center rejoin.
    RejoinRequest {
        /// Capability information of the rejoining device.
        capability: CapabilityInfo,
    },
    /// `status` uses the MAC association status values (see `mac::AssociationStatus`).
    RejoinResponse {
        /// Short address the device is to use.
        short_addr: ShortAddr,
        /// Rejoin status (0 success).
        status: u8,
    },
    /// At most 31 entries emitted.
    LinkStatus {
        /// First Frame flag (options bit 5): first of a multi-frame link status.
        first_frame: bool,
        /// Last Frame flag (options bit 6): last of a multi-frame link status.
        last_frame: bool,
        /// Options bit 7 (reserved).
        reserved: bool,
        /// Link status list, one entry per neighbour router.
        entries: Vec<LinkStatusEntry>,
    },
    /// Network Report (0x09), e.g. a PAN ID conflict report to the network manager.
    NetworkReport {
        /// Extended PAN ID of the reporting network.
        epid: u64,
        /// Report type and information.
        report: NetworkReportInfo,
    },
    /// `options`: bits 0–4 count (1), bits 5–7 update type (0 = PAN id update).
    NetworkUpdate {
        /// Command options (count and update type).
        options: u8,
        /// Extended PAN ID of the network.
        epid: u64,
        /// New nwkUpdateId.
        update_id: u8,
        /// PAN ID the network moves to.
        new_pan_id: PanId,
    },
    /// `timeout` is an enum: see [`end_device_timeout_secs`].
    EndDeviceTimeoutRequest {
        /// Requested timeout enum value.
        timeout: u8,
        /// End device configuration byte (reserved, 0).
        configuration: u8,
    },
    /// `parent_info`: bit 0 MAC data-poll keepalive, bit 1 timeout-request keepalive, bit 2
    /// power negotiation.
    EndDeviceTimeoutResponse {
        /// Status (0 success, 1 incorrect value).
        status: u8,
        /// Parent information bits.
        parent_info: u8,
    },
    /// `options` bits 0–1: 0 notification, 1 request, 2 response. At most 255 entries emitted.
    LinkPowerDelta {
        /// Command options (bits 0–1: type).
        options: u8,
        /// Power delta list.
        entries: Vec<PowerDeltaEntry>,
    },
    /// R23. `association_type`: 0 initial join, 1 rejoin. TLVs are kept raw.
    CommissioningRequest {
        /// Association type (0 initial join, 1 rejoin).
        association_type: u8,
        /// Capability information of the joining device.
        capability: CapabilityInfo,
        /// TLVs after the fixed fields, undecoded.
        tlvs: Vec<u8>,
    },
    /// R23.
    CommissioningResponse {
        /// Short address the device is to use.
        short_addr: ShortAddr,
        /// Status (MAC association status values).
        status: u8,
    },
    /// Any other command id, or a known one whose payload does not fit its layout; kept raw.
    Other {
        /// Command identifier.
        id: u8,
        /// Command payload after the id.
        payload: Vec<u8>,
    },
}

impl NwkCommand {
    /// Command id of Route Request.
    pub const ROUTE_REQUEST: u8 = 0x01;
    /// Command id of Route Reply.
    pub const ROUTE_REPLY: u8 = 0x02;
    /// Command id of Network Status.
    pub const NETWORK_STATUS: u8 = 0x03;
    /// Command id of Leave.
    pub const LEAVE: u8 = 0x04;
    /// Command id of Route Record.
    pub const ROUTE_RECORD: u8 = 0x05;
    /// Command id of Rejoin Request.
    pub const REJOIN_REQUEST: u8 = 0x06;
    /// Command id of Rejoin Response.
    pub const REJOIN_RESPONSE: u8 = 0x07;
    /// Command id of Link Status.
    pub const LINK_STATUS: u8 = 0x08;
    /// Command id of Network Report.
    pub const NETWORK_REPORT: u8 = 0x09;
    /// Command id of Network Update.
    pub const NETWORK_UPDATE: u8 = 0x0a;
    /// Command id of End Device Timeout Request.
    pub const END_DEVICE_TIMEOUT_REQUEST: u8 = 0x0b;
    /// Command id of End Device Timeout Response.
    pub const END_DEVICE_TIMEOUT_RESPONSE: u8 = 0x0c;
    /// Command id of Link Power Delta.
    pub const LINK_POWER_DELTA: u8 = 0x0d;
    /// Command id of Network Commissioning Request (R23).
    pub const COMMISSIONING_REQUEST: u8 = 0x0e;
    /// Command id of Network Commissioning Response (R23).
    pub const COMMISSIONING_RESPONSE: u8 = 0x0f;

    /// The command identifier (first byte of the NWK payload).
    pub fn id(&self) -> u8 {
        match self {
            NwkCommand::RouteRequest { .. } => Self::ROUTE_REQUEST,
            NwkCommand::RouteReply { .. } => Self::ROUTE_REPLY,
            NwkCommand::NetworkStatus { .. } => Self::NETWORK_STATUS,
            NwkCommand::Leave { .. } => Self::LEAVE,
            NwkCommand::RouteRecord { .. } => Self::ROUTE_RECORD,
            NwkCommand::RejoinRequest { .. } => Self::REJOIN_REQUEST,
            NwkCommand::RejoinResponse { .. } => Self::REJOIN_RESPONSE,
            NwkCommand::LinkStatus { .. } => Self::LINK_STATUS,
            NwkCommand::NetworkReport { .. } => Self::NETWORK_REPORT,
            NwkCommand::NetworkUpdate { .. } => Self::NETWORK_UPDATE,
            NwkCommand::EndDeviceTimeoutRequest { .. } => Self::END_DEVICE_TIMEOUT_REQUEST,
            NwkCommand::EndDeviceTimeoutResponse { .. } => Self::END_DEVICE_TIMEOUT_RESPONSE,
            NwkCommand::LinkPowerDelta { .. } => Self::LINK_POWER_DELTA,
            NwkCommand::CommissioningRequest { .. } => Self::COMMISSIONING_REQUEST,
            NwkCommand::CommissioningResponse { .. } => Self::COMMISSIONING_RESPONSE,
            NwkCommand::Other { id, .. } => *id,
        }
    }

    /// Wireshark-style name (by id, so an `Other` with a known id keeps its name).
    pub fn name(&self) -> &'static str {
        nwk_command_name(self.id())
    }

    /// For Network Status: the status code's name.
    pub fn status_name(&self) -> Option<&'static str> {
        match self {
            NwkCommand::NetworkStatus { status, .. } => Some(network_status_name(*status)),
            _ => None,
        }
    }

    /// Parses a (decrypted) NWK command payload starting at the command id; see the length
    /// policy above.
    pub fn parse(buf: &[u8]) -> Result<NwkCommand> {
        let mut r = Reader::new(buf);
        let id = r.u8("NWK command id")?;
        let body = r.rest();
        let cmd = match id {
            Self::ROUTE_REQUEST => {
                let what = "Route Request";
                let options = RouteRequestOptions(r.u8(what)?);
                let id = r.u8(what)?;
                let dst = ShortAddr(r.u16(what)?);
                let path_cost = r.u8(what)?;
                let dst_ieee = if options.dst_ieee() { Some(r.ext_addr(what)?) } else { None };
                NwkCommand::RouteRequest { options, id, dst, path_cost, dst_ieee }
            }
            Self::ROUTE_REPLY => {
                let what = "Route Reply";
                let options = RouteReplyOptions(r.u8(what)?);
                let id = r.u8(what)?;
                let originator = ShortAddr(r.u16(what)?);
                let responder = ShortAddr(r.u16(what)?);
                let path_cost = r.u8(what)?;
                let originator_ieee =
                    if options.originator_ieee() { Some(r.ext_addr(what)?) } else { None };
                let responder_ieee =
                    if options.responder_ieee() { Some(r.ext_addr(what)?) } else { None };
                NwkCommand::RouteReply {
                    options,
                    id,
                    originator,
                    responder,
                    path_cost,
                    originator_ieee,
                    responder_ieee,
                }
            }
            Self::NETWORK_STATUS => NwkCommand::NetworkStatus {
                status: r.u8("Network Status")?,
                dst: ShortAddr(r.u16("Network Status")?),
            },
            Self::LEAVE => NwkCommand::Leave { options: LeaveOptions(r.u8("Leave options")?) },
            Self::ROUTE_RECORD => {
                let count = r.u8("Route Record relay count")?;
                let mut relays = Vec::with_capacity(usize::from(count));
                for _ in 0..count {
                    relays.push(ShortAddr(r.u16("Route Record relay list")?));
                }
                NwkCommand::RouteRecord { relays }
            }
            Self::REJOIN_REQUEST => NwkCommand::RejoinRequest {
                capability: CapabilityInfo(r.u8("Rejoin Request capability")?),
            },
            Self::REJOIN_RESPONSE => NwkCommand::RejoinResponse {
                short_addr: ShortAddr(r.u16("Rejoin Response")?),
                status: r.u8("Rejoin Response")?,
            },
            Self::LINK_STATUS => {
                let options = r.u8("Link Status options")?;
                let mut entries = Vec::with_capacity(usize::from(options & 0x1f));
                for _ in 0..(options & 0x1f) {
                    let addr = ShortAddr(r.u16("Link Status entry")?);
                    let cost = r.u8("Link Status entry")?;
                    entries.push(LinkStatusEntry {
                        addr,
                        incoming_cost: cost & 0x07,
                        outgoing_cost: (cost >> 4) & 0x07,
                        reserved: cost & 0x88,
                    });
                }
                NwkCommand::LinkStatus {
                    first_frame: options & 0x20 != 0,
                    last_frame: options & 0x40 != 0,
                    reserved: options & 0x80 != 0,
                    entries,
                }
            }
            Self::NETWORK_REPORT => {
                let options = r.u8("Network Report options")?;
                let epid = r.u64("Network Report extended PAN id")?;
                let (report_type, count) = (options >> 5, options & 0x1f);
                let report = if report_type == 0 {
                    let mut pans = Vec::with_capacity(usize::from(count));
                    for _ in 0..count {
                        pans.push(PanId(r.u16("Network Report PAN id list")?));
                    }
                    NetworkReportInfo::PanIdConflict(pans)
                } else {
                    let data = r.rest().to_vec();
                    r.bytes(data.len(), "Network Report")?;
                    NetworkReportInfo::Other { report_type, count, data }
                };
                NwkCommand::NetworkReport { epid, report }
            }
            Self::NETWORK_UPDATE => {
                let what = "Network Update";
                NwkCommand::NetworkUpdate {
                    options: r.u8(what)?,
                    epid: r.u64(what)?,
                    update_id: r.u8(what)?,
                    new_pan_id: PanId(r.u16(what)?),
                }
            }
            Self::END_DEVICE_TIMEOUT_REQUEST => NwkCommand::EndDeviceTimeoutRequest {
                timeout: r.u8("End Device Timeout Request")?,
                configuration: r.u8("End Device Timeout Request")?,
            },
            Self::END_DEVICE_TIMEOUT_RESPONSE => NwkCommand::EndDeviceTimeoutResponse {
                status: r.u8("End Device Timeout Response")?,
                parent_info: r.u8("End Device Timeout Response")?,
            },
            Self::LINK_POWER_DELTA => {
                let options = r.u8("Link Power Delta")?;
                let count = r.u8("Link Power Delta")?;
                let mut entries = Vec::with_capacity(usize::from(count));
                for _ in 0..count {
                    let addr = ShortAddr(r.u16("Link Power Delta entry")?);
                    let delta = r.u8("Link Power Delta entry")? as i8;
                    entries.push(PowerDeltaEntry { addr, delta });
                }
                NwkCommand::LinkPowerDelta { options, entries }
            }
            Self::COMMISSIONING_REQUEST => {
                let association_type = r.u8("Network Commissioning Request")?;
                let capability = CapabilityInfo(r.u8("Network Commissioning Request")?);
                let tlvs = r.rest().to_vec();
                r.bytes(tlvs.len(), "Network Commissioning Request")?;
                NwkCommand::CommissioningRequest { association_type, capability, tlvs }
            }
            Self::COMMISSIONING_RESPONSE => NwkCommand::CommissioningResponse {
                short_addr: ShortAddr(r.u16("Network Commissioning Response")?),
                status: r.u8("Network Commissioning Response")?,
            },
            _ => return Ok(NwkCommand::Other { id, payload: body.to_vec() }),
        };
        if !r.is_empty() {
            return Ok(NwkCommand::Other { id, payload: body.to_vec() });
        }
        Ok(cmd)
    }

    /// Length of the command (id included) [`NwkCommand::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let body = match self {
            NwkCommand::RouteRequest { dst_ieee, .. } => 5 + if dst_ieee.is_some() { 8 } else { 0 },
            NwkCommand::RouteReply { originator_ieee, responder_ieee, .. } => {
                7 + if originator_ieee.is_some() { 8 } else { 0 }
                    + if responder_ieee.is_some() { 8 } else { 0 }
            }
            NwkCommand::NetworkStatus { .. } => 3,
            NwkCommand::Leave { .. } => 1,
            NwkCommand::RouteRecord { relays } => 1 + 2 * relays.len().min(255),
            NwkCommand::RejoinRequest { .. } => 1,
            NwkCommand::RejoinResponse { .. } => 3,
            NwkCommand::LinkStatus { entries, .. } => 1 + 3 * entries.len().min(31),
            NwkCommand::NetworkReport { report, .. } => {
                9 + match report {
                    NetworkReportInfo::PanIdConflict(p) => 2 * p.len().min(31),
                    NetworkReportInfo::Other { data, .. } => data.len(),
                }
            }
            NwkCommand::NetworkUpdate { .. } => 12,
            NwkCommand::EndDeviceTimeoutRequest { .. }
            | NwkCommand::EndDeviceTimeoutResponse { .. } => 2,
            NwkCommand::LinkPowerDelta { entries, .. } => 2 + 3 * entries.len().min(255),
            NwkCommand::CommissioningRequest { tlvs, .. } => 2usize.saturating_add(tlvs.len()),
            NwkCommand::CommissioningResponse { .. } => 3,
            NwkCommand::Other { payload, .. } => payload.len(),
        };
        body.saturating_add(1)
    }

    /// Appends the command id and fields, deriving option bits and counts from the fields.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.id());
        match self {
            NwkCommand::RouteRequest { options, id, dst, path_cost, dst_ieee } => {
                let mut o = options.0 & !RouteRequestOptions::DST_IEEE;
                if dst_ieee.is_some() {
                    o |= RouteRequestOptions::DST_IEEE;
                }
                out.extend_from_slice(&[o, *id]);
                out.extend_from_slice(&dst.0.to_le_bytes());
                out.push(*path_cost);
                if let Some(a) = dst_ieee {
                    out.extend_from_slice(&a.to_le_bytes());
                }
            }
            NwkCommand::RouteReply {
                options,
                id,
                originator,
                responder,
                path_cost,
                originator_ieee,
                responder_ieee,
            } => {
                let mut o = options.0
                    & !(RouteReplyOptions::ORIGINATOR_IEEE | RouteReplyOptions::RESPONDER_IEEE);
                if originator_ieee.is_some() {
                    o |= RouteReplyOptions::ORIGINATOR_IEEE;
                }
                if responder_ieee.is_some() {
                    o |= RouteReplyOptions::RESPONDER_IEEE;
                }
                out.extend_from_slice(&[o, *id]);
                out.extend_from_slice(&originator.0.to_le_bytes());
                out.extend_from_slice(&responder.0.to_le_bytes());
                out.push(*path_cost);
                for a in [originator_ieee, responder_ieee].into_iter().flatten() {
                    out.extend_from_slice(&a.to_le_bytes());
                }
            }
            NwkCommand::NetworkStatus { status, dst } => {
                out.push(*status);
                out.extend_from_slice(&dst.0.to_le_bytes());
            }
            NwkCommand::Leave { options } => out.push(options.0),
            NwkCommand::RouteRecord { relays } => {
                let n = relays.len().min(255);
                out.push(n as u8);
                for a in relays.iter().take(n) {
                    out.extend_from_slice(&a.0.to_le_bytes());
                }
            }
            NwkCommand::RejoinRequest { capability } => out.push(capability.0),
            NwkCommand::RejoinResponse { short_addr, status }
            | NwkCommand::CommissioningResponse { short_addr, status } => {
                out.extend_from_slice(&short_addr.0.to_le_bytes());
                out.push(*status);
            }
            NwkCommand::LinkStatus { first_frame, last_frame, reserved, entries } => {
                let n = entries.len().min(31);
                let mut o = n as u8;
                for (set, bit) in [(*first_frame, 0x20), (*last_frame, 0x40), (*reserved, 0x80)] {
                    if set {
                        o |= bit;
                    }
                }
                out.push(o);
                for e in entries.iter().take(n) {
                    out.extend_from_slice(&e.addr.0.to_le_bytes());
                    out.push(e.cost_byte());
                }
            }
            NwkCommand::NetworkReport { epid, report } => match report {
                NetworkReportInfo::PanIdConflict(pans) => {
                    let n = pans.len().min(31);
                    out.push(n as u8);
                    out.extend_from_slice(&epid.to_le_bytes());
                    for p in pans.iter().take(n) {
                        out.extend_from_slice(&p.0.to_le_bytes());
                    }
                }
                NetworkReportInfo::Other { report_type, count, data } => {
                    out.push((report_type << 5) | (count & 0x1f));
                    out.extend_from_slice(&epid.to_le_bytes());
                    out.extend_from_slice(data);
                }
            },
            NwkCommand::NetworkUpdate { options, epid, update_id, new_pan_id } => {
                out.push(*options);
                out.extend_from_slice(&epid.to_le_bytes());
                out.push(*update_id);
                out.extend_from_slice(&new_pan_id.0.to_le_bytes());
            }
            NwkCommand::EndDeviceTimeoutRequest { timeout: a, configuration: b }
            | NwkCommand::EndDeviceTimeoutResponse { status: a, parent_info: b } => {
                out.extend_from_slice(&[*a, *b]);
            }
            NwkCommand::LinkPowerDelta { options, entries } => {
                let n = entries.len().min(255);
                out.extend_from_slice(&[*options, n as u8]);
                for e in entries.iter().take(n) {
                    out.extend_from_slice(&e.addr.0.to_le_bytes());
                    out.push(e.delta as u8);
                }
            }
            NwkCommand::CommissioningRequest { association_type, capability, tlvs } => {
                out.extend_from_slice(&[*association_type, capability.0]);
                out.extend_from_slice(tlvs);
            }
            NwkCommand::Other { payload, .. } => out.extend_from_slice(payload),
        }
    }
}

/// Wireshark-style name of a NWK command id.
pub fn nwk_command_name(id: u8) -> &'static str {
    match id {
        0x01 => "Route Request",
        0x02 => "Route Reply",
        0x03 => "Network Status",
        0x04 => "Leave",
        0x05 => "Route Record",
        0x06 => "Rejoin Request",
        0x07 => "Rejoin Response",
        0x08 => "Link Status",
        0x09 => "Network Report",
        0x0a => "Network Update",
        0x0b => "End Device Timeout Request",
        0x0c => "End Device Timeout Response",
        0x0d => "Link Power Delta",
        0x0e => "Network Commissioning Request",
        0x0f => "Network Commissioning Response",
        _ => "Unknown Command",
    }
}

/// Name of a Network Status code (Wireshark's wording).
pub fn network_status_name(status: u8) -> &'static str {
    match status {
        0x00 => "No Route Available",
        0x01 => "Tree Link Failure",
        0x02 => "Non-Tree Link Failure",
        0x03 => "Low Battery",
        0x04 => "No Routing Capacity",
        0x05 => "No Indirect Capacity",
        0x06 => "Indirect Transaction Expiry",
        0x07 => "Target Device Unavailable",
        0x08 => "Target Address Unallocated",
        0x09 => "Parent Link Failure",
        0x0a => "Validate Route",
        0x0b => "Source Route Failure",
        0x0c => "Many-To-One Route Failure",
        0x0d => "Address Conflict",
        0x0e => "Verify Addresses",
        0x0f => "PAN ID Update",
        0x10 => "Network Address Update",
        0x11 => "Bad Frame Counter",
        0x12 => "Bad Key Sequence Number",
        0x13 => "Unknown Command",
        _ => "Reserved",
    }
}

/// Seconds for an End Device Timeout Request timeout enum: 0 → 10 s, n in 1..=14 → 2^n
/// minutes; `None` for reserved values.
pub fn end_device_timeout_secs(timeout: u8) -> Option<u32> {
    match timeout {
        0 => Some(10),
        1..=14 => Some(60u32 << timeout),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        zigtrust_crypto::decode_hex_loose(s).unwrap()
    }

    fn header_roundtrip(bytes: &[u8]) -> NwkHeader {
        let (h, len) = NwkHeader::parse(bytes).unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(h.buffer_len(), len);
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(out, bytes);
        for n in 0..bytes.len() {
            assert!(NwkHeader::parse(&bytes[..n]).is_err(), "header prefix {n} parsed");
            assert!(NwkPacket::new_checked(&bytes[..n]).is_err());
        }
        h
    }

    fn command_roundtrip(bytes: &[u8]) -> NwkCommand {
        let c = NwkCommand::parse(bytes).unwrap();
        let mut out = Vec::new();
        c.emit(&mut out);
        assert_eq!(out, bytes, "{c:?}");
        assert_eq!(c.buffer_len(), bytes.len());
        assert_eq!(c.id(), bytes[0]);
        c
    }

    const JOINER: ExtAddr = ExtAddr(0xa4c1_386d_9b28_0fdf);

    #[test]
    fn data_header_from_capture() {
        let h = header_roundtrip(&hex("4802 0000 ba96 1e 97"));
        assert_eq!(h.frame_control(), 0x0248);
        assert_eq!(h.frame_type, NwkFrameType::Data);
        assert_eq!(h.protocol_version, 2);
        assert_eq!(h.discover_route, DiscoverRoute::Enable);
        assert!(h.security && !h.multicast() && !h.has_source_route());
        assert_eq!((h.dst, h.src, h.radius, h.seq), (ShortAddr(0), ShortAddr(0x96ba), 0x1e, 0x97));
        assert_eq!((h.dst_ieee, h.src_ieee), (None, None));
        let mut built = NwkHeader::data(ShortAddr(0), ShortAddr(0x96ba), 0x1e, 0x97);
        built.discover_route = DiscoverRoute::Enable;
        built.security = true;
        assert_eq!(built, h);
        // The unsecured Transport-Key header (FCF 0x0008).
        let h = header_roundtrip(&hex("0800 8fa1 0000 1e a1"));
        assert_eq!(h, NwkHeader::data(ShortAddr(0xa18f), ShortAddr(0), 30, 0xa1));
    }

    #[test]
    fn whole_frame_from_capture() {
        let mac = hex(
            "6188bf621a0000ba96 48020000ba961e97 28ed82b302 73b9a4feff504b80 00 249091d59cff06da 74295ed5",
        );
        let f = crate::mac::MacFrame::parse(&mac).unwrap();
        let crate::mac::MacBody::Data(nwk) = f.body else { panic!("not data") };
        let n = NwkFrame::parse(nwk).unwrap();
        assert_eq!(n.header.src, ShortAddr(0x96ba));
        assert_eq!(n.payload[0], 0x28); // aux security header
        assert_eq!(n.payload.len(), nwk.len() - 8);
        let mut out = Vec::new();
        n.emit(&mut out);
        assert_eq!(out, nwk);
        assert_eq!(n.buffer_len(), nwk.len());
        assert!(matches!(n.command(), Err(Error::Malformed { .. })));

        let p = NwkPacket::new_checked(nwk).unwrap();
        assert_eq!(p.frame_control(), 0x0248);
        assert_eq!(p.frame_type(), NwkFrameType::Data);
        assert_eq!(p.protocol_version(), 2);
        assert_eq!(p.discover_route(), DiscoverRoute::Enable);
        assert!(p.security());
        assert_eq!(p.dst_addr(), ShortAddr(0));
        assert_eq!(p.src_addr(), ShortAddr(0x96ba));
        assert_eq!((p.radius(), p.seq()), (0x1e, 0x97));
        assert_eq!(p.header_len(), Ok(8));
        assert_eq!(p.header_bytes(), &nwk[..8]);
        assert_eq!(p.payload(), n.payload);
    }

    #[test]
    fn leave_from_capture() {
        let hb = hex("0912 fdff 8fa1 01 c3 df0f289b6d38c1a4");
        let h = header_roundtrip(&hb);
        assert_eq!(h.frame_control(), 0x1209);
        assert_eq!(h.frame_type, NwkFrameType::Command);
        assert!(h.security);
        assert_eq!(h.dst, ShortAddr::RX_ON_WHEN_IDLE);
        assert_eq!(h.src, ShortAddr(0xa18f));
        assert_eq!((h.radius, h.seq), (1, 0xc3));
        assert_eq!(h.src_ieee, Some(JOINER));
        assert_eq!(h.dst_ieee, None);
        let p = NwkPacket::new_checked(&hb[..]).unwrap();
        assert_eq!(p.src_ieee(), Some(JOINER));
        assert_eq!(p.dst_ieee(), None);
        assert!(p.src_ieee_present() && !p.dst_ieee_present());

        let c = command_roundtrip(&hex("04 00"));
        assert_eq!(c, NwkCommand::Leave { options: LeaveOptions(0) });
        assert_eq!(c.name(), "Leave");
        let NwkCommand::Leave { options } = command_roundtrip(&hex("04 60")) else {
            panic!("not leave")
        };
        assert!(options.request() && options.rejoin() && !options.remove_children());

        // An unsecured command frame hands out its command.
        let mut frame = NwkHeader::command(ShortAddr(0x1234), ShortAddr(0), 1, 9);
        frame.dst_ieee = Some(JOINER);
        let mut bytes = Vec::new();
        frame.emit(&mut bytes);
        bytes.extend_from_slice(&[0x04, 0x40]);
        let n = NwkFrame::parse(&bytes).unwrap();
        assert_eq!(n.command(), Ok(NwkCommand::Leave { options: LeaveOptions(0x40) }));
    }

    #[test]
    fn link_status_from_capture() {
        let h = header_roundtrip(&hex("0912 fcff a2f0 01 df a04dc324004b1200"));
        assert_eq!(h.dst, ShortAddr::ROUTERS);
        assert_eq!(h.src, ShortAddr(0xf0a2));
        assert_eq!(h.src_ieee, Some("00:12:4b:00:24:c3:4d:a0".parse().unwrap()));

        // The capture's first two entries; its options byte announces 17.
        assert_eq!(
            NwkCommand::parse(&hex("08 71 0000 11 7c0b 77")),
            Err(Error::Truncated { what: "Link Status entry" })
        );
        let c = command_roundtrip(&hex("08 62 0000 11 7c0b 77"));
        assert_eq!(
            c,
            NwkCommand::LinkStatus {
                first_frame: true,
                last_frame: true,
                reserved: false,
                entries: vec![
                    LinkStatusEntry::new(ShortAddr(0), 1, 1),
                    LinkStatusEntry::new(ShortAddr(0x0b7c), 7, 7),
                ],
            }
        );
        assert_eq!(c.name(), "Link Status");
        // Reserved bits survive.
        command_roundtrip(&hex("08 a1 0000 99"));
    }

    #[test]
    fn header_with_every_optional_field() {
        let b = hex("48ff 3412 7856 05 06 0807060504030201 1122334455667788 12 02 01 aaaa bbbb");
        let h = header_roundtrip(&b);
        assert_eq!(h.reserved, 3);
        assert!(h.end_device_initiator && h.security && h.multicast());
        assert_eq!(h.dst_ieee, Some(ExtAddr(0x0102_0304_0506_0708)));
        assert_eq!(h.src_ieee, Some(ExtAddr(0x8877_6655_4433_2211)));
        assert_eq!(h.multicast_control, Some(0x12));
        assert_eq!(
            h.source_route,
            Some(SourceRoute {
                relay_index: 1,
                relays: vec![ShortAddr(0xaaaa), ShortAddr(0xbbbb)]
            })
        );
        let p = NwkPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.multicast_control(), Some(0x12));
        assert!(p.source_route() && p.end_device_initiator() && p.multicast());
        assert_eq!(p.payload(), &[] as &[u8]);
        // Force / reserved discover-route values round-trip too.
        assert_eq!(
            header_roundtrip(&hex("c800 0000 0000 01 01")).discover_route,
            DiscoverRoute::Force
        );
        assert_eq!(
            header_roundtrip(&hex("8800 0000 0000 01 01")).discover_route,
            DiscoverRoute::Other(2)
        );
        assert_eq!(
            header_roundtrip(&hex("0a00 0000 0000 01 01")).frame_type,
            NwkFrameType::Other(2)
        );
    }

    #[test]
    fn inter_pan_stub_header() {
        let h = header_roundtrip(&hex("0b00"));
        assert_eq!(h.frame_type, NwkFrameType::InterPan);
        assert_eq!(h.buffer_len(), 2);
        let b = hex("0b00 0102");
        let n = NwkFrame::parse(&b).unwrap();
        assert_eq!(n.payload, &[1, 2]);
        let p = NwkPacket::new_checked(&[0x0b, 0x00, 0x55][..]).unwrap();
        assert_eq!((p.dst_addr(), p.radius()), (ShortAddr(0), 0));
        assert!(matches!(NwkHeader::parse(&hex("0b01")), Err(Error::Malformed { .. })));
    }

    /// Every command, with exact layouts: round-trip, and every strict prefix fails.
    #[test]
    fn every_command_round_trips_and_truncates() {
        let fixed = [
            "01 08 2a fcff 00",
            "01 28 05 3412 03 0403020100 4b1200",
            "02 00 05 0000 3412 03",
            "02 30 05 0000 3412 03 0403020100 4b1200 1122334455667788",
            "02 10 05 0000 3412 03 0403020100 4b1200",
            "03 0d 3412",
            "04 00",
            "04 c0",
            "05 00",
            "05 02 3412 7856",
            "06 8e",
            "07 3412 00",
            "08 62 0000 11 7c0b 77",
            "08 20",
            "09 02 0807060504030201 621a 631a",
            "0a 01 0807060504030201 05 631a",
            "0b 03 00",
            "0c 00 03",
            "0d 01 02 3412 fd 7856 03",
            "0e 00 8e",
            "0f 3412 00",
        ];
        let mut names = Vec::new();
        for s in fixed {
            let b = hex(s);
            let c = command_roundtrip(&b);
            assert!(!matches!(c, NwkCommand::Other { .. }), "{s} parsed as {c:?}");
            names.push(c.name());
            for n in 0..b.len() {
                assert!(NwkCommand::parse(&b[..n]).is_err(), "{s}: prefix {n} parsed");
            }
        }
        for n in [
            "Route Request",
            "Route Reply",
            "Network Status",
            "Leave",
            "Route Record",
            "Rejoin Request",
            "Rejoin Response",
            "Link Status",
            "Network Report",
            "Network Update",
            "End Device Timeout Request",
            "End Device Timeout Response",
            "Link Power Delta",
            "Network Commissioning Request",
            "Network Commissioning Response",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        // Variable tails kept raw.
        let c = command_roundtrip(&hex("09 21 0807060504030201 aabb"));
        assert_eq!(
            c,
            NwkCommand::NetworkReport {
                epid: 0x0102_0304_0506_0708,
                report: NetworkReportInfo::Other {
                    report_type: 1,
                    count: 1,
                    data: vec![0xaa, 0xbb]
                }
            }
        );
        let c = command_roundtrip(&hex("0e 01 8e 000100"));
        assert_eq!(
            c,
            NwkCommand::CommissioningRequest {
                association_type: 1,
                capability: CapabilityInfo(0x8e),
                tlvs: vec![0, 1, 0]
            }
        );
        let c = command_roundtrip(&hex("20 0102"));
        assert_eq!(c, NwkCommand::Other { id: 0x20, payload: vec![1, 2] });
        assert_eq!(c.name(), "Unknown Command");
        assert_eq!(NwkCommand::parse(&[]), Err(Error::Truncated { what: "NWK command id" }));
    }

    #[test]
    fn command_fields() {
        let c = command_roundtrip(&hex("01 28 05 3412 03 0403020100 4b1200"));
        let NwkCommand::RouteRequest { options, id, dst, path_cost, dst_ieee } = c else {
            panic!()
        };
        assert_eq!((options.many_to_one(), options.dst_ieee(), id), (1, true, 5));
        assert_eq!((dst, path_cost), (ShortAddr(0x1234), 3));
        assert_eq!(dst_ieee, Some(ExtAddr(0x0012_4b00_0102_0304)));

        let c = command_roundtrip(&hex("03 11 3412"));
        assert_eq!(c.status_name(), Some("Bad Frame Counter"));
        assert_eq!(network_status_name(0x0d), "Address Conflict");
        assert_eq!(network_status_name(0x12), "Bad Key Sequence Number");
        assert_eq!(network_status_name(0x00), "No Route Available");

        let c = command_roundtrip(&hex("07 8fa1 00"));
        assert_eq!(c, NwkCommand::RejoinResponse { short_addr: ShortAddr(0xa18f), status: 0 });
        let c = command_roundtrip(&hex("06 80"));
        assert_eq!(c, NwkCommand::RejoinRequest { capability: CapabilityInfo::SLEEPY_END_DEVICE });
        assert_eq!(c.name(), "Rejoin Request");

        let c = command_roundtrip(&hex("0d 01 02 3412 fd 7856 03"));
        let NwkCommand::LinkPowerDelta { entries, .. } = c else { panic!() };
        assert_eq!(entries[0], PowerDeltaEntry { addr: ShortAddr(0x1234), delta: -3 });

        let c = command_roundtrip(&hex("09 02 0807060504030201 621a 631a"));
        assert_eq!(
            c,
            NwkCommand::NetworkReport {
                epid: 0x0102_0304_0506_0708,
                report: NetworkReportInfo::PanIdConflict(vec![PanId(0x1a62), PanId(0x1a63)])
            }
        );
        assert_eq!(end_device_timeout_secs(0), Some(10));
        assert_eq!(end_device_timeout_secs(8), Some(256 * 60));
        assert_eq!(end_device_timeout_secs(14), Some(16384 * 60));
        assert_eq!(end_device_timeout_secs(15), None);
    }

    #[test]
    fn extra_bytes_become_other() {
        let c = command_roundtrip(&hex("04 40 ff"));
        assert_eq!(c, NwkCommand::Other { id: 4, payload: vec![0x40, 0xff] });
        assert_eq!(c.name(), "Leave");
        let c = command_roundtrip(&hex("05 01 3412 00"));
        assert!(matches!(c, NwkCommand::Other { id: 5, .. }));
    }

    #[test]
    fn emit_derives_presence_bits() {
        // Option bit 0x20 set without an address: emit clears it.
        let c = NwkCommand::RouteRequest {
            options: RouteRequestOptions(0x28),
            id: 1,
            dst: ShortAddr(0xfffc),
            path_cost: 0,
            dst_ieee: None,
        };
        let mut out = Vec::new();
        c.emit(&mut out);
        assert_eq!(out, hex("01 08 01 fcff 00"));
        assert_eq!(out.len(), c.buffer_len());
    }
}
