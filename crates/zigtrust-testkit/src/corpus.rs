//! A seeded, deterministic corpus of Zigbee frames built with our own emitters: a small network
//! whose devices join (directly and through a router), update their TC link keys, talk, send
//! every NWK command, rejoin (secured and Trust Center rejoins) and live through a network key
//! switch. It exercises every frame and command type `zigtrust-wire` emits, and is what the
//! tshark and zigbee-on-host oracle tests, the sample capture (`testdata/sample.pcap`) and the
//! decode and audit benchmarks use (through the `zigtrust-corpus` binary of this crate).
//!
//! Same seed and options → byte-identical frames.

use std::io::Write;
use zigtrust_capture::{PcapWriter, Timestamp};
use zigtrust_crypto::{verify_key_hash, InstallCode, Key, SecurityLevel};
use zigtrust_wire::aps::{ApsCommand, ApsHeader, KeyType, TransportKey, UpdateDeviceStatus};
use zigtrust_wire::mac::{
    Address, AssociationStatus, Beacon, MacBody, MacCommand, MacFrame, MacHeader, SuperframeSpec,
    ZigbeeBeaconPayload,
};
use zigtrust_wire::nwk::{
    DiscoverRoute, LeaveOptions, LinkStatusEntry, NetworkReportInfo, NwkCommand, NwkFrameType,
    NwkHeader, PowerDeltaEntry, RouteReplyOptions, RouteRequestOptions, SourceRoute,
};
use zigtrust_wire::security::{secure_aps, secure_nwk, AuxHeader, KeyId};
use zigtrust_wire::zdo::DeviceAnnce;
use zigtrust_wire::{CapabilityInfo, ExtAddr, PanId, ShortAddr};

/// The simulator's SplitMix64 generator: seedable and the same on every platform.
pub use zigtrust_sim::engine::Rng;

/// A random 128-bit key from the seeded generator (test traffic only, never a real network).
fn random_key(rng: &mut Rng) -> Key {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    Key::from_bytes(b)
}

/// Corpus options.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// Generate at least this many frames (whole device stories are added until reached).
    pub min_frames: usize,
    /// The network's security level (5 in every real Zigbee PRO network).
    pub level: SecurityLevel,
}

impl Default for Options {
    fn default() -> Self {
        Options { seed: 1, min_frames: 300, level: SecurityLevel::EncMic32 }
    }
}

/// One generated frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// MAC frame without FCS.
    pub psdu: Vec<u8>,
    /// What it is, e.g. "aps-transport-key-nwk" (stable names: tests check coverage with them).
    pub kind: &'static str,
    pub time_us: u64,
}

/// A generated corpus and the secrets an observer would need to read all of it.
pub struct Corpus {
    pub frames: Vec<Frame>,
    pub pan: PanId,
    pub trust_center: ExtAddr,
    /// Network keys in use, by sequence number (the second appears after the key switch).
    pub network_keys: Vec<Key>,
    /// Install codes of the install-code devices.
    pub install_codes: Vec<(ExtAddr, InstallCode)>,
}

impl Corpus {
    /// Writes the frames as a pcap (linktype 195, FCS appended).
    pub fn write_pcap<W: Write>(&self, w: W) -> std::io::Result<W> {
        let mut p = PcapWriter::new(w)?;
        for f in &self.frames {
            let ts = Timestamp::new(
                1_700_000_000 + (f.time_us / 1_000_000) as i64,
                (f.time_us % 1_000_000) as u32 * 1000,
            );
            p.write_frame(ts, &f.psdu)?;
        }
        p.finish()
    }

    /// Writes the pcap to the file `path`.
    pub fn write_pcap_file(&self, path: &std::path::Path) -> std::io::Result<()> {
        let f = std::fs::File::create(path)?;
        self.write_pcap(std::io::BufWriter::new(f))?.flush()
    }

    /// `--key`/`--install-code` arguments of `zigtrust decode` and `audit` that make every frame
    /// readable.
    pub fn key_args(&self) -> Vec<String> {
        let mut v = Vec::new();
        for k in &self.network_keys {
            v.push("--key".into());
            v.push(k.to_hex());
        }
        for (ieee, ic) in &self.install_codes {
            v.push("--install-code".into());
            v.push(format!("{ieee}:{}", zigtrust_crypto::hex(ic.as_bytes())));
        }
        v
    }

    /// Every key (hex) an outside tool needs to read all of it: the network keys, the
    /// well-known key and the install-code link keys.
    pub fn all_keys(&self) -> Vec<String> {
        let mut v: Vec<String> = self.network_keys.iter().map(|k| k.to_hex()).collect();
        v.push(crate::WELL_KNOWN.into());
        v.extend(self.install_codes.iter().map(|(_, ic)| ic.link_key().to_hex()));
        v
    }
}

