use super::*;

impl TrustCenter {
    pub(super) fn secured_rejoin(
        &mut self,
        h: &NwkHeader,
        sender: ExtAddr,
        seq: u8,
        capability: CapabilityInfo,
    ) {
        let ieee = h.src_ieee.unwrap_or(sender);
        let Some(d) = self.devices.get(&ieee) else { return };
        if d.tombstoned {
            self.reject_rejoin(ieee, h.src, DenyReason::Tombstoned, Some(seq));
            return;
        }
        let short = d.short_addr;
        let mut rec = d.clone();
        rec.capability = capability.0;
        rec.parent = ShortAddr::COORDINATOR;
        self.writes.push(StoreWrite::Device(rec.clone()));
        self.devices.insert(ieee, rec);
        let mut rh = self.nwk_header(NwkFrameType::Command, h.src);
        rh.dst_ieee = Some(ieee);
        let mut p = Vec::new();
        NwkCommand::RejoinResponse { short_addr: short, status: 0 }.emit(&mut p);
        self.send_nwk_secured(rh, &p, seq, h.src, "rejoin-response");
        self.events.push_back(Event::DeviceRejoined { ieee, short, secured: true });
        self.audit(
            Severity::Info,
            "device-rejoined",
            Some(ieee),
            format!("secured rejoin under key {seq}"),
        );
    }

    pub(super) fn reject_rejoin(
        &mut self,
        ieee: ExtAddr,
        short: ShortAddr,
        reason: DenyReason,
        secured_seq: Option<u8>,
    ) {
        self.events.push_back(Event::RejoinDenied { ieee, reason });
        self.audit(Severity::Warning, "rejoin-denied", Some(ieee), format!("{reason:?}"));
        if reason == DenyReason::SuspectedSpoof
            && self.policy.spoof_response == SpoofResponse::Ignore
        {
            return;
        }
        let mut rh = self.nwk_header(NwkFrameType::Command, short);
        rh.dst_ieee = Some(ieee);
        let mut p = Vec::new();
        NwkCommand::RejoinResponse {
            short_addr: ShortAddr(0xffff),
            status: AssociationStatus::PanAccessDenied.to_u8(),
        }
        .emit(&mut p);
        match secured_seq {
            Some(seq) => self.send_nwk_secured(rh, &p, seq, short, "rejoin-response"),
            None => {
                rh.src_ieee = Some(self.cfg().1);
                self.send_nwk_plain(rh, &p, short, "rejoin-response");
            }
        }
    }

    /// Rate limits for Trust Center rejoins; true if this one may proceed.
    pub(super) fn rate_ok(&mut self, ieee: ExtAddr) -> bool {
        let now = self.now;
        let trim = |q: &mut VecDeque<Millis>| {
            while q.front().is_some_and(|t| now.saturating_sub(*t) >= RATE_WINDOW_MS) {
                q.pop_front();
            }
        };
        trim(&mut self.global_rejoins);
        let v = self.volatile.entry(ieee).or_default();
        trim(&mut v.rejoins);
        if v.rejoins.len() >= REJOINS_PER_DEVICE || self.global_rejoins.len() >= REJOINS_GLOBAL {
            return false;
        }
        v.rejoins.push_back(now);
        self.global_rejoins.push_back(now);
        true
    }

    /// A Trust Center (unsecured) rejoin, directly to the coordinator or reported by a router
    /// (`via`) in an Update-Device.
    pub(super) fn unsecured_rejoin(
        &mut self,
        h: &NwkHeader,
        capability: CapabilityInfo,
        mac_src: Address,
    ) {
        let Some(ieee) = h.src_ieee else { return };
        let short = match mac_src {
            Address::Short(s) => s,
            _ => h.src,
        };
        match self.trust_center_rejoin(ieee, short, capability.0, ShortAddr::COORDINATOR) {
            Ok(grant) => {
                let mut rh = self.nwk_header(NwkFrameType::Command, short);
                rh.dst_ieee = Some(ieee);
                let mut p = Vec::new();
                let new_short = self.devices[&ieee].short_addr;
                NwkCommand::RejoinResponse { short_addr: new_short, status: 0 }.emit(&mut p);
                self.send_nwk_plain(rh, &p, short, "rejoin-response");
                self.send_rejoin_key(ieee, grant, None);
                self.include_in_rotation(ieee);
            }
            Err(reason) => self.reject_rejoin(ieee, short, reason, None),
        }
    }

