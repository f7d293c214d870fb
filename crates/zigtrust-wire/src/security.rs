//! The Zigbee auxiliary security header and CCM* frame protection (Zigbee spec §4.3, §4.5.1).
//!
//! **Over-the-air security level quirk.** Zigbee PRO networks run at one security level for the
//! whole network (always 5, ENC-MIC-32, in Zigbee 3.0) and *transmit 0 in the level bits* of the
//! security control byte. The sender and the receiver both compute the CCM* nonce and the
//! authenticated data as if the byte carried the network's level. [`seal`] and [`open`] take
//! that effective level as a parameter, patch it into a copy of the control byte for the nonce
//! and for `a`, and leave the over-the-air byte as the [`AuxHeader`] says (0 by default).
//!
//! What is authenticated: for NWK security `a` = NWK header || aux header, for APS security
//! `a` = APS header || aux header; the MAC header is never covered. The nonce's source address
//! is the aux header's extended source if present, otherwise an address the caller supplies
//! (for APS frames without the extended nonce bit, the NWK-layer source's IEEE).

use crate::aps::ApsHeader;
use crate::error::{Error, Reader, Result};
use crate::nwk::NwkHeader;
use crate::ExtAddr;
use zigtrust_crypto::{
    key_load_key, key_transport_key, zigbee_nonce, CcmError, CcmStar, Key, SecurityLevel,
};

/// The security level every Zigbee PRO / 3.0 network uses.
pub const ZIGBEE_PRO_LEVEL: SecurityLevel = SecurityLevel::EncMic32;

/// Key identifier (bits 3–4 of the security control byte): which key protects the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyId {
    /// A link key, used unhashed (APS data and most APS commands).
    Data = 0,
    /// The network key (NWK layer; key sequence number follows in the aux header).
    Network = 1,
    /// HMAC-MMO(link key, 0x00): protects Transport-Key of a network key.
    KeyTransport = 2,
    /// HMAC-MMO(link key, 0x02): protects Transport-Key of a link key.
    KeyLoad = 3,
}

impl KeyId {
    /// The key identifier from its two bits (the caller shifts the control byte; higher bits are ignored).
    pub fn from_bits(bits: u8) -> KeyId {
        match bits & 3 {
            0 => KeyId::Data,
            1 => KeyId::Network,
            2 => KeyId::KeyTransport,
            _ => KeyId::KeyLoad,
        }
    }

    /// Human-readable name of the key identifier (e.g. "Key-Transport Key").
    pub fn name(self) -> &'static str {
        match self {
            KeyId::Data => "Data Key",
            KeyId::Network => "Network Key",
            KeyId::KeyTransport => "Key-Transport Key",
            KeyId::KeyLoad => "Key-Load Key",
        }
    }

    /// The CCM* key for this key id, given the base key (a link key, or the network key).
    pub fn derive(self, base: &Key) -> Key {
        match self {
            KeyId::Data | KeyId::Network => base.clone(),
            KeyId::KeyTransport => key_transport_key(base),
            KeyId::KeyLoad => key_load_key(base),
        }
    }
}

/// The auxiliary security header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuxHeader {
    /// Level bits as transmitted (0 in Zigbee PRO; see the module docs).
    pub level_on_air: u8,
    /// Key identifier (bits 3–4 of the security control byte).
    pub key_id: KeyId,
    /// R23 "require verified frame counter" (bit 6).
    pub require_verified_frame_counter: bool,
    /// Reserved bit 7, kept so parse/emit round-trips.
    pub reserved: bool,
    /// Security frame counter of the sender for this key, used in the CCM* nonce and for replay protection.
    pub frame_counter: u32,
    /// Extended source (present iff the extended-nonce bit is set).
    pub source: Option<ExtAddr>,
    /// Key sequence number (present iff `key_id` is `Network`).
    pub key_seq: Option<u8>,
}

impl AuxHeader {
    /// NWK-layer header: network key, extended nonce, level 0 on air.
    pub fn nwk(frame_counter: u32, source: ExtAddr, key_seq: u8) -> AuxHeader {
        AuxHeader {
            level_on_air: 0,
            key_id: KeyId::Network,
            require_verified_frame_counter: false,
            reserved: false,
            frame_counter,
            source: Some(source),
            key_seq: Some(key_seq),
        }
    }

