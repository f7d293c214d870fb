use super::*;

impl TrustCenter {
    pub(super) fn cfg(&self) -> (PanId, ExtAddr) {
        let n = self.network.as_ref().expect("frames are only built on a formed network");
        (n.pan_id, n.tc_ieee)
    }

    pub(super) fn nwk_header(&mut self, ft: NwkFrameType, dst: ShortAddr) -> NwkHeader {
        self.nwk_seq = self.nwk_seq.wrapping_add(1);
        let mut h = NwkHeader::new(ft, dst, ShortAddr::COORDINATOR, 30, self.nwk_seq);
        h.src_ieee = Some(self.cfg().1);
        h
    }

    pub(super) fn mac_data(&mut self, next_hop: ShortAddr, nwk: &[u8]) -> Vec<u8> {
        self.mac_seq = self.mac_seq.wrapping_add(1);
        let hdr = MacHeader::data(
            self.mac_seq,
            self.cfg().0,
            Address::Short(next_hop),
            Address::Short(ShortAddr::COORDINATOR),
            !next_hop.is_broadcast(),
        );
        let mut out = Vec::with_capacity(nwk.len() + 9);
        MacFrame { header: hdr, body: MacBody::Data(nwk) }.emit(&mut out);
        out
    }

    pub(super) fn transmit(&mut self, next_hop: ShortAddr, nwk: &[u8], what: &'static str) {
        let psdu = self.mac_data(next_hop, nwk);
        let indirect = self
            .by_short
            .get(&next_hop)
            .and_then(|i| self.devices.get(i))
            .is_some_and(|d| d.capability & CapabilityInfo::RX_ON_WHEN_IDLE == 0);
        self.transmits.push_back(Transmit { psdu, indirect, what });
    }

    pub(super) fn send_nwk_secured(
        &mut self,
        h: NwkHeader,
        payload: &[u8],
        key_seq: u8,
        next_hop: ShortAddr,
        what: &'static str,
    ) {
        let mut h = h;
        let next_hop = self.apply_source_route(&mut h, next_hop);
        self.send_nwk_to_hop(h, payload, key_seq, next_hop, what);
    }

    /// [`Self::send_nwk_secured`] to `next_hop` exactly as given: no source route is added
    /// (a route reply goes back to the neighbour the request came from, one hop).
    pub(super) fn send_nwk_to_hop(
        &mut self,
        h: NwkHeader,
        payload: &[u8],
        key_seq: u8,
        next_hop: ShortAddr,
        what: &'static str,
    ) {
        if payload.is_empty() {
            return;
        }
        let Some(key) = self.keys.get(&key_seq).map(|k| k.key.clone()) else { return };
        let Some(fc) = self.next_counter(self.nwk_counter_for(key_seq)) else { return };
        let aux = AuxHeader::nwk(fc, self.cfg().1, key_seq);
        if let Ok(nwk) = secure_nwk(&h, &aux, payload, &key, ZIGBEE_PRO_LEVEL) {
            self.transmit(next_hop, &nwk, what);
        }
    }

    pub(super) fn send_nwk_plain(
        &mut self,
        h: NwkHeader,
        payload: &[u8],
        next_hop: ShortAddr,
        what: &'static str,
    ) {
        if payload.is_empty() {
            return;
        }
        let mut h = h;
        let next_hop = self.apply_source_route(&mut h, next_hop);
        let mut nwk = Vec::with_capacity(h.buffer_len() + payload.len());
        h.emit(&mut nwk);
        nwk.extend_from_slice(payload);
        self.transmit(next_hop, &nwk, what);
    }

    pub(super) fn next_aps_ctr(&mut self) -> u8 {
        self.aps_ctr = self.aps_ctr.wrapping_add(1);
        self.aps_ctr
    }

    /// The next APS counter of the coordinator, for an application frame the shell builds
    /// (e.g. a ZDO response): one counter for everything the coordinator sends, so a device's
    /// duplicate rejection never takes a fresh frame for a repeat of one the core sent.
    pub fn next_aps_counter(&mut self) -> u8 {
        self.next_aps_ctr()
    }

    /// An APS command frame, APS-secured with `key_id` derived from `link_key` (None: the
    /// well-known key), or unsecured when `key_id` is None.
    pub(super) fn aps_command(
        &mut self,
        cmd: &ApsCommand,
        key_id: Option<KeyId>,
        link_key: Option<&Key>,
        ack: bool,
    ) -> (Vec<u8>, u8) {
        let ctr = self.next_aps_ctr();
        (self.aps_command_numbered(cmd, key_id, link_key, ack, ctr), ctr)
    }

    /// [`Self::aps_command`] with a given APS counter: a retry carries its first copy's
    /// counter, but a fresh security frame counter (a device that took the first copy rejects
    /// a repeated security counter as a replay, and never sees the same nonce twice).
    pub(super) fn aps_command_numbered(
        &mut self,
        cmd: &ApsCommand,
        key_id: Option<KeyId>,
        link_key: Option<&Key>,
        ack: bool,
        ctr: u8,
    ) -> Vec<u8> {
        let mut hdr = ApsHeader::command(ctr, key_id.is_some());
        hdr.ack_request = ack;
        let tc = self.cfg().1;
        match key_id {
            None => aps_command_frame(&hdr, cmd, None, ZIGBEE_PRO_LEVEL, None),
            Some(key_id) => {
                let base = link_key.cloned().unwrap_or_else(Key::well_known_tc_link_key);
                let Some(fc) = self.next_counter(CounterKind::Aps) else { return vec![] };
                let aux = AuxHeader::aps(key_id, fc, Some(tc));
                aps_command_frame(&hdr, cmd, Some((&aux, &base)), ZIGBEE_PRO_LEVEL, Some(tc))
            }
        }
        .unwrap_or_default()
    }

