//! Full-stack dissection of captured 802.15.4 frames: MAC → NWK → (decrypt) → APS → (decrypt)
//! → APS command / ZDO, with a keyring that learns.
//!
//! The [`Keyring`] always holds the well-known TC link key, plus keys the user gives (tried both
//! as network keys and as link keys, since a bare key says nothing about its role), link keys
//! derived from install codes, and every key a decrypted Transport-Key reveals; a transported
//! network key is used for the frames that follow it. The [`Dissector`] also learns short → IEEE
//! mappings (MAC extended addresses, NWK extended sources, aux headers, Device_annce, rejoin and
//! association) because APS security without the extended-nonce bit needs the sender's IEEE.

use crate::aps::{ApsCommand, ApsFrameType, ApsHeader, KeyType, TransportKeyBody};
use crate::mac::{Address, MacBody, MacCommand, MacFrame, MacHeader};
use crate::nwk::{NwkCommand, NwkFrameType, NwkHeader};
use crate::security::{open, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL};
use crate::zdo::ZdoMessage;
use crate::{Error, ExtAddr, PanId, ShortAddr};
use std::collections::{HashMap, HashSet};
use zigtrust_crypto::{key_load_key, key_transport_key, CcmStar, Key, SecurityLevel};

/// Where a key in the keyring came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// ZigBeeAlliance09, always tried.
    WellKnown,
    /// Given by the user (e.g. `--key`).
    Given,
    /// Derived from an install code for this device.
    InstallCode {
        /// The device whose install code it is.
        ieee: ExtAddr,
    },
    /// Learned from a Transport-Key in frame `frame` of the capture.
    Transported {
        /// Frame number in the capture.
        frame: u64,
    },
}

impl KeySource {
    /// Short name for output (`well-known`, `given`, `install-code`, `transported`).
    pub fn name(self) -> &'static str {
        match self {
            KeySource::WellKnown => "well-known",
            KeySource::Given => "given",
            KeySource::InstallCode { .. } => "install-code",
            KeySource::Transported { .. } => "transported",
        }
    }
}

/// A network key with its prepared cipher.
struct NetworkKeyEntry {
    key: Key,
    source: KeySource,
    /// Keys learned from a Transport-Key belong to the PAN they were seen in (as in Wireshark,
    /// whose learned-key ring is per PAN); given keys apply everywhere.
    pan: Option<PanId>,
    cipher: CcmStar,
}

/// A link key with ciphers for the three APS key ids that use it.
struct LinkKeyEntry {
    key: Key,
    source: KeySource,
    pan: Option<PanId>,
    data: CcmStar,
    transport: CcmStar,
    load: CcmStar,
}

impl LinkKeyEntry {
    fn cipher(&self, id: KeyId) -> &CcmStar {
        match id {
            KeyId::Data | KeyId::Network => &self.data,
            KeyId::KeyTransport => &self.transport,
            KeyId::KeyLoad => &self.load,
        }
    }
}

/// At most this many keys are learned from a capture; a hostile capture full of Transport-Key
/// commands cannot make the keyring (memory, and time per frame) grow without bound.
pub const MAX_LEARNED_KEYS: usize = 10_000;

/// When the indexed candidates fail, at most this many other learned keys are tried per layer.
const FALLBACK_TRIES: usize = 8;

/// The keys a dissector tries.
///
/// Keys the user gives (and the well-known key, and install-code keys) are always tried. Keys
/// learned from Transport-Key commands are indexed: network keys by (PAN, key sequence number),
/// link keys by the pair of devices that share them (Trust Center link keys also by their
/// device alone, since the TC's short address is what frames carry), so a capture with
/// thousands of devices still costs a few trials per frame.
pub struct Keyring {
    network: Vec<NetworkKeyEntry>,
    link: Vec<LinkKeyEntry>,
    /// Indices of keys valid everywhere (given, well-known, install-code).
    network_global: Vec<usize>,
    link_global: Vec<usize>,
    network_by_seq: HashMap<(Option<PanId>, u8), Vec<usize>>,
    link_by_pair: HashMap<(ExtAddr, ExtAddr), Vec<usize>>,
    tclk_by_device: HashMap<ExtAddr, Vec<usize>>,
    known: HashSet<(bool, [u8; 16], Option<PanId>)>,
    learned: usize,
    /// The network key that worked last (tried first: captures use one key for long runs).
    network_mru: Option<usize>,
}

