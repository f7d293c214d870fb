//! Property tests for the APS and ZDO codecs: no input panics a parser, and every well-formed
//! repr survives emit → parse unchanged with stable bytes.

use proptest::prelude::*;
use zigtrust_crypto::Key;
use zigtrust_wire::aps::{
    ApsCommand, ApsExtendedHeader, ApsFrame, ApsFrameType, ApsHeader, ApsPacket, DeliveryMode,
    KeyType, TransportKey, TransportKeyBody, UpdateDeviceStatus,
};
use zigtrust_wire::zdo::{self, DeviceAnnce, MgmtLeaveReq, PermitJoiningReq, ZdoMessage};
use zigtrust_wire::{CapabilityInfo, ExtAddr, ShortAddr};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

fn ext_addr() -> impl Strategy<Value = ExtAddr> {
    any::<u64>().prop_map(ExtAddr)
}

fn frame_type() -> impl Strategy<Value = ApsFrameType> {
    (0u8..4).prop_map(ApsFrameType::from_bits)
}

fn delivery_mode() -> impl Strategy<Value = DeliveryMode> {
    (0u8..4).prop_map(DeliveryMode::from_bits)
}

/// A header whose Options match what its frame control puts on air (the layout rules restated
/// independently of the codec).
fn header() -> impl Strategy<Value = ApsHeader> {
    (
        (frame_type(), delivery_mode(), any::<bool>(), any::<bool>(), any::<bool>()),
        (any::<u8>(), any::<u16>(), any::<u16>(), any::<u16>(), any::<u8>(), any::<u8>()),
        proptest::option::of((0u8..4, any::<u8>(), any::<u8>(), any::<u8>())),
    )
        .prop_map(|((ft, dm, ack_format, security, ack_request), f, ext)| {
            let (dst, group, cluster, profile, src, counter) = f;
            let interpan = ft == ApsFrameType::InterPan;
            let addressed = ft == ApsFrameType::Data || (ft == ApsFrameType::Ack && !ack_format);
            let has_dst =
                addressed && matches!(dm, DeliveryMode::Unicast | DeliveryMode::Broadcast);
            let has_group = (addressed || interpan) && dm == DeliveryMode::Group;
            let has_cp = addressed || interpan;
            let extended = ext.map(|(fragmentation, reserved, block, bits)| ApsExtendedHeader {
                fragmentation,
                reserved: reserved & 0xfc,
                block_number: (fragmentation != 0).then_some(block),
                ack_bitfield: (fragmentation != 0 && ft == ApsFrameType::Ack).then_some(bits),
            });
            ApsHeader {
                frame_type: ft,
                delivery_mode: dm,
                ack_format,
                security,
                ack_request,
                dst_endpoint: has_dst.then_some(dst),
                group: has_group.then_some(group),
                cluster: has_cp.then_some(cluster),
                profile: has_cp.then_some(profile),
                src_endpoint: addressed.then_some(src),
                counter: if interpan { 0 } else { counter },
                extended,
            }
        })
}

fn key() -> impl Strategy<Value = Key> {
    any::<[u8; 16]>().prop_map(Key::from_bytes)
}

fn transport_key() -> impl Strategy<Value = TransportKey> {
    (
        any::<u8>(),
        key(),
        any::<u8>(),
        ext_addr(),
        ext_addr(),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(kt, key, seq, a, b, initiator, rest)| {
            let key_type = KeyType::from_u8(kt % 8);
            let body = match key_type {
                KeyType::StandardNetworkKey | KeyType::HighSecurityNetworkKey => {
                    TransportKeyBody::Network { seq, dst: a, src: b }
                }
                KeyType::TrustCenterMasterKey | KeyType::TrustCenterLinkKey => {
                    TransportKeyBody::TrustCenter { dst: a, src: b }
                }
                KeyType::ApplicationMasterKey | KeyType::ApplicationLinkKey => {
                    TransportKeyBody::Application { partner: a, initiator }
                }
                KeyType::Other(_) => TransportKeyBody::Unknown { rest },
            };
            TransportKey { key_type, key, body }
        })
}

