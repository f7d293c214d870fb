//! The [`Hub`]: the Trust Center core, its store and its radio, stepped together.

use crate::app;
use crate::radio::{Radio, RadioConfig};
use std::collections::HashMap;
use zigtrust_tc::model::{Millis, StoreWrite};
use zigtrust_tc::{AdminCommand, AdminError, Durable, Event, RxMeta, TrustCenter};
use zigtrust_wire::mac::{Address, MacFrame};
use zigtrust_wire::{ExtAddr, ShortAddr};

/// At most this many neighbours' links are kept (the oldest heard is forgotten first), so a
/// flood of frames from forged source addresses cannot grow the map without bound.
pub const MAX_LINKS: usize = 1024;

/// What the coordinator's radio last reported about a frame it heard directly from a neighbour
/// (the MAC source): the link, not the route a multi-hop frame took.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkQuality {
    /// Link quality indicator of the last frame (0-255), when the radio reports it.
    pub lqi: Option<u8>,
    /// Received signal strength of the last frame (dBm), when the radio reports it.
    pub rssi: Option<f32>,
    /// When it was heard (Unix ms).
    pub heard_at: Millis,
}

/// What one step of the hub did: the core's events, and the writes that were committed.
#[derive(Debug, Default)]
pub struct Step {
    /// The core's events, in order (kept even when the commit failed).
    pub events: Vec<Event>,
    /// The committed writes (empty when the commit failed).
    pub writes: Vec<StoreWrite>,
    /// Frames handed to the radio.
    pub sent: usize,
    /// False when the store refused the step's writes and its frames were dropped unsent.
    pub committed: bool,
}

impl Step {
    fn absorb(&mut self, other: Step) {
        self.events.extend(other.events);
        self.writes.extend(other.writes);
        self.sent += other.sent;
        self.committed &= other.committed;
    }
}

/// The hub (see the crate docs). Every method that can make the core produce frames ends by
/// committing the step's writes to the store and only then handing the frames to the radio.
pub struct Hub<S: Durable, R: Radio> {
    tc: TrustCenter,
    store: S,
    radio: R,
    configured: Option<RadioConfig>,
    store_error: Option<String>,
    radio_error: Option<String>,
    links: HashMap<ShortAddr, LinkQuality>,
    nwk: crate::nwk::NwkDuties,
}

impl<S: Durable, R: Radio> Hub<S, R> {
    /// Restores the Trust Center from `store` (`seed`: fresh OS entropy in production).
    pub fn open(store: S, radio: R, seed: [u8; 32], now: Millis) -> Result<Hub<S, R>, S::Error> {
        let snapshot = store.snapshot()?;
        Ok(Hub::new(TrustCenter::new(snapshot, seed, now), store, radio))
    }

    /// A hub around a Trust Center already restored from `store`.
    pub fn new(tc: TrustCenter, store: S, radio: R) -> Hub<S, R> {
        let mut h = Hub {
            tc,
            store,
            radio,
            configured: None,
            store_error: None,
            radio_error: None,
            links: HashMap::new(),
            nwk: Default::default(),
        };
        h.sync_radio();
        h
    }

    /// The Trust Center, for reads. Changes go through the hub so their frames are released
    /// in order.
    pub fn tc(&self) -> &TrustCenter {
        &self.tc
    }

    /// The store (reads, and settings of the hub's own outside the core's state).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, mutably (never for the core's state: that goes through steps).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The radio.
    pub fn radio(&self) -> &R {
        &self.radio
    }

    /// The radio, mutably (for a radio's own controls, e.g. the simulated home's devices).
    pub fn radio_mut(&mut self) -> &mut R {
        &mut self.radio
    }

    /// The last store failure, until a commit succeeds (the radio is mute meanwhile).
    pub fn store_error(&self) -> Option<&str> {
        self.store_error.as_deref()
    }

    /// The last radio failure, until a frame goes out again.
    pub fn radio_error(&self) -> Option<&str> {
        self.radio_error.as_deref()
    }

