//! Captures built in the test: every container variant, link type and error path.

mod common;

use common::*;
use std::io::Read;
use zigtrust_capture::zep::ZepTrailer;
use zigtrust_capture::{
    ByteOrder, CaptureError, CaptureErrorKind, CaptureFormat, CaptureReader, CaptureRecord,
    Encapsulation, FcsStatus, LinkType, PcapWriter, RecordContent, SkipReason, Timestamp,
    TsResolution,
};

fn read(bytes: &[u8]) -> Vec<CaptureRecord> {
    CaptureReader::new(bytes).unwrap().map(|r| r.unwrap()).collect()
}

/// Reads until the first error; returns the records before it and the error.
fn read_until_error(bytes: &[u8]) -> (Vec<CaptureRecord>, Option<CaptureError>) {
    let mut reader = match CaptureReader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut recs = Vec::new();
    for item in reader.by_ref() {
        match item {
            Ok(r) => recs.push(r),
            Err(e) => {
                assert!(reader.next().is_none(), "iterator must end after an error");
                return (recs, Some(e));
            }
        }
    }
    (recs, None)
}

fn skip_reason(r: &CaptureRecord) -> &SkipReason {
    match &r.content {
        RecordContent::Skipped(s) => s,
        RecordContent::Frame(f) => panic!("frame {} not skipped: {f:?}", r.number),
    }
}

#[test]
fn writer_reader_round_trip() {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    let frames: Vec<Vec<u8>> = (0..20u8).map(|i| [MAC, &[i; 3][..]].concat()).collect();
    for (i, f) in frames.iter().enumerate() {
        w.write_frame(Timestamp::new(1_700_000_000 + i as i64, 250_000), f).unwrap();
    }
    let mut bad = with_fcs(MAC);
    bad[3] ^= 0x40;
    w.write_psdu_raw(Timestamp::new(1, 999_999_000), &bad).unwrap();
    let bytes = w.finish().unwrap();

    let reader = CaptureReader::new(&bytes[..]).unwrap();
    assert_eq!(
        reader.format(),
        CaptureFormat::Pcap {
            byte_order: ByteOrder::Little,
            nanosecond: false,
            version: (2, 4),
            snaplen: 65535,
            link_type: LinkType::IEEE802_15_4_WITHFCS,
        }
    );
    let recs: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(recs.len(), 21);
    let mut offset = 24;
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.number, i as u64 + 1);
        assert_eq!(r.offset, offset);
        offset += 16 + u64::from(r.original_len);
    }
    for (r, f) in recs.iter().zip(&frames) {
        let cf = r.frame().unwrap();
        assert_eq!(
            (&cf.psdu, cf.fcs, cf.encapsulation),
            (f, FcsStatus::Ok, Encapsulation::Wpan195)
        );
        assert_eq!(r.timestamp.nanos, 250_000);
    }
    let last = recs[20].frame().unwrap();
    assert_eq!(last.psdu, bad[..bad.len() - 2]);
    assert!(matches!(last.fcs, FcsStatus::Bad { .. }));
    assert!(!last.fcs.is_trustworthy());
    assert_eq!(recs[20].timestamp, Timestamp::new(1, 999_999_000));
}

#[test]
fn big_endian_and_nanosecond_pcaps() {
    for (be, nano) in [(true, false), (true, true), (false, true)] {
        let mut f = pcap_header(be, nano, 195);
        let frac = if nano { 123_456_789 } else { 123_456 };
        f.extend(pcap_record(be, 1_600_000_000, frac, &with_fcs(MAC), 13));
        // An out-of-range fraction is carried into the seconds rather than rejected.
        f.extend(pcap_record(
            be,
            10,
            if nano { 1_500_000_000 } else { 1_500_000 },
            &with_fcs(MAC),
            13,
        ));
        let reader = CaptureReader::new(&f[..]).unwrap();
        let CaptureFormat::Pcap { byte_order, nanosecond, .. } = reader.format() else {
            panic!("not pcap");
        };
        assert_eq!((byte_order == ByteOrder::Big, nanosecond), (be, nano));
        let recs: Vec<_> = reader.map(Result::unwrap).collect();
        let want = if nano { 123_456_789 } else { 123_456_000 };
        assert_eq!(recs[0].timestamp, Timestamp::new(1_600_000_000, want));
        assert_eq!(recs[1].timestamp, Timestamp::new(11, 500_000_000));
        assert_eq!(recs[0].frame().unwrap().psdu, MAC);
        assert_eq!(recs[0].frame().unwrap().fcs, FcsStatus::Ok);
    }
}

