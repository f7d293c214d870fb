//! Rejoins: secured (under the current network key) and Trust Center (unsecured) rejoins,
//! with the insecure-rejoin policy, spoof detection, rate limits and claimed locations.

use super::*;

impl TrustCenter {
    pub(super) fn secured_rejoin(
        &mut self,
        h: &NwkHeader,
        sender: ExtAddr,
        seq: u8,
        capability: CapabilityInfo,
    ) {
        let ieee = sender;
        let Some(d) = self.devices.get(&ieee) else { return };
        let loc = Location {
            short: d.short_addr,
            parent: ShortAddr::COORDINATOR,
            capability: capability.0,
        };
        // Authenticated by the current network key: the device is where it speaks from.
        self.move_device(ieee, loc);
        let short = loc.short;
        let mut rh = self.nwk_header(NwkFrameType::Command, h.src);
        rh.dst_ieee = Some(ieee);
        let mut p = Vec::new();
        NwkCommand::RejoinResponse { short_addr: short, status: 0 }.emit(&mut p);
        self.send_nwk_secured(rh, &p, seq, h.src, "rejoin-response");
        self.events.push_back(Event::DeviceRejoined { ieee, short, secured: true });
        self.audit(
            Severity::Info,
            AuditKind::DeviceRejoined,
            Some(ieee),
            format!("secured rejoin under key {seq}"),
        );
    }

    /// Applies a location the device proved (or that an authenticated frame reported).
    pub(super) fn move_device(&mut self, ieee: ExtAddr, loc: Location) {
        let taken = self.by_short.get(&loc.short).is_some_and(|i| *i != ieee);
        let Some(d) = self.devices.get_mut(&ieee) else { return };
        let old_short = d.short_addr;
        if loc.short != old_short && !taken && !loc.short.is_broadcast() {
            d.short_addr = loc.short;
        }
        d.parent = loc.parent;
        d.capability = loc.capability;
        d.last_seen = self.now;
        let (new_short, rec) = (d.short_addr, d.clone());
        self.writes.push(StoreWrite::Device(rec));
        self.forget_route(old_short);
        self.forget_route(new_short);
        if new_short != old_short {
            if self.by_short.get(&old_short) == Some(&ieee) {
                self.by_short.remove(&old_short);
            }
            self.by_short.insert(new_short, ieee);
        }
    }

    /// Where frames for `ieee` go: a location it claimed in a rejoin (answers must reach the
    /// genuine device where it is now), else the stored one.
    pub(super) fn location_of(&self, ieee: ExtAddr) -> Option<Location> {
        let now = self.now;
        if let Some(c) = self.volatile.get(&ieee).and_then(|v| v.claimed) {
            if c.route && now.saturating_sub(c.at) < CLAIM_TTL_MS {
                return Some(c.loc);
            }
        }
        let d = self.devices.get(&ieee)?;
        Some(Location { short: d.short_addr, parent: d.parent, capability: d.capability })
    }

    pub(super) fn reject_rejoin(
        &mut self,
        ieee: ExtAddr,
        short: ShortAddr,
        reason: DenyReason,
        secured_seq: Option<u8>,
    ) {
        self.events.push_back(Event::RejoinDenied { ieee, reason });
        self.audit(Severity::Warning, AuditKind::RejoinDenied, Some(ieee), format!("{reason:?}"));
        // A suspected spoof (also one refused by `deny`) gets what the policy says: nothing,
        // with `ignore`.
        let spoof = reason == DenyReason::SuspectedSpoof
            || (reason == DenyReason::PolicyDeny && self.spoke_recently(ieee));
        if spoof && self.policy.spoof_response == SpoofResponse::Ignore {
            return;
        }
        // A refusal costs airtime only; under a flood it is not repeated for the same device.
        // (Its own budget: refusals a spoofer provokes must not spend the device's budget
        // for real answers.)
        let now = self.now;
        let expired = |t: &Millis| now.saturating_sub(*t) >= RATE_WINDOW_MS;
        while self.global_refusals.front().is_some_and(expired) {
            self.global_refusals.pop_front();
        }
        let v = self.volatile.entry(ieee).or_default();
        while v.refusals.front().is_some_and(expired) {
            v.refusals.pop_front();
        }
        if v.refusals.len() >= REJOINS_PER_DEVICE || self.global_refusals.len() >= REFUSALS_GLOBAL {
            return;
        }
        v.refusals.push_back(now);
        self.global_refusals.push_back(now);
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

    /// Rate limits, for answers a sniffer can read (a key under a public key) and refusals;
    /// true if this one may proceed. Answers only the genuine device can read are never
    /// limited: a spoofer's frames must not spend a genuine device's budget.
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

    /// A Trust Center (unsecured) rejoin, directly to the coordinator.
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
        self.answer_rejoin(ieee, capability.0, RejoinVia::Direct { short });
    }

