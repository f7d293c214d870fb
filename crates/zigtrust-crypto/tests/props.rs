//! Property tests: CCM* round-trips at every level, tampering is caught, and the text parsers
//! never panic on arbitrary input.

use proptest::prelude::*;
use zigtrust_crypto::{ccm_star_open, ccm_star_seal, InstallCodePayload, Key, SecurityLevel};

proptest! {
    #[test]
    fn ccm_star_round_trip(key in any::<[u8; 16]>(), nonce in any::<[u8; 13]>(), level in 0u8..8,
                           a in proptest::collection::vec(any::<u8>(), 0..64),
                           m in proptest::collection::vec(any::<u8>(), 0..128),
                           flip in any::<usize>()) {
        let key = Key::from_bytes(key);
        let level = SecurityLevel::from_bits(level);
        let sealed = ccm_star_seal(&key, &nonce, level, &a, &m).unwrap();
        prop_assert_eq!(sealed.len(), m.len() + level.mic_len());
        prop_assert_eq!(ccm_star_open(&key, &nonce, level, &a, &sealed).unwrap(), m.clone());
        if level.mic_len() > 0 {
            let mut bad = sealed.clone();
            let i = flip % bad.len();
            bad[i] ^= 0x40;
            prop_assert!(ccm_star_open(&key, &nonce, level, &a, &bad).is_err());
        }
    }

    #[test]
    fn text_parsers_never_panic(s in "\\PC{0,120}") {
        let _ = InstallCodePayload::parse(&s);
        let _ = Key::from_hex(&s);
    }

    #[test]
    fn payload_like_strings_never_panic(s in "(Z:|\\$I:|\\$A:|HUE:|RB01SG|DLK|\\||[0-9A-F]{1,8}| |:){0,12}") {
        let _ = InstallCodePayload::parse(&s);
    }
}
