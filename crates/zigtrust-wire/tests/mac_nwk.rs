//! Property tests for the MAC and NWK codecs: no input makes a parser panic, anything a parser
//! accepts re-emits to the same bytes, and every valid value survives emit → parse.

use proptest::collection::vec;
use proptest::prelude::*;

use zigtrust_wire::mac::{
    Address, AssociationStatus, Beacon, FrameType, GtsDescriptor, GtsInfo, MacBody, MacCommand,
    MacFrame, MacHeader, MacPacket, SuperframeSpec, ZigbeeBeaconPayload,
};
use zigtrust_wire::nwk::{
    DiscoverRoute, LeaveOptions, LinkStatusEntry, NetworkReportInfo, NwkCommand, NwkFrame,
    NwkFrameType, NwkHeader, NwkPacket, PowerDeltaEntry, RouteReplyOptions, RouteRequestOptions,
    SourceRoute,
};
use zigtrust_wire::{CapabilityInfo, ExtAddr, PanId, ShortAddr};

// ---------------------------------------------------------------- strategies: shared

fn short() -> impl Strategy<Value = ShortAddr> {
    any::<u16>().prop_map(ShortAddr)
}
fn ext() -> impl Strategy<Value = ExtAddr> {
    any::<u64>().prop_map(ExtAddr)
}
fn pan() -> impl Strategy<Value = PanId> {
    any::<u16>().prop_map(PanId)
}
fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

// ---------------------------------------------------------------- strategies: MAC

fn mac_address() -> impl Strategy<Value = Address> {
    prop_oneof![
        Just(Address::Absent),
        short().prop_map(Address::Short),
        ext().prop_map(Address::Extended),
    ]
}

/// Independent statement of the PAN ID presence rules (802.15.4-2006 §7.2.1.1.5 for
/// versions 0/1, 802.15.4-2015 Table 7-2 for version 2).
fn pans_present(version: u8, dst: Address, src: Address, compression: bool) -> (bool, bool) {
    let (d, s) = (!dst.is_absent(), !src.is_absent());
    if version < 2 {
        if d && s {
            (true, !compression)
        } else {
            (d, s)
        }
    } else {
        let both_ext = matches!((dst, src), (Address::Extended(_), Address::Extended(_)));
        match (d, s, compression) {
            (false, false, c) => (c, false),
            (true, false, c) => (!c, false),
            (false, true, c) => (false, !c),
            (true, true, c) if both_ext => (!c, false),
            (true, true, c) => (true, !c),
        }
    }
}

prop_compose! {
    fn mac_header(frame_type: FrameType, security: bool)(
        frame_pending in any::<bool>(),
        ack_request in any::<bool>(),
        pan_id_compression in any::<bool>(),
        reserved in any::<bool>(),
        frame_version in 0u8..=2,
        sequence in proptest::option::of(any::<u8>()),
        dst_addr in mac_address(),
        src_addr in mac_address(),
        dpan in pan(),
        span in pan(),
    ) -> MacHeader {
        let (dp, sp) = pans_present(frame_version, dst_addr, src_addr, pan_id_compression);
        MacHeader {
            frame_type,
            security_enabled: security,
            frame_pending,
            ack_request,
            pan_id_compression,
            reserved,
            ie_present: false,
            frame_version,
            sequence,
            dst_pan: dp.then_some(dpan),
            dst_addr,
            src_pan: sp.then_some(span),
            src_addr,
        }
    }
}