    /// APS-layer header with a link-key family key id.
    pub fn aps(key_id: KeyId, frame_counter: u32, source: Option<ExtAddr>) -> AuxHeader {
        AuxHeader {
            level_on_air: 0,
            key_id,
            require_verified_frame_counter: false,
            reserved: false,
            frame_counter,
            source,
            key_seq: if key_id == KeyId::Network { Some(0) } else { None },
        }
    }

    /// The security control byte with the given level bits.
    pub fn control_byte(&self, level_bits: u8) -> u8 {
        (level_bits & 7)
            | (self.key_id as u8) << 3
            | (self.source.is_some() as u8) << 5
            | (self.require_verified_frame_counter as u8) << 6
            | (self.reserved as u8) << 7
    }

    /// Length of the header on air: 5 bytes (control + frame counter), plus 8 with an extended
    /// source, plus 1 with a key sequence number.
    pub fn buffer_len(&self) -> usize {
        5 + if self.source.is_some() { 8 } else { 0 } + if self.key_seq.is_some() { 1 } else { 0 }
    }

    /// Parses the aux header at the start of `buf`; returns it and its length.
    pub fn parse(buf: &[u8]) -> Result<(AuxHeader, usize)> {
        let mut r = Reader::new(buf);
        let ctrl = r.u8("security control")?;
        let key_id = KeyId::from_bits(ctrl >> 3);
        let frame_counter = r.u32("security frame counter")?;
        let source =
            if ctrl & 0x20 != 0 { Some(r.ext_addr("security extended source")?) } else { None };
        let key_seq = if key_id == KeyId::Network {
            Some(r.u8("security key sequence number")?)
        } else {
            None
        };
        let aux = AuxHeader {
            level_on_air: ctrl & 7,
            key_id,
            require_verified_frame_counter: ctrl & 0x40 != 0,
            reserved: ctrl & 0x80 != 0,
            frame_counter,
            source,
            key_seq,
        };
        Ok((aux, r.position()))
    }

    /// Appends the header with the given level bits in the control byte.
    fn emit_with_level(&self, level_bits: u8, out: &mut Vec<u8>) {
        out.push(self.control_byte(level_bits));
        out.extend_from_slice(&self.frame_counter.to_le_bytes());
        if let Some(src) = self.source {
            out.extend_from_slice(&src.to_le_bytes());
        }
        if let Some(seq) = self.key_seq {
            out.push(seq);
        }
    }

    /// Appends the header as transmitted.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.emit_with_level(self.level_on_air, out)
    }

    fn nonce(&self, src: ExtAddr, level: SecurityLevel) -> [u8; 13] {
        zigbee_nonce(src.to_le_bytes(), self.frame_counter, self.control_byte(level.bits()))
    }
}

fn ccm_err(e: CcmError) -> Error {
    match e {
        CcmError::MicMismatch => Error::MicMismatch,
        CcmError::TooShort { .. } => Error::Truncated { what: "MIC" },
        CcmError::TooLong => Error::Malformed { what: "secured payload length" },
    }
}

/// Secures a frame: returns `header || aux (as on air) || payload' || MIC` where `payload'` is
/// encrypted when `level` encrypts. `cipher` is the CCM* key already derived for `aux.key_id`.
/// `fallback_src` is used for the nonce when `aux.source` is absent.
pub fn seal(
    cipher: &CcmStar,
    level: SecurityLevel,
    header: &[u8],
    aux: &AuxHeader,
    payload: &[u8],
    fallback_src: Option<ExtAddr>,
) -> Result<Vec<u8>> {
    let src = aux.source.or(fallback_src).ok_or(Error::NoSourceAddress)?;
    let mut a = Vec::with_capacity(header.len() + aux.buffer_len());
    a.extend_from_slice(header);
    aux.emit_with_level(level.bits(), &mut a);
    let sealed = cipher.seal(&aux.nonce(src, level), level, &a, payload).map_err(ccm_err)?;
    let mut out = Vec::with_capacity(a.len() + sealed.len());
    out.extend_from_slice(header);
    aux.emit(&mut out);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// A frame whose security has been removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The auxiliary security header as received.
    pub aux: AuxHeader,
    /// Length of the aux header as received.
    pub aux_len: usize,
    /// Decrypted, MIC-verified payload.
    pub plaintext: Vec<u8>,
}

