//! Replays every input kept under `tests/fuzz-regressions/` (inputs cargo-fuzz found, plus
//! hand-made corrupt captures) through the capture reader: records or an error, never a panic.

use std::path::Path;
use zigtrust_capture::CaptureReader;
use zigtrust_testkit::fuzz::replay_regressions;

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    replay_regressions(&dir, |data| {
        if let Ok(r) = CaptureReader::new(data) {
            for rec in r.take(100_000) {
                if rec.is_err() {
                    break;
                }
            }
        }
    });
}
