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
use std::collections::HashMap;
use zigtrust_crypto::{key_load_key, key_transport_key, CcmStar, Key, SecurityLevel};

/// Where a key in the keyring came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// ZigBeeAlliance09, always tried.
    WellKnown,
    /// Given by the user (e.g. `--key`).
    Given,
    /// Derived from an install code for this device.
    InstallCode { ieee: ExtAddr },
    /// Learned from a Transport-Key in frame `frame` of the capture.
    Transported { frame: u64 },
}

impl KeySource {
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

/// The keys a dissector tries, in the order they were added (most recently successful first).
pub struct Keyring {
    network: Vec<NetworkKeyEntry>,
    link: Vec<LinkKeyEntry>,
}

impl Default for Keyring {
    fn default() -> Self {
        Keyring::new()
    }
}

impl Keyring {
    /// A keyring holding just the well-known TC link key.
    pub fn new() -> Keyring {
        let mut k = Keyring { network: Vec::new(), link: Vec::new() };
        k.add_link_key(Key::well_known_tc_link_key(), KeySource::WellKnown);
        k
    }

    /// Adds a key whose role is unknown: tried as a network key and as a link key.
    pub fn add_key(&mut self, key: Key, source: KeySource) {
        self.add_network_key(key.clone(), source);
        self.add_link_key(key, source);
    }

    /// Adds a network key valid in every PAN; returns false if it was already known.
    pub fn add_network_key(&mut self, key: Key, source: KeySource) -> bool {
        self.add_network_key_in(key, source, None)
    }

    /// Adds a network key for one PAN (`None`: every PAN); false if already known there.
    pub fn add_network_key_in(&mut self, key: Key, source: KeySource, pan: Option<PanId>) -> bool {
        if self.network.iter().any(|e| e.key == key && (e.pan.is_none() || e.pan == pan)) {
            return false;
        }
        let cipher = CcmStar::new(&key);
        self.network.push(NetworkKeyEntry { key, source, pan, cipher });
        true
    }

    /// Adds a link key (TC or application link key) valid in every PAN.
    pub fn add_link_key(&mut self, key: Key, source: KeySource) -> bool {
        self.add_link_key_in(key, source, None)
    }

    /// Adds a link key for one PAN (`None`: every PAN); false if already known there.
    pub fn add_link_key_in(&mut self, key: Key, source: KeySource, pan: Option<PanId>) -> bool {
        if self.link.iter().any(|e| e.key == key && (e.pan.is_none() || e.pan == pan)) {
            return false;
        }
        let data = CcmStar::new(&key);
        let transport = CcmStar::new(&key_transport_key(&key));
        let load = CcmStar::new(&key_load_key(&key));
        self.link.push(LinkKeyEntry { key, source, pan, data, transport, load });
        true
    }

    pub fn network_keys(&self) -> impl Iterator<Item = (&Key, KeySource)> {
        self.network.iter().map(|e| (&e.key, e.source))
    }

    pub fn link_keys(&self) -> impl Iterator<Item = (&Key, KeySource)> {
        self.link.iter().map(|e| (&e.key, e.source))
    }
}

/// How a secured layer turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decryption {
    /// MIC verified with this base key (network key, or unhashed link key).
    Ok { key: Key, source: KeySource },
    /// No key in the keyring verified the MIC (wrong/unknown key, or tampering).
    Failed,
}

/// A secured layer's aux header and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityInfo {
    pub aux: AuxHeader,
    pub result: Decryption,
}

impl SecurityInfo {
    pub fn decrypted(&self) -> bool {
        matches!(self.result, Decryption::Ok { .. })
    }
}

/// A decoded APS layer (also used for the inner frame of a Tunnel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApsLayer {
    pub header: ApsHeader,
    pub security: Option<SecurityInfo>,
    pub command: Option<ApsCommand>,
    pub zdo: Option<ZdoMessage>,
    /// Decrypted payload of data frames (ZCL/ZDO bytes), when readable.
    pub payload: Option<Vec<u8>>,
}