#[test]
fn zep_over_ethernet() {
    let recs = read(&mixed_zep_capture());
    assert_eq!(recs.len(), 7);
    let numbers: Vec<u64> = recs.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);

    let f = recs[0].frame().unwrap();
    assert_eq!(
        (f.psdu.as_slice(), f.fcs, f.encapsulation),
        (MAC, FcsStatus::Ok, Encapsulation::ZepV2)
    );
    assert_eq!((f.channel, f.rssi, f.lqi), (Some(15), None, None));
    let z = f.zep.unwrap();
    assert_eq!((z.device_id, z.sequence, z.crc_mode), (0x1234, Some(7), true));
    // The record time comes from pcap, the sender's NTP time is separate.
    assert_eq!(recs[0].timestamp, Timestamp::new(1000, 0));
    assert_eq!(z.ntp_unix().unwrap().nanos, 500_000_000);

    assert_eq!(skip_reason(&recs[1]), &SkipReason::NotIp { ethertype: 0x0806 });

    let f = recs[2].frame().unwrap();
    assert_eq!((f.psdu.as_slice(), f.fcs), (MAC, FcsStatus::MetadataOk));
    assert_eq!((f.rssi, f.lqi), (Some(-70.0), Some(0x70)));

    assert_eq!(skip_reason(&recs[3]), &SkipReason::NotZep { src_port: 53, dst_port: 53 });

    let f = recs[4].frame().unwrap();
    assert_eq!(
        (f.psdu.as_slice(), f.fcs, f.encapsulation),
        (MAC, FcsStatus::Ok, Encapsulation::ZepV1)
    );
    // Like tshark, v1 reports the header LQI even in CRC mode.
    assert_eq!(f.lqi, Some(0x70));

    assert_eq!(skip_reason(&recs[5]), &SkipReason::ZepAck { sequence: 7 });

    let f = recs[6].frame().unwrap();
    assert_eq!((f.psdu.as_slice(), f.fcs, f.rssi), (MAC, FcsStatus::MetadataBad, Some(3.0)));
}

#[test]
fn zep_crc_mode_with_bad_fcs_and_raw_ip_link_types() {
    let mut z = zep_v2(ZepTrailer::Fcs, MAC);
    let n = z.len();
    z[n - 1] ^= 0x55;
    for lt in [101u32, 228] {
        let recs = read(&pcap(lt, &[udp_ipv4(17754, 17754, &z)]));
        let f = recs[0].frame().unwrap();
        assert_eq!(f.psdu, MAC);
        assert!(matches!(f.fcs, FcsStatus::Bad { .. }), "{:?}", f.fcs);
    }
}

#[test]
fn tap_with_and_without_fcs() {
    let rss = (-48.25f32).to_le_bytes().to_vec();
    let with = tap(&[(0, vec![1]), (3, vec![25, 0, 0]), (1, rss), (10, vec![180])], &with_fcs(MAC));
    let without = tap(&[(0, vec![0])], MAC);
    let no_tlv = tap(&[], MAC);
    let mut corrupt = with_fcs(MAC);
    corrupt[0] ^= 1;
    let bad = tap(&[(0, vec![1])], &corrupt);
    let fcs32 = tap(&[(0, vec![2])], &[MAC, &[1, 2, 3, 4][..]].concat());
    let recs = read(&pcap(283, &[with, without, no_tlv, bad, fcs32]));

    let f = recs[0].frame().unwrap();
    assert_eq!(
        (f.psdu.as_slice(), f.fcs, f.encapsulation),
        (MAC, FcsStatus::Ok, Encapsulation::Tap)
    );
    assert_eq!((f.channel, f.rssi, f.lqi), (Some(25), Some(-48.25), Some(180)));
    for r in &recs[1..3] {
        let f = r.frame().unwrap();
        assert_eq!((f.psdu.as_slice(), f.fcs, f.channel), (MAC, FcsStatus::Absent, None));
    }
    assert!(matches!(recs[3].frame().unwrap().fcs, FcsStatus::Bad { .. }));
    assert_eq!(recs[4].frame().unwrap().psdu, MAC);
    assert_eq!(recs[4].frame().unwrap().fcs, FcsStatus::Unverified32);
}

