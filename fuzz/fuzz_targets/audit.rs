//! The audit path on arbitrary capture bytes: capture reader + auditor, never a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_audit::Auditor;
use zigtrust_capture::{CaptureReader, RecordContent};
use zigtrust_wire::dissect::Keyring;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = CaptureReader::new(data) {
        let mut a = Auditor::new(Keyring::new());
        for rec in reader.take(10_000) {
            let Ok(rec) = rec else { break };
            if let RecordContent::Frame(f) = &rec.content {
                let t = rec.timestamp.secs.saturating_mul(1_000_000)
                    + i64::from(rec.timestamp.nanos / 1000);
                a.feed(rec.number, t, &f.psdu, f.fcs.is_trustworthy());
            }
        }
        let _ = a.report();
    }
});
