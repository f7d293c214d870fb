//! The hub application's duties toward devices, for frames to the coordinator under the active
//! network key: acknowledge their reports (a device that asks for an APS ack retries, and
//! eventually looks for a new parent, when none comes), and answer the ZDO requests devices
//! make about the coordinator itself (node, power, active endpoints and simple descriptors,
//! addresses): Zigbee 3.0 devices read the coordinator's node descriptor after joining — its
//! stack compliance revision decides their link-key update — and some leave without an answer.
//! NWK_addr_req and IEEE_addr_req also come as broadcasts (a device looking up the
//! coordinator's address): the coordinator answers those about itself, once per broadcast
//! however many routers relay it, and leaves the others to the device they name.

use std::collections::VecDeque;
use zigtrust_crypto::CcmStar;
use zigtrust_tc::model::Millis;
use zigtrust_tc::TrustCenter;
use zigtrust_wire::aps::{ApsFrameType, ApsHeader, DeliveryMode};
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
/// How long a broadcast is remembered (nwkNetworkBroadcastDeliveryTime, 9 s by default): its
/// copies relayed by routers arrive within it.
const BROADCAST_MEMORY_MS: Millis = 9_000;
/// Broadcasts remembered at most (the broadcast transaction table's size); the oldest is
/// forgotten first, so forged broadcasts cannot grow it.
const BROADCASTS_KEPT: usize = 64;

/// The broadcasts already answered, by NWK source and sequence number (the broadcast
/// transaction table's key): each relayed copy comes under its relayer's NWK security, a fresh
/// frame counter, so only this tells a copy from a new request.
#[derive(Debug, Default)]
pub(crate) struct BroadcastsSeen {
    seen: VecDeque<(ShortAddr, u8, Millis)>,
}

impl BroadcastsSeen {
    /// Whether the broadcast (`src`, `seq`) is new at `now`; remembers it.
    fn first(&mut self, src: ShortAddr, seq: u8, now: Millis) -> bool {
        while self.seen.front().is_some_and(|b| b.2 + BROADCAST_MEMORY_MS <= now) {
            self.seen.pop_front();
        }
        if self.seen.iter().any(|b| b.0 == src && b.1 == seq) {
            return false;
        }
        if self.seen.len() >= BROADCASTS_KEPT {
            self.seen.pop_front();
        }
        self.seen.push_back((src, seq, now));
        true
    }
}