fn mac_command() -> impl Strategy<Value = MacCommand> {
    prop_oneof![
        any::<u8>().prop_map(|c| MacCommand::AssociationRequest { capability: CapabilityInfo(c) }),
        (short(), any::<u8>()).prop_map(|(short_addr, s)| MacCommand::AssociationResponse {
            short_addr,
            status: AssociationStatus::from_u8(s),
        }),
        any::<u8>().prop_map(|reason| MacCommand::DisassociationNotification { reason }),
        Just(MacCommand::DataRequest),
        Just(MacCommand::PanIdConflictNotification),
        Just(MacCommand::OrphanNotification),
        Just(MacCommand::BeaconRequest),
        (pan(), short(), any::<u8>(), short(), proptest::option::of(any::<u8>())).prop_map(
            |(pan_id, coordinator_short, channel, short_addr, channel_page)| {
                MacCommand::CoordinatorRealignment {
                    pan_id,
                    coordinator_short,
                    channel,
                    short_addr,
                    channel_page,
                }
            }
        ),
        any::<u8>().prop_map(|characteristics| MacCommand::GtsRequest { characteristics }),
        (prop_oneof![Just(0u8), 0x0au8..=0xff], bytes(20))
            .prop_map(|(id, payload)| MacCommand::Other { id, payload }),
    ]
}

prop_compose! {
    fn gts_descriptor()(short_addr in short(), starting_slot in 0u8..16, length in 0u8..16)
        -> GtsDescriptor {
        GtsDescriptor { short_addr, starting_slot, length }
    }
}

prop_compose! {
    fn gts_info()(
        permit in any::<bool>(),
        reserved in 0u8..16,
        directions in any::<u8>(),
        descriptors in vec(gts_descriptor(), 0..=7),
    ) -> GtsInfo {
        let directions = if descriptors.is_empty() { 0 } else { directions };
        GtsInfo { permit, reserved, directions, descriptors }
    }
}

/// Owned parts of a beacon; `Beacon<'a>` borrows its payload.
#[derive(Debug, Clone)]
struct BeaconParts {
    superframe: u16,
    gts: GtsInfo,
    pending_short: Vec<ShortAddr>,
    pending_ext: Vec<ExtAddr>,
    pending_reserved: u8,
    payload: Vec<u8>,
}

impl BeaconParts {
    fn beacon(&self) -> Beacon<'_> {
        Beacon {
            superframe: SuperframeSpec(self.superframe),
            gts: self.gts.clone(),
            pending_short: self.pending_short.clone(),
            pending_ext: self.pending_ext.clone(),
            pending_reserved: self.pending_reserved,
            payload: &self.payload,
        }
    }
}

prop_compose! {
    fn beacon_parts()(
        superframe in any::<u16>(),
        gts in gts_info(),
        pending_short in vec(short(), 0..=7),
        pending_ext in vec(ext(), 0..=7),
        pending_reserved in any::<u8>(),
        payload in bytes(30),
    ) -> BeaconParts {
        BeaconParts {
            superframe,
            gts,
            pending_short,
            pending_ext,
            pending_reserved: pending_reserved & 0x88,
            payload,
        }
    }
}

prop_compose! {
    fn zigbee_beacon_payload()(
        stack_profile in 0u8..16,
        protocol_version in 0u8..16,
        reserved in 0u8..4,
        router_capacity in any::<bool>(),
        device_depth in 0u8..16,
        end_device_capacity in any::<bool>(),
        extended_pan_id in any::<u64>(),
        tx_offset in 0u32..0x100_0000,
        update_id in any::<u8>(),
        trailing in bytes(4),
    ) -> ZigbeeBeaconPayload {
        ZigbeeBeaconPayload {
            stack_profile,
            protocol_version,
            reserved,
            router_capacity,
            device_depth,
            end_device_capacity,
            extended_pan_id,
            tx_offset,
            update_id,
            trailing,
        }
    }
}

/// Owned description of a MAC frame body.
#[derive(Debug, Clone)]
enum BodyParts {
    Data(Vec<u8>),
    Ack,
    Beacon(BeaconParts),
    Command(MacCommand),
    Other(Vec<u8>),
}

fn mac_frame_parts() -> impl Strategy<Value = (MacHeader, BodyParts)> {
    prop_oneof![
        (mac_header(FrameType::Data, false), bytes(40)).prop_map(|(h, p)| (h, BodyParts::Data(p))),
        mac_header(FrameType::Ack, false).prop_map(|h| (h, BodyParts::Ack)),
        (mac_header(FrameType::Beacon, false), beacon_parts())
            .prop_map(|(h, b)| (h, BodyParts::Beacon(b))),
        (mac_header(FrameType::MacCommand, false), mac_command())
            .prop_map(|(h, c)| (h, BodyParts::Command(c))),
        (mac_header(FrameType::Other(4), false), bytes(20))
            .prop_map(|(h, p)| (h, BodyParts::Other(p))),
    ]
}

