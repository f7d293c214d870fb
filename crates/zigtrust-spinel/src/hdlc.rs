//! HDLC-lite, the byte framing OpenThread puts around Spinel frames on a UART (and on an
//! `ot-rcp` process's stdin/stdout).
//!
//! A frame is `7E <escaped payload> <escaped FCS> 7E`. Inside it, each byte of the escape set
//! (`7E 7D 11 13 F8`: flag, escape, XON, XOFF and 0xF8) is sent as `7D` followed by the byte
//! XOR `0x20`. The FCS is CRC-16/X.25 (RFC 1662: init `FFFF`, reflected polynomial `0x8408`,
//! final XOR `FFFF`) over the unescaped payload, appended little-endian; running the same CRC
//! over payload and FCS leaves the residue `F0B8`. Consecutive flags are allowed (a flag both
//! ends one frame and starts the next) and empty frames between them are ignored.
//!
//! [`encode`] writes one frame; [`Decoder`] turns an arbitrarily chunked byte stream back into
//! payloads, reporting bad frames as [`Error`]s and resynchronising on the next flag.

use crate::{Error, Result};

/// The flag byte that opens and closes every frame.
pub const FLAG: u8 = 0x7E;
/// The escape byte: the next byte on the wire is the real byte XOR [`ESCAPE_XOR`].
pub const ESCAPE: u8 = 0x7D;
/// What an escaped byte is XORed with.
pub const ESCAPE_XOR: u8 = 0x20;
/// Bytes the encoder escapes: flag, escape, XON (0x11), XOFF (0x13) and 0xF8, as OpenThread does.
pub const ESCAPED: [u8; 5] = [FLAG, ESCAPE, 0x11, 0x13, 0xF8];
/// CRC-16/X.25 register value left after running over a payload followed by its correct FCS.
pub const GOOD_RESIDUE: u16 = 0xF0B8;
/// Default maximum payload a [`Decoder`] accepts: comfortably above Spinel's 1300-byte
/// `SPINEL_FRAME_MAX_SIZE`.
pub const DEFAULT_MAX_LEN: usize = 2048;

const CRC_INIT: u16 = 0xFFFF;

const CRC_TABLE: [u16; 256] = crc_table();

const fn crc_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut v = i as u16;
        let mut bit = 0;
        while bit < 8 {
            v = if v & 1 != 0 { (v >> 1) ^ 0x8408 } else { v >> 1 };
            bit += 1;
        }
        table[i] = v;
        i += 1;
    }
    table
}

/// One byte of the CRC-16/X.25 register update (no final XOR).
fn crc_step(crc: u16, byte: u8) -> u16 {
    (crc >> 8) ^ CRC_TABLE[usize::from((crc as u8) ^ byte)]
}

/// The HDLC-lite FCS of `payload`: CRC-16/X.25, final XOR applied; sent little-endian.
pub fn fcs(payload: &[u8]) -> u16 {
    !payload.iter().fold(CRC_INIT, |crc, &b| crc_step(crc, b))
}

/// Whether the encoder sends `byte` escaped.
pub fn needs_escape(byte: u8) -> bool {
    ESCAPED.contains(&byte)
}

fn push_escaped(out: &mut Vec<u8>, byte: u8) {
    if needs_escape(byte) {
        out.push(ESCAPE);
        out.push(byte ^ ESCAPE_XOR);
    } else {
        out.push(byte);
    }
}

/// Appends `payload` as one HDLC-lite frame to `out`: opening flag, escaped payload, escaped
/// little-endian FCS, closing flag.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + 6);
    out.push(FLAG);
    for &b in payload {
        push_escaped(out, b);
    }
    for b in fcs(payload).to_le_bytes() {
        push_escaped(out, b);
    }
    out.push(FLAG);
}

/// [`encode`] into a new vector.
pub fn encode_to_vec(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(payload, &mut out);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a flag: at the start of the stream and after a frame was given up.
    Hunting,
    /// After a flag, collecting unescaped bytes.
    InFrame,
    /// The previous byte was the escape byte.
    Escaped,
}