/// Parses the aux header that follows `header_len` bytes of `frame`, verifies the MIC and
/// decrypts. `cipher` must already be the CCM* key for the aux header's key id (see
/// [`KeyId::derive`]); callers trying several keys parse the aux header once with
/// [`AuxHeader::parse`] to learn which derivation to use.
pub fn open(
    cipher: &CcmStar,
    level: SecurityLevel,
    frame: &[u8],
    header_len: usize,
    fallback_src: Option<ExtAddr>,
) -> Result<Opened> {
    let header = frame.get(..header_len).ok_or(Error::Truncated { what: "header" })?;
    let (aux, aux_len) = AuxHeader::parse(&frame[header_len..])?;
    let body = &frame[header_len + aux_len..];
    let src = aux.source.or(fallback_src).ok_or(Error::NoSourceAddress)?;
    let mut a = Vec::with_capacity(header_len + aux_len);
    a.extend_from_slice(header);
    aux.emit_with_level(level.bits(), &mut a);
    let plaintext = cipher.open(&aux.nonce(src, level), level, &a, body).map_err(ccm_err)?;
    Ok(Opened { aux, aux_len, plaintext })
}

/// Secures a NWK frame with the network key: emits `header` (security bit forced on), `aux`
/// and the encrypted `payload` (APS frame or NWK command) with its MIC.
pub fn secure_nwk(
    header: &NwkHeader,
    aux: &AuxHeader,
    payload: &[u8],
    network_key: &Key,
    level: SecurityLevel,
) -> Result<Vec<u8>> {
    if aux.key_id != KeyId::Network {
        return Err(Error::Malformed { what: "NWK aux header key id (must be network key)" });
    }
    let mut h = header.clone();
    h.security = true;
    let mut hdr = Vec::with_capacity(h.buffer_len());
    h.emit(&mut hdr);
    seal(&CcmStar::new(network_key), level, &hdr, aux, payload, header.src_ieee)
}

/// A NWK frame with its security removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredNwk {
    /// The NWK header as received (security bit set).
    pub header: NwkHeader,
    /// The NWK auxiliary security header (frame counter, extended source, key sequence number).
    pub aux: AuxHeader,
    /// The decrypted NWK payload (APS frame or NWK command).
    pub payload: Vec<u8>,
}

/// Verifies and decrypts a NWK frame secured with `network_key`. `mac_src` is the sender's IEEE
/// from the MAC header, used only when the aux header has no extended source.
pub fn unsecure_nwk(
    nwk_frame: &[u8],
    network_key: &Key,
    level: SecurityLevel,
    mac_src: Option<ExtAddr>,
) -> Result<UnsecuredNwk> {
    unsecure_nwk_with(nwk_frame, &CcmStar::new(network_key), level, mac_src)
}

/// [`unsecure_nwk`] with a prepared key schedule (for bulk decoding).
pub fn unsecure_nwk_with(
    nwk_frame: &[u8],
    cipher: &CcmStar,
    level: SecurityLevel,
    mac_src: Option<ExtAddr>,
) -> Result<UnsecuredNwk> {
    let (header, header_len) = NwkHeader::parse(nwk_frame)?;
    if !header.security {
        return Err(Error::Malformed { what: "NWK frame is not secured" });
    }
    let opened = open(cipher, level, nwk_frame, header_len, header.src_ieee.or(mac_src))?;
    Ok(UnsecuredNwk { header, aux: opened.aux, payload: opened.plaintext })
}

