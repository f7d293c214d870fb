//! The attacker: only public knowledge (the well-known key, the Zigbee specs) plus what it
//! hears. A passive sniffer that decodes every frame with the same dissector `zigtrust decode`
//! uses (learning every key a Transport-Key reveals), an active spoofer that sends unsecured
//! NWK Rejoin Requests in a victim's name (and polls as the victim), and a replayer that
//! re-sends secured frames it captured.

use crate::device::Timer;
use crate::engine::Us;
use crate::world::{Ev, Tag, World, PAN};
use serde::Serialize;
use std::collections::HashMap;
use zigtrust_crypto::Key;
use zigtrust_wire::aps::KeyType;
use zigtrust_wire::dissect::{Decryption, Dissector, KeySource, Keyring};
use zigtrust_wire::mac::{Address, MacBody, MacFrame, MacHeader};
use zigtrust_wire::nwk::{NwkCommand, NwkFrameType, NwkHeader};
use zigtrust_wire::{CapabilityInfo, ExtAddr, ShortAddr};

/// The first time the attacker's own decryption revealed a network key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leak {
    pub time_s: f64,
    /// Frame number in the pcap (1-based).
    pub frame: u64,
    pub key_seq: u8,
    pub how: String,
}

pub struct Attacker {
    dissector: Dissector,
    pub listen_from: Us,
    pub leaks: Vec<Leak>,
    pub learned: Vec<Key>,
    /// Short addresses seen next to IEEEs in plaintext NWK headers.
    pub shorts: HashMap<ExtAddr, ShortAddr>,
    /// Secured frames captured toward the coordinator, for the replayer.
    pub recorded: Vec<Vec<u8>>,
    pub spoofs_sent: u64,
    pub replays_sent: u64,
}

impl Attacker {
    pub fn new(listen_from: Us) -> Attacker {
        Attacker {
            dissector: Dissector::new(Keyring::new()),
            listen_from,
            leaks: Vec::new(),
            learned: Vec::new(),
            shorts: HashMap::new(),
            recorded: Vec::new(),
            spoofs_sent: 0,
            replays_sent: 0,
        }
    }

    /// Every frame on air passes here (frame number `n` in the pcap).
    pub fn hear(&mut self, n: u64, now: Us, psdu: &[u8]) -> Option<()> {
        if now < self.listen_from {
            return None;
        }
        let d = self.dissector.dissect(n, psdu);
        if let Some(h) = &d.nwk {
            if let Some(ieee) = h.src_ieee {
                if !h.src.is_broadcast() && h.src.0 < 0xfff8 {
                    self.shorts.insert(ieee, h.src);
                }
            }
            if h.security
                && h.dst == ShortAddr::COORDINATOR
                && h.frame_type == NwkFrameType::Data
                && self.recorded.len() < 64
            {
                self.recorded.push(psdu.to_vec());
            }
        }
        for (kt, key) in &d.learned_keys {
            if *kt != KeyType::StandardNetworkKey || self.learned.contains(key) {
                continue;
            }
            let seq = d
                .aps
                .as_ref()
                .and_then(|a| match &a.command {
                    Some(zigtrust_wire::aps::ApsCommand::TransportKey(tk)) => match tk.body {
                        zigtrust_wire::aps::TransportKeyBody::Network { seq, .. } => Some(seq),
                        _ => None,
                    },
                    _ => None,
                })
                .unwrap_or(0);
            let aps_sec = d.aps.as_ref().and_then(|a| a.security.as_ref());
            let how = match (aps_sec.map(|s| &s.result), d.nwk_security.as_ref().map(|s| &s.result))
            {
                (Some(Decryption::Ok { source: KeySource::WellKnown, .. }), _) => {
                    "Transport-Key under the well-known TC link key (ZigBeeAlliance09)"
                }
                (Some(Decryption::Ok { .. }), _) => "Transport-Key under a learned link key",
                (None, Some(Decryption::Ok { .. })) => {
                    "Transport-Key inside NWK security under a network key learned earlier"
                }
                _ => "unsecured Transport-Key",
            };
            self.learned.push(key.clone());
            self.leaks.push(Leak {
                time_s: now as f64 / 1e6,
                frame: n,
                key_seq: seq,
                how: how.into(),
            });
        }
        Some(())
    }
}

fn attacker(w: &mut World) -> Option<(&mut Attacker, usize)> {
    let n = w.attacker_node?;
    w.attacker.as_mut().map(|a| (a, n))
}

/// Sends an unsecured Rejoin Request in `victim`'s name to the coordinator, then polls for
/// the answer with the victim's short address (what the TC would hold for a sleepy device).
pub fn spoof(w: &mut World, victim: ExtAddr, capability: CapabilityInfo) {
    let seqs = w.rng.next_u64();
    let Some((a, node)) = attacker(w) else { return };
    let Some(&short) = a.shorts.get(&victim) else { return };
    a.spoofs_sent += 1;
    let mut h =
        NwkHeader::new(NwkFrameType::Command, ShortAddr::COORDINATOR, short, 1, (seqs >> 8) as u8);
    h.src_ieee = Some(victim);
    let mut nwk = Vec::new();
    h.emit(&mut nwk);
    NwkCommand::RejoinRequest { capability }.emit(&mut nwk);
    let hdr = MacHeader::data(
        seqs as u8,
        PAN,
        Address::Short(ShortAddr::COORDINATOR),
        Address::Short(short),
        true,
    );
    let mut v = Vec::new();
    MacFrame { header: hdr, body: MacBody::Data(&nwk) }.emit(&mut v);
    w.send(node, v, Tag::Plain);
    for ms in [150u64, 500, 1_000, 2_000, 3_000] {
        w.q.after(ms * 1000, Ev::Timer(node, Timer::AttackerPoll(short.0)));
    }
}

/// Re-sends every captured secured frame, 100 ms apart.
pub fn replay(w: &mut World) {
    let n = w.attacker.as_ref().map_or(0, |a| a.recorded.len());
    replay_range(w, 0..n);
}

/// Re-sends the last `count` captured secured frames, 100 ms apart.
pub fn replay_last(w: &mut World, count: usize) {
    let n = w.attacker.as_ref().map_or(0, |a| a.recorded.len());
    replay_range(w, n.saturating_sub(count)..n);
}

fn replay_range(w: &mut World, frames: std::ops::Range<usize>) {
    let Some((_, node)) = attacker(w) else { return };
    let first = frames.start;
    for i in frames {
        w.q.after(100_000 * ((i - first) as u64 + 1), Ev::Timer(node, Timer::AttackerReplay(i)));
    }
}

pub fn timer(w: &mut World, node: usize, t: Timer) {
    match t {
        Timer::AttackerPoll(short) => {
            let s = w.rng.next_u64() as u8;
            let mut v = Vec::new();
            MacFrame::data_request(
                s,
                PAN,
                Address::Short(ShortAddr::COORDINATOR),
                Address::Short(ShortAddr(short)),
            )
            .emit(&mut v);
            w.send(node, v, Tag::Plain);
        }
        Timer::AttackerReplay(i) => {
            let Some(f) = w.attacker.as_mut().and_then(|a| {
                a.replays_sent += 1;
                a.recorded.get(i).cloned()
            }) else {
                return;
            };
            w.send(node, f, Tag::Plain);
        }
        _ => {}
    }
}
