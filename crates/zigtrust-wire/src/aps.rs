//! Zigbee APS (application support) frames: the header in front of every data, command and
//! ack frame, and the APS commands the Trust Center exchanges (Transport-Key, Update-Device,
//! Request-Key, Verify-Key, Confirm-Key, ...).
//!
//! APS security is not handled here: when [`ApsHeader::security`] is set, everything after the
//! header is the auxiliary security header, ciphertext and MIC, which `security.rs` unwraps
//! (it uses [`ApsHeader::parse`] / [`ApsHeader::emit`] to find and rebuild the header). Parse
//! [`ApsCommand`] from the *plaintext* that starts at the command id.
//!
//! Layouts follow the Zigbee PRO (2007+) format as Wireshark dissects it; all multi-byte fields
//! are little-endian.

use crate::{Error, ExtAddr, Reader, Result, ShortAddr};
use zigtrust_crypto::Key;

/// Two-bit APS frame type (frame control bits 0–1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApsFrameType {
    /// Data frame (0).
    Data,
    /// APS command frame (1).
    Command,
    /// Acknowledgement (2).
    Ack,
    /// Inter-PAN "stub APS" frame (ZLL/Smart Energy): no endpoints and no APS counter.
    InterPan,
}

impl ApsFrameType {
    /// The frame type from frame control bits 0–1 (higher bits are ignored).
    pub fn from_bits(bits: u8) -> ApsFrameType {
        match bits & 0x03 {
            0 => ApsFrameType::Data,
            1 => ApsFrameType::Command,
            2 => ApsFrameType::Ack,
            _ => ApsFrameType::InterPan,
        }
    }
    /// The 2-bit value for frame control bits 0–1.
    pub fn bits(self) -> u8 {
        match self {
            ApsFrameType::Data => 0,
            ApsFrameType::Command => 1,
            ApsFrameType::Ack => 2,
            ApsFrameType::InterPan => 3,
        }
    }
    /// Wireshark-style name.
    pub fn name(self) -> &'static str {
        match self {
            ApsFrameType::Data => "Data",
            ApsFrameType::Command => "Command",
            ApsFrameType::Ack => "Ack",
            ApsFrameType::InterPan => "Inter-PAN",
        }
    }
}

/// Two-bit APS delivery mode (frame control bits 2–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryMode {
    /// 0: unicast to a destination endpoint.
    Unicast,
    /// Legacy (ZigBee 2004) indirect addressing. Kept so every frame control byte round-trips;
    /// parsed as if only the source endpoint were present.
    Indirect,
    /// 2: broadcast (the NWK destination is a broadcast address; still has a destination endpoint).
    Broadcast,
    /// 3: group addressing (a group address instead of a destination endpoint).
    Group,
}

impl DeliveryMode {
    /// The delivery mode from its 2-bit value (higher bits are ignored).
    pub fn from_bits(bits: u8) -> DeliveryMode {
        match bits & 0x03 {
            0 => DeliveryMode::Unicast,
            1 => DeliveryMode::Indirect,
            2 => DeliveryMode::Broadcast,
            _ => DeliveryMode::Group,
        }
    }
    /// The 2-bit value for frame control bits 2–3.
    pub fn bits(self) -> u8 {
        match self {
            DeliveryMode::Unicast => 0,
            DeliveryMode::Indirect => 1,
            DeliveryMode::Broadcast => 2,
            DeliveryMode::Group => 3,
        }
    }
    /// Wireshark-style name.
    pub fn name(self) -> &'static str {
        match self {
            DeliveryMode::Unicast => "Unicast",
            DeliveryMode::Indirect => "Indirect",
            DeliveryMode::Broadcast => "Broadcast",
            DeliveryMode::Group => "Group",
        }
    }
}

const FC_ACK_FORMAT: u8 = 0x10;
const FC_SECURITY: u8 = 0x20;
const FC_ACK_REQUEST: u8 = 0x40;
const FC_EXTENDED: u8 = 0x80;

/// The APS extended header, present when frame control bit 7 is set (used for fragmentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ApsExtendedHeader {
    /// Extended frame control bits 0–1: 0 none, 1 first block, 2 middle/last block, 3 reserved.
    pub fragmentation: u8,
    /// Extended frame control bits 2–7 as found (reserved; kept so the byte round-trips).
    /// Only the bits in `0xfc` are emitted.
    pub reserved: u8,
    /// Block number; on air only when `fragmentation != 0`.
    pub block_number: Option<u8>,
    /// Ack bitfield; on air only in fragmented Ack frames.
    pub ack_bitfield: Option<u8>,
}

/// Which optional header fields a given frame control byte puts on air. Emit and parse both
/// use this, so a header round-trips whatever the Options say.
#[derive(Debug, Clone, Copy)]
struct Layout {
    dst_endpoint: bool,
    group: bool,
    cluster_profile: bool,
    src_endpoint: bool,
    counter: bool,
}

impl Layout {
    fn of(frame_type: ApsFrameType, delivery: DeliveryMode, ack_format: bool) -> Layout {
        let addressed = match frame_type {
            ApsFrameType::Data => true,
            // Ack format bit set = ack of a command frame: no endpoint addressing.
            ApsFrameType::Ack => !ack_format,
            ApsFrameType::Command | ApsFrameType::InterPan => false,
        };
        if frame_type == ApsFrameType::InterPan {
            // Stub APS header: FC | [group] | cluster | profile.
            return Layout {
                dst_endpoint: false,
                group: delivery == DeliveryMode::Group,
                cluster_profile: true,
                src_endpoint: false,
                counter: false,
            };
        }
        Layout {
            dst_endpoint: addressed
                && matches!(delivery, DeliveryMode::Unicast | DeliveryMode::Broadcast),
            group: addressed && delivery == DeliveryMode::Group,
            cluster_profile: addressed,
            src_endpoint: addressed,
            counter: true,
        }
    }
}

/// An APS header (everything before the auxiliary security header or the payload).
///
/// Which fields go on air is decided by `frame_type`, `delivery_mode` and `ack_format`; when
/// emitting, a field the layout needs but whose Option is `None` is written as zero, and Options
/// the layout does not use are ignored. [`ApsHeader::parse`] always fills exactly the fields the
/// layout has, so parsed headers round-trip byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApsHeader {
    /// Frame type (frame control bits 0–1).
    pub frame_type: ApsFrameType,
    /// Delivery mode (frame control bits 2–3).
    pub delivery_mode: DeliveryMode,
    /// Frame control bit 4. In Ack frames, set means "ack of a command" (no addressing fields).
    pub ack_format: bool,
    /// APS security: an auxiliary header and encrypted payload follow the header.
    pub security: bool,
    /// Acknowledgement Request (frame control bit 6): the receiver is to answer with an APS ack.
    pub ack_request: bool,
    /// Destination endpoint (unicast and broadcast data frames and their acks).
    pub dst_endpoint: Option<u8>,
    /// Group address (group-addressed data frames).
    pub group: Option<u16>,
    /// Cluster identifier (data frames, their acks, and inter-PAN frames).
    pub cluster: Option<u16>,
    /// Profile identifier (data frames, their acks, and inter-PAN frames).
    pub profile: Option<u16>,
    /// Source endpoint (data frames and their acks).
    pub src_endpoint: Option<u8>,
    /// APS counter (absent on air in Inter-PAN frames, where it parses as 0).
    pub counter: u8,
    /// Extended header; its presence is frame control bit 7.
    pub extended: Option<ApsExtendedHeader>,
}

