//! A harness that runs the Trust Center core in the hub and records every frame it sends, for
//! conversations with the scripted devices of `zigtrust-testkit`; and what a sniffer of those
//! frames learns.
#![allow(dead_code)]

use std::collections::BTreeMap;
use zigtrust_crypto::{CcmStar, Key};
use zigtrust_hub::{Hub, Outbox, Step};
use zigtrust_tc::model::{Snapshot, StoreWrite};
use zigtrust_tc::{AdminCommand, AdminError, Durable, Event, RxMeta, Transmit, TrustCenter};
use zigtrust_testkit::tshark::Tshark;
use zigtrust_wire::aps::{ApsCommand, ApsFrameType, ApsHeader, TransportKeyBody};
use zigtrust_wire::mac::{MacBody, MacFrame};
use zigtrust_wire::nwk::NwkHeader;
use zigtrust_wire::security::{open, unsecure_aps_any, AuxHeader, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::ExtAddr;

pub use zigtrust_testkit::device::{Device, PAN};

/// The harness's store: every write the core committed, in order, over a base snapshot (a
/// test may add writes of its own, as a tampered or older store would hold).
#[derive(Default)]
pub struct Log {
    pub base: Snapshot,
    pub writes: Vec<StoreWrite>,
    /// Writes before this index predate `base` (kept for assertions, not folded).
    pub from: usize,
}

impl Durable for Log {
    type Error = std::convert::Infallible;
    fn commit(&mut self, w: &[StoreWrite]) -> Result<(), Self::Error> {
        self.writes.extend_from_slice(w);
        Ok(())
    }
    fn snapshot(&self) -> Result<Snapshot, Self::Error> {
        Ok(fold(self.base.clone(), &self.writes[self.from..]))
    }
}

/// The Trust Center in the hub every shell uses, plus everything it said, for assertions and
/// pcap output.
pub struct Harness {
    pub hub: Hub<Log, Outbox>,
    pub now: u64,
    pub sent: Vec<Transmit>,
    pub events: Vec<Event>,
    /// Install-code keys handed to the TC (for the tshark check).
    pub install_keys: Vec<Key>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_seed(3)
    }

    /// A formed network, its core seeded with `seed`.
    pub fn with_seed(seed: u8) -> Harness {
        let mut h = Harness::from_snapshot(Snapshot::default(), seed, 0);
        h.now = 1_000;
        h.admin(AdminCommand::FormNetwork {
            pan_id: PAN,
            extended_pan_id: 0xdddd_0000_0000_0001,
            channel: 15,
        });
        h
    }

    /// A hub restored from `snap` at `now`.
    pub fn from_snapshot(snap: Snapshot, seed: u8, now: u64) -> Harness {
        let log = Log { base: snap, ..Log::default() };
        let hub = Hub::open(log, Outbox::default(), [seed; 32], now).unwrap_or_else(|e| match e {});
        Harness { hub, now, sent: vec![], events: vec![], install_keys: vec![] }
    }

    pub fn tc(&self) -> &TrustCenter {
        self.hub.tc()
    }

    /// Every write committed (and added by the test) so far.
    pub fn writes(&self) -> &[StoreWrite] {
        &self.hub.store().writes
    }

    /// Adds writes as if the store held them (a later [`Harness::restart`] restores them).
    pub fn writes_mut(&mut self) -> &mut Vec<StoreWrite> {
        &mut self.hub.store_mut().writes
    }

    fn absorb(&mut self, step: Step) {
        self.events.extend(step.events);
    }

    /// The frames the hub released since the last call.
    pub fn drain(&mut self) -> Vec<Transmit> {
        let out = std::mem::take(&mut self.hub.radio_mut().frames);
        self.sent.extend(out.iter().cloned());
        out
    }

    pub fn command(&mut self, c: AdminCommand) -> Result<(), AdminError> {
        if let AdminCommand::AddInstallCode { link_key, .. } = &c {
            self.install_keys.push(link_key.clone());
        }
        let step = self.hub.command(self.now, c)?;
        self.absorb(step);
        Ok(())
    }

    pub fn admin(&mut self, c: AdminCommand) {
        self.command(c).unwrap();
        self.drain();
    }

    /// Runs the core's due timers now (frames stay for [`Harness::drain`]).
    pub fn timeout(&mut self) {
        let step = self.hub.handle_timeout(self.now);
        self.absorb(step);
    }

    pub fn advance(&mut self, ms: u64) -> Vec<Transmit> {
        self.now += ms;
        self.timeout();
        self.drain()
    }

    /// An application frame to `dst`; false if the core would not send it.
    pub fn send_application(&mut self, dst: ExtAddr, aps: &[u8]) -> bool {
        let step = self.hub.send_application(self.now, dst, aps);
        let sent = step.sent > 0;
        self.absorb(step);
        sent
    }

    /// Delivers a device frame to the TC and returns what the TC sent back.
    pub fn rx(&mut self, psdu: Vec<u8>) -> Vec<Transmit> {
        self.now += 10;
        let step = self.hub.receive(self.now, &psdu, RxMeta::default());
        self.absorb(step);
        self.drain()
    }

    /// Sends the device's frame and lets the device process the replies.
    pub fn exchange(&mut self, dev: &mut Device, psdu: Vec<u8>) -> Vec<Transmit> {
        let replies = self.rx(psdu);
        for t in &replies {
            dev.receive(&t.psdu);
        }
        replies
    }

    /// Writes every frame the TC sent to a pcap and has tshark dissect it with every key the
    /// TC ever used (network keys, install-code keys, current TC link keys) on its command line:
    /// no malformed frame, no expert error (so every secured layer decrypted). Returns, per
    /// frame, how many secured layers tshark decrypted.
    pub fn tshark_check(&self, name: &str) -> Vec<usize> {
        use zigtrust_capture::{PcapWriter, Timestamp};
        let mut keys: Vec<String> =
            (0..=255u8).filter_map(|s| self.tc().network_key(s)).map(|k| k.key.to_hex()).collect();
        keys.push(Key::well_known_tc_link_key().to_hex());
        keys.extend(self.install_keys.iter().map(|k| k.to_hex()));
        keys.extend(self.tc().devices().filter_map(|d| d.tclk.as_ref()).map(|k| k.to_hex()));
        keys.sort();
        keys.dedup();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        let pcap = dir.join(format!("tc-{name}.pcap"));
        let mut w = PcapWriter::new(std::fs::File::create(&pcap).unwrap()).unwrap();
        for (i, t) in self.sent.iter().enumerate() {
            w.write_frame(Timestamp::new(1_700_000_000 + i as i64, 0), &t.psdu).unwrap();
        }
        w.finish().unwrap();
        let rows = Tshark::new().keys(&keys).fields(
            &pcap,
            &["frame.number", "_ws.malformed", "_ws.expert.message", "zbee.sec.key"],
        );
        assert_eq!(rows.len(), self.sent.len(), "{name}: tshark frame count");
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                let bad = !r["_ws.malformed"].is_empty() || !r["_ws.expert.message"].is_empty();
                assert!(!bad, "{name}: tshark on frame {} ({}): {r:?}", i + 1, self.sent[i].what);
                r.list("zbee.sec.key").len()
            })
            .collect()
    }

    /// What the store would hand back now.
    pub fn snapshot(&self) -> Snapshot {
        self.hub.store().snapshot().unwrap_or_else(|e| match e {})
    }

    /// The hub restarts: a new core from the durable state (frames sent before are kept).
    pub fn restart(&mut self, seed: u8) {
        let step = self.hub.restart([seed; 32], self.now).unwrap_or_else(|e| match e {});
        self.absorb(step);
        self.drain();
    }

    /// The hub restarts from `snap` (an edited store), the log so far kept for assertions.
    pub fn restore(&mut self, snap: Snapshot, seed: u8) {
        let log = self.hub.store_mut();
        log.base = snap;
        log.from = log.writes.len();
        self.restart(seed);
    }

    /// Audit entries of this kind written so far.
    pub fn audits(&self, kind: zigtrust_tc::model::AuditKind) -> usize {
        self.writes()
            .iter()
            .filter(|w| matches!(w, StoreWrite::Audit(a) if a.kind == kind.as_str()))
            .count()
    }

    pub fn tc_ieee(&self) -> ExtAddr {
        self.tc().network().unwrap().tc_ieee
    }

    pub fn has_event(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(f)
    }
}

