//! Typed errors for every parser in this crate. Parsers never panic on bad input.

use core::fmt;

/// Why a frame could not be parsed, emitted, secured or unsecured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer ended inside `what` (e.g. "MAC header", "NWK source route").
    Truncated { what: &'static str },
    /// `what` holds a value the format does not allow.
    Malformed { what: &'static str },
    /// Well-formed but outside what this codec handles (e.g. MAC-layer security, 802.15.4-2015 IEs).
    Unsupported { what: &'static str },
    /// The 802.15.4 FCS does not match the frame.
    BadFcs { computed: u16, received: u16 },
    /// CCM* authentication failed: wrong key, wrong header, or a tampered frame.
    MicMismatch,
    /// Security processing needs the sender's IEEE address and the frame does not carry it.
    NoSourceAddress,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { what } => write!(f, "truncated {what}"),
            Error::Malformed { what } => write!(f, "malformed {what}"),
            Error::Unsupported { what } => write!(f, "unsupported {what}"),
            Error::BadFcs { computed, received } => {
                write!(f, "bad FCS: computed {computed:#06x}, frame has {received:#06x}")
            }
            Error::MicMismatch => write!(f, "MIC check failed (wrong key or tampered frame)"),
            Error::NoSourceAddress => {
                write!(f, "no source IEEE address available for the security nonce")
            }
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;

/// Bounds-checked little-endian reader used by the parsers, so a short buffer becomes
/// `Error::Truncated` instead of a panic.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::Truncated { what });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub fn ext_addr(&mut self, what: &'static str) -> Result<crate::ExtAddr> {
        Ok(crate::ExtAddr(self.u64(what)?))
    }
}