    /// The last link quality heard directly from the neighbour with MAC short address `short`
    /// (`None` if nothing was heard from it since the hub started, e.g. a device only reached
    /// through a router).
    pub fn link(&self, short: ShortAddr) -> Option<&LinkQuality> {
        self.links.get(&short)
    }

    /// Every neighbour's last link quality, by MAC short address (at most [`MAX_LINKS`]).
    pub fn links(&self) -> impl Iterator<Item = (ShortAddr, &LinkQuality)> {
        self.links.iter().map(|(s, l)| (*s, l))
    }

    /// Takes the store and radio back, dropping the core's volatile state (a power cut).
    pub fn into_parts(self) -> (S, R) {
        (self.store, self.radio)
    }

    /// Restarts the Trust Center from the store, as after a crash: everything volatile is lost.
    pub fn restart(&mut self, seed: [u8; 32], now: Millis) -> Result<Step, S::Error> {
        let snapshot = self.store.snapshot()?;
        self.tc = TrustCenter::new(snapshot, seed, now);
        self.configured = None;
        self.nwk.restart();
        Ok(self.release(now))
    }

    /// One received frame: the core's answer, and the hub application's (an ack of a report
    /// that asks for one, answers to ZDO requests about the coordinator) unless the core
    /// dropped the frame as a replay.
    pub fn receive(&mut self, now: Millis, psdu: &[u8], meta: RxMeta) -> Step {
        self.note_link(now, psdu, meta);
        let answers = app::answers(&mut self.tc, psdu);
        self.tc.handle_frame(now, psdu, meta);
        let mut step = self.release(now);
        self.nwk.observe(&step.events, now);
        let replay = step.events.iter().any(|e| matches!(e, Event::ReplayDropped { .. }));
        if let (Some((ieee, frames)), false) = (answers, replay) {
            for aps in frames {
                step.absorb(self.send_application(now, ieee, &aps));
            }
        }
        step
    }

    /// Passes time to the core: its clock moves to `now` (so windows read their true remaining
    /// time) and every timer due by then runs.
    pub fn handle_timeout(&mut self, now: Millis) -> Step {
        self.tc.handle_timeout(now);
        self.nwk.run(&mut self.tc, &self.links, now);
        self.release(now)
    }

    /// Turns the coordinator's periodic NWK broadcasts (link status every 15 s, a many-to-one
    /// route request every minute; see `nwk.rs`) on, the default, or off (for shells that
    /// script every frame).
    pub fn set_nwk_duties(&mut self, on: bool) {
        self.nwk.set_on(on);
    }

    /// Source routing on (the default) or off: see [`TrustCenter::set_source_routing`].
    pub fn set_source_routing(&mut self, on: bool) {
        self.tc.set_source_routing(on);
    }

    /// An admin command.
    pub fn command(&mut self, now: Millis, cmd: AdminCommand) -> Result<Step, AdminError> {
        let r = self.tc.command(now, cmd);
        // A refused command may still have produced output (timers it ran first).
        let step = self.release(now);
        r.map(|()| step)
    }

    /// An application frame (APS header and payload) to `dst` under the active network key.
    pub fn send_application(&mut self, now: Millis, dst: ExtAddr, aps: &[u8]) -> Step {
        if !self.tc.send_application(now, dst, aps) {
            return Step { committed: true, ..Step::default() };
        }
        self.release(now)
    }

    /// Drives the radio: every frame it received up to `now`, then the core's due timers.
    /// Returns the events of it all.
    pub fn poll(&mut self, now: Millis) -> Step {
        let mut step = Step { committed: true, ..Step::default() };
        loop {
            match self.radio.receive(now) {
                Ok(Some(rx)) => step.absorb(self.receive(now, &rx.psdu, rx.meta)),
                Ok(None) => break,
                Err(e) => {
                    self.radio_error = Some(e.0);
                    break;
                }
            }
        }
        step.absorb(self.handle_timeout(now));
        step
    }

    /// When the hub next needs [`Hub::poll`]: the core's next timer or the radio's next event.
    pub fn next_wake(&self) -> Option<Millis> {
        [self.tc.next_timeout(), self.radio.next_wake(), self.nwk.next_wake(&self.tc)]
            .into_iter()
            .flatten()
            .min()
    }

