use super::*;

impl TrustCenter {
    /// Marks key `seq` readable by someone it should not be (a sniffer, a removed device), with
    /// the reason. Exposure only grows; it is durable with the key record.
    pub(super) fn mark_exposed(&mut self, seq: u8, why: &str, ieee: Option<ExtAddr>) {
        let now = self.now;
        let Some(k) = self.keys.get_mut(&seq) else { return };
        if !k.exposed {
            k.exposed = true;
            let who = ieee.map(|i| format!(", {i}")).unwrap_or_default();
            k.exposure = Some(format!("{why}{who}, at {now} ms"));
            let rec = k.clone();
            self.writes.push(StoreWrite::NetworkKey(rec));
        }
        self.audit(
            Severity::Alert,
            AuditKind::NetworkKeyExposed,
            ieee,
            format!("network key {seq} exposed: {why}"),
        );
    }

    pub(super) fn key_exposed(&self, seq: u8) -> bool {
        self.keys.get(&seq).is_some_and(|k| k.exposed)
    }

    /// Adaptive: a known device spoke under an old key. Send it the current key NWK-secured
    /// under that old key (plus APS security under its link key when that key is not public),
    /// then a Switch-Key, unless the old key was exposed. This is all an old key is good for.
    /// At most once per [`RESCUE_INTERVAL_MS`] to the same place; `moved` (a rejoin from a new
    /// place) sends it there even so.
    /// `via`: the next hop to use instead of the stored route (the neighbour that relayed the
    /// frame that asked for it).
    pub(super) fn rescue(
        &mut self,
        ieee: ExtAddr,
        old_seq: u8,
        moved: bool,
        via: Option<ShortAddr>,
    ) {
        let now = self.now;
        let Some(d) = self.devices.get(&ieee) else { return };
        if d.tombstoned || !self.may_send_under(old_seq) {
            return;
        }
        let v = self.volatile.entry(ieee).or_default();
        if !moved && v.last_rescue.is_some_and(|t| now.saturating_sub(t) < RESCUE_INTERVAL_MS) {
            return;
        }
        v.last_rescue = Some(now);
        self.deliver_under_proven_key(ieee, old_seq, via);
    }

    /// A secured rejoin to the coordinator under an old key: a device that missed the switch
    /// (e.g. it slept through it, or its memory is older than the hub's). It is answered with a
    /// rejoin response under that old key and rescued there — only a holder of the old key can
    /// read either. The place it claims is where the answers go; the stored record follows only
    /// when it speaks from there under the current key. A replay of an old rejoin never gets
    /// here (counters per device and key).
    pub(super) fn stale_rejoin(
        &mut self,
        h: &NwkHeader,
        ieee: ExtAddr,
        old_seq: u8,
        capability: CapabilityInfo,
    ) {
        let Some(d) = self.devices.get(&ieee).filter(|d| !d.tombstoned) else { return };
        if !self.may_send_under(old_seq) {
            return;
        }
        let short = d.short_addr;
        let claim = Location { short, parent: ShortAddr::COORDINATOR, capability: capability.0 };
        let moved = self.location_of(ieee) != Some(claim);
        let now = self.now;
        self.volatile.entry(ieee).or_default().claimed =
            Some(Claim { loc: claim, at: now, route: true });
        let mut rh = self.nwk_header(NwkFrameType::Command, h.src);
        rh.dst_ieee = Some(ieee);
        let mut p = Vec::new();
        NwkCommand::RejoinResponse { short_addr: short, status: 0 }.emit(&mut p);
        self.send_nwk_secured(rh, &p, old_seq, h.src, "rejoin-response");
        self.rescue(ieee, old_seq, moved, None);
    }

    /// Whether the current key may be sent NWK-secured under key `seq`: only if that tells a
    /// sniffer nothing new (the old key was never exposed, or the current one already is).
    pub(super) fn may_send_under(&self, seq: u8) -> bool {
        let current_exposed = self.key_exposed(self.active_seq);
        self.keys.get(&seq).is_some_and(|k| !k.exposed || current_exposed)
    }

