//! Builders for synthetic captures used by the integration tests.
#![allow(dead_code)]

use zigtrust_capture::zep::{self, ZepHeader, ZepTrailer};

/// A data frame: FCF 0x8841 (data, PAN ID compression, short dst/src), seq 1, PAN 0x1a62,
/// dst 0xffff, src 0x0000, two payload bytes.
pub const MAC: &[u8] = &[0x41, 0x88, 0x01, 0x62, 0x1a, 0xff, 0xff, 0x00, 0x00, 0x09, 0x12];

pub fn with_fcs(mac: &[u8]) -> Vec<u8> {
    let mut v = mac.to_vec();
    zigtrust_wire::mac::append_fcs(&mut v);
    v
}

fn u16b(be: bool, v: u16) -> [u8; 2] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u32b(be: bool, v: u32) -> [u8; 4] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

pub fn pcap_header(be: bool, nano: bool, link_type: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&u32b(be, if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    h.extend_from_slice(&u16b(be, 2));
    h.extend_from_slice(&u16b(be, 4));
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&u32b(be, 65535));
    h.extend_from_slice(&u32b(be, link_type));
    h
}

pub fn pcap_record(be: bool, secs: u32, frac: u32, data: &[u8], orig_len: u32) -> Vec<u8> {
    let mut r = Vec::new();
    for v in [secs, frac, data.len() as u32, orig_len] {
        r.extend_from_slice(&u32b(be, v));
    }
    r.extend_from_slice(data);
    r
}

/// Little-endian µs pcap; record i has timestamp 1000+i seconds.
pub fn pcap(link_type: u32, packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = pcap_header(false, false, link_type);
    for (i, p) in packets.iter().enumerate() {
        f.extend(pcap_record(false, 1000 + i as u32, 0, p, p.len() as u32));
    }
    f
}

/// pcapng writer with a chosen byte order per section.
pub struct Ng {
    pub bytes: Vec<u8>,
    be: bool,
    /// Offset of every block written, in order.
    pub offsets: Vec<u64>,
}

impl Ng {
    pub fn new(be: bool) -> Ng {
        let mut ng = Ng { bytes: Vec::new(), be, offsets: Vec::new() };
        ng.shb(be);
        ng
    }

    pub fn shb(&mut self, be: bool) {
        self.be = be;
        let mut body = Vec::new();
        body.extend_from_slice(&u32b(be, 0x1a2b_3c4d));
        body.extend_from_slice(&u16b(be, 1));
        body.extend_from_slice(&u16b(be, 0));
        body.extend_from_slice(&[0xff; 8]);
        // an shb_userappl option, which the reader must skip
        body.extend(self.option(4, b"zigtrust test"));
        body.extend_from_slice(&[0; 4]);
        self.block(0x0a0d_0d0a, &body);
    }

    pub fn option(&self, code: u16, value: &[u8]) -> Vec<u8> {
        let mut o = Vec::new();
        o.extend_from_slice(&u16b(self.be, code));
        o.extend_from_slice(&u16b(self.be, value.len() as u16));
        o.extend_from_slice(value);
        while o.len() % 4 != 0 {
            o.push(0);
        }
        o
    }

    pub fn block(&mut self, block_type: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = body.len() as u32 + 12;
        self.offsets.push(self.bytes.len() as u64);
        self.bytes.extend_from_slice(&u32b(self.be, block_type));
        self.bytes.extend_from_slice(&u32b(self.be, len));
        self.bytes.extend_from_slice(&body);
        self.bytes.extend_from_slice(&u32b(self.be, len));
    }

