//! ZEP (ZigBee Encapsulation Protocol, UDP port 17754): decoding the UDP payload into a frame,
//! and encoding, so that tests and a future live daemon can produce what tshark reads.
//!
//! All header fields are big-endian. v1 has a 16-byte header, v2 data a 32-byte one, v2 ack
//! is 8 bytes and carries no frame. The mode byte selects what the last two PSDU bytes are:
//! non-zero ("CRC mode") a real FCS, zero ("LQI mode") TI CC24xx metadata
//! (RSSI as i8, then bit 7 = CRC OK and bits 0-6 = correlation).

use crate::link::split_fcs16;
use crate::{CapturedFrame, Encapsulation, FcsStatus, RecordContent, SkipReason, Timestamp};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

const V1_HEADER: usize = 16;
const V2_HEADER: usize = 32;
/// The length field has 7 bits: an 802.15.4 PSDU is at most 127 bytes.
const MAX_PSDU: usize = 127;

/// ZEP header fields that are not already in [`CapturedFrame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZepInfo {
    pub version: u8,
    pub channel: u8,
    pub device_id: u16,
    /// Mode byte non-zero: the PSDU ended with a real FCS rather than CC24xx metadata.
    pub crc_mode: bool,
    /// The header's LQI byte as sent (tshark ignores it for v2 in CRC mode).
    pub lqi: u8,
    /// v2 only: NTP timestamp, 32.32 fixed point seconds since 1900.
    pub ntp_timestamp: Option<u64>,
    /// v2 only.
    pub sequence: Option<u32>,
}

impl ZepInfo {
    /// The sender's NTP timestamp converted to Unix time, if this is v2 and it is set.
    pub fn ntp_unix(&self) -> Option<Timestamp> {
        let ntp = self.ntp_timestamp.filter(|&t| t != 0)?;
        let secs = i64::try_from(ntp >> 32).ok()? - NTP_UNIX_OFFSET;
        let nanos = ((u128::from(ntp & 0xffff_ffff) * 1_000_000_000) >> 32) as u32;
        Some(Timestamp { secs, nanos })
    }
}

fn malformed(what: &'static str) -> RecordContent {
    RecordContent::Skipped(SkipReason::Malformed { layer: "ZEP", what })
}

/// Decodes one ZEP datagram (the UDP payload).
pub fn decode(p: &[u8]) -> RecordContent {
    if p.len() < 4 || &p[..2] != b"EX" {
        return malformed("missing \"EX\" preamble");
    }
    let (info, length, rest, encapsulation) = match p[2] {
        1 => {
            if p.len() < V1_HEADER {
                return malformed("header cut short");
            }
            let info = ZepInfo {
                version: 1,
                channel: p[3],
                device_id: u16::from_be_bytes([p[4], p[5]]),
                crc_mode: p[6] != 0,
                lqi: p[7],
                ntp_timestamp: None,
                sequence: None,
            };
            (info, p[15] & 0x7f, &p[V1_HEADER..], Encapsulation::ZepV1)
        }
        2 => match p[3] {
            1 => {
                if p.len() < V2_HEADER {
                    return malformed("header cut short");
                }
                let mut ntp = [0u8; 8];
                ntp.copy_from_slice(&p[9..17]);
                let info = ZepInfo {
                    version: 2,
                    channel: p[4],
                    device_id: u16::from_be_bytes([p[5], p[6]]),
                    crc_mode: p[7] != 0,
                    lqi: p[8],
                    ntp_timestamp: Some(u64::from_be_bytes(ntp)),
                    sequence: Some(u32::from_be_bytes([p[17], p[18], p[19], p[20]])),
                };
                (info, p[31] & 0x7f, &p[V2_HEADER..], Encapsulation::ZepV2)
            }
            2 => {
                if p.len() < 8 {
                    return malformed("ack cut short");
                }
                let sequence = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                return RecordContent::Skipped(SkipReason::ZepAck { sequence });
            }
            kind => return RecordContent::Skipped(SkipReason::UnsupportedZep { version: 2, kind }),
        },
        version => return RecordContent::Skipped(SkipReason::UnsupportedZep { version, kind: 0 }),
    };
    let Some(body) = rest.get(..usize::from(length)) else {
        return malformed("frame shorter than the length field");
    };
    let mut frame = CapturedFrame {
        psdu: Vec::new(),
        fcs: FcsStatus::Absent,
        channel: Some(info.channel),
        rssi: None,
        lqi: None,
        encapsulation,
        zep: Some(info),
    };
    if info.crc_mode {
        let (psdu, fcs) = split_fcs16(body);
        frame.psdu = psdu.to_vec();
        frame.fcs = fcs;
    } else if let [psdu @ .., rssi, flags] = body {
        frame.psdu = psdu.to_vec();
        frame.fcs = if flags & 0x80 != 0 { FcsStatus::MetadataOk } else { FcsStatus::MetadataBad };
        frame.rssi = Some(f32::from(*rssi as i8));
    } else {
        // Too short for metadata: tshark then treats the frame as having no trailer.
        frame.psdu = body.to_vec();
    }
    // tshark shows the header LQI in LQI mode, and always for v1.
    if !info.crc_mode || info.version == 1 {
        frame.lqi = Some(info.lqi);
    }
    RecordContent::Frame(frame)
}

