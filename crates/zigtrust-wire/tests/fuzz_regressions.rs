//! Replays every input kept under `tests/fuzz-regressions/` (inputs cargo-fuzz found, plus
//! hand-made edge cases) through every wire parser and the full dissector: none may panic.

use std::path::Path;
use zigtrust_crypto::Key;
use zigtrust_testkit::fuzz::replay_regressions;
use zigtrust_wire::aps::{ApsCommand, ApsHeader};
use zigtrust_wire::dissect::{Dissector, KeySource, Keyring};
use zigtrust_wire::mac::MacFrame;
use zigtrust_wire::nwk::{NwkCommand, NwkHeader};
use zigtrust_wire::security::AuxHeader;
use zigtrust_wire::zdo::ZdoMessage;

fn replay(data: &[u8]) {
    let _ = MacFrame::parse(data);
    let _ = NwkHeader::parse(data);
    let _ = NwkCommand::parse(data);
    let _ = ApsHeader::parse(data);
    let _ = ApsCommand::parse(data);
    let _ = AuxHeader::parse(data);
    for cluster in [0x0013, 0x0034, 0x0036, 0x8000] {
        let _ = ZdoMessage::parse(cluster, data);
    }
    let mut ring = Keyring::new();
    ring.add_key(Key::from_bytes([0x11; 16]), KeySource::Given);
    let mut d = Dissector::new(ring);
    let _ = d.dissect(1, data);
}

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    replay_regressions(&dir, replay);
    // Edge cases that are cheap to keep inline: empty, every single byte, all-ones headers.
    replay(&[]);
    for b in 0..=255u8 {
        replay(&[b]);
        replay(&[b; 3]);
        replay(&[b; 40]);
    }
}
