//! The attacker: only public knowledge (the well-known key, the Zigbee specs) plus what it
//! hears. A passive sniffer that decodes every frame with the same dissector `zigtrust decode`
//! uses (learning every key a Transport-Key reveals, transitively: network keys and link keys),
//! an active spoofer that sends unsecured NWK Rejoin Requests in a victim's name (and polls as
//! the victim), a replayer that re-sends secured frames it captured, and a forger (the threat
//! model's active attacker, `zigtrust_tc` crate docs): NWK-secured frames under any network key
//! it holds and APS commands under any link key it holds (the well-known key, a learned one, or
//! a compromised router's), with any addresses and frame counters, at any rate the radio
//! carries ([`flood`]). As an insider ([`compromise`]) it also holds everything a router held.

use crate::device::Timer;
use crate::engine::Us;
use crate::world::{Ev, Tag, World, PAN};
use serde::Serialize;
use std::collections::HashMap;
use zigtrust_crypto::Key;
use zigtrust_wire::aps::KeyType;
use zigtrust_wire::aps::{ApsCommand, ApsHeader};
use zigtrust_wire::dissect::{Decryption, Dissector, KeySource, Keyring};
use zigtrust_wire::mac::{Address, MacBody, MacFrame, MacHeader};
use zigtrust_wire::nwk::{NwkCommand, NwkFrameType, NwkHeader};
use zigtrust_wire::security::{aps_command_frame, secure_nwk, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::{CapabilityInfo, ExtAddr, ShortAddr};

/// The first time the attacker's own decryption revealed a network key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leak {
    pub time_s: f64,
    /// Frame number in the pcap (1-based); 0 for a key the attacker did not read on air (an
    /// insider's: a compromised router held it).
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
    /// Every frame the attacker put on air (spoofs, polls, replays, floods, forgeries).
    pub injected: u64,
    /// Network keys it holds as an insider (a compromised router's), by sequence number.
    pub insider_keys: Vec<(u8, Key)>,
    /// Link keys it holds: learned from a Transport-Key it could read, or a compromised
    /// router's own.
    pub link_keys: HashMap<ExtAddr, Key>,
    /// The newest network key sequence number heard on air.
    pub seq_on_air: Option<u8>,
    /// The highest NWK frame counter heard per transmitter (auxiliary header source).
    pub counters: HashMap<ExtAddr, u32>,
    /// The highest APS frame counter heard per device (APS auxiliary header source, else the
    /// NWK source IEEE).
    pub aps_counters: HashMap<ExtAddr, u32>,
    /// Every secured frame heard toward the coordinator (MAC destination), any frame type.
    pub captured: Vec<Vec<u8>>,
    /// Rejoin flood: targets (real devices' IEEEs and capabilities) and the interval.
    pub flood_targets: Vec<(ExtAddr, CapabilityInfo)>,
    pub flood_interval: Us,
    /// Scripted attack steps, run by [`Timer::AttackerStep`].
    pub script: Vec<Step>,
    /// What the attacker did, for the report.
    pub notes: Vec<String>,
}

/// `Timer::AttackerReplay` indexes at or above this are into `captured`, not `recorded`.
pub const CAPTURED: usize = 1 << 40;

