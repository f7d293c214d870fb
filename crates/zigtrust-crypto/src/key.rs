//! 128-bit key type: zeroized on drop, redacted in `Debug`, never `Display`ed.

use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// "ZigBeeAlliance09": the global Trust Center link key every HA 1.2 / Z3.0 device knows.
pub const WELL_KNOWN_TC_LINK_KEY: [u8; 16] = *b"ZigBeeAlliance09";

/// Global link key for distributed-security networks (NXP SDK `au8DistributedLinkKey`).
pub const DISTRIBUTED_GLOBAL_LINK_KEY: [u8; 16] = [
    0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF,
];

/// An AES-128 key (network key, link key or a key derived from one).
///
/// The bytes are wiped when the value is dropped. `Debug` shows only the first two bytes so keys
/// never end up in logs in full; printing a whole key (e.g. a key the auditor found in a capture)
/// must go through the explicit [`Key::to_hex`].
#[derive(Clone, PartialEq, Eq, Hash, Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; 16]);

impl Key {
    pub const LEN: usize = 16;

    pub const fn from_bytes(bytes: [u8; 16]) -> Key {
        Key(bytes)
    }

    /// The well-known Trust Center link key "ZigBeeAlliance09".
    pub const fn well_known_tc_link_key() -> Key {
        Key(WELL_KNOWN_TC_LINK_KEY)
    }

    /// Copies a key out of a slice that must be exactly 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Key, KeyParseError> {
        let arr: [u8; 16] = bytes.try_into().map_err(|_| KeyParseError::Length(bytes.len()))?;
        Ok(Key(arr))
    }

    /// Parses 32 hex digits, allowing `:`, `-`, `_`, `.` and spaces between them, or a
    /// 16-character ASCII key in double quotes (`"ZigBeeAlliance09"`, as Wireshark accepts).
    pub fn from_hex(text: &str) -> Result<Key, KeyParseError> {
        let t = text.trim();
        if t.len() == 18 && t.starts_with('"') && t.ends_with('"') {
            return Key::from_slice(&t.as_bytes()[1..17]);
        }
        let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
        let mut bytes = decode_hex_loose(t)?;
        let key = Key::from_slice(&bytes);
        bytes.zeroize();
        key
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Full lowercase hex. Call only where showing the key is the point (decode/audit output).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Short, non-secret fingerprint for logs: first two bytes.
    pub fn fingerprint(&self) -> String {
        format!("{:02x}{:02x}…", self.0[0], self.0[1])
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} redacted)", self.fingerprint())
    }
}

/// Why a key string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyParseError {
    /// A character that is neither a hex digit nor an allowed separator, at this char index.
    BadCharacter { index: usize, ch: char },
    /// An odd number of hex digits.
    OddDigits,
    /// The key is this many bytes instead of 16.
    Length(usize),
}

impl fmt::Display for KeyParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyParseError::BadCharacter { index, ch } => {
                write!(f, "invalid character {ch:?} at position {index} (expected hex digits)")
            }
            KeyParseError::OddDigits => write!(f, "odd number of hex digits"),
            KeyParseError::Length(n) => write!(f, "key is {n} bytes, expected 16 (32 hex digits)"),
        }
    }
}

impl std::error::Error for KeyParseError {}

/// Lowercase hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decodes hex digits, skipping the separators people type between bytes (`:`, `-`, `_`, `.`,
/// whitespace). Digits are paired in order, so separators may sit anywhere.
pub fn decode_hex_loose(text: &str) -> Result<Vec<u8>, KeyParseError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut hi: Option<u8> = None;
    for (index, ch) in text.chars().enumerate() {
        if matches!(ch, ':' | '-' | '_' | '.') || ch.is_whitespace() {
            continue;
        }
        let v = ch.to_digit(16).ok_or(KeyParseError::BadCharacter { index, ch })? as u8;
        match hi.take() {
            None => hi = Some(v),
            Some(h) => out.push(h << 4 | v),
        }
    }
    if hi.is_some() {
        return Err(KeyParseError::OddDigits);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_key_bytes() {
        assert_eq!(Key::well_known_tc_link_key().to_hex(), "5a6967426565416c6c69616e63653039");
    }

    #[test]
    fn parse_forms() {
        let k = Key::from_hex("5A:69:67:42:65:65:41:6C:6C:69:61:6E:63:65:30:39").unwrap();
        assert_eq!(k, Key::well_known_tc_link_key());
        assert_eq!(Key::from_hex("\"ZigBeeAlliance09\"").unwrap(), k);
        assert_eq!(Key::from_hex("0x5a6967426565416c6c69616e63653039").unwrap(), k);
        assert_eq!(Key::from_hex("5a69 6742 6565 416c-6c69616e63653039").unwrap(), k);
        assert_eq!(Key::from_hex("5a69"), Err(KeyParseError::Length(2)));
        assert_eq!(Key::from_hex("5a6"), Err(KeyParseError::OddDigits));
        assert!(matches!(Key::from_hex("zz"), Err(KeyParseError::BadCharacter { index: 0, .. })));
    }

    #[test]
    fn debug_is_redacted() {
        let s = format!("{:?}", Key::well_known_tc_link_key());
        assert!(!s.contains("6c69616e63653039"), "{s}");
        assert!(s.contains("redacted"));
    }
}