impl Default for Keyring {
    fn default() -> Self {
        Keyring::new()
    }
}

impl Keyring {
    /// A keyring holding just the well-known TC link key.
    pub fn new() -> Keyring {
        let mut k = Keyring {
            network: Vec::new(),
            link: Vec::new(),
            network_global: Vec::new(),
            link_global: Vec::new(),
            network_by_seq: HashMap::new(),
            link_by_pair: HashMap::new(),
            tclk_by_device: HashMap::new(),
            known: HashSet::new(),
            learned: 0,
            network_mru: None,
        };
        k.add_link_key(Key::well_known_tc_link_key(), KeySource::WellKnown);
        k
    }

    /// Adds a key whose role is unknown: tried as a network key and as a link key.
    pub fn add_key(&mut self, key: Key, source: KeySource) {
        self.add_network_key(key.clone(), source);
        self.add_link_key(key, source);
    }

    /// False if the key is known already, or too many keys were learned.
    fn admit(&mut self, network: bool, key: &Key, pan: Option<PanId>, learned: bool) -> bool {
        if learned && self.learned >= MAX_LEARNED_KEYS {
            return false;
        }
        let global = self.known.contains(&(network, *key.as_bytes(), None));
        if global || !self.known.insert((network, *key.as_bytes(), pan)) {
            return false;
        }
        self.learned += usize::from(learned);
        true
    }

    /// Adds a network key valid in every PAN; returns false if it was already known.
    pub fn add_network_key(&mut self, key: Key, source: KeySource) -> bool {
        if !self.admit(true, &key, None, false) {
            return false;
        }
        self.network_global.push(self.network.len());
        let cipher = CcmStar::new(&key);
        self.network.push(NetworkKeyEntry { key, source, pan: None, cipher });
        true
    }

    /// Adds a network key learned in `pan` with sequence number `seq`.
    pub fn learn_network_key(
        &mut self,
        key: Key,
        source: KeySource,
        pan: Option<PanId>,
        seq: u8,
    ) -> bool {
        if !self.admit(true, &key, pan, true) {
            return false;
        }
        self.network_by_seq.entry((pan, seq)).or_default().push(self.network.len());
        let cipher = CcmStar::new(&key);
        self.network.push(NetworkKeyEntry { key, source, pan, cipher });
        true
    }

    fn push_link(&mut self, key: Key, source: KeySource, pan: Option<PanId>) -> usize {
        let data = CcmStar::new(&key);
        let transport = CcmStar::new(&key_transport_key(&key));
        let load = CcmStar::new(&key_load_key(&key));
        self.link.push(LinkKeyEntry { key, source, pan, data, transport, load });
        self.link.len() - 1
    }

    /// Adds a link key (TC or application link key) valid in every PAN and for every device.
    pub fn add_link_key(&mut self, key: Key, source: KeySource) -> bool {
        if !self.admit(false, &key, None, false) {
            return false;
        }
        let i = self.push_link(key, source, None);
        self.link_global.push(i);
        true
    }

    /// Adds a link key learned in `pan`, shared by the devices `a` and `b`. A Trust Center link
    /// key (`tc_link_key`) is also indexed by `a`, the device that holds it.
    pub fn learn_link_key(
        &mut self,
        key: Key,
        source: KeySource,
        pan: Option<PanId>,
        a: ExtAddr,
        b: Option<ExtAddr>,
        tc_link_key: bool,
    ) -> bool {
        if !self.admit(false, &key, pan, true) {
            return false;
        }
        let i = self.push_link(key, source, pan);
        if let Some(b) = b {
            self.link_by_pair.entry(pair(a, b)).or_default().push(i);
        }
        if tc_link_key {
            self.tclk_by_device.entry(a).or_default().push(i);
        }
        true
    }

    /// Every network key in the keyring, given and learned, with where it came from.
    pub fn network_keys(&self) -> impl Iterator<Item = (&Key, KeySource)> {
        self.network.iter().map(|e| (&e.key, e.source))
    }