/// Incremental HDLC-lite decoder: feed it bytes as they arrive, in chunks of any size, and it
/// hands back each complete frame's payload (FCS checked and removed).
///
/// Bytes before the first flag are skipped. A frame with a wrong FCS, one shorter than its FCS,
/// an aborted one (`7D 7E`) or one longer than the maximum is reported as an [`Error`] and the
/// decoder resynchronises on the next flag; it never panics and its memory is bounded by the
/// maximum frame length.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    buf: Vec<u8>,
    crc: u16,
    max_len: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder accepting payloads up to [`DEFAULT_MAX_LEN`] bytes.
    pub fn new() -> Decoder {
        Decoder::with_max_len(DEFAULT_MAX_LEN)
    }

    /// A decoder accepting payloads (without the FCS) up to `max_len` bytes.
    pub fn with_max_len(max_len: usize) -> Decoder {
        Decoder { state: State::Hunting, buf: Vec::new(), crc: CRC_INIT, max_len }
    }

    /// The largest payload this decoder accepts.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Whether the decoder holds part of a frame (bytes after a flag that no flag closed yet).
    pub fn in_frame(&self) -> bool {
        self.state == State::Escaped || (self.state == State::InFrame && !self.buf.is_empty())
    }

    /// Drops any partial frame and waits for the next flag, as at the start of a stream.
    pub fn reset(&mut self) {
        self.state = State::Hunting;
        self.clear();
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.crc = CRC_INIT;
    }

    /// Feeds one byte; returns a payload or an error when this byte completes (or breaks) a frame.
    pub fn push(&mut self, byte: u8) -> Option<Result<Vec<u8>>> {
        match self.state {
            State::Hunting => {
                if byte == FLAG {
                    self.state = State::InFrame;
                    self.clear();
                }
                None
            }
            State::InFrame => match byte {
                FLAG => self.finish(),
                ESCAPE => {
                    self.state = State::Escaped;
                    None
                }
                b => self.add(b),
            },
            State::Escaped => {
                if byte == FLAG {
                    // The flag still delimits: it opens the next frame.
                    self.state = State::InFrame;
                    self.clear();
                    return Some(Err(Error::Aborted));
                }
                self.state = State::InFrame;
                self.add(byte ^ ESCAPE_XOR)
            }
        }
    }

    /// Feeds a chunk of bytes; returns every frame (or error) completed inside it, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Result<Vec<u8>>> {
        chunk.iter().filter_map(|&b| self.push(b)).collect()
    }

    fn add(&mut self, byte: u8) -> Option<Result<Vec<u8>>> {
        if self.buf.len() >= self.max_len.saturating_add(2) {
            self.state = State::Hunting;
            self.clear();
            return Some(Err(Error::FrameTooLong { max: self.max_len }));
        }
        self.buf.push(byte);
        self.crc = crc_step(self.crc, byte);
        None
    }

    fn finish(&mut self) -> Option<Result<Vec<u8>>> {
        let n = self.buf.len();
        if n == 0 {
            // Back-to-back flags: nothing between them.
            return None;
        }
        let result = if n < 2 {
            Err(Error::FrameTooShort { len: n })
        } else if self.crc != GOOD_RESIDUE {
            let received = u16::from_le_bytes([self.buf[n - 2], self.buf[n - 1]]);
            Err(Error::BadFcs { computed: fcs(&self.buf[..n - 2]), received })
        } else {
            self.buf.truncate(n - 2);
            Ok(core::mem::take(&mut self.buf))
        };
        self.clear();
        Some(result)
    }
}

