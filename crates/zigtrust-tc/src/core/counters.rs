use super::*;

impl TrustCenter {
    pub(super) fn next_counter(&mut self, kind: CounterKind) -> u32 {
        let c = match kind {
            CounterKind::Nwk => &mut self.nwk_fc,
            CounterKind::Aps => &mut self.aps_fc,
        };
        if c.next >= c.leased {
            c.leased = c.next.saturating_add(COUNTER_LEASE);
            let until = c.leased;
            self.writes.push(StoreWrite::CounterLease { kind, until });
        }
        let v = c.next;
        c.next += 1;
        v
    }

    /// Records that `ieee` sent a frame that verified under key `seq` with counter `fc`.
    pub(super) fn note_seen(&mut self, ieee: ExtAddr, seq: u8, fc: u32) {
        let now = self.now;
        let active = self.active_seq;
        let Some(d) = self.devices.get_mut(&ieee) else { return };
        if d.last_key_seq != Some(seq) && d.last_key_seq.is_none_or(|old| is_newer(seq, old)) {
            d.last_key_seq = Some(seq);
            d.incoming_nwk_counter = None;
        }
        if d.last_key_seq == Some(seq) {
            d.incoming_nwk_counter = Some(fc);
        }
        d.last_seen = now;
        let rec = d.clone();
        self.writes.push(StoreWrite::Device(rec));
        if seq == active {
            self.volatile.entry(ieee).or_default().current_key_at = Some(now);
        }
    }

    /// A frame that a router relayed for `ieee` verified: the device is alive. Only liveness:
    /// security is hop by hop, so the key the relayed frame used is the router's, not the
    /// originator's, and says nothing about which keys the originator holds.
    pub(super) fn note_alive(&mut self, ieee: ExtAddr) {
        let now = self.now;
        let Some(d) = self.devices.get_mut(&ieee) else { return };
        if d.last_seen == now {
            return;
        }
        d.last_seen = now;
        let rec = d.clone();
        self.writes.push(StoreWrite::Device(rec));
    }
}