    /// The device's current link key and how it protects a key sent under it. A device that
    /// joined under the well-known key has a public link key for good: a unique key it got
    /// from an update (stores written before such updates were refused) travelled under
    /// public keys, so it is [`KeyProtection::ExposedLinkKey`].
    pub(super) fn link_key_of(&self, ieee: ExtAddr) -> (Option<Key>, KeyProtection) {
        match self.devices.get(&ieee) {
            Some(d) if d.join_method == JoinMethod::WellKnownKey => match &d.tclk {
                Some(k) => (Some(k.clone()), KeyProtection::ExposedLinkKey),
                None => (None, KeyProtection::WellKnownKey),
            },
            Some(d) if d.tclk.is_some() => {
                let p = if d.tclk_verified {
                    KeyProtection::UniqueTclk
                } else {
                    KeyProtection::InstallCodeKey
                };
                (d.tclk.clone(), p)
            }
            _ => match self.install_codes.get(&ieee) {
                Some(k) => (Some(k.clone()), KeyProtection::InstallCodeKey),
                None => (None, KeyProtection::WellKnownKey),
            },
        }
    }

    pub(super) fn transport_network_key_aps(
        &mut self,
        ieee: ExtAddr,
        link: Option<&Key>,
        ack: bool,
    ) -> (Vec<u8>, u8) {
        let key = self.active_key();
        let tc = self.cfg().1;
        let tk = ApsCommand::TransportKey(TransportKey::network(key, self.active_seq, ieee, tc));
        self.aps_command(&tk, Some(KeyId::KeyTransport), link, ack)
    }

    /// Sends an application APS frame (ZCL/ZDO data, an APS ack) from the hub to a device,
    /// NWK-secured under the active key with the core's own leased frame counter: the hub
    /// application and the Trust Center share one NWK counter, so neighbours never see it go
    /// backwards. Returns false if the network is not formed or the device is unknown or
    /// removed.
    pub fn send_application(&mut self, now: Millis, dst: ExtAddr, aps_frame: &[u8]) -> bool {
        self.advance(now);
        if self.network.is_none() {
            return false;
        }
        if self.devices.get(&dst).is_none_or(|d| d.tombstoned) {
            return false;
        }
        let Some(loc) = self.location_of(dst) else { return false };
        let (short, parent) = (loc.short, loc.parent);
        let mut h = self.nwk_header(NwkFrameType::Data, short);
        h.dst_ieee = Some(dst);
        self.send_nwk_secured(
            h,
            aps_frame,
            self.active_seq,
            next_hop(short, parent),
            "application",
        );
        true
    }

    /// Broadcasts an application APS frame (built with an APS broadcast header, e.g. a ZDO
    /// Mgmt_Permit_Joining_req) from the hub to the NWK broadcast address `dst` (0xfffc
    /// routers, 0xfffd rx-on-when-idle devices, 0xffff everyone, 0xfffb low-power routers),
    /// NWK-secured under the active key with the core's one NWK frame counter, as a MAC
    /// broadcast (no MAC ack). Sleepy children only get it from a router that holds it for
    /// them: the coordinator's radio does not queue broadcasts. Returns false (and sends
    /// nothing) if the network is not formed, `dst` is not one of those broadcast addresses or
    /// the frame is empty.
    pub fn send_broadcast(&mut self, now: Millis, dst: ShortAddr, aps_frame: &[u8]) -> bool {
        self.advance(now);
        if self.network.is_none() || dst.0 < ShortAddr::LOW_POWER_ROUTERS.0 || aps_frame.is_empty()
        {
            return false;
        }
        let h = self.nwk_header(NwkFrameType::Data, dst);
        self.send_nwk_secured(h, aps_frame, self.active_seq, ShortAddr::BROADCAST, "broadcast");
        true
    }

    /// Tunnels an APS frame for `dst` to its parent router.
    pub(super) fn tunnel(
        &mut self,
        r_ieee: ExtAddr,
        r_short: ShortAddr,
        dst: ExtAddr,
        inner: Vec<u8>,
    ) {
        let (rk, rprot) = self.link_key_of(r_ieee);
        let rk = (rprot != KeyProtection::WellKnownKey).then_some(rk).flatten();
        // (An exposed link key is still the key the router holds: the tunnel uses it.)
        let (aps, _) = self.aps_command(
            &ApsCommand::Tunnel { dst, frame: inner },
            Some(KeyId::Data),
            rk.as_ref(),
            false,
        );
        let h = self.nwk_header(NwkFrameType::Data, r_short);
        self.send_nwk_secured(h, &aps, self.active_seq, r_short, "tunnel");
    }

    /// The active network key. A store guarantees it exists; a broken snapshot yields an
    /// all-zero key rather than a panic (frames under it are useless, never dangerous).
    pub(super) fn active_key(&self) -> Key {
        self.keys.get(&self.active_seq).map(|k| k.key.clone()).unwrap_or(Key::from_bytes([0; 16]))
    }
}
