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
        if self.devices.contains_key(&ieee) {
            // Known device: only under the link key it holds (a secret one stays in use).
            let (k, p) = self.link_key_of(ieee);
            if !p.is_public() {
                return Ok((k, p));
            }
        }
        if let Some(k) = self.install_codes.get(&ieee) {
            return Ok((Some(k.clone()), KeyProtection::InstallCodeKey));
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
            let s = ShortAddr(1 + (self.rng.u64() % 0xfff6) as u16);
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
        let method = if protection == KeyProtection::InstallCodeKey {
            JoinMethod::InstallCode
        } else {
            JoinMethod::WellKnownKey
        };
        if let Some(old) = self.devices.get(&ieee) {
            self.by_short.remove(&old.short_addr);
        }
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
            last_seen: self.now,
            incoming_nwk_counter: None,
            stale_nwk_counters: Vec::new(),
            incoming_aps_counter: None,
            tombstoned: false,
        };
        // A device already known keeps what it proved: its unique link key and its counters
        // (a join in its name must not reset replay protection or downgrade its key).
        let rec = match self.devices.get(&ieee) {
            Some(old) if !old.tombstoned && !self.link_key_of(ieee).1.is_public() => {
                let mut r = rec;
                r.tclk = old.tclk.clone().or(r.tclk);
                r.tclk_verified = old.tclk_verified && old.tclk.is_some();
                r.join_method = old.join_method;
                r.incoming_aps_counter = old.incoming_aps_counter;
                r.incoming_nwk_counter = old.incoming_nwk_counter;
                r.stale_nwk_counters = old.stale_nwk_counters.clone();
                r.last_key_seq = old.last_key_seq.or(r.last_key_seq);
                r
            }
            _ => rec,
        };
        self.by_short.insert(short, ieee);
        self.writes.push(StoreWrite::Device(rec.clone()));
        self.devices.insert(ieee, rec);
        self.volatile.remove(&ieee);
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
                    Some(d) if self.by_short.get(&d.short_addr).is_none_or(|i| *i == ieee) => {
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
                    let short = if self.by_short.get(&short).is_some_and(|i| *i != device) {
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
                match self.trust_center_rejoin(device, short, cap, r_short) {
                    Ok(grant) => {
                        self.send_rejoin_key(device, grant, Some((router, r_short)));
                        self.include_in_rotation(device);
                        self.maybe_resync(device);
                    }
                    Err(reason) => {
                        self.events.push_back(Event::RejoinDenied { ieee: device, reason });
                        self.audit(
                            Severity::Warning,
                            AuditKind::RejoinDenied,
                            Some(device),
                            format!("{reason:?} (via {r_short})"),
                        );
                    }
                }
            }
            UpdateDeviceStatus::SecuredRejoin => {
                // The router vouches for a secured rejoin; the record follows once the device
                // itself speaks from there.
                if let Some(d) = self.devices.get(&device).filter(|d| !d.tombstoned) {
                    let capability = d.capability;
                    self.volatile.entry(device).or_default().claimed =
                        Some(Location { short, parent: r_short, capability });
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
