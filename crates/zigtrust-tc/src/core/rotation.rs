use super::*;

impl TrustCenter {
    pub(super) fn mark_exposed(&mut self, seq: u8, why: &str, ieee: ExtAddr) {
        if let Some(k) = self.keys.get_mut(&seq) {
            if !k.exposed {
                k.exposed = true;
                let rec = k.clone();
                self.writes.push(StoreWrite::NetworkKey(rec));
            }
        }
        self.audit(
            Severity::Alert,
            "network-key-exposed",
            Some(ieee),
            format!("network key {seq} sent under the well-known key ({why})"),
        );
    }

    /// Adaptive: a known device spoke under an old key. Send it the current key NWK-secured
    /// under that old key (plus APS security under its link key when that key is not public),
    /// then a Switch-Key, unless the old key was exposed.
    pub(super) fn rescue(&mut self, ieee: ExtAddr, old_seq: u8) {
        let now = self.now;
        let Some(d) = self.devices.get(&ieee) else { return };
        if d.tombstoned || !self.may_send_under(old_seq) {
            return;
        }
        let v = self.volatile.entry(ieee).or_default();
        if v.last_rescue.is_some_and(|t| now.saturating_sub(t) < RESCUE_INTERVAL_MS) {
            return;
        }
        v.last_rescue = Some(now);
        self.deliver_under_proven_key(ieee, old_seq);
    }

    /// Whether the current key may be sent NWK-secured under key `seq`: only if that tells a
    /// sniffer nothing new (the old key was never exposed, or the current one already is).
    pub(super) fn may_send_under(&self, seq: u8) -> bool {
        let current_exposed = self.keys.get(&self.active_seq).is_some_and(|k| k.exposed);
        self.keys.get(&seq).is_some_and(|k| !k.exposed || current_exposed)
    }

    pub(super) fn deliver_under_proven_key(&mut self, ieee: ExtAddr, proven_seq: u8) {
        let Some(d) = self.devices.get(&ieee) else { return };
        let (short, parent) = (d.short_addr, d.parent);
        let (link, protection) = self.link_key_of(ieee);
        let aps_key = (protection != KeyProtection::WellKnownKey).then_some(link).flatten();
        let key = self.active_key();
        let tc = self.cfg().1;
        let tk = ApsCommand::TransportKey(TransportKey::network(key, self.active_seq, ieee, tc));
        let (aps, _) = match &aps_key {
            Some(k) => self.aps_command(&tk, Some(KeyId::KeyTransport), Some(k), false),
            None => self.aps_command(&tk, None, None, false),
        };
        let mut h = self.nwk_header(NwkFrameType::Data, short);
        h.dst_ieee = Some(ieee);
        let hop = next_hop(short, parent);
        self.send_nwk_secured(h, &aps, proven_seq, hop, "transport-key");
        let (sw, _) =
            self.aps_command(&ApsCommand::SwitchKey { seq: self.active_seq }, None, None, false);
        let h = self.nwk_header(NwkFrameType::Data, short);
        self.send_nwk_secured(h, &sw, proven_seq, hop, "switch-key");
        let to_seq = self.active_seq;
        if proven_seq != to_seq {
            self.events.push_back(Event::StaleKeyRescue { ieee, from_seq: proven_seq, to_seq });
        }
        self.events.push_back(Event::KeyDelivered {
            ieee,
            key_seq: to_seq,
            protection: KeyProtection::NetworkKey { seq: proven_seq },
        });
        self.audit(
            Severity::Info,
            "key-delivered",
            Some(ieee),
            format!("network key {to_seq} under network key {proven_seq}"),
        );
    }