    /// The one place frames are released: commit the core's batch, then transmit its frames.
    fn release(&mut self, now: Millis) -> Step {
        let step = match self.tc.take_batch().commit(&mut self.store) {
            Ok(r) => {
                self.store_error = None;
                let mut sent = 0;
                for t in r.transmits {
                    match self.radio.transmit(now, t) {
                        Ok(()) => {
                            sent += 1;
                            self.radio_error = None;
                        }
                        Err(e) => self.radio_error = Some(e.0),
                    }
                }
                Step { events: r.events, writes: r.writes, sent, committed: true }
            }
            Err(f) => {
                self.store_error = Some(f.error.to_string());
                Step { events: f.events, writes: Vec::new(), sent: 0, committed: false }
            }
        };
        self.sync_radio();
        self.nwk.arm(&self.tc, now);
        step
    }

    /// Records the radio's metadata against the frame's MAC source: the neighbour that actually
    /// transmitted it (frames from farther away arrive with their last router as MAC source).
    /// Frames with an extended MAC source (association requests) have no short address yet.
    fn note_link(&mut self, now: Millis, psdu: &[u8], meta: RxMeta) {
        let Ok(frame) = MacFrame::parse(psdu) else { return };
        let Address::Short(src) = frame.header.src_addr else { return };
        if src.0 >= 0xfff8 {
            return; // broadcast or reserved: no device has it
        }
        if self.links.len() >= MAX_LINKS && !self.links.contains_key(&src) {
            if let Some(oldest) = self.links.iter().min_by_key(|(_, l)| l.heard_at).map(|(s, _)| *s)
            {
                self.links.remove(&oldest);
            }
        }
        self.links.insert(src, LinkQuality { lqi: meta.lqi, rssi: meta.rssi, heard_at: now });
    }

    /// Keeps the radio's configuration in step with the core (a network formed or restored,
    /// permit join opened or closed).
    fn sync_radio(&mut self) {
        let Some(net) = self.tc.network() else { return };
        let permit = self.tc.permit_join_remaining().is_some_and(|r| r > 0);
        let want = RadioConfig::of(net, permit);
        if self.configured == Some(want) {
            return;
        }
        match self.radio.configure(&want) {
            Ok(()) => self.configured = Some(want),
            Err(e) => self.radio_error = Some(e.0),
        }
    }
}

