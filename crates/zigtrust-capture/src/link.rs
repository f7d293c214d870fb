//! Unwrapping one packet record down to the 802.15.4 PSDU, per link-layer header type.

use crate::{zep, CapturedFrame, Encapsulation, FcsStatus, RecordContent, SkipReason};
use core::fmt;
use zigtrust_wire::mac::strip_fcs;

/// A pcap/pcapng LINKTYPE_ value (tcpdump.org numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IPv4 or IPv6, told apart by the version nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like [`LinkType::NULL`] but always big-endian.
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IEEE802_15_4_WITHFCS: LinkType = LinkType(195);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const IEEE802_15_4_NOFCS: LinkType = LinkType(230);
    pub const LINUX_SLL2: LinkType = LinkType(276);
    pub const IEEE802_15_4_TAP: LinkType = LinkType(283);

    /// Whether [`decode_packet`] can find 802.15.4 frames in this link type (directly or
    /// through ZEP over UDP).
    pub fn is_supported(self) -> bool {
        matches!(self.0, 0 | 1 | 101 | 108 | 113 | 195 | 228 | 229 | 230 | 276 | 283)
    }

    /// Short name as in the tcpdump.org link-type list, if known here.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            101 => "RAW",
            108 => "LOOP",
            113 => "LINUX_SLL",
            195 => "IEEE802_15_4_WITHFCS",
            215 => "IEEE802_15_4_NONASK_PHY",
            228 => "IPV4",
            229 => "IPV6",
            230 => "IEEE802_15_4_NOFCS",
            276 => "LINUX_SLL2",
            283 => "IEEE802_15_4_TAP",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({n})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// ZEP's registered UDP port; tshark dissects it as ZEP without being told.
pub const ZEP_PORT: u16 = 17754;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