/// Everything decoded from one frame. Layers are `None` when absent or not decodable; `error`
/// says why decoding stopped early.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dissection {
    pub mac: Option<MacHeader>,
    pub mac_command: Option<MacCommand>,
    pub beacon: Option<BeaconInfo>,
    pub nwk: Option<NwkHeader>,
    pub nwk_security: Option<SecurityInfo>,
    pub nwk_command: Option<NwkCommand>,
    pub aps: Option<ApsLayer>,
    /// For APS Tunnel commands: the tunnelled frame, decoded.
    pub tunnel: Option<Box<ApsLayer>>,
    pub error: Option<Error>,
    /// Keys this frame revealed (Transport-Key), already added to the keyring.
    pub learned_keys: Vec<(KeyType, Key)>,
}

/// The parts of a beacon worth showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconInfo {
    pub association_permit: bool,
    pub pan_coordinator: bool,
    /// Zigbee beacon payload, if present and well-formed.
    pub extended_pan_id: Option<u64>,
    pub stack_profile: Option<u8>,
    pub router_capacity: Option<bool>,
    pub end_device_capacity: Option<bool>,
}

/// Decodes frames in capture order, learning keys and addresses as it goes.
pub struct Dissector {
    pub keyring: Keyring,
    /// The network security level (5 in every Zigbee PRO network).
    pub level: SecurityLevel,
    addr_map: HashMap<(PanId, ShortAddr), ExtAddr>,
}

impl Dissector {
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
        d.mac = Some(mac.header.clone());
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
            match self.open_nwk(pan, nwk_bytes, nwk_len, fallback) {
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
                let aps = self.dissect_aps(frame_number, payload, nwk_src_ieee, pan, d)?;
                d.aps = Some(aps);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Tries every network key (the last one that worked is first in the list).
    fn open_nwk(
        &mut self,
        pan: Option<PanId>,
        nwk_bytes: &[u8],
        nwk_len: usize,
        fallback: Option<ExtAddr>,
    ) -> Option<(Vec<u8>, Decryption)> {
        for i in 0..self.keyring.network.len() {
            let e = &self.keyring.network[i];
            if e.pan.is_some() && e.pan != pan {
                continue;
            }
            if let Ok(o) = open(&e.cipher, self.level, nwk_bytes, nwk_len, fallback) {
                let result = Decryption::Ok { key: e.key.clone(), source: e.source };
                if i != 0 {
                    // Keep the working key first: captures use one network key for long runs.
                    self.keyring.network.swap(0, i);
                }
                return Some((o.plaintext, result));
            }
        }
        None
    }

    fn open_aps(
        &mut self,
        pan: Option<PanId>,
        aps_bytes: &[u8],
        header_len: usize,
        key_id: KeyId,
        fallback: Option<ExtAddr>,
    ) -> Option<(Vec<u8>, Decryption)> {
        if key_id == KeyId::Network {
            return self.open_nwk(pan, aps_bytes, header_len, fallback);
        }
        for i in 0..self.keyring.link.len() {
            let e = &self.keyring.link[i];
            if e.pan.is_some() && e.pan != pan {
                continue;
            }
            if let Ok(o) = open(e.cipher(key_id), self.level, aps_bytes, header_len, fallback) {
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
            match self.open_aps(pan, aps_bytes, hlen, aux.key_id, nwk_src_ieee) {
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
                self.learn_from_command(frame_number, pan, &cmd, d);
                if let ApsCommand::Tunnel { frame, .. } = &cmd {
                    // The tunnelled frame carries its own aux header (extended nonce = the TC).
                    let mut inner = Dissection::default();
                    match self.dissect_aps(frame_number, frame, None, pan, &mut inner) {
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

    /// Adds keys a Transport-Key reveals to the keyring, scoped to the PAN it was seen in.
    fn learn_from_command(
        &mut self,
        frame_number: u64,
        pan: Option<PanId>,
        cmd: &ApsCommand,
        d: &mut Dissection,
    ) {
        let ApsCommand::TransportKey(tk) = cmd else {
            return;
        };
        let source = KeySource::Transported { frame: frame_number };
        match &tk.body {
            TransportKeyBody::Network { .. } => {
                self.keyring.add_network_key_in(tk.key.clone(), source, pan);
            }
            TransportKeyBody::TrustCenter { .. } | TransportKeyBody::Application { .. } => {
                self.keyring.add_link_key_in(tk.key.clone(), source, pan);
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