/// One scripted active-attack step.
#[derive(Debug, Clone)]
pub enum Step {
    /// Forge an R21 TC link key Request-Key in `victim`'s name (APS under its link key, NWK
    /// under the newest network key held).
    RequestKey { victim: ExtAddr, short: ShortAddr },
    /// Answer the TC's Transport-Key (if the attacker could read it) with a Verify-Key.
    VerifyKey { victim: ExtAddr, short: ShortAddr },
    /// Forge an NWK data frame in `src`'s name with NWK frame counter `fc` (None: the next
    /// counter above anything heard from it).
    Data { src: ExtAddr, short: ShortAddr, fc: Option<u32> },
    /// Forge an APS Update-Device from `router` about `device` (status 0: secured rejoin,
    /// 1: unsecured join, 3: TC rejoin).
    UpdateDevice {
        router: ExtAddr,
        router_short: ShortAddr,
        device: ExtAddr,
        short: ShortAddr,
        status: u8,
    },
    /// An NWK rejoin request in `src`'s name: NWK-secured (newest key held) or not.
    Rejoin { src: ExtAddr, short: ShortAddr, cap: CapabilityInfo, secured: bool },
    /// Replay the frames captured in `range` (indexes into `captured`), 50 ms apart.
    ReplayCaptured { from: usize, to: usize },
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
            injected: 0,
            insider_keys: Vec::new(),
            link_keys: HashMap::new(),
            seq_on_air: None,
            counters: HashMap::new(),
            aps_counters: HashMap::new(),
            captured: Vec::new(),
            flood_targets: Vec::new(),
            flood_interval: 20_000,
            script: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The network key to forge with: the one on air if held, else the newest held.
    pub fn network_key(&self) -> Option<(u8, Key)> {
        let held: Vec<(u8, Key)> = self
            .leaks
            .iter()
            .map(|l| l.key_seq)
            .zip(self.learned.iter().cloned())
            .chain(self.insider_keys.iter().cloned())
            .collect();
        if let Some(q) = self.seq_on_air {
            if let Some(k) = held.iter().rev().find(|(s, _)| *s == q) {
                return Some(k.clone());
            }
        }
        held.last().cloned()
    }

    /// The link key it holds for `ieee`: learned or an insider's, else the well-known key
    /// (what every device without a unique key uses).
    pub fn link_key(&self, ieee: ExtAddr) -> Key {
        self.link_keys.get(&ieee).cloned().unwrap_or_else(Key::well_known_tc_link_key)
    }

    /// Gives the attacker a network key as an insider (a compromised device held it); counts
    /// as a leak like any key it reads.
    pub fn hold_network_key(&mut self, now: Us, seq: u8, key: Key, how: &str) {
        if !self.learned.contains(&key) {
            self.learned.push(key.clone());
            self.leaks.push(Leak {
                time_s: now as f64 / 1e6,
                frame: 0,
                key_seq: seq,
                how: how.into(),
            });
        }
        self.dissector.keyring.add_network_key(key.clone(), KeySource::Given);
        self.insider_keys.retain(|(s, _)| *s != seq);
        self.insider_keys.push((seq, key));
    }

    /// Gives the attacker `ieee`'s link key as an insider.
    pub fn hold_link_key(&mut self, ieee: ExtAddr, key: Key) {
        self.dissector.keyring.add_link_key(key.clone(), KeySource::Given);
        self.link_keys.insert(ieee, key);
    }

    /// Every frame on air passes here (frame number `n` in the pcap).
    pub fn hear(&mut self, n: u64, now: Us, psdu: &[u8]) -> Option<()> {
        if now < self.listen_from {
            return None;
        }
        let d = self.dissector.dissect(n, psdu);
        if let Some(sec) = &d.nwk_security {
            if let Some(q) = sec.aux.key_seq {
                if self.seq_on_air.is_none_or(|o| q != o && q.wrapping_sub(o) < 128) {
                    self.seq_on_air = Some(q);
                }
            }
            if let Some(src) = sec.aux.source {
                let c = self.counters.entry(src).or_default();
                *c = (*c).max(sec.aux.frame_counter);
                // NWK security is hop by hop: the auxiliary header names the transmitter, so
                // its MAC source is that device's address (how a sniffer learns a router's
                // address from the frames it relays, not only from the few it originates).
                if let Some(Address::Short(s)) = d.mac.as_ref().map(|m| m.src_addr) {
                    if s != ShortAddr::COORDINATOR && s.0 < 0xfff8 {
                        self.shorts.insert(src, s);
                    }
                }
            }
            let to_coordinator = d
                .mac
                .as_ref()
                .is_some_and(|m| m.dst_addr == Address::Short(ShortAddr::COORDINATOR));
            if to_coordinator && self.captured.len() < 4096 {
                self.captured.push(psdu.to_vec());
            }
        }
        if let Some(sec) = d.aps.as_ref().and_then(|a| a.security.as_ref()) {
            if let Some(src) = sec.aux.source.or(d.nwk.as_ref().and_then(|h| h.src_ieee)) {
                let c = self.aps_counters.entry(src).or_default();
                *c = (*c).max(sec.aux.frame_counter);
            }
        }
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
            if *kt == KeyType::TrustCenterLinkKey {
                let dst = d.aps.as_ref().and_then(|a| match &a.command {
                    Some(zigtrust_wire::aps::ApsCommand::TransportKey(tk)) => match tk.body {
                        zigtrust_wire::aps::TransportKeyBody::TrustCenter { dst, .. } => Some(dst),
                        _ => None,
                    },
                    _ => None,
                });
                if let Some(dst) = dst {
                    self.link_keys.insert(dst, key.clone());
                }
            }
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
    inject(w, node, v);
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
            inject(w, node, v);
        }
        Timer::AttackerReplay(i) => {
            let Some(f) = w.attacker.as_mut().and_then(|a| {
                a.replays_sent += 1;
                match i.checked_sub(CAPTURED) {
                    Some(j) => a.captured.get(j).cloned(),
                    None => a.recorded.get(i).cloned(),
                }
            }) else {
                return;
            };
            inject(w, node, f);
        }
        Timer::AttackerFlood(left) => flood_frame(w, node, left),
        Timer::AttackerStep(i) => step(w, node, i as usize),
        _ => {}
    }
}