/// An APS acknowledgement is a bare header with `frame_type == Ack`; see
/// [`ApsHeader::command_ack`], [`ApsHeader::data_ack`] and [`ApsHeader::ack_for`].
pub type ApsAck = ApsHeader;

impl ApsHeader {
    fn blank(frame_type: ApsFrameType, delivery_mode: DeliveryMode, counter: u8) -> ApsHeader {
        ApsHeader {
            frame_type,
            delivery_mode,
            ack_format: false,
            security: false,
            ack_request: false,
            dst_endpoint: None,
            group: None,
            cluster: None,
            profile: None,
            src_endpoint: None,
            counter,
            extended: None,
        }
    }

    /// A unicast command frame header (`FC | counter`), APS-secured or not.
    pub fn command(counter: u8, security: bool) -> ApsHeader {
        ApsHeader {
            security,
            ..ApsHeader::blank(ApsFrameType::Command, DeliveryMode::Unicast, counter)
        }
    }

    /// A unicast data frame header.
    pub fn data_unicast(
        dst_ep: u8,
        cluster: u16,
        profile: u16,
        src_ep: u8,
        counter: u8,
    ) -> ApsHeader {
        ApsHeader {
            dst_endpoint: Some(dst_ep),
            cluster: Some(cluster),
            profile: Some(profile),
            src_endpoint: Some(src_ep),
            ..ApsHeader::blank(ApsFrameType::Data, DeliveryMode::Unicast, counter)
        }
    }

    /// A broadcast data frame header (broadcasts still carry a destination endpoint, e.g. 0 for
    /// Device_annce or 0xff for all endpoints).
    pub fn data_broadcast(
        dst_ep: u8,
        cluster: u16,
        profile: u16,
        src_ep: u8,
        counter: u8,
    ) -> ApsHeader {
        ApsHeader {
            delivery_mode: DeliveryMode::Broadcast,
            ..ApsHeader::data_unicast(dst_ep, cluster, profile, src_ep, counter)
        }
    }

    /// A group-addressed data frame header (group address instead of a destination endpoint).
    pub fn data_group(
        group: u16,
        cluster: u16,
        profile: u16,
        src_ep: u8,
        counter: u8,
    ) -> ApsHeader {
        ApsHeader {
            group: Some(group),
            cluster: Some(cluster),
            profile: Some(profile),
            src_endpoint: Some(src_ep),
            ..ApsHeader::blank(ApsFrameType::Data, DeliveryMode::Group, counter)
        }
    }

    /// Ack of a command frame: `FC (ack, ack format set) | counter`.
    pub fn command_ack(counter: u8) -> ApsAck {
        ApsHeader {
            ack_format: true,
            ..ApsHeader::blank(ApsFrameType::Ack, DeliveryMode::Unicast, counter)
        }
    }

    /// Ack of a data frame with full endpoint addressing (`dst_ep` is the data frame's source).
    pub fn data_ack(dst_ep: u8, cluster: u16, profile: u16, src_ep: u8, counter: u8) -> ApsAck {
        ApsHeader {
            frame_type: ApsFrameType::Ack,
            ..ApsHeader::data_unicast(dst_ep, cluster, profile, src_ep, counter)
        }
    }

    /// The ack a receiver sends for `request`: same counter, endpoints swapped for data frames.
    pub fn ack_for(request: &ApsHeader) -> ApsAck {
        match request.frame_type {
            ApsFrameType::Data => ApsHeader::data_ack(
                request.src_endpoint.unwrap_or(0),
                request.cluster.unwrap_or(0),
                request.profile.unwrap_or(0),
                request.dst_endpoint.unwrap_or(0),
                request.counter,
            ),
            _ => ApsHeader::command_ack(request.counter),
        }
    }

    /// Whether frame control bit 7 is set (derived from [`ApsHeader::extended`]).
    pub fn extended_header(&self) -> bool {
        self.extended.is_some()
    }

    /// The frame control byte this header emits.
    pub fn frame_control(&self) -> u8 {
        let mut fc = self.frame_type.bits() | (self.delivery_mode.bits() << 2);
        if self.ack_format {
            fc |= FC_ACK_FORMAT;
        }
        if self.security {
            fc |= FC_SECURITY;
        }
        if self.ack_request {
            fc |= FC_ACK_REQUEST;
        }
        if self.extended.is_some() {
            fc |= FC_EXTENDED;
        }
        fc
    }

    fn layout(&self) -> Layout {
        Layout::of(self.frame_type, self.delivery_mode, self.ack_format)
    }

    /// Parses the header at the start of `buf`; returns it and its length in bytes.
    pub fn parse(buf: &[u8]) -> Result<(ApsHeader, usize)> {
        const WHAT: &str = "APS header";
        let mut r = Reader::new(buf);
        let fc = r.u8(WHAT)?;
        let frame_type = ApsFrameType::from_bits(fc);
        let delivery_mode = DeliveryMode::from_bits(fc >> 2);
        let ack_format = fc & FC_ACK_FORMAT != 0;
        let layout = Layout::of(frame_type, delivery_mode, ack_format);
        let mut h = ApsHeader {
            ack_format,
            security: fc & FC_SECURITY != 0,
            ack_request: fc & FC_ACK_REQUEST != 0,
            ..ApsHeader::blank(frame_type, delivery_mode, 0)
        };
        if layout.dst_endpoint {
            h.dst_endpoint = Some(r.u8(WHAT)?);
        }
        if layout.group {
            h.group = Some(r.u16(WHAT)?);
        }
        if layout.cluster_profile {
            h.cluster = Some(r.u16(WHAT)?);
            h.profile = Some(r.u16(WHAT)?);
        }
        if layout.src_endpoint {
            h.src_endpoint = Some(r.u8(WHAT)?);
        }
        if layout.counter {
            h.counter = r.u8(WHAT)?;
        }
        if fc & FC_EXTENDED != 0 {
            const EXT: &str = "APS extended header";
            let efc = r.u8(EXT)?;
            let fragmentation = efc & 0x03;
            let mut ext =
                ApsExtendedHeader { fragmentation, reserved: efc & 0xfc, ..Default::default() };
            if fragmentation != 0 {
                ext.block_number = Some(r.u8(EXT)?);
                if frame_type == ApsFrameType::Ack {
                    ext.ack_bitfield = Some(r.u8(EXT)?);
                }
            }
            h.extended = Some(ext);
        }
        Ok((h, r.position()))
    }

    /// Bytes [`ApsHeader::emit`] appends.
    pub fn buffer_len(&self) -> usize {
        let l = self.layout();
        let mut n = 1;
        n += usize::from(l.dst_endpoint);
        n += 2 * usize::from(l.group);
        n += 4 * usize::from(l.cluster_profile);
        n += usize::from(l.src_endpoint);
        n += usize::from(l.counter);
        if let Some(ext) = &self.extended {
            n += 1;
            if ext.fragmentation & 0x03 != 0 {
                n += 1 + usize::from(self.frame_type == ApsFrameType::Ack);
            }
        }
        n
    }