struct Dev {
    ieee: ExtAddr,
    short: ShortAddr,
    /// Preconfigured link key: well-known for legacy devices, install-code derived for Z3.0.
    preconfigured: Key,
    /// Current TC link key (after a TCLK update, a unique one).
    tclk: Key,
    router: bool,
    nwk_fc: u32,
    aps_fc: u32,
    mac_seq: u8,
    nwk_seq: u8,
    aps_ctr: u8,
}

impl Dev {
    fn new(ieee: ExtAddr, short: ShortAddr, key: Key, router: bool, rng: &mut Rng) -> Dev {
        Dev {
            ieee,
            short,
            tclk: key.clone(),
            preconfigured: key,
            router,
            nwk_fc: rng.below(100_000) as u32,
            aps_fc: rng.below(100_000) as u32,
            mac_seq: rng.below(256) as u8,
            nwk_seq: rng.below(256) as u8,
            aps_ctr: rng.below(256) as u8,
        }
    }
    fn next_mac_seq(&mut self) -> u8 {
        self.mac_seq = self.mac_seq.wrapping_add(1);
        self.mac_seq
    }
    fn next_nwk_seq(&mut self) -> u8 {
        self.nwk_seq = self.nwk_seq.wrapping_add(1);
        self.nwk_seq
    }
    fn next_aps_ctr(&mut self) -> u8 {
        self.aps_ctr = self.aps_ctr.wrapping_add(1);
        self.aps_ctr
    }
    fn next_nwk_fc(&mut self) -> u32 {
        self.nwk_fc += 1;
        self.nwk_fc
    }
    fn next_aps_fc(&mut self) -> u32 {
        self.aps_fc += 1;
        self.aps_fc
    }
}

const TC: usize = 0;
const HA: u16 = 0x0104;

struct Gen {
    rng: Rng,
    level: SecurityLevel,
    pan: PanId,
    epid: u64,
    nwk_keys: Vec<Key>,
    key_seq: u8,
    devs: Vec<Dev>,
    frames: Vec<Frame>,
    install_codes: Vec<(ExtAddr, InstallCode)>,
    t_us: u64,
}

/// Generates a corpus.
pub fn generate(opts: &Options) -> Corpus {
    let mut rng = Rng::new(opts.seed);
    let pan = PanId(0x1000 | rng.below(0xe000) as u16);
    let tc_ieee = ExtAddr(0x0012_4b00_0000_0000 | rng.below(1 << 32));
    let nwk_key = random_key(&mut rng);
    let tc =
        Dev::new(tc_ieee, ShortAddr::COORDINATOR, Key::well_known_tc_link_key(), true, &mut rng);
    let mut g = Gen {
        epid: rng.next_u64(),
        rng,
        level: opts.level,
        pan,
        nwk_keys: vec![nwk_key],
        key_seq: 0,
        devs: vec![tc],
        frames: Vec::new(),
        install_codes: Vec::new(),
        t_us: 0,
    };
    // A router joined first, so later devices can join through it.
    let router = g.join_direct(true, false);
    g.tclk_update(router);
    let mut story = 0usize;
    while g.frames.len() < opts.min_frames {
        g.device_story(router, story);
        story += 1;
    }
    Corpus {
        frames: g.frames,
        pan,
        trust_center: tc_ieee,
        network_keys: g.nwk_keys,
        install_codes: g.install_codes,
    }
}

impl Gen {
    fn push(&mut self, kind: &'static str, psdu: Vec<u8>) {
        self.t_us += 500 + self.rng.below(20_000);
        self.frames.push(Frame { psdu, kind, time_us: self.t_us });
    }

    fn nwk_key(&self) -> Key {
        self.nwk_keys[self.key_seq as usize].clone()
    }

    fn mac_frame(&mut self, hdr: MacHeader, body: MacBody<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        MacFrame { header: hdr, body }.emit(&mut out);
        out
    }

    /// A MAC data frame from `from` (short) to `to` (short) carrying `nwk`.
    fn mac_data(&mut self, from: usize, to: ShortAddr, nwk: &[u8]) -> Vec<u8> {
        let seq = self.devs[from].next_mac_seq();
        let src = Address::Short(self.devs[from].short);
        let hdr = MacHeader::data(seq, self.pan, Address::Short(to), src, !to.is_broadcast());
        self.mac_frame(hdr, MacBody::Data(nwk))
    }

    fn ack(&mut self, seq: u8) {
        let psdu = self.mac_frame(MacHeader::ack(seq), MacBody::Ack);
        self.push("mac-ack", psdu);
    }

    fn nwk_header(&mut self, from: usize, ft: NwkFrameType, dst: ShortAddr) -> NwkHeader {
        let seq = self.devs[from].next_nwk_seq();
        let mut h = NwkHeader::new(ft, dst, self.devs[from].short, 30, seq);
        if ft == NwkFrameType::Data {
            h.discover_route = DiscoverRoute::Enable;
        }
        h.src_ieee = Some(self.devs[from].ieee);
        h
    }