#[test]
fn pcapng_interfaces_sections_and_skipped_blocks() {
    let mut ng = Ng::new(false);
    ng.idb(195, None); // if 0: µs
    ng.idb(283, Some(9)); // if 1: ns
    ng.idb(105, None); // if 2: 802.11, unsupported
    ng.idb(1, Some(0x80 | 10)); // if 3: Ethernet, 2^-10 s
    ng.block(4, &[0, 0, 0, 0]); // Name Resolution Block
    ng.epb(0, 1_700_000_000_123_456, &with_fcs(MAC)); // #1
    ng.block(5, &[0; 12]); // Interface Statistics Block
    ng.epb(1, 1_700_000_000_123_456_789, &tap(&[(0, vec![0])], MAC)); // #2
    ng.epb(2, 0, &[0xaa; 30]); // #3: unsupported link type
    ng.block(0x0000_0bad, &[0x12, 0x34, 0, 0, 9, 9]); // #4: Custom Block, a frame for tshark
    ng.spb(&with_fcs(MAC)); // #5, interface 0
    ng.epb(9, 0, MAC); // #6: undescribed interface
    ng.epb(3, 5 * 1024 + 256, &eth_udp(17754, 17754, &zep_v2(ZepTrailer::Fcs, MAC))); // #7
    let second_section_at = ng.bytes.len() as u64;
    ng.shb(true); // new big-endian section: interfaces start over
    ng.idb(230, Some(3));
    ng.epb(0, 42_500, MAC); // #8, ms resolution
    let block_offsets = ng.offsets.clone();

    let mut reader = CaptureReader::new(&ng.bytes[..]).unwrap();
    let first = reader.next().unwrap().unwrap();
    assert_eq!(reader.interfaces().len(), 4);
    assert_eq!(reader.interfaces()[1].ts_resolution, TsResolution::Decimal(9));
    assert_eq!(reader.interfaces()[3].ts_resolution, TsResolution::Binary(10));
    assert_eq!(reader.interfaces()[0].name.as_deref(), Some("wpan0"));
    assert!(matches!(
        reader.format(),
        CaptureFormat::PcapNg { byte_order: ByteOrder::Little, version: (1, 0) }
    ));
    let mut recs = vec![first];
    recs.extend(reader.by_ref().map(Result::unwrap));
    assert!(matches!(reader.format(), CaptureFormat::PcapNg { byte_order: ByteOrder::Big, .. }));
    assert_eq!(reader.interfaces().len(), 1);

    // tshark 4.0.17 numbers this file the same way (SPB and custom block included).
    assert_eq!(recs.len(), 8);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.number, i as u64 + 1);
        assert!(block_offsets.contains(&r.offset));
    }
    assert_eq!(recs[0].offset, block_offsets[6]); // after SHB, 4 IDBs, NRB
    assert!(recs[7].offset > second_section_at);

    assert_eq!(recs[0].timestamp, Timestamp::new(1_700_000_000, 123_456_000));
    assert_eq!(recs[0].frame().unwrap().fcs, FcsStatus::Ok);
    assert_eq!(recs[1].timestamp, Timestamp::new(1_700_000_000, 123_456_789));
    assert_eq!(recs[1].interface, 1);
    assert_eq!(recs[1].frame().unwrap().encapsulation, Encapsulation::Tap);
    assert_eq!(skip_reason(&recs[2]), &SkipReason::UnsupportedLinkType(105));
    assert_eq!(skip_reason(&recs[3]), &SkipReason::NonPacketBlock { block_type: 0xbad });
    assert_eq!(recs[4].timestamp, Timestamp::default());
    assert_eq!(recs[4].frame().unwrap().psdu, MAC);
    assert_eq!(skip_reason(&recs[5]), &SkipReason::UnknownInterface(9));
    assert_eq!(recs[6].timestamp, Timestamp::new(5, 250_000_000));
    assert_eq!(recs[6].frame().unwrap().encapsulation, Encapsulation::ZepV2);
    assert_eq!(recs[7].timestamp, Timestamp::new(42, 500_000_000));
    assert_eq!(recs[7].frame().unwrap().encapsulation, Encapsulation::Wpan230);
    assert_eq!(recs[7].frame().unwrap().psdu, MAC);
}

