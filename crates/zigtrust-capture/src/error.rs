//! Fatal reader errors. Each carries the byte offset where the problem starts, so a user can
//! look at the file with a hex dump.

use core::fmt;
use std::io;

/// A fatal error while reading a capture: after it the reader yields nothing more.
#[derive(Debug)]
pub struct CaptureError {
    /// Byte offset in the file of the header, record or block at fault.
    pub offset: u64,
    pub kind: CaptureErrorKind,
}

/// What went wrong; see [`CaptureError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    Io(io::Error),
    /// The first four bytes are neither a pcap nor a pcapng magic.
    NotACapture {
        magic: u32,
    },
    /// The file is shorter than its format's file header.
    TruncatedFileHeader {
        needed: u64,
        available: u64,
    },
    /// A pcap record header is cut short.
    TruncatedRecordHeader {
        needed: u64,
        available: u64,
    },
    /// A pcap record's data is cut short.
    TruncatedRecord {
        declared: u64,
        available: u64,
    },
    /// A pcapng block is cut short (`declared` is its total length).
    TruncatedBlock {
        declared: u64,
        available: u64,
    },
    /// A record or block longer than the reader accepts (see `MAX_RECORD_LEN`).
    RecordTooLarge {
        len: u64,
    },
    /// A pcapng block total length that is too small, not a multiple of 4, or too large.
    InvalidBlockLength {
        len: u32,
    },
    /// A pcapng block whose trailing length differs from its leading one.
    BlockLengthMismatch {
        leading: u32,
        trailing: u32,
    },
    /// A pcapng Section Header Block with an unknown byte-order magic.
    BadByteOrderMagic {
        magic: u32,
    },
    /// A pcap or pcapng major version this reader does not know.
    UnsupportedVersion {
        major: u16,
        minor: u16,
    },
    /// A classic pcap whose (only) link type carries no 802.15.4 frames we decode.
    UnsupportedLinkType(u32),
    /// A structurally invalid pcapng block.
    MalformedBlock {
        what: &'static str,
    },
}

impl CaptureError {
    pub(crate) fn new(offset: u64, kind: CaptureErrorKind) -> CaptureError {
        CaptureError { offset, kind }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte offset {}: {}", self.offset, self.kind)
    }
}

impl fmt::Display for CaptureErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CaptureErrorKind::*;
        match self {
            Io(e) => write!(f, "I/O error: {e}"),
            NotACapture { magic } => write!(f, "not a pcap or pcapng file (magic {magic:#010x})"),
            TruncatedFileHeader { needed, available } => {
                write!(f, "truncated file header: needs {needed} bytes, only {available} remain")
            }
            TruncatedRecordHeader { needed, available } => write!(
                f,
                "truncated packet record header: needs {needed} bytes, only {available} remain"
            ),
            TruncatedRecord { declared, available } => write!(
                f,
                "truncated packet record: header says {declared} bytes, only {available} remain"
            ),
            TruncatedBlock { declared, available } => write!(
                f,
                "truncated pcapng block: header says {declared} bytes, only {available} remain"
            ),
            RecordTooLarge { len } => write!(
                f,
                "record length {len} exceeds the {} byte limit",
                crate::reader::MAX_RECORD_LEN
            ),
            InvalidBlockLength { len } => write!(f, "pcapng block length {len} is invalid"),
            BlockLengthMismatch { leading, trailing } => write!(
                f,
                "pcapng block length {leading} does not match its trailing copy {trailing}"
            ),
            BadByteOrderMagic { magic } => {
                write!(f, "pcapng section header has unknown byte-order magic {magic:#010x}")
            }
            UnsupportedVersion { major, minor } => {
                write!(f, "unsupported capture format version {major}.{minor}")
            }
            UnsupportedLinkType(lt) => write!(f, "unsupported link type {lt}"),
            MalformedBlock { what } => write!(f, "malformed pcapng block: {what}"),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CaptureErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}