    /// Appends the header bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let l = self.layout();
        out.push(self.frame_control());
        if l.dst_endpoint {
            out.push(self.dst_endpoint.unwrap_or(0));
        }
        if l.group {
            out.extend_from_slice(&self.group.unwrap_or(0).to_le_bytes());
        }
        if l.cluster_profile {
            out.extend_from_slice(&self.cluster.unwrap_or(0).to_le_bytes());
            out.extend_from_slice(&self.profile.unwrap_or(0).to_le_bytes());
        }
        if l.src_endpoint {
            out.push(self.src_endpoint.unwrap_or(0));
        }
        if l.counter {
            out.push(self.counter);
        }
        if let Some(ext) = &self.extended {
            let fragmentation = ext.fragmentation & 0x03;
            out.push(fragmentation | (ext.reserved & 0xfc));
            if fragmentation != 0 {
                out.push(ext.block_number.unwrap_or(0));
                if self.frame_type == ApsFrameType::Ack {
                    out.push(ext.ack_bitfield.unwrap_or(0));
                }
            }
        }
    }
}

/// A whole APS frame as a value: header plus the bytes after it. For secured frames the payload
/// is aux header + ciphertext + MIC; for unsecured command frames it starts at the command id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApsFrame<'a> {
    /// The APS header.
    pub header: ApsHeader,
    /// Everything after the header.
    pub payload: &'a [u8],
}

impl<'a> ApsFrame<'a> {
    /// Parses the header and takes the rest of `buf` as the payload.
    pub fn parse(buf: &'a [u8]) -> Result<ApsFrame<'a>> {
        let (header, len) = ApsHeader::parse(buf)?;
        let payload = buf.get(len..).ok_or(Error::Truncated { what: "APS header" })?;
        Ok(ApsFrame { header, payload })
    }

    /// Bytes [`ApsFrame::emit`] appends.
    pub fn buffer_len(&self) -> usize {
        self.header.buffer_len() + self.payload.len()
    }

    /// Appends the header and the payload.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.header.emit(out);
        out.extend_from_slice(self.payload);
    }

    /// The command carried by an unsecured command frame. Secured frames must be unsecured
    /// first (their payload is ciphertext).
    pub fn command(&self) -> Result<ApsCommand> {
        if self.header.frame_type != ApsFrameType::Command {
            return Err(Error::Malformed { what: "APS frame type (not a command)" });
        }
        if self.header.security {
            return Err(Error::Unsupported { what: "APS-secured payload (unsecure it first)" });
        }
        ApsCommand::parse(self.payload)
    }
}

/// A read-only view over the bytes of an APS frame (smoltcp `Packet` style). Construction
/// validates the header, so the accessors never fail or panic.
#[derive(Debug, Clone)]
pub struct ApsPacket<T: AsRef<[u8]>> {
    buffer: T,
    header: ApsHeader,
    header_len: usize,
}

impl<T: AsRef<[u8]>> ApsPacket<T> {
    /// Wraps `buffer`, checking that the whole header is present.
    pub fn new_checked(buffer: T) -> Result<ApsPacket<T>> {
        let (header, header_len) = ApsHeader::parse(buffer.as_ref())?;
        Ok(ApsPacket { buffer, header, header_len })
    }
    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// The parsed header.
    pub fn header(&self) -> ApsHeader {
        self.header
    }
    /// Length of the header in bytes.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// The frame control byte as received.
    pub fn frame_control(&self) -> u8 {
        self.buffer.as_ref().first().copied().unwrap_or(0)
    }
    /// Frame type (frame control bits 0–1).
    pub fn frame_type(&self) -> ApsFrameType {
        self.header.frame_type
    }
    /// Delivery mode (frame control bits 2–3).
    pub fn delivery_mode(&self) -> DeliveryMode {
        self.header.delivery_mode
    }
    /// Ack format (frame control bit 4); in an ack, set means "ack of a command".
    pub fn ack_format(&self) -> bool {
        self.header.ack_format
    }
    /// Security (frame control bit 5): the payload is APS-secured.
    pub fn security(&self) -> bool {
        self.header.security
    }
    /// Acknowledgement Request (frame control bit 6).
    pub fn ack_request(&self) -> bool {
        self.header.ack_request
    }
    /// Extended Header present (frame control bit 7).
    pub fn extended_header(&self) -> bool {
        self.header.extended.is_some()
    }
    /// Destination endpoint, if the layout has one.
    pub fn dst_endpoint(&self) -> Option<u8> {
        self.header.dst_endpoint
    }
    /// Group address, if group-addressed.
    pub fn group(&self) -> Option<u16> {
        self.header.group
    }
    /// Cluster identifier, if the layout has one.
    pub fn cluster(&self) -> Option<u16> {
        self.header.cluster
    }
    /// Profile identifier, if the layout has one.
    pub fn profile(&self) -> Option<u16> {
        self.header.profile
    }
    /// Source endpoint, if the layout has one.
    pub fn src_endpoint(&self) -> Option<u8> {
        self.header.src_endpoint
    }
    /// APS counter (0 for inter-PAN frames, which carry none).
    pub fn counter(&self) -> u8 {
        self.header.counter
    }
    /// Bytes after the header (aux header + ciphertext + MIC when `security()` is set).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len..).unwrap_or(&[])
    }
    /// The frame as a [`ApsFrame`] value borrowing this buffer.
    pub fn repr(&self) -> ApsFrame<'_> {
        ApsFrame { header: self.header, payload: self.payload() }
    }
}

/// Key type byte of Transport-Key, Request-Key, Verify-Key and Confirm-Key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Obsolete (SKKE era).
    TrustCenterMasterKey,
    /// 1: the network key (standard security).
    StandardNetworkKey,
    /// Obsolete in Transport-Key; in Request-Key, type 2 asks for an application link key.
    ApplicationMasterKey,
    /// 3: an application link key between two devices.
    ApplicationLinkKey,
    /// 4: the Trust Center link key (TCLK).
    TrustCenterLinkKey,
    /// Obsolete (high-security stack profile).
    HighSecurityNetworkKey,
    /// Any other (reserved) key type value.
    Other(u8),
}

impl KeyType {
    /// The key type from its byte value.
    pub fn from_u8(v: u8) -> KeyType {
        match v {
            0 => KeyType::TrustCenterMasterKey,
            1 => KeyType::StandardNetworkKey,
            2 => KeyType::ApplicationMasterKey,
            3 => KeyType::ApplicationLinkKey,
            4 => KeyType::TrustCenterLinkKey,
            5 => KeyType::HighSecurityNetworkKey,
            v => KeyType::Other(v),
        }
    }
    /// The byte value on air.
    pub fn to_u8(self) -> u8 {
        match self {
            KeyType::TrustCenterMasterKey => 0,
            KeyType::StandardNetworkKey => 1,
            KeyType::ApplicationMasterKey => 2,
            KeyType::ApplicationLinkKey => 3,
            KeyType::TrustCenterLinkKey => 4,
            KeyType::HighSecurityNetworkKey => 5,
            KeyType::Other(v) => v,
        }
    }
    /// Wireshark's name for the key type.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::TrustCenterMasterKey => "Trust Center Master Key",
            KeyType::StandardNetworkKey => "Standard Network Key",
            KeyType::ApplicationMasterKey => "Application Master Key",
            KeyType::ApplicationLinkKey => "Application Link Key",
            KeyType::TrustCenterLinkKey => "Trust Center Link Key",
            KeyType::HighSecurityNetworkKey => "High-Security Network Key",
            KeyType::Other(_) => "Unknown Key Type",
        }
    }
    /// Whether Request-Key with this type carries a partner IEEE address (application keys).
    fn request_has_partner(self) -> bool {
        matches!(self, KeyType::ApplicationMasterKey | KeyType::ApplicationLinkKey)
    }
}

