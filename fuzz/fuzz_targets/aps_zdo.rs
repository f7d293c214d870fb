//! APS header/command and ZDO parsers: never panic; parsed values re-emit and re-parse equal.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_wire::aps::{ApsCommand, ApsFrame, ApsHeader};
use zigtrust_wire::zdo::ZdoMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok((h, n)) = ApsHeader::parse(data) {
        let mut out = Vec::new();
        h.emit(&mut out);
        assert_eq!(&out[..], &data[..n]);
    }
    let _ = ApsFrame::parse(data);
    if let Ok(c) = ApsCommand::parse(data) {
        let mut out = Vec::new();
        c.emit(&mut out);
        assert_eq!(ApsCommand::parse(&out), Ok(c));
    }
    if data.len() >= 2 {
        let cluster = u16::from_le_bytes([data[0], data[1]]);
        if let Ok(z) = ZdoMessage::parse(cluster, &data[2..]) {
            let mut out = Vec::new();
            z.emit(&mut out);
            assert_eq!(ZdoMessage::parse(cluster, &out), Ok(z));
        }
    }
});