    /// NWK-secures `payload` from `from` with the current network key.
    fn nwk_secured(&mut self, from: usize, h: &NwkHeader, payload: &[u8]) -> Vec<u8> {
        let fc = self.devs[from].next_nwk_fc();
        let aux = AuxHeader::nwk(fc, self.devs[from].ieee, self.key_seq);
        secure_nwk(h, &aux, payload, &self.nwk_key(), self.level).expect("emit")
    }

    /// APS-secures a command from `from` with `key_id` derived from `base`.
    fn aps_secured(
        &mut self,
        from: usize,
        h: &ApsHeader,
        key_id: KeyId,
        base: &Key,
        ext: bool,
        payload: &[u8],
    ) -> Vec<u8> {
        let fc = self.devs[from].next_aps_fc();
        let ieee = self.devs[from].ieee;
        let aux = AuxHeader::aps(key_id, fc, ext.then_some(ieee));
        secure_aps(h, &aux, payload, base, self.level, Some(ieee)).expect("emit")
    }

    /// APS-secures `cmd` from `from` and sends it NWK-secured to `to` (one hop).
    #[allow(clippy::too_many_arguments)]
    fn send_aps_command(
        &mut self,
        kind: &'static str,
        from: usize,
        to: ShortAddr,
        key_id: KeyId,
        key: &Key,
        ext: bool,
        cmd: &ApsCommand,
    ) {
        let ctr = self.devs[from].next_aps_ctr();
        let aps = self.aps_secured(
            from,
            &ApsHeader::command(ctr, true),
            key_id,
            key,
            ext,
            &Self::cmd_bytes(cmd),
        );
        let h = self.nwk_header(from, NwkFrameType::Data, to);
        self.send_nwk(kind, from, to, h, &aps);
    }

    /// A router reports a (re)joining device with Update-Device; the TC answers with the
    /// network key APS-secured under `link_key` (the device's key), tunnelled to the router.
    /// Returns the tunnelled frame, which the router relays to the device.
    fn update_device_and_tunnel(
        &mut self,
        router: usize,
        device: ExtAddr,
        short: ShortAddr,
        status: UpdateDeviceStatus,
        link_key: &Key,
    ) -> Vec<u8> {
        let ud = ApsCommand::UpdateDevice { device, short_addr: short, status, tlvs: Vec::new() };
        let rk = self.devs[router].tclk.clone();
        let coordinator = ShortAddr::COORDINATOR;
        self.send_aps_command(
            "aps-update-device",
            router,
            coordinator,
            KeyId::Data,
            &rk,
            true,
            &ud,
        );
        let tc_ieee = self.devs[TC].ieee;
        let tk = ApsCommand::TransportKey(TransportKey::network(
            self.nwk_key(),
            self.key_seq,
            device,
            tc_ieee,
        ));
        let ctr = self.devs[TC].next_aps_ctr();
        let inner = self.aps_secured(
            TC,
            &ApsHeader::command(ctr, true),
            KeyId::KeyTransport,
            link_key,
            true,
            &Self::cmd_bytes(&tk),
        );
        let tunnel = ApsCommand::Tunnel { dst: device, frame: inner.clone() };
        let r_short = self.devs[router].short;
        self.send_aps_command("aps-tunnel", TC, r_short, KeyId::Data, &rk, true, &tunnel);
        inner
    }

    fn cmd_bytes(cmd: &ApsCommand) -> Vec<u8> {
        let mut v = Vec::new();
        cmd.emit(&mut v);
        v
    }

    /// Sends an NWK-secured frame (data or command) hop-by-hop: first hop from `from` to `next`.
    fn send_nwk(
        &mut self,
        kind: &'static str,
        from: usize,
        next: ShortAddr,
        h: NwkHeader,
        payload: &[u8],
    ) {
        let nwk = self.nwk_secured(from, &h, payload);
        let psdu = self.mac_data(from, next, &nwk);
        let seq = self.devs[from].mac_seq;
        self.push(kind, psdu);
        if !next.is_broadcast() && self.rng.below(100) < 40 {
            self.ack(seq);
        }
    }

    fn nwk_command(&mut self, kind: &'static str, from: usize, dst: ShortAddr, cmd: &NwkCommand) {
        let h = self.nwk_header(from, NwkFrameType::Command, dst);
        let mut p = Vec::new();
        cmd.emit(&mut p);
        let next = if dst.is_broadcast() { ShortAddr::BROADCAST } else { dst };
        self.send_nwk(kind, from, next, h, &p);
    }

