//! A scripted Zigbee device built from `zigtrust-wire`: it sends what a test tells it to
//! (association, data, Request-Key, Verify-Key, secured and Trust Center rejoins, Update-Device
//! and relaying as a router) and knows only what it has been told over the air (its short
//! address, network keys, its TC link key, rejoin answers). The Trust Center's conversation
//! tests run it against the core; the crash test runs it against the daemon over ZEP.

use std::collections::BTreeMap;
use zigtrust_crypto::{verify_key_hash, CcmStar, Key};
use zigtrust_wire::aps::{ApsCommand, ApsFrameType, ApsHeader, KeyType, TransportKeyBody};
use zigtrust_wire::mac::{Address, MacBody, MacCommand, MacFrame, MacHeader};
use zigtrust_wire::nwk::{NwkCommand, NwkFrameType, NwkHeader};
use zigtrust_wire::security::{
    aps_command_frame, open, secure_nwk, unsecure_aps_any, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL,
};
use zigtrust_wire::{CapabilityInfo, ExtAddr, PanId, ShortAddr};

/// The PAN a new device talks on until told otherwise (the Trust Center tests' network).
pub const PAN: PanId = PanId(0x1a62);

/// A device that knows only what it has been told over the air.
pub struct Device {
    /// The PAN it talks on ([`PAN`] unless set).
    pub pan: PanId,
    pub ieee: ExtAddr,
    pub short: ShortAddr,
    pub capability: CapabilityInfo,
    /// Preconfigured / current TC link key (None: the well-known key).
    pub tclk: Option<Key>,
    /// A TC link key transported to it, used once the Trust Center confirms it.
    pub pending_tclk: Option<Key>,
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
            pan: PAN,
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

    /// The TC link key it uses now (the well-known key when it has no other).
    pub fn link(&self) -> Key {
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
        a.pan = victim.pan;
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
        MacFrame::association_request(
            s,
            self.pan,
            ShortAddr::COORDINATOR,
            self.ieee,
            self.capability,
        )
        .emit(&mut v);
        v
    }

    /// A MAC data request to the coordinator, from the device's IEEE address (before it knows
    /// its short address: fetches the association response) or from its short address.
    pub fn data_request(&mut self, from_ieee: bool) -> Vec<u8> {
        let src = if from_ieee { Address::Extended(self.ieee) } else { Address::Short(self.short) };
        let mut v = Vec::new();
        let s = self.next();
        MacFrame::data_request(s, self.pan, Address::Short(ShortAddr::COORDINATOR), src)
            .emit(&mut v);
        v
    }

    fn mac(&mut self, nwk: &[u8]) -> Vec<u8> {
        let s = self.next();
        let hdr = MacHeader::data(
            s,
            self.pan,
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
