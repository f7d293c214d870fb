//! Outgoing counters (leased, never reused, never wrapped) and incoming replay protection.
//!
//! Incoming NWK counters are kept per device and per network key (`incoming_nwk_counter` for
//! the newest key it used, `stale_nwk_counters` for older ones), so a frame sent under a key
//! before a rotation cannot be replayed after it, and survive restarts with the record.
//!
//! Resynchronisation: a device whose counter is out of step — it lost its counter in a reboot,
//! or someone holding the network key forged a frame with a huge counter in its name — has its
//! frames dropped as replays. Lowering the mark on any evidence an outsider can produce would
//! reopen replays, so the mark is never lowered: when such a device (at least [`RESYNC_DROPS`]
//! drops below the mark under the current key since its last accepted frame; drops under a key
//! the network has left do not count, nor copies at the mark, which are retransmissions)
//! completes a Trust Center rejoin whose answer only the genuine device can read (or sends an
//! APS command under its secret link key with a fresh APS counter), the TC
//! rotates the network key (at most once per [`RESYNC_ROTATION_INTERVAL_MS`]), switching after
//! [`RESYNC_ROTATION_DEADLINE_MS`]: until then the device, and for a router all it relays, is
//! still cut off. Under an exposed current key drops that are no replay (counters between the
//! one accepted before the mark and the mark: never accepted, so no copy of anything) start it
//! alone: anyone holding that key can already force a resync (a forged high counter, then a
//! rejoin in the device's name), and a device with a public link key has nothing else to
//! prove itself with; a replayer without the key cannot make such a frame. Counters are per
//! key, so under the new key every device starts afresh and old frames do not verify at all.
//!
//! Limit: poisoning needs the network key. While a device with a public link key is on the
//! network every key is exposed, and an attacker who keeps forging can cut a device off again
//! after each resynchronising rotation, so at most for the hour between two; the property test
//! checks that every device recovers once the attacker stops. Counter-synchronisation
//! challenges under the link key (Zigbee R23) would close this for devices with secret keys.

use super::*;

impl TrustCenter {
    /// The next outgoing counter, leased durably first. `None` once the counter space is used
    /// up: the frame is then not sent (never a wrap, never a reuse).
    pub(super) fn next_counter(&mut self, kind: CounterKind) -> Option<u32> {
        let c = match kind {
            CounterKind::Nwk => &mut self.nwk_fc,
            CounterKind::Aps => &mut self.aps_fc,
            CounterKind::NwkRetired => &mut self.nwk_retired_fc,
        };
        if c.next == u32::MAX {
            return None;
        }
        if c.next >= c.leased {
            c.leased = c.next.saturating_add(COUNTER_LEASE);
            let until = c.leased;
            self.writes.push(StoreWrite::CounterLease { kind, until });
        }
        let v = c.next;
        c.next += 1;
        Some(v)
    }

    /// The NWK counter frames under key `seq` use: keys older than the last counter restart
    /// go on with the retired counter (above anything they ever used), newer ones with the
    /// restarted one.
    pub(super) fn nwk_counter_for(&self, seq: u8) -> CounterKind {
        let Some(rs) = self.nwk_restart_seq else { return CounterKind::Nwk };
        let since = self.keys.get(&rs).map_or(0, |k| k.created_at);
        match self.keys.get(&seq) {
            Some(k) if k.created_at < since => CounterKind::NwkRetired,
            _ => CounterKind::Nwk,
        }
    }

    /// The highest counter accepted from `ieee` under key `seq`, if any.
    pub(super) fn incoming_mark(&self, ieee: ExtAddr, seq: u8) -> Option<u32> {
        let d = self.devices.get(&ieee)?;
        if d.last_key_seq == Some(seq) {
            return d.incoming_nwk_counter;
        }
        d.stale_nwk_counters.iter().find(|(s, _)| *s == seq).map(|(_, c)| *c)
    }

    /// Replay check for a frame from `ieee` under key `seq` with counter `fc`; false (and a
    /// report) if it must be dropped.
    pub(super) fn nwk_counter_fresh(&mut self, ieee: ExtAddr, seq: u8, fc: u32) -> bool {
        let Some(last) = self.incoming_mark(ieee, seq) else { return true };
        if fc > last {
            return true;
        }
        // A frame at exactly the mark is most often a retransmission of the last accepted
        // one (its MAC ack was lost): it shows nothing about the device's counter being out
        // of step, which is what a resynchronisation is for.
        let mut resync = false;
        if seq == self.active_seq && fc < last {
            let exposed = self.key_exposed(seq);
            let v = self.volatile.entry(ieee).or_default();
            let drops = &mut v.replay_drops;
            *drops = if drops.0 == seq { (seq, drops.1 + 1) } else { (seq, 1) };
            // Under an exposed key anyone holding it can already force a resync (a forged
            // high counter, then a rejoin in the device's name), so drops that are no replay
            // are reason enough: a device with a public link key has no other way to prove
            // itself, and its children would give up before it notices and rejoins. A frame
            // above the counter accepted before the mark was never accepted: a replayer
            // without the key cannot make one.
            let no_replay = v.mark_before.is_some_and(|(s, b)| s == seq && fc > b);
            resync = drops.1 >= RESYNC_DROPS && exposed && no_replay;
        }
        self.events.push_back(Event::ReplayDropped { ieee, counter: fc, last });
        self.audit(
            Severity::Warning,
            AuditKind::ReplayDropped,
            Some(ieee),
            format!("NWK frame counter {fc} <= {last} under key {seq}"),
        );
        if resync {
            self.maybe_resync(ieee);
        }
        false
    }

