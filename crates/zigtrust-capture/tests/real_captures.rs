//! Reads every capture in `shared/captures` and checks it frame by frame against tshark 4.0.17
//! output stored in `tests/data/<file>.tshark.tsv` (made with `tshark -T fields -E header=y -e
//! frame.number -e frame.time_epoch -e frame.protocols -e wpan.frame_length -e wpan.fcs_ok -e
//! wpan.fcs -e wpan.rssi -e zep.lqi -e zep.channel_id -e zep.device_id -e zep.seqno`).
//! `wpan.frame_length` is the PSDU length without FCS/metadata, which is what we return.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zigtrust_capture::{
    CaptureFormat, CaptureReader, CaptureRecord, Encapsulation, FcsStatus, LinkType, Timestamp,
};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/captures");
const ORACLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn capture(name: &str) -> PathBuf {
    Path::new(CAPTURES).join(name)
}

fn read_all(name: &str) -> Vec<CaptureRecord> {
    let path = capture(name);
    let reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader.map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}"))).collect()
}

fn oracle(name: &str) -> Vec<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(Path::new(ORACLE).join(format!("{name}.tshark.tsv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            header.iter().zip(l.split('\t')).map(|(h, v)| (h.to_string(), v.to_string())).collect()
        })
        .collect()
}

fn parse_time(s: &str) -> Timestamp {
    let (secs, frac) = s.split_once('.').unwrap();
    Timestamp::new(secs.parse().unwrap(), frac.parse().unwrap())
}

/// Every record must agree with tshark; returns how many records had each FCS status.
fn check_against_tshark(name: &str) -> BTreeMap<&'static str, usize> {
    let recs = read_all(name);
    let rows = oracle(name);
    assert_eq!(recs.len(), rows.len(), "{name}: record count");
    let mut statuses = BTreeMap::new();
    for (rec, row) in recs.iter().zip(&rows) {
        let ctx = format!("{name} frame {}", rec.number);
        assert_eq!(rec.number.to_string(), row["frame.number"], "{ctx}");
        assert_eq!(rec.timestamp, parse_time(&row["frame.time_epoch"]), "{ctx}");
        let f = rec.frame().unwrap_or_else(|| panic!("{ctx}: skipped {:?}", rec.content));
        assert_eq!(f.psdu.len().to_string(), row["wpan.frame_length"], "{ctx}: PSDU length");
        let key = match f.fcs {
            FcsStatus::Ok => "ok",
            FcsStatus::Bad { .. } => "bad",
            FcsStatus::Absent => "absent",
            FcsStatus::MetadataOk => "metadata-ok",
            FcsStatus::MetadataBad => "metadata-bad",
            FcsStatus::Unverified32 => "unverified32",
        };
        *statuses.entry(key).or_insert(0) += 1;
        // tshark leaves fcs_ok empty when the MAC header dissection aborts; skip those.
        if f.encapsulation == Encapsulation::Wpan195 && !row["wpan.fcs_ok"].is_empty() {
            let ok = row["wpan.fcs_ok"] == "1";
            assert_eq!(f.fcs == FcsStatus::Ok, ok, "{ctx}: {:?}", f.fcs);
            let received = match f.fcs {
                FcsStatus::Bad { received, .. } => received,
                _ => zigtrust_wire::mac::fcs(&f.psdu),
            };
            assert_eq!(format!("{received:#06x}"), row["wpan.fcs"], "{ctx}");
        }
        if matches!(f.encapsulation, Encapsulation::ZepV1 | Encapsulation::ZepV2) {
            let z = f.zep.unwrap();
            assert_eq!(row["wpan.fcs_ok"] == "1", f.fcs == FcsStatus::MetadataOk, "{ctx}");
            assert_eq!(f.rssi.unwrap().to_string(), row["wpan.rssi"], "{ctx}: rssi");
            assert_eq!(f.lqi.unwrap().to_string(), row["zep.lqi"], "{ctx}: lqi");
            assert_eq!(f.channel.unwrap().to_string(), row["zep.channel_id"], "{ctx}");
            assert_eq!(z.device_id.to_string(), row["zep.device_id"], "{ctx}");
            assert_eq!(z.sequence.unwrap().to_string(), row["zep.seqno"], "{ctx}");
        }
    }
    statuses
}

