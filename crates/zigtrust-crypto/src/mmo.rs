//! AES-MMO hash (Matyas-Meyer-Oseas over AES-128), HMAC-MMO and the Zigbee key derivations
//! built on them (Zigbee spec Annex B.1.4/B.1.5, C.5/C.6).

use crate::key::Key;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use zeroize::Zeroize;

/// Incremental AES-MMO hash. Feeds whole 16-byte blocks through the compression function and
/// applies the spec's padding at [`Mmo::finalize`]: the short form (16-bit length) for messages
/// under 8192 bytes and the long form (32-bit length followed by 16 zero bits) from 8192 bytes on.
pub struct Mmo {
    h: [u8; 16],
    buf: [u8; 16],
    buf_len: usize,
    total: u64,
}

impl Default for Mmo {
    fn default() -> Self {
        Mmo::new()
    }
}

impl Mmo {
    pub fn new() -> Mmo {
        Mmo { h: [0; 16], buf: [0; 16], buf_len: 0, total: 0 }
    }

    fn compress(h: &mut [u8; 16], block: &[u8; 16]) {
        let cipher = Aes128::new(&(*h).into());
        let mut out = (*block).into();
        cipher.encrypt_block(&mut out);
        for i in 0..16 {
            h[i] = out[i] ^ block[i];
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.buf_len > 0 {
            let take = (16 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 16 {
                return;
            }
            let block = self.buf;
            Self::compress(&mut self.h, &block);
            self.buf_len = 0;
        }
        while data.len() >= 16 {
            let block: [u8; 16] = data[..16].try_into().expect("16 bytes");
            Self::compress(&mut self.h, &block);
            data = &data[16..];
        }
        self.buf[..data.len()].copy_from_slice(data);
        self.buf_len = data.len();
    }

    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.total * 8;
        // Short form: 0x80, zeros to 14 mod 16, 16-bit BE bit length.
        // Long form: 0x80, zeros to 10 mod 16, 32-bit BE bit length, 16 zero bits.
        let mut tail = [0u8; 48];
        let n = self.buf_len;
        tail[..n].copy_from_slice(&self.buf[..n]);
        tail[n] = 0x80;
        let (len_field_at, total_len) = if bits < (1 << 16) {
            // The 0x80 byte and the 2-byte length must fit after the n message bytes.
            let end = if n < 14 { 16 } else { 32 };
            tail[end - 2..end].copy_from_slice(&(bits as u16).to_be_bytes());
            (end - 2, end)
        } else {
            let end = if n < 10 { 16 } else { 32 };
            tail[end - 6..end - 2].copy_from_slice(&(bits as u32).to_be_bytes());
            (end - 6, end)
        };
        debug_assert!(len_field_at > n);
        for chunk in tail[..total_len].chunks_exact(16) {
            let block: [u8; 16] = chunk.try_into().expect("16 bytes");
            Self::compress(&mut self.h, &block);
        }
        tail.zeroize();
        self.buf.zeroize();
        self.h
    }
}

impl Drop for Mmo {
    fn drop(&mut self) {
        self.h.zeroize();
        self.buf.zeroize();
    }
}

/// AES-MMO hash of a whole message (any length below 2^32 bits).
pub fn aes_mmo_hash(data: &[u8]) -> [u8; 16] {
    let mut m = Mmo::new();
    m.update(data);
    m.finalize()
}

/// HMAC-MMO with a 16-byte key (one MMO block, so the key is used as is).
pub fn hmac_mmo(key: &Key, text: &[u8]) -> [u8; 16] {
    let mut ipad = [0x36u8; 16];
    let mut opad = [0x5cu8; 16];
    for i in 0..16 {
        ipad[i] ^= key.as_bytes()[i];
        opad[i] ^= key.as_bytes()[i];
    }
    let mut inner = Mmo::new();
    inner.update(&ipad);
    inner.update(text);
    let mut inner_hash = inner.finalize();
    let mut outer = Mmo::new();
    outer.update(&opad);
    outer.update(&inner_hash);
    ipad.zeroize();
    opad.zeroize();
    inner_hash.zeroize();
    outer.finalize()
}

/// Key-transport key = HMAC-MMO(link key, 0x00): protects Transport-Key of a network key (aux key id 2).
pub fn key_transport_key(link_key: &Key) -> Key {
    Key::from_bytes(hmac_mmo(link_key, &[0x00]))
}

/// Key-load key = HMAC-MMO(link key, 0x02): protects Transport-Key of a link key (aux key id 3).
pub fn key_load_key(link_key: &Key) -> Key {
    Key::from_bytes(hmac_mmo(link_key, &[0x02]))
}

/// The hash a device puts in APS Verify-Key: HMAC-MMO(TC link key, 0x03).
pub fn verify_key_hash(tc_link_key: &Key) -> [u8; 16] {
    hmac_mmo(tc_link_key, &[0x03])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{decode_hex_loose, hex};

    fn h(s: &str) -> Vec<u8> {
        decode_hex_loose(s).unwrap()
    }

    fn counting(n: usize) -> Vec<u8> {
        (0..n).map(|i| i as u8).collect()
    }

    // Zigbee specification Annex C.5 (AES-MMO test vectors), as reproduced in
    // andrebdo/c-crumbs tests/aes-mmo.c and ../shared/zigbee-notes.md §1.
    #[test]
    fn spec_c5_vectors() {
        assert_eq!(hex(&aes_mmo_hash(&h("C0"))), "ae3a102a28d43ee0d4a09e22788b206c");
        assert_eq!(
            hex(&aes_mmo_hash(&h("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"))),
            "a7977e88bc0b61e8210827109a228f2d"
        );
        assert_eq!(hex(&aes_mmo_hash(&counting(8191))), "24ec2fe75bbffcb34789bc0610e7f165");
        // 8192 bytes is the first length that needs the long-message padding form.
        assert_eq!(hex(&aes_mmo_hash(&counting(8192))), "dc6b0687f09f8607131c170b3bd31591");
        assert_eq!(hex(&aes_mmo_hash(&counting(8201))), "72c9b15e178aa843e4a16c58e33643a3");
    }

    // zigbee-on-host test suite (aes128MmoHash of 01..1F): the padding spills into an extra block.
    #[test]
    fn zigbee_on_host_31_bytes() {
        let msg: Vec<u8> = (1..=0x1f).collect();
        assert_eq!(hex(&aes_mmo_hash(&msg)), "b2fb36c3f68807b3536db9732b9f8a41");
        assert_eq!(hex(&aes_mmo_hash(&[])), "bad78e726c1ec02b7ebfe92b23d9ec34");
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data = counting(9000);
        for split in [0, 1, 15, 16, 17, 8191, 8192, 8999] {
            let mut m = Mmo::new();
            m.update(&data[..split]);
            m.update(&data[split..]);
            assert_eq!(m.finalize(), aes_mmo_hash(&data), "split {split}");
        }
    }

    // Zigbee specification Annex C.6.1 (HMAC-MMO).
    #[test]
    fn spec_c6_hmac() {
        let k = Key::from_hex("404142434445464748494A4B4C4D4E4F").unwrap();
        assert_eq!(hex(&hmac_mmo(&k, &h("C0"))), "4512807bf94cb3400f0e2c25fb76e999");
    }

    // Key-transport/key-load keys of ZigBeeAlliance09 (published by zigbee-on-host; the
    // verify hash was seen in a sniffed Verify-Key frame, zigbee-notes §5.6(f)).
    #[test]
    fn derived_keys_of_well_known_key() {
        let tc = Key::well_known_tc_link_key();
        assert_eq!(key_transport_key(&tc).to_hex(), "4bab0f173e1434a2d572e1c1ef478782");
        assert_eq!(key_load_key(&tc).to_hex(), "c5a47035c332ccbf251571d8baded188");
        assert_eq!(hex(&verify_key_hash(&tc)), "1ab128df1639a1246aaba72a6a559124");
    }
}