    /// Every link key in the keyring, given and learned, with where it came from.
    pub fn link_keys(&self) -> impl Iterator<Item = (&Key, KeySource)> {
        self.link.iter().map(|e| (&e.key, e.source))
    }

    /// Network key candidates for a frame: last good key, keys learned with this sequence
    /// number, given keys, then a bounded number of other learned keys.
    fn network_candidates(&self, pan: Option<PanId>, seq: Option<u8>) -> Vec<usize> {
        let mut v: Vec<usize> = Vec::with_capacity(8);
        v.extend(self.network_mru);
        if let Some(seq) = seq {
            if let Some(ix) = self.network_by_seq.get(&(pan, seq)) {
                v.extend(ix.iter().rev());
            }
        }
        v.extend(&self.network_global);
        let learned = (0..self.network.len()).rev().filter(|i| !self.network_global.contains(i));
        v.extend(learned.take(FALLBACK_TRIES));
        dedup_in_order(v)
    }

    /// Link key candidates: global keys, keys shared by the two ends, TC link keys of either
    /// end, then a bounded number of other learned keys.
    fn link_candidates(&self, ends: [Option<ExtAddr>; 2]) -> Vec<usize> {
        let mut v: Vec<usize> = self.link_global.clone();
        if let [Some(a), Some(b)] = ends {
            if let Some(ix) = self.link_by_pair.get(&pair(a, b)) {
                v.extend(ix.iter().rev());
            }
        }
        for e in ends.into_iter().flatten() {
            if let Some(ix) = self.tclk_by_device.get(&e) {
                v.extend(ix.iter().rev());
            }
        }
        let learned = (0..self.link.len()).rev().filter(|i| !self.link_global.contains(i));
        v.extend(learned.take(FALLBACK_TRIES));
        dedup_in_order(v)
    }
}

fn pair(a: ExtAddr, b: ExtAddr) -> (ExtAddr, ExtAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn dedup_in_order(v: Vec<usize>) -> Vec<usize> {
    let mut out = Vec::with_capacity(v.len());
    for i in v {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// How a secured layer turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decryption {
    /// MIC verified with this base key (network key, or unhashed link key).
    Ok {
        /// The key that verified the MIC.
        key: Key,
        /// Where that key came from.
        source: KeySource,
    },
    /// No key in the keyring verified the MIC (wrong/unknown key, or tampering).
    Failed,
}

/// A secured layer's aux header and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityInfo {
    /// The auxiliary security header as received.
    pub aux: AuxHeader,
    /// Whether a key verified the MIC, and which.
    pub result: Decryption,
}

impl SecurityInfo {
    /// Whether the layer was decrypted and its MIC verified.
    pub fn decrypted(&self) -> bool {
        matches!(self.result, Decryption::Ok { .. })
    }
}

/// A decoded APS layer (also used for the inner frame of a Tunnel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApsLayer {
    /// The APS header.
    pub header: ApsHeader,
    /// APS security, if the frame is APS-secured.
    pub security: Option<SecurityInfo>,
    /// The APS command, for command frames that were readable.
    pub command: Option<ApsCommand>,
    /// The ZDO message, for ZDO data frames (profile 0, endpoint 0) that parsed.
    pub zdo: Option<ZdoMessage>,
    /// Decrypted payload of data frames (ZCL/ZDO bytes), when readable.
    pub payload: Option<Vec<u8>>,
}

/// Everything decoded from one frame. Layers are `None` when absent or not decodable; `error`
/// says why decoding stopped early.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dissection {
    /// The MAC header.
    pub mac: Option<MacHeader>,
    /// The MAC command, for MAC command frames.
    pub mac_command: Option<MacCommand>,
    /// Beacon summary, for beacon frames.
    pub beacon: Option<BeaconInfo>,
    /// The NWK header, for data frames carrying one.
    pub nwk: Option<NwkHeader>,
    /// NWK security, if the NWK frame is secured.
    pub nwk_security: Option<SecurityInfo>,
    /// The NWK command, for NWK command frames that were readable.
    pub nwk_command: Option<NwkCommand>,
    /// The APS layer, for NWK data frames that were readable.
    pub aps: Option<ApsLayer>,
    /// For APS Tunnel commands: the tunnelled frame, decoded.
    pub tunnel: Option<Box<ApsLayer>>,
    /// Why decoding stopped early, if it did.
    pub error: Option<Error>,
    /// Keys this frame revealed (Transport-Key), already added to the keyring.
    pub learned_keys: Vec<(KeyType, Key)>,
}

