//! Typed errors for the HDLC-lite decoder and the Spinel parsers. Nothing in this crate panics
//! on bad input: every malformed, truncated or oversized input is one of these.

use core::fmt;

/// Why an HDLC-lite frame or a Spinel frame / value could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer ended inside `what` (e.g. "Spinel header", "STREAM_RAW PHY data").
    Truncated {
        /// The field or structure that was cut short.
        what: &'static str,
    },
    /// `what` holds a value the format does not allow (e.g. a bool that is neither 0 nor 1).
    Malformed {
        /// The field holding the invalid value.
        what: &'static str,
    },
    /// A packed unsigned integer (Spinel `i`) uses more bytes than its value needs, e.g.
    /// `80 00` for 0. Spinel integers are canonical; accepting these would let two byte
    /// strings mean the same command.
    VarintOverlong,
    /// A packed unsigned integer does not fit in 32 bits.
    VarintOverflow,
    /// The Spinel header byte does not have the flag bits `10` in its top two bits.
    BadHeader {
        /// The header byte received.
        header: u8,
    },
    /// The HDLC-lite frame check sequence (CRC-16/X.25) does not match the payload.
    BadFcs {
        /// FCS computed over the received payload ([`crate::hdlc::fcs`]).
        computed: u16,
        /// FCS carried in the frame's last two bytes (little-endian).
        received: u16,
    },
    /// An HDLC-lite frame between two flags is shorter than its 2-byte FCS.
    FrameTooShort {
        /// Unescaped bytes received between the flags.
        len: usize,
    },
    /// An HDLC-lite frame grew past the decoder's maximum; the rest of it, up to the next flag,
    /// is discarded.
    FrameTooLong {
        /// The decoder's maximum payload length (without the FCS).
        max: usize,
    },
    /// An HDLC-lite escape byte (0x7D) was followed directly by a flag (0x7E): the sender
    /// aborted the frame. The flag starts the next frame.
    Aborted,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { what } => write!(f, "truncated {what}"),
            Error::Malformed { what } => write!(f, "malformed {what}"),
            Error::VarintOverlong => write!(f, "overlong Spinel packed integer"),
            Error::VarintOverflow => write!(f, "Spinel packed integer exceeds 32 bits"),
            Error::BadHeader { header } => {
                write!(f, "not a Spinel header byte: {header:#04x} (flag bits must be 10)")
            }
            Error::BadFcs { computed, received } => {
                write!(f, "bad HDLC FCS: computed {computed:#06x}, frame has {received:#06x}")
            }
            Error::FrameTooShort { len } => {
                write!(f, "HDLC frame of {len} byte(s) is shorter than its FCS")
            }
            Error::FrameTooLong { max } => {
                write!(f, "HDLC frame longer than the {max}-byte maximum")
            }
            Error::Aborted => write!(f, "HDLC frame aborted (escape followed by flag)"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of this crate's decoders and parsers, with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
