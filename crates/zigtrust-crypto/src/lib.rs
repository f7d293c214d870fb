//! Zigbee security primitives for zigtrust.
//!
//! - [`ccm`]: CCM* at all eight security levels (Zigbee spec Annex A/C, IEEE 802.15.4).
//! - [`mmo`]: AES-MMO hash (short and long padding forms), HMAC-MMO and the key-transport,
//!   key-load and verify-key derivations.
//! - [`install_code`]: install codes (CRC-16/X-25, link key derivation, QR/text payload forms).
//! - [`key`]: the zeroizing, redacted [`Key`] type and the well-known keys.
#![forbid(unsafe_code)]

pub mod ccm;
pub mod install_code;
pub mod key;
pub mod mmo;

pub use ccm::{ccm_star_open, ccm_star_seal, zigbee_nonce, CcmError, CcmStar, SecurityLevel};
pub use install_code::{
    crc16_x25, InstallCode, InstallCodeError, InstallCodePayload, PayloadFormat,
};
pub use key::{
    decode_hex_loose, hex, Key, KeyParseError, DISTRIBUTED_GLOBAL_LINK_KEY, WELL_KNOWN_TC_LINK_KEY,
};
pub use mmo::{aes_mmo_hash, hmac_mmo, key_load_key, key_transport_key, verify_key_hash, Mmo};