    fn new_device(&mut self, router: bool, install_code: bool) -> usize {
        let ieee = ExtAddr(0x000d_6f00_0000_0000 | (self.rng.next_u64() & 0x00ff_ffff_ffff));
        let short = ShortAddr(1 + self.rng.below(0xfff0) as u16);
        let key = if install_code {
            let len = [6usize, 8, 12, 16][self.rng.below(4) as usize];
            let mut code: Vec<u8> = (0..len).map(|_| self.rng.below(256) as u8).collect();
            code.extend_from_slice(&zigtrust_crypto::crc16_x25(&code).to_le_bytes());
            let ic = InstallCode::from_bytes(&code).expect("valid code");
            let k = ic.link_key();
            self.install_codes.push((ieee, ic));
            k
        } else {
            Key::well_known_tc_link_key()
        };
        let d = Dev::new(ieee, short, key, router, &mut self.rng);
        self.devs.push(d);
        self.devs.len() - 1
    }

    /// Beacon request/beacon, association, and the network key under the preconfigured key.
    fn join_direct(&mut self, router: bool, install_code: bool) -> usize {
        let i = self.new_device(router, install_code);
        let (ieee, short) = (self.devs[i].ieee, self.devs[i].short);
        let seq = self.devs[i].next_mac_seq();
        let br = MacFrame::beacon_request(seq);
        let mut psdu = Vec::new();
        br.emit(&mut psdu);
        self.push("mac-beacon-request", psdu);
        let zb = ZigbeeBeaconPayload::coordinator(self.epid, 0);
        let mut payload = Vec::new();
        zb.emit(&mut payload);
        let seq = self.devs[TC].next_mac_seq();
        let b = MacFrame::beacon(
            seq,
            self.pan,
            ShortAddr::COORDINATOR,
            Beacon::new(SuperframeSpec::zigbee(true, true), &payload),
        );
        let mut psdu = Vec::new();
        b.emit(&mut psdu);
        self.push("mac-beacon", psdu);
        let cap = if router { CapabilityInfo::ROUTER } else { CapabilityInfo::SLEEPY_END_DEVICE };
        let seq = self.devs[i].next_mac_seq();
        let mut psdu = Vec::new();
        MacFrame::association_request(seq, self.pan, ShortAddr::COORDINATOR, ieee, cap)
            .emit(&mut psdu);
        self.push("mac-association-request", psdu);
        self.ack(seq);
        let seq = self.devs[i].next_mac_seq();
        let mut psdu = Vec::new();
        MacFrame::data_request(
            seq,
            self.pan,
            Address::Short(ShortAddr::COORDINATOR),
            Address::Extended(ieee),
        )
        .emit(&mut psdu);
        self.push("mac-data-request", psdu);
        self.ack(seq);
        let seq = self.devs[TC].next_mac_seq();
        let tc_ieee = self.devs[TC].ieee;
        let mut psdu = Vec::new();
        MacFrame::association_response(
            seq,
            self.pan,
            ieee,
            tc_ieee,
            short,
            AssociationStatus::Success,
        )
        .emit(&mut psdu);
        self.push("mac-association-response", psdu);
        self.ack(seq);
        // Transport-Key: NWK unsecured, APS key-transport key of the preconfigured link key.
        let key = self.devs[i].preconfigured.clone();
        let tk = ApsCommand::TransportKey(TransportKey::network(
            self.nwk_key(),
            self.key_seq,
            ieee,
            tc_ieee,
        ));
        let ctr = self.devs[TC].next_aps_ctr();
        let aps = self.aps_secured(
            TC,
            &ApsHeader::command(ctr, true),
            KeyId::KeyTransport,
            &key,
            true,
            &Self::cmd_bytes(&tk),
        );
        let mut h = self.nwk_header(TC, NwkFrameType::Data, short);
        h.src_ieee = None;
        h.discover_route = DiscoverRoute::Suppress;
        let mut nwk = Vec::new();
        h.emit(&mut nwk);
        nwk.extend_from_slice(&aps);
        let psdu = self.mac_data(TC, short, &nwk);
        self.push("aps-transport-key-nwk", psdu);
        self.device_annce(i);
        i
    }