/// Every network key readable from `frames` by someone who knows only the well-known key (and
/// every key learned along the way): what a passive sniffer gets.
pub fn sniffer_keys(frames: &[Transmit]) -> Vec<Key> {
    attacker_keys(frames).0
}

/// Every key a passive sniffer present from the first frame reads out of `frames`, learning
/// transitively: network keys and TC link keys from any Transport-Key it can open (APS under
/// the well-known key or a link key it learned, NWK under a network key it learned), repeated
/// until nothing new opens. Returns (network keys, link keys).
pub fn attacker_keys(frames: &[Transmit]) -> (Vec<Key>, Vec<Key>) {
    let mut nwk_keys: BTreeMap<u8, Vec<Key>> = BTreeMap::new();
    let mut link_keys = vec![Key::well_known_tc_link_key()];
    loop {
        let before = (nwk_keys.values().map(Vec::len).sum::<usize>(), link_keys.len());
        for f in frames {
            let Ok(mac) = MacFrame::parse(&f.psdu) else { continue };
            let MacBody::Data(nwk) = mac.body else { continue };
            let Ok((h, hlen)) = NwkHeader::parse(nwk) else { continue };
            let payload = if h.security {
                let Ok((aux, _)) = AuxHeader::parse(&nwk[hlen..]) else { continue };
                let cands = aux.key_seq.and_then(|s| nwk_keys.get(&s)).cloned().unwrap_or_default();
                let Some(p) = cands
                    .iter()
                    .find_map(|k| open(&CcmStar::new(k), ZIGBEE_PRO_LEVEL, nwk, hlen, None).ok())
                else {
                    continue;
                };
                p.plaintext
            } else {
                nwk[hlen..].to_vec()
            };
            let Ok((ah, _)) = ApsHeader::parse(&payload) else { continue };
            if ah.frame_type != ApsFrameType::Command {
                continue;
            }
            let body = if ah.security {
                match unsecure_aps_any(&payload, &link_keys, ZIGBEE_PRO_LEVEL, None) {
                    Ok(u) => u.payload,
                    Err(_) => continue,
                }
            } else {
                let Ok((_, ahl)) = ApsHeader::parse(&payload) else { continue };
                payload[ahl..].to_vec()
            };
            if let Ok(ApsCommand::TransportKey(tk)) = ApsCommand::parse(&body) {
                match tk.body {
                    TransportKeyBody::Network { seq, .. } => {
                        let e = nwk_keys.entry(seq).or_default();
                        if !e.contains(&tk.key) {
                            e.push(tk.key.clone());
                        }
                    }
                    _ => {
                        if !link_keys.contains(&tk.key) {
                            link_keys.push(tk.key.clone());
                        }
                    }
                }
            }
        }
        if (nwk_keys.values().map(Vec::len).sum::<usize>(), link_keys.len()) == before {
            break;
        }
    }
    (nwk_keys.into_values().flatten().collect(), link_keys)
}