impl From<u8> for KeyType {
    fn from(v: u8) -> KeyType {
        KeyType::from_u8(v)
    }
}

impl From<KeyType> for u8 {
    fn from(k: KeyType) -> u8 {
        k.to_u8()
    }
}

/// Update-Device status byte: how the device got onto the network, as the parent reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateDeviceStatus {
    /// 0: rejoined with NWK security (it already had the network key).
    SecuredRejoin,
    /// 1: new association join; the TC must deliver the network key (via Tunnel).
    UnsecuredJoin,
    /// 2: the device left.
    DeviceLeft,
    /// 3: Trust Center (unsecured) rejoin; the TC decides whether to re-send the network key.
    TrustCenterRejoin,
    /// 4, 5, 7 (obsolete high-security variants) and reserved values.
    Other(u8),
}

impl UpdateDeviceStatus {
    /// The status from its byte value.
    pub fn from_u8(v: u8) -> UpdateDeviceStatus {
        match v {
            0 => UpdateDeviceStatus::SecuredRejoin,
            1 => UpdateDeviceStatus::UnsecuredJoin,
            2 => UpdateDeviceStatus::DeviceLeft,
            3 => UpdateDeviceStatus::TrustCenterRejoin,
            v => UpdateDeviceStatus::Other(v),
        }
    }
    /// The byte value on air.
    pub fn to_u8(self) -> u8 {
        match self {
            UpdateDeviceStatus::SecuredRejoin => 0,
            UpdateDeviceStatus::UnsecuredJoin => 1,
            UpdateDeviceStatus::DeviceLeft => 2,
            UpdateDeviceStatus::TrustCenterRejoin => 3,
            UpdateDeviceStatus::Other(v) => v,
        }
    }
    /// Wireshark's name for the status.
    pub fn name(self) -> &'static str {
        match self {
            UpdateDeviceStatus::SecuredRejoin => "Standard security, secured rejoin",
            UpdateDeviceStatus::UnsecuredJoin => "Standard security, unsecured join",
            UpdateDeviceStatus::DeviceLeft => "Device left",
            UpdateDeviceStatus::TrustCenterRejoin => "Standard security, unsecured rejoin",
            UpdateDeviceStatus::Other(4) => "High security, secured rejoin",
            UpdateDeviceStatus::Other(5) => "High security, unsecured join",
            UpdateDeviceStatus::Other(7) => "High security, unsecured rejoin",
            UpdateDeviceStatus::Other(_) => "Reserved",
        }
    }
}

// APS command identifiers (Wireshark for 0x01–0x0E, zigbee-on-host for 0x0F–0x12).
/// SKKE-1 (obsolete symmetric-key key establishment).
pub const CMD_SKKE_1: u8 = 0x01;
/// SKKE-2 (obsolete).
pub const CMD_SKKE_2: u8 = 0x02;
/// SKKE-3 (obsolete).
pub const CMD_SKKE_3: u8 = 0x03;
/// SKKE-4 (obsolete).
pub const CMD_SKKE_4: u8 = 0x04;
/// Transport-Key: delivers a network, Trust Center link or application key.
pub const CMD_TRANSPORT_KEY: u8 = 0x05;
/// Update-Device: a router tells the TC a device joined, rejoined or left.
pub const CMD_UPDATE_DEVICE: u8 = 0x06;
/// Remove-Device: the TC asks a router to make a child leave.
pub const CMD_REMOVE_DEVICE: u8 = 0x07;
/// Request-Key: a device asks the TC for a key.
pub const CMD_REQUEST_KEY: u8 = 0x08;
/// Switch-Key: switch to the network key with the given sequence number.
pub const CMD_SWITCH_KEY: u8 = 0x09;
/// Entity authentication initiator challenge (obsolete high security).
pub const CMD_EA_INIT_CHALLENGE: u8 = 0x0a;
/// Entity authentication responder challenge (obsolete high security).
pub const CMD_EA_RESP_CHALLENGE: u8 = 0x0b;
/// Entity authentication initiator MAC data (obsolete high security).
pub const CMD_EA_INIT_MAC_DATA: u8 = 0x0c;
/// Entity authentication responder MAC data (obsolete high security).
pub const CMD_EA_RESP_MAC_DATA: u8 = 0x0d;
/// Tunnel: the TC has a router forward an APS frame to a device that is not its neighbour.
pub const CMD_TUNNEL: u8 = 0x0e;
/// Verify-Key (R21): a device proves it holds the TCLK it was given.
pub const CMD_VERIFY_KEY: u8 = 0x0f;
/// Confirm-Key (R21): the TC's answer to Verify-Key.
pub const CMD_CONFIRM_KEY: u8 = 0x10;
/// Relay Message Downstream (R23).
pub const CMD_RELAY_MESSAGE_DOWNSTREAM: u8 = 0x11;
/// Relay Message Upstream (R23).
pub const CMD_RELAY_MESSAGE_UPSTREAM: u8 = 0x12;

/// Wireshark-style name of an APS command id ("Unknown Command" if unassigned).
pub fn command_name(id: u8) -> &'static str {
    match id {
        CMD_SKKE_1 => "SKKE-1",
        CMD_SKKE_2 => "SKKE-2",
        CMD_SKKE_3 => "SKKE-3",
        CMD_SKKE_4 => "SKKE-4",
        CMD_TRANSPORT_KEY => "Transport Key",
        CMD_UPDATE_DEVICE => "Update Device",
        CMD_REMOVE_DEVICE => "Remove Device",
        CMD_REQUEST_KEY => "Request Key",
        CMD_SWITCH_KEY => "Switch Key",
        CMD_EA_INIT_CHALLENGE => "EA Initiator Challenge",
        CMD_EA_RESP_CHALLENGE => "EA Responder Challenge",
        CMD_EA_INIT_MAC_DATA => "EA Initiator MAC",
        CMD_EA_RESP_MAC_DATA => "EA Responder MAC",
        CMD_TUNNEL => "Tunnel",
        CMD_VERIFY_KEY => "Verify Key",
        CMD_CONFIRM_KEY => "Confirm Key",
        CMD_RELAY_MESSAGE_DOWNSTREAM => "Relay Message Downstream",
        CMD_RELAY_MESSAGE_UPSTREAM => "Relay Message Upstream",
        _ => "Unknown Command",
    }
}

