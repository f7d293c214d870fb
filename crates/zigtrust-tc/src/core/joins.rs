use super::*;

impl TrustCenter {
    pub(super) fn admission(
        &self,
        ieee: ExtAddr,
    ) -> Result<(Option<Key>, KeyProtection), DenyReason> {
        if self.devices.get(&ieee).is_some_and(|d| d.tombstoned) {
            return Err(DenyReason::Tombstoned);
        }
        if self.policy.deny_list.contains(&ieee) {
            return Err(DenyReason::DenyListed);
        }
        if !self.policy.allow_list.is_empty() && !self.policy.allow_list.contains(&ieee) {
            return Err(DenyReason::NotAllowListed);
        }
        let Some(p) = &self.permit else { return Err(DenyReason::PermitJoinClosed) };
        if p.ieee.is_some_and(|only| only != ieee) {
            return Err(DenyReason::NotThisDevice);
        }
        if let Some(k) = self.install_codes.get(&ieee) {
            // Also a known device re-paired after a factory reset: it holds only this key.
            return Ok((Some(k.clone()), KeyProtection::InstallCodeKey));
        }
        if self.devices.contains_key(&ieee) {
            // Known device without an install code: under the secret link key it holds.
            let (k, p) = self.link_key_of(ieee);
            if !p.is_public() {
                return Ok((k, p));
            }
        }
        match self.policy.legacy_join {
            LegacyJoinPolicy::AllowedWhilePermitJoin => Ok((None, KeyProtection::WellKnownKey)),
            LegacyJoinPolicy::InstallCodeRequired => Err(DenyReason::InstallCodeRequired),
        }
    }

    pub(super) fn deny_join(&mut self, ieee: ExtAddr, reason: DenyReason) {
        self.events.push_back(Event::JoinDenied { ieee, reason });
        self.audit(Severity::Warning, AuditKind::JoinDenied, Some(ieee), format!("{reason:?}"));
    }

    pub(super) fn allocate_short(&mut self) -> ShortAddr {
        loop {
            let s = short_from(self.rng.u64());
            if !self.by_short.contains_key(&s) {
                return s;
            }
        }
    }

    pub(super) fn admit_device(
        &mut self,
        ieee: ExtAddr,
        short: ShortAddr,
        capability: u8,
        parent: ShortAddr,
        link: &Option<Key>,
        protection: KeyProtection,
    ) {
        self.forget_route(short);
        let method = if protection == KeyProtection::InstallCodeKey {
            JoinMethod::InstallCode
        } else {
            JoinMethod::WellKnownKey
        };
        let rec = DeviceRecord {
            ieee,
            short_addr: short,
            capability,
            join_method: method,
            parent,
            tclk: link.clone(),
            tclk_verified: false,
            // It is given the active key now; frames and acks move this forward later.
            last_key_seq: Some(self.active_seq),
            last_key_hash: self.keys.get(&self.active_seq).map(|k| key_hash(&k.key)),
            last_seen: self.now,
            incoming_nwk_counter: None,
            stale_nwk_counters: Vec::new(),
            incoming_aps_counter: None,
            tombstoned: false,
        };
        // A device already known with a secret link key keeps its record — its key, its
        // counters — until the joiner proves itself: a join in its name must not downgrade its
        // key or reset its replay protection. The new record takes over when a frame under the
        // current key comes from the fresh short address it was given (frames from its earlier
        // life carry the old one), e.g. a device re-paired after a factory reset.
        if self.devices.get(&ieee).is_some_and(|d| !d.tombstoned)
            && !self.link_key_of(ieee).1.is_public()
        {
            self.volatile.entry(ieee).or_default().pending_join = Some(rec);
        } else {
            if let Some(old) = self.devices.get(&ieee) {
                self.by_short.remove(&old.short_addr);
            }
            self.by_short.insert(short, ieee);
            self.writes.push(StoreWrite::Device(rec.clone()));
            self.devices.insert(ieee, rec);
            self.volatile.remove(&ieee);
        }
        if protection == KeyProtection::WellKnownKey {
            if let Some(p) = &mut self.permit {
                p.legacy_joined = true;
            }
            self.mark_exposed(
                self.active_seq,
                "sent under the well-known key in a legacy join (permit-join window)",
                Some(ieee),
            );
        }
        self.events.push_back(Event::DeviceJoined { ieee, short, method, parent });
        self.events.push_back(Event::KeyDelivered { ieee, key_seq: self.active_seq, protection });
        self.audit(
            Severity::Info,
            AuditKind::DeviceJoined,
            Some(ieee),
            format!("joined as {short} via {parent} ({method:?})"),
        );
    }