/// The install-code-derived link key the tests' Zigbee 3.0 devices use.
pub const IC_KEY: [u8; 16] = [
    0x66, 0xb6, 0x90, 0x09, 0x81, 0xe1, 0xee, 0x3c, 0xa4, 0x20, 0x6b, 0x6b, 0x86, 0x1c, 0x02, 0xbb,
];

pub fn policy(f: impl FnOnce(&mut zigtrust_tc::model::Policy)) -> AdminCommand {
    let mut p = zigtrust_tc::model::Policy::default();
    f(&mut p);
    AdminCommand::SetPolicy(p)
}

pub fn open_join(h: &mut Harness) {
    h.admin(AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None });
}

/// Joins `dev` directly and checks it got the active network key.
pub fn join(h: &mut Harness, dev: &mut Device) {
    let req = dev.association_request();
    h.exchange(dev, req);
    assert!(dev.network_key().is_some(), "device did not get the network key");
    assert_eq!(dev.network_key(), Some(&h.tc().network_key(h.tc().active_key_seq()).unwrap().key));
}

/// A Zigbee 3.0 device whose install code the TC was given (not joined yet).
pub fn z30(h: &mut Harness, ieee: u64) -> Device {
    let k = Key::from_bytes(IC_KEY);
    h.admin(AdminCommand::AddInstallCode { ieee: ExtAddr(ieee), link_key: k.clone() });
    Device::new(ieee, Some(k))
}