    pub(super) fn start_rotation(&mut self, deadline_ms: Millis) -> Result<(), AdminError> {
        let new_seq = self.active_seq.wrapping_add(1);
        // A key sent to a well-known-key device is protected only by the current network key.
        let current_exposed = self.keys.get(&self.active_seq).is_some_and(|k| k.exposed);
        let mut rec = NetworkKeyRecord {
            seq: new_seq,
            key: self.rng.key(),
            exposed: false,
            created_at: self.now,
        };
        let targets: Vec<ExtAddr> =
            self.devices.values().filter(|d| !d.tombstoned).map(|d| d.ieee).collect();
        if current_exposed
            && targets.iter().any(|i| self.link_key_of(*i).1 == KeyProtection::WellKnownKey)
        {
            rec.exposed = true;
        }
        self.writes.push(StoreWrite::NetworkKey(rec.clone()));
        let new_key = rec.key.clone();
        self.keys.insert(new_seq, rec);
        let mut pending = HashMap::new();
        let mut targets = targets;
        targets.sort();
        for ieee in targets {
            let ctr = self.send_rotation_key(ieee, new_seq, &new_key);
            pending.insert(ieee, ctr);
        }
        self.audit(
            Severity::Info,
            "key-rotation-started",
            None,
            format!("network key {new_seq} sent to {} devices", pending.len()),
        );
        self.rotation = Some(Rotation { seq: new_seq, deadline: self.now + deadline_ms, pending });
        if self.rotation.as_ref().is_some_and(|r| r.pending.is_empty()) {
            self.switch_key();
        }
        Ok(())
    }

    /// Sends the rotation's new key to one device (NWK under the active key, APS under its
    /// link key); returns the APS counter its acknowledgement will carry.
    pub(super) fn send_rotation_key(&mut self, ieee: ExtAddr, new_seq: u8, new_key: &Key) -> u8 {
        let tc = self.cfg().1;
        let (link, protection) = self.link_key_of(ieee);
        let tk =
            ApsCommand::TransportKey(TransportKey::network(new_key.clone(), new_seq, ieee, tc));
        let (aps, ctr) = match protection {
            KeyProtection::WellKnownKey => self.aps_command(&tk, None, None, true),
            _ => self.aps_command(&tk, Some(KeyId::KeyTransport), link.as_ref(), true),
        };
        let d = &self.devices[&ieee];
        let (short, parent) = (d.short_addr, d.parent);
        let mut h = self.nwk_header(NwkFrameType::Data, short);
        h.dst_ieee = Some(ieee);
        self.send_nwk_secured(
            h,
            &aps,
            self.active_seq,
            next_hop(short, parent),
            "transport-key-rotation",
        );
        ctr
    }

    /// A device that joins or rejoins while a rotation is pending gets the new key too (after
    /// the active one), so the switch does not leave it behind.
    pub(super) fn include_in_rotation(&mut self, ieee: ExtAddr) {
        let Some(seq) = self.rotation.as_ref().map(|r| r.seq) else { return };
        let Some(key) = self.keys.get(&seq).map(|k| k.key.clone()) else { return };
        let active_exposed = self.keys.get(&self.active_seq).is_some_and(|k| k.exposed);
        if active_exposed
            && self.link_key_of(ieee).1 == KeyProtection::WellKnownKey
            && !self.keys[&seq].exposed
        {
            // Sent under a public link key inside NWK security of an exposed key: public too.
            self.mark_exposed(
                seq,
                "rotation key sent to a legacy device under an exposed key",
                ieee,
            );
        }
        let ctr = self.send_rotation_key(ieee, seq, &key);
        if let Some(r) = self.rotation.as_mut() {
            r.pending.insert(ieee, ctr);
        }
    }

    pub(super) fn switch_key(&mut self) {
        let Some(r) = self.rotation.take() else { return };
        let (sw, _) = self.aps_command(&ApsCommand::SwitchKey { seq: r.seq }, None, None, false);
        let h = self.nwk_header(NwkFrameType::Data, ShortAddr::RX_ON_WHEN_IDLE);
        self.send_nwk_secured(h, &sw, self.active_seq, ShortAddr::BROADCAST, "switch-key");
        self.active_seq = r.seq;
        self.writes.push(StoreWrite::ActiveKeySeq(r.seq));
        let mut stragglers: Vec<ExtAddr> = r.pending.into_keys().collect();
        stragglers.sort();
        self.audit(
            Severity::Info,
            "key-switched",
            None,
            format!("switched to network key {}; {} stragglers", r.seq, stragglers.len()),
        );
        self.events.push_back(Event::KeySwitched { seq: r.seq, stragglers });
    }
}