    /// `tsresol`: the raw if_tsresol byte, if the option should be present.
    pub fn idb(&mut self, link_type: u16, tsresol: Option<u8>) {
        let mut body = Vec::new();
        body.extend_from_slice(&u16b(self.be, link_type));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&u32b(self.be, 0));
        body.extend(self.option(2, b"wpan0"));
        if let Some(r) = tsresol {
            body.extend(self.option(9, &[r]));
        }
        body.extend_from_slice(&[0; 4]);
        self.block(1, &body);
    }

    pub fn epb(&mut self, interface: u32, ts: u64, data: &[u8]) {
        let mut body = Vec::new();
        for v in [interface, (ts >> 32) as u32, ts as u32, data.len() as u32, data.len() as u32] {
            body.extend_from_slice(&u32b(self.be, v));
        }
        body.extend_from_slice(data);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        // an opt_comment, which the reader must ignore
        body.extend(self.option(1, b"hi"));
        self.block(6, &body);
    }

    pub fn spb(&mut self, data: &[u8]) {
        let mut body = u32b(self.be, data.len() as u32).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body);
    }
}

pub fn udp_ipv4(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 168, 1, 10, 192, 168, 1, 20];
    let total = (20 + 8 + payload.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    ip.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(payload);
    ip
}

pub fn ethernet(ethertype: u16, vlan: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut e = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    if let Some(v) = vlan {
        e.extend_from_slice(&[0x81, 0x00]);
        e.extend_from_slice(&v.to_be_bytes());
    }
    e.extend_from_slice(&ethertype.to_be_bytes());
    e.extend_from_slice(payload);
    e
}

pub fn eth_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    ethernet(0x0800, None, &udp_ipv4(sport, dport, payload))
}

pub fn arp() -> Vec<u8> {
    ethernet(0x0806, None, &[0; 28])
}

pub fn zep_header(trailer: ZepTrailer, sequence: u32) -> ZepHeader {
    ZepHeader {
        channel: 15,
        device_id: 0x1234,
        lqi: 0x70,
        trailer,
        ntp_timestamp: 0xe8f5_2a00_8000_0000,
        sequence,
    }
}

pub fn zep_v2(trailer: ZepTrailer, mac: &[u8]) -> Vec<u8> {
    zep::encode_v2(&zep_header(trailer, 7), mac).unwrap()
}

pub fn zep_v1(trailer: ZepTrailer, mac: &[u8]) -> Vec<u8> {
    zep::encode_v1(&zep_header(trailer, 0), mac).unwrap()
}

/// An 802.15.4 TAP packet with the given TLVs (type, value) before `psdu`.
pub fn tap(tlvs: &[(u16, Vec<u8>)], psdu: &[u8]) -> Vec<u8> {
    let mut t = vec![0, 0, 0, 0];
    for (ty, v) in tlvs {
        t.extend_from_slice(&ty.to_le_bytes());
        t.extend_from_slice(&(v.len() as u16).to_le_bytes());
        t.extend_from_slice(v);
        while t.len() % 4 != 0 {
            t.push(0);
        }
    }
    let hl = t.len() as u16;
    t[2..4].copy_from_slice(&hl.to_le_bytes());
    t.extend_from_slice(psdu);
    t
}

/// A small Ethernet capture mixing ZEP v1/v2 in both modes, a ZEP ack and other traffic.
pub fn mixed_zep_capture() -> Vec<u8> {
    pcap(
        1,
        &[
            eth_udp(17754, 17754, &zep_v2(ZepTrailer::Fcs, MAC)),
            arp(),
            eth_udp(40000, 17754, &zep_v2(ZepTrailer::Cc24xx { rssi: -70, crc_ok: true }, MAC)),
            eth_udp(53, 53, b"\x12\x34"),
            eth_udp(17754, 17754, &zep_v1(ZepTrailer::Fcs, MAC)),
            eth_udp(17754, 17754, b"EX\x02\x02\x00\x00\x00\x07"),
            ethernet(
                0x0800,
                Some(42),
                &udp_ipv4(17754, 1, &zep_v1(ZepTrailer::Cc24xx { rssi: 3, crc_ok: false }, MAC)),
            ),
        ],
    )
}