/// The fields of a Transport-Key after the key; which ones depends on the key type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransportKeyBody {
    /// Network keys (types 1 and 5): key sequence number, destination (all-zero when
    /// broadcast) and source (the TC; all-FF in distributed security).
    Network {
        /// Key sequence number of the network key.
        seq: u8,
        /// Destination IEEE address (all-zero when broadcast).
        dst: ExtAddr,
        /// Source IEEE address (the TC; all-FF in distributed security).
        src: ExtAddr,
    },
    /// Trust Center keys (types 0 and 4): destination and source (the TC).
    TrustCenter {
        /// Destination IEEE address (the device receiving the key).
        dst: ExtAddr,
        /// Source IEEE address (the TC).
        src: ExtAddr,
    },
    /// Application keys (types 2 and 3): the partner device and whether the receiver initiated.
    Application {
        /// IEEE address of the partner device the key is shared with.
        partner: ExtAddr,
        /// Whether the receiver initiated the key request.
        initiator: bool,
    },
    /// Unassigned key types: the bytes after the key, unparsed.
    Unknown {
        /// The bytes after the key.
        rest: Vec<u8>,
    },
}

/// APS Transport-Key: `05 | key type | key(16) | body`. The key stays in a zeroizing [`Key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransportKey {
    /// Key type: which key this delivers (it selects the body layout).
    pub key_type: KeyType,
    /// The 16-byte key, in the clear once the frame is unsecured.
    pub key: Key,
    /// The fields after the key, by key type.
    pub body: TransportKeyBody,
}

impl TransportKey {
    /// Standard network key delivery (what the TC sends a joiner).
    pub fn network(key: Key, seq: u8, dst: ExtAddr, src: ExtAddr) -> TransportKey {
        TransportKey {
            key_type: KeyType::StandardNetworkKey,
            key,
            body: TransportKeyBody::Network { seq, dst, src },
        }
    }

    /// Trust Center link key delivery (answer to Request-Key type 4).
    pub fn trust_center_link_key(key: Key, dst: ExtAddr, src: ExtAddr) -> TransportKey {
        TransportKey {
            key_type: KeyType::TrustCenterLinkKey,
            key,
            body: TransportKeyBody::TrustCenter { dst, src },
        }
    }

    /// Application link key delivery to one of the two partners.
    pub fn application_link_key(key: Key, partner: ExtAddr, initiator: bool) -> TransportKey {
        TransportKey {
            key_type: KeyType::ApplicationLinkKey,
            key,
            body: TransportKeyBody::Application { partner, initiator },
        }
    }

    /// Parses the bytes after the command id.
    fn parse_fields(r: &mut Reader<'_>) -> Result<TransportKey> {
        const WHAT: &str = "APS Transport Key";
        let key_type = KeyType::from_u8(r.u8(WHAT)?);
        // Straight from the input slice into `Key`, so no stray copy of the key is left behind.
        let key = Key::from_slice(r.bytes(Key::LEN, WHAT)?)
            .map_err(|_| Error::Truncated { what: WHAT })?;
        let body = match key_type {
            KeyType::StandardNetworkKey | KeyType::HighSecurityNetworkKey => {
                TransportKeyBody::Network {
                    seq: r.u8(WHAT)?,
                    dst: r.ext_addr(WHAT)?,
                    src: r.ext_addr(WHAT)?,
                }
            }
            KeyType::TrustCenterMasterKey | KeyType::TrustCenterLinkKey => {
                TransportKeyBody::TrustCenter { dst: r.ext_addr(WHAT)?, src: r.ext_addr(WHAT)? }
            }
            KeyType::ApplicationMasterKey | KeyType::ApplicationLinkKey => {
                let partner = r.ext_addr(WHAT)?;
                let initiator = match r.u8(WHAT)? {
                    0 => false,
                    1 => true,
                    _ => return Err(Error::Malformed { what: "APS Transport Key initiator flag" }),
                };
                TransportKeyBody::Application { partner, initiator }
            }
            KeyType::Other(_) => {
                let rest = r.rest().to_vec();
                let _ = r.bytes(rest.len(), WHAT)?;
                TransportKeyBody::Unknown { rest }
            }
        };
        Ok(TransportKey { key_type, key, body })
    }

    fn fields_len(&self) -> usize {
        1 + Key::LEN
            + match &self.body {
                TransportKeyBody::Network { .. } => 17,
                TransportKeyBody::TrustCenter { .. } => 16,
                TransportKeyBody::Application { .. } => 9,
                TransportKeyBody::Unknown { rest } => rest.len(),
            }
    }

    fn emit_fields(&self, out: &mut Vec<u8>) {
        out.push(self.key_type.to_u8());
        out.extend_from_slice(self.key.as_bytes());
        match &self.body {
            TransportKeyBody::Network { seq, dst, src } => {
                out.push(*seq);
                out.extend_from_slice(&dst.to_le_bytes());
                out.extend_from_slice(&src.to_le_bytes());
            }
            TransportKeyBody::TrustCenter { dst, src } => {
                out.extend_from_slice(&dst.to_le_bytes());
                out.extend_from_slice(&src.to_le_bytes());
            }
            TransportKeyBody::Application { partner, initiator } => {
                out.extend_from_slice(&partner.to_le_bytes());
                out.push(u8::from(*initiator));
            }
            TransportKeyBody::Unknown { rest } => out.extend_from_slice(rest),
        }
    }

    /// The destination IEEE address, if the body has one.
    pub fn dst(&self) -> Option<ExtAddr> {
        match &self.body {
            TransportKeyBody::Network { dst, .. } | TransportKeyBody::TrustCenter { dst, .. } => {
                Some(*dst)
            }
            _ => None,
        }
    }

    /// The source IEEE address (the Trust Center), if the body has one.
    pub fn src(&self) -> Option<ExtAddr> {
        match &self.body {
            TransportKeyBody::Network { src, .. } | TransportKeyBody::TrustCenter { src, .. } => {
                Some(*src)
            }
            _ => None,
        }
    }
}

