//! Typed errors for every parser in this crate. Parsers never panic on bad input.

use core::fmt;

/// Why a frame could not be parsed, emitted, secured or unsecured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer ended inside `what` (e.g. "MAC header", "NWK source route").
    Truncated {
        /// The field or structure that was cut short.
        what: &'static str,
    },
    /// `what` holds a value the format does not allow.
    Malformed {
        /// The field holding the invalid value.
        what: &'static str,
    },
    /// Well-formed but outside what this codec handles (e.g. MAC-layer security, 802.15.4-2015 IEs).
    Unsupported {
        /// The feature or field this codec does not handle.
        what: &'static str,
    },
    /// The 802.15.4 FCS does not match the frame.
    BadFcs {
        /// FCS computed over the received MAC header and payload ([`crate::mac::fcs`]).
        computed: u16,
        /// FCS carried in the frame's last two bytes (little-endian).
        received: u16,
    },
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

/// Result of this crate's parsers and codecs, with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// Bounds-checked little-endian reader used by the parsers, so a short buffer becomes
/// `Error::Truncated` instead of a panic.
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
    /// Bytes consumed so far (offset of the next read in the buffer).
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// The unread tail of the buffer, without consuming it.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    /// Whether the whole buffer has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// Consumes the next `n` bytes; [`Error::Truncated`] naming `what` if fewer remain.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::Truncated { what });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Consumes the next `N` bytes as an array; [`Error::Truncated`] naming `what` if fewer remain.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// Consumes one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }
    /// Consumes a little-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    /// Consumes a little-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    /// Consumes a little-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    /// Consumes an 8-byte little-endian IEEE address.
    pub fn ext_addr(&mut self, what: &'static str) -> Result<crate::ExtAddr> {
        Ok(crate::ExtAddr(self.u64(what)?))
    }
}
