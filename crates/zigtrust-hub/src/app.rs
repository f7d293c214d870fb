//! The hub application's duties toward devices, for frames to the coordinator under the active
//! network key: acknowledge their reports (a device that asks for an APS ack retries, and
//! eventually looks for a new parent, when none comes), and answer the ZDO requests devices
//! make about the coordinator itself (node, power, active endpoints and simple descriptors,
//! addresses): Zigbee 3.0 devices read the coordinator's node descriptor after joining — its
//! stack compliance revision decides their link-key update — and some leave without an answer.

use zigtrust_crypto::CcmStar;
use zigtrust_tc::TrustCenter;
use zigtrust_wire::aps::{ApsFrameType, ApsHeader};
use zigtrust_wire::mac::{MacBody, MacFrame};
use zigtrust_wire::nwk::{NwkFrameType, NwkHeader};
use zigtrust_wire::security::{open, AuxHeader, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::zdo::{
    ACTIVE_EP_REQ, IEEE_ADDR_REQ, NODE_DESC_REQ, NWK_ADDR_REQ, POWER_DESC_REQ, PROFILE_ZDO,
    RESPONSE_BIT, SIMPLE_DESC_REQ,
};
use zigtrust_wire::{ExtAddr, ShortAddr};

/// The coordinator's one application endpoint (Home Automation profile, no clusters: it only
/// administers the network).
const ENDPOINT: u8 = 1;
/// ZDO statuses (Zigbee spec 2.4.5).
const SUCCESS: u8 = 0x00;
const DEVICE_NOT_FOUND: u8 = 0x81;
const NOT_ACTIVE: u8 = 0x83;
/// The node descriptor's server mask: primary Trust Center (bit 0), network manager (bit 6),
/// stack compliance revision 22 (bits 9-15).
const SERVER_MASK: u16 = 0x0001 | 0x0040 | (22 << 9);

/// What the hub application sends for one received frame: APS frames for the sender.
pub(crate) fn answers(tc: &mut TrustCenter, psdu: &[u8]) -> Option<(ExtAddr, Vec<Vec<u8>>)> {
    let mac = MacFrame::parse(psdu).ok()?;
    let MacBody::Data(nwk) = mac.body else { return None };
    let (nh, hl) = NwkHeader::parse(nwk).ok()?;
    if !nh.security || nh.dst != ShortAddr::COORDINATOR || nh.frame_type != NwkFrameType::Data {
        return None;
    }
    let (aux, _) = AuxHeader::parse(&nwk[hl..]).ok()?;
    if aux.key_seq != Some(tc.active_key_seq()) {
        return None;
    }
    let key = &tc.network_key(tc.active_key_seq())?.key;
    let o = open(&CcmStar::new(key), ZIGBEE_PRO_LEVEL, nwk, hl, None).ok()?;
    let (ah, n) = ApsHeader::parse(&o.plaintext).ok()?;
    if ah.frame_type != ApsFrameType::Data || ah.security {
        return None;
    }
    let mut out = Vec::new();
    if ah.ack_request {
        let mut ack = Vec::new();
        ApsHeader::ack_for(&ah).emit(&mut ack);
        out.push(ack);
    }
    if ah.profile == Some(PROFILE_ZDO) && ah.dst_endpoint == Some(0) {
        let tc_ieee = tc.network()?.tc_ieee;
        if let Some((cluster, body)) = zdo_answer(ah.cluster?, &o.plaintext[n..], tc_ieee) {
            let counter = tc.next_aps_counter();
            let mut f = Vec::new();
            ApsHeader::data_unicast(ah.src_endpoint.unwrap_or(0), cluster, PROFILE_ZDO, 0, counter)
                .emit(&mut f);
            f.extend_from_slice(&body);
            out.push(f);
        }
    }
    (!out.is_empty()).then_some((nh.src_ieee?, out))
}

/// The response (cluster, payload) to a ZDO request about the coordinator, if it is one the
/// hub answers. Requests naming another device get DEVICE_NOT_FOUND: the coordinator keeps no
/// descriptors of others.
fn zdo_answer(cluster: u16, req: &[u8], tc_ieee: ExtAddr) -> Option<(u16, Vec<u8>)> {
    let (&tsn, rest) = req.split_first()?;
    let addr = |b: &[u8]| b.get(..2).map(|a| u16::from_le_bytes([a[0], a[1]]));
    let me = ShortAddr::COORDINATOR.0.to_le_bytes();
    let mut out = vec![tsn];
    match cluster {
        NODE_DESC_REQ => {
            if addr(rest)? != 0 {
                out.extend_from_slice(&[DEVICE_NOT_FOUND, rest[0], rest[1]]);
            } else {
                out.extend_from_slice(&[SUCCESS, me[0], me[1]]);
                // Coordinator, 2.4 GHz; capability: alternate PAN coordinator, FFD, mains
                // powered, receiver on when idle, allocates addresses.
                out.extend_from_slice(&[0x00, 0x40, 0x8f]);
                out.extend_from_slice(&0x0000u16.to_le_bytes()); // manufacturer code: none
                out.push(82); // maximum buffer size
                out.extend_from_slice(&82u16.to_le_bytes()); // maximum incoming transfer
                out.extend_from_slice(&SERVER_MASK.to_le_bytes());
                out.extend_from_slice(&82u16.to_le_bytes()); // maximum outgoing transfer
                out.push(0x00); // descriptor capability
            }
        }
        POWER_DESC_REQ => {
            if addr(rest)? != 0 {
                out.extend_from_slice(&[DEVICE_NOT_FOUND, rest[0], rest[1]]);
            } else {
                // Receiver on when idle, mains available and in use, full.
                out.extend_from_slice(&[SUCCESS, me[0], me[1], 0x10, 0xc1]);
            }
        }
        ACTIVE_EP_REQ => {
            if addr(rest)? != 0 {
                out.extend_from_slice(&[DEVICE_NOT_FOUND, rest[0], rest[1], 0]);
            } else {
                out.extend_from_slice(&[SUCCESS, me[0], me[1], 1, ENDPOINT]);
            }
        }
        SIMPLE_DESC_REQ => {
            let ep = *rest.get(2)?;
            if addr(rest)? != 0 {
                out.extend_from_slice(&[DEVICE_NOT_FOUND, rest[0], rest[1], 0]);
            } else if ep != ENDPOINT {
                out.extend_from_slice(&[NOT_ACTIVE, me[0], me[1], 0]);
            } else {
                // Endpoint 1, Home Automation, device "configuration tool" (0x0005), version
                // 0, no input or output clusters.
                let desc = [ENDPOINT, 0x04, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00];
                out.extend_from_slice(&[SUCCESS, me[0], me[1], desc.len() as u8]);
                out.extend_from_slice(&desc);
            }
        }
        IEEE_ADDR_REQ | NWK_ADDR_REQ => {
            let ours = if cluster == IEEE_ADDR_REQ {
                addr(rest)? == 0
            } else {
                rest.get(..8)? == tc_ieee.0.to_le_bytes()
            };
            if !ours {
                return None; // another device's address: its own answer, not ours
            }
            out.push(SUCCESS);
            out.extend_from_slice(&tc_ieee.0.to_le_bytes());
            out.extend_from_slice(&me);
        }
        _ => return None,
    }
    Some((cluster | RESPONSE_BIT, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zigtrust_tc::model::Snapshot;
    use zigtrust_tc::AdminCommand;
    use zigtrust_wire::mac::{Address, MacHeader};
    use zigtrust_wire::security::secure_nwk;
    use zigtrust_wire::PanId;

    const DEVICE: ExtAddr = ExtAddr(0x00124b0000abcdef);

    fn formed() -> TrustCenter {
        let mut tc = TrustCenter::new(Snapshot::default(), [5; 32], 1_000);
        let form = AdminCommand::FormNetwork {
            pan_id: PanId(0x1234),
            extended_pan_id: 0xdddd_0000_0000_0001,
            channel: 15,
        };
        tc.command(1_000, form).unwrap();
        tc
    }

    /// A device's frame to the coordinator: `aps` under the network key `seq`.
    fn frame(tc: &TrustCenter, seq: u8, aps: &[u8]) -> Vec<u8> {
        let key = tc.network_key(seq).unwrap().key.clone();
        let mut h =
            NwkHeader::new(NwkFrameType::Data, ShortAddr::COORDINATOR, ShortAddr(0x4321), 30, 7);
        h.src_ieee = Some(DEVICE);
        let nwk =
            secure_nwk(&h, &AuxHeader::nwk(9, DEVICE, seq), aps, &key, ZIGBEE_PRO_LEVEL).unwrap();
        let hdr = MacHeader::data(
            3,
            PanId(0x1234),
            Address::Short(ShortAddr::COORDINATOR),
            Address::Short(ShortAddr(0x4321)),
            true,
        );
        let mut v = Vec::new();
        MacFrame { header: hdr, body: MacBody::Data(&nwk) }.emit(&mut v);
        v
    }

    fn zdo_request(cluster: u16, payload: &[u8], ack: bool) -> Vec<u8> {
        let mut h = ApsHeader::data_unicast(0, cluster, PROFILE_ZDO, 0, 0x33);
        h.ack_request = ack;
        let mut aps = Vec::new();
        h.emit(&mut aps);
        aps.extend_from_slice(payload);
        aps
    }

    /// The single answer to a request: (cluster, ZDO payload).
    fn answer(tc: &mut TrustCenter, cluster: u16, payload: &[u8]) -> Option<(u16, Vec<u8>)> {
        let f = frame(tc, tc.active_key_seq(), &zdo_request(cluster, payload, false));
        let (to, frames) = answers(tc, &f)?;
        assert_eq!(to, DEVICE);
        assert_eq!(frames.len(), 1);
        let (h, n) = ApsHeader::parse(&frames[0]).unwrap();
        assert_eq!((h.profile, h.dst_endpoint, h.src_endpoint), (Some(0), Some(0), Some(0)));
        Some((h.cluster.unwrap(), frames[0][n..].to_vec()))
    }

    #[test]
    fn the_coordinator_describes_itself_to_zdo_requests() {
        let mut tc = formed();
        let (c, p) = answer(&mut tc, NODE_DESC_REQ, &[0x10, 0x00, 0x00]).unwrap();
        assert_eq!(c, 0x8002);
        assert_eq!(&p[..4], &[0x10, SUCCESS, 0x00, 0x00]);
        assert_eq!(p.len(), 4 + 13, "a node descriptor is 13 bytes");
        assert_eq!(p[4] & 0x07, 0, "logical type: coordinator");
        assert_eq!(p[6], 0x8f, "FFD, mains, rx on when idle, allocates addresses");
        let mask = u16::from_le_bytes([p[12], p[13]]);
        assert_eq!(mask & 1, 1, "primary Trust Center");
        assert_eq!(mask >> 9, 22, "stack compliance revision 22: devices do the R21+ TCLK update");

        let (c, p) = answer(&mut tc, ACTIVE_EP_REQ, &[0x11, 0x00, 0x00]).unwrap();
        assert_eq!((c, p), (0x8005, vec![0x11, SUCCESS, 0, 0, 1, ENDPOINT]));
        let (c, p) = answer(&mut tc, SIMPLE_DESC_REQ, &[0x12, 0x00, 0x00, ENDPOINT]).unwrap();
        assert_eq!(c, 0x8004);
        assert_eq!((p[1], p[4], p[5]), (SUCCESS, 8, ENDPOINT));
        let (_, p) = answer(&mut tc, SIMPLE_DESC_REQ, &[0x13, 0x00, 0x00, 9]).unwrap();
        assert_eq!(p, vec![0x13, NOT_ACTIVE, 0, 0, 0]);
        let (c, p) = answer(&mut tc, POWER_DESC_REQ, &[0x14, 0x00, 0x00]).unwrap();
        assert_eq!((c, p), (0x8003, vec![0x14, SUCCESS, 0, 0, 0x10, 0xc1]));
        let me = tc.network().unwrap().tc_ieee.0.to_le_bytes();
        let (c, p) = answer(&mut tc, IEEE_ADDR_REQ, &[0x15, 0x00, 0x00, 0x00, 0x00]).unwrap();
        assert_eq!(c, 0x8001);
        assert_eq!((&p[2..10], &p[10..12]), (&me[..], &[0u8, 0][..]));
        let mut q = vec![0x16];
        q.extend_from_slice(&me);
        q.extend_from_slice(&[0, 0]);
        let (c, _) = answer(&mut tc, NWK_ADDR_REQ, &q).unwrap();
        assert_eq!(c, 0x8000);
        // About another device: not ours to describe.
        let (_, p) = answer(&mut tc, NODE_DESC_REQ, &[0x17, 0x34, 0x12]).unwrap();
        assert_eq!(p, vec![0x17, DEVICE_NOT_FOUND, 0x34, 0x12]);
        assert!(answer(&mut tc, IEEE_ADDR_REQ, &[0x18, 0x34, 0x12, 0, 0]).is_none());
        assert!(answer(&mut tc, 0x0031, &[0x19, 0]).is_none(), "Mgmt_Lqi_req: not answered");
        assert!(answer(&mut tc, NODE_DESC_REQ, &[0x1a]).is_none(), "a cut request");
    }

    #[test]
    fn answers_share_the_coordinators_aps_counter_and_come_with_the_ack() {
        let mut tc = formed();
        let f = frame(&tc, tc.active_key_seq(), &zdo_request(NODE_DESC_REQ, &[1, 0, 0], true));
        let (_, frames) = answers(&mut tc, &f).unwrap();
        assert_eq!(frames.len(), 2, "the APS ack, then the response");
        assert_eq!(ApsHeader::parse(&frames[0]).unwrap().0.frame_type, ApsFrameType::Ack);
        let first = ApsHeader::parse(&frames[1]).unwrap().0.counter;
        assert_eq!(tc.next_aps_counter(), first.wrapping_add(1), "one APS counter per source");
        // Frames under a key that is not the active one are the core's business.
        tc.command(2_000, AdminCommand::RotateNetworkKey { deadline_ms: 0 }).unwrap();
        let old = frame(&tc, 0, &zdo_request(NODE_DESC_REQ, &[1, 0, 0], true));
        assert_ne!(tc.active_key_seq(), 0);
        assert!(answers(&mut tc, &old).is_none());
    }
}
