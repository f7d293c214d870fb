use super::*;

impl TrustCenter {
    pub(super) fn request_tclk(&mut self, ieee: ExtAddr, short: ShortAddr, seq: u8) {
        if self.devices.get(&ieee).is_none_or(|d| d.tombstoned) {
            return;
        }
        let (link, protection) = self.link_key_of(ieee);
        if protection.is_public() {
            // The new key would travel under the key-load key of a public link key, inside a
            // network key that anyone given it under the well-known key can read (now, or later
            // from a recording): it would be no secret, only a key an attacker could install in
            // the device's name. Refused; the device keeps the well-known key, and the user is
            // told to re-pair it with its install code for a secret key.
            self.events.push_back(Event::TclkUpdateRefused { ieee });
            self.audit(
                Severity::Warning,
                AuditKind::TclkUpdateRefused,
                Some(ieee),
                "TC link key update refused: the device's link key is public, so the new key would \
                 be too; re-pair it with its install code for a secret key"
                    .into(),
            );
            return;
        }
        let new = self.rng.key();
        let tc = self.cfg().1;
        let tk =
            ApsCommand::TransportKey(TransportKey::trust_center_link_key(new.clone(), ieee, tc));
        let (aps, _) = self.aps_command(&tk, Some(KeyId::KeyLoad), link.as_ref(), false);
        self.pending_tclk.insert(ieee, new);
        let parent = self.devices.get(&ieee).map_or(ShortAddr::COORDINATOR, |d| d.parent);
        let h = self.nwk_header(NwkFrameType::Data, short);
        self.send_nwk_secured(h, &aps, seq, next_hop(short, parent), "transport-key-tclk");
    }

    pub(super) fn verify_key(&mut self, ieee: ExtAddr, short: ShortAddr, hash: [u8; 16], seq: u8) {
        let Some(new) = self.pending_tclk.get(&ieee) else { return };
        let status = if verify_key_hash(new) == hash { 0x00 } else { 0xad }; // 0xad: SECURITY_FAIL
        let new = new.clone();
        if status == 0 {
            self.pending_tclk.remove(&ieee);
            let Some(d) = self.devices.get_mut(&ieee) else { return };
            d.tclk = Some(new.clone());
            d.tclk_verified = true;
            // APS counters belong to a key pair: the device may start again under the new key.
            d.incoming_aps_counter = None;
            let rec = d.clone();
            self.writes.push(StoreWrite::Device(rec));
            self.events.push_back(Event::TclkVerified { ieee });
            self.audit(
                Severity::Info,
                AuditKind::TclkVerified,
                Some(ieee),
                "unique trust center link key verified".into(),
            );
        }
        let ck =
            ApsCommand::ConfirmKey { status, key_type: KeyType::TrustCenterLinkKey, dst: ieee };
        let key = if status == 0 { Some(new) } else { self.link_key_of(ieee).0 };
        let (aps, _) = self.aps_command(&ck, Some(KeyId::Data), key.as_ref(), false);
        let parent = self.devices[&ieee].parent;
        let h = self.nwk_header(NwkFrameType::Data, short);
        self.send_nwk_secured(h, &aps, seq, next_hop(short, parent), "confirm-key");
    }
}