#[test]
fn snap_truncated_record_is_skipped() {
    let mut f = pcap_header(false, false, 195);
    f.extend(pcap_record(false, 1, 0, &with_fcs(MAC)[..8], 13));
    let recs = read(&f);
    assert_eq!(skip_reason(&recs[0]), &SkipReason::SnapTruncated { captured: 8, original: 13 });
}

/// Every prefix of a capture either reads cleanly (cut on a record boundary) or yields the
/// complete records and then one error naming the offset of the record that was cut.
fn check_all_cut_points(bytes: &[u8], header_len: usize, record_offsets: &[u64]) {
    let full = read(bytes);
    assert_eq!(full.len(), record_offsets.len());
    for cut in 0..bytes.len() {
        let (recs, err) = read_until_error(&bytes[..cut]);
        if cut < header_len {
            let e = err.unwrap_or_else(|| panic!("cut {cut}: no error"));
            assert_eq!(e.offset, 0, "cut {cut}: {e}");
            continue;
        }
        let complete = record_offsets
            .iter()
            .enumerate()
            .filter(|&(i, _)| {
                let end = record_offsets.get(i + 1).copied().unwrap_or(bytes.len() as u64);
                end <= cut as u64
            })
            .count();
        assert_eq!(recs.len(), complete, "cut {cut}");
        assert_eq!(recs, full[..complete], "cut {cut}");
        let at_boundary = cut == header_len || record_offsets.contains(&(cut as u64));
        match err {
            None => assert!(at_boundary, "cut {cut}: truncation not reported"),
            Some(e) => {
                assert!(!at_boundary, "cut {cut}: spurious error {e}");
                assert_eq!(e.offset, record_offsets[complete], "cut {cut}: {e}");
                assert!(e.to_string().contains("truncated"), "cut {cut}: {e}");
            }
        }
    }
}

#[test]
fn truncated_pcap_at_every_cut_point() {
    let bytes = pcap(195, &[with_fcs(MAC), with_fcs(&MAC[..5]), vec![0x02]]);
    check_all_cut_points(&bytes, 24, &[24, 24 + 16 + 13, 24 + 16 + 13 + 16 + 7]);
    let (_, err) = read_until_error(&bytes[..24 + 16 + 5]);
    assert_eq!(
        err.unwrap().to_string(),
        "at byte offset 24: truncated packet record: header says 13 bytes, only 5 remain"
    );
}

#[test]
fn truncated_pcapng_at_every_cut_point() {
    let mut ng = Ng::new(false);
    ng.idb(230, None);
    ng.epb(0, 1, MAC);
    ng.spb(MAC);
    ng.epb(0, 2, &MAC[..3]);
    let bytes = &ng.bytes;
    // The SHB ends where the IDB starts.
    let (shb_end, idb_at) = (ng.offsets[1], ng.offsets[1]);
    let records = &ng.offsets[2..];
    let full = read(bytes);
    assert_eq!(full.len(), 3);
    for cut in 0..bytes.len() {
        let (recs, err) = read_until_error(&bytes[..cut]);
        let complete = (0..records.len())
            .filter(|&i| records.get(i + 1).copied().unwrap_or(bytes.len() as u64) <= cut as u64)
            .count();
        assert_eq!(recs, full[..complete], "cut {cut}");
        let cut = cut as u64;
        let boundary = cut == shb_end || cut == records[0] || records.contains(&cut);
        match err {
            None => assert!(boundary, "cut {cut}: truncation not reported"),
            Some(e) => {
                assert!(!boundary, "cut {cut}: spurious {e}");
                // The cut block: the SHB, the IDB (not a record) or the next packet block.
                let want = if cut < shb_end {
                    0
                } else if cut < records[0] {
                    idb_at
                } else {
                    records[complete]
                };
                assert_eq!(e.offset, want, "cut {cut}: {e}");
                assert!(e.to_string().contains("truncated"), "cut {cut}: {e}");
            }
        }
    }
}