fn build_frame<'a>(header: MacHeader, body: &'a BodyParts) -> MacFrame<'a> {
    let body = match body {
        BodyParts::Data(p) => MacBody::Data(p),
        BodyParts::Ack => MacBody::Ack,
        BodyParts::Beacon(b) => MacBody::Beacon(b.beacon()),
        BodyParts::Command(c) => MacBody::Command(c.clone()),
        BodyParts::Other(p) => MacBody::Other(p),
    };
    MacFrame { header, body }
}

// ---------------------------------------------------------------- strategies: NWK

fn discover_route() -> impl Strategy<Value = DiscoverRoute> {
    (0u8..4).prop_map(DiscoverRoute::from_bits)
}

prop_compose! {
    fn source_route()(relay_index in any::<u8>(), relays in vec(short(), 0..12)) -> SourceRoute {
        SourceRoute { relay_index, relays }
    }
}

prop_compose! {
    fn nwk_full_header()(
        frame_type in prop_oneof![
            Just(NwkFrameType::Data),
            Just(NwkFrameType::Command),
            Just(NwkFrameType::Other(2)),
        ],
        protocol_version in 0u8..16,
        discover_route in discover_route(),
        security in any::<bool>(),
        end_device_initiator in any::<bool>(),
        reserved in 0u8..4,
        dst in short(),
        src in short(),
        radius in any::<u8>(),
        seq in any::<u8>(),
        dst_ieee in proptest::option::of(ext()),
        src_ieee in proptest::option::of(ext()),
        multicast_control in proptest::option::of(any::<u8>()),
        source_route in proptest::option::of(source_route()),
    ) -> NwkHeader {
        NwkHeader {
            frame_type,
            protocol_version,
            discover_route,
            security,
            end_device_initiator,
            reserved,
            dst,
            src,
            radius,
            seq,
            dst_ieee,
            src_ieee,
            multicast_control,
            source_route,
        }
    }
}

prop_compose! {
    fn nwk_inter_pan_header()(
        protocol_version in 0u8..16,
        discover_route in discover_route(),
        security in any::<bool>(),
        end_device_initiator in any::<bool>(),
        reserved in 0u8..4,
    ) -> NwkHeader {
        let mut h = NwkHeader::new(NwkFrameType::InterPan, ShortAddr(0), ShortAddr(0), 0, 0);
        h.protocol_version = protocol_version;
        h.discover_route = discover_route;
        h.security = security;
        h.end_device_initiator = end_device_initiator;
        h.reserved = reserved;
        h
    }
}

fn nwk_header() -> impl Strategy<Value = NwkHeader> {
    prop_oneof![4 => nwk_full_header(), 1 => nwk_inter_pan_header()]
}

prop_compose! {
    fn link_status_entry()(
        addr in short(),
        incoming_cost in 0u8..8,
        outgoing_cost in 0u8..8,
        reserved in any::<u8>(),
    ) -> LinkStatusEntry {
        LinkStatusEntry { addr, incoming_cost, outgoing_cost, reserved: reserved & 0x88 }
    }
}

fn network_report_info() -> impl Strategy<Value = NetworkReportInfo> {
    prop_oneof![
        vec(pan(), 0..=31).prop_map(NetworkReportInfo::PanIdConflict),
        (1u8..8, 0u8..32, bytes(20)).prop_map(|(report_type, count, data)| {
            NetworkReportInfo::Other { report_type, count, data }
        }),
    ]
}