/// The parts of a beacon worth showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconInfo {
    /// Association Permit of the superframe specification (the network is open for joining).
    pub association_permit: bool,
    /// PAN Coordinator bit of the superframe specification.
    pub pan_coordinator: bool,
    /// Zigbee beacon payload, if present and well-formed.
    pub extended_pan_id: Option<u64>,
    /// Stack profile (2 = Zigbee PRO).
    pub stack_profile: Option<u8>,
    /// Router Capacity.
    pub router_capacity: Option<bool>,
    /// End Device Capacity.
    pub end_device_capacity: Option<bool>,
}

/// Decodes frames in capture order, learning keys and addresses as it goes.
pub struct Dissector {
    /// The keys tried; grows as Transport-Key commands are decrypted.
    pub keyring: Keyring,
    /// The network security level (5 in every Zigbee PRO network).
    pub level: SecurityLevel,
    addr_map: HashMap<(PanId, ShortAddr), ExtAddr>,
}

impl Dissector {
    /// A dissector with `keyring`, at the Zigbee PRO security level.
    pub fn new(keyring: Keyring) -> Dissector {
        Dissector { keyring, level: ZIGBEE_PRO_LEVEL, addr_map: HashMap::new() }
    }

    fn learn_addr(&mut self, pan: Option<PanId>, short: ShortAddr, ieee: ExtAddr) {
        if short.is_broadcast() || ieee == ExtAddr::ZERO || ieee == ExtAddr::BROADCAST {
            return;
        }
        // Bound the map so hostile captures cannot grow memory without limit.
        if self.addr_map.len() >= 1 << 20 {
            self.addr_map.clear();
        }
        self.addr_map.insert((pan.unwrap_or_default(), short), ieee);
    }

    fn lookup(&self, pan: Option<PanId>, short: ShortAddr) -> Option<ExtAddr> {
        self.addr_map.get(&(pan.unwrap_or_default(), short)).copied()
    }

    /// Dissects one MAC frame (without FCS). `frame_number` is recorded for keys it reveals.
    pub fn dissect(&mut self, frame_number: u64, psdu: &[u8]) -> Dissection {
        let mut d = Dissection::default();
        if let Err(e) = self.dissect_into(frame_number, psdu, &mut d) {
            d.error = Some(e);
        }
        d
    }

