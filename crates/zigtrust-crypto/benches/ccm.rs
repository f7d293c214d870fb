//! Benchmark (not a test): per-frame CCM* decrypt+verify at level 5 with our `CcmStar` versus
//! RustCrypto's `ccm` crate on the same sizes, in the same process. Prints ns/frame and the
//! ratio ours/theirs (lower is better). Run: `cargo bench -p zigtrust-crypto --bench ccm`.

use ccm::aead::generic_array::GenericArray;
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U13, U4};
use std::hint::black_box;
use std::time::{Duration, Instant};
use zigtrust_crypto::{CcmStar, Key, SecurityLevel};

type RustCryptoCcm = ccm::Ccm<aes::Aes128, U4, U13>;

/// Runs `f` repeatedly for about `budget` and returns the best ns/iteration over 5 rounds.
fn time(budget: Duration, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut n = 0u64;
        let start = Instant::now();
        while start.elapsed() < budget / 5 {
            for _ in 0..100 {
                f();
            }
            n += 100;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

fn main() {
    let key_bytes = [0x42u8; 16];
    let key = Key::from_bytes(key_bytes);
    let ours = CcmStar::new(&key);
    let theirs = RustCryptoCcm::new(GenericArray::from_slice(&key_bytes));
    let nonce = [7u8; 13];
    // a = NWK header + aux header (22 bytes); m = typical Zigbee payload sizes.
    let a = [0x11u8; 22];
    println!("{:>8} {:>14} {:>14} {:>8}", "bytes", "zigtrust ns", "ccm crate ns", "ratio");
    for len in [3usize, 12, 35, 60, 100] {
        let m = vec![0x5au8; len];
        let sealed = ours.seal(&nonce, SecurityLevel::EncMic32, &a, &m).unwrap();
        let (ct, tag) = sealed.split_at(len);
        let ours_ns = time(Duration::from_millis(600), || {
            let p = ours.open(
                black_box(&nonce),
                SecurityLevel::EncMic32,
                black_box(&a),
                black_box(&sealed),
            );
            black_box(p.unwrap());
        });
        let theirs_ns = time(Duration::from_millis(600), || {
            let mut buf = ct.to_vec();
            theirs
                .decrypt_in_place_detached(
                    GenericArray::from_slice(black_box(&nonce)),
                    black_box(&a),
                    &mut buf,
                    GenericArray::from_slice(tag),
                )
                .unwrap();
            black_box(buf);
        });
        println!("{len:>8} {ours_ns:>14.1} {theirs_ns:>14.1} {:>8.2}", ours_ns / theirs_ns);
    }
}