/// Secures an APS frame. `link_key` is the *base* key: for key id 2/3 the key-transport or
/// key-load key is derived from it here; for key id 0 it is used as is. `nwk_src` is the
/// sender's IEEE for the nonce when `aux` has no extended source.
pub fn secure_aps(
    header: &ApsHeader,
    aux: &AuxHeader,
    payload: &[u8],
    link_key: &Key,
    level: SecurityLevel,
    nwk_src: Option<ExtAddr>,
) -> Result<Vec<u8>> {
    let mut h = *header;
    h.security = true;
    let mut hdr = Vec::with_capacity(h.buffer_len());
    h.emit(&mut hdr);
    let cipher = CcmStar::new(&aux.key_id.derive(link_key));
    seal(&cipher, level, &hdr, aux, payload, nwk_src)
}

/// An APS frame with its security removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredAps {
    /// The APS header as received (security bit set).
    pub header: ApsHeader,
    /// The APS auxiliary security header (key id, frame counter, optional extended source).
    pub aux: AuxHeader,
    /// The decrypted APS payload (command id + fields, or the ZCL/ZDO payload).
    pub payload: Vec<u8>,
}

/// Verifies and decrypts an APS frame with the base `link_key` (derived per the aux key id).
pub fn unsecure_aps(
    aps_frame: &[u8],
    link_key: &Key,
    level: SecurityLevel,
    nwk_src: Option<ExtAddr>,
) -> Result<UnsecuredAps> {
    let (header, header_len) = ApsHeader::parse(aps_frame)?;
    if !header.security {
        return Err(Error::Malformed { what: "APS frame is not secured" });
    }
    let (aux, _) = AuxHeader::parse(aps_frame.get(header_len..).unwrap_or_default())?;
    let cipher = CcmStar::new(&aux.key_id.derive(link_key));
    let opened = open(&cipher, level, aps_frame, header_len, nwk_src)?;
    Ok(UnsecuredAps { header, aux: opened.aux, payload: opened.plaintext })
}

/// An APS command frame: `header` and `cmd`, sent in clear when `security` is `None`, else
/// APS-secured with `aux` under the base link key (derived per the aux key id, see
/// [`secure_aps`]); `src` is the sender's IEEE for the nonce.
pub fn aps_command_frame(
    header: &ApsHeader,
    cmd: &crate::aps::ApsCommand,
    security: Option<(&AuxHeader, &Key)>,
    level: SecurityLevel,
    src: Option<ExtAddr>,
) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(cmd.buffer_len());
    cmd.emit(&mut body);
    match security {
        Some((aux, key)) => secure_aps(header, aux, &body, key, level, src),
        None => {
            let mut h = *header;
            h.security = false;
            let mut out = Vec::with_capacity(h.buffer_len() + body.len());
            h.emit(&mut out);
            out.extend_from_slice(&body);
            Ok(out)
        }
    }
}

