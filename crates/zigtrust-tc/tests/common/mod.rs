//! A scripted Zigbee end device built from zigtrust-wire, for conversations with the Trust
//! Center core, plus a harness that runs the core and records every frame it sends.
#![allow(dead_code)]

use std::collections::BTreeMap;
use zigtrust_crypto::{verify_key_hash, CcmStar, Key};
use zigtrust_hub::{Hub, Outbox, Step};
use zigtrust_tc::model::{Snapshot, StoreWrite};
use zigtrust_tc::{AdminCommand, AdminError, Durable, Event, RxMeta, Transmit, TrustCenter};
use zigtrust_wire::aps::{ApsCommand, ApsFrameType, ApsHeader, KeyType, TransportKeyBody};
use zigtrust_wire::mac::{Address, MacBody, MacCommand, MacFrame, MacHeader};
use zigtrust_wire::nwk::{NwkCommand, NwkFrameType, NwkHeader};
use zigtrust_wire::security::{
    aps_command_frame, open, secure_nwk, unsecure_aps_any, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL,
};
use zigtrust_wire::{CapabilityInfo, ExtAddr, PanId, ShortAddr};

pub const PAN: PanId = PanId(0x1a62);

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
        let conf = dir.join("tc-empty-wireshark-profile");
        std::fs::create_dir_all(&conf).unwrap();
        let mut cmd = std::process::Command::new("tshark");
        cmd.env("WIRESHARK_CONFIG_DIR", &conf).arg("-r").arg(&pcap);
        for (i, k) in keys.iter().enumerate() {
            cmd.arg("-o").arg(format!("uat:zigbee_pc_keys:\"{k}\",\"Normal\",\"k{i}\""));
        }
        cmd.args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
        cmd.args(["-e", "frame.number", "-e", "_ws.malformed", "-e", "_ws.expert.message"]);
        cmd.args(["-e", "zbee.sec.key"]);
        let out = cmd.output().expect("tshark must be installed (scripts/test installs it)");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), self.sent.len(), "{name}: tshark frame count");
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                let f: Vec<&str> = l.split('\t').collect();
                let bad = f.get(1).is_some_and(|m| !m.is_empty())
                    || f.get(2).is_some_and(|m| !m.is_empty());
                assert!(!bad, "{name}: tshark on frame {} ({}): {l}", i + 1, self.sent[i].what);
                f.get(3).map_or(0, |k| if k.is_empty() { 0 } else { k.split(',').count() })
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

/// A device that knows only what it has been told over the air.
pub struct Device {
    pub ieee: ExtAddr,
    pub short: ShortAddr,
    pub capability: CapabilityInfo,
    /// Preconfigured / current TC link key (None: the well-known key).
    pub tclk: Option<Key>,
    pending_tclk: Option<Key>,
    pub nwk_keys: BTreeMap<u8, Key>,
    pub active_seq: Option<u8>,
    pub nwk_fc: u32,
    pub aps_fc: u32,
    seq: u8,
    pub tclk_confirmed: bool,
    pub rejoin_status: Option<u8>,
    /// APS acks to send for Transport-Keys that asked for one.
    pub acks_due: Vec<u8>,
}

impl Device {
    pub fn new(ieee: u64, tclk: Option<Key>) -> Device {
        Device {
            ieee: ExtAddr(ieee),
            short: ShortAddr(0xffff),
            capability: CapabilityInfo::ROUTER,
            tclk,
            pending_tclk: None,
            nwk_keys: BTreeMap::new(),
            active_seq: None,
            nwk_fc: 0,
            aps_fc: 0,
            seq: 0,
            tclk_confirmed: false,
            rejoin_status: None,
            acks_due: vec![],
        }
    }

    fn link(&self) -> Key {
        self.tclk.clone().unwrap_or_else(Key::well_known_tc_link_key)
    }