/// How [`encode_v1`]/[`encode_v2`] end the PSDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZepTrailer {
    /// CRC mode (mode byte 1): append the real FCS.
    Fcs,
    /// LQI mode (mode byte 0): append CC24xx metadata; the correlation bits carry the LQI.
    Cc24xx { rssi: i8, crc_ok: bool },
}

/// Header fields for encoding a ZEP data datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZepHeader {
    pub channel: u8,
    pub device_id: u16,
    pub lqi: u8,
    pub trailer: ZepTrailer,
    /// v2 only (ignored by v1): NTP 32.32 timestamp.
    pub ntp_timestamp: u64,
    /// v2 only (ignored by v1).
    pub sequence: u32,
}

fn psdu_with_trailer(h: &ZepHeader, mac_frame: &[u8]) -> Option<(u8, Vec<u8>)> {
    if mac_frame.len() + 2 > MAX_PSDU {
        return None;
    }
    let mut psdu = mac_frame.to_vec();
    let mode = match h.trailer {
        ZepTrailer::Fcs => {
            zigtrust_wire::mac::append_fcs(&mut psdu);
            1
        }
        ZepTrailer::Cc24xx { rssi, crc_ok } => {
            psdu.push(rssi as u8);
            psdu.push(if crc_ok { 0x80 } else { 0 } | (h.lqi & 0x7f));
            0
        }
    };
    Some((mode, psdu))
}

/// Builds a ZEP v2 data datagram (UDP payload) around a MAC frame given without FCS.
/// Returns `None` if the frame plus trailer exceeds 127 bytes.
pub fn encode_v2(h: &ZepHeader, mac_frame: &[u8]) -> Option<Vec<u8>> {
    let (mode, psdu) = psdu_with_trailer(h, mac_frame)?;
    let mut out = Vec::with_capacity(V2_HEADER + psdu.len());
    out.extend_from_slice(b"EX");
    out.extend_from_slice(&[2, 1, h.channel]);
    out.extend_from_slice(&h.device_id.to_be_bytes());
    out.extend_from_slice(&[mode, h.lqi]);
    out.extend_from_slice(&h.ntp_timestamp.to_be_bytes());
    out.extend_from_slice(&h.sequence.to_be_bytes());
    out.extend_from_slice(&[0; 10]);
    out.push(psdu.len() as u8);
    out.extend_from_slice(&psdu);
    Some(out)
}

/// Builds a ZEP v1 datagram (UDP payload) around a MAC frame given without FCS.
/// Returns `None` if the frame plus trailer exceeds 127 bytes.
pub fn encode_v1(h: &ZepHeader, mac_frame: &[u8]) -> Option<Vec<u8>> {
    let (mode, psdu) = psdu_with_trailer(h, mac_frame)?;
    let mut out = Vec::with_capacity(V1_HEADER + psdu.len());
    out.extend_from_slice(b"EX");
    out.extend_from_slice(&[1, h.channel]);
    out.extend_from_slice(&h.device_id.to_be_bytes());
    out.extend_from_slice(&[mode, h.lqi]);
    out.extend_from_slice(&[0; 7]);
    out.push(psdu.len() as u8);
    out.extend_from_slice(&psdu);
    Some(out)
}

