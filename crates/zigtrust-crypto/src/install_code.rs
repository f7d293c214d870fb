//! Install codes (BDB spec §10.1): 6, 8, 12 or 16 secret bytes followed by a CRC-16/X-25 stored
//! low byte first. The preconfigured Trust Center link key is AES-MMO over the whole code,
//! CRC included.
//!
//! Accepted text forms (see [`InstallCodePayload::parse`]):
//! - bare hex, with or without separators (`:`, `-`, `_`, `.`, spaces): `83FED3407A939723A5C639B26916D505C3B5`;
//! - `$`-separated QR fields with `Z:<IEEE>` and `$I:<code>` (Ubisys, Danfoss, Inovelli, Ledvance, …),
//!   other fields such as `$S:`, `$P:`, `$C:` are ignored;
//! - Aqara: `G$M:<model>$A:<IEEE>$I:<code>`;
//! - pipe form (Müller-Licht, Innr): `<IEEE>|<code>`;
//! - Philips Hue: `HUE:Z:<code> M:<IEEE> …`;
//! - Bosch: `RB01SG<34 hex><IEEE>DLK<code>` (zigpy `QR_CODE_FORMATS`; the variant that carries a
//!   raw 32-digit link key instead of an install code is not an install code and is rejected);
//! - the 95- and 91-character fixed-layout strings older Zigbee2MQTT documented (code = last 36 or
//!   32 hex digits, IEEE = the 16 hex digits ending 3 characters before the code);
//! - `<IEEE>:<code>` / `<IEEE> <code>` pairs as typed on a command line (16 hex digits, then the code).
//!
//! IEEE addresses in these strings are in display (big-endian) order. A code must carry its CRC:
//! a code that is missing it is rejected with a message that says so and gives the CRC to append,
//! because silently computing it would throw away the only typo check the user has.

use crate::key::{decode_hex_loose, hex, Key, KeyParseError};
use crate::mmo::aes_mmo_hash;
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret lengths the BDB spec allows, without the 2 CRC bytes.
pub const SECRET_LENGTHS: [usize; 4] = [6, 8, 12, 16];

/// CRC-16/X-25 (a.k.a. CRC-16/IBM-SDLC): reflected 0x1021, init 0xFFFF, xorout 0xFFFF.
pub fn crc16_x25(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= b as u16;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x8408 } else { crc >> 1 };
        }
    }
    !crc
}

/// A validated install code: secret bytes plus a CRC that matches them.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct InstallCode {
    bytes: Vec<u8>,
}

impl fmt::Debug for InstallCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstallCode({} bytes, redacted)", self.bytes.len())
    }
}

/// What is wrong with an install code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallCodeError {
    /// Not hex (or not a payload form we know).
    Hex(KeyParseError),
    /// Total length (with CRC) is not 8, 10, 14 or 18 bytes.
    Length { bytes: usize },
    /// Looks like a valid secret length without the CRC; `crc` is what would have to follow.
    MissingCrc { bytes: usize, crc: [u8; 2] },
    /// The CRC does not match the code: `expected` is computed, `found` is what was given
    /// (both in printed byte order, low byte first).
    BadCrc { expected: [u8; 2], found: [u8; 2] },
    /// A QR/text payload was recognised but lacks a field.
    MissingField(&'static str),
    /// The IEEE address in a payload is not 16 hex digits.
    BadIeee(String),
}

impl fmt::Display for InstallCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallCodeError::Hex(e) => write!(f, "install code is not valid hex: {e}"),
            InstallCodeError::Length { bytes } => write!(
                f,
                "install code is {bytes} bytes; it must be 8, 10, 14 or 18 bytes \
                 (6, 8, 12 or 16 code bytes followed by a 2-byte CRC)"
            ),
            InstallCodeError::MissingCrc { bytes, crc } => write!(
                f,
                "install code is {bytes} bytes: that is a {bytes}-byte code without its 2-byte CRC \
                 (the CRC of these bytes would be {}); copy the whole printed code including the last 4 hex digits",
                hex(crc)
            ),
            InstallCodeError::BadCrc { expected, found } => write!(
                f,
                "install code CRC mismatch: the code ends in {} but its CRC-16/X-25 is {} \
                 (a digit was probably mistyped)",
                hex(found),
                hex(expected)
            ),
            InstallCodeError::MissingField(what) => write!(f, "install code payload has no {what}"),
            InstallCodeError::BadIeee(s) => {
                write!(f, "IEEE address {s:?} is not 16 hex digits (8 bytes)")
            }
        }
    }
}