/// What the hub application sends for one received frame: APS frames for the sender.
pub(crate) fn answers(
    tc: &mut TrustCenter,
    broadcasts: &mut BroadcastsSeen,
    now: Millis,
    psdu: &[u8],
) -> Option<(ExtAddr, Vec<Vec<u8>>)> {
    let mac = MacFrame::parse(psdu).ok()?;
    let MacBody::Data(nwk) = mac.body else { return None };
    let (nh, hl) = NwkHeader::parse(nwk).ok()?;
    let broadcast = nh.dst.is_broadcast();
    if !nh.security
        || !(nh.dst == ShortAddr::COORDINATOR || broadcast)
        || nh.frame_type != NwkFrameType::Data
        || nh.src == ShortAddr::COORDINATOR
    {
        // (Our own broadcasts come back relayed by routers.)
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
    if broadcast {
        // Only address look-ups are answered by broadcast (only the device named answers
        // them); never with an APS ack, which broadcasts do not get.
        let lookup = matches!(ah.cluster, Some(NWK_ADDR_REQ | IEEE_ADDR_REQ));
        if ah.delivery_mode != DeliveryMode::Broadcast
            || ah.profile != Some(PROFILE_ZDO)
            || !lookup
            || !broadcasts.first(nh.src, nh.seq, now)
        {
            return None;
        }
    }
    let mut out = Vec::new();
    if ah.ack_request && !broadcast {
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
    if out.is_empty() {
        return None;
    }
    // The NWK extended source is optional (many devices leave it out of their data frames):
    // without it, the requester is the device the Trust Center knows at that short address.
    let to =
        nh.src_ieee.or_else(|| tc.device_at(nh.src).filter(|d| !d.tombstoned).map(|d| d.ieee))?;
    Some((to, out))
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
        frame_to(tc, seq, ShortAddr::COORDINATOR, 7, 9, aps)
    }

    /// A device's frame to NWK destination `dst` (a MAC broadcast when `dst` is a broadcast
    /// address) with NWK sequence number `nwk_seq` and NWK frame counter `fc`.
    fn frame_to(
        tc: &TrustCenter,
        seq: u8,
        dst: ShortAddr,
        nwk_seq: u8,
        fc: u32,
        aps: &[u8],
    ) -> Vec<u8> {
        frame_from(tc, seq, ShortAddr(0x4321), dst, nwk_seq, fc, aps)
    }

    /// [`frame_to`] with NWK source `src` (the MAC source stays the device's).
    fn frame_from(
        tc: &TrustCenter,
        seq: u8,
        src: ShortAddr,
        dst: ShortAddr,
        nwk_seq: u8,
        fc: u32,
        aps: &[u8],
    ) -> Vec<u8> {
        frame_with(tc, seq, src, Some(DEVICE), dst, (nwk_seq, fc), aps)
    }

    /// [`frame_from`] with the NWK extended source `src_ieee` (None: left out).
    fn frame_with(
        tc: &TrustCenter,
        seq: u8,
        src: ShortAddr,
        src_ieee: Option<ExtAddr>,
        dst: ShortAddr,
        (nwk_seq, fc): (u8, u32),
        aps: &[u8],
    ) -> Vec<u8> {
        let key = tc.network_key(seq).unwrap().key.clone();
        let mut h = NwkHeader::new(NwkFrameType::Data, dst, src, 30, nwk_seq);
        h.src_ieee = src_ieee;
        let aux = AuxHeader::nwk(fc, DEVICE, seq);
        let nwk = secure_nwk(&h, &aux, aps, &key, ZIGBEE_PRO_LEVEL).unwrap();
        let mac_dst = if dst.is_broadcast() { ShortAddr::BROADCAST } else { dst };
        let hdr = MacHeader::data(
            3,
            PanId(0x1234),
            Address::Short(mac_dst),
            Address::Short(ShortAddr(0x4321)),
            !dst.is_broadcast(),
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

    fn zdo_broadcast(cluster: u16, payload: &[u8]) -> Vec<u8> {
        let mut aps = Vec::new();
        ApsHeader::data_broadcast(0, cluster, PROFILE_ZDO, 0, 0x34).emit(&mut aps);
        aps.extend_from_slice(payload);
        aps
    }

    /// The single answer to a request: (cluster, ZDO payload).
    fn answer(tc: &mut TrustCenter, cluster: u16, payload: &[u8]) -> Option<(u16, Vec<u8>)> {
        let f = frame(tc, tc.active_key_seq(), &zdo_request(cluster, payload, false));
        single(answers(tc, &mut BroadcastsSeen::default(), 1_000, &f)?)
    }

    fn single((to, frames): (ExtAddr, Vec<Vec<u8>>)) -> Option<(u16, Vec<u8>)> {
        assert_eq!(to, DEVICE);
        assert_eq!(frames.len(), 1);
        let (h, n) = ApsHeader::parse(&frames[0]).unwrap();
        assert_eq!(h.delivery_mode, DeliveryMode::Unicast, "answers go to the requester alone");
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
        let (_, frames) = answers(&mut tc, &mut BroadcastsSeen::default(), 1_000, &f).unwrap();
        assert_eq!(frames.len(), 2, "the APS ack, then the response");
        assert_eq!(ApsHeader::parse(&frames[0]).unwrap().0.frame_type, ApsFrameType::Ack);
        let first = ApsHeader::parse(&frames[1]).unwrap().0.counter;
        assert_eq!(tc.next_aps_counter(), first.wrapping_add(1), "one APS counter per source");
        // Frames under a key that is not the active one are the core's business.
        tc.command(2_000, AdminCommand::RotateNetworkKey { deadline_ms: 0 }).unwrap();
        let old = frame(&tc, 0, &zdo_request(NODE_DESC_REQ, &[1, 0, 0], true));
        assert_ne!(tc.active_key_seq(), 0);
        assert!(answers(&mut tc, &mut BroadcastsSeen::default(), 2_000, &old).is_none());
    }

    #[test]
    fn broadcast_address_requests_are_answered_only_about_the_coordinator_and_once() {
        let mut tc = formed();
        let mut seen = BroadcastsSeen::default();
        let seq = tc.active_key_seq();
        let me = tc.network().unwrap().tc_ieee.0.to_le_bytes();
        let mut nwk_addr_req = vec![0x21];
        nwk_addr_req.extend_from_slice(&me);
        nwk_addr_req.extend_from_slice(&[0, 0]);
        // NWK_addr_req for the coordinator's IEEE, to every rx-on-when-idle device.
        let aps = zdo_broadcast(NWK_ADDR_REQ, &nwk_addr_req);
        let f = frame_to(&tc, seq, ShortAddr::RX_ON_WHEN_IDLE, 40, 40, &aps);
        let (c, p) = single(answers(&mut tc, &mut seen, 1_000, &f).unwrap()).unwrap();
        assert_eq!(c, 0x8000);
        assert_eq!((p[0], p[1], &p[2..10], &p[10..12]), (0x21, SUCCESS, &me[..], &[0u8, 0][..]));
        // The same broadcast relayed by a router (a fresh frame counter): answered already.
        let relayed = frame_to(&tc, seq, ShortAddr::RX_ON_WHEN_IDLE, 40, 140, &aps);
        assert_ne!(relayed, f);
        assert!(answers(&mut tc, &mut seen, 1_500, &relayed).is_none());
        // A new request (its own NWK sequence number) is answered, and so is the same number
        // once the broadcast is long over.
        let again = frame_to(&tc, seq, ShortAddr::BROADCAST, 41, 41, &aps);
        assert!(answers(&mut tc, &mut seen, 2_000, &again).is_some());
        assert!(answers(&mut tc, &mut seen, 11_000, &f).is_some());

        // IEEE_addr_req for 0x0000 by broadcast.
        let aps = zdo_broadcast(IEEE_ADDR_REQ, &[0x22, 0x00, 0x00, 0x00, 0x00]);
        let f = frame_to(&tc, seq, ShortAddr::BROADCAST, 42, 42, &aps);
        let (c, p) = single(answers(&mut tc, &mut seen, 12_000, &f).unwrap()).unwrap();
        assert_eq!((c, p[0], p[1], &p[2..10]), (0x8001, 0x22, SUCCESS, &me[..]));

        // About other devices: only they answer a broadcast.
        let mut other = vec![0x23];
        other.extend_from_slice(&0x00124b0000001234u64.to_le_bytes());
        other.extend_from_slice(&[0, 0]);
        let f = frame_to(
            &tc,
            seq,
            ShortAddr::RX_ON_WHEN_IDLE,
            43,
            43,
            &zdo_broadcast(NWK_ADDR_REQ, &other),
        );
        assert!(answers(&mut tc, &mut seen, 13_000, &f).is_none());
        let aps = zdo_broadcast(IEEE_ADDR_REQ, &[0x24, 0x34, 0x12, 0x00, 0x00]);
        let f = frame_to(&tc, seq, ShortAddr::BROADCAST, 44, 44, &aps);
        assert!(answers(&mut tc, &mut seen, 13_000, &f).is_none());
        // Other requests by broadcast are not answered, nor acknowledged.
        let mut aps = zdo_broadcast(NODE_DESC_REQ, &[0x25, 0x00, 0x00]);
        aps[0] |= 0x40; // an ack request, which broadcasts must not get
        let f = frame_to(&tc, seq, ShortAddr::BROADCAST, 45, 45, &aps);
        assert!(answers(&mut tc, &mut seen, 13_000, &f).is_none());
        // A ZCL broadcast (Basic cluster 0x0000, Home Automation profile) is not a look-up,
        // and the broadcast memory keeps only look-ups.
        let kept = seen.seen.len();
        let mut aps = Vec::new();
        ApsHeader::data_broadcast(0xff, 0x0000, 0x0104, 1, 0x35).emit(&mut aps);
        aps.extend_from_slice(&[0x00, 0x01, 0x00, 0x04, 0x00]);
        let f = frame_to(&tc, seq, ShortAddr::RX_ON_WHEN_IDLE, 49, 49, &aps);
        assert!(answers(&mut tc, &mut seen, 13_000, &f).is_none());
        assert_eq!(seen.seen.len(), kept);
        // A look-up asking for an ack anyway: the answer, no ack.
        let mut aps = zdo_broadcast(IEEE_ADDR_REQ, &[0x26, 0x00, 0x00, 0x00, 0x00]);
        aps[0] |= 0x40;
        let f = frame_to(&tc, seq, ShortAddr::BROADCAST, 46, 46, &aps);
        let (c, _) = single(answers(&mut tc, &mut seen, 13_000, &f).unwrap()).unwrap();
        assert_eq!(c, 0x8001);
        // Our own broadcast relayed back by a router (NWK source 0x0000) is not a request.
        let aps = zdo_broadcast(IEEE_ADDR_REQ, &[0x27, 0x00, 0x00, 0x00, 0x00]);
        let f = frame_from(&tc, seq, ShortAddr::COORDINATOR, ShortAddr::BROADCAST, 47, 47, &aps);
        assert!(answers(&mut tc, &mut seen, 13_000, &f).is_none());
        // Unicast look-ups keep working whatever was broadcast.
        let (c, _) = answer(&mut tc, NWK_ADDR_REQ, &nwk_addr_req).unwrap();
        assert_eq!(c, 0x8000);
    }

    /// A request without the NWK extended source is answered to the device the Trust Center
    /// knows at its short address; from an unknown (or removed) short address, not at all.
    #[test]
    fn a_request_without_an_extended_source_is_answered_by_short_address() {
        let mut tc = formed();
        let mut store = zigtrust_tc::MemStore::default();
        let _ = tc.take_batch().commit(&mut store);
        let mut snap = zigtrust_tc::Durable::snapshot(&store).unwrap();
        let known = ShortAddr(0x4321);
        snap.devices.push(zigtrust_tc::model::DeviceRecord {
            ieee: DEVICE,
            short_addr: known,
            capability: 0x8e,
            join_method: zigtrust_tc::model::JoinMethod::InstallCode,
            parent: ShortAddr::COORDINATOR,
            tclk: None,
            tclk_verified: false,
            last_key_seq: Some(0),
            last_key_hash: None,
            last_seen: 1_000,
            incoming_nwk_counter: None,
            stale_nwk_counters: vec![],
            incoming_aps_counter: None,
            tombstoned: false,
        });
        let mut tc = TrustCenter::new(snap.clone(), [5; 32], 2_000);
        let req = zdo_request(NODE_DESC_REQ, &[0x01, 0x00, 0x00], false);
        let seq = tc.active_key_seq();
        let ask = |tc: &mut TrustCenter, src| {
            let f = frame_with(tc, seq, src, None, ShortAddr::COORDINATOR, (7, 9), &req);
            answers(tc, &mut BroadcastsSeen::default(), 2_000, &f)
        };
        let (to, frames) = ask(&mut tc, known).expect("answered");
        assert_eq!((to, frames.len()), (DEVICE, 1));
        assert!(ask(&mut tc, ShortAddr(0x5555)).is_none(), "nobody known there");
        snap.devices[0].tombstoned = true;
        let mut tc = TrustCenter::new(snap, [5; 32], 2_000);
        assert!(ask(&mut tc, known).is_none(), "a removed device is not answered");
    }

    #[test]
    fn the_broadcast_memory_is_bounded_and_forgets_the_oldest_first() {
        let mut seen = BroadcastsSeen::default();
        for i in 0..BROADCASTS_KEPT as u16 + 5 {
            assert!(seen.first(ShortAddr(0x1000 + i), 1, 1_000));
        }
        assert_eq!(seen.seen.len(), BROADCASTS_KEPT);
        assert!(seen.first(ShortAddr(0x1000), 1, 1_000), "forgotten: the table was full");
        assert!(!seen.first(ShortAddr(0x1000 + BROADCASTS_KEPT as u16 + 4), 1, 1_000));
        assert!(seen.first(ShortAddr(0x1000 + BROADCASTS_KEPT as u16 + 4), 1, 10_000), "expired");
    }
}