/// An APS command, parsed from the plaintext starting at the command id.
///
/// Fixed-size commands must fill the buffer exactly: trailing bytes are `Error::Malformed`
/// (Update-Device keeps them as R23 TLVs; Tunnel, Relay and unknown commands keep the rest raw).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApsCommand {
    /// 0x05.
    TransportKey(TransportKey),
    /// 0x06, router → TC: a child joined, rejoined or left.
    UpdateDevice {
        /// IEEE address of the device that joined, rejoined or left.
        device: ExtAddr,
        /// Short address of that device.
        short_addr: ShortAddr,
        /// How the device got onto (or left) the network.
        status: UpdateDeviceStatus,
        /// R23 TLVs after the fixed fields, undecoded (empty before R23).
        tlvs: Vec<u8>,
    },
    /// 0x07, TC → router: make `target` leave.
    RemoveDevice {
        /// IEEE address of the device to remove.
        target: ExtAddr,
    },
    /// 0x08; `partner` is on air only for application keys (types 2 and 3).
    RequestKey {
        /// Key type requested (4 = Trust Center link key, 2 = application link key).
        key_type: KeyType,
        /// IEEE address of the partner device, for application keys.
        partner: Option<ExtAddr>,
    },
    /// 0x09: switch to the network key with this sequence number.
    SwitchKey {
        /// Key sequence number of the network key to switch to.
        seq: u8,
    },
    /// 0x0E, TC → router: forward the tunnelled APS frame to `dst` (usually an APS-secured
    /// Transport-Key for a joiner that is not the TC's neighbour).
    Tunnel {
        /// IEEE address of the final destination.
        dst: ExtAddr,
        /// The tunnelled APS frame (header, aux header, ciphertext and MIC), raw.
        frame: Vec<u8>,
    },
    /// 0x0F, device → TC: proves it holds the new TCLK (`hash` = HMAC-MMO(key, 0x03)).
    VerifyKey {
        /// Key type being verified (4 = Trust Center link key).
        key_type: KeyType,
        /// IEEE address of the device sending Verify-Key.
        src: ExtAddr,
        /// Initiator verify-key hash: HMAC-MMO(key, 0x03).
        hash: [u8; 16],
    },
    /// 0x10, TC → device: result of Verify-Key.
    ConfirmKey {
        /// APS status: 0x00 success, otherwise why verification failed (e.g. 0xad SECURITY_FAIL).
        status: u8,
        /// Key type that was verified.
        key_type: KeyType,
        /// IEEE address of the device that sent Verify-Key.
        dst: ExtAddr,
    },
    /// 0x11 (R23): TLVs and an encapsulated frame, kept raw.
    RelayMessageDownstream {
        /// The bytes after the command id.
        payload: Vec<u8>,
    },
    /// 0x12 (R23): TLVs and an encapsulated frame, kept raw.
    RelayMessageUpstream {
        /// The bytes after the command id.
        payload: Vec<u8>,
    },
    /// Any other id (SKKE, entity authentication, unassigned): the bytes after the id.
    Other {
        /// Command identifier.
        id: u8,
        /// The bytes after the command id.
        payload: Vec<u8>,
    },
}

impl ApsCommand {
    /// The command id byte.
    pub fn id(&self) -> u8 {
        match self {
            ApsCommand::TransportKey(_) => CMD_TRANSPORT_KEY,
            ApsCommand::UpdateDevice { .. } => CMD_UPDATE_DEVICE,
            ApsCommand::RemoveDevice { .. } => CMD_REMOVE_DEVICE,
            ApsCommand::RequestKey { .. } => CMD_REQUEST_KEY,
            ApsCommand::SwitchKey { .. } => CMD_SWITCH_KEY,
            ApsCommand::Tunnel { .. } => CMD_TUNNEL,
            ApsCommand::VerifyKey { .. } => CMD_VERIFY_KEY,
            ApsCommand::ConfirmKey { .. } => CMD_CONFIRM_KEY,
            ApsCommand::RelayMessageDownstream { .. } => CMD_RELAY_MESSAGE_DOWNSTREAM,
            ApsCommand::RelayMessageUpstream { .. } => CMD_RELAY_MESSAGE_UPSTREAM,
            ApsCommand::Other { id, .. } => *id,
        }
    }

