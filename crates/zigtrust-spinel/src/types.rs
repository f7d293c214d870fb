//! The Spinel data types a Zigbee host needs, read with [`Reader`] and written with [`Writer`]:
//!
//! | type | Spinel name | here |
//! |---|---|---|
//! | `b` | bool, one byte 0 or 1 (anything else is malformed) | [`Reader::bool`] |
//! | `C` / `c` | u8 / i8 | [`Reader::u8`] / [`Reader::i8`] |
//! | `S` / `L` / `X` | u16 / u32 / u64, little-endian | [`Reader::u16`], [`Reader::u32`], [`Reader::u64`] |
//! | `i` | packed unsigned integer ([`crate::varint`]) | [`Reader::varint`] |
//! | `E` | EUI-64, 8 bytes in big-endian (display) order | [`Reader::eui64`] |
//! | `U` | NUL-terminated UTF-8 string | [`Reader::utf8`] |
//! | `d` | data with a u16 little-endian length prefix | [`Reader::data_with_len`] |
//! | `t(...)` | struct: its fields behind a u16 length prefix | [`Reader::structure`] |
//! | `A(...)` | array: items repeated to the end of the enclosing value | loops over [`Reader::is_empty`] |

use core::fmt;

use crate::{varint, Error, Result};

/// An IEEE EUI-64 (802.15.4 extended address) as Spinel carries it (type `E`): eight bytes in
/// big-endian, human display order, `18:b4:30:00:00:00:00:01` on the wire as `18 b4 30 …`.
///
/// 802.15.4 frames carry the same address little-endian; [`Eui64::to_u64`] gives the number
/// whose little-endian bytes are what goes on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Eui64(pub [u8; 8]);

impl Eui64 {
    /// The address as a number (`0x18b4300000000001` for `18:b4:30:00:00:00:00:01`).
    pub fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The address from its numeric value.
    pub fn from_u64(value: u64) -> Eui64 {
        Eui64(value.to_be_bytes())
    }
}