    fn dissect_into(
        &mut self,
        frame_number: u64,
        psdu: &[u8],
        d: &mut Dissection,
    ) -> Result<(), Error> {
        let mac = MacFrame::parse(psdu)?;
        d.mac = Some(mac.header);
        let pan = mac.header.dst_pan.or(mac.header.src_pan);
        let mac_src_ext = match mac.header.src_addr {
            Address::Extended(e) => Some(e),
            _ => None,
        };
        let nwk_bytes = match mac.body {
            MacBody::Data(p) => p,
            MacBody::Command(c) => {
                if let (
                    MacCommand::AssociationResponse { short_addr, .. },
                    Address::Extended(dst),
                ) = (&c, mac.header.dst_addr)
                {
                    self.learn_addr(pan, *short_addr, dst);
                }
                d.mac_command = Some(c);
                return Ok(());
            }
            MacBody::Beacon(b) => {
                d.beacon = Some(beacon_info(&b));
                return Ok(());
            }
            MacBody::Ack | MacBody::Other(_) => return Ok(()),
        };
        if nwk_bytes.is_empty() {
            return Ok(());
        }
        let (nwk, nwk_len) = NwkHeader::parse(nwk_bytes)?;
        d.nwk = Some(nwk.clone());
        if let Some(ieee) = nwk.src_ieee {
            self.learn_addr(pan, nwk.src, ieee);
        }
        if let (Address::Short(s), Some(e)) = (mac.header.src_addr, mac_src_ext) {
            self.learn_addr(pan, s, e);
        }
        if let Some(ieee) = nwk.dst_ieee {
            self.learn_addr(pan, nwk.dst, ieee);
        }

        let plain;
        let payload: &[u8] = if nwk.security {
            let (aux, _) = AuxHeader::parse(&nwk_bytes[nwk_len..])?;
            if let Some(src) = aux.source {
                self.learn_addr(pan, nwk.src, src);
            }
            let fallback = nwk.src_ieee.or(mac_src_ext).or_else(|| self.lookup(pan, nwk.src));
            match self.open_nwk(pan, aux.key_seq, nwk_bytes, nwk_len, fallback) {
                Some((p, result)) => {
                    d.nwk_security = Some(SecurityInfo { aux, result });
                    plain = p;
                    &plain
                }
                None => {
                    d.nwk_security = Some(SecurityInfo { aux, result: Decryption::Failed });
                    return Ok(());
                }
            }
        } else {
            &nwk_bytes[nwk_len..]
        };

        match nwk.frame_type {
            NwkFrameType::Command => {
                let cmd = NwkCommand::parse(payload)?;
                if let NwkCommand::RejoinResponse { short_addr, .. } = &cmd {
                    if let Some(ieee) = nwk.dst_ieee {
                        self.learn_addr(pan, *short_addr, ieee);
                    }
                }
                d.nwk_command = Some(cmd);
                Ok(())
            }
            NwkFrameType::Data => {
                let nwk_src_ieee = nwk
                    .src_ieee
                    .or_else(|| d.nwk_security.as_ref().and_then(|s| s.aux.source))
                    .or_else(|| self.lookup(pan, nwk.src));
                let nwk_dst_ieee = nwk.dst_ieee.or_else(|| self.lookup(pan, nwk.dst));
                let aps =
                    self.dissect_aps(frame_number, payload, nwk_src_ieee, nwk_dst_ieee, pan, d)?;
                d.aps = Some(aps);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Tries the network key candidates for this frame.
    fn open_nwk(
        &mut self,
        pan: Option<PanId>,
        key_seq: Option<u8>,
        bytes: &[u8],
        header_len: usize,
        fallback: Option<ExtAddr>,
    ) -> Option<(Vec<u8>, Decryption)> {
        for i in self.keyring.network_candidates(pan, key_seq) {
            let e = &self.keyring.network[i];
            if e.pan.is_some() && e.pan != pan {
                continue;
            }
            if let Ok(o) = open(&e.cipher, self.level, bytes, header_len, fallback) {
                let result = Decryption::Ok { key: e.key.clone(), source: e.source };
                self.keyring.network_mru = Some(i);
                return Some((o.plaintext, result));
            }
        }
        None
    }

    /// Tries the link key candidates for an APS layer between `ends`.
    fn open_aps(
        &mut self,
        pan: Option<PanId>,
        aux: &AuxHeader,
        bytes: &[u8],
        header_len: usize,
        fallback: Option<ExtAddr>,
        ends: [Option<ExtAddr>; 2],
    ) -> Option<(Vec<u8>, Decryption)> {
        if aux.key_id == KeyId::Network {
            return self.open_nwk(pan, aux.key_seq, bytes, header_len, fallback);
        }
        for i in self.keyring.link_candidates(ends) {
            let e = &self.keyring.link[i];
            if e.pan.is_some() && e.pan != pan {
                continue;
            }
            if let Ok(o) = open(e.cipher(aux.key_id), self.level, bytes, header_len, fallback) {
                return Some((
                    o.plaintext,
                    Decryption::Ok { key: e.key.clone(), source: e.source },
                ));
            }
        }
        None
    }

    fn dissect_aps(
        &mut self,
        frame_number: u64,
        aps_bytes: &[u8],
        nwk_src_ieee: Option<ExtAddr>,
        nwk_dst_ieee: Option<ExtAddr>,
        pan: Option<PanId>,
        d: &mut Dissection,
    ) -> Result<ApsLayer, Error> {
        let (header, hlen) = ApsHeader::parse(aps_bytes)?;
        let mut layer =
            ApsLayer { header, security: None, command: None, zdo: None, payload: None };
        let plain;
        let payload: &[u8] = if header.security {
            let (aux, _) = match AuxHeader::parse(&aps_bytes[hlen..]) {
                Ok(a) => a,
                Err(e) => {
                    d.aps = Some(layer);
                    return Err(e);
                }
            };
            let ends = [aux.source.or(nwk_src_ieee), nwk_dst_ieee];
            match self.open_aps(pan, &aux, aps_bytes, hlen, nwk_src_ieee, ends) {
                Some((p, result)) => {
                    layer.security = Some(SecurityInfo { aux, result });
                    plain = p;
                    &plain
                }
                None => {
                    layer.security = Some(SecurityInfo { aux, result: Decryption::Failed });
                    return Ok(layer);
                }
            }
        } else {
            &aps_bytes[hlen..]
        };
        match header.frame_type {
            ApsFrameType::Command => {
                let cmd = match ApsCommand::parse(payload) {
                    Ok(c) => c,
                    Err(e) => {
                        d.aps = Some(layer);
                        return Err(e);
                    }
                };
                self.learn_from_command(frame_number, pan, nwk_dst_ieee, &cmd, d);
                if let ApsCommand::Tunnel { frame, .. } = &cmd {
                    // The tunnelled frame carries its own aux header (extended nonce = the TC).
                    let mut inner = Dissection::default();
                    let dst = match &cmd {
                        ApsCommand::Tunnel { dst, .. } => Some(*dst),
                        _ => None,
                    };
                    match self.dissect_aps(frame_number, frame, None, dst, pan, &mut inner) {
                        Ok(t) => d.tunnel = Some(Box::new(t)),
                        Err(e) => {
                            d.tunnel = inner.aps.map(Box::new);
                            d.error = Some(e);
                        }
                    }
                    d.learned_keys.extend(inner.learned_keys);
                }
                layer.command = Some(cmd);
            }
            ApsFrameType::Data => {
                if header.profile == Some(0) && header.dst_endpoint.unwrap_or(0) == 0 {
                    if let Some(cluster) = header.cluster {
                        if let Ok(z) = ZdoMessage::parse(cluster, payload) {
                            if let ZdoMessage::DeviceAnnce(a) = &z {
                                self.learn_addr(pan, a.nwk_addr, a.ieee);
                            }
                            layer.zdo = Some(z);
                        }
                    }
                }
                layer.payload = Some(payload.to_vec());
            }
            _ => {}
        }
        Ok(layer)
    }

    /// Adds keys a Transport-Key reveals to the keyring, scoped to the PAN it was seen in and
    /// indexed by the devices that will use them. `receiver` is the frame's NWK destination.
    fn learn_from_command(
        &mut self,
        frame_number: u64,
        pan: Option<PanId>,
        receiver: Option<ExtAddr>,
        cmd: &ApsCommand,
        d: &mut Dissection,
    ) {
        let ApsCommand::TransportKey(tk) = cmd else {
            return;
        };
        let source = KeySource::Transported { frame: frame_number };
        let key = tk.key.clone();
        match &tk.body {
            TransportKeyBody::Network { seq, .. } => {
                self.keyring.learn_network_key(key, source, pan, *seq);
            }
            TransportKeyBody::TrustCenter { dst, src } => {
                self.keyring.learn_link_key(key, source, pan, *dst, Some(*src), true);
            }
            TransportKeyBody::Application { partner, .. } => {
                self.keyring.learn_link_key(key, source, pan, *partner, receiver, false);
            }
            TransportKeyBody::Unknown { .. } => {}
        }
        d.learned_keys.push((tk.key_type, tk.key.clone()));
    }
}

fn beacon_info(b: &crate::mac::Beacon<'_>) -> BeaconInfo {
    let zb = crate::mac::ZigbeeBeaconPayload::parse(b.payload).ok();
    BeaconInfo {
        association_permit: b.superframe.association_permit(),
        pan_coordinator: b.superframe.pan_coordinator(),
        extended_pan_id: zb.as_ref().map(|z| z.extended_pan_id),
        stack_profile: zb.as_ref().map(|z| z.stack_profile),
        router_capacity: zb.as_ref().map(|z| z.router_capacity),
        end_device_capacity: zb.as_ref().map(|z| z.end_device_capacity),
    }
}