    /// Wireshark-style command name.
    pub fn name(&self) -> &'static str {
        command_name(self.id())
    }

    /// Parses a command from plaintext starting at the command id.
    pub fn parse(buf: &[u8]) -> Result<ApsCommand> {
        let mut r = Reader::new(buf);
        let id = r.u8("APS command id")?;
        let what = command_name(id);
        let cmd = match id {
            CMD_TRANSPORT_KEY => ApsCommand::TransportKey(TransportKey::parse_fields(&mut r)?),
            CMD_UPDATE_DEVICE => {
                let device = r.ext_addr(what)?;
                let short_addr = ShortAddr(r.u16(what)?);
                let status = UpdateDeviceStatus::from_u8(r.u8(what)?);
                let tlvs = r.rest().to_vec();
                r.bytes(tlvs.len(), what)?;
                ApsCommand::UpdateDevice { device, short_addr, status, tlvs }
            }
            CMD_REMOVE_DEVICE => ApsCommand::RemoveDevice { target: r.ext_addr(what)? },
            CMD_REQUEST_KEY => {
                let key_type = KeyType::from_u8(r.u8(what)?);
                let partner =
                    if key_type.request_has_partner() { Some(r.ext_addr(what)?) } else { None };
                ApsCommand::RequestKey { key_type, partner }
            }
            CMD_SWITCH_KEY => ApsCommand::SwitchKey { seq: r.u8(what)? },
            CMD_TUNNEL => {
                let dst = r.ext_addr(what)?;
                let frame = r.rest().to_vec();
                r.bytes(frame.len(), what)?;
                ApsCommand::Tunnel { dst, frame }
            }
            CMD_VERIFY_KEY => ApsCommand::VerifyKey {
                key_type: KeyType::from_u8(r.u8(what)?),
                src: r.ext_addr(what)?,
                hash: r.array(what)?,
            },
            CMD_CONFIRM_KEY => ApsCommand::ConfirmKey {
                status: r.u8(what)?,
                key_type: KeyType::from_u8(r.u8(what)?),
                dst: r.ext_addr(what)?,
            },
            _ => {
                let payload = r.rest().to_vec();
                r.bytes(payload.len(), what)?;
                match id {
                    CMD_RELAY_MESSAGE_DOWNSTREAM => ApsCommand::RelayMessageDownstream { payload },
                    CMD_RELAY_MESSAGE_UPSTREAM => ApsCommand::RelayMessageUpstream { payload },
                    _ => ApsCommand::Other { id, payload },
                }
            }
        };
        if !r.is_empty() {
            return Err(Error::Malformed { what: "APS command (trailing bytes)" });
        }
        Ok(cmd)
    }

    /// Bytes [`ApsCommand::emit`] appends, command id included.
    pub fn buffer_len(&self) -> usize {
        1 + match self {
            ApsCommand::TransportKey(tk) => tk.fields_len(),
            ApsCommand::UpdateDevice { tlvs, .. } => 11 + tlvs.len(),
            ApsCommand::RemoveDevice { .. } => 8,
            ApsCommand::RequestKey { key_type, .. } => {
                1 + if key_type.request_has_partner() { 8 } else { 0 }
            }
            ApsCommand::SwitchKey { .. } => 1,
            ApsCommand::Tunnel { frame, .. } => 8 + frame.len(),
            ApsCommand::VerifyKey { .. } => 25,
            ApsCommand::ConfirmKey { .. } => 10,
            ApsCommand::RelayMessageDownstream { payload }
            | ApsCommand::RelayMessageUpstream { payload }
            | ApsCommand::Other { payload, .. } => payload.len(),
        }
    }

    /// Appends the command (id first) to `out`. For Request-Key the partner is written when the
    /// key type calls for one (all-zero if `partner` is `None`).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.id());
        match self {
            ApsCommand::TransportKey(tk) => tk.emit_fields(out),
            ApsCommand::UpdateDevice { device, short_addr, status, tlvs } => {
                out.extend_from_slice(&device.to_le_bytes());
                out.extend_from_slice(&short_addr.0.to_le_bytes());
                out.push(status.to_u8());
                out.extend_from_slice(tlvs);
            }
            ApsCommand::RemoveDevice { target } => out.extend_from_slice(&target.to_le_bytes()),
            ApsCommand::RequestKey { key_type, partner } => {
                out.push(key_type.to_u8());
                if key_type.request_has_partner() {
                    out.extend_from_slice(&partner.unwrap_or(ExtAddr::ZERO).to_le_bytes());
                }
            }
            ApsCommand::SwitchKey { seq } => out.push(*seq),
            ApsCommand::Tunnel { dst, frame } => {
                out.extend_from_slice(&dst.to_le_bytes());
                out.extend_from_slice(frame);
            }
            ApsCommand::VerifyKey { key_type, src, hash } => {
                out.push(key_type.to_u8());
                out.extend_from_slice(&src.to_le_bytes());
                out.extend_from_slice(hash);
            }
            ApsCommand::ConfirmKey { status, key_type, dst } => {
                out.push(*status);
                out.push(key_type.to_u8());
                out.extend_from_slice(&dst.to_le_bytes());
            }
            ApsCommand::RelayMessageDownstream { payload }
            | ApsCommand::RelayMessageUpstream { payload }
            | ApsCommand::Other { payload, .. } => out.extend_from_slice(payload),
        }
    }

    /// For Tunnel: the header of the tunnelled APS frame and the bytes after it.
    pub fn tunnelled_frame(&self) -> Option<Result<ApsFrame<'_>>> {
        match self {
            ApsCommand::Tunnel { frame, .. } => Some(ApsFrame::parse(frame)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zigtrust_crypto::decode_hex_loose;

    fn hex(s: &str) -> Vec<u8> {
        decode_hex_loose(s).unwrap()
    }

    const DEVICE: ExtAddr = ExtAddr(0xa4c1_386d_9b28_0fdf);
    const TC: ExtAddr = ExtAddr(0x804b_50ff_fe05_99f9);

    fn header_roundtrip(bytes: &[u8]) -> ApsHeader {
        let (h, len) = ApsHeader::parse(bytes).unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(h.buffer_len(), len);
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(out, bytes);
        for cut in 0..bytes.len() {
            assert!(ApsHeader::parse(&bytes[..cut]).is_err(), "cut {cut}");
        }
        h
    }

    /// Round-trips a fixed-size command; every truncation must fail.
    fn command_roundtrip(bytes: &[u8]) -> ApsCommand {
        command_roundtrip_min(bytes, bytes.len())
    }

    /// Round-trips a command whose fixed part is `min` bytes (the rest is variable-length);
    /// every truncation inside the fixed part must fail.
    fn command_roundtrip_min(bytes: &[u8], min: usize) -> ApsCommand {
        let c = ApsCommand::parse(bytes).unwrap();
        assert_eq!(c.buffer_len(), bytes.len());
        let mut out = Vec::new();
        c.emit(&mut out);
        assert_eq!(out, bytes);
        for cut in 0..min {
            assert!(ApsCommand::parse(&bytes[..cut]).is_err(), "cut {cut}");
        }
        c
    }

    #[test]
    fn device_annce_broadcast_header() {
        let h = header_roundtrip(&hex("08 00 1300 0000 00 7b"));
        assert_eq!(h, ApsHeader::data_broadcast(0, 0x0013, 0x0000, 0, 0x7b));
        assert_eq!(h.delivery_mode, DeliveryMode::Broadcast);
        assert!(!h.security && !h.extended_header());
    }

    #[test]
    fn secured_command_header() {
        let h = header_roundtrip(&hex("21 6a"));
        assert_eq!(h, ApsHeader::command(0x6a, true));
        assert_eq!(h.frame_type, ApsFrameType::Command);
        assert_eq!(h.frame_control(), 0x21);
        assert_eq!(header_roundtrip(&hex("01 84")), ApsHeader::command(0x84, false));
    }

    #[test]
    fn data_ack_with_addressing() {
        let h = header_roundtrip(&hex("02 01 00ef 0401 01 33"));
        assert_eq!(h.frame_type, ApsFrameType::Ack);
        assert_eq!(h.dst_endpoint, Some(1));
        assert_eq!(h.cluster, Some(0xef00));
        assert_eq!(h.profile, Some(0x0104));
        assert_eq!(h.src_endpoint, Some(1));
        assert_eq!(h.counter, 0x33);
        assert_eq!(h, ApsHeader::data_ack(1, 0xef00, 0x0104, 1, 0x33));
        let req = ApsHeader::data_unicast(1, 0xef00, 0x0104, 1, 0x33);
        assert_eq!(ApsHeader::ack_for(&req), h);
    }

    #[test]
    fn command_ack() {
        let h = header_roundtrip(&hex("12 6a"));
        assert_eq!(h, ApsHeader::command_ack(0x6a));
        assert_eq!(ApsHeader::ack_for(&ApsHeader::command(0x6a, true)), h);
    }

    #[test]
    fn unicast_data_header() {
        let bytes = hex("00 01 0600 0401 01 10 01 05 02");
        let f = ApsFrame::parse(&bytes).unwrap();
        assert_eq!(f.header, ApsHeader::data_unicast(1, 0x0006, 0x0104, 1, 0x10));
        assert_eq!(f.payload, &[0x01, 0x05, 0x02]);
        assert_eq!(f.buffer_len(), bytes.len());
        let mut out = Vec::new();
        f.emit(&mut out);
        assert_eq!(out, bytes);
        header_roundtrip(&bytes[..8]);

        let p = ApsPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.header_len(), 8);
        assert_eq!(p.cluster(), Some(6));
        assert_eq!(p.counter(), 0x10);
        assert_eq!(p.payload(), &[0x01, 0x05, 0x02]);
        assert_eq!(p.repr(), f);
        assert!(ApsPacket::new_checked(&bytes[..5]).is_err());
    }

    #[test]
    fn group_interpan_and_extended_headers() {
        let g = header_roundtrip(&hex("0c 3412 0600 0401 01 99"));
        assert_eq!(g, ApsHeader::data_group(0x1234, 6, 0x0104, 1, 0x99));
        let ip = header_roundtrip(&hex("0f 3412 0010 5ec0"));
        assert_eq!(ip.frame_type, ApsFrameType::InterPan);
        assert_eq!(
            (ip.group, ip.cluster, ip.profile, ip.counter),
            (Some(0x1234), Some(0x1000), Some(0xc05e), 0)
        );
        // Fragmented data (first block, 3 blocks) and a fragmented ack with its bitfield.
        let d = header_roundtrip(&hex("80 01 0600 0401 01 10 01 03"));
        assert_eq!(
            d.extended,
            Some(ApsExtendedHeader {
                fragmentation: 1,
                reserved: 0,
                block_number: Some(3),
                ack_bitfield: None
            })
        );
        let a = header_roundtrip(&hex("82 01 0600 0401 01 10 02 01 03"));
        assert_eq!(a.extended.and_then(|e| e.ack_bitfield), Some(3));
        // Reserved ext-FC bits survive.
        let r = header_roundtrip(&hex("81 10 fc"));
        assert_eq!(r.extended.map(|e| (e.fragmentation, e.reserved)), Some((0, 0xfc)));
    }

    #[test]
    fn transport_key_network_key_b() {
        let bytes =
            hex("05 01 01030507090b0d0f00020406080a0c0d 00 df0f289b6d38c1a4 f99905feff504b80");
        assert_eq!(bytes.len(), 35);
        let c = command_roundtrip(&bytes);
        assert_eq!(c.name(), "Transport Key");
        let ApsCommand::TransportKey(tk) = &c else { panic!("{c:?}") };
        assert_eq!(tk.key_type, KeyType::StandardNetworkKey);
        assert_eq!(tk.key_type.name(), "Standard Network Key");
        assert_eq!(tk.key.to_hex(), "01030507090b0d0f00020406080a0c0d");
        assert_eq!(tk.body, TransportKeyBody::Network { seq: 0, dst: DEVICE, src: TC });
        assert_eq!((tk.dst(), tk.src()), (Some(DEVICE), Some(TC)));
        let built = TransportKey::network(
            Key::from_hex("01030507090b0d0f00020406080a0c0d").unwrap(),
            0,
            DEVICE,
            TC,
        );
        assert_eq!(c, ApsCommand::TransportKey(built));
        // Debug output must not leak the key.
        assert!(!format!("{c:?}").contains("0d0f0002"));
    }

    #[test]
    fn transport_key_tc_link_key_e() {
        let bytes = hex("05 04 5a6967426565416c6c69616e63653039 df0f289b6d38c1a4 f99905feff504b80");
        assert_eq!(bytes.len(), 34);
        let c = command_roundtrip(&bytes);
        let ApsCommand::TransportKey(tk) = &c else { panic!("{c:?}") };
        assert_eq!(tk.key_type.name(), "Trust Center Link Key");
        assert_eq!(tk.key, Key::well_known_tc_link_key());
        assert_eq!(tk.body, TransportKeyBody::TrustCenter { dst: DEVICE, src: TC });
    }

    #[test]
    fn transport_key_app_link_key() {
        let tk = TransportKey::application_link_key(Key::from_bytes([7; 16]), DEVICE, true);
        let c = ApsCommand::TransportKey(tk);
        let mut out = Vec::new();
        c.emit(&mut out);
        assert_eq!(out.len(), 27);
        assert_eq!(command_roundtrip(&out), c);
        let mut bad = out.clone();
        bad[26] = 2;
        assert!(matches!(ApsCommand::parse(&bad), Err(Error::Malformed { .. })));
        // Unknown key type keeps the key in a Key and the rest raw.
        let unk = hex("05 09 000102030405060708090a0b0c0d0e0f aabb");
        let c = command_roundtrip_min(&unk, 18);
        let ApsCommand::TransportKey(tk) = &c else { panic!() };
        assert_eq!(tk.key_type, KeyType::Other(9));
        assert_eq!(tk.body, TransportKeyBody::Unknown { rest: vec![0xaa, 0xbb] });
    }

    #[test]
    fn request_key_d() {
        let c = command_roundtrip(&hex("08 04"));
        assert_eq!(
            c,
            ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, partner: None }
        );
        assert_eq!(c.name(), "Request Key");
        let app = command_roundtrip(&hex("08 02 df0f289b6d38c1a4"));
        assert_eq!(
            app,
            ApsCommand::RequestKey {
                key_type: KeyType::ApplicationMasterKey,
                partner: Some(DEVICE)
            }
        );
        assert!(matches!(ApsCommand::parse(&hex("08 04 00")), Err(Error::Malformed { .. })));
    }

    #[test]
    fn verify_key_f() {
        let bytes = hex("0f 04 df0f289b6d38c1a4 1ab128df1639a1246aaba72a6a559124");
        let c = command_roundtrip(&bytes);
        assert_eq!(c.name(), "Verify Key");
        let ApsCommand::VerifyKey { key_type, src, hash } = c else { panic!() };
        assert_eq!(key_type, KeyType::TrustCenterLinkKey);
        assert_eq!(src, DEVICE);
        assert_eq!(hash.to_vec(), hex("1ab128df1639a1246aaba72a6a559124"));
        // Carried in an unsecured command frame: FC 0x01, counter 0x84.
        let mut frame = hex("01 84");
        frame.extend_from_slice(&bytes);
        let f = ApsFrame::parse(&frame).unwrap();
        assert_eq!(f.command().unwrap().id(), CMD_VERIFY_KEY);
    }

    #[test]
    fn confirm_key_g() {
        let c = command_roundtrip(&hex("10 00 04 df0f289b6d38c1a4"));
        assert_eq!(c.name(), "Confirm Key");
        assert_eq!(
            c,
            ApsCommand::ConfirmKey {
                status: 0,
                key_type: KeyType::TrustCenterLinkKey,
                dst: DEVICE
            }
        );
    }

    #[test]
    fn update_remove_switch_tunnel() {
        let u = command_roundtrip(&hex("06 df0f289b6d38c1a4 8fa1 01"));
        assert_eq!(u.name(), "Update Device");
        assert_eq!(
            u,
            ApsCommand::UpdateDevice {
                device: DEVICE,
                short_addr: ShortAddr(0xa18f),
                status: UpdateDeviceStatus::UnsecuredJoin,
                tlvs: vec![],
            }
        );
        let u23 = command_roundtrip_min(&hex("06 df0f289b6d38c1a4 8fa1 03 0001ff"), 12);
        let ApsCommand::UpdateDevice { status, tlvs, .. } = &u23 else { panic!() };
        assert_eq!(*status, UpdateDeviceStatus::TrustCenterRejoin);
        assert_eq!(tlvs, &[0x00, 0x01, 0xff]);

        let r = command_roundtrip(&hex("07 df0f289b6d38c1a4"));
        assert_eq!(r, ApsCommand::RemoveDevice { target: DEVICE });
        assert_eq!(r.name(), "Remove Device");
        let s = command_roundtrip(&hex("09 02"));
        assert_eq!((s.name(), s), ("Switch Key", ApsCommand::SwitchKey { seq: 2 }));

        // §5.8 APS-secured Transport-Key frame tunnelled to the parent.
        let inner = hex("21053010000000ddccbbaa004b12001249d7dfe9da31c00dc1ba61fdf3a280dcd431719b129d7cc9645459316b0b71fa1ea70c6e7acc");
        let mut bytes = hex("0e df0f289b6d38c1a4");
        bytes.extend_from_slice(&inner);
        let t = command_roundtrip_min(&bytes, 9);
        assert_eq!(t.name(), "Tunnel");
        let f = t.tunnelled_frame().unwrap().unwrap();
        assert_eq!(f.header, ApsHeader::command(0x05, true));
        assert_eq!(f.payload.len(), inner.len() - 2);
    }

    #[test]
    fn other_commands_and_names() {
        let c = command_roundtrip_min(&hex("01 0102"), 1);
        assert_eq!(c, ApsCommand::Other { id: 1, payload: vec![1, 2] });
        assert_eq!(c.name(), "SKKE-1");
        let relay = command_roundtrip_min(&hex("11 00 07"), 1);
        assert_eq!(relay.name(), "Relay Message Downstream");
        assert_eq!(command_roundtrip(&hex("12")).name(), "Relay Message Upstream");
        assert_eq!(command_roundtrip_min(&hex("ee 55"), 1).name(), "Unknown Command");
        assert!(ApsCommand::parse(&[]).is_err());
        assert_eq!(KeyType::from_u8(0x42).name(), "Unknown Key Type");
        assert_eq!(KeyType::from(3u8).name(), "Application Link Key");
        assert_eq!(UpdateDeviceStatus::from_u8(0).name(), "Standard security, secured rejoin");
    }
}
