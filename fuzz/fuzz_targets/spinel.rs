//! HDLC-lite decoder and Spinel parsers: never panic, under any chunking of the stream;
//! every decoded payload re-encodes and decodes to itself; whatever parses re-emits to bytes
//! that parse the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_spinel::{hdlc, varint, Frame, PropOp, PropValue, SpinelPacket};

fn check_frame(bytes: &[u8]) {
    if let Ok(p) = SpinelPacket::new_checked(bytes) {
        let _ = (p.header(), p.payload(), p.property());
    }
    if let Ok(f) = Frame::parse(bytes) {
        let out = f.to_vec();
        assert_eq!(Frame::parse(&out).as_ref(), Ok(&f));
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks a chunk size and a maximum frame length for the HDLC decoder.
    let (&knob, rest) = data.split_first().unwrap_or((&0, &[]));
    let chunk = usize::from(knob % 16) + 1;
    let max = if knob & 0x80 != 0 { usize::from(knob & 0x3f) } else { hdlc::DEFAULT_MAX_LEN };

    let mut whole = hdlc::Decoder::with_max_len(max);
    let at_once = whole.feed(rest);
    let mut chunked = hdlc::Decoder::with_max_len(max);
    let mut in_chunks = Vec::new();
    for c in rest.chunks(chunk) {
        in_chunks.extend(chunked.feed(c));
    }
    assert_eq!(at_once, in_chunks);
    for payload in at_once.into_iter().flatten() {
        assert!(payload.len() <= max);
        assert_eq!(hdlc::decode_one(&hdlc::encode_to_vec(&payload)).as_ref(), Ok(&payload));
        check_frame(&payload);
    }

    // The raw bytes as one Spinel frame, as a packed integer, and as each command's value.
    check_frame(rest);
    if let Ok((v, n)) = varint::decode(rest) {
        let mut out = Vec::new();
        varint::encode(v, &mut out);
        assert_eq!(&out[..], &rest[..n]);
    }
    if let Some((&p, value)) = rest.split_first() {
        let prop = [
            0u32, 1, 2, 3, 5, 8, 0x20, 0x21, 0x34, 0x35, 0x36, 0x37, 0x38, 0x71, 0xb0, 0x120b,
            0x1303, 0x1304, 0x1305, 0x802,
        ][usize::from(p) % 20];
        let op = PropOp::ALL[usize::from(p >> 5) % 6];
        if let Ok(v) = PropValue::parse(op, prop, value) {
            assert!(v.fits(op));
            let mut out = Vec::new();
            v.emit(&mut out);
            assert_eq!(PropValue::parse(op, prop, &out).as_ref(), Ok(&v));
        }
    }
});