fn malformed(layer: &'static str, what: &'static str) -> RecordContent {
    RecordContent::Skipped(SkipReason::Malformed { layer, what })
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Decodes the captured bytes of one complete packet of link type `link_type`.
///
/// Public so that a live source (e.g. a ZEP UDP socket or a sniffer pipe) can reuse the same
/// unwrapping as the file reader.
pub fn decode_packet(link_type: LinkType, data: &[u8]) -> RecordContent {
    match link_type {
        LinkType::IEEE802_15_4_WITHFCS => {
            RecordContent::Frame(with_fcs16(data, Encapsulation::Wpan195))
        }
        LinkType::IEEE802_15_4_NOFCS => RecordContent::Frame(plain_frame(
            data.to_vec(),
            FcsStatus::Absent,
            Encapsulation::Wpan230,
        )),
        LinkType::IEEE802_15_4_TAP => tap(data),
        LinkType::ETHERNET => ethernet(data),
        LinkType::RAW => raw_ip(data),
        LinkType::IPV4 => ipv4(data),
        LinkType::IPV6 => ipv6(data),
        LinkType::LINUX_SLL => {
            if data.len() < 16 {
                return malformed("Linux cooked header", "cut short");
            }
            ethertype_payload(be16(data, 14), &data[16..])
        }
        LinkType::LINUX_SLL2 => {
            if data.len() < 20 {
                return malformed("Linux cooked v2 header", "cut short");
            }
            ethertype_payload(be16(data, 0), &data[20..])
        }
        LinkType::NULL | LinkType::LOOP => loopback(link_type, data),
        other => RecordContent::Skipped(SkipReason::UnsupportedLinkType(other.0)),
    }
}

fn plain_frame(psdu: Vec<u8>, fcs: FcsStatus, encapsulation: Encapsulation) -> CapturedFrame {
    CapturedFrame { psdu, fcs, channel: None, rssi: None, lqi: None, encapsulation, zep: None }
}

/// A PSDU that should end in a 16-bit FCS. Like tshark, a PSDU too short to hold one is taken
/// as having none rather than rejected.
pub(crate) fn with_fcs16(data: &[u8], encapsulation: Encapsulation) -> CapturedFrame {
    let (psdu, fcs) = split_fcs16(data);
    plain_frame(psdu.to_vec(), fcs, encapsulation)
}

pub(crate) fn split_fcs16(data: &[u8]) -> (&[u8], FcsStatus) {
    if data.len() < 2 {
        return (data, FcsStatus::Absent);
    }
    match strip_fcs(data) {
        Ok(frame) => (frame, FcsStatus::Ok),
        Err(zigtrust_wire::Error::BadFcs { computed, received }) => {
            (&data[..data.len() - 2], FcsStatus::Bad { computed, received })
        }
        // strip_fcs only fails with BadFcs once the length is checked; be safe anyway.
        Err(_) => (data, FcsStatus::Absent),
    }
}

/// LINKTYPE_IEEE802_15_4_TAP: `version(1)=0 | reserved(1) | length(2 LE, incl. TLVs) | TLVs`.
fn tap(data: &[u8]) -> RecordContent {
    const LAYER: &str = "802.15.4 TAP";
    if data.len() < 4 {
        return malformed(LAYER, "header cut short");
    }
    if data[0] != 0 {
        return malformed(LAYER, "unknown version");
    }
    let hlen = usize::from(u16::from_le_bytes([data[2], data[3]]));
    if hlen < 4 {
        return malformed(LAYER, "header length below 4");
    }
    if hlen > data.len() {
        return malformed(LAYER, "header length beyond the packet");
    }
    // Without an FCS-type TLV tshark assumes no FCS (checked with tshark 4.0).
    let mut fcs_type = 0u8;
    let mut channel = None;
    let mut rssi = None;
    let mut lqi = None;
    let mut tlvs = &data[4..hlen];
    while tlvs.len() >= 4 {
        let t = u16::from_le_bytes([tlvs[0], tlvs[1]]);
        let l = usize::from(u16::from_le_bytes([tlvs[2], tlvs[3]]));
        let Some(value) = tlvs.get(4..4 + l) else {
            return malformed(LAYER, "TLV cut short");
        };
        match (t, value) {
            (0, [ft, ..]) => fcs_type = *ft,
            (1, [a, b, c, d, ..]) => rssi = Some(f32::from_le_bytes([*a, *b, *c, *d])),
            (3, [lo, hi, ..]) => channel = u8::try_from(u16::from_le_bytes([*lo, *hi])).ok(),
            (10, [q, ..]) => lqi = Some(*q),
            _ => {}
        }
        let padded = (4 + l + 3) & !3;
        tlvs = tlvs.get(padded..).unwrap_or(&[]);
    }
    let body = &data[hlen..];
    let (psdu, fcs) = match fcs_type {
        0 => (body, FcsStatus::Absent),
        1 => split_fcs16(body),
        2 if body.len() >= 4 => (&body[..body.len() - 4], FcsStatus::Unverified32),
        2 => (body, FcsStatus::Absent),
        _ => return malformed(LAYER, "unknown FCS type"),
    };
    RecordContent::Frame(CapturedFrame {
        psdu: psdu.to_vec(),
        fcs,
        channel,
        rssi,
        lqi,
        encapsulation: Encapsulation::Tap,
        zep: None,
    })
}

fn ethernet(data: &[u8]) -> RecordContent {
    if data.len() < 14 {
        return malformed("Ethernet", "header cut short");
    }
    let mut ethertype = be16(data, 12);
    let mut at = 14;
    // 802.1Q / 802.1ad / legacy QinQ tags: 2 bytes TCI, then the next ethertype.
    while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
        if data.len() < at + 4 {
            return malformed("802.1Q", "VLAN tag cut short");
        }
        ethertype = be16(data, at + 2);
        at += 4;
    }
    ethertype_payload(ethertype, &data[at..])
}

fn ethertype_payload(ethertype: u16, data: &[u8]) -> RecordContent {
    match ethertype {
        ETHERTYPE_IPV4 => ipv4(data),
        ETHERTYPE_IPV6 => ipv6(data),
        _ => RecordContent::Skipped(SkipReason::NotIp { ethertype }),
    }
}

fn loopback(link_type: LinkType, data: &[u8]) -> RecordContent {
    if data.len() < 4 {
        return malformed("loopback header", "cut short");
    }
    let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    // NULL uses the capturing host's byte order, which the file does not record.
    let family = if link_type == LinkType::LOOP || be < 256 { be } else { le };
    match family {
        2 => ipv4(&data[4..]),
        // AF_INET6 differs between BSDs, Darwin and Linux.
        10 | 24 | 28 | 30 => ipv6(&data[4..]),
        _ => malformed("loopback header", "unknown address family"),
    }
}

fn raw_ip(data: &[u8]) -> RecordContent {
    match data.first().map(|b| b >> 4) {
        Some(4) => ipv4(data),
        Some(6) => ipv6(data),
        _ => malformed("IP", "unknown version"),
    }
}

fn ipv4(data: &[u8]) -> RecordContent {
    const LAYER: &str = "IPv4";
    if data.len() < 20 {
        return malformed(LAYER, "header cut short");
    }
    if data[0] >> 4 != 4 {
        return malformed(LAYER, "version is not 4");
    }
    let ihl = usize::from(data[0] & 0x0f) * 4;
    if ihl < 20 {
        return malformed(LAYER, "header length below 20");
    }
    let total = usize::from(be16(data, 2));
    if total < ihl {
        return malformed(LAYER, "total length below header length");
    }
    if total > data.len() {
        return malformed(LAYER, "total length beyond the packet");
    }
    if be16(data, 6) & 0x3fff != 0 {
        return RecordContent::Skipped(SkipReason::IpFragment);
    }
    match data[9] {
        17 => udp(&data[ihl..total]),
        protocol => RecordContent::Skipped(SkipReason::NotUdp { protocol }),
    }
}