    fn next(&mut self) -> u8 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// An attacker posing as `victim`: its IEEE and short address, and the network keys
    /// `known` (what it read over the air), but not its link key.
    pub fn impersonating(victim: &Device, known: &[Key]) -> Device {
        let mut a = Device::new(victim.ieee.0, None);
        a.short = victim.short;
        a.capability = victim.capability;
        for (s, k) in &victim.nwk_keys {
            if known.contains(k) {
                a.nwk_keys.insert(*s, k.clone());
                a.active_seq = Some(*s);
            }
        }
        a
    }

    pub fn network_key(&self) -> Option<&Key> {
        self.active_seq.and_then(|s| self.nwk_keys.get(&s))
    }

    pub fn association_request(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        let s = self.next();
        MacFrame::association_request(s, PAN, ShortAddr::COORDINATOR, self.ieee, self.capability)
            .emit(&mut v);
        v
    }

    fn mac(&mut self, nwk: &[u8]) -> Vec<u8> {
        let s = self.next();
        let hdr = MacHeader::data(
            s,
            PAN,
            Address::Short(ShortAddr::COORDINATOR),
            Address::Short(self.short),
            true,
        );
        let mut v = Vec::new();
        MacFrame { header: hdr, body: MacBody::Data(nwk) }.emit(&mut v);
        v
    }

    fn nwk_hdr(&mut self, ft: NwkFrameType) -> NwkHeader {
        let s = self.next();
        let mut h = NwkHeader::new(ft, ShortAddr::COORDINATOR, self.short, 30, s);
        h.src_ieee = Some(self.ieee);
        h
    }

    /// NWK-secured frame under key `seq` (default: the device's active key).
    pub fn secured(&mut self, ft: NwkFrameType, payload: &[u8], seq: Option<u8>) -> Vec<u8> {
        let seq = seq.or(self.active_seq).expect("device has a network key");
        let key = self.nwk_keys[&seq].clone();
        self.nwk_fc += 1;
        let h = self.nwk_hdr(ft);
        let aux = AuxHeader::nwk(self.nwk_fc, self.ieee, seq);
        let nwk = secure_nwk(&h, &aux, payload, &key, ZIGBEE_PRO_LEVEL).unwrap();
        self.mac(&nwk)
    }

    /// A ZCL frame to the coordinator.
    pub fn data(&mut self) -> Vec<u8> {
        let aps = self.data_payload();
        self.secured(NwkFrameType::Data, &aps, None)
    }

    /// The APS/ZCL payload of [`Device::data`].
    pub fn data_payload(&mut self) -> Vec<u8> {
        let mut aps = Vec::new();
        let c = self.next();
        ApsHeader::data_unicast(1, 0x0006, 0x0104, 1, c).emit(&mut aps);
        aps.extend_from_slice(&[0x01, c, 0x02]);
        aps
    }

    /// Forwards `aps` from `child` to the coordinator as its parent router does: the NWK header
    /// is the child's (source short address and IEEE), the security is this router's (its
    /// frame counter and IEEE in the auxiliary header, its active key).
    pub fn relay_for(&mut self, child: &Device, aps: &[u8]) -> Vec<u8> {
        let seq = self.active_seq.expect("router has a network key");
        let key = self.nwk_keys[&seq].clone();
        self.nwk_fc += 1;
        let s = self.next();
        let mut h = NwkHeader::new(NwkFrameType::Data, ShortAddr::COORDINATOR, child.short, 29, s);
        h.src_ieee = Some(child.ieee);
        let aux = AuxHeader::nwk(self.nwk_fc, self.ieee, seq);
        let nwk = secure_nwk(&h, &aux, aps, &key, ZIGBEE_PRO_LEVEL).unwrap();
        self.mac(&nwk)
    }