    /// Join through `router`: association with the router, Update-Device to the TC, Transport-Key
    /// tunnelled back to the router, relayed to the joiner.
    fn join_via_router(&mut self, router: usize, install_code: bool) -> usize {
        let i = self.new_device(false, install_code);
        let (ieee, short) = (self.devs[i].ieee, self.devs[i].short);
        let (r_short, r_ieee) = (self.devs[router].short, self.devs[router].ieee);
        let seq = self.devs[i].next_mac_seq();
        let mut psdu = Vec::new();
        MacFrame::association_request(
            seq,
            self.pan,
            r_short,
            ieee,
            CapabilityInfo::SLEEPY_END_DEVICE,
        )
        .emit(&mut psdu);
        self.push("mac-association-request", psdu);
        let seq = self.devs[router].next_mac_seq();
        let mut psdu = Vec::new();
        MacFrame::association_response(
            seq,
            self.pan,
            ieee,
            r_ieee,
            short,
            AssociationStatus::Success,
        )
        .emit(&mut psdu);
        self.push("mac-association-response", psdu);
        // Update-Device to the TC, which tunnels the key (under the joiner's preconfigured key)
        // back to the router.
        let key = self.devs[i].preconfigured.clone();
        let inner = self.update_device_and_tunnel(
            router,
            ieee,
            short,
            UpdateDeviceStatus::UnsecuredJoin,
            &key,
        );
        // The router relays the inner frame to the joiner, NWK unsecured.
        let mut h = self.nwk_header(TC, NwkFrameType::Data, short);
        h.src_ieee = None;
        let mut nwk = Vec::new();
        h.emit(&mut nwk);
        nwk.extend_from_slice(&inner);
        let psdu = self.mac_data(router, short, &nwk);
        self.push("aps-transport-key-nwk", psdu);
        // The sleepy joiner polls its parent.
        let seq = self.devs[i].next_mac_seq();
        let mut psdu = Vec::new();
        MacFrame::data_request(seq, self.pan, Address::Short(r_short), Address::Short(short))
            .emit(&mut psdu);
        self.push("mac-data-request", psdu);
        self.device_annce(i);
        i
    }

    fn device_annce(&mut self, i: usize) {
        let cap = if self.devs[i].router {
            CapabilityInfo::ROUTER
        } else {
            CapabilityInfo::SLEEPY_END_DEVICE
        };
        let seq = self.rng.below(256) as u8;
        let da = DeviceAnnce {
            seq,
            nwk_addr: self.devs[i].short,
            ieee: self.devs[i].ieee,
            capability: cap,
        };
        let ctr = self.devs[i].next_aps_ctr();
        let mut aps = Vec::new();
        ApsHeader::data_broadcast(0, 0x0013, 0x0000, 0, ctr).emit(&mut aps);
        da.emit(&mut aps);
        let h = self.nwk_header(i, NwkFrameType::Data, ShortAddr::RX_ON_WHEN_IDLE);
        self.send_nwk("zdo-device-annce", i, ShortAddr::BROADCAST, h, &aps);
    }