impl std::error::Error for InstallCodeError {}

impl InstallCode {
    /// Validates code bytes that include the trailing CRC.
    pub fn from_bytes(bytes: &[u8]) -> Result<InstallCode, InstallCodeError> {
        let n = bytes.len();
        // 8 bytes is both "6 + CRC" and "8 without CRC"; like zigbee-herdsman we read it as 6 + CRC.
        if n >= 2 && SECRET_LENGTHS.contains(&(n - 2)) {
            let (code, crc) = bytes.split_at(n - 2);
            let expected = crc16_x25(code).to_le_bytes();
            if crc != expected {
                return Err(InstallCodeError::BadCrc { expected, found: [crc[0], crc[1]] });
            }
            return Ok(InstallCode { bytes: bytes.to_vec() });
        }
        if SECRET_LENGTHS.contains(&n) {
            return Err(InstallCodeError::MissingCrc {
                bytes: n,
                crc: crc16_x25(bytes).to_le_bytes(),
            });
        }
        Err(InstallCodeError::Length { bytes: n })
    }

    /// Parses hex with or without separators (no payload forms: see [`InstallCodePayload`]).
    pub fn from_hex(text: &str) -> Result<InstallCode, InstallCodeError> {
        let mut bytes = decode_hex_loose(text.trim()).map_err(InstallCodeError::Hex)?;
        let r = InstallCode::from_bytes(&bytes);
        bytes.zeroize();
        r
    }

    /// Code bytes including the CRC.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of secret bytes (6, 8, 12 or 16).
    pub fn secret_len(&self) -> usize {
        self.bytes.len() - 2
    }

    /// The CRC bytes as printed (low byte first).
    pub fn crc_bytes(&self) -> [u8; 2] {
        let n = self.bytes.len();
        [self.bytes[n - 2], self.bytes[n - 1]]
    }

    /// The preconfigured TC link key: AES-MMO(code || CRC).
    pub fn link_key(&self) -> Key {
        Key::from_bytes(aes_mmo_hash(&self.bytes))
    }
}

/// Which text form a payload was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    Hex,
    /// `…$Z:<ieee>$I:<code>…` (or Aqara's `$A:` for the IEEE).
    QrFields,
    Pipe,
    Hue,
    Bosch,
    FixedLength,
    IeeeThenCode,
}

impl PayloadFormat {
    pub fn name(self) -> &'static str {
        match self {
            PayloadFormat::Hex => "hex",
            PayloadFormat::QrFields => "qr-fields",
            PayloadFormat::Pipe => "pipe",
            PayloadFormat::Hue => "hue",
            PayloadFormat::Bosch => "bosch",
            PayloadFormat::FixedLength => "fixed-length",
            PayloadFormat::IeeeThenCode => "ieee-code",
        }
    }
}

/// An install code read from any supported text form, with the device IEEE when the form has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallCodePayload {
    /// Device IEEE address as a number in display order (`00:12:4b:…` → `0x00124b…`).
    pub ieee: Option<u64>,
    pub code: InstallCode,
    pub format: PayloadFormat,
}

fn parse_ieee(s: &str) -> Result<u64, InstallCodeError> {
    let bytes = decode_hex_loose(s.trim()).map_err(|_| InstallCodeError::BadIeee(s.into()))?;
    let arr: [u8; 8] = bytes.try_into().map_err(|_| InstallCodeError::BadIeee(s.into()))?;
    Ok(u64::from_be_bytes(arr))
}

fn hex_digits(s: &str) -> usize {
    s.chars().filter(|c| c.is_ascii_hexdigit()).count()
}