    /// Decides a Trust Center rejoin; on success the device record is updated and the grant
    /// says how to send the key.
    pub(super) fn trust_center_rejoin(
        &mut self,
        ieee: ExtAddr,
        short: ShortAddr,
        capability: u8,
        parent: ShortAddr,
    ) -> Result<Grant, DenyReason> {
        let Some(d) = self.devices.get(&ieee) else {
            // Unknown device: this is a join, subject to the join rules.
            let (link, protection) = self.admission(ieee)?;
            let short = if self.by_short.contains_key(&short) || short.is_broadcast() {
                self.allocate_short()
            } else {
                short
            };
            self.admit_device(ieee, short, capability, parent, &link, protection);
            return Ok(Grant::LinkKey(link));
        };
        if d.tombstoned {
            return Err(DenyReason::Tombstoned);
        }
        if !self.rate_ok(ieee) {
            return Err(DenyReason::RateLimited);
        }
        let (link, protection) = self.link_key_of(ieee);
        let spoke_recently = self
            .volatile
            .get(&ieee)
            .and_then(|v| v.current_key_at)
            .is_some_and(|t| self.now.saturating_sub(t) < SPOOF_WINDOW_MS);
        let proven = self.devices[&ieee].last_key_seq.filter(|s| self.may_send_under(*s));
        let grant = if protection != KeyProtection::WellKnownKey {
            // A unique or install-code key never travels in public: always allowed.
            Grant::LinkKey(link)
        } else {
            match self.policy.insecure_rejoin {
                InsecureRejoinPolicy::Allow => Grant::LinkKey(None),
                InsecureRejoinPolicy::Deny => {
                    // Detection does not depend on the answer: a strict hub is still told
                    // that someone is impersonating a live device.
                    if spoke_recently {
                        self.events.push_back(Event::SuspectedSpoof { ieee });
                        self.audit(Severity::Alert, "suspected-spoof", Some(ieee), "well-known-key rejoin from a device that spoke under the current key moments ago (denied by policy)".into());
                    }
                    return Err(DenyReason::PolicyDeny);
                }
                InsecureRejoinPolicy::Adaptive => {
                    if spoke_recently {
                        self.events.push_back(Event::SuspectedSpoof { ieee });
                        self.audit(Severity::Alert, "suspected-spoof", Some(ieee), "well-known-key rejoin from a device that spoke under the current key moments ago".into());
                        // Never the well-known key. The genuine device (e.g. one whose parent
                        // or hub just went away) can read the key under one it holds; a spoofer
                        // cannot, so answering that way strands nobody and leaks nothing.
                        match proven {
                            Some(seq) => Grant::UnderNetworkKey(seq),
                            None => return Err(DenyReason::SuspectedSpoof),
                        }
                    } else if let Some(seq) = proven {
                        Grant::UnderNetworkKey(seq)
                    } else if self.rejoin_window_until.is_some_and(|u| self.now < u) {
                        Grant::LinkKey(None)
                    } else {
                        return Err(DenyReason::NoReasonToTrust);
                    }
                }
            }
        };
        let mut rec = self.devices[&ieee].clone();
        if rec.short_addr != short
            && !short.is_broadcast()
            && self.by_short.get(&short).is_none_or(|i| *i == ieee)
        {
            self.by_short.remove(&rec.short_addr);
            rec.short_addr = short;
            self.by_short.insert(short, ieee);
        }
        rec.capability = capability;
        rec.parent = parent;
        rec.last_seen = self.now;
        self.writes.push(StoreWrite::Device(rec.clone()));
        self.devices.insert(ieee, rec);
        Ok(grant)
    }

    /// Sends the network key after an accepted TC rejoin, directly or tunnelled via `router`.
    pub(super) fn send_rejoin_key(
        &mut self,
        ieee: ExtAddr,
        grant: Grant,
        router: Option<(ExtAddr, ShortAddr)>,
    ) {
        let short = self.devices[&ieee].short_addr;
        match grant {
            Grant::UnderNetworkKey(seq) => self.deliver_under_proven_key(ieee, seq),
            Grant::LinkKey(link) => {
                let protection = match &link {
                    None => KeyProtection::WellKnownKey,
                    Some(_) => self.link_key_of(ieee).1,
                };
                if protection == KeyProtection::WellKnownKey {
                    self.mark_exposed(self.active_seq, "well-known-key rejoin", ieee);
                }
                let (aps, _) = self.transport_network_key_aps(ieee, link.as_ref(), false);
                match router {
                    None => {
                        let mut h = self.nwk_header(NwkFrameType::Data, short);
                        h.src_ieee = None;
                        self.send_nwk_plain(h, &aps, short, "transport-key");
                    }
                    Some((r_ieee, r_short)) => self.tunnel(r_ieee, r_short, ieee, aps),
                }
                self.events.push_back(Event::KeyDelivered {
                    ieee,
                    key_seq: self.active_seq,
                    protection,
                });
                self.events.push_back(Event::DeviceRejoined { ieee, short, secured: false });
                self.audit(
                    Severity::Info,
                    "device-rejoined",
                    Some(ieee),
                    format!("trust center rejoin, key under {protection:?}"),
                );
            }
        }
    }
}