    pub fn aps_cmd(&mut self, cmd: &ApsCommand, secure: bool) -> Vec<u8> {
        let c = self.next();
        let hdr = ApsHeader::command(c, secure);
        if !secure {
            return aps_command_frame(&hdr, cmd, None, ZIGBEE_PRO_LEVEL, None).unwrap();
        }
        self.aps_fc += 1;
        let aux = AuxHeader::aps(KeyId::Data, self.aps_fc, Some(self.ieee));
        aps_command_frame(&hdr, cmd, Some((&aux, &self.link())), ZIGBEE_PRO_LEVEL, Some(self.ieee))
            .unwrap()
    }

    pub fn request_key(&mut self) -> Vec<u8> {
        let aps = self.aps_cmd(
            &ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, partner: None },
            true,
        );
        self.secured(NwkFrameType::Data, &aps, None)
    }

    pub fn verify_key(&mut self) -> Vec<u8> {
        let new = self.pending_tclk.clone().expect("a TCLK was transported");
        let aps = self.aps_cmd(
            &ApsCommand::VerifyKey {
                key_type: KeyType::TrustCenterLinkKey,
                src: self.ieee,
                hash: verify_key_hash(&new),
            },
            false,
        );
        self.secured(NwkFrameType::Data, &aps, None)
    }

    /// As a router: report a child that joined (status 1) or did a TC rejoin (status 3).
    pub fn update_device(&mut self, child: ExtAddr, child_short: ShortAddr, status: u8) -> Vec<u8> {
        use zigtrust_wire::aps::UpdateDeviceStatus;
        let cmd = ApsCommand::UpdateDevice {
            device: child,
            short_addr: child_short,
            status: UpdateDeviceStatus::from_u8(status),
            tlvs: vec![],
        };
        let aps = self.aps_cmd(&cmd, true);
        self.secured(NwkFrameType::Data, &aps, None)
    }

    /// As a router: the frames the TC tunnelled through us (Tunnel command payloads).
    pub fn tunnelled(&self, psdu: &[u8]) -> Option<(ExtAddr, Vec<u8>)> {
        let mac = MacFrame::parse(psdu).ok()?;
        let MacBody::Data(nwk) = mac.body else { return None };
        let (h, hlen) = NwkHeader::parse(nwk).ok()?;
        if !h.security || h.dst != self.short {
            return None;
        }
        let (aux, _) = AuxHeader::parse(&nwk[hlen..]).ok()?;
        let key = self.nwk_keys.get(&aux.key_seq?)?;
        let o = open(&CcmStar::new(key), ZIGBEE_PRO_LEVEL, nwk, hlen, None).ok()?;
        let (ah, ahl) = ApsHeader::parse(&o.plaintext).ok()?;
        if !ah.security {
            return None;
        }
        let (aux, _) = AuxHeader::parse(&o.plaintext[ahl..]).ok()?;
        let k = aux.key_id.derive(&self.link());
        let p = open(&CcmStar::new(&k), ZIGBEE_PRO_LEVEL, &o.plaintext, ahl, None).ok()?;
        match ApsCommand::parse(&p.plaintext).ok()? {
            ApsCommand::Tunnel { dst, frame } => Some((dst, frame)),
            _ => None,
        }
    }

    /// As a child: the router relays a tunnelled APS frame to us, NWK unsecured.
    pub fn receive_relayed(&mut self, aps: &[u8]) {
        self.receive_aps(aps);
    }

    pub fn ack(&mut self, counter: u8) -> Vec<u8> {
        let mut aps = Vec::new();
        ApsHeader::command_ack(counter).emit(&mut aps);
        self.secured(NwkFrameType::Data, &aps, None)
    }

    pub fn rejoin_secured(&mut self, seq: Option<u8>) -> Vec<u8> {
        let mut p = Vec::new();
        NwkCommand::RejoinRequest { capability: self.capability }.emit(&mut p);
        self.secured(NwkFrameType::Command, &p, seq)
    }

    /// An unsecured (Trust Center) rejoin request; an attacker can build the same frame.
    pub fn rejoin_unsecured(&mut self) -> Vec<u8> {
        let mut h = self.nwk_hdr(NwkFrameType::Command);
        h.radius = 1;
        let mut nwk = Vec::new();
        h.emit(&mut nwk);
        NwkCommand::RejoinRequest { capability: self.capability }.emit(&mut nwk);
        self.mac(&nwk)
    }

    /// Processes a frame the TC sent (if it is for this device and readable).
    pub fn receive(&mut self, psdu: &[u8]) {
        let Ok(mac) = MacFrame::parse(psdu) else { return };
        match mac.body {
            MacBody::Command(MacCommand::AssociationResponse { short_addr, status })
                if mac.header.dst_addr == Address::Extended(self.ieee) && status.to_u8() == 0 =>
            {
                self.short = short_addr;
            }
            MacBody::Data(nwk) => self.receive_nwk(nwk),
            _ => {}
        }
    }

    fn receive_nwk(&mut self, nwk: &[u8]) {
        let Ok((h, hlen)) = NwkHeader::parse(nwk) else { return };
        if h.dst != self.short && !h.dst.is_broadcast() && h.dst_ieee != Some(self.ieee) {
            return;
        }
        let payload = if h.security {
            let Ok((aux, _)) = AuxHeader::parse(&nwk[hlen..]) else { return };
            let Some(key) = aux.key_seq.and_then(|s| self.nwk_keys.get(&s)) else { return };
            match open(&CcmStar::new(key), ZIGBEE_PRO_LEVEL, nwk, hlen, None) {
                Ok(o) => o.plaintext,
                Err(_) => return,
            }
        } else {
            nwk[hlen..].to_vec()
        };
        match h.frame_type {
            NwkFrameType::Command => {
                // A response names the device it answers: one for another device (sent to a
                // broadcast or a shared address) is not ours.
                if let Some(NwkCommand::RejoinResponse { short_addr, status }) =
                    NwkCommand::parse(&payload)
                        .ok()
                        .filter(|_| h.dst_ieee.is_none_or(|i| i == self.ieee))
                {
                    self.rejoin_status = Some(status);
                    if status == 0 {
                        self.short = short_addr;
                    }
                }
            }
            NwkFrameType::Data => self.receive_aps(&payload),
            _ => {}
        }
    }

    fn receive_aps(&mut self, aps: &[u8]) {
        let Ok((ah, hlen)) = ApsHeader::parse(aps) else { return };
        if ah.frame_type != ApsFrameType::Command {
            return;
        }
        let body = if ah.security {
            // Confirm-Key comes under the new key; everything else under the current one.
            let mut candidates = vec![self.link()];
            candidates.extend(self.pending_tclk.clone());
            match unsecure_aps_any(aps, &candidates, ZIGBEE_PRO_LEVEL, None) {
                Ok(u) => u.payload,
                Err(_) => return,
            }
        } else {
            aps[hlen..].to_vec()
        };
        let Ok(cmd) = ApsCommand::parse(&body) else { return };
        match cmd {
            ApsCommand::TransportKey(tk) => match tk.body {
                TransportKeyBody::Network { seq, dst, .. }
                    if dst == self.ieee || dst == ExtAddr::ZERO =>
                {
                    self.nwk_keys.insert(seq, tk.key.clone());
                    // A key given at a join or in answer to a rejoin is used at once; a
                    // rotation's key (acknowledged) waits for the Switch-Key.
                    if self.active_seq.is_none() || !ah.ack_request {
                        self.active_seq = Some(seq);
                    }
                    if ah.ack_request {
                        self.acks_due.push(ah.counter);
                    }
                }
                TransportKeyBody::TrustCenter { dst, .. } if dst == self.ieee => {
                    self.pending_tclk = Some(tk.key.clone())
                }
                _ => {}
            },
            ApsCommand::ConfirmKey { status: 0, dst, .. } if dst == self.ieee => {
                self.tclk = self.pending_tclk.take();
                self.tclk_confirmed = true;
            }
            ApsCommand::SwitchKey { seq } if self.nwk_keys.contains_key(&seq) => {
                self.active_seq = Some(seq);
            }
            _ => {}
        }
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
