//! Capture reader on arbitrary file bytes: records or a CaptureError, never a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_capture::CaptureReader;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = CaptureReader::new(data) {
        for rec in reader.take(10_000) {
            if rec.is_err() {
                break;
            }
        }
    }
});