/// Decodes a buffer holding exactly one frame (leading bytes before the first flag are
/// skipped); [`Error::Truncated`] when no frame is closed in it. Bytes after the frame's
/// closing flag are ignored.
pub fn decode_one(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut d = Decoder::new();
    for &b in bytes {
        if let Some(r) = d.push(b) {
            return r;
        }
    }
    Err(Error::Truncated { what: "HDLC frame (no closing flag)" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn cmd_reset_example_from_a_real_rcp() {
        // CMD_RESET (stack) as sent to ot-rcp: 80 01 02 -> 7e 80 01 02 ea f0 7e.
        assert_eq!(encode_to_vec(&[0x80, 0x01, 0x02]), hex("7e 80 01 02 ea f0 7e"));
        assert_eq!(fcs(&[0x80, 0x01, 0x02]), 0xf0ea);
        assert_eq!(decode_one(&hex("7e 80 01 02 ea f0 7e")), Ok(vec![0x80, 0x01, 0x02]));
    }

    #[test]
    fn crc_x25_check_value() {
        // The catalogue check value of CRC-16/X.25 over "123456789".
        assert_eq!(fcs(b"123456789"), 0x906e);
        // Residue: CRC register over payload + FCS (no final XOR).
        let mut data = b"123456789".to_vec();
        data.extend_from_slice(&fcs(b"123456789").to_le_bytes());
        assert_eq!(data.iter().fold(CRC_INIT, |c, &b| crc_step(c, b)), GOOD_RESIDUE);
    }

    #[test]
    fn escapes_the_whole_set() {
        let frame = encode_to_vec(&[0x7e, 0x7d, 0x11, 0x13, 0xf8, 0x12]);
        assert_eq!(&frame[..12], &hex("7e 7d 5e 7d 5d 7d 31 7d 33 7d d8 12")[..]);
        assert_eq!(decode_one(&frame), Ok(vec![0x7e, 0x7d, 0x11, 0x13, 0xf8, 0x12]));
    }

    #[test]
    fn last_status_reset_power_on_frame() {
        // The unsolicited frame ot-rcp sends at start: 80 06 00 70.
        let frame = encode_to_vec(&hex("80 06 00 70"));
        assert_eq!(decode_one(&frame), Ok(hex("80 06 00 70")));
    }

    #[test]
    fn skips_leading_garbage_and_shares_flags() {
        let mut stream = hex("01 02 7d 03");
        let a = encode_to_vec(b"one");
        let b = encode_to_vec(b"two");
        stream.extend_from_slice(&a);
        stream.extend_from_slice(&b[1..]); // one flag between the frames
        let mut d = Decoder::new();
        assert_eq!(d.feed(&stream), vec![Ok(b"one".to_vec()), Ok(b"two".to_vec())]);
        assert!(!d.in_frame());
    }

    #[test]
    fn bad_fcs_is_reported_and_the_next_frame_still_decodes() {
        let mut bad = encode_to_vec(b"hello");
        bad[2] ^= 0x01; // 'e' -> 'd'
        let mut stream = bad.clone();
        stream.extend_from_slice(&encode_to_vec(b"world"));
        let out = Decoder::new().feed(&stream);
        assert_eq!(out.len(), 2);
        assert!(matches!(out[0], Err(Error::BadFcs { received, .. }) if received == fcs(b"hello")));
        assert_eq!(out[1], Ok(b"world".to_vec()));
    }

    #[test]
    fn short_aborted_and_long_frames() {
        let mut d = Decoder::new();
        assert_eq!(d.feed(&hex("7e 41 7e")), vec![Err(Error::FrameTooShort { len: 1 })]);
        // Escape then flag aborts; the flag opens the next frame.
        let mut s = hex("7e 41 42 7d");
        s.extend_from_slice(&encode_to_vec(b"ok"));
        assert_eq!(d.feed(&s), vec![Err(Error::Aborted), Ok(b"ok".to_vec())]);

        let mut d = Decoder::with_max_len(4);
        let mut s = encode_to_vec(b"too long!");
        s.extend_from_slice(&encode_to_vec(b"fine"));
        assert_eq!(d.feed(&s), vec![Err(Error::FrameTooLong { max: 4 }), Ok(b"fine".to_vec())]);
        // Exactly the maximum is accepted.
        assert_eq!(d.feed(&encode_to_vec(b"four")), vec![Ok(b"four".to_vec())]);
    }

    #[test]
    fn empty_payload_and_empty_frames() {
        assert_eq!(encode_to_vec(&[]), hex("7e 00 00 7e"));
        let mut d = Decoder::new();
        assert_eq!(d.feed(&hex("7e 7e 7e 00 00 7e 7e")), vec![Ok(vec![])]);
        assert_eq!(
            decode_one(&hex("00 7e 01")),
            Err(Error::Truncated { what: "HDLC frame (no closing flag)" })
        );
    }

    #[test]
    fn byte_by_byte_equals_one_chunk() {
        let stream = encode_to_vec(&hex("82 03 71 7e 7d 11 13 f8"));
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for &b in &stream {
            out.extend(d.push(b));
        }
        assert_eq!(out, vec![Ok(hex("82 03 71 7e 7d 11 13 f8"))]);
    }

    #[test]
    fn escaping_a_byte_outside_the_set_is_accepted() {
        // A liberal sender may escape any byte (RFC 1662); 7d 61 is 'A'.
        let mut f = vec![FLAG, ESCAPE, b'A' ^ ESCAPE_XOR];
        f.extend_from_slice(&fcs(b"A").to_le_bytes());
        f.push(FLAG);
        assert_eq!(decode_one(&f), Ok(b"A".to_vec()));
    }
}