    pub(super) fn deliver_under_proven_key(
        &mut self,
        ieee: ExtAddr,
        proven_seq: u8,
        via: Option<ShortAddr>,
    ) {
        let Some(loc) = self.location_of(ieee) else { return };
        let (link, protection) = self.link_key_of(ieee);
        let aps_key = (protection != KeyProtection::WellKnownKey).then_some(link).flatten();
        let key = self.active_key();
        let tc = self.cfg().1;
        let tk = ApsCommand::TransportKey(TransportKey::network(key, self.active_seq, ieee, tc));
        let (aps, _) = match &aps_key {
            Some(k) => self.aps_command(&tk, Some(KeyId::KeyTransport), Some(k), false),
            None => self.aps_command(&tk, None, None, false),
        };
        let mut h = self.nwk_header(NwkFrameType::Data, loc.short);
        h.dst_ieee = Some(ieee);
        let hop = via.unwrap_or_else(|| next_hop(loc.short, loc.parent));
        self.send_nwk_secured(h, &aps, proven_seq, hop, "transport-key");
        let (sw, _) =
            self.aps_command(&ApsCommand::SwitchKey { seq: self.active_seq }, None, None, false);
        let h = self.nwk_header(NwkFrameType::Data, loc.short);
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
            AuditKind::KeyDelivered,
            Some(ieee),
            format!("network key {to_seq} under network key {proven_seq}"),
        );
    }

    /// The sequence number for a new key. If the key after the active one already exists and
    /// was created after it, it is a key an interrupted rotation may have delivered: it is
    /// reused with its key (never a different key under a number devices may hold).
    fn next_key(&mut self) -> NetworkKeyRecord {
        let seq = self.active_seq.wrapping_add(1);
        let active_created = self.keys.get(&self.active_seq).map_or(0, |k| k.created_at);
        match self.keys.get(&seq) {
            Some(k) if k.created_at >= active_created && seq != self.active_seq => k.clone(),
            _ => NetworkKeyRecord {
                seq,
                key: self.rng.key(),
                exposed: false,
                exposure: None,
                created_at: self.now,
            },
        }
    }

    pub(super) fn start_rotation(&mut self, deadline_ms: Millis) -> Result<(), AdminError> {
        let mut rec = self.next_key();
        let new_seq = rec.seq;
        let targets: Vec<ExtAddr> =
            self.devices.values().filter(|d| !d.tombstoned).map(|d| d.ieee).collect();
        self.writes.push(StoreWrite::NetworkKey(rec.clone()));
        self.keys.insert(new_seq, rec.clone());
        // A key sent to a public-link-key device is protected only by the current network key.
        if self.key_exposed(self.active_seq) {
            if let Some(i) = targets.iter().find(|i| self.link_key_of(**i).1.is_public()) {
                self.mark_exposed(
                    new_seq,
                    "sent to a device with a public link key under an exposed network key",
                    Some(*i),
                );
                rec = self.keys[&new_seq].clone();
            }
        }
        let new_key = rec.key.clone();
        let mut pending = BTreeMap::new();
        let mut targets = targets;
        targets.sort();
        for ieee in targets {
            let k = self.send_rotation_key(ieee, new_seq, &new_key, None);
            pending.insert(ieee, k);
        }
        self.audit(
            Severity::Info,
            AuditKind::KeyRotationStarted,
            None,
            format!("network key {new_seq} sent to {} devices", pending.len()),
        );
        self.rotation = Some(Rotation { seq: new_seq, deadline: self.now + deadline_ms, pending });
        self.persist_rotation();
        if self.rotation.as_ref().is_some_and(|r| r.pending.is_empty()) {
            self.switch_key();
        }
        Ok(())
    }

    /// Continues a rotation a restart interrupted: the new key goes again to every device that
    /// had not acknowledged it. Without its key record it cannot go on, and is aborted.
    pub(super) fn resume_rotation(&mut self, r: RotationRecord) {
        let Some(key) = self.keys.get(&r.seq).map(|k| k.key.clone()) else {
            self.writes.push(StoreWrite::Rotation(None));
            self.audit(
                Severity::Warning,
                AuditKind::KeyRotationResumed,
                None,
                format!("rotation to key {} aborted: its key record is missing", r.seq),
            );
            return;
        };
        if self.network.is_none() || r.seq == self.active_seq {
            self.writes.push(StoreWrite::Rotation(None));
            return;
        }
        let mut pending = BTreeMap::new();
        for ieee in r.pending {
            if self.devices.get(&ieee).is_some_and(|d| !d.tombstoned) {
                let k = self.send_rotation_key(ieee, r.seq, &key, None);
                pending.insert(ieee, k);
            }
        }
        self.audit(
            Severity::Info,
            AuditKind::KeyRotationResumed,
            None,
            format!("rotation to key {} resumed; {} devices pending", r.seq, pending.len()),
        );
        self.rotation = Some(Rotation { seq: r.seq, deadline: r.deadline, pending });
    }

    pub(super) fn persist_rotation(&mut self) {
        let rec = self.rotation.as_ref().map(|r| {
            let mut pending: Vec<ExtAddr> = r.pending.keys().copied().collect();
            pending.sort();
            RotationRecord { seq: r.seq, deadline: r.deadline, pending }
        });
        self.writes.push(StoreWrite::Rotation(rec));
    }

    /// Sends the rotation's new key to one device (NWK under the active key, APS under its
    /// link key), asking for an APS ack: a first copy (`retry` None) under a new APS counter,
    /// or a retry of the copy in flight (the same counter, one more transmission). Returns
    /// what to wait for.
    pub(super) fn send_rotation_key(
        &mut self,
        ieee: ExtAddr,
        new_seq: u8,
        new_key: &Key,
        retry: Option<KeyInFlight>,
    ) -> KeyInFlight {
        let tc = self.cfg().1;
        let (link, protection) = self.link_key_of(ieee);
        let tk =
            ApsCommand::TransportKey(TransportKey::network(new_key.clone(), new_seq, ieee, tc));
        let ctr = retry.map_or_else(|| self.next_aps_ctr(), |k| k.aps_counter);
        let aps = match protection {
            KeyProtection::WellKnownKey => self.aps_command_numbered(&tk, None, None, true, ctr),
            _ => {
                self.aps_command_numbered(&tk, Some(KeyId::KeyTransport), link.as_ref(), true, ctr)
            }
        };
        let sleepy = self
            .devices
            .get(&ieee)
            .is_some_and(|d| d.capability & CapabilityInfo::RX_ON_WHEN_IDLE == 0);
        let wait = if sleepy { APS_ACK_WAIT_SLEEPY_MS } else { APS_ACK_WAIT_MS };
        let in_flight = KeyInFlight {
            aps_counter: ctr,
            sent: retry.map_or(1, |k| k.sent.saturating_add(1)),
            retry_at: self.now + wait,
        };
        let Some(loc) = self.location_of(ieee) else { return in_flight };
        let mut h = self.nwk_header(NwkFrameType::Data, loc.short);
        h.dst_ieee = Some(ieee);
        self.send_nwk_secured(
            h,
            &aps,
            self.active_seq,
            next_hop(loc.short, loc.parent),
            if retry.is_some() { "transport-key-rotation-retry" } else { "transport-key-rotation" },
        );
        in_flight
    }

    /// Sends the rotation key again to every device whose APS ack is overdue, at most
    /// [`APS_MAX_FRAME_RETRIES`] times each: a copy lost on the way (a radio reset, a busy
    /// router, a sleepy child's queue expiring) need not wait for the deadline.
    pub(super) fn retry_rotation_keys(&mut self) {
        let Some(r) = &self.rotation else { return };
        let now = self.now;
        let seq = r.seq;
        let due: Vec<(ExtAddr, KeyInFlight)> = r
            .pending
            .iter()
            .filter(|(_, k)| k.sent <= APS_MAX_FRAME_RETRIES && k.retry_at <= now)
            .map(|(i, k)| (*i, *k))
            .collect();
        let Some(key) = self.keys.get(&seq).map(|k| k.key.clone()) else { return };
        for (ieee, k) in due {
            // A device removed since the first copy gets no more keys (it stays a straggler
            // until the switch; the key it may hold is already marked exposed).
            if self.devices.get(&ieee).is_none_or(|d| d.tombstoned) {
                if let Some(r) = self.rotation.as_mut() {
                    r.pending.insert(ieee, KeyInFlight { sent: u8::MAX, ..k });
                }
                continue;
            }
            self.note_rotation_key_exposure(seq, ieee);
            let next = self.send_rotation_key(ieee, seq, &key, Some(k));
            if let Some(r) = self.rotation.as_mut() {
                r.pending.insert(ieee, next);
            }
        }
    }

    /// When the next retry of a rotation key is due.
    pub(super) fn next_rotation_retry(&self) -> Option<Millis> {
        let r = self.rotation.as_ref()?;
        r.pending.values().filter(|k| k.sent <= APS_MAX_FRAME_RETRIES).map(|k| k.retry_at).min()
    }

    /// The rotation key `seq` goes to `ieee` NWK-secured under the active key: if the device's
    /// link key is public and the active key exposed, the rotation key is readable by anyone
    /// who reads the active key.
    fn note_rotation_key_exposure(&mut self, seq: u8, ieee: ExtAddr) {
        if self.key_exposed(self.active_seq) && self.link_key_of(ieee).1.is_public() {
            self.mark_exposed(
                seq,
                "rotation key sent to a device with a public link key under an exposed key",
                Some(ieee),
            );
        }
    }

    /// A device that joins or rejoins while a rotation is pending gets the new key too (after
    /// the active one), so the switch does not leave it behind.
    pub(super) fn include_in_rotation(&mut self, ieee: ExtAddr) {
        let Some(seq) = self.rotation.as_ref().map(|r| r.seq) else { return };
        let Some(key) = self.keys.get(&seq).map(|k| k.key.clone()) else { return };
        self.note_rotation_key_exposure(seq, ieee);
        let k = self.send_rotation_key(ieee, seq, &key, None);
        if let Some(r) = self.rotation.as_mut() {
            r.pending.insert(ieee, k);
        }
        self.persist_rotation();
    }

    pub(super) fn switch_key(&mut self) {
        let Some(r) = self.rotation.take() else { return };
        let (sw, _) = self.aps_command(&ApsCommand::SwitchKey { seq: r.seq }, None, None, false);
        let h = self.nwk_header(NwkFrameType::Data, ShortAddr::RX_ON_WHEN_IDLE);
        self.send_nwk_secured(h, &sw, self.active_seq, ShortAddr::BROADCAST, "switch-key");
        // The broadcast reaches only receivers that are always on: a sleepy device that
        // acknowledged the new key gets its own Switch-Key, held for its next poll (under the
        // key it still uses; the frame names only a key number). Without it, it goes on under
        // the old key until the stale-key rescue brings it over, and a device that takes its
        // unanswered reports for a lost parent rejoins meanwhile.
        let mut sleepy: Vec<ExtAddr> = self
            .devices
            .values()
            .filter(|d| !d.tombstoned && d.capability & CapabilityInfo::RX_ON_WHEN_IDLE == 0)
            .filter(|d| d.last_key_seq == Some(r.seq) && !r.pending.contains_key(&d.ieee))
            .map(|d| d.ieee)
            .collect();
        sleepy.sort();
        for ieee in sleepy {
            let Some(loc) = self.location_of(ieee) else { continue };
            let (sw, _) =
                self.aps_command(&ApsCommand::SwitchKey { seq: r.seq }, None, None, false);
            let mut h = self.nwk_header(NwkFrameType::Data, loc.short);
            h.dst_ieee = Some(ieee);
            let hop = next_hop(loc.short, loc.parent);
            self.send_nwk_secured(h, &sw, self.active_seq, hop, "switch-key-unicast");
        }
        self.active_seq = r.seq;
        self.writes.push(StoreWrite::ActiveKeySeq(r.seq));
        self.writes.push(StoreWrite::Rotation(None));
        if self.nwk_fc.next >= NWK_COUNTER_ROTATE_AT {
            // Frame counters are per network key: the new key starts again from 0. The old
            // keys go on above everything they used (the retired counter only grows).
            let old = std::mem::replace(&mut self.nwk_fc, Counter { next: 0, leased: 0 });
            let from = old.leased.max(self.nwk_retired_fc.leased);
            self.nwk_retired_fc = Counter { next: from, leased: from };
            self.writes
                .push(StoreWrite::CounterLease { kind: CounterKind::NwkRetired, until: from });
            self.nwk_restart_seq = Some(r.seq);
            self.writes.push(StoreWrite::CounterRestart { kind: CounterKind::Nwk, key_seq: r.seq });
        }
        let mut stragglers: Vec<ExtAddr> = r.pending.into_keys().collect();
        stragglers.sort();
        self.audit(
            Severity::Info,
            AuditKind::KeySwitched,
            None,
            format!("switched to network key {}; {} stragglers", r.seq, stragglers.len()),
        );
        self.events.push_back(Event::KeySwitched { seq: r.seq, stragglers });
        if std::mem::take(&mut self.rotate_again) {
            let _ = self.start_rotation(AUTO_ROTATION_DEADLINE_MS);
        }
    }
}