/// Command ids that parse to `Other` (everything not given its own variant).
fn other_id() -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("has its own variant", |id| !matches!(id, 0x05..=0x09 | 0x0e..=0x12))
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn command() -> impl Strategy<Value = ApsCommand> {
    prop_oneof![
        transport_key().prop_map(ApsCommand::TransportKey),
        (ext_addr(), any::<u16>(), any::<u8>(), bytes(16)).prop_map(|(device, s, st, tlvs)| {
            ApsCommand::UpdateDevice {
                device,
                short_addr: ShortAddr(s),
                status: UpdateDeviceStatus::from_u8(st),
                tlvs,
            }
        }),
        ext_addr().prop_map(|target| ApsCommand::RemoveDevice { target }),
        (any::<u8>(), ext_addr()).prop_map(|(kt, p)| {
            let key_type = KeyType::from_u8(kt);
            let partner = matches!(kt, 2 | 3).then_some(p);
            ApsCommand::RequestKey { key_type, partner }
        }),
        any::<u8>().prop_map(|seq| ApsCommand::SwitchKey { seq }),
        (ext_addr(), bytes(48)).prop_map(|(dst, frame)| ApsCommand::Tunnel { dst, frame }),
        (any::<u8>(), ext_addr(), any::<[u8; 16]>()).prop_map(|(kt, src, hash)| {
            ApsCommand::VerifyKey { key_type: KeyType::from_u8(kt), src, hash }
        }),
        (any::<u8>(), any::<u8>(), ext_addr()).prop_map(|(status, kt, dst)| {
            ApsCommand::ConfirmKey { status, key_type: KeyType::from_u8(kt), dst }
        }),
        bytes(32).prop_map(|payload| ApsCommand::RelayMessageDownstream { payload }),
        bytes(32).prop_map(|payload| ApsCommand::RelayMessageUpstream { payload }),
        (other_id(), bytes(32)).prop_map(|(id, payload)| ApsCommand::Other { id, payload }),
    ]
}

