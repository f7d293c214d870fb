//! Received frames: MAC dispatch, NWK security and replay checks, and the authentication of
//! APS security commands (who may ask the Trust Center for what).

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
            MacBody::Data(nwk) => {
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
        let originator = h.src_ieee.or_else(|| self.by_short.get(&h.src).copied());
        // A removed device is out: nothing it sends or relays is acted on.
        for who in [Some(sender), originator].into_iter().flatten() {
            if self.devices.get(&who).is_some_and(|d| d.tombstoned) {
                self.removed_device_frame(who);
                return;
            }
        }
        let fc = aux.frame_counter;
        let pending_short =
            self.volatile.get(&sender).and_then(|v| v.pending_join.as_ref()).map(|r| r.short_addr);
        if pending_short == Some(h.src) && originator.is_none_or(|o| o == sender) {
            // A joiner in a known device's name (see `admit_device`): until it proves itself
            // only that proof counts, so the old record's counters do not apply yet.
            if seq == self.active_seq && h.frame_type == NwkFrameType::Data {
                self.pending_join_proof(&h, &opened.plaintext, sender, seq, fc);
            }
            return;
        }
        if !self.nwk_counter_fresh(sender, seq, fc) {
            // A device whose NWK counter is out of step can still prove itself without a
            // rejoin: an APS command secured under its secret link key with a fresh APS
            // counter is its own (no one else holds that key; a replay carries an old APS
            // counter). That counts for the resynchronisation, and the command is acted on
            // (a poisoned router's Update-Device for a child rejoining through it: the child
            // would otherwise give up long before the router itself notices).
            if seq == self.active_seq
                && h.frame_type == NwkFrameType::Data
                && originator.is_none_or(|o| o == sender)
                && self.proves_itself(sender, &opened.plaintext)
            {
                self.aps_frame(&h, &opened.plaintext, Some(sender), seq);
                self.maybe_resync(sender);
            }
            return;
        }
        let current =
            seq == self.active_seq || self.rotation.as_ref().is_some_and(|r| r.seq == seq);
        if !current {
            // Old keys rescue and nothing else: no liveness, no stored change, no command. The
            // counter is recorded so the same frame replayed cannot trigger anything again.
            self.record_counter(sender, seq, fc);
            if self.policy.insecure_rejoin == InsecureRejoinPolicy::Adaptive {
                let rejoin = match NwkCommand::parse(&opened.plaintext) {
                    Ok(NwkCommand::RejoinRequest { capability })
                        if h.frame_type == NwkFrameType::Command
                            && originator.is_none_or(|o| o == sender) =>
                    {
                        Some(capability)
                    }
                    _ => None,
                };
                match rejoin {
                    Some(cap) => self.stale_rejoin(&h, sender, seq, cap),
                    None => {
                        self.rescue(sender, seq, false, None);
                        // A router relays under the key the frame came in with: the originator
                        // is on the old key too (a sleepy child that slept through the switch).
                        // Its rescue goes back the way the frame came: where it is now may not
                        // be where the TC last knew it.
                        if let Some(o) = originator.filter(|o| *o != sender) {
                            let via = match mac_src {
                                Address::Short(s) => Some(s),
                                _ => None,
                            };
                            self.rescue(o, seq, false, via);
                        }
                    }
                }
            }
            return;
        }
        self.note_seen(sender, seq, fc);
        if let Some(o) = originator.filter(|o| *o != sender) {
            self.note_alive(o);
        }
        self.confirm_location(originator.unwrap_or(sender), h.src);
        let payload = opened.plaintext;
        self.nwk_duties(&h, &payload, sender, originator, mac_src);
        match h.frame_type {
            NwkFrameType::Command => {
                // A rejoin request is one hop: its sender is the device that rejoins.
                if let Ok(NwkCommand::RejoinRequest { capability }) = NwkCommand::parse(&payload) {
                    if originator.is_none_or(|o| o == sender) {
                        self.secured_rejoin(&h, sender, seq, capability);
                    }
                }
            }
            NwkFrameType::Data => self.aps_frame(&h, &payload, originator, seq),
            _ => {}
        }
    }

    /// A known device joined again (see `admit_device`): an APS command secured under the
    /// link key it was given at that join (e.g. the Request-Key a Zigbee 3.0 device sends right
    /// after joining) proves it holds that key; its new record then takes over, counters and
    /// all, and the command is handled as usual.
    fn pending_join_proof(&mut self, h: &NwkHeader, aps: &[u8], ieee: ExtAddr, seq: u8, fc: u32) {
        let Some(link) = self
            .volatile
            .get(&ieee)
            .and_then(|v| v.pending_join.as_ref())
            .and_then(|r| r.tclk.clone())
        else {
            return;
        };
        if aps_command_counter(aps, ieee, &link).is_none() {
            return;
        }
        self.confirm_join(ieee, h.src);
        self.note_seen(ieee, seq, fc);
        self.aps_frame(h, aps, Some(ieee), seq);
    }

    fn confirm_join(&mut self, ieee: ExtAddr, src: ShortAddr) {
        let Some(rec) = self.volatile.get_mut(&ieee).and_then(|v| v.pending_join.take()) else {
            return;
        };
        if let Some(old) = self.devices.get(&ieee) {
            if self.by_short.get(&old.short_addr) == Some(&ieee) {
                self.by_short.remove(&old.short_addr);
            }
        }
        self.by_short.insert(rec.short_addr, ieee);
        self.writes.push(StoreWrite::Device(rec.clone()));
        self.devices.insert(ieee, rec);
        self.volatile.remove(&ieee);
        self.audit(
            Severity::Info,
            AuditKind::DeviceJoined,
            Some(ieee),
            format!("joined again as {src}: proved the link key it was given; record replaced"),
        );
    }

    fn removed_device_frame(&mut self, ieee: ExtAddr) {
        let v = self.volatile.entry(ieee).or_default();
        if std::mem::replace(&mut v.removed_reported, true) {
            return;
        }
        self.audit(
            Severity::Alert,
            AuditKind::RemovedDeviceFrame,
            Some(ieee),
            "a removed device is still sending; its frames are dropped".into(),
        );
    }

    /// A device claimed a new location in an unauthenticated rejoin; now it speaks from there
    /// under the current key, so the record follows.
    fn confirm_location(&mut self, ieee: ExtAddr, src: ShortAddr) {
        let Some(loc) = self.volatile.get(&ieee).and_then(|v| v.claimed).map(|c| c.loc) else {
            return;
        };
        if loc.short != src {
            return;
        }
        if let Some(v) = self.volatile.get_mut(&ieee) {
            v.claimed = None;
        }
        self.move_device(ieee, loc);
    }

    /// Rejects an APS security command that is not authenticated by the device it concerns.
    fn reject_command(&mut self, ieee: ExtAddr, why: &'static str) {
        self.events.push_back(Event::CommandRejected { ieee, why });
        let v = self.volatile.entry(ieee).or_default();
        if std::mem::replace(&mut v.rejected_reported, true) {
            return;
        }
        self.audit(
            Severity::Alert,
            AuditKind::CommandRejected,
            Some(ieee),
            format!("APS command in its name dropped: {why}"),
        );
    }

    /// An NWK-secured data frame's APS layer. APS security commands are acted on only when
    /// the APS security source, the NWK originator and the device the command concerns are one
    /// known, non-removed device, under the link key the Trust Center holds for it, with a
    /// fresh APS counter.
    pub(super) fn aps_frame(
        &mut self,
        nh: &NwkHeader,
        aps: &[u8],
        originator: Option<ExtAddr>,
        seq: u8,
    ) {
        let Ok((ah, hlen)) = ApsHeader::parse(aps) else { return };
        if ah.frame_type == ApsFrameType::Ack {
            if let Some(ieee) = originator {
                self.rotation_ack(ieee, ah.counter);
            }
            return;
        }
        if ah.frame_type != ApsFrameType::Command {
            return;
        }
        let Some(ieee) = originator else { return };
        let Some(d) = self.devices.get(&ieee) else {
            // No well-known-key fallback for strangers: an unknown source has no key here.
            return;
        };
        let is_router = d.capability & CapabilityInfo::FULL_FUNCTION_DEVICE != 0;
        let cmd = if ah.security {
            let Ok((aux, _)) = AuxHeader::parse(&aps[hlen..]) else { return };
            let src = aux.source.unwrap_or(ieee);
            if src != ieee {
                self.reject_command(ieee, "APS security source is not the NWK originator");
                return;
            }
            let base = self.link_key_of(ieee).0.unwrap_or_else(Key::well_known_tc_link_key);
            let cipher = CcmStar::new(&aux.key_id.derive(&base));
            let Ok(o) = open(&cipher, ZIGBEE_PRO_LEVEL, aps, hlen, Some(src)) else {
                self.reject_command(ieee, "not secured under the device's link key");
                return;
            };
            if !self.aps_counter_fresh(ieee, aux.frame_counter) {
                return;
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
            ApsCommand::VerifyKey { key_type: KeyType::TrustCenterLinkKey, src, hash } => {
                if src == ieee {
                    self.verify_key(ieee, nh.src, hash, seq)
                } else {
                    self.reject_command(ieee, "Verify-Key names another device");
                }
            }
            ApsCommand::UpdateDevice { device, short_addr, status, .. } if secured => {
                if is_router {
                    self.update_device(ieee, nh.src, device, short_addr, status)
                } else {
                    self.reject_command(ieee, "Update-Device from a device that is not a router");
                }
            }
            _ => {}
        }
    }

    /// Whether `aps` is an APS command from `ieee` secured under its secret link key with an
    /// APS counter above the last accepted one: something only the genuine device can send.
    fn proves_itself(&self, ieee: ExtAddr, aps: &[u8]) -> bool {
        let (Some(link), protection) = self.link_key_of(ieee) else { return false };
        if protection.is_public() {
            return false;
        }
        let Some(counter) = aps_command_counter(aps, ieee, &link) else { return false };
        let last = self.devices.get(&ieee).and_then(|d| d.incoming_aps_counter);
        last.is_none_or(|l| counter > l)
    }

    /// APS replay protection: per device, across link keys (APS counters never reset). Not for
    /// a device whose link key is public: an APS frame re-wrapped in a fresh NWK frame needs
    /// the network key, and whoever holds it can forge fresh APS frames under a public key
    /// anyway — a mark there would only let such a forger silence the device (an HA 1.2
    /// router's Update-Devices) by pushing its counter up.
    fn aps_counter_fresh(&mut self, ieee: ExtAddr, counter: u32) -> bool {
        if self.link_key_of(ieee).1.is_public() {
            return true;
        }
        let Some(d) = self.devices.get_mut(&ieee) else { return false };
        if let Some(last) = d.incoming_aps_counter.filter(|l| counter <= *l) {
            self.events.push_back(Event::ReplayDropped { ieee, counter, last });
            self.audit(
                Severity::Warning,
                AuditKind::ReplayDropped,
                Some(ieee),
                format!("APS frame counter {counter} <= {last}"),
            );
            return false;
        }
        d.incoming_aps_counter = Some(counter);
        let rec = d.clone();
        self.writes.push(StoreWrite::Device(rec));
        true
    }

    /// An APS ack: if it acknowledges the rotation key sent to `ieee`, the device holds it.
    fn rotation_ack(&mut self, ieee: ExtAddr, counter: u8) {
        let Some(r) = &mut self.rotation else { return };
        if r.pending.get(&ieee).is_none_or(|k| k.aps_counter != counter) {
            return;
        }
        r.pending.remove(&ieee);
        let (seq, done) = (r.seq, r.pending.is_empty());
        let hash = self.keys.get(&seq).map(|k| key_hash(&k.key));
        if let Some(d) = self.devices.get_mut(&ieee) {
            counters::move_to_key(d, seq, hash);
            let rec = d.clone();
            self.writes.push(StoreWrite::Device(rec));
        }
        if done {
            self.switch_key();
        } else {
            self.persist_rotation();
        }
    }
}

/// The APS frame counter of `aps` if it is an APS command from `ieee` (its security source)
/// that verifies under a key derived from `link`: proof that the sender holds that link key.
fn aps_command_counter(aps: &[u8], ieee: ExtAddr, link: &Key) -> Option<u32> {
    let (ah, hlen) = ApsHeader::parse(aps).ok()?;
    if ah.frame_type != ApsFrameType::Command || !ah.security {
        return None;
    }
    let (aux, _) = AuxHeader::parse(&aps[hlen..]).ok()?;
    if aux.source.unwrap_or(ieee) != ieee {
        return None;
    }
    let cipher = CcmStar::new(&aux.key_id.derive(link));
    open(&cipher, ZIGBEE_PRO_LEVEL, aps, hlen, Some(ieee)).ok()?;
    Some(aux.frame_counter)
}
