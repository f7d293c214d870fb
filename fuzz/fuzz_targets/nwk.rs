//! NWK header and command parsers: never panic; parsed values re-emit to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_wire::nwk::{NwkCommand, NwkFrame, NwkHeader, NwkPacket};

fuzz_target!(|data: &[u8]| {
    if let Ok((h, n)) = NwkHeader::parse(data) {
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(&out[..], &data[..n]);
    }
    if let Ok(p) = NwkPacket::new_checked(data) {
        let _ = (p.src_ieee(), p.dst_ieee(), p.payload());
    }
    if let Ok(f) = NwkFrame::parse(data) {
        let _ = f.command();
    }
    if let Ok(c) = NwkCommand::parse(data) {
        let mut out = Vec::new();
        c.emit(&mut out);
        assert_eq!(&out[..], data);
    }
});
