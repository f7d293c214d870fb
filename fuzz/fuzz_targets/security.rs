//! Aux security header and CCM* open on arbitrary frames: errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_crypto::{CcmStar, Key, SecurityLevel};
use zigtrust_wire::security::{open, AuxHeader};

fuzz_target!(|data: &[u8]| {
    if let Ok((aux, n)) = AuxHeader::parse(data) {
        let mut out = Vec::new();
        aux.emit(&mut out);
        assert_eq!(&out[..], &data[..n]);
    }
    let cipher = CcmStar::new(&Key::from_bytes([0x11; 16]));
    let split = data.first().map(|b| *b as usize % 24).unwrap_or(0);
    for level in [SecurityLevel::EncMic32, SecurityLevel::Mic128, SecurityLevel::Enc] {
        let _ = open(&cipher, level, data, split, None);
    }
});
