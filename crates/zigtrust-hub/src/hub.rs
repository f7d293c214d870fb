//! The [`Hub`]: the Trust Center core, its store and its radio, stepped together.

use crate::app;
use crate::permit::PermitAnnouncer;
use crate::radio::{Radio, RadioConfig, RadioEvent, RadioHealth};
use std::collections::HashMap;
use zigtrust_tc::model::{Millis, StoreWrite};
use zigtrust_tc::{AdminCommand, AdminError, Durable, Event, RxMeta, TrustCenter};
use zigtrust_wire::mac::{Address, MacFrame};
use zigtrust_wire::{CapabilityInfo, ExtAddr, ShortAddr};

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
    /// What the radio reported about itself (a reset, a lost link, a recovery), each already
    /// in the audit log.
    pub radio_events: Vec<RadioEvent>,
}

impl Step {
    fn absorb(&mut self, other: Step) {
        self.events.extend(other.events);
        self.writes.extend(other.writes);
        self.sent += other.sent;
        self.committed &= other.committed;
        self.radio_events.extend(other.radio_events);
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
    radio_health: RadioHealth,
    links: HashMap<ShortAddr, LinkQuality>,
    permit: PermitAnnouncer,
    broadcasts: app::BroadcastsSeen,
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
            radio_health: RadioHealth::default(),
            links: HashMap::new(),
            permit: PermitAnnouncer::default(),
            broadcasts: app::BroadcastsSeen::default(),
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

    /// The radio's resets, lost links and recoveries since the hub started.
    pub fn radio_health(&self) -> &RadioHealth {
        &self.radio_health
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
        let answers = app::answers(&mut self.tc, &mut self.broadcasts, now, psdu);
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
        for e in self.radio.take_events() {
            self.note_radio_event(e, &mut step);
        }
        step.absorb(self.handle_timeout(now));
        step
    }

    /// A radio event: counted, shown as the radio error, and written to the audit log. The
    /// entry goes to the store directly, not through the core: the audit log is no part of
    /// the core's state (nothing is restored from it, no counter is leased in it), and the
    /// core has no business knowing about radios.
    fn note_radio_event(&mut self, e: RadioEvent, step: &mut Step) {
        self.radio_health.record(&e);
        self.radio_error = Some(e.to_string());
        let write = StoreWrite::Audit(e.audit_entry());
        match self.store.commit(std::slice::from_ref(&write)) {
            Ok(()) => step.writes.push(write),
            Err(err) => self.store_error = Some(err.to_string()),
        }
        step.radio_events.push(e);
    }

    /// When the hub next needs [`Hub::poll`]: the core's next timer, the radio's next event,
    /// the renewal of a permit-join announcement or the next periodic NWK broadcast.
    pub fn next_wake(&self) -> Option<Millis> {
        [
            self.tc.next_timeout(),
            self.radio.next_wake(),
            self.permit.next_wake(),
            self.nwk.next_wake(&self.tc),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The one place frames are released: the core's batch, then the permit-join
    /// announcements the step calls for (see [`crate::permit`]), each committed before its
    /// frames go out.
    fn release(&mut self, now: Millis) -> Step {
        let mut step = self.release_batch(now);
        if self.announce_permit(now, &step.events) {
            step.absorb(self.release_batch(now));
        }
        step
    }

    /// Tells routers about a change of the permit-join window, and routers that joined during
    /// it about the open window. Whether it produced frames.
    fn announce_permit(&mut self, now: Millis, events: &[Event]) -> bool {
        let mut sent = false;
        let remaining = self.tc.permit_join_remaining();
        if let Some(secs) = self.permit.due(now, remaining) {
            let counter = self.tc.next_aps_counter();
            let req = self.permit.request(secs, counter, true);
            sent |= self.tc.send_broadcast(now, ShortAddr::ROUTERS, &req);
        }
        // The Trust Center's incoming NWK counter for a device under the active key: it
        // changes once a frame from it has been authenticated (it holds the key).
        let active = self.tc.active_key_seq();
        let tc = &self.tc;
        let counter_of = |ieee: ExtAddr| {
            tc.device(ieee).filter(|d| d.last_key_seq == Some(active))?.incoming_nwk_counter
        };
        for e in events {
            let Event::DeviceJoined { ieee, parent, .. } = e else { continue };
            // A device that joined through a router was reported by an Update-Device, which
            // carries no capability: it may be a router, which its own Device_annce (its first
            // frame under the key) tells. It is told then if it is one.
            if is_router(tc, *ieee) || *parent != ShortAddr::COORDINATOR {
                self.permit.router_joined(*ieee, now, counter_of(*ieee));
            }
        }
        if self.permit.waiting() {
            self.permit.heard(now, counter_of);
        }
        for (ieee, secs) in self.permit.due_routers(now) {
            if !is_router(&self.tc, ieee) {
                continue; // an end device (its capability known by now): no window to open
            }
            let counter = self.tc.next_aps_counter();
            let req = self.permit.request(secs, counter, false);
            sent |= self.tc.send_application(now, ieee, &req);
        }
        sent
    }

    /// Commits the core's batch, then transmits its frames.
    fn release_batch(&mut self, now: Millis) -> Step {
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
                Step {
                    events: r.events,
                    writes: r.writes,
                    sent,
                    committed: true,
                    ..Step::default()
                }
            }
            Err(f) => {
                self.store_error = Some(f.error.to_string());
                Step { events: f.events, sent: 0, committed: false, ..Step::default() }
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

/// Whether the Trust Center knows `ieee` as a router (a full-function device).
fn is_router(tc: &TrustCenter, ieee: ExtAddr) -> bool {
    tc.device(ieee).is_some_and(|d| d.capability & CapabilityInfo::FULL_FUNCTION_DEVICE != 0)
}

impl<S: Durable, R: Radio> std::fmt::Debug for Hub<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("configured", &self.configured)
            .field("store_error", &self.store_error)
            .field("radio_error", &self.radio_error)
            .field("radio_health", &self.radio_health)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::Outbox;
    use zigtrust_tc::model::{CounterKind, Snapshot};
    use zigtrust_tc::{MemStore, Transmit};
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

    /// The Mgmt_Permit_Joining_req frames among `frames`: (NWK destination, MAC destination,
    /// PermitDuration, TC_Significance), after checking they decrypt under the active key.
    fn permit_requests(h: &Hub<Flaky, Outbox>, frames: &[Transmit]) -> Vec<(u16, u16, u8, u8)> {
        use zigtrust_crypto::CcmStar;
        use zigtrust_wire::aps::ApsHeader;
        use zigtrust_wire::mac::{MacBody, MacFrame};
        use zigtrust_wire::nwk::NwkHeader;
        use zigtrust_wire::security::{open, ZIGBEE_PRO_LEVEL};
        use zigtrust_wire::zdo::{PermitJoiningReq, MGMT_PERMIT_JOINING_REQ};
        let key = &h.tc().network_key(h.tc().active_key_seq()).unwrap().key;
        let mut out = Vec::new();
        for t in frames {
            let f = MacFrame::parse(&t.psdu).unwrap();
            let Address::Short(mac_dst) = f.header.dst_addr else { continue };
            let MacBody::Data(nwk) = f.body else { continue };
            let (nh, hl) = NwkHeader::parse(nwk).unwrap();
            if nh.frame_type != zigtrust_wire::nwk::NwkFrameType::Data {
                continue; // the periodic NWK commands (link status, route requests)
            }
            let o = open(&CcmStar::new(key), ZIGBEE_PRO_LEVEL, nwk, hl, None).unwrap();
            let (ah, n) = ApsHeader::parse(&o.plaintext).unwrap();
            if ah.cluster == Some(MGMT_PERMIT_JOINING_REQ) {
                let r = PermitJoiningReq::parse(&o.plaintext[n..]).unwrap();
                out.push((nh.dst.0, mac_dst.0, r.duration, r.tc_significance));
            }
        }
        out
    }

    #[test]
    fn routers_are_told_when_the_permit_join_window_opens_and_closes() {
        let mut h = formed(Flaky::default());
        let permit = |ms| AdminCommand::PermitJoin { duration_ms: ms, ieee: None };
        let take = |h: &mut Hub<Flaky, Outbox>| {
            let frames = std::mem::take(&mut h.radio_mut().frames);
            permit_requests(h, &frames)
        };
        assert!(take(&mut h).is_empty(), "forming the network opens nothing");
        h.command(2_000, permit(60_000)).unwrap();
        assert_eq!(take(&mut h), vec![(0xfffc, 0xffff, 60, 1)], "to all routers, NWK-secured");
        h.handle_timeout(10_000);
        assert!(take(&mut h).is_empty(), "told once");
        // Opened again for longer (the core caps it at 254 s), then closed early.
        h.command(20_000, permit(600_000)).unwrap();
        assert_eq!(take(&mut h), vec![(0xfffc, 0xffff, 254, 1)]);
        h.command(30_000, permit(0)).unwrap();
        assert_eq!(take(&mut h), vec![(0xfffc, 0xffff, 0, 1)]);
        // A window that runs out is closed at the routers too, once.
        h.command(40_000, permit(5_000)).unwrap();
        assert_eq!(take(&mut h), vec![(0xfffc, 0xffff, 5, 1)]);
        h.handle_timeout(45_000);
        assert_eq!(take(&mut h), vec![(0xfffc, 0xffff, 0, 1)]);
        h.handle_timeout(50_000);
        assert!(take(&mut h).is_empty());
        // A restart forgets the core's window: the routers' windows are closed with it.
        h.command(60_000, permit(100_000)).unwrap();
        assert_eq!(take(&mut h).len(), 1);
        h.restart([8; 32], 61_000).unwrap();
        assert_eq!(take(&mut h), vec![(0xfffc, 0xffff, 0, 1)]);
        assert_eq!(h.permit.next_wake(), None, "no renewal due for a 254-s window");
    }

    /// A radio that reports the events it is given, once.
    #[derive(Default)]
    struct Faulty {
        out: Outbox,
        events: Vec<RadioEvent>,
    }

    impl Radio for Faulty {
        fn configure(&mut self, config: &RadioConfig) -> Result<(), crate::RadioError> {
            self.out.configure(config)
        }
        fn transmit(&mut self, now: Millis, frame: Transmit) -> Result<(), crate::RadioError> {
            self.out.transmit(now, frame)
        }
        fn receive(&mut self, now: Millis) -> Result<Option<crate::Received>, crate::RadioError> {
            self.out.receive(now)
        }
        fn take_events(&mut self) -> Vec<RadioEvent> {
            std::mem::take(&mut self.events)
        }
    }

    /// A store that keeps its audit lines (MemStore drops them).
    #[derive(Default)]
    struct Audited {
        inner: MemStore,
        audit: Vec<zigtrust_tc::model::AuditEntry>,
    }

    impl Durable for Audited {
        type Error = String;
        fn commit(&mut self, w: &[StoreWrite]) -> Result<(), String> {
            for x in w {
                if let StoreWrite::Audit(a) = x {
                    self.audit.push(a.clone());
                }
            }
            self.inner.commit(w).map_err(|e| match e {})
        }
        fn snapshot(&self) -> Result<Snapshot, String> {
            self.inner.snapshot().map_err(|e| match e {})
        }
    }

    #[test]
    fn radio_events_are_counted_shown_and_written_to_the_audit_log_once() {
        use crate::radio::{RadioFault, RadioIncident};
        use zigtrust_tc::model::Severity;
        let mut h = Hub::open(Audited::default(), Faulty::default(), [7; 32], 1_000).unwrap();
        let fault = RadioFault::LinkLost { detail: "the link to the RCP was lost: EOF".into() };
        let down = RadioEvent {
            at: 2_000,
            incident: RadioIncident::Down { fault: fault.clone(), error: "no answer".into() },
        };
        let back = RadioEvent {
            at: 2_000,
            incident: RadioIncident::Recovered {
                fault,
                frames_lost: 3,
                reopened: true,
                config_reapplied: true,
                pending_entries: 2,
                outage_ms: 1_500,
            },
        };
        h.radio_mut().events.push(down.clone());
        let step = h.poll(2_100);
        assert_eq!(step.radio_events, std::slice::from_ref(&down));
        assert!(h.radio_health().down);
        assert_eq!(h.radio_health().outages, 1);
        assert!(h.radio_error().is_some_and(|e| e.contains("retrying")));
        h.radio_mut().events.push(back.clone());
        let step = h.poll(3_500);
        assert_eq!(step.radio_events, std::slice::from_ref(&back));
        assert_eq!(step.writes, [StoreWrite::Audit(back.audit_entry())]);
        let health = h.radio_health();
        assert!(!health.down);
        assert_eq!((health.recoveries, health.frames_lost), (1, 3));
        assert_eq!(health.last.as_ref(), Some(&back));
        // Nothing new: no new lines.
        assert!(h.poll(4_000).radio_events.is_empty());
        let audit = &h.store().audit;
        let lines: Vec<_> = audit
            .iter()
            .filter(|a| a.kind.starts_with("radio-"))
            .map(|a| a.kind.as_str())
            .collect();
        assert_eq!(lines, ["radio-down", "radio-recovered"]);
        let a = audit.iter().find(|a| a.kind == "radio-recovered").unwrap();
        assert_eq!((a.time, a.severity, a.ieee), (2_000, Severity::Warning, None));
        assert!(a.detail.contains("was lost") && a.detail.contains("3 frames lost"), "{a:?}");
        assert!(a.detail.contains("re-applied"), "{a:?}");
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