impl<S: Durable, R: Radio> std::fmt::Debug for Hub<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("configured", &self.configured)
            .field("store_error", &self.store_error)
            .field("radio_error", &self.radio_error)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::Outbox;
    use zigtrust_tc::model::{CounterKind, Snapshot};
    use zigtrust_tc::MemStore;
    use zigtrust_wire::PanId;

    /// A store that refuses every commit while `failing`.
    #[derive(Default)]
    struct Flaky {
        inner: MemStore,
        failing: bool,
    }

    impl Durable for Flaky {
        type Error = String;
        fn commit(&mut self, w: &[StoreWrite]) -> Result<(), String> {
            if self.failing {
                return Err("disk full".into());
            }
            self.inner.commit(w).map_err(|e| match e {})
        }
        fn snapshot(&self) -> Result<Snapshot, String> {
            self.inner.snapshot().map_err(|e| match e {})
        }
    }

    fn formed(store: Flaky) -> Hub<Flaky, Outbox> {
        let mut h = Hub::open(store, Outbox::default(), [7; 32], 1_000).unwrap();
        let form = AdminCommand::FormNetwork {
            pan_id: PanId(0x1234),
            extended_pan_id: 0xdddd_0000_0000_0001,
            channel: 15,
        };
        h.command(1_000, form).unwrap();
        h
    }

    #[test]
    fn frames_of_a_step_whose_writes_fail_never_reach_the_radio() {
        let mut h = formed(Flaky::default());
        assert_eq!(h.radio().config.map(|c| c.channel), Some(15), "the radio was configured");
        h.store_mut().failing = true;
        let step = h.command(2_000, rotate()).unwrap();
        assert!(step.events.iter().any(|e| matches!(e, Event::KeySwitched { .. })), "{step:?}");
        assert!(!step.committed);
        assert_eq!(step.sent, 0);
        assert!(h.radio().frames.is_empty(), "nothing went on air");
        assert_eq!(h.store_error(), Some("disk full"));
        // A later step does not release the dropped frames either.
        h.store_mut().failing = false;
        let step = h.handle_timeout(2_500);
        assert!(step.committed);
        // Only the periodic NWK broadcasts due by now (link status, many-to-one route request).
        let what: Vec<&str> = h.radio().frames.iter().map(|t| t.what).collect();
        assert_eq!(what, ["nwk-command", "nwk-command"]);
        assert_eq!(h.store_error(), None);
    }

    #[test]
    fn every_released_counter_was_leased_before_it_went_out() {
        let mut h = formed(Flaky::default());
        let open = AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None };
        h.command(2_000, open).unwrap();
        assert!(h.radio().config.is_some_and(|c| c.permit_join), "beacons say permit join");
        h.command(2_000, rotate()).unwrap();
        assert!(!h.radio().frames.is_empty(), "the rotation's broadcasts");
        let lease = h.store().inner.lease(CounterKind::Nwk);
        for t in &h.radio().frames {
            let counter = nwk_counter(&t.psdu).expect("a secured NWK frame");
            assert!(counter < lease, "counter {counter} beyond the durable lease {lease}");
        }
        // Closing the window reaches the radio's beacons.
        h.handle_timeout(62_001);
        assert!(h.radio().config.is_some_and(|c| !c.permit_join));
    }

    #[test]
    fn the_link_of_each_frames_mac_source_is_kept_and_bounded() {
        use zigtrust_wire::mac::Address;
        let mut h = formed(Flaky::default());
        let poll = |src: Address| {
            let mut b = Vec::new();
            MacFrame::data_request(1, PanId(0x1234), Address::Short(ShortAddr(0)), src)
                .emit(&mut b);
            b
        };
        let meta = RxMeta { rssi: Some(-61.0), lqi: Some(180) };
        h.receive(3_000, &poll(Address::Short(ShortAddr(0x1a2b))), meta);
        let l = h.link(ShortAddr(0x1a2b)).copied();
        assert_eq!(l, Some(LinkQuality { lqi: Some(180), rssi: Some(-61.0), heard_at: 3_000 }));
        // A later frame replaces it; a radio without metadata still records when.
        h.receive(4_000, &poll(Address::Short(ShortAddr(0x1a2b))), RxMeta::default());
        let l = h.link(ShortAddr(0x1a2b)).copied();
        assert_eq!(l, Some(LinkQuality { lqi: None, rssi: None, heard_at: 4_000 }));
        // An extended source has no short address to file it under.
        h.receive(5_000, &poll(Address::Extended(ExtAddr(9))), meta);
        assert_eq!(h.links().count(), 1);
        // Forged sources cannot grow the map past the bound; the oldest goes first.
        for i in 0..MAX_LINKS as u16 + 10 {
            h.receive(6_000 + u64::from(i), &poll(Address::Short(ShortAddr(0x2000 + i))), meta);
        }
        assert_eq!(h.links().count(), MAX_LINKS);
        assert!(h.link(ShortAddr(0x1a2b)).is_none(), "the oldest link was forgotten");
        assert!(h.link(ShortAddr(0x2000 + MAX_LINKS as u16 + 9)).is_some());
    }

    fn rotate() -> AdminCommand {
        AdminCommand::RotateNetworkKey { deadline_ms: 0 }
    }

    fn nwk_counter(psdu: &[u8]) -> Option<u32> {
        use zigtrust_wire::mac::{MacBody, MacFrame};
        use zigtrust_wire::nwk::NwkHeader;
        use zigtrust_wire::security::AuxHeader;
        let MacBody::Data(nwk) = MacFrame::parse(psdu).ok()?.body else { return None };
        let (h, n) = NwkHeader::parse(nwk).ok()?;
        h.security.then_some(())?;
        Some(AuxHeader::parse(&nwk[n..]).ok()?.0.frame_counter)
    }
}
