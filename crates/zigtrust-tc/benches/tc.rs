//! Benchmark (not a test): frames per second the Trust Center core handles, through the hub
//! (store commit, report acks) with the in-memory store — joins (association
//! and key transport), data frames with decryption and replay checks, secured rejoins — compared
//! with what one 802.15.4 radio can carry (250 kbit/s), and memory per joined device (RSS growth
//! while 20,000 devices join). Run: `cargo bench -p zigtrust-tc --bench tc`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::Instant;
use zigtrust_tc::{AdminCommand, RxMeta};

/// Resident set size in bytes, from /proc (Linux).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn main() {
    const DEVICES: u64 = 20_000;
    let mut h = Harness::new();
    h.admin(AdminCommand::PermitJoin { duration_ms: 254_000, ieee: None });
    let mut devs: Vec<Device> =
        (0..DEVICES).map(|i| Device::new(0x00_1000_0000 + i, None)).collect();
    let rss0 = rss();
    let t = Instant::now();
    for d in devs.iter_mut() {
        let f = d.association_request();
        let _ = h.hub.receive(h.now, &f, RxMeta::default());
        for tx in std::mem::take(&mut h.hub.radio_mut().frames) {
            d.receive(&tx.psdu);
        }
        h.hub.store_mut().writes.clear();
    }
    let join_s = t.elapsed().as_secs_f64();
    let per_device = (rss() - rss0) as f64 / DEVICES as f64;

    // Pre-build device frames so only the core is timed.
    let data: Vec<Vec<u8>> =
        (0..5).flat_map(|_| devs.iter_mut().map(|d| d.data()).collect::<Vec<_>>()).collect();
    let t = Instant::now();
    for (i, f) in data.iter().enumerate() {
        let _ = h.hub.receive(h.now + i as u64, f, RxMeta::default());
        h.hub.radio_mut().frames.clear();
        h.hub.store_mut().writes.clear();
    }
    let data_s = t.elapsed().as_secs_f64();
    let rejoins: Vec<Vec<u8>> = devs.iter_mut().map(|d| d.rejoin_secured(None)).collect();
    let t = Instant::now();
    for f in &rejoins {
        let _ = h.hub.receive(h.now, f, RxMeta::default());
        h.hub.radio_mut().frames.clear();
        h.hub.store_mut().writes.clear();
    }
    let rejoin_s = t.elapsed().as_secs_f64();

    // One radio: a 50-byte PSDU is 6 + 50 bytes with preamble/SFD/PHR = 448 bits, plus the
    // 192 µs turnaround and a 352 µs ack → at best ~400 frames/s in one direction.
    let radio = 250_000.0 / (56.0 * 8.0 + 0.000_544 * 250_000.0);
    println!("devices                         {DEVICES}");
    println!("joins (assoc + key transport)   {:>10.0} /s", DEVICES as f64 / join_s);
    println!("data frames (decrypt + counter) {:>10.0} /s", data.len() as f64 / data_s);
    println!("secured rejoins                 {:>10.0} /s", rejoins.len() as f64 / rejoin_s);
    println!("one 802.15.4 radio, at most     {:>10.0} frames/s", radio);
    println!("data frames vs radio limit      {:>10.0}x", data.len() as f64 / data_s / radio);
    println!("memory per joined device        {:>10.0} bytes (RSS growth / devices)", per_device);
}