    /// R21 TCLK update: Request-Key → Transport-Key (key-load key) → Verify-Key → Confirm-Key.
    fn tclk_update(&mut self, i: usize) {
        let old = self.devs[i].tclk.clone();
        let (ieee, short) = (self.devs[i].ieee, self.devs[i].short);
        let tc_ieee = self.devs[TC].ieee;
        let rk = ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, partner: None };
        self.send_aps_command(
            "aps-request-key",
            i,
            ShortAddr::COORDINATOR,
            KeyId::Data,
            &old,
            true,
            &rk,
        );
        let new = random_key(&mut self.rng);
        let tk = ApsCommand::TransportKey(TransportKey::trust_center_link_key(
            new.clone(),
            ieee,
            tc_ieee,
        ));
        self.send_aps_command("aps-transport-key-tclk", TC, short, KeyId::KeyLoad, &old, true, &tk);
        let vk = ApsCommand::VerifyKey {
            key_type: KeyType::TrustCenterLinkKey,
            src: ieee,
            hash: verify_key_hash(&new),
        };
        let ctr = self.devs[i].next_aps_ctr();
        let mut aps = Vec::new();
        ApsHeader::command(ctr, false).emit(&mut aps);
        vk.emit(&mut aps);
        let h = self.nwk_header(i, NwkFrameType::Data, ShortAddr::COORDINATOR);
        self.send_nwk("aps-verify-key", i, ShortAddr::COORDINATOR, h, &aps);
        self.devs[i].tclk = new.clone();
        let ck =
            ApsCommand::ConfirmKey { status: 0, key_type: KeyType::TrustCenterLinkKey, dst: ieee };
        self.send_aps_command("aps-confirm-key", TC, short, KeyId::Data, &new, true, &ck);
    }

    fn zcl(&mut self, from: usize, to: usize) {
        let ctr = self.devs[from].next_aps_ctr();
        let (dst, kind, hdr) = match self.rng.below(3) {
            0 => (
                self.devs[to].short,
                "aps-data-unicast",
                ApsHeader::data_unicast(1, 0x0006, HA, 1, ctr),
            ),
            1 => (
                ShortAddr::RX_ON_WHEN_IDLE,
                "aps-data-broadcast",
                ApsHeader::data_broadcast(0xff, 0x0006, HA, 1, ctr),
            ),
            _ => (
                ShortAddr::RX_ON_WHEN_IDLE,
                "aps-data-group",
                ApsHeader::data_group(0x0001 + self.rng.below(8) as u16, 0x0008, HA, 1, ctr),
            ),
        };
        let mut aps = Vec::new();
        let mut hdr = hdr;
        hdr.ack_request = kind == "aps-data-unicast";
        hdr.emit(&mut aps);
        let tsn = self.rng.below(256) as u8;
        aps.extend_from_slice(&[0x01, tsn, self.rng.below(3) as u8]); // ZCL cluster-specific: off/on/toggle
        let h = self.nwk_header(from, NwkFrameType::Data, dst);
        let next = if dst.is_broadcast() { ShortAddr::BROADCAST } else { dst };
        self.send_nwk(kind, from, next, h, &aps);
        if kind == "aps-data-unicast" {
            let ctr2 = hdr.counter;
            let mut aps = Vec::new();
            ApsHeader::ack_for(&hdr).emit(&mut aps);
            let _ = ctr2;
            let h = self.nwk_header(to, NwkFrameType::Data, self.devs[from].short);
            let back = self.devs[from].short;
            self.send_nwk("aps-ack", to, back, h, &aps);
        }
    }

    /// Every NWK command once, plus a source-routed frame.
    fn nwk_commands(&mut self, router: usize, dev: usize) {
        let (r, d) = (self.devs[router].short, self.devs[dev].short);
        let id = self.rng.below(256) as u8;
        self.nwk_command(
            "nwk-route-request",
            router,
            ShortAddr::ROUTERS,
            &NwkCommand::RouteRequest {
                options: RouteRequestOptions(0x08),
                id,
                dst: ShortAddr::COORDINATOR,
                path_cost: 0,
                dst_ieee: None,
            },
        );
        let tc_ieee = self.devs[TC].ieee;
        self.nwk_command(
            "nwk-route-reply",
            TC,
            r,
            &NwkCommand::RouteReply {
                options: RouteReplyOptions(0),
                id,
                originator: r,
                responder: ShortAddr::COORDINATOR,
                path_cost: 1,
                originator_ieee: None,
                responder_ieee: Some(tc_ieee),
            },
        );
        self.nwk_command(
            "nwk-network-status",
            router,
            ShortAddr::COORDINATOR,
            &NwkCommand::NetworkStatus { status: 0x0d, dst: d },
        );
        self.nwk_command(
            "nwk-route-record",
            router,
            ShortAddr::COORDINATOR,
            &NwkCommand::RouteRecord { relays: vec![r, d] },
        );
        let entries =
            vec![LinkStatusEntry::new(ShortAddr::COORDINATOR, 1, 1), LinkStatusEntry::new(d, 3, 5)];
        self.nwk_command(
            "nwk-link-status",
            router,
            ShortAddr::ROUTERS,
            &NwkCommand::LinkStatus {
                first_frame: true,
                last_frame: true,
                reserved: false,
                entries,
            },
        );
        let epid = self.epid;
        self.nwk_command(
            "nwk-network-report",
            router,
            ShortAddr::COORDINATOR,
            &NwkCommand::NetworkReport {
                epid,
                report: NetworkReportInfo::PanIdConflict(vec![PanId(0x1234)]),
            },
        );
        let new_pan = PanId(0x2000 | self.rng.below(0x1000) as u16);
        self.nwk_command(
            "nwk-network-update",
            TC,
            ShortAddr::BROADCAST,
            &NwkCommand::NetworkUpdate { options: 1, epid, update_id: 1, new_pan_id: new_pan },
        );
        self.nwk_command(
            "nwk-ed-timeout-request",
            dev,
            r,
            &NwkCommand::EndDeviceTimeoutRequest { timeout: 8, configuration: 0 },
        );
        self.nwk_command(
            "nwk-ed-timeout-response",
            router,
            d,
            &NwkCommand::EndDeviceTimeoutResponse { status: 0, parent_info: 1 },
        );
        self.nwk_command(
            "nwk-link-power-delta",
            router,
            ShortAddr::RX_ON_WHEN_IDLE,
            &NwkCommand::LinkPowerDelta {
                options: 0,
                entries: vec![PowerDeltaEntry { addr: d, delta: -3 }],
            },
        );
        self.nwk_command(
            "nwk-leave",
            dev,
            ShortAddr::RX_ON_WHEN_IDLE,
            &NwkCommand::Leave { options: LeaveOptions(0x20) },
        );
        // A source-routed data frame from the TC via the router.
        let mut h = self.nwk_header(TC, NwkFrameType::Data, d);
        h.source_route = Some(SourceRoute { relay_index: 0, relays: vec![r] });
        let ctr = self.devs[TC].next_aps_ctr();
        let mut aps = Vec::new();
        ApsHeader::data_unicast(1, 0x0006, HA, 1, ctr).emit(&mut aps);
        aps.extend_from_slice(&[0x01, 0x10, 0x02]);
        self.send_nwk("nwk-source-routed-data", TC, r, h, &aps);
    }

    /// Secured rejoin, then a Trust Center (unsecured) rejoin answered under the device's TCLK.
    fn rejoins(&mut self, router: usize, dev: usize) {
        let r_short = self.devs[router].short;
        let d_ieee = self.devs[dev].ieee;
        let cap = CapabilityInfo::SLEEPY_END_DEVICE;
        self.nwk_command(
            "nwk-rejoin-request",
            dev,
            r_short,
            &NwkCommand::RejoinRequest { capability: cap },
        );
        let d_short = self.devs[dev].short;
        let mut h = self.nwk_header(router, NwkFrameType::Command, d_short);
        h.dst_ieee = Some(d_ieee);
        let mut p = Vec::new();
        NwkCommand::RejoinResponse { short_addr: d_short, status: 0 }.emit(&mut p);
        self.send_nwk("nwk-rejoin-response", router, d_short, h, &p);
        // Trust Center rejoin: unsecured NWK rejoin request with the source IEEE.
        let mut h = self.nwk_header(dev, NwkFrameType::Command, r_short);
        h.radius = 1;
        let mut nwk = Vec::new();
        h.emit(&mut nwk);
        NwkCommand::RejoinRequest { capability: cap }.emit(&mut nwk);
        let psdu = self.mac_data(dev, r_short, &nwk);
        self.push("nwk-rejoin-request-unsecured", psdu);
        let mut h = self.nwk_header(router, NwkFrameType::Command, d_short);
        h.dst_ieee = Some(d_ieee);
        h.radius = 1;
        let mut nwk = Vec::new();
        h.emit(&mut nwk);
        NwkCommand::RejoinResponse { short_addr: d_short, status: 0 }.emit(&mut nwk);
        let psdu = self.mac_data(router, d_short, &nwk);
        self.push("nwk-rejoin-response-unsecured", psdu);
        // The key goes back tunnelled, under the device's current TCLK.
        let key = self.devs[dev].tclk.clone();
        let status = UpdateDeviceStatus::TrustCenterRejoin;
        self.update_device_and_tunnel(router, d_ieee, d_short, status, &key);
    }

    /// Key rotation: new key to `devs` under their TCLKs, then a broadcast Switch-Key.
    fn rotate_key(&mut self, devs: &[usize]) {
        let new = random_key(&mut self.rng);
        let seq = self.key_seq + 1;
        let tc_ieee = self.devs[TC].ieee;
        for &i in devs {
            let (ieee, short, tclk) =
                (self.devs[i].ieee, self.devs[i].short, self.devs[i].tclk.clone());
            let tk =
                ApsCommand::TransportKey(TransportKey::network(new.clone(), seq, ieee, tc_ieee));
            self.send_aps_command(
                "aps-transport-key-nwk-rotation",
                TC,
                short,
                KeyId::KeyTransport,
                &tclk,
                true,
                &tk,
            );
        }
        let ctr = self.devs[TC].next_aps_ctr();
        let mut aps = Vec::new();
        ApsHeader::command(ctr, false).emit(&mut aps);
        ApsCommand::SwitchKey { seq }.emit(&mut aps);
        let h = self.nwk_header(TC, NwkFrameType::Data, ShortAddr::RX_ON_WHEN_IDLE);
        self.send_nwk("aps-switch-key", TC, ShortAddr::BROADCAST, h, &aps);
        self.nwk_keys.push(new);
        self.key_seq = seq;
    }

    fn misc_aps(&mut self, router: usize, dev: usize) {
        let (d_ieee, r_short) = (self.devs[dev].ieee, self.devs[router].short);
        let rk = self.devs[router].tclk.clone();
        let ctr = self.devs[TC].next_aps_ctr();
        let cmd = ApsCommand::RemoveDevice { target: d_ieee };
        let aps = self.aps_secured(
            TC,
            &ApsHeader::command(ctr, true),
            KeyId::Data,
            &rk,
            true,
            &Self::cmd_bytes(&cmd),
        );
        let h = self.nwk_header(TC, NwkFrameType::Data, r_short);
        self.send_nwk("aps-remove-device", TC, r_short, h, &aps);
        // Application link key between the router and the device, requested by the router.
        let rq =
            ApsCommand::RequestKey { key_type: KeyType::ApplicationLinkKey, partner: Some(d_ieee) };
        let ctr = self.devs[router].next_aps_ctr();
        // No extended nonce here: the receiver takes the sender's IEEE from the NWK layer.
        let aps = self.aps_secured(
            router,
            &ApsHeader::command(ctr, true),
            KeyId::Data,
            &rk,
            false,
            &Self::cmd_bytes(&rq),
        );
        let h = self.nwk_header(router, NwkFrameType::Data, ShortAddr::COORDINATOR);
        self.send_nwk("aps-request-key-app", router, ShortAddr::COORDINATOR, h, &aps);
        let app = random_key(&mut self.rng);
        let tk = ApsCommand::TransportKey(TransportKey::application_link_key(app, d_ieee, true));
        self.send_aps_command("aps-transport-key-app", TC, r_short, KeyId::KeyLoad, &rk, true, &tk);
        // An APS ack of a command.
        let ctr = self.devs[router].next_aps_ctr();
        let mut aps = Vec::new();
        ApsHeader::command_ack(ctr).emit(&mut aps);
        let h = self.nwk_header(router, NwkFrameType::Data, ShortAddr::COORDINATOR);
        self.send_nwk("aps-ack", router, ShortAddr::COORDINATOR, h, &aps);
        // Other MAC commands, addressed as 802.15.4 requires: an orphan notification goes to
        // the broadcast PAN and address from the orphan's extended address; a disassociation
        // notification goes extended-to-extended within the PAN.
        let seq = self.devs[dev].next_mac_seq();
        let mut hdr = MacHeader::command(
            seq,
            PanId::BROADCAST,
            Address::Short(ShortAddr::BROADCAST),
            Address::Extended(d_ieee),
            false,
        );
        hdr.pan_id_compression = true;
        hdr.src_pan = None;
        let psdu = self.mac_frame(hdr, MacBody::Command(MacCommand::OrphanNotification));
        self.push("mac-orphan-notification", psdu);
        let seq = self.devs[dev].next_mac_seq();
        let r_ieee = self.devs[router].ieee;
        let hdr = MacHeader::command(
            seq,
            self.pan,
            Address::Extended(r_ieee),
            Address::Extended(d_ieee),
            true,
        );
        let psdu = self
            .mac_frame(hdr, MacBody::Command(MacCommand::DisassociationNotification { reason: 2 }));
        self.push("mac-disassociation-notification", psdu);
    }

    /// One device's life: join (directly or via the router, legacy or install code), TCLK update
    /// for Z3.0 devices, traffic, NWK commands, rejoins, and every few stories a key rotation.
    fn device_story(&mut self, router: usize, n: usize) {
        let install_code = n.is_multiple_of(2);
        let dev = if n % 3 == 1 {
            self.join_via_router(router, install_code)
        } else {
            self.join_direct(false, install_code)
        };
        if install_code {
            self.tclk_update(dev);
        }
        for _ in 0..3 {
            self.zcl(dev, TC);
        }
        self.nwk_commands(router, dev);
        self.rejoins(router, dev);
        self.misc_aps(router, dev);
        if n % 4 == 3 && self.nwk_keys.len() < 4 {
            // A few rotations, each to the most recent devices, so big corpora stay linear in size
            // and the keyring small.
            let all: Vec<usize> =
                (1.max(self.devs.len().saturating_sub(16))..self.devs.len()).collect();
            self.rotate_key(&all);
        }
        self.zcl(router, dev);
    }
}