/// Puts a frame on air from the attacker's radio.
fn inject(w: &mut World, node: usize, psdu: Vec<u8>) {
    if let Some(a) = w.attacker.as_mut() {
        a.injected += 1;
    }
    w.send(node, psdu, Tag::Plain);
}

fn mac_frame(w: &mut World, dst: ShortAddr, src: ShortAddr, nwk: &[u8]) -> Vec<u8> {
    let s = w.rng.next_u64() as u8;
    let hdr =
        MacHeader::data(s, PAN, Address::Short(dst), Address::Short(src), !dst.is_broadcast());
    let mut v = Vec::new();
    MacFrame { header: hdr, body: MacBody::Data(nwk) }.emit(&mut v);
    v
}

/// A NWK frame in `src`'s name to the coordinator, NWK-secured under the newest network key
/// the attacker holds with frame counter `fc` (None if it holds no network key).
fn forge_nwk(
    w: &mut World,
    ft: NwkFrameType,
    src: ExtAddr,
    short: ShortAddr,
    fc: u32,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let (seq, key) = w.attacker.as_ref()?.network_key()?;
    let nseq = w.rng.next_u64() as u8;
    let mut h = NwkHeader::new(ft, ShortAddr::COORDINATOR, short, 30, nseq);
    h.src_ieee = Some(src);
    let aux = AuxHeader::nwk(fc, src, seq);
    let nwk = secure_nwk(&h, &aux, payload, &key, ZIGBEE_PRO_LEVEL).ok()?;
    Some(mac_frame(w, ShortAddr::COORDINATOR, short, &nwk))
}

/// An APS command in `src`'s name, APS-secured under the link key the attacker holds for it
/// (the well-known key unless it learned or stole another) or not secured at all.
fn forge_aps(w: &mut World, cmd: &ApsCommand, src: ExtAddr, secure: bool) -> Vec<u8> {
    let ctr = w.rng.next_u64() as u8;
    // The next APS frame counter above anything heard from the device: accepted, and no
    // more than the frames it overtakes are lost (a huge counter would cut the device's own
    // commands off: APS counter poisoning, not what these scenarios test).
    let fc = match w.attacker.as_mut() {
        Some(a) => {
            let c = a.aps_counters.entry(src).or_default();
            *c = c.saturating_add(1);
            *c
        }
        None => 1,
    };
    let hdr = ApsHeader::command(ctr, secure);
    let key = w.attacker.as_ref().map_or_else(Key::well_known_tc_link_key, |a| a.link_key(src));
    let aux = AuxHeader::aps(KeyId::Data, fc, Some(src));
    let sec = secure.then_some((&aux, &key));
    aps_command_frame(&hdr, cmd, sec, ZIGBEE_PRO_LEVEL, Some(src)).unwrap_or_default()
}

