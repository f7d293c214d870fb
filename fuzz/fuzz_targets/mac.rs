//! MAC frame parser: never panics; whatever parses re-emits to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_wire::mac::{strip_fcs, MacFrame, MacHeader, MacPacket};

fuzz_target!(|data: &[u8]| {
    let _ = strip_fcs(data);
    let _ = MacHeader::parse(data);
    if let Ok(p) = MacPacket::new_checked(data) {
        let _ = (p.dst_addr(), p.src_addr(), p.payload());
    }
    if let Ok(f) = MacFrame::parse(data) {
        let mut out = Vec::new();
        f.emit(&mut out);
        assert_eq!(out.len(), f.buffer_len());
        assert_eq!(MacFrame::parse(&out).as_ref(), Ok(&f));
    }
});