/// Every frame kind the generator produces (tests assert the corpus covers them all).
pub const ALL_KINDS: &[&str] = &[
    "mac-ack",
    "mac-beacon-request",
    "mac-beacon",
    "mac-association-request",
    "mac-association-response",
    "mac-data-request",
    "mac-orphan-notification",
    "mac-disassociation-notification",
    "aps-transport-key-nwk",
    "aps-transport-key-nwk-rotation",
    "aps-transport-key-tclk",
    "aps-transport-key-app",
    "aps-update-device",
    "aps-tunnel",
    "aps-remove-device",
    "aps-request-key",
    "aps-request-key-app",
    "aps-switch-key",
    "aps-verify-key",
    "aps-confirm-key",
    "aps-ack",
    "aps-data-unicast",
    "aps-data-broadcast",
    "aps-data-group",
    "zdo-device-annce",
    "nwk-route-request",
    "nwk-route-reply",
    "nwk-network-status",
    "nwk-route-record",
    "nwk-link-status",
    "nwk-network-report",
    "nwk-network-update",
    "nwk-ed-timeout-request",
    "nwk-ed-timeout-response",
    "nwk-link-power-delta",
    "nwk-leave",
    "nwk-source-routed-data",
    "nwk-rejoin-request",
    "nwk-rejoin-response",
    "nwk-rejoin-request-unsecured",
    "nwk-rejoin-response-unsecured",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_covering() {
        let a = generate(&Options::default());
        let b = generate(&Options::default());
        assert!(a.frames.len() >= 300);
        assert!(a.frames.iter().zip(&b.frames).all(|(x, y)| x.psdu == y.psdu));
        let c = generate(&Options { seed: 2, ..Options::default() });
        assert_ne!(a.frames[10].psdu, c.frames[10].psdu);
        for kind in ALL_KINDS {
            assert!(a.frames.iter().any(|f| f.kind == *kind), "missing {kind}");
        }
        assert!(a.network_keys.len() >= 2, "a key rotation happened");
    }
}