/// Converts a Unix timestamp to the NTP 32.32 format used in ZEP v2 headers.
pub fn ntp_from_unix(ts: Timestamp) -> u64 {
    let secs = (ts.secs + NTP_UNIX_OFFSET) as u64;
    let frac = (u64::from(ts.nanos.min(999_999_999)) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: &[u8] = &[0x41, 0x88, 0x07, 0x62, 0x1a, 0xff, 0xff, 0x00, 0x00, 0x09, 0x12];

    fn hdr(trailer: ZepTrailer) -> ZepHeader {
        ZepHeader {
            channel: 11,
            device_id: 0xbeef,
            lqi: 0x55,
            trailer,
            ntp_timestamp: ntp_from_unix(Timestamp::new(1_700_000_000, 500_000_000)),
            sequence: 42,
        }
    }

    fn frame(c: RecordContent) -> CapturedFrame {
        match c {
            RecordContent::Frame(f) => f,
            RecordContent::Skipped(r) => panic!("skipped: {r}"),
        }
    }

    #[test]
    fn v2_both_modes_round_trip() {
        let f = frame(decode(&encode_v2(&hdr(ZepTrailer::Fcs), MAC).unwrap()));
        assert_eq!((f.psdu.as_slice(), f.fcs, f.channel), (MAC, FcsStatus::Ok, Some(11)));
        assert_eq!((f.rssi, f.lqi), (None, None));
        let z = f.zep.unwrap();
        assert_eq!((z.version, z.device_id, z.sequence, z.crc_mode), (2, 0xbeef, Some(42), true));
        assert_eq!(z.ntp_unix(), Some(Timestamp::new(1_700_000_000, 500_000_000)));

        let t = ZepTrailer::Cc24xx { rssi: -40, crc_ok: true };
        let f = frame(decode(&encode_v2(&hdr(t), MAC).unwrap()));
        assert_eq!((f.psdu.as_slice(), f.fcs), (MAC, FcsStatus::MetadataOk));
        assert_eq!((f.rssi, f.lqi), (Some(-40.0), Some(0x55)));
        let t = ZepTrailer::Cc24xx { rssi: -40, crc_ok: false };
        assert_eq!(frame(decode(&encode_v2(&hdr(t), MAC).unwrap())).fcs, FcsStatus::MetadataBad);
    }

    #[test]
    fn v1_and_bad_crc() {
        let mut d = encode_v1(&hdr(ZepTrailer::Fcs), MAC).unwrap();
        assert_eq!(d.len(), 16 + MAC.len() + 2);
        let f = frame(decode(&d));
        assert_eq!(
            (f.psdu.as_slice(), f.fcs, f.encapsulation),
            (MAC, FcsStatus::Ok, Encapsulation::ZepV1)
        );
        assert_eq!(f.zep.unwrap().ntp_timestamp, None);
        let last = d.len() - 1;
        d[last] ^= 0xff;
        assert!(matches!(frame(decode(&d)).fcs, FcsStatus::Bad { .. }));
    }

    #[test]
    fn ack_and_malformed() {
        assert_eq!(
            decode(b"EX\x02\x02\x00\x00\x01\x00"),
            RecordContent::Skipped(SkipReason::ZepAck { sequence: 256 })
        );
        assert!(matches!(
            decode(b"EX\x03\x01"),
            RecordContent::Skipped(SkipReason::UnsupportedZep { version: 3, .. })
        ));
        assert!(matches!(
            decode(b"XX\x02\x01"),
            RecordContent::Skipped(SkipReason::Malformed { .. })
        ));
        let d = encode_v2(&hdr(ZepTrailer::Fcs), MAC).unwrap();
        for cut in 0..d.len() {
            assert!(matches!(decode(&d[..cut]), RecordContent::Skipped(_)), "cut {cut}");
        }
        assert!(encode_v2(&hdr(ZepTrailer::Fcs), &[0; 126]).is_none());
    }
}