fn counts(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

#[test]
fn captures_directory_is_complete() {
    // No silent skip: CI must have the shared captures next to the repo.
    let dir = std::fs::read_dir(CAPTURES).unwrap_or_else(|e| panic!("{CAPTURES}: {e}"));
    let mut names: Vec<String> = dir
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    names.sort();
    assert_eq!(names, zigtrust_testkit::SHARED_CAPTURES);
    // Each one reads to the end without error and has a tshark oracle.
    for n in &names {
        assert!(!read_all(n).is_empty(), "{n}");
        assert!(!oracle(n).is_empty(), "{n}");
    }
}

#[test]
fn zigator_captures() {
    // Frame 3 of 01 is a single byte (too short for an FCS: tshark shows it FCS-less);
    // frame 4 of 01 and frame 10 of 02 have a bad FCS, as tshark says. Frame 12 of 02 (4 bytes)
    // too: tshark stops at its MAC header and reports nothing, but its FCS bytes are a `c0 de` marker.
    assert_eq!(
        check_against_tshark("zigator-01-phy-testing.pcap"),
        counts(&[("ok", 2), ("bad", 1), ("absent", 1)])
    );
    assert_eq!(
        check_against_tshark("zigator-02-mac-testing.pcap"),
        counts(&[("ok", 17), ("bad", 2)])
    );
    assert_eq!(check_against_tshark("zigator-03-nwk-testing.pcap"), counts(&[("ok", 15)]));
    assert_eq!(check_against_tshark("zigator-04-aps-testing.pcap"), counts(&[("ok", 11)]));
    assert_eq!(check_against_tshark("zigator-05-zdp-testing.pcap"), counts(&[("ok", 1)]));
    assert_eq!(check_against_tshark("zigator-06-zcl-testing.pcap"), counts(&[("ok", 1)]));

    let r01 = read_all("zigator-01-phy-testing.pcap");
    assert_eq!(r01[2].frame().unwrap().psdu.len(), 1);
    assert!(
        matches!(r01[3].frame().unwrap().fcs, FcsStatus::Bad { computed, received: 0x807f } if computed != 0x807f)
    );
    let r02 = read_all("zigator-02-mac-testing.pcap");
    let f12 = r02[11].frame().unwrap();
    assert_eq!(f12.psdu, [0x3c, 0x33]);
    assert_eq!(f12.fcs, FcsStatus::Bad { computed: 0x1c1a, received: 0xdec0 });

    let reader = CaptureReader::open(capture("zigator-03-nwk-testing.pcap")).unwrap();
    assert!(matches!(
        reader.format(),
        CaptureFormat::Pcap { link_type: LinkType::IEEE802_15_4_WITHFCS, nanosecond: false, .. }
    ));
}

#[test]
fn zoh_pcap_and_pcapng_agree() {
    assert_eq!(check_against_tshark("zoh-frames-nofcs.pcap"), counts(&[("absent", 32)]));
    assert_eq!(check_against_tshark("zoh-frames-nofcs.pcapng"), counts(&[("absent", 32)]));
    let a = read_all("zoh-frames-nofcs.pcap");
    let b = read_all("zoh-frames-nofcs.pcapng");
    assert_eq!(a.len(), 32);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.number, y.number);
        assert_eq!(x.timestamp, y.timestamp);
        assert_eq!(x.frame().unwrap(), y.frame().unwrap());
        assert_eq!(x.frame().unwrap().encapsulation, Encapsulation::Wpan230);
    }
    let mut reader = CaptureReader::open(capture("zoh-frames-nofcs.pcapng")).unwrap();
    assert!(matches!(reader.format(), CaptureFormat::PcapNg { .. }));
    reader.next().unwrap().unwrap();
    assert_eq!(reader.interfaces().len(), 1);
    assert_eq!(reader.interfaces()[0].link_type, LinkType::IEEE802_15_4_NOFCS);
}

#[test]
fn zbtk_zep_captures() {
    // Every record is a ZEP v2 data frame in LQI mode whose CC24xx "CRC OK" bit is set.
    assert_eq!(check_against_tshark("zbtk-trace-zep.pcap"), counts(&[("metadata-ok", 152)]));
    assert_eq!(check_against_tshark("zbtk-vectors-zep.pcap"), counts(&[("metadata-ok", 52)]));
    for name in ["zbtk-trace-zep.pcap", "zbtk-vectors-zep.pcap"] {
        for rec in read_all(name) {
            let f = rec.frame().unwrap();
            let z = f.zep.unwrap();
            assert_eq!((f.encapsulation, z.version, z.crc_mode), (Encapsulation::ZepV2, 2, false));
        }
    }
}
