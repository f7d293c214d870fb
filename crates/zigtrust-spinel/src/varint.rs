//! Spinel packed unsigned integers (type `i`, the EXI-style varint used for command ids,
//! property ids, statuses and many values): 7 bits per byte, least significant group first,
//! the high bit set on every byte but the last.
//!
//! Values are `u32` (at most 5 bytes). Decoding is strict: an encoding with a redundant
//! trailing zero group (e.g. `80 00` for 0) is [`Error::VarintOverlong`] and one whose value
//! needs more than 32 bits is [`Error::VarintOverflow`], so every value has exactly one
//! encoding and `decode(encode(v)) == v`.

use crate::{Error, Result};

/// The longest encoding of a `u32`.
pub const MAX_LEN: usize = 5;

/// Number of bytes [`encode`] writes for `value` (1 to 5).
pub fn len(value: u32) -> usize {
    match value {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// Appends the packed encoding of `value` to `out`.
pub fn encode(value: u32, out: &mut Vec<u8>) {
    let mut v = value;
    loop {
        let group = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(group);
            return;
        }
        out.push(group | 0x80);
    }
}

/// Decodes the packed integer at the start of `buf`; returns it and the bytes it used.
pub fn decode(buf: &[u8]) -> Result<(u32, usize)> {
    let mut value: u32 = 0;
    for (i, &b) in buf.iter().enumerate().take(MAX_LEN) {
        let group = u32::from(b & 0x7f);
        if i == MAX_LEN - 1 && group > 0x0f {
            return Err(Error::VarintOverflow);
        }
        value |= group << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && group == 0 {
                return Err(Error::VarintOverlong);
            }
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= MAX_LEN {
        // Five bytes and the fifth still says "more".
        return Err(Error::VarintOverflow);
    }
    Err(Error::Truncated { what: "Spinel packed integer" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, &mut out);
        assert_eq!(out.len(), len(v));
        out
    }

    #[test]
    fn spinel_examples() {
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(0x7f), [0x7f]);
        // RCP_API_VERSION (0xB0) as a property id: b0 01.
        assert_eq!(enc(0xb0), [0xb0, 0x01]);
        assert_eq!(enc(0x1305), [0x85, 0x26]);
        assert_eq!(enc(1337), [0xb9, 0x0a]);
        assert_eq!(enc(u32::MAX), [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(decode(&[0xb0, 0x01, 0x99]), Ok((0xb0, 2)));
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff, 0x0f]), Ok((u32::MAX, 5)));
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(decode(&[]), Err(Error::Truncated { what: "Spinel packed integer" }));
        assert_eq!(decode(&[0x80]), Err(Error::Truncated { what: "Spinel packed integer" }));
        assert_eq!(decode(&[0x80, 0x00]), Err(Error::VarintOverlong));
        assert_eq!(decode(&[0xb0, 0x81, 0x00]), Err(Error::VarintOverlong));
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff, 0x10]), Err(Error::VarintOverflow));
        assert_eq!(decode(&[0x80, 0x80, 0x80, 0x80, 0x80]), Err(Error::VarintOverflow));
        assert_eq!(decode(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), Err(Error::VarintOverflow));
    }
}