/// The next NWK counter in `src`'s name: just above anything heard from it.
fn next_counter(w: &mut World, src: ExtAddr) -> u32 {
    let Some(a) = w.attacker.as_mut() else { return 1 };
    let c = a.counters.entry(src).or_default();
    *c = c.saturating_add(1);
    *c
}

/// Floods the coordinator with unsecured Trust Center rejoin requests, one every
/// `interval` for `count` frames: alternately in the name of a real device (`targets`, from a
/// made-up short address) and of a decoy IEEE nobody has.
pub fn flood(w: &mut World, targets: Vec<(ExtAddr, CapabilityInfo)>, interval: Us, count: u32) {
    let Some((a, node)) = attacker(w) else { return };
    a.flood_targets = targets;
    a.flood_interval = interval.max(1);
    a.notes.push(format!(
        "rejoin flood: {count} unsecured TC rejoin requests at {:.0}/s for {:.0} s (real devices' \
         names from made-up short addresses, and decoy IEEEs)",
        1e6 / interval.max(1) as f64,
        count as f64 * interval as f64 / 1e6
    ));
    w.q.after(0, Ev::Timer(node, Timer::AttackerFlood(count)));
}

fn flood_frame(w: &mut World, node: usize, left: u32) {
    if left == 0 {
        return;
    }
    let Some(a) = w.attacker.as_ref() else { return };
    let (interval, n) = (a.flood_interval, a.flood_targets.len());
    let r = w.rng.next_u64();
    let short = loop {
        let s = 1 + (w.rng.below(0xfff0) as u16);
        if !w.used_shorts.contains(&s) {
            break ShortAddr(s);
        }
    };
    let (ieee, cap) = if left.is_multiple_of(2) && n > 0 {
        w.attacker.as_ref().expect("attacker").flood_targets[(left as usize / 2) % n]
    } else {
        (ExtAddr(0xdec0_0000_0000_0000 | (r >> 16)), CapabilityInfo::SLEEPY_END_DEVICE)
    };
    let mut h = NwkHeader::new(NwkFrameType::Command, ShortAddr::COORDINATOR, short, 1, r as u8);
    h.src_ieee = Some(ieee);
    let mut nwk = Vec::new();
    h.emit(&mut nwk);
    NwkCommand::RejoinRequest { capability: cap }.emit(&mut nwk);
    let f = mac_frame(w, ShortAddr::COORDINATOR, short, &nwk);
    inject(w, node, f);
    w.q.after(interval, Ev::Timer(node, Timer::AttackerFlood(left - 1)));
}

/// Schedules a scripted attack step after `delay`.
pub fn schedule(w: &mut World, delay: Us, s: Step) {
    let Some((a, node)) = attacker(w) else { return };
    a.script.push(s);
    let i = a.script.len() as u32 - 1;
    w.q.after(delay, Ev::Timer(node, Timer::AttackerStep(i)));
}

/// Everything a compromised device held: its network keys and link key.
pub fn compromise(w: &mut World, ieee: ExtAddr, keys: Vec<(u8, Key)>, link: Key, fc: u32) {
    let now = w.now();
    let Some(a) = w.attacker.as_mut() else { return };
    for (seq, k) in keys {
        a.hold_network_key(now, seq, k, "held by a compromised router");
    }
    a.hold_link_key(ieee, link);
    let c = a.counters.entry(ieee).or_default();
    *c = (*c).max(fc);
    a.notes.push(format!("compromised router {ieee}: holds its network keys and link key"));
}

fn note(w: &mut World, s: String) {
    if let Some(a) = w.attacker.as_mut() {
        a.notes.push(s);
    }
}