fn zdo_message() -> impl Strategy<Value = ZdoMessage> {
    prop_oneof![
        (any::<u8>(), any::<u16>(), ext_addr(), any::<u8>()).prop_map(|(seq, n, ieee, c)| {
            ZdoMessage::DeviceAnnce(DeviceAnnce {
                seq,
                nwk_addr: ShortAddr(n),
                ieee,
                capability: CapabilityInfo(c),
            })
        }),
        any::<[u8; 3]>().prop_map(|[seq, duration, tc_significance]| {
            ZdoMessage::PermitJoiningReq(PermitJoiningReq { seq, duration, tc_significance })
        }),
        (any::<u8>(), ext_addr(), any::<u8>()).prop_map(|(seq, ieee, flags)| {
            ZdoMessage::MgmtLeaveReq(MgmtLeaveReq { seq, ieee, flags })
        }),
        (any::<u16>(), any::<u8>(), bytes(32))
            .prop_filter("typed clusters", |(c, _, _)| {
                !matches!(
                    *c,
                    zdo::DEVICE_ANNCE | zdo::MGMT_PERMIT_JOINING_REQ | zdo::MGMT_LEAVE_REQ
                )
            })
            .prop_map(|(cluster, seq, payload)| ZdoMessage::Other { cluster, seq, payload }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(buf in bytes(80), cluster in any::<u16>()) {
        if let Ok((h, len)) = ApsHeader::parse(&buf) {
            // Whatever parses re-emits to the same bytes.
            prop_assert!(len <= buf.len());
            prop_assert_eq!(h.buffer_len(), len);
            let mut out = Vec::new();
            h.emit(&mut out);
            prop_assert_eq!(&out[..], &buf[..len]);
        }
        if let Ok(f) = ApsFrame::parse(&buf) {
            let _ = f.command();
        }
        if let Ok(p) = ApsPacket::new_checked(&buf[..]) {
            prop_assert_eq!(p.header_len() + p.payload().len(), buf.len());
        }
        if let Ok(c) = ApsCommand::parse(&buf) {
            let _ = c.name();
            let _ = c.tunnelled_frame();
            let mut out = Vec::new();
            c.emit(&mut out);
            prop_assert_eq!(out, buf.clone());
        }
        for cl in [cluster, zdo::DEVICE_ANNCE, zdo::MGMT_PERMIT_JOINING_REQ, zdo::MGMT_LEAVE_REQ] {
            if let Ok(m) = ZdoMessage::parse(cl, &buf) {
                let _ = m.name();
                let mut out = Vec::new();
                m.emit(&mut out);
                prop_assert_eq!(out, buf.clone());
            }
        }
    }

    /// Command ids with structure, followed by random bytes: exercises the typed parsers.
    #[test]
    fn command_shaped_bytes_never_panic(id in 0u8..0x14, kt in 0u8..8, rest in bytes(48)) {
        let mut buf = vec![id, kt];
        buf.extend_from_slice(&rest);
        for n in 0..=buf.len() {
            let _ = ApsCommand::parse(&buf[..n]);
        }
    }

    #[test]
    fn header_roundtrip(h in header(), payload in bytes(24)) {
        let mut out = Vec::new();
        h.emit(&mut out);
        prop_assert_eq!(out.len(), h.buffer_len());
        let (parsed, len) = ApsHeader::parse(&out).unwrap();
        prop_assert_eq!(parsed, h);
        prop_assert_eq!(len, out.len());

        let frame = ApsFrame { header: h, payload: &payload };
        let mut fb = Vec::new();
        frame.emit(&mut fb);
        prop_assert_eq!(fb.len(), frame.buffer_len());
        prop_assert_eq!(ApsFrame::parse(&fb).unwrap(), frame);
        let p = ApsPacket::new_checked(&fb[..]).unwrap();
        prop_assert_eq!(p.repr(), frame);
        prop_assert_eq!(p.frame_control(), h.frame_control());
        for cut in 0..out.len() {
            prop_assert!(ApsHeader::parse(&out[..cut]).is_err());
        }
    }

    #[test]
    fn command_roundtrip(c in command()) {
        let mut out = Vec::new();
        c.emit(&mut out);
        prop_assert_eq!(out.len(), c.buffer_len());
        let parsed = ApsCommand::parse(&out).unwrap();
        prop_assert_eq!(&parsed, &c);
        let mut again = Vec::new();
        parsed.emit(&mut again);
        prop_assert_eq!(again, out);
    }

    #[test]
    fn command_in_frame_roundtrip(c in command(), counter in any::<u8>()) {
        let mut out = Vec::new();
        ApsHeader::command(counter, false).emit(&mut out);
        c.emit(&mut out);
        let f = ApsFrame::parse(&out).unwrap();
        prop_assert_eq!(f.header.counter, counter);
        prop_assert_eq!(f.command().unwrap(), c);
    }

    #[test]
    fn zdo_roundtrip(m in zdo_message()) {
        let mut out = Vec::new();
        m.emit(&mut out);
        prop_assert_eq!(out.len(), m.buffer_len());
        let parsed = ZdoMessage::parse(m.cluster(), &out).unwrap();
        prop_assert_eq!(&parsed, &m);
        let mut again = Vec::new();
        parsed.emit(&mut again);
        prop_assert_eq!(again, out);
    }
}

/// The full Device_annce frame from capture (c): APS broadcast header + ZDO payload.
#[test]
fn device_annce_frame_c() {
    let bytes =
        zigtrust_crypto::decode_hex_loose("08 00 1300 0000 00 7b 00 8fa1 df0f289b6d38c1a4 8e")
            .unwrap();
    let f = ApsFrame::parse(&bytes).unwrap();
    assert_eq!(f.header.profile, Some(zdo::PROFILE_ZDO));
    let cluster = f.header.cluster.unwrap();
    assert_eq!(zdo::cluster_name(cluster), Some("Device_annce"));
    let ZdoMessage::DeviceAnnce(d) = ZdoMessage::parse(cluster, f.payload).unwrap() else {
        panic!("not a Device_annce");
    };
    assert_eq!(d.ieee, "a4:c1:38:6d:9b:28:0f:df".parse().unwrap());
    assert_eq!(d.nwk_addr, ShortAddr(0xa18f));
}

/// Frame (f): an unsecured Verify-Key command frame.
#[test]
fn verify_key_frame_f() {
    let bytes = zigtrust_crypto::decode_hex_loose(
        "01 84 0f 04 df0f289b6d38c1a4 1ab128df1639a1246aaba72a6a559124",
    )
    .unwrap();
    let f = ApsFrame::parse(&bytes).unwrap();
    assert_eq!(f.header, ApsHeader::command(0x84, false));
    let c = f.command().unwrap();
    assert_eq!(c.name(), "Verify Key");
    let ApsCommand::VerifyKey { key_type, .. } = c else { panic!() };
    assert_eq!(key_type.name(), "Trust Center Link Key");
}
