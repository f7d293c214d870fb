//! Key and address randomness for the sans-IO core.
//!
//! The core takes a 32-byte seed from its shell (OS entropy in the daemon, a fixed value in
//! tests and the simulator) and expands it with AES-128 in counter mode, a standard DRBG
//! construction (NIST SP 800-90A CTR_DRBG without reseeding). Same seed → same keys, so runs are
//! reproducible; a real seed gives keys nobody can predict.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use zeroize::Zeroize;
use zigtrust_crypto::Key;

/// Deterministic CTR_DRBG-style generator (AES-128 in counter mode) for network keys, link
/// keys, addresses and initial sequence numbers.
pub struct KeyRng {
    cipher: Aes128,
    counter: u128,
}

impl KeyRng {
    /// A generator from a 32-byte seed: the first 16 bytes are the AES key, the last 16 the
    /// initial counter (little-endian).
    pub fn new(mut seed: [u8; 32]) -> KeyRng {
        let mut k = [0u8; 16];
        k.copy_from_slice(&seed[..16]);
        let mut c = [0u8; 16];
        c.copy_from_slice(&seed[16..]);
        let rng = KeyRng { cipher: Aes128::new(&k.into()), counter: u128::from_le_bytes(c) };
        k.zeroize();
        seed.zeroize();
        rng
    }

    fn block(&mut self) -> [u8; 16] {
        let mut b = self.counter.to_le_bytes().into();
        self.counter = self.counter.wrapping_add(1);
        self.cipher.encrypt_block(&mut b);
        b.into()
    }

    /// A fresh random 128-bit key.
    pub fn key(&mut self) -> Key {
        let mut b = self.block();
        let k = Key::from_bytes(b);
        b.zeroize();
        k
    }

    /// A random 64-bit value (for addresses and initial sequence numbers).
    pub fn u64(&mut self) -> u64 {
        let b = self.block();
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let mut a = KeyRng::new([7; 32]);
        let mut b = KeyRng::new([7; 32]);
        let ka = a.key();
        assert_eq!(ka, b.key());
        assert_ne!(ka, a.key());
        assert_ne!(KeyRng::new([8; 32]).key(), ka);
    }
}