impl fmt::Display for Eui64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Bounds-checked reader of Spinel-typed fields, so a short or bad buffer becomes an
/// [`Error`] instead of a panic.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// The unread tail, consumed.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
    /// Consumes `n` raw bytes; [`Error::Truncated`] naming `what` if fewer remain.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::Truncated { what });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N, what)?);
        Ok(a)
    }
    /// `b`: one byte, 0 or 1.
    pub fn bool(&mut self, what: &'static str) -> Result<bool> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::Malformed { what }),
        }
    }
    /// `C`: unsigned byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }
    /// `c`: signed byte.
    pub fn i8(&mut self, what: &'static str) -> Result<i8> {
        Ok(self.u8(what)? as i8)
    }
    /// `S`: little-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    /// `L`: little-endian u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    /// `X`: little-endian u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    /// `i`: packed unsigned integer.
    pub fn varint(&mut self, what: &'static str) -> Result<u32> {
        let (v, n) = varint::decode(&self.buf[self.pos..]).map_err(|e| match e {
            Error::Truncated { .. } => Error::Truncated { what },
            e => e,
        })?;
        self.pos += n;
        Ok(v)
    }
    /// `E`: EUI-64.
    pub fn eui64(&mut self, what: &'static str) -> Result<Eui64> {
        Ok(Eui64(self.array(what)?))
    }
    /// `U`: UTF-8 string up to its terminating NUL (consumed, not returned).
    pub fn utf8(&mut self, what: &'static str) -> Result<&'a str> {
        let rest = &self.buf[self.pos..];
        let nul = rest.iter().position(|&b| b == 0).ok_or(Error::Truncated { what })?;
        let s = core::str::from_utf8(&rest[..nul]).map_err(|_| Error::Malformed { what })?;
        self.pos += nul + 1;
        Ok(s)
    }
    /// `d`: data behind a u16 little-endian length.
    pub fn data_with_len(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let n = self.u16(what)?;
        self.bytes(usize::from(n), what)
    }
    /// `t(...)`: a struct's bytes behind a u16 length, as a reader of its own. Fields a newer
    /// peer appended to the struct are left unread by the caller and so ignored, as Spinel
    /// asks of older parsers.
    pub fn structure(&mut self, what: &'static str) -> Result<Reader<'a>> {
        Ok(Reader::new(self.data_with_len(what)?))
    }
}

/// Writers for the Spinel data types, appending to a `Vec<u8>` (the emit side of [`Reader`]).
pub trait Writer {
    /// `b`.
    fn put_bool(&mut self, v: bool);
    /// `C`.
    fn put_u8(&mut self, v: u8);
    /// `c`.
    fn put_i8(&mut self, v: i8);
    /// `S`.
    fn put_u16(&mut self, v: u16);
    /// `L`.
    fn put_u32(&mut self, v: u32);
    /// `X`.
    fn put_u64(&mut self, v: u64);
    /// `i`.
    fn put_varint(&mut self, v: u32);
    /// `E`.
    fn put_eui64(&mut self, v: Eui64);
    /// `U`: the string up to (not including) any NUL it contains, then a NUL.
    fn put_utf8(&mut self, v: &str);
    /// `d`: a u16 length, then the data. Data longer than 65535 bytes cannot be expressed and
    /// is cut to 65535.
    fn put_data_with_len(&mut self, v: &[u8]);
    /// `t(...)`: writes the fields `body` appends behind their u16 length (cut to 65535).
    fn put_struct(&mut self, body: impl FnOnce(&mut Vec<u8>));
}

impl Writer for Vec<u8> {
    fn put_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_i8(&mut self, v: i8) {
        self.push(v as u8);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_varint(&mut self, v: u32) {
        varint::encode(v, self);
    }
    fn put_eui64(&mut self, v: Eui64) {
        self.extend_from_slice(&v.0);
    }
    fn put_utf8(&mut self, v: &str) {
        let end = v.bytes().position(|b| b == 0).unwrap_or(v.len());
        self.extend_from_slice(&v.as_bytes()[..end]);
        self.push(0);
    }
    fn put_data_with_len(&mut self, v: &[u8]) {
        let v = &v[..v.len().min(usize::from(u16::MAX))];
        self.put_u16(v.len() as u16);
        self.extend_from_slice(v);
    }
    fn put_struct(&mut self, body: impl FnOnce(&mut Vec<u8>)) {
        let mut inner = Vec::new();
        body(&mut inner);
        self.put_data_with_len(&inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui64_is_big_endian_display_order() {
        let e = Eui64([0x18, 0xb4, 0x30, 0, 0, 0, 0, 1]);
        assert_eq!(e.to_string(), "18:b4:30:00:00:00:00:01");
        assert_eq!(e.to_u64(), 0x18b4_3000_0000_0001);
        assert_eq!(Eui64::from_u64(0x18b4_3000_0000_0001), e);
    }

    #[test]
    fn reader_types() {
        let mut out = Vec::new();
        out.put_bool(true);
        out.put_i8(-20);
        out.put_u16(0xbeef);
        out.put_utf8("OPENTHREAD");
        out.put_struct(|s| {
            s.put_u8(11);
            s.put_u64(7);
        });
        let mut r = Reader::new(&out);
        assert_eq!(r.bool("b"), Ok(true));
        assert_eq!(r.i8("c"), Ok(-20));
        assert_eq!(r.u16("S"), Ok(0xbeef));
        assert_eq!(r.utf8("U"), Ok("OPENTHREAD"));
        let mut s = r.structure("t").unwrap();
        assert_eq!(s.u8("C"), Ok(11));
        assert_eq!(s.u64("X"), Ok(7));
        assert!(s.is_empty() && r.is_empty());
    }

    #[test]
    fn reader_errors() {
        assert_eq!(Reader::new(&[2]).bool("b"), Err(Error::Malformed { what: "b" }));
        assert_eq!(Reader::new(b"abc").utf8("U"), Err(Error::Truncated { what: "U" }));
        assert_eq!(Reader::new(&[0xff, 0]).utf8("U"), Err(Error::Malformed { what: "U" }));
        assert_eq!(Reader::new(&[5, 0, 1]).data_with_len("d"), Err(Error::Truncated { what: "d" }));
        assert_eq!(Reader::new(&[1]).u16("S"), Err(Error::Truncated { what: "S" }));
    }
}