impl InstallCodePayload {
    /// Parses any of the forms listed in the module docs.
    pub fn parse(text: &str) -> Result<InstallCodePayload, InstallCodeError> {
        let t = text.trim();
        let upper = t.to_ascii_uppercase();

        if let Some(rest) = upper.strip_prefix("HUE:") {
            let mut code = None;
            let mut ieee = None;
            for part in rest.split_whitespace() {
                if let Some(v) = part.strip_prefix("Z:") {
                    code = Some(v);
                } else if let Some(v) = part.strip_prefix("M:") {
                    ieee = Some(v);
                }
            }
            let code = code.ok_or(InstallCodeError::MissingField("Z: install code field"))?;
            return Ok(InstallCodePayload {
                ieee: ieee.map(parse_ieee).transpose()?,
                code: InstallCode::from_hex(code)?,
                format: PayloadFormat::Hue,
            });
        }

        if let Some(rest) = upper.strip_prefix("RB01SG") {
            let (head, code) = rest
                .split_once("DLK")
                .ok_or(InstallCodeError::MissingField("DLK install code field"))?;
            if head.len() < 16 || !head.is_char_boundary(head.len() - 16) {
                return Err(InstallCodeError::BadIeee(head.into()));
            }
            let ieee = parse_ieee(&head[head.len() - 16..])?;
            // zigpy: these labels print the IEEE byte-reversed; its OUI then shows up at the end.
            let ieee = if ieee & 0xff_ffff == 0x16_a720 { ieee.swap_bytes() } else { ieee };
            return Ok(InstallCodePayload {
                ieee: Some(ieee),
                code: InstallCode::from_hex(code)?,
                format: PayloadFormat::Bosch,
            });
        }

        if upper.contains('$') {
            let mut code = None;
            let mut ieee = None;
            for field in upper.split('$') {
                if let Some(v) = field.strip_prefix("I:") {
                    code = Some(v);
                } else if let Some(v) =
                    field.strip_prefix("Z:").or_else(|| field.strip_prefix("A:"))
                {
                    ieee = Some(v);
                } else if let Some(pos) = field.find("Z:") {
                    // First field may carry a vendor prefix, e.g. "ZB:Z:…" or "X-Z:…".
                    if pos + 2 + 16 <= field.len() && ieee.is_none() {
                        ieee = Some(&field[pos + 2..]);
                    }
                }
            }
            let code = code.ok_or(InstallCodeError::MissingField("$I: install code field"))?;
            return Ok(InstallCodePayload {
                ieee: ieee.map(parse_ieee).transpose()?,
                code: InstallCode::from_hex(code)?,
                format: PayloadFormat::QrFields,
            });
        }

        if let Some((ieee, code)) = upper.split_once('|') {
            return Ok(InstallCodePayload {
                ieee: Some(parse_ieee(ieee)?),
                code: InstallCode::from_hex(code)?,
                format: PayloadFormat::Pipe,
            });
        }

        let all_hex = upper.chars().all(|c| c.is_ascii_hexdigit());
        if all_hex && (upper.len() == 95 || upper.len() == 91) {
            let key_len = if upper.len() == 95 { 36 } else { 32 };
            let key_start = upper.len() - key_len;
            let ieee = &upper[key_start - 19..key_start - 3];
            return Ok(InstallCodePayload {
                ieee: Some(parse_ieee(ieee)?),
                code: InstallCode::from_hex(&upper[key_start..])?,
                format: PayloadFormat::FixedLength,
            });
        }

        // "<16 hex IEEE><sep><code>": the IEEE is recognisable because the total digit count is
        // 16 more than a valid code length. 36 digits are also a whole 18-byte code, so the split
        // is taken only when the code then has a valid CRC and the undivided string does not.
        let digits = hex_digits(&upper);
        let only_hex_and_separators = upper
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '_' | '.' | ' '));
        if [16, 20, 28, 36].iter().any(|c| c + 16 == digits) && only_hex_and_separators {
            let clean: String = upper.chars().filter(|c| c.is_ascii_hexdigit()).collect();
            let whole = InstallCode::from_hex(&clean);
            if whole.is_err() {
                if let Ok(code) = InstallCode::from_hex(&clean[16..]) {
                    return Ok(InstallCodePayload {
                        ieee: Some(parse_ieee(&clean[..16])?),
                        code,
                        format: PayloadFormat::IeeeThenCode,
                    });
                }
            }
        }

        Ok(InstallCodePayload {
            ieee: None,
            code: InstallCode::from_hex(t)?,
            format: PayloadFormat::Hex,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16_x25(b"123456789"), 0x906E);
    }

    // Vectors from zigpy tests/test_util.py (test_convert_install_code / test_zigbee_security_hash),
    // see zigbee-notes §2 and §2b.
    #[test]
    fn zigpy_vectors() {
        for (code, key) in [
            ("11223344556677884AF7", "41618fc0c83b0e14a589954b16e31466"),
            ("7A939723A5C639B269161802819B", "f93903721685fd329d26849b90f2959a"),
            ("83FED3407A939723A5C639B269161802AEBB", "333c23686079468eb27ba24bd9c7e564"),
            ("83FED3407A939723A5C639B26916D505C3B5", "66b6900981e1ee3ca4206b6b861c02bb"),
            ("0102030405060EB8", "a3761fefadfebd66d4d8e26eaec9cd7b"),
        ] {
            let ic = InstallCode::from_hex(code).unwrap();
            assert_eq!(ic.link_key().to_hex(), key, "{code}");
        }
        assert_eq!(
            InstallCode::from_hex("1122334455667788FFFF"),
            Err(InstallCodeError::BadCrc { expected: [0x4a, 0xf7], found: [0xff, 0xff] })
        );
    }

    #[test]
    fn separators_and_errors() {
        let want = "66b6900981e1ee3ca4206b6b861c02bb";
        for form in [
            "83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5",
            "83:fe:d3:40:7a:93:97:23:a5:c6:39:b2:69:16:d5:05:c3:b5",
            "83FED340-7A939723-A5C639B2-6916D505-C3B5",
        ] {
            assert_eq!(InstallCode::from_hex(form).unwrap().link_key().to_hex(), want);
        }
        assert!(matches!(
            InstallCode::from_hex("83FED3407A939723A5C639B26916D505"),
            Err(InstallCodeError::MissingCrc { bytes: 16, crc: [0xc3, 0xb5] })
        ));
        assert_eq!(
            InstallCode::from_hex("83FED3407A939723A5C639B26916D505C3"),
            Err(InstallCodeError::Length { bytes: 17 })
        );
        assert!(matches!(InstallCode::from_hex("xyz"), Err(InstallCodeError::Hex(_))));
        let msg = InstallCode::from_hex("83FED3407A939723A5C639B26916D505C3B6").unwrap_err();
        assert!(msg.to_string().contains("c3b5"), "{msg}");
    }

    #[test]
    fn payload_forms() {
        let key = "66b6900981e1ee3ca4206b6b861c02bb";
        let code = "83FED3407A939723A5C639B26916D505C3B5";
        let ieee = 0x0012_4b00_0102_0304u64;
        for (text, format) in [
            (format!("Z:00124B0001020304$I:{code}"), PayloadFormat::QrFields),
            (
                format!("X:abc$Z:00124B0001020304$I:{code}$S:1234$P:Foo$C:1"),
                PayloadFormat::QrFields,
            ),
            (format!("G$M:lumi.sensor$A:00124B0001020304$I:{code}"), PayloadFormat::QrFields),
            (format!("00124B0001020304|{code}"), PayloadFormat::Pipe),
            (format!("HUE:Z:{code} M:00124B0001020304 D:V1"), PayloadFormat::Hue),
            (format!("00:12:4b:00:01:02:03:04:{code}"), PayloadFormat::IeeeThenCode),
            (format!("00124B0001020304 {code}"), PayloadFormat::IeeeThenCode),
            (format!("00124B0001020304{code}"), PayloadFormat::IeeeThenCode),
            (format!("RB01SG{}00124B0001020304DLK{code}", "0".repeat(34)), PayloadFormat::Bosch),
        ] {
            let p = InstallCodePayload::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(p.format, format, "{text}");
            assert_eq!(p.ieee, Some(ieee), "{text}");
            assert_eq!(p.code.link_key().to_hex(), key, "{text}");
        }
        let p = InstallCodePayload::parse(code).unwrap();
        assert_eq!((p.ieee, p.format), (None, PayloadFormat::Hex));
        // 36 digits with separators is an 18-byte code, not IEEE + 10-byte code.
        let p = InstallCodePayload::parse("83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5").unwrap();
        assert_eq!((p.ieee, p.format), (None, PayloadFormat::Hex));
        assert_eq!(p.code.link_key().to_hex(), key);
        // 95-character fixed layout: 40 filler + IEEE + 3 filler + 36-digit code.
        let fixed = format!("{}{}{}{}", "0".repeat(40), "00124B0001020304", "000", code);
        assert_eq!(fixed.len(), 95);
        let p = InstallCodePayload::parse(&fixed).unwrap();
        assert_eq!((p.ieee, p.format), (Some(ieee), PayloadFormat::FixedLength));
        assert_eq!(
            InstallCodePayload::parse("Z:00124B0001020304$S:1"),
            Err(InstallCodeError::MissingField("$I: install code field"))
        );
        assert!(matches!(
            InstallCodePayload::parse(&format!("Z:00124B00010203$I:{code}")),
            Err(InstallCodeError::BadIeee(_))
        ));
    }

    const CODE: &str = "83FED3407A939723A5C639B26916D505C3B5";

    // One zigpy vector per allowed secret length (6, 8, 12, 16 bytes), with its CRC bytes.
    const PER_LENGTH: [(&str, usize, [u8; 2]); 4] = [
        ("0102030405060EB8", 6, [0x0E, 0xB8]),
        ("11223344556677884AF7", 8, [0x4A, 0xF7]),
        ("7A939723A5C639B269161802819B", 12, [0x81, 0x9B]),
        ("83FED3407A939723A5C639B26916D505C3B5", 16, [0xC3, 0xB5]),
    ];

    #[test]
    fn accessors_for_every_code_length() {
        for (text, secret_len, crc) in PER_LENGTH {
            let bytes = decode_hex_loose(text).unwrap();
            let ic = InstallCode::from_bytes(&bytes).unwrap();
            assert_eq!(ic.as_bytes(), &bytes[..], "{text}");
            assert_eq!(ic.secret_len(), secret_len, "{text}");
            assert_eq!(ic.crc_bytes(), crc, "{text}");
            assert_eq!(ic.crc_bytes(), crc16_x25(&bytes[..secret_len]).to_le_bytes(), "{text}");
        }
    }

    // CRC-16 detects every single-bit error: a code with any one bit changed (secret or CRC)
    // is rejected, and the error names the CRC the changed bytes would need.
    #[test]
    fn every_one_bit_change_is_rejected() {
        for (text, secret_len, _) in PER_LENGTH {
            let good = decode_hex_loose(text).unwrap();
            for bit in 0..good.len() * 8 {
                let mut bad = good.clone();
                bad[bit / 8] ^= 1 << (bit % 8);
                let expected = crc16_x25(&bad[..secret_len]).to_le_bytes();
                assert_eq!(
                    InstallCode::from_bytes(&bad),
                    Err(InstallCodeError::BadCrc {
                        expected,
                        found: [bad[secret_len], bad[secret_len + 1]]
                    }),
                    "{text} bit {bit}"
                );
            }
        }
    }

    // Every total length from 0 to 20 bytes: only 8, 10, 14 and 18 (secret + CRC) are codes;
    // 6, 12 and 16 are secrets without their CRC (8 is read as 6 + CRC); the rest are wrong.
    #[test]
    fn every_length_from_0_to_20() {
        for n in 0..=20usize {
            let mut bytes: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
            let r = InstallCode::from_bytes(&bytes);
            match n {
                8 | 10 | 14 | 18 => {
                    assert!(matches!(r, Err(InstallCodeError::BadCrc { .. })), "{n}: {r:?}");
                    let crc = crc16_x25(&bytes[..n - 2]).to_le_bytes();
                    bytes[n - 2..].copy_from_slice(&crc);
                    let ic = InstallCode::from_bytes(&bytes).unwrap();
                    assert_eq!((ic.secret_len(), ic.crc_bytes()), (n - 2, crc));
                }
                6 | 12 | 16 => assert_eq!(
                    r,
                    Err(InstallCodeError::MissingCrc {
                        bytes: n,
                        crc: crc16_x25(&bytes).to_le_bytes()
                    })
                ),
                _ => assert_eq!(r, Err(InstallCodeError::Length { bytes: n })),
            }
        }
    }

    #[test]
    fn debug_is_redacted() {
        let ic = InstallCode::from_hex(CODE).unwrap();
        let dbg = format!("{ic:?}");
        assert_eq!(dbg, "InstallCode(18 bytes, redacted)");
        let p = InstallCodePayload::parse(CODE).unwrap();
        let dbg = format!("{p:?}").to_ascii_lowercase();
        assert!(!dbg.contains("83fe") && !dbg.contains("c3b5"), "{dbg}");
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let e = InstallCode::from_hex("83FED3407A939723A5C639B26916D505").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("16-byte code without its 2-byte CRC"), "{msg}");
        assert!(msg.contains("would be c3b5"), "{msg}");
        let msg = InstallCode::from_hex("0102").unwrap_err().to_string();
        assert!(msg.starts_with("install code is 2 bytes; it must be 8, 10, 14 or 18"), "{msg}");
        let msg = InstallCodePayload::parse("Z:0012$I:0102").unwrap_err().to_string();
        assert_eq!(msg, "IEEE address \"0012\" is not 16 hex digits (8 bytes)");
        let msg = InstallCodePayload::parse("HUE:M:00124B0001020304").unwrap_err().to_string();
        assert_eq!(msg, "install code payload has no Z: install code field");
    }

    #[test]
    fn payload_format_names() {
        let names = [
            (PayloadFormat::Hex, "hex"),
            (PayloadFormat::QrFields, "qr-fields"),
            (PayloadFormat::Pipe, "pipe"),
            (PayloadFormat::Hue, "hue"),
            (PayloadFormat::Bosch, "bosch"),
            (PayloadFormat::FixedLength, "fixed-length"),
            (PayloadFormat::IeeeThenCode, "ieee-code"),
        ];
        for (format, name) in names {
            assert_eq!(format.name(), name);
        }
    }

    // zigpy `parse_install_code_qr`: a label whose IEEE ends in 16:A7:20 printed it byte-reversed
    // and is flipped back; any other IEEE is taken as printed.
    #[test]
    fn bosch_byte_reversed_ieee_is_flipped_back() {
        let pad = "0".repeat(34);
        let p =
            InstallCodePayload::parse(&format!("RB01SG{pad}040302010016A720DLK{CODE}")).unwrap();
        assert_eq!((p.ieee, p.format), (Some(0x20A7_1600_0102_0304), PayloadFormat::Bosch));
        for printed in ["00124B0016A70720", "0016A72000000000", "2007A716004B1200"] {
            let text = format!("RB01SG{pad}{printed}DLK{CODE}");
            let p = InstallCodePayload::parse(&text).unwrap();
            assert_eq!(p.ieee, Some(u64::from_str_radix(printed, 16).unwrap()), "{text}");
        }
    }

    // The Bosch IEEE is the 16 characters before "DLK": exactly 16 is enough, 15 is not, and a
    // non-ASCII character in that window, or a window that would start inside a multi-byte
    // character (the first two heads), is an error, not a panic.
    #[test]
    fn bosch_ieee_boundaries() {
        let p = InstallCodePayload::parse(&format!("RB01SG00124B0001020304DLK{CODE}")).unwrap();
        assert_eq!(p.ieee, Some(0x0012_4b00_0102_0304));
        assert!(matches!(
            InstallCodePayload::parse(&format!("RB01SG0124B0001020304DLK{CODE}")),
            Err(InstallCodeError::BadIeee(_))
        ));
        for head in ["0\u{e9}24B000102030405", "0\u{20ac}24B00010203045", "\u{e9}124B0001020304"] {
            assert!(
                matches!(
                    InstallCodePayload::parse(&format!("RB01SG{head}DLK{CODE}")),
                    Err(InstallCodeError::BadIeee(_))
                ),
                "{head}"
            );
        }
        assert_eq!(
            InstallCodePayload::parse(&format!("RB01SG{}00124B0001020304{CODE}", "0".repeat(34))),
            Err(InstallCodeError::MissingField("DLK install code field"))
        );
    }

    // In `$` payloads the first field may carry a vendor prefix before "Z:" ("ZB:Z:<ieee>").
    // Such a field is used only when it has room for an IEEE and no IEEE was found yet.
    #[test]
    fn qr_vendor_prefixed_ieee_field() {
        let ieee = Some(0x0012_4b00_0102_0304u64);
        for text in [
            format!("ZB:Z:00124B0001020304$I:{CODE}"),
            format!("X-Z:00124B0001020304$I:{CODE}$S:1"),
            format!("Z:00124B0001020304$I:{CODE}$D:MODEL-Z:FFFFFFFFFFFFFFFF"),
            format!("A:00124B0001020304$D:XZ:0011223344556677$I:{CODE}"),
        ] {
            let p = InstallCodePayload::parse(&text).unwrap();
            assert_eq!((p.ieee, p.format), (ieee, PayloadFormat::QrFields), "{text}");
            assert_eq!(p.code.link_key().to_hex(), "66b6900981e1ee3ca4206b6b861c02bb");
        }
        // "Z:" with fewer than 16 characters after it is not an IEEE field.
        let p = InstallCodePayload::parse(&format!("ZB:Z:1$I:{CODE}")).unwrap();
        assert_eq!(p.ieee, None);
    }

    // The 91-character layout carries a 32-digit value where the code would be: 16 bytes with no
    // CRC, which is rejected with the CRC it would need rather than taken as a code.
    #[test]
    fn fixed_length_91_without_crc_is_rejected() {
        let fixed = format!("{}{}{}{}", "0".repeat(40), "00124B0001020304", "000", &CODE[..32]);
        assert_eq!(fixed.len(), 91);
        assert_eq!(
            InstallCodePayload::parse(&fixed),
            Err(InstallCodeError::MissingCrc { bytes: 16, crc: [0xc3, 0xb5] })
        );
    }
}