/// A Zigbee 3.0 device joined with its install code.
pub fn z30_joined(h: &mut Harness, ieee: u64) -> Device {
    let mut d = z30(h, ieee);
    join(h, &mut d);
    d
}

/// A device joined under the well-known key (HA 1.2, or Z3.0 without an install code).
pub fn legacy(h: &mut Harness, ieee: u64) -> Device {
    let mut d = Device::new(ieee, None);
    join(h, &mut d);
    d
}

pub fn tclk_update(h: &mut Harness, dev: &mut Device) {
    let f = dev.request_key();
    h.exchange(dev, f);
    let f = dev.verify_key();
    h.exchange(dev, f);
    assert!(dev.tclk_confirmed);
}

/// How many of `out` are of this kind.
pub fn sent_what(out: &[Transmit], what: &str) -> usize {
    out.iter().filter(|t| t.what == what).count()
}

/// Delivers the rotation key in `frames` to `d` and sends its acknowledgements.
pub fn take_rotation_key(h: &mut Harness, d: &mut Device, frames: &[Transmit]) {
    for t in frames {
        d.receive(&t.psdu);
    }
    for ack in std::mem::take(&mut d.acks_due) {
        let f = d.ack(ack);
        let out = h.exchange(d, f);
        for t in &out {
            d.receive(&t.psdu);
        }
    }
}

/// The NWK frame counters of the secured frames in `frames`.
pub fn nwk_counters(frames: &[Transmit]) -> Vec<u32> {
    frames
        .iter()
        .filter_map(|t| {
            let MacBody::Data(nwk) = MacFrame::parse(&t.psdu).ok()?.body else { return None };
            let (h, n) = NwkHeader::parse(nwk).ok()?;
            h.security
                .then(|| AuxHeader::parse(&nwk[n..]).ok().map(|(a, _)| a.frame_counter))
                .flatten()
        })
        .collect()
}

/// `writes` applied over `snap`, as a store folds them.
pub fn fold(mut snap: Snapshot, writes: &[StoreWrite]) -> Snapshot {
    for w in writes {
        match w.clone() {
            StoreWrite::Network(n) => snap.network = Some(n),
            StoreWrite::NetworkKey(k) => {
                snap.network_keys.retain(|x| x.seq != k.seq);
                snap.network_keys.push(k);
            }
            StoreWrite::ActiveKeySeq(s) => snap.active_key_seq = Some(s),
            StoreWrite::Device(dr) => {
                snap.devices.retain(|x| x.ieee != dr.ieee);
                snap.devices.push(dr);
            }
            StoreWrite::DeleteDevice(i) => snap.devices.retain(|x| x.ieee != i),
            StoreWrite::InstallCode { ieee, key } => {
                snap.install_codes.retain(|(i, _)| *i != ieee);
                snap.install_codes.push((ieee, key));
            }
            StoreWrite::RemoveInstallCode(i) => snap.install_codes.retain(|(x, _)| *x != i),
            StoreWrite::CounterLease { kind, until } => snap.counter_leases.push((kind, until)),
            StoreWrite::CounterRestart { kind, key_seq } => {
                snap.counter_leases.retain(|(k, _)| *k != kind);
                snap.counter_restarts.retain(|(k, _)| *k != kind);
                snap.counter_restarts.push((kind, key_seq));
            }
            StoreWrite::Policy(p) => snap.policy = Some(p),
            StoreWrite::Rotation(r) => snap.rotation = r,
            StoreWrite::Audit(_) => {}
        }
    }
    snap
}