/// [`unsecure_aps`] with the first of several candidate base link keys that verifies — what a
/// device does with its current key plus a pending or preconfigured one.
pub fn unsecure_aps_any<'k>(
    aps_frame: &[u8],
    link_keys: impl IntoIterator<Item = &'k Key>,
    level: SecurityLevel,
    nwk_src: Option<ExtAddr>,
) -> Result<UnsecuredAps> {
    let mut last = Error::MicMismatch;
    for k in link_keys {
        match unsecure_aps(aps_frame, k, level, nwk_src) {
            Ok(u) => return Ok(u),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zigtrust_crypto::{decode_hex_loose, hex};

    fn h(s: &str) -> Vec<u8> {
        decode_hex_loose(s).unwrap()
    }

    #[test]
    fn aux_header_round_trip() {
        for bytes in [
            "280100000004030201004b120000",
            "3010000000ddccbbaa004b1200",
            "00d8820000",
            "2d01000000aabbccddeeff001122",
            "c9ffffffff07",
        ] {
            let b = h(bytes);
            let (aux, n) = AuxHeader::parse(&b).unwrap();
            assert_eq!(n, b.len(), "{bytes}");
            let mut out = Vec::new();
            aux.emit(&mut out);
            assert_eq!(hex(&out), bytes);
        }
        for cut in 0..14 {
            assert!(AuxHeader::parse(&h("280100000004030201004b120000")[..cut]).is_err());
        }
    }

    // zigbee-notes §5.8: NWK-secured data frame, built by an independent implementation and
    // decrypted by tshark. NWK header is 8 bytes after the 9-byte MAC header.
    #[test]
    fn nwk_vector_seal_and_open() {
        let psdu = h("618801621a000034124802000034121e42280100000004030201004b120000cbac548854610a91480429573efb97");
        let nwk = &psdu[9..];
        let key = Key::from_hex("01030507090B0D0F00020406080A0C0D").unwrap();
        let c = CcmStar::new(&key);
        let opened = open(&c, ZIGBEE_PRO_LEVEL, nwk, 8, None).unwrap();
        assert_eq!(hex(&opened.plaintext), "0001060004010110010502");
        assert_eq!(opened.aux, AuxHeader::nwk(1, ExtAddr(0x0012_4b00_0102_0304), 0));
        let resealed =
            seal(&c, ZIGBEE_PRO_LEVEL, &nwk[..8], &opened.aux, &opened.plaintext, None).unwrap();
        assert_eq!(resealed, nwk);
        // Flipping any bit of header, aux, ciphertext or MIC must fail authentication, except the
        // over-the-air level bits (byte 8, bits 0-2), which by design are not what is authenticated.
        for i in 0..nwk.len() {
            let mut bad = nwk.to_vec();
            bad[i] ^= if i == 8 { 0x80 } else { 0x01 };
            assert!(open(&c, ZIGBEE_PRO_LEVEL, &bad, 8, None).is_err(), "byte {i}");
        }
        // At the wrong level (e.g. a profile set to MIC-64) nothing verifies.
        assert_eq!(
            open(&c, SecurityLevel::EncMic64, nwk, 8, None).unwrap_err(),
            Error::MicMismatch
        );
        let mut level7_on_air = nwk.to_vec();
        level7_on_air[8] |= 7;
        assert!(open(&c, ZIGBEE_PRO_LEVEL, &level7_on_air, 8, None).is_ok());
    }

    // zigbee-notes §5.8: APS Transport-Key under the key-transport key derived from an
    // install-code link key (APS header `21 05`).
    #[test]
    fn aps_transport_key_vector() {
        let aps = h("21053010000000ddccbbaa004b12001249d7dfe9da31c00dc1ba61fdf3a280dcd431719b129d7cc9645459316b0b71fa1ea70c6e7acc");
        let link = Key::from_hex("66B6900981E1EE3CA4206B6B861C02BB").unwrap();
        let (aux, _) = AuxHeader::parse(&aps[2..]).unwrap();
        assert_eq!(aux.key_id, KeyId::KeyTransport);
        let c = CcmStar::new(&aux.key_id.derive(&link));
        let opened = open(&c, ZIGBEE_PRO_LEVEL, &aps, 2, None).unwrap();
        assert_eq!(
            hex(&opened.plaintext),
            "050101030507090b0d0f00020406080a0c0d0004030201004b1200ddccbbaa004b1200"
        );
        assert_eq!(
            seal(&c, ZIGBEE_PRO_LEVEL, &aps[..2], &aux, &opened.plaintext, None).unwrap(),
            aps
        );
        let wk = CcmStar::new(&KeyId::KeyTransport.derive(&Key::well_known_tc_link_key()));
        assert_eq!(open(&wk, ZIGBEE_PRO_LEVEL, &aps, 2, None).unwrap_err(), Error::MicMismatch);
    }

    #[test]
    fn open_never_panics_on_short_input() {
        let c = CcmStar::new(&Key::from_bytes([1; 16]));
        for n in 0..20 {
            let buf = vec![0x28u8; n];
            let _ = open(&c, ZIGBEE_PRO_LEVEL, &buf, 8, None);
            let _ = open(&c, ZIGBEE_PRO_LEVEL, &buf, 0, None);
        }
        assert_eq!(
            open(&c, ZIGBEE_PRO_LEVEL, &h("0001000000aabbcc"), 0, None).unwrap_err(),
            Error::NoSourceAddress
        );
    }
}