fn nwk_command() -> impl Strategy<Value = NwkCommand> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), short(), any::<u8>(), proptest::option::of(ext())).prop_map(
            |(o, id, dst, path_cost, dst_ieee)| {
                let o = (o & !RouteRequestOptions::DST_IEEE)
                    | if dst_ieee.is_some() { RouteRequestOptions::DST_IEEE } else { 0 };
                NwkCommand::RouteRequest {
                    options: RouteRequestOptions(o),
                    id,
                    dst,
                    path_cost,
                    dst_ieee,
                }
            }
        ),
        (
            any::<u8>(),
            any::<u8>(),
            short(),
            short(),
            any::<u8>(),
            proptest::option::of(ext()),
            proptest::option::of(ext()),
        )
            .prop_map(|(o, id, originator, responder, path_cost, oi, ri)| {
                let mut o =
                    o & !(RouteReplyOptions::ORIGINATOR_IEEE | RouteReplyOptions::RESPONDER_IEEE);
                if oi.is_some() {
                    o |= RouteReplyOptions::ORIGINATOR_IEEE;
                }
                if ri.is_some() {
                    o |= RouteReplyOptions::RESPONDER_IEEE;
                }
                NwkCommand::RouteReply {
                    options: RouteReplyOptions(o),
                    id,
                    originator,
                    responder,
                    path_cost,
                    originator_ieee: oi,
                    responder_ieee: ri,
                }
            }),
        (any::<u8>(), short()).prop_map(|(status, dst)| NwkCommand::NetworkStatus { status, dst }),
        any::<u8>().prop_map(|o| NwkCommand::Leave { options: LeaveOptions(o) }),
        vec(short(), 0..40).prop_map(|relays| NwkCommand::RouteRecord { relays }),
        any::<u8>().prop_map(|c| NwkCommand::RejoinRequest { capability: CapabilityInfo(c) }),
        (short(), any::<u8>())
            .prop_map(|(short_addr, status)| NwkCommand::RejoinResponse { short_addr, status }),
        (any::<bool>(), any::<bool>(), any::<bool>(), vec(link_status_entry(), 0..=31)).prop_map(
            |(first_frame, last_frame, reserved, entries)| {
                NwkCommand::LinkStatus { first_frame, last_frame, reserved, entries }
            }
        ),
        (any::<u64>(), network_report_info())
            .prop_map(|(epid, report)| NwkCommand::NetworkReport { epid, report }),
        (any::<u8>(), any::<u64>(), any::<u8>(), pan()).prop_map(
            |(options, epid, update_id, new_pan_id)| NwkCommand::NetworkUpdate {
                options,
                epid,
                update_id,
                new_pan_id,
            }
        ),
        (any::<u8>(), any::<u8>()).prop_map(|(timeout, configuration)| {
            NwkCommand::EndDeviceTimeoutRequest { timeout, configuration }
        }),
        (any::<u8>(), any::<u8>()).prop_map(|(status, parent_info)| {
            NwkCommand::EndDeviceTimeoutResponse { status, parent_info }
        }),
        (any::<u8>(), vec((short(), any::<i8>()), 0..20)).prop_map(|(options, e)| {
            NwkCommand::LinkPowerDelta {
                options,
                entries: e
                    .into_iter()
                    .map(|(addr, delta)| PowerDeltaEntry { addr, delta })
                    .collect(),
            }
        }),
        (any::<u8>(), any::<u8>(), bytes(20)).prop_map(|(association_type, c, tlvs)| {
            NwkCommand::CommissioningRequest {
                association_type,
                capability: CapabilityInfo(c),
                tlvs,
            }
        }),
        (short(), any::<u8>()).prop_map(|(short_addr, status)| {
            NwkCommand::CommissioningResponse { short_addr, status }
        }),
        (prop_oneof![Just(0u8), 0x10u8..=0xff], bytes(20))
            .prop_map(|(id, payload)| NwkCommand::Other { id, payload }),
    ]
}

// ---------------------------------------------------------------- helpers

fn emit_mac(f: &MacFrame<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    f.emit(&mut out);
    assert_eq!(out.len(), f.buffer_len());
    out
}

