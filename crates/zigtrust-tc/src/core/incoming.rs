use super::*;

impl TrustCenter {
    /// Handles one received MAC frame (without FCS). Malformed frames are ignored: the core
    /// never panics on input.
    pub fn handle_frame(&mut self, now: Millis, psdu: &[u8], _meta: RxMeta) {
        self.advance(now);
        self.handle_timeout(self.now);
        let Some((pan, tc_ieee)) = self.network.as_ref().map(|n| (n.pan_id, n.tc_ieee)) else {
            return;
        };
        let Ok(mac) = MacFrame::parse(psdu) else { return };
        let for_us = match mac.header.dst_addr {
            Address::Short(s) => s == ShortAddr::COORDINATOR || s.is_broadcast(),
            Address::Extended(e) => e == tc_ieee,
            Address::Absent => false,
        };
        if !for_us || mac.header.dst_pan.is_some_and(|p| p != pan && p != PanId::BROADCAST) {
            return;
        }
        match mac.body {
            MacBody::Command(MacCommand::AssociationRequest { capability }) => {
                if let Address::Extended(ieee) = mac.header.src_addr {
                    self.association(ieee, capability);
                }
            }
            MacBody::Data(nwk) if !nwk.is_empty() => {
                let mac_src = mac.header.src_addr;
                self.nwk_frame(nwk, mac_src);
            }
            _ => {}
        }
    }

    pub(super) fn nwk_frame(&mut self, nwk: &[u8], mac_src: Address) {
        let Ok((h, hlen)) = NwkHeader::parse(nwk) else { return };
        if !(h.dst == ShortAddr::COORDINATOR || h.dst.is_broadcast()) {
            return;
        }
        if !h.security {
            if h.frame_type == NwkFrameType::Command {
                if let Ok(NwkCommand::RejoinRequest { capability }) =
                    NwkCommand::parse(&nwk[hlen..])
                {
                    self.unsecured_rejoin(&h, capability, mac_src);
                }
            }
            return;
        }
        let Ok((aux, _)) = AuxHeader::parse(&nwk[hlen..]) else { return };
        let (Some(seq), Some(sender)) = (aux.key_seq, aux.source) else { return };
        let Some(key) = self.keys.get(&seq).map(|k| k.key.clone()) else { return };
        let Ok(opened) = open(&CcmStar::new(&key), ZIGBEE_PRO_LEVEL, nwk, hlen, None) else {
            return;
        };
        // Replay protection per transmitting device, for the key it is using now.
        let originator = h.src_ieee.or_else(|| self.by_short.get(&h.src).copied());
        if let Some(d) = self.devices.get(&sender) {
            if d.last_key_seq == Some(seq) {
                if let Some(last) = d.incoming_nwk_counter {
                    if aux.frame_counter <= last {
                        self.events.push_back(Event::ReplayDropped {
                            ieee: sender,
                            counter: aux.frame_counter,
                            last,
                        });
                        self.audit(
                            Severity::Warning,
                            "replay-dropped",
                            Some(sender),
                            format!("NWK frame counter {} <= {last}", aux.frame_counter),
                        );
                        return;
                    }
                }
            }
        }
        let stale = seq != self.active_seq && self.rotation.as_ref().is_none_or(|r| r.seq != seq);
        if stale && self.policy.insecure_rejoin != InsecureRejoinPolicy::Adaptive {
            // Today's stacks keep only the current key: a frame under an old one is noise.
            return;
        }
        self.note_seen(sender, seq, aux.frame_counter);
        if let Some(o) = originator.filter(|o| *o != sender) {
            self.note_alive(o);
        }
        if stale {
            self.rescue(sender, seq);
        }
        let payload = opened.plaintext;
        match h.frame_type {
            NwkFrameType::Command => {
                if let Ok(NwkCommand::RejoinRequest { capability }) = NwkCommand::parse(&payload) {
                    self.secured_rejoin(&h, sender, seq, capability);
                }
            }
            NwkFrameType::Data => self.aps_frame(&h, &payload, originator, seq),
            _ => {}
        }
    }

    /// An NWK-secured data frame's APS layer.
    pub(super) fn aps_frame(
        &mut self,
        nh: &NwkHeader,
        aps: &[u8],
        originator: Option<ExtAddr>,
        seq: u8,
    ) {
        let Ok((ah, hlen)) = ApsHeader::parse(aps) else { return };
        if ah.frame_type == ApsFrameType::Ack {
            if let (Some(r), Some(ieee)) = (&mut self.rotation, originator) {
                if r.pending.get(&ieee) == Some(&ah.counter) {
                    r.pending.remove(&ieee);
                    let seq = r.seq;
                    if let Some(d) = self.devices.get_mut(&ieee) {
                        // The device acknowledged the new key: it holds it.
                        d.last_key_seq = Some(seq);
                        d.incoming_nwk_counter = None;
                        let rec = d.clone();
                        self.writes.push(StoreWrite::Device(rec));
                    }
                    if r.pending.is_empty() {
                        self.switch_key();
                    }
                }
            }
            return;
        }
        if ah.frame_type != ApsFrameType::Command {
            return;
        }
        let Some(ieee) = originator else { return };
        let cmd = if ah.security {
            let Ok((aux, _)) = AuxHeader::parse(&aps[hlen..]) else { return };
            let src = aux.source.unwrap_or(ieee);
            let base = match self
                .devices
                .get(&src)
                .and_then(|d| d.tclk.clone())
                .or_else(|| self.install_codes.get(&src).cloned())
            {
                Some(k) => k,
                None => Key::well_known_tc_link_key(),
            };
            let cipher = CcmStar::new(&aux.key_id.derive(&base));
            let Ok(o) = open(&cipher, ZIGBEE_PRO_LEVEL, aps, hlen, Some(src)) else { return };
            // APS replay protection: per device, across link keys (APS counters never reset).
            if let Some(d) = self.devices.get_mut(&src) {
                if let Some(last) = d.incoming_aps_counter.filter(|l| aux.frame_counter <= *l) {
                    let counter = aux.frame_counter;
                    self.events.push_back(Event::ReplayDropped { ieee: src, counter, last });
                    self.audit(
                        Severity::Warning,
                        "replay-dropped",
                        Some(src),
                        format!("APS frame counter {counter} <= {last}"),
                    );
                    return;
                }
                d.incoming_aps_counter = Some(aux.frame_counter);
                let rec = d.clone();
                self.writes.push(StoreWrite::Device(rec));
            }
            match ApsCommand::parse(&o.plaintext) {
                Ok(c) => c,
                Err(_) => return,
            }
        } else {
            match ApsCommand::parse(&aps[hlen..]) {
                Ok(c) => c,
                Err(_) => return,
            }
        };
        let secured = ah.security;
        match cmd {
            ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, .. } if secured => {
                self.request_tclk(ieee, nh.src, seq)
            }
            ApsCommand::VerifyKey { key_type: KeyType::TrustCenterLinkKey, src, hash }
                if src == ieee =>
            {
                self.verify_key(ieee, nh.src, hash, seq)
            }
            ApsCommand::UpdateDevice { device, short_addr, status, .. } if secured => {
                self.update_device(ieee, nh.src, device, short_addr, status)
            }
            _ => {}
        }
    }
}