    pub(super) fn association(&mut self, ieee: ExtAddr, capability: CapabilityInfo) {
        let (pan, tc) = self.cfg();
        let (status, short, grant) = match self.admission(ieee) {
            Ok(g) => {
                let short = match self.devices.get(&ieee) {
                    // A known device with a secret link key gets a fresh address (see
                    // `admit_device`); others keep theirs.
                    Some(d)
                        if self.by_short.get(&d.short_addr).is_none_or(|i| *i == ieee)
                            && self.link_key_of(ieee).1.is_public() =>
                    {
                        d.short_addr
                    }
                    _ => self.allocate_short(),
                };
                (AssociationStatus::Success, short, Some(g))
            }
            Err(r) => {
                self.deny_join(ieee, r);
                (AssociationStatus::PanAccessDenied, ShortAddr(0xffff), None)
            }
        };
        self.mac_seq = self.mac_seq.wrapping_add(1);
        let mut resp = Vec::new();
        MacFrame::association_response(self.mac_seq, pan, ieee, tc, short, status).emit(&mut resp);
        self.transmits.push_back(Transmit {
            psdu: resp,
            indirect: true,
            what: "association-response",
        });
        let Some((link, protection)) = grant else { return };
        self.admit_device(ieee, short, capability.0, ShortAddr::COORDINATOR, &link, protection);
        // First key delivery: NWK unsecured (the joiner has no network key yet).
        let (aps, _) = self.transport_network_key_aps(ieee, link.as_ref(), false);
        let mut h = self.nwk_header(NwkFrameType::Data, short);
        h.src_ieee = None;
        self.send_nwk_plain(h, &aps, short, "transport-key");
        self.include_in_rotation(ieee);
    }

    /// A router reports a child that joined, rejoined or left.
    pub(super) fn update_device(
        &mut self,
        router: ExtAddr,
        r_short: ShortAddr,
        device: ExtAddr,
        short: ShortAddr,
        status: UpdateDeviceStatus,
    ) {
        match status {
            UpdateDeviceStatus::UnsecuredJoin => match self.admission(device) {
                Ok((link, protection)) => {
                    let known_secret = self.devices.contains_key(&device)
                        && !self.link_key_of(device).1.is_public();
                    let short = if known_secret
                        || self.by_short.get(&short).is_some_and(|i| *i != device)
                    {
                        self.allocate_short()
                    } else {
                        short
                    };
                    self.admit_device(
                        device,
                        short,
                        CapabilityInfo::SLEEPY_END_DEVICE.0,
                        r_short,
                        &link,
                        protection,
                    );
                    self.volatile.entry(device).or_default().capability_unstated = true;
                    let (aps, _) = self.transport_network_key_aps(device, link.as_ref(), false);
                    self.tunnel(router, r_short, device, aps);
                    self.include_in_rotation(device);
                }
                Err(r) => self.deny_join(device, r),
            },
            UpdateDeviceStatus::TrustCenterRejoin => {
                let cap = self
                    .devices
                    .get(&device)
                    .map(|d| d.capability)
                    .unwrap_or(CapabilityInfo::SLEEPY_END_DEVICE.0);
                let via = RejoinVia::Router { router, router_short: r_short, short };
                self.answer_rejoin(device, cap, via);
            }
            UpdateDeviceStatus::SecuredRejoin => {
                // The router vouches for a secured rejoin; the record follows once the device
                // itself speaks from there.
                if let Some(d) = self.devices.get(&device).filter(|d| !d.tombstoned) {
                    let capability = d.capability;
                    let now = self.now;
                    self.volatile.entry(device).or_default().claimed = Some(Claim {
                        loc: Location { short, parent: r_short, capability },
                        at: now,
                        route: false,
                    });
                    self.events.push_back(Event::DeviceRejoined {
                        ieee: device,
                        short,
                        secured: true,
                    });
                }
            }
            _ => {}
        }
    }
}

/// A random number as a unicast short address: 0x0001..=0xfff6 (0x0000 is the coordinator,
/// 0xfff7 and up are reserved or broadcast).
fn short_from(r: u64) -> ShortAddr {
    ShortAddr(1 + (r % 0xfff6) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_addresses_cover_exactly_the_unicast_range() {
        assert_eq!(short_from(0), ShortAddr(1));
        assert_eq!(short_from(0xfff5), ShortAddr(0xfff6));
        assert_eq!(short_from(0xfff6), ShortAddr(1), "wraps, never 0xfff7");
        assert_eq!(short_from(u64::MAX), ShortAddr(1 + (u64::MAX % 0xfff6) as u16));
        for r in [7u64, 0xfff6 * 3 + 5, 1 << 40] {
            assert_eq!(short_from(r).0 as u64, 1 + r % 0xfff6);
        }
    }
}