    /// Evaluates a Trust Center rejoin (direct or reported by a router) and answers it.
    pub(super) fn answer_rejoin(&mut self, ieee: ExtAddr, capability: u8, via: RejoinVia) {
        let short = match via {
            RejoinVia::Direct { short } => short,
            RejoinVia::Router { router, router_short, .. } => {
                // The router answers its child itself; the key goes tunnelled through it.
                match self.trust_center_rejoin(ieee, capability, via) {
                    Ok(None) => {}
                    Ok(Some(grant)) => {
                        self.send_rejoin_key(ieee, grant, Some((router, router_short)));
                        self.include_in_rotation(ieee);
                        self.maybe_resync(ieee);
                    }
                    Err(reason) => {
                        self.events.push_back(Event::RejoinDenied { ieee, reason });
                        self.audit(
                            Severity::Warning,
                            AuditKind::RejoinDenied,
                            Some(ieee),
                            format!("{reason:?} (via {router_short})"),
                        );
                    }
                }
                return;
            }
        };
        match self.trust_center_rejoin(ieee, capability, via) {
            Ok(None) => {}
            Ok(Some(grant)) => {
                let Some(loc) = self.location_of(ieee) else { return };
                if self.by_short.get(&short).is_some_and(|i| *i != ieee) {
                    // Requested from another device's address (a spoof, or a conflict the
                    // device resolves by rejoining again): the answer goes only where this
                    // device is known to be.
                    self.send_rejoin_key(ieee, grant, None);
                    self.include_in_rotation(ieee);
                    self.maybe_resync(ieee);
                    return;
                }
                let mut rh = self.nwk_header(NwkFrameType::Command, short);
                rh.dst_ieee = Some(ieee);
                let mut p = Vec::new();
                NwkCommand::RejoinResponse { short_addr: loc.short, status: 0 }.emit(&mut p);
                self.send_nwk_plain(rh, &p, short, "rejoin-response");
                self.send_rejoin_key(ieee, grant, None);
                self.include_in_rotation(ieee);
                self.maybe_resync(ieee);
            }
            Err(reason) => self.reject_rejoin(ieee, short, reason, None),
        }
    }

