//! Full-stack dissection (MAC → NWK → decrypt → APS → commands/ZDO) of arbitrary frames, with
//! keys that make the decrypting paths reachable: never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_crypto::Key;
use zigtrust_wire::dissect::{Dissector, KeySource, Keyring};

fuzz_target!(|data: &[u8]| {
    let mut ring = Keyring::new();
    ring.add_key(Key::from_bytes([0x11; 16]), KeySource::Given);
    let mut d = Dissector::new(ring);
    // Several frames per input so learned keys and addresses carry over.
    for (i, chunk) in data.split(|b| *b == 0x7e).enumerate() {
        let _ = d.dissect(i as u64 + 1, chunk);
    }
});