fn step(w: &mut World, node: usize, i: usize) {
    let Some(s) = w.attacker.as_ref().and_then(|a| a.script.get(i).cloned()) else { return };
    match s {
        Step::RequestKey { victim, short } => {
            let cmd =
                ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, partner: None };
            let aps = forge_aps(w, &cmd, victim, true);
            let fc = next_counter(w, victim);
            match forge_nwk(w, NwkFrameType::Data, victim, short, fc, &aps) {
                Some(f) => {
                    inject(w, node, f);
                    note(w, format!("TCLK update in {victim}'s name: Request-Key sent"));
                }
                None => note(w, format!("TCLK update in {victim}'s name: no network key held")),
            }
        }
        Step::VerifyKey { victim, short } => {
            let learned = w.attacker.as_ref().and_then(|a| a.link_keys.get(&victim).cloned());
            let got = learned.is_some();
            // Without the TC's answer it tries a key of its own.
            let key = learned.unwrap_or_else(|| Key::from_bytes([0x5a; 16]));
            let cmd = ApsCommand::VerifyKey {
                key_type: KeyType::TrustCenterLinkKey,
                src: victim,
                hash: zigtrust_crypto::verify_key_hash(&key),
            };
            let aps = forge_aps(w, &cmd, victim, false);
            let fc = next_counter(w, victim);
            if let Some(f) = forge_nwk(w, NwkFrameType::Data, victim, short, fc, &aps) {
                inject(w, node, f);
                note(
                    w,
                    format!(
                        "TCLK update in {victim}'s name: Verify-Key sent ({})",
                        if got { "the TC's new key was readable" } else { "no answer read" }
                    ),
                );
            }
        }
        Step::Data { src, short, fc } => {
            let fc = match fc {
                Some(c) => {
                    if let Some(a) = w.attacker.as_mut() {
                        a.counters.insert(src, c);
                    }
                    c
                }
                None => next_counter(w, src),
            };
            let mut aps = Vec::new();
            let ctr = w.rng.next_u64() as u8;
            ApsHeader::data_unicast(1, 0x0402, 0x0104, 1, ctr).emit(&mut aps);
            aps.extend_from_slice(&[0x18, ctr, 0x0a, 0x00, 0x00, 0x29, 0x00, 0x80]);
            match forge_nwk(w, NwkFrameType::Data, src, short, fc, &aps) {
                Some(f) => {
                    inject(w, node, f);
                    note(w, format!("data frame forged in {src}'s name (NWK counter {fc:#x})"));
                }
                None => note(w, format!("no network key held to forge in {src}'s name")),
            }
        }
        Step::UpdateDevice { router, router_short, device, short, status } => {
            let cmd = ApsCommand::UpdateDevice {
                device,
                short_addr: short,
                status: zigtrust_wire::aps::UpdateDeviceStatus::from_u8(status),
                tlvs: vec![],
            };
            let aps = forge_aps(w, &cmd, router, true);
            let fc = next_counter(w, router);
            if let Some(f) = forge_nwk(w, NwkFrameType::Data, router, router_short, fc, &aps) {
                inject(w, node, f);
                note(
                    w,
                    format!(
                        "Update-Device (status {status}) forged in router {router}'s name for \
                         {device} at bogus short {short}"
                    ),
                );
            }
        }
        Step::Rejoin { src, short, cap, secured } => {
            let mut p = Vec::new();
            NwkCommand::RejoinRequest { capability: cap }.emit(&mut p);
            let f = if secured {
                let fc = next_counter(w, src);
                forge_nwk(w, NwkFrameType::Command, src, short, fc, &p)
            } else {
                let r = w.rng.next_u64() as u8;
                let mut h =
                    NwkHeader::new(NwkFrameType::Command, ShortAddr::COORDINATOR, short, 1, r);
                h.src_ieee = Some(src);
                let mut nwk = Vec::new();
                h.emit(&mut nwk);
                nwk.extend_from_slice(&p);
                Some(mac_frame(w, ShortAddr::COORDINATOR, short, &nwk))
            };
            if let Some(f) = f {
                inject(w, node, f);
                let how = if secured { "NWK-secured" } else { "unsecured" };
                note(w, format!("{how} rejoin request forged in {src}'s name"));
            }
        }
        Step::ReplayCaptured { from, to } => {
            for (k, j) in (from..to).enumerate() {
                let t = Timer::AttackerReplay(CAPTURED + j);
                w.q.after(50_000 * (k as u64 + 1), Ev::Timer(node, t));
            }
            note(w, format!("replayed {} frames captured earlier", to - from));
        }
    }
}