    /// Records counter `fc` accepted from `ieee` under key `seq`. A newer key becomes the
    /// device's `last_key_seq`; the older key's mark moves to `stale_nwk_counters`.
    pub(super) fn record_counter(&mut self, ieee: ExtAddr, seq: u8, fc: u32) {
        let hash = self.keys.get(&seq).map(|k| key_hash(&k.key));
        let Some(d) = self.devices.get_mut(&ieee) else { return };
        if d.last_key_seq != Some(seq) && d.last_key_seq.is_none_or(|old| is_newer(seq, old)) {
            move_to_key(d, seq, hash);
        }
        if d.last_key_seq == Some(seq) {
            d.incoming_nwk_counter = Some(fc);
        } else {
            d.stale_nwk_counters.retain(|(s, _)| *s != seq);
            d.stale_nwk_counters.push((seq, fc));
            trim_stale(d);
        }
        let rec = d.clone();
        self.writes.push(StoreWrite::Device(rec));
    }

    /// Records that `ieee` sent a frame that verified under the active (or rotation) key `seq`.
    pub(super) fn note_seen(&mut self, ieee: ExtAddr, seq: u8, fc: u32) {
        let now = self.now;
        let active = self.active_seq;
        if let Some(d) = self.devices.get_mut(&ieee) {
            d.last_seen = now;
        }
        let before = self.incoming_mark(ieee, seq);
        self.volatile.entry(ieee).or_default().mark_before = before.map(|b| (seq, b));
        self.record_counter(ieee, seq, fc);
        if seq == active {
            let v = self.volatile.entry(ieee).or_default();
            v.current_key_at = Some(now);
            v.replay_drops = (seq, 0);
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

    /// After a rejoin only the genuine `ieee` can complete: if its frames were being dropped
    /// as replays, rotate so that its counter starts afresh under a new key (module docs).
    pub(super) fn maybe_resync(&mut self, ieee: ExtAddr) {
        let drops = match self.volatile.get(&ieee).map(|v| v.replay_drops) {
            Some((seq, n)) if seq == self.active_seq => n,
            _ => 0,
        };
        if drops < RESYNC_DROPS || self.rotation.is_some() {
            return;
        }
        if self
            .last_resync_rotation
            .is_some_and(|t| self.now.saturating_sub(t) < RESYNC_ROTATION_INTERVAL_MS)
        {
            return;
        }
        self.last_resync_rotation = Some(self.now);
        if let Some(v) = self.volatile.get_mut(&ieee) {
            v.replay_drops.1 = 0;
        }
        self.audit(
            Severity::Warning,
            AuditKind::CounterResync,
            Some(ieee),
            format!("{drops} of its frames dropped as replays under the current key: rotating"),
        );
        let _ = self.start_rotation(RESYNC_ROTATION_DEADLINE_MS);
    }

    /// Whether the outgoing NWK counter is near its end with no rotation under way yet.
    pub(super) fn counter_exhausted(&self) -> bool {
        self.network.is_some()
            && self.rotation.is_none()
            && self.nwk_fc.next >= NWK_COUNTER_ROTATE_AT
    }

    /// Starts a rotation when the outgoing NWK counter nears its end (also right after a
    /// restore from a backup whose counters are near the top).
    pub(super) fn check_counter_exhaustion(&mut self) {
        if !self.counter_exhausted() {
            return;
        }
        self.audit(
            Severity::Warning,
            AuditKind::CounterExhaustion,
            None,
            format!("outgoing NWK frame counter at {}: rotating the network key", self.nwk_fc.next),
        );
        let _ = self.start_rotation(AUTO_ROTATION_DEADLINE_MS);
    }
}

/// The device now holds key `seq` (newer than what it had): its current mark moves to the
/// older-key list.
pub(super) fn move_to_key(d: &mut DeviceRecord, seq: u8, hash: Option<u32>) {
    if let (Some(old), Some(c)) = (d.last_key_seq, d.incoming_nwk_counter) {
        d.stale_nwk_counters.retain(|(s, _)| *s != old);
        d.stale_nwk_counters.push((old, c));
    }
    d.stale_nwk_counters.retain(|(s, _)| *s != seq);
    d.last_key_seq = Some(seq);
    d.last_key_hash = hash;
    d.incoming_nwk_counter = None;
    trim_stale(d);
}

fn trim_stale(d: &mut DeviceRecord) {
    if d.stale_nwk_counters.len() > STALE_COUNTERS_KEPT {
        let drop = d.stale_nwk_counters.len() - STALE_COUNTERS_KEPT;
        d.stale_nwk_counters.drain(..drop);
    }
}
