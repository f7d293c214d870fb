//! Replays every input kept under `tests/fuzz-regressions/` (inputs cargo-fuzz found, plus
//! hand-made corrupt captures) through the capture reader: records or an error, never a panic.

use std::path::Path;
use zigtrust_capture::CaptureReader;

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        if let Ok(r) = CaptureReader::new(&data[..]) {
            for rec in r.take(100_000) {
                if rec.is_err() {
                    break;
                }
            }
        }
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}