fn ipv6(data: &[u8]) -> RecordContent {
    const LAYER: &str = "IPv6";
    if data.len() < 40 {
        return malformed(LAYER, "header cut short");
    }
    if data[0] >> 4 != 6 {
        return malformed(LAYER, "version is not 6");
    }
    let plen = usize::from(be16(data, 4));
    let Some(mut payload) = data.get(40..40 + plen) else {
        return malformed(LAYER, "payload length beyond the packet");
    };
    let mut next = data[6];
    // Bounded walk over the extension headers that can precede UDP.
    for _ in 0..8 {
        match next {
            17 => return udp(payload),
            44 => return RecordContent::Skipped(SkipReason::IpFragment),
            0 | 43 | 60 => {
                if payload.len() < 2 {
                    return malformed(LAYER, "extension header cut short");
                }
                let len = (usize::from(payload[1]) + 1) * 8;
                let Some(rest) = payload.get(len..) else {
                    return malformed(LAYER, "extension header cut short");
                };
                next = payload[0];
                payload = rest;
            }
            protocol => return RecordContent::Skipped(SkipReason::NotUdp { protocol }),
        }
    }
    malformed(LAYER, "too many extension headers")
}

fn udp(data: &[u8]) -> RecordContent {
    const LAYER: &str = "UDP";
    if data.len() < 8 {
        return malformed(LAYER, "header cut short");
    }
    let src_port = be16(data, 0);
    let dst_port = be16(data, 2);
    let len = usize::from(be16(data, 4));
    if len < 8 {
        return malformed(LAYER, "length below 8");
    }
    if len > data.len() {
        return malformed(LAYER, "length beyond the IP payload");
    }
    if src_port != ZEP_PORT && dst_port != ZEP_PORT {
        return RecordContent::Skipped(SkipReason::NotZep { src_port, dst_port });
    }
    zep::decode(&data[8..len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use zigtrust_wire::mac::append_fcs;

    const MAC: &[u8] = &[0x41, 0x88, 0x01, 0x62, 0x1a, 0xff, 0xff, 0x00, 0x00, 0x09, 0x12];

    fn frame(c: RecordContent) -> CapturedFrame {
        match c {
            RecordContent::Frame(f) => f,
            RecordContent::Skipped(r) => panic!("skipped: {r}"),
        }
    }

    fn skipped(c: RecordContent) -> SkipReason {
        match c {
            RecordContent::Skipped(r) => r,
            RecordContent::Frame(f) => panic!("unexpected frame {f:?}"),
        }
    }

    fn udp_ipv4(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&sport.to_be_bytes());
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        ip[2..4].copy_from_slice(&((20 + u.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&u);
        ip
    }

    fn zep_payload() -> Vec<u8> {
        let mut mac = MAC.to_vec();
        append_fcs(&mut mac);
        let mut z = vec![b'E', b'X', 1, 15, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        z.push(mac.len() as u8);
        z.extend_from_slice(&mac);
        z
    }

    #[test]
    fn fcs_linktypes() {
        let mut good = MAC.to_vec();
        append_fcs(&mut good);
        let f = frame(decode_packet(LinkType::IEEE802_15_4_WITHFCS, &good));
        assert_eq!((f.psdu.as_slice(), f.fcs), (MAC, FcsStatus::Ok));
        let mut bad = good.clone();
        bad[0] ^= 1;
        let f = frame(decode_packet(LinkType::IEEE802_15_4_WITHFCS, &bad));
        assert!(
            matches!(f.fcs, FcsStatus::Bad { received, .. } if received.to_le_bytes() == good[good.len()-2..])
        );
        let f = frame(decode_packet(LinkType::IEEE802_15_4_WITHFCS, &[0x02]));
        assert_eq!((f.psdu, f.fcs), (vec![0x02], FcsStatus::Absent));
        let f = frame(decode_packet(LinkType::IEEE802_15_4_NOFCS, MAC));
        assert_eq!((f.psdu.as_slice(), f.fcs), (MAC, FcsStatus::Absent));
    }

    #[test]
    fn tap_tlvs() {
        let mut psdu = MAC.to_vec();
        append_fcs(&mut psdu);
        let mut t = vec![0, 0, 0, 0];
        t.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0]); // FCS type 16-bit
        t.extend_from_slice(&[3, 0, 3, 0, 20, 0, 0, 0]); // channel 20 page 0
        t.extend_from_slice(&[1, 0, 4, 0]);
        t.extend_from_slice(&(-61.5f32).to_le_bytes());
        t.extend_from_slice(&[10, 0, 1, 0, 200, 0, 0, 0]);
        let hl = t.len() as u16;
        t[2..4].copy_from_slice(&hl.to_le_bytes());
        t.extend_from_slice(&psdu);
        let f = frame(decode_packet(LinkType::IEEE802_15_4_TAP, &t));
        assert_eq!(f.psdu, MAC);
        assert_eq!(f.fcs, FcsStatus::Ok);
        assert_eq!((f.channel, f.rssi, f.lqi), (Some(20), Some(-61.5), Some(200)));
        // Header length past the end, TLV past the header, unknown version.
        let mut bad = t.clone();
        bad[2] = 0xff;
        assert!(matches!(
            skipped(decode_packet(LinkType::IEEE802_15_4_TAP, &bad)),
            SkipReason::Malformed { .. }
        ));
        let mut bad = t.clone();
        bad[6] = 0x40;
        assert!(matches!(
            skipped(decode_packet(LinkType::IEEE802_15_4_TAP, &bad)),
            SkipReason::Malformed { .. }
        ));
        let mut bad = t;
        bad[0] = 1;
        assert!(matches!(
            skipped(decode_packet(LinkType::IEEE802_15_4_TAP, &bad)),
            SkipReason::Malformed { .. }
        ));
    }

    #[test]
    fn ethernet_vlan_ipv4_udp_zep() {
        let ip = udp_ipv4(17754, 17754, &zep_payload());
        let mut eth = vec![0xff; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x81, 0x00, 0x00, 0x06, 0x08, 0x00]);
        eth.extend_from_slice(&ip);
        eth.extend_from_slice(&[0; 6]); // Ethernet padding past the IP total length
        let f = frame(decode_packet(LinkType::ETHERNET, &eth));
        assert_eq!((f.psdu.as_slice(), f.fcs, f.channel), (MAC, FcsStatus::Ok, Some(15)));
        assert_eq!(f.encapsulation, Encapsulation::ZepV1);
        let f = frame(decode_packet(LinkType::RAW, &ip));
        assert_eq!(f.psdu, MAC);
        let f = frame(decode_packet(LinkType::IPV4, &ip));
        assert_eq!(f.psdu, MAC);
        let mut lo = 2u32.to_le_bytes().to_vec();
        lo.extend_from_slice(&ip);
        assert_eq!(frame(decode_packet(LinkType::NULL, &lo)).psdu, MAC);
    }

    #[test]
    fn ipv6_with_extension_header() {
        let z = zep_payload();
        let mut u = Vec::new();
        u.extend_from_slice(&1234u16.to_be_bytes());
        u.extend_from_slice(&17754u16.to_be_bytes());
        u.extend_from_slice(&((8 + z.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(&z);
        let mut ext = vec![17, 0, 0, 0, 0, 0, 0, 0]; // hop-by-hop, 8 bytes, next = UDP
        ext.extend_from_slice(&u);
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 64]);
        ip.extend_from_slice(&[0; 32]);
        ip.extend_from_slice(&ext);
        let mut eth = vec![0; 12];
        eth.extend_from_slice(&[0x86, 0xdd]);
        eth.extend_from_slice(&ip);
        assert_eq!(frame(decode_packet(LinkType::ETHERNET, &eth)).psdu, MAC);
    }

    #[test]
    fn non_zep_traffic_is_skipped() {
        let mut arp = vec![0; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(
            skipped(decode_packet(LinkType::ETHERNET, &arp)),
            SkipReason::NotIp { ethertype: 0x0806 }
        );
        let ip = udp_ipv4(53, 5353, b"dns");
        assert_eq!(
            skipped(decode_packet(LinkType::RAW, &ip)),
            SkipReason::NotZep { src_port: 53, dst_port: 5353 }
        );
        let mut tcp = udp_ipv4(1, 2, b"");
        tcp[9] = 6;
        assert_eq!(skipped(decode_packet(LinkType::RAW, &tcp)), SkipReason::NotUdp { protocol: 6 });
        let mut frag = udp_ipv4(17754, 17754, &zep_payload());
        frag[6] = 0x20; // more fragments
        assert_eq!(skipped(decode_packet(LinkType::RAW, &frag)), SkipReason::IpFragment);
        assert_eq!(
            skipped(decode_packet(LinkType(105), &[1, 2, 3])),
            SkipReason::UnsupportedLinkType(105)
        );
    }
}