    /// Decides a Trust Center rejoin. On success the device's claimed location is held (the
    /// stored record changes only once it speaks from there) and the grant says how to send
    /// the key.
    pub(super) fn trust_center_rejoin(
        &mut self,
        ieee: ExtAddr,
        capability: u8,
        via: RejoinVia,
    ) -> Result<Option<Grant>, DenyReason> {
        let (short, parent) = (via.short(), via.parent());
        let Some(d) = self.devices.get(&ieee) else {
            // Unknown device: this is a join, subject to the join rules.
            let (link, protection) = self.admission(ieee)?;
            let short = if self.by_short.contains_key(&short) || short.is_broadcast() {
                self.allocate_short()
            } else {
                short
            };
            if protection.is_public() && !self.rate_ok(ieee) {
                return Err(DenyReason::RateLimited);
            }
            self.admit_device(ieee, short, capability, parent, &link, protection);
            return Ok(Some(Grant::LinkKey(link)));
        };
        if d.tombstoned {
            return Err(DenyReason::Tombstoned);
        }
        let (link, protection) = self.link_key_of(ieee);
        let spoke_recently = self.spoke_recently(ieee);
        // A device that holds a key newer than the active one (the pending rotation key) was
        // given it under the active key, so it holds that one too, and the answer goes under
        // it: a frame under the rotation key before the Switch-Key makes every device that
        // hears it and holds that key switch early (Zigbee spec 4.3.1.2), away from the rest.
        let proven = self
            .held_key(&self.devices[&ieee])
            .map(|s| if is_newer(s, self.active_seq) { self.active_seq } else { s })
            .filter(|s| self.may_send_under(*s));
        let grant = if !protection.is_public() {
            // A unique or install-code key never travels in public: always allowed.
            Grant::LinkKey(link)
        } else {
            match self.policy.insecure_rejoin {
                InsecureRejoinPolicy::AllowLeakingKey => Grant::LinkKey(None),
                InsecureRejoinPolicy::Deny => {
                    // Detection does not depend on the answer: a strict hub is still told
                    // that someone is impersonating a live device.
                    if spoke_recently {
                        self.suspected_spoof(ieee, " (denied by policy)");
                    }
                    return Err(DenyReason::PolicyDeny);
                }
                InsecureRejoinPolicy::Adaptive => {
                    if spoke_recently {
                        self.suspected_spoof(ieee, "");
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
        // Only keys sent under a public link key are rate limited. A key under one the device
        // proved it holds reveals nothing new (`may_send_under`), so refusing it for rate would
        // only let spoofers spend a genuine device's budget.
        let public_answer = matches!(grant, Grant::LinkKey(_)) && protection.is_public();
        if public_answer && !self.rate_ok(ieee) {
            return Err(DenyReason::RateLimited);
        }
        // The device keeps its stored address: the rejoin response (sent to where the request
        // came from) tells it so, and everything after it goes there. An answer to a made-up
        // address could otherwise be overheard by the genuine device mid-rejoin and move it.
        let stored = self.devices[&ieee].short_addr;
        let loc = Location { short: stored, parent, capability };
        if !public_answer && !self.answer_due(ieee, loc) {
            // Answered when the interval ends. A request from the stored address is the one
            // the answer's rejoin response must reach: later ones from elsewhere (spoofs from
            // made-up addresses) do not displace it.
            let at =
                self.volatile[&ieee].last_answer.map_or(self.now, |(t, _)| t) + ANSWER_INTERVAL_MS;
            let keep = short != stored
                && self.deferred_answers.get(&ieee).is_some_and(|d| d.via.short() == stored);
            if !keep {
                self.deferred_answers.insert(ieee, DeferredAnswer { at, via });
            }
            return Ok(None);
        }
        self.deferred_answers.remove(&ieee);
        let now = self.now;
        self.volatile.entry(ieee).or_default().claimed = Some(Claim { loc, at: now, route: true });
        Ok(Some(grant))
    }

    /// Whether an answer only the genuine device can read should go to `loc` now: not if the
    /// same one went there less than [`ANSWER_INTERVAL_MS`] ago (the genuine device there
    /// has it). Never a refusal: a spoofer can only make the TC skip answers nobody would read.
    fn answer_due(&mut self, ieee: ExtAddr, loc: Location) -> bool {
        let now = self.now;
        let v = self.volatile.entry(ieee).or_default();
        if v.last_answer
            .is_some_and(|(t, l)| l == loc && now.saturating_sub(t) < ANSWER_INTERVAL_MS)
        {
            return false;
        }
        v.last_answer = Some((now, loc));
        true
    }

    /// The device sent a frame under the current key in the last [`SPOOF_WINDOW_MS`]: it
    /// cannot need a well-known-key rejoin.
    fn spoke_recently(&self, ieee: ExtAddr) -> bool {
        self.volatile
            .get(&ieee)
            .and_then(|v| v.current_key_at)
            .is_some_and(|t| self.now.saturating_sub(t) < SPOOF_WINDOW_MS)
    }

    fn suspected_spoof(&mut self, ieee: ExtAddr, note: &str) {
        self.events.push_back(Event::SuspectedSpoof { ieee });
        self.audit(
            Severity::Alert,
            AuditKind::SuspectedSpoof,
            Some(ieee),
            format!(
                "well-known-key rejoin from a device that spoke under the current key moments \
                 ago{note}"
            ),
        );
    }

    /// Sends the network key after an accepted TC rejoin, directly or tunnelled via `router`.
    pub(super) fn send_rejoin_key(
        &mut self,
        ieee: ExtAddr,
        grant: Grant,
        router: Option<(ExtAddr, ShortAddr)>,
    ) {
        let Some(loc) = self.location_of(ieee) else { return };
        let short = loc.short;
        match grant {
            Grant::UnderNetworkKey(seq) => self.deliver_under_proven_key(ieee, seq, None),
            Grant::LinkKey(link) => {
                let protection = match &link {
                    None => KeyProtection::WellKnownKey,
                    Some(_) => self.link_key_of(ieee).1,
                };
                if protection.is_public() {
                    self.mark_exposed(
                        self.active_seq,
                        "sent under a public link key in a Trust Center rejoin",
                        Some(ieee),
                    );
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
                    AuditKind::DeviceRejoined,
                    Some(ieee),
                    format!("trust center rejoin, key under {protection:?}"),
                );
            }
        }
    }
}