#[test]
fn fatal_errors_have_messages_and_end_iteration() {
    // pcapng block length 7
    let mut ng = Ng::new(false);
    let at = ng.bytes.len() as u64;
    ng.bytes.extend_from_slice(&6u32.to_le_bytes());
    ng.bytes.extend_from_slice(&7u32.to_le_bytes());
    ng.bytes.extend_from_slice(&[0; 8]);
    let (_, e) = read_until_error(&ng.bytes);
    assert_eq!(
        e.unwrap().to_string(),
        format!("at byte offset {at}: pcapng block length 7 is invalid")
    );

    // Huge block / record lengths are refused before reading.
    let mut ng = Ng::new(false);
    ng.bytes.extend_from_slice(&6u32.to_le_bytes());
    ng.bytes.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    let (_, e) = read_until_error(&ng.bytes);
    assert!(matches!(e.unwrap().kind, CaptureErrorKind::RecordTooLarge { len: 0xffff_fff0 }));
    let mut f = pcap_header(false, false, 195);
    f.extend(pcap_record(false, 0, 0, &[], 0));
    f[24 + 8..24 + 12].copy_from_slice(&(100u32 << 20).to_le_bytes());
    let (_, e) = read_until_error(&f);
    assert!(matches!(e.unwrap().kind, CaptureErrorKind::RecordTooLarge { .. }));

    // A large but allowed declared length with little data: reported, not allocated up front.
    let mut f = pcap_header(false, false, 195);
    f.extend(pcap_record(false, 0, 0, &[1, 2, 3], 3));
    f[24 + 8..24 + 12].copy_from_slice(&(60u32 << 20).to_le_bytes());
    let (_, e) = read_until_error(&f);
    assert!(
        matches!(e.unwrap().kind, CaptureErrorKind::TruncatedRecord { declared, available: 3 } if declared == 60 << 20)
    );

    // Trailing length mismatch.
    let mut ng = Ng::new(false);
    ng.idb(195, None);
    let n = ng.bytes.len();
    ng.bytes[n - 4] ^= 0x10;
    let (_, e) = read_until_error(&ng.bytes);
    assert!(matches!(e.unwrap().kind, CaptureErrorKind::BlockLengthMismatch { .. }));

    // Unknown byte-order magic, unknown magic, unsupported pcap link type, empty file.
    let mut ng = Ng::new(false);
    ng.bytes[8] = 0;
    assert!(matches!(
        CaptureReader::new(&ng.bytes[..]).err().unwrap().kind,
        CaptureErrorKind::BadByteOrderMagic { .. }
    ));
    let e = CaptureReader::new(&b"GIF89a........................"[..]).err().unwrap();
    assert_eq!(e.to_string(), "at byte offset 0: not a pcap or pcapng file (magic 0x47494638)");
    let e = CaptureReader::new(&pcap(105, &[])[..]).err().unwrap();
    assert_eq!(e.to_string(), "at byte offset 20: unsupported link type 105");
    assert!(CaptureReader::new(&[][..]).is_err());
    assert!(matches!(
        CaptureReader::open("/nonexistent/x.pcap").err().unwrap().kind,
        CaptureErrorKind::Io(_)
    ));
}

/// A reader that hands out one byte per call, like a slow pipe.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn short_reads_are_handled() {
    let bytes = mixed_zep_capture();
    let a = read(&bytes);
    let b: Vec<_> = CaptureReader::new(Trickle(&bytes)).unwrap().map(Result::unwrap).collect();
    assert_eq!(a, b);
}