/// Parses `data` with every parser; whatever is accepted must re-emit to the same bytes.
fn parse_everything(data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(f) = MacFrame::parse(data) {
        prop_assert_eq!(emit_mac(&f), data);
    }
    if let Ok((h, len)) = MacHeader::parse(data) {
        let mut out = Vec::new();
        h.emit(&mut out);
        prop_assert_eq!(&out[..], &data[..len]);
        prop_assert_eq!(h.buffer_len(), len);
    }
    let p = MacPacket::new_unchecked(data);
    let _ = (p.frame_type(), p.sequence(), p.dst_pan(), p.src_pan(), p.dst_addr());
    let _ = (p.src_addr(), p.payload(), p.header_len(), p.check_len());
    if let Ok(c) = MacCommand::parse(data) {
        let mut out = Vec::new();
        c.emit(&mut out);
        prop_assert_eq!(&out[..], data);
    }
    if let Ok(b) = Beacon::parse(data) {
        let mut out = Vec::new();
        b.emit(&mut out);
        prop_assert_eq!(&out[..], data);
        let _ = b.zigbee();
    }
    if let Ok(z) = ZigbeeBeaconPayload::parse(data) {
        let mut out = Vec::new();
        z.emit(&mut out);
        prop_assert_eq!(&out[..], data);
    }
    if let Ok((h, len)) = NwkHeader::parse(data) {
        let mut out = Vec::new();
        h.emit(&mut out);
        prop_assert_eq!(&out[..], &data[..len]);
        prop_assert_eq!(h.buffer_len(), len);
    }
    if let Ok(f) = NwkFrame::parse(data) {
        let mut out = Vec::new();
        f.emit(&mut out);
        prop_assert_eq!(&out[..], data);
        let _ = f.command();
    }
    let p = NwkPacket::new_unchecked(data);
    let _ = (p.frame_type(), p.dst_addr(), p.src_addr(), p.radius(), p.seq(), p.dst_ieee());
    let _ = (p.src_ieee(), p.multicast_control(), p.header_bytes(), p.payload());
    if let Ok(c) = NwkCommand::parse(data) {
        let mut out = Vec::new();
        c.emit(&mut out);
        prop_assert_eq!(&out[..], data);
        prop_assert_eq!(c.buffer_len(), data.len());
        let _ = (c.name(), c.status_name());
    }
    Ok(())
}

