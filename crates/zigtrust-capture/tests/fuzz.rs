//! Arbitrary input must never panic, and iteration must always end.

mod common;

use common::*;
use proptest::prelude::*;
use zigtrust_capture::zep::ZepTrailer;
use zigtrust_capture::{decode_packet, CaptureReader, LinkType};

/// Reads everything; the loop bound guards against a reader that never ends.
fn drain(bytes: &[u8]) {
    if let Ok(reader) = CaptureReader::new(bytes) {
        let mut n = 0usize;
        for item in reader {
            n += 1;
            assert!(n <= bytes.len() + 1, "more items than bytes");
            if let Err(e) = item {
                let _ = e.to_string();
            }
        }
    }
}

fn valid_pcapng() -> Vec<u8> {
    let mut ng = Ng::new(false);
    ng.idb(195, None);
    ng.idb(1, Some(9));
    ng.idb(283, Some(0x83));
    ng.epb(0, 5, &with_fcs(MAC));
    ng.epb(1, 6, &eth_udp(17754, 17754, &zep_v2(ZepTrailer::Fcs, MAC)));
    ng.epb(2, 7, &tap(&[(0, vec![1]), (3, vec![11, 0, 0])], &with_fcs(MAC)));
    ng.spb(MAC);
    ng.block(0xbad, &[0; 8]);
    ng.bytes
}

fn valid_captures() -> Vec<Vec<u8>> {
    vec![
        mixed_zep_capture(),
        valid_pcapng(),
        pcap(283, &[tap(&[(0, vec![1]), (1, vec![0; 4])], &with_fcs(MAC))]),
    ]
}

const MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0x0a, 0x0d, 0x0d, 0x0a],
    [0, 0, 0, 0],
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(magic in 0usize..5, body in proptest::collection::vec(any::<u8>(), 0..400)) {
        // Also with a real magic prefix, so the fuzzing reaches past format detection.
        drain(&body);
        let mut b = MAGICS[magic].to_vec();
        b.extend_from_slice(&body);
        drain(&b);
    }

    #[test]
    fn mutated_captures_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = valid_captures().swap_remove(which);
        for (at, v) in edits {
            let i = at.index(b.len());
            b[i] = v;
        }
        drain(&b);
        let n = cut.index(b.len() + 1);
        drain(&b[..n]);
    }

    #[test]
    fn decode_packet_never_panics(lt in prop::sample::select(vec![0u16, 1, 101, 108, 113, 195, 228, 229, 230, 276, 283, 7]),
                                  data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_packet(LinkType(lt), &data);
        let mut z = b"EX".to_vec();
        z.extend_from_slice(&data);
        let _ = zigtrust_capture::zep::decode(&z);
    }
}