// ---------------------------------------------------------------- properties

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(64)) {
        parse_everything(&data)?;
    }

    /// Random bytes rarely get past the frame control; mutating valid frames reaches deeper.
    #[test]
    fn mutated_valid_frames_never_panic(
        (header, body) in mac_frame_parts(),
        nwk in nwk_header(),
        cmd in nwk_command(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut inputs = vec![emit_mac(&build_frame(header, &body))];
        let mut n = Vec::new();
        nwk.emit(&mut n);
        cmd.emit(&mut n);
        inputs.push(n);
        let mut c = Vec::new();
        cmd.emit(&mut c);
        inputs.push(c);
        for mut data in inputs {
            parse_everything(&data)?;
            if data.is_empty() {
                continue;
            }
            let short = data[..cut.index(data.len())].to_vec();
            parse_everything(&short)?;
            for (i, v) in &flips {
                let i = i.index(data.len());
                data[i] ^= v;
            }
            parse_everything(&data)?;
        }
    }

    #[test]
    fn mac_frames_round_trip((header, body) in mac_frame_parts()) {
        let frame = build_frame(header, &body);
        let bytes = emit_mac(&frame);
        let parsed = MacFrame::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &frame);
        prop_assert_eq!(emit_mac(&parsed), bytes.clone());
        let (h, len) = MacHeader::parse(&bytes).unwrap();
        prop_assert_eq!(h, header);
        prop_assert_eq!(len, header.buffer_len());
        // The view agrees with the value.
        let p = MacPacket::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(p.sequence(), header.sequence);
        prop_assert_eq!(p.dst_pan(), header.dst_pan);
        prop_assert_eq!(p.src_pan(), header.src_pan);
        prop_assert_eq!(p.dst_addr(), header.dst_addr);
        prop_assert_eq!(p.src_addr(), header.src_addr);
        prop_assert_eq!(p.payload(), &bytes[len..]);
        // FCS variant checks out.
        let mut with_fcs = Vec::new();
        frame.emit_with_fcs(&mut with_fcs);
        prop_assert_eq!(zigtrust_wire::mac::strip_fcs(&with_fcs).unwrap(), &bytes[..]);
    }

    #[test]
    fn secured_mac_headers_round_trip(header in mac_header(FrameType::Data, true)) {
        let mut bytes = Vec::new();
        header.emit(&mut bytes);
        prop_assert_eq!(MacHeader::parse(&bytes).unwrap(), (header, bytes.len()));
        prop_assert!(MacFrame::parse(&bytes).is_err());
    }

    #[test]
    fn zigbee_beacon_payloads_round_trip(z in zigbee_beacon_payload()) {
        let mut bytes = Vec::new();
        z.emit(&mut bytes);
        prop_assert_eq!(bytes.len(), z.buffer_len());
        let parsed = ZigbeeBeaconPayload::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &z);
    }

    #[test]
    fn nwk_frames_round_trip(header in nwk_header(), payload in bytes(40)) {
        let frame = NwkFrame { header: header.clone(), payload: &payload };
        let mut bytes = Vec::new();
        frame.emit(&mut bytes);
        prop_assert_eq!(bytes.len(), frame.buffer_len());
        let parsed = NwkFrame::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &frame);
        let mut again = Vec::new();
        parsed.emit(&mut again);
        prop_assert_eq!(&again, &bytes);
        let p = NwkPacket::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(p.header_len().unwrap(), header.buffer_len());
        prop_assert_eq!(p.dst_ieee(), header.dst_ieee);
        prop_assert_eq!(p.src_ieee(), header.src_ieee);
        prop_assert_eq!(p.multicast_control(), header.multicast_control);
        prop_assert_eq!(p.payload(), &payload[..]);
        for n in 0..header.buffer_len() {
            prop_assert!(NwkHeader::parse(&bytes[..n]).is_err());
        }
    }

    #[test]
    fn nwk_commands_round_trip(cmd in nwk_command()) {
        let mut bytes = Vec::new();
        cmd.emit(&mut bytes);
        prop_assert_eq!(bytes.len(), cmd.buffer_len());
        let parsed = NwkCommand::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &cmd);
        let mut again = Vec::new();
        parsed.emit(&mut again);
        prop_assert_eq!(&again, &bytes);
        prop_assert_eq!(parsed.id(), bytes[0]);
    }

    #[test]
    fn mac_commands_round_trip(cmd in mac_command()) {
        let mut bytes = Vec::new();
        cmd.emit(&mut bytes);
        prop_assert_eq!(bytes.len(), cmd.buffer_len());
        prop_assert_eq!(MacCommand::parse(&bytes).unwrap(), cmd);
    }
}

/// End to end through both layers: a secured Leave captured on air.
#[test]
fn mac_then_nwk_leave_header() {
    let nwk = zigtrust_crypto::decode_hex_loose("0912fdff8fa101c3df0f289b6d38c1a4").unwrap();
    let header = MacHeader::data(
        0x10,
        PanId(0x1a64),
        Address::Short(ShortAddr::BROADCAST),
        Address::Short(ShortAddr(0xa18f)),
        false,
    );
    let mut bytes = Vec::new();
    MacFrame::data(header, &nwk).emit_with_fcs(&mut bytes);
    let frame = MacFrame::parse(zigtrust_wire::mac::strip_fcs(&bytes).unwrap()).unwrap();
    assert_eq!(frame.header.frame_control(), 0x8841);
    let MacBody::Data(payload) = frame.body else { panic!("not data") };
    let n = NwkFrame::parse(payload).unwrap();
    assert_eq!(n.header.frame_type, NwkFrameType::Command);
    assert!(n.header.security);
    assert!(n.payload.is_empty());
}
