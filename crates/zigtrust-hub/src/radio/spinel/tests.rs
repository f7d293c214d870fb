//! The Spinel radio against a scripted fake RCP on an in-process byte-stream pair: the error
//! paths a real `ot-rcp` never takes (another firmware, another protocol version, garbage,
//! silence), and the bookkeeping (one transmit outstanding, source match in step with the
//! indirect queue, recovery) with every Spinel frame the host sent on record.

use super::*;
use std::io::{PipeReader, PipeWriter};
use zigtrust_spinel::{Header, TransmitDone};
use zigtrust_wire::mac::{MacFrame, MacHeader};
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

/// How the fake answers.
#[derive(Clone)]
struct Script {
    protocol: (u32, u32),
    /// `None`: PROP_NOT_FOUND, as a non-RCP firmware answers.
    rcp_api: Option<u32>,
    ncp_version: String,
    /// Answer everything with these bytes instead of Spinel.
    garbage: Option<Vec<u8>>,
    /// Never answer.
    silent: bool,
    /// Transmit-done status, and how long the "air" takes.
    tx_status: Status,
    tx_delay: Duration,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            protocol: (4, 3),
            rcp_api: Some(11),
            ncp_version: "OPENTHREAD/fake; SIMULATION".into(),
            garbage: None,
            silent: false,
            tx_status: Status::Ok,
            tx_delay: Duration::from_millis(5),
        }
    }
}

/// What the fake saw and holds.
#[derive(Default)]
struct State {
    /// Every frame the host sent, in order.
    log: Vec<Frame>,
    props: HashMap<u32, PropValue>,
    short_table: Vec<u16>,
    ext_table: Vec<Eui64>,
    tx_outstanding: u32,
    /// Set if a transmit arrived while another was outstanding.
    overlapped: bool,
    opens: u32,
}

#[derive(Clone)]
struct Fake {
    script: Arc<Mutex<Script>>,
    state: Arc<Mutex<State>>,
    /// The fake's side of the current link, to inject frames or hang up.
    out: Arc<Mutex<Option<PipeWriter>>>,
}

impl Fake {
    fn new(script: Script) -> Fake {
        Fake {
            script: Arc::new(Mutex::new(script)),
            state: Arc::new(Mutex::new(State::default())),
            out: Arc::new(Mutex::new(None)),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn send(&self, tid: u8, command: Command) {
        write_to(&self.out, tid, command);
    }

    /// Hangs up: the host reads end of stream, as when the RCP process dies.
    fn hang_up(&self) {
        self.out.lock().unwrap().take();
    }

    /// Waits until the host sent a frame matching `pred`.
    fn wait_for(&self, what: &str, pred: impl Fn(&Frame) -> bool) -> Frame {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(f) = self.state().log.iter().find(|f| pred(f)) {
                return f.clone();
            }
            assert!(Instant::now() < end, "the host never sent {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn count(&self, pred: impl Fn(&Frame) -> bool) -> usize {
        self.state().log.iter().filter(|f| pred(f)).count()
    }
}

fn write_to(out: &Mutex<Option<PipeWriter>>, tid: u8, command: Command) {
    let f = Frame::new(tid, command).unwrap();
    if let Some(w) = out.lock().unwrap().as_mut() {
        let _ = w.write_all(&hdlc::encode_to_vec(&f.to_vec()));
    }
}

impl Transport for Fake {
    fn open(&mut self) -> Result<Link, RadioError> {
        let (host_r, fake_w) = std::io::pipe().unwrap();
        let (fake_r, host_w) = std::io::pipe().unwrap();
        *self.out.lock().unwrap() = Some(fake_w);
        self.state().opens += 1;
        let fake = self.clone();
        std::thread::spawn(move || fake.serve(fake_r));
        Ok(Link { reader: Box::new(host_r), writer: Box::new(host_w), child: None })
    }

    fn describe(&self) -> String {
        "fake RCP".into()
    }
}

impl Fake {
    fn serve(self, mut input: PipeReader) {
        let mut dec = hdlc::Decoder::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 {
                return;
            }
            for frame in dec.feed(&buf[..n]) {
                let f = Frame::parse(&frame.unwrap()).unwrap();
                self.state().log.push(f.clone());
                self.answer(f);
            }
        }
    }

    fn answer(&self, f: Frame) {
        let script = self.script.lock().unwrap().clone();
        if script.silent {
            return;
        }
        if let Some(g) = &script.garbage {
            if let Some(w) = self.out.lock().unwrap().as_mut() {
                let _ = w.write_all(g);
            }
            return;
        }
        let tid = f.header.tid();
        let is = |v| Command::PropValue(PropOp::Is, v);
        match f.command {
            Command::Reset(_) => self.send(0, is(PropValue::LastStatus(Status::ResetPowerOn))),
            Command::PropValueGet(p) => {
                let v = match p {
                    Prop::ProtocolVersion => PropValue::ProtocolVersion {
                        major: script.protocol.0,
                        minor: script.protocol.1,
                    },
                    Prop::NcpVersion => PropValue::NcpVersion(script.ncp_version.clone()),
                    Prop::RcpApiVersion => match script.rcp_api {
                        Some(v) => PropValue::RcpApiVersion(v),
                        None => PropValue::LastStatus(Status::PropNotFound),
                    },
                    Prop::HwAddr => PropValue::HwAddr(Eui64::from_u64(0x18b4_3000_0000_0009)),
                    p => self
                        .state()
                        .props
                        .get(&p.id())
                        .cloned()
                        .unwrap_or(PropValue::LastStatus(Status::PropNotFound)),
                };
                self.send(tid, is(v));
            }
            Command::PropValue(PropOp::Set, PropValue::StreamRawTx(_)) => {
                let mut st = self.state();
                if st.tx_outstanding > 0 {
                    st.overlapped = true;
                }
                st.tx_outstanding += 1;
                drop(st);
                let fake = self.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(script.tx_delay);
                    fake.state().tx_outstanding -= 1;
                    let done = TransmitDone {
                        status: script.tx_status,
                        frame_pending: false,
                        header_updated: false,
                        ack: None,
                        security: None,
                    };
                    fake.send(tid, is(PropValue::TransmitDone(done)));
                });
            }
            Command::PropValue(PropOp::Set, v) => {
                let answer = match &v {
                    PropValue::MacSrcMatchShortAddresses(t) => {
                        self.state().short_table = t.clone();
                        PropValue::LastStatus(Status::Ok)
                    }
                    PropValue::MacSrcMatchExtendedAddresses(t) => {
                        self.state().ext_table = t.clone();
                        PropValue::LastStatus(Status::Ok)
                    }
                    // PHY_TX_POWER on a radio whose hardware stops at +8 dBm (an nRF52840):
                    // clamped, and the value in use reported; anything but one byte refused.
                    PropValue::Other { prop: PROP_PHY_TX_POWER, data } => match data[..] {
                        [p] => {
                            let v = PropValue::Other {
                                prop: PROP_PHY_TX_POWER,
                                data: vec![(p as i8).min(8) as u8],
                            };
                            self.state().props.insert(PROP_PHY_TX_POWER, v.clone());
                            v
                        }
                        _ => PropValue::LastStatus(Status::ParseError),
                    },
                    v => {
                        self.state().props.insert(v.prop().id(), v.clone());
                        v.clone()
                    }
                };
                self.send(tid, is(answer));
            }
            Command::PropValue(op @ (PropOp::Insert | PropOp::Remove), v) => {
                let mut st = self.state();
                match (&v, op) {
                    (PropValue::MacSrcMatchShortEntry(a), PropOp::Insert) => {
                        st.short_table.push(*a)
                    }
                    (PropValue::MacSrcMatchShortEntry(a), _) => st.short_table.retain(|x| x != a),
                    (PropValue::MacSrcMatchExtendedEntry(a), PropOp::Insert) => {
                        st.ext_table.push(*a)
                    }
                    (PropValue::MacSrcMatchExtendedEntry(a), _) => st.ext_table.retain(|x| x != a),
                    _ => {}
                }
                drop(st);
                let done = if op == PropOp::Insert { PropOp::Inserted } else { PropOp::Removed };
                self.send(tid, Command::PropValue(done, v));
            }
            _ => self.send(tid, is(PropValue::LastStatus(Status::InvalidCommand))),
        }
    }
}

fn quick() -> SpinelOptions {
    SpinelOptions {
        reset_timeout: Duration::from_millis(300),
        call_timeout: Duration::from_millis(300),
        tx_done_timeout: Duration::from_millis(500),
        reopen_delay: Duration::from_millis(50),
        tx_power: None,
    }
}

fn open(fake: &Fake) -> Result<SpinelRadio, RadioError> {
    SpinelRadio::with_transport(Box::new(fake.clone()), quick())
}

const PAN: PanId = PanId(0x1a62);
const IEEE: ExtAddr = ExtAddr(0x0012_4b00_0000_c001);

fn config() -> RadioConfig {
    RadioConfig {
        channel: 15,
        pan_id: PAN,
        extended_pan_id: 0xdddd_0000_0000_0001,
        ieee: IEEE,
        nwk_update_id: 0,
        permit_join: true,
    }
}

fn data_to(dst: Address, seq: u8) -> Vec<u8> {
    let h = MacHeader::data(seq, PAN, dst, Address::Short(ShortAddr::COORDINATOR), true);
    let mut v = Vec::new();
    MacFrame::data(h, &[0x08, 0x00, seq]).emit(&mut v);
    v
}

fn frame(psdu: Vec<u8>, indirect: bool) -> Transmit {
    Transmit { psdu, indirect, what: "test" }
}

/// The RCP reporting a received frame (FCS bytes appended).
fn rx(psdu: &[u8], flags: u16) -> Command {
    let mut with_fcs = psdu.to_vec();
    with_fcs.extend_from_slice(&[0xaa, 0xbb]);
    let f = RxFrame {
        psdu: with_fcs,
        rssi: -61,
        noise_floor: -128,
        flags,
        phy: zigtrust_spinel::RxPhyData { channel: 15, lqi: 180, timestamp_us: 1 },
        ..RxFrame::default()
    };
    Command::PropValue(PropOp::Is, PropValue::StreamRawRx(f))
}

fn is_stream_tx(f: &Frame) -> Option<Vec<u8>> {
    match &f.command {
        Command::PropValue(PropOp::Set, PropValue::StreamRawTx(t)) => Some(t.psdu.clone()),
        _ => None,
    }
}

fn receive_within(radio: &mut SpinelRadio, d: Duration) -> Result<Option<Received>, RadioError> {
    let end = Instant::now() + d;
    loop {
        match radio.receive(0) {
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(2)),
            other => return other,
        }
    }
}

#[test]
fn handshake_then_configuration_in_order_and_read_back() {
    let fake = Fake::new(Script::default());
    let mut radio = open(&fake).unwrap();
    let info = radio.info().unwrap();
    assert_eq!(info.protocol, (4, 3));
    assert_eq!(info.rcp_api_version, 11);
    assert_eq!(info.hwaddr, Eui64::from_u64(0x18b4_3000_0000_0009));
    assert!(radio.status().link_up);
    // The reset goes with TID 0, as `80 01 02`.
    let first = fake.state().log[0].clone();
    assert_eq!(first.to_vec(), [0x80, 0x01, 0x02]);
    radio.configure(&config()).unwrap();
    let sets: Vec<Prop> = fake
        .state()
        .log
        .iter()
        .filter_map(|f| match &f.command {
            Command::PropValue(PropOp::Set, v) => Some(v.prop()),
            _ => None,
        })
        .collect();
    assert_eq!(
        sets,
        [
            Prop::PhyEnabled,
            Prop::PhyChan,
            Prop::MacPanId,
            Prop::MacShortAddr,
            Prop::MacLongAddr,
            Prop::MacRawStreamEnabled,
            Prop::MacSrcMatchEnabled,
            Prop::MacSrcMatchShortAddresses,
            Prop::MacSrcMatchExtendedAddresses,
        ]
    );
    assert_eq!(radio.get(Prop::PhyChan).unwrap(), PropValue::PhyChan(15));
    assert_eq!(
        radio.get(Prop::MacLongAddr).unwrap(),
        PropValue::MacLongAddr(Eui64::from_u64(IEEE.0)),
        "big-endian (display) order on the wire"
    );
    // Every TID the host used for a command that wants an answer is nonzero.
    assert!(fake.state().log.iter().skip(1).all(|f| f.header.tid() != 0));
}

#[test]
fn a_non_rcp_firmware_is_a_clear_error_saying_what_it_answered() {
    let fake = Fake::new(Script {
        rcp_api: None,
        ncp_version: "OPENTHREAD/thread-reference; NRF52840; FTD NCP".into(),
        ..Script::default()
    });
    let e = open(&fake).unwrap_err().0;
    assert!(e.contains("not an OpenThread RCP"), "{e}");
    assert!(e.contains("PropNotFound"), "{e}");
    assert!(e.contains("FTD NCP"), "{e}");
}

#[test]
fn another_spinel_major_version_is_refused_with_what_was_seen() {
    let fake = Fake::new(Script { protocol: (5, 0), ..Script::default() });
    let e = open(&fake).unwrap_err().0;
    assert!(e.contains("Spinel 5.0") && e.contains("needs 4.x"), "{e}");
    let fake = Fake::new(Script { rcp_api: Some(3), ..Script::default() });
    let e = open(&fake).unwrap_err().0;
    assert!(e.contains("RCP API version 3"), "{e}");
}

#[test]
fn garbage_and_silence_are_told_apart() {
    // EZSP/ASH-like bytes: flags, but not HDLC-lite with a good CRC.
    let fake = Fake::new(Script {
        garbage: Some(vec![0x1a, 0xc0, 0x38, 0xbc, 0x7e, 0x44, 0x12, 0x7e, 0x00, 0xff, 0x7e]),
        ..Script::default()
    });
    let e = open(&fake).unwrap_err().0;
    assert!(e.contains("undecodable"), "{e}");
    assert!(e.contains("no Spinel reset answer"), "{e}");
    let fake = Fake::new(Script { silent: true, ..Script::default() });
    let e = open(&fake).unwrap_err().0;
    assert!(e.contains("nothing at all came back"), "{e}");
}

#[test]
fn garbage_between_good_frames_is_counted_and_skipped() {
    let fake = Fake::new(Script::default());
    let mut radio = open(&fake).unwrap();
    radio.configure(&config()).unwrap();
    if let Some(w) = fake.out.lock().unwrap().as_mut() {
        w.write_all(&[0x7e, 0x01, 0x02, 0x03, 0x7e, 0x7d, 0x7e]).unwrap();
    }
    let psdu = data_to(Address::Short(ShortAddr::COORDINATOR), 3);
    fake.send(0, rx(&psdu, 0));
    let got = receive_within(&mut radio, Duration::from_secs(2)).unwrap().unwrap();
    assert_eq!(got.psdu, psdu, "FCS stripped");
    assert_eq!(got.meta, RxMeta { rssi: Some(-61.0), lqi: Some(180) });
    assert!(radio.status().bad_frames >= 1);
}

#[test]
fn one_transmit_outstanding_and_failures_are_recorded_not_fatal() {
    let fake = Fake::new(Script {
        tx_status: Status::NoAck,
        tx_delay: Duration::from_millis(15),
        ..Script::default()
    });
    let mut radio = open(&fake).unwrap();
    radio.configure(&config()).unwrap();
    for i in 0..4 {
        radio.transmit(1_000, frame(data_to(Address::Short(ShortAddr(0x1234)), i), false)).unwrap();
    }
    assert!(radio.wait_idle(Duration::from_secs(3)));
    fake.script.lock().unwrap().tx_status = Status::CcaFailure;
    radio.transmit(1_000, frame(data_to(Address::Short(ShortAddr(0x1234)), 9), false)).unwrap();
    assert!(radio.wait_idle(Duration::from_secs(3)));
    assert!(!fake.state().overlapped, "a transmit was sent while another was outstanding");
    let txs: Vec<Vec<u8>> = fake.state().log.iter().filter_map(is_stream_tx).collect();
    assert_eq!(txs.len(), 5);
    for (i, t) in txs.iter().enumerate() {
        let seq = if i < 4 { i as u8 } else { 9 };
        let mut want = data_to(Address::Short(ShortAddr(0x1234)), seq);
        want.extend_from_slice(&[0, 0]);
        assert_eq!(t, &want, "PSDU plus two FCS placeholder bytes, in order");
    }
    let st = radio.status();
    assert_eq!((st.tx_no_ack, st.tx_cca_failure, st.tx_ok), (4, 1, 0));
    let reports = radio.take_tx_reports();
    assert_eq!(reports.len(), 5);
    assert_eq!(reports[4].status, Status::CcaFailure);
    assert!(reports[3].queued >= Duration::from_millis(30), "the 4th waited for three others");
    assert!(radio.receive(0).unwrap().is_none(), "no error surfaced for on-air failures");
}

#[test]
fn the_source_match_table_follows_the_indirect_queue() {
    let fake = Fake::new(Script::default());
    let mut radio = open(&fake).unwrap();
    radio.configure(&config()).unwrap();
    let child = ShortAddr(0x4c2e);
    let joiner = ExtAddr(0x0011_2233_4455_6677);
    radio.transmit(10_000, frame(data_to(Address::Short(child), 1), true)).unwrap();
    radio.transmit(10_000, frame(data_to(Address::Short(child), 2), true)).unwrap();
    radio.transmit(10_000, frame(data_to(Address::Extended(joiner), 3), true)).unwrap();
    fake.wait_for("the joiner's extended entry", |f| {
        matches!(f.command, Command::PropValue(PropOp::Insert, PropValue::MacSrcMatchExtendedEntry(e)) if e == Eui64::from_u64(joiner.0))
    });
    let inserts = |fk: &Fake| {
        fk.count(|f| {
            matches!(
                f.command,
                Command::PropValue(PropOp::Insert, PropValue::MacSrcMatchShortEntry(0x4c2e))
            )
        })
    };
    assert_eq!(inserts(&fake), 1, "inserted once, when the first frame started waiting");
    assert_eq!(fake.state().short_table, [0x4c2e]);
    assert!(fake.count(|f| is_stream_tx(f).is_some()) == 0, "nothing sent before the poll");
    let mut poll = Vec::new();
    MacFrame::data_request(7, PAN, Address::Short(ShortAddr(0)), Address::Short(child))
        .emit(&mut poll);
    // A poll the RCP ACKed without frame-pending (it crossed the INSERT on the link): the
    // child went back to sleep, so nothing is sent and the frames keep waiting.
    fake.send(0, rx(&poll, 0));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(fake.count(|f| is_stream_tx(f).is_some()), 0);
    assert_eq!(radio.status().indirect_held, 3);
    // The child polls again: its oldest frame goes out, with frame-pending (one more waits).
    fake.send(0, rx(&poll, RxFrame::FLAG_ACKED_FP));
    let sent = fake.wait_for("the first held frame", |f| is_stream_tx(f).is_some());
    let sent = is_stream_tx(&sent).unwrap();
    assert_eq!(sent[2], 1, "oldest first");
    assert_eq!(sent[0] & 0x10, 0x10, "frame pending: one more waits");
    assert_eq!(fake.state().short_table, [0x4c2e], "still waiting");
    fake.send(0, rx(&poll, RxFrame::FLAG_ACKED_FP));
    fake.wait_for("the REMOVE once the queue emptied", |f| {
        matches!(
            f.command,
            Command::PropValue(PropOp::Remove, PropValue::MacSrcMatchShortEntry(0x4c2e))
        )
    });
    assert!(radio.wait_idle(Duration::from_secs(2)));
    assert_eq!(fake.count(|f| is_stream_tx(f).is_some()), 2);
    assert!(fake.state().short_table.is_empty());
    // A poll with nothing held sends nothing.
    fake.send(0, rx(&poll, 0));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(fake.count(|f| is_stream_tx(f).is_some()), 2);
    assert_eq!(radio.status().data_requests, 4);
    assert_eq!(radio.status().data_requests_fp, 2);
    // The joiner's frame expires: its entry goes too (the hub's clock moved on).
    radio
        .transmit(10_000 + 8_000, frame(data_to(Address::Short(ShortAddr(0x9999)), 4), false))
        .unwrap();
    fake.wait_for("the REMOVE on expiry", |f| {
        matches!(f.command, Command::PropValue(PropOp::Remove, PropValue::MacSrcMatchExtendedEntry(e)) if e == Eui64::from_u64(joiner.0))
    });
    assert!(fake.state().ext_table.is_empty());
    assert_eq!(radio.status().indirect_held, 0);
}

#[test]
fn beacon_requests_are_answered_and_other_frames_reach_the_hub() {
    let fake = Fake::new(Script::default());
    let mut radio = open(&fake).unwrap();
    radio.configure(&config()).unwrap();
    let mut breq = Vec::new();
    MacFrame::beacon_request(3).emit(&mut breq);
    fake.send(0, rx(&breq, 0));
    let b = fake.wait_for("a beacon", |f| is_stream_tx(f).is_some());
    let b = is_stream_tx(&b).unwrap();
    let beacon = MacFrame::parse(&b[..b.len() - 2]).unwrap();
    let MacBody::Beacon(beacon) = beacon.body else { panic!("{beacon:?}") };
    assert!(beacon.superframe.association_permit());
    assert_eq!(beacon.zigbee().unwrap().extended_pan_id, config().extended_pan_id);
    assert!(radio.receive(0).unwrap().is_none(), "beacon requests stay in the radio");
}

/// The radio's events, waiting up to `d` for the first.
fn events_within(radio: &mut SpinelRadio, d: Duration) -> Vec<RadioEvent> {
    let end = Instant::now() + d;
    loop {
        let e = radio.take_events();
        if !e.is_empty() || Instant::now() >= end {
            return e;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The one event the radio reports within `d`.
fn one_event(radio: &mut SpinelRadio, d: Duration) -> RadioEvent {
    let mut e = events_within(radio, d);
    assert_eq!(e.len(), 1, "{e:?}");
    e.remove(0)
}

#[test]
fn an_unexpected_reset_reapplies_configuration_and_source_match_and_is_reported_once() {
    let fake = Fake::new(Script::default());
    let mut radio = open(&fake).unwrap();
    radio.configure(&config()).unwrap();
    radio.transmit(5_000, frame(data_to(Address::Short(ShortAddr(0x0bad)), 1), true)).unwrap();
    fake.wait_for("the INSERT", |f| matches!(f.command, Command::PropValue(PropOp::Insert, _)));
    // A direct frame on the air when the RCP restarts, and forgets everything.
    fake.script.lock().unwrap().tx_delay = Duration::from_millis(400);
    radio.transmit(5_000, frame(data_to(Address::Short(ShortAddr(0x0001)), 2), false)).unwrap();
    fake.wait_for("the direct frame", |f| is_stream_tx(f).is_some());
    // The hub's clock reaches the radio with its polls too, so the fault is timed by it
    // (the held frame has not expired by then).
    assert!(radio.receive(6_000).unwrap().is_none());
    {
        let mut st = fake.state();
        st.props.clear();
        st.short_table.clear();
    }
    fake.send(0, Command::PropValue(PropOp::Is, PropValue::LastStatus(Status::ResetWatchdog)));
    let e = one_event(&mut radio, Duration::from_secs(3));
    assert!((6_000..7_000).contains(&e.at), "{e:?}");
    let RadioIncident::Recovered {
        fault,
        frames_lost,
        reopened,
        config_reapplied,
        pending_entries,
        outage_ms,
    } = &e.incident
    else {
        panic!("{e:?}")
    };
    assert_eq!(fault, &RadioFault::UnexpectedReset { status: "ResetWatchdog".into() });
    assert_eq!(*frames_lost, 1, "the frame on the air");
    assert!(!reopened, "the same link, handshaken again");
    assert!(config_reapplied);
    assert_eq!(*pending_entries, 1);
    assert!(*outage_ms < 3_000);
    assert_eq!(e.audit_kind(), "radio-recovered");
    let line = e.to_string();
    assert!(line.contains("reset unexpectedly (ResetWatchdog)"), "{line}");
    assert!(line.contains("1 frame-pending entries") && line.contains("1 frames lost"), "{line}");
    assert_eq!(fake.state().props.get(&Prop::PhyChan.id()), Some(&PropValue::PhyChan(15)));
    assert_eq!(fake.state().short_table, [0x0bad], "the table was rebuilt");
    assert_eq!(fake.state().opens, 1, "the same link, handshaken again");
    let st = radio.status();
    assert_eq!(st.recoveries, 1);
    assert!(st.link_up);
    // Reported once: the late transmit-done of the lost frame is no second event.
    std::thread::sleep(Duration::from_millis(450));
    fake.script.lock().unwrap().tx_delay = Duration::from_millis(5);
    assert_eq!(radio.take_events(), []);
    // The held frame survived and still goes out on the child's poll.
    let mut poll = Vec::new();
    MacFrame::data_request(1, PAN, Address::Short(ShortAddr(0)), Address::Short(ShortAddr(0x0bad)))
        .emit(&mut poll);
    let before = fake.count(|f| is_stream_tx(f).is_some());
    fake.send(0, rx(&poll, RxFrame::FLAG_ACKED_FP));
    let end = Instant::now() + Duration::from_secs(2);
    while fake.count(|f| is_stream_tx(f).is_some()) == before {
        assert!(Instant::now() < end, "the held frame never went out");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(radio.take_events(), []);
}

#[test]
fn a_transmit_that_never_completes_is_an_unresponsive_rcp_handshaken_again_and_reported() {
    let fake = Fake::new(Script::default());
    let mut radio = open(&fake).unwrap();
    radio.configure(&config()).unwrap();
    // The radio swallows a frame and never says it is done; two more wait behind it.
    fake.script.lock().unwrap().tx_delay = Duration::from_secs(30);
    for seq in 1..=3 {
        let psdu = data_to(Address::Short(ShortAddr(0x0001)), seq);
        radio.transmit(1_000, frame(psdu, false)).unwrap();
    }
    fake.wait_for("the first frame", |f| is_stream_tx(f).is_some());
    fake.script.lock().unwrap().tx_delay = Duration::from_millis(5);
    let e = one_event(&mut radio, Duration::from_secs(3));
    let RadioIncident::Recovered {
        fault: RadioFault::Unresponsive { detail },
        frames_lost,
        reopened,
        config_reapplied: true,
        ..
    } = &e.incident
    else {
        panic!("{e:?}")
    };
    assert!(detail.contains("no transmit-done"), "{detail}");
    assert_eq!(*frames_lost, 3, "the stuck frame and the two queued behind it");
    assert!(!reopened, "the link itself was fine");
    assert_eq!(radio.status().tx_lost, 3);
    // Frames go out again.
    radio.transmit(2_000, frame(data_to(Address::Short(ShortAddr(0x0001)), 4), false)).unwrap();
    assert!(radio.wait_idle(Duration::from_secs(2)));
    assert_eq!(radio.status().tx_ok, 1);
    assert_eq!(radio.take_events(), []);
}

#[test]
fn a_lost_link_is_reopened_and_a_dead_one_reported_once_until_it_returns() {
    let fake = Fake::new(Script::default());
    let mut radio = open(&fake).unwrap();
    radio.configure(&config()).unwrap();
    fake.hang_up();
    let e = one_event(&mut radio, Duration::from_secs(3));
    let line = e.to_string();
    assert!(line.contains("was lost") && line.contains("re-opened"), "{line}");
    assert!(
        matches!(
            &e.incident,
            RadioIncident::Recovered {
                fault: RadioFault::LinkLost { .. },
                reopened: true,
                frames_lost: 0,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(fake.state().opens, 2);
    assert!(radio.status().link_up);
    // Now it stays silent when re-opened: an outage, reported once however often it is
    // retried.
    fake.script.lock().unwrap().silent = true;
    fake.hang_up();
    let e = one_event(&mut radio, Duration::from_secs(3));
    assert_eq!(e.audit_kind(), "radio-down");
    let RadioIncident::Down { fault: RadioFault::LinkLost { .. }, error } = &e.incident else {
        panic!("{e:?}")
    };
    assert!(error.contains("no Spinel reset answer"), "{error}");
    assert!(e.to_string().contains("retrying"), "{e}");
    assert!(!radio.status().link_up);
    let e =
        radio.transmit(0, frame(data_to(Address::Short(ShortAddr(1)), 1), false)).unwrap_err().0;
    assert!(e.contains("RCP down"), "{e}");
    assert!(radio.configure(&config()).is_err());
    std::thread::sleep(Duration::from_millis(400));
    assert!(fake.state().opens >= 4, "retried");
    assert_eq!(radio.take_events(), [], "the outage was reported once");
    // It comes back: one recovery, for the fault that started the outage, counting the frame
    // refused meanwhile.
    fake.script.lock().unwrap().silent = false;
    let e = one_event(&mut radio, Duration::from_secs(5));
    let RadioIncident::Recovered {
        fault: RadioFault::LinkLost { .. }, frames_lost, outage_ms, ..
    } = &e.incident
    else {
        panic!("{e:?}")
    };
    assert_eq!(*frames_lost, 1, "{e:?}");
    assert!(*outage_ms >= 400, "{e:?}");
    assert!(radio.status().link_up);
    assert_eq!(radio.status().tx_refused, 1);
    assert_eq!(fake.state().props.get(&Prop::PhyChan.id()), Some(&PropValue::PhyChan(15)));
    let _ = Header::new(0, 0);
}

#[test]
fn a_missing_or_unusable_serial_device_is_a_clear_error() {
    let spec: SpinelSpec =
        SpinelSpec::parse("spinel+hdlc+uart:///dev/ttyNOPE9?uart-baudrate=460800").unwrap();
    let e = SpinelRadio::open(&spec).unwrap_err().0;
    assert!(e.contains("/dev/ttyNOPE9 does not exist"), "{e}");
    let spec = SpinelSpec::parse("spinel+hdlc+uart:///dev/null").unwrap();
    let e = SpinelRadio::open(&spec).unwrap_err().0;
    assert!(e.contains("stty failed") && e.contains("/dev/null"), "{e}");
    let spec =
        SpinelSpec::parse("spinel+hdlc+forkpty:///nonexistent/ot-rcp?forkpty-arg=1").unwrap();
    let e = SpinelRadio::open(&spec).unwrap_err().0;
    assert!(e.contains("starting the RCP /nonexistent/ot-rcp 1"), "{e}");
}

fn tx_power_sets(fake: &Fake) -> Vec<Vec<u8>> {
    fake.state()
        .log
        .iter()
        .filter_map(|f| match &f.command {
            Command::PropValue(PropOp::Set, PropValue::Other { prop: PROP_PHY_TX_POWER, data }) => {
                Some(data.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn tx_power_is_set_after_the_channel_read_back_clamped_and_reapplied_after_a_reset() {
    let fake = Fake::new(Script::default());
    let opts = SpinelOptions { tx_power: Some(20), ..quick() };
    let mut radio = SpinelRadio::with_transport(Box::new(fake.clone()), opts).unwrap();
    assert_eq!(tx_power_sets(&fake), [vec![20]], "at open: one signed byte, dBm");
    assert_eq!(radio.status().tx_power, Some(8), "known before the first configuration");
    radio.configure(&config()).unwrap();
    assert_eq!(tx_power_sets(&fake), [vec![20], vec![20]]);
    let order: Vec<u32> = fake
        .state()
        .log
        .iter()
        .skip_while(|f| {
            !matches!(f.command, Command::PropValue(PropOp::Set, PropValue::PhyEnabled(_)))
        })
        .filter_map(|f| match &f.command {
            Command::PropValue(PropOp::Set, v) => Some(v.prop().id()),
            _ => None,
        })
        .collect();
    let at = order.iter().position(|p| *p == PROP_PHY_TX_POWER).unwrap();
    assert_eq!(order[at - 1], Prop::PhyChan.id(), "after the channel, whose maximum caps it");
    assert_eq!(radio.status().tx_power, Some(8), "what the hardware does, not what was asked");
    // The RCP restarts with its default power: the power is set again.
    fake.state().props.clear();
    fake.send(0, Command::PropValue(PropOp::Is, PropValue::LastStatus(Status::ResetSoftware)));
    let e = one_event(&mut radio, Duration::from_secs(3));
    assert!(matches!(e.incident, RadioIncident::Recovered { config_reapplied: true, .. }), "{e:?}");
    assert_eq!(tx_power_sets(&fake), [vec![20], vec![20], vec![20]]);
    assert_eq!(
        fake.state().props.get(&PROP_PHY_TX_POWER),
        Some(&PropValue::Other { prop: PROP_PHY_TX_POWER, data: vec![8] })
    );
    assert_eq!(radio.status().tx_power, Some(8));
}

#[test]
fn without_tx_power_the_firmware_default_is_left_alone() {
    let fake = Fake::new(Script::default());
    let mut radio = open(&fake).unwrap();
    radio.configure(&config()).unwrap();
    assert!(tx_power_sets(&fake).is_empty());
    assert_eq!(radio.status().tx_power, None);
}

#[test]
fn tx_power_urls_parse_range_checked_and_round_trip() {
    let s = SpinelSpec::parse("spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800&tx-power=-7")
        .unwrap();
    assert_eq!(s.tx_power(), Some(-7));
    assert_eq!(s.to_string(), "spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800&tx-power=-7");
    let s =
        SpinelSpec::parse("spinel+hdlc+forkpty:///bin/ot-rcp?tx-power=20&forkpty-arg=1").unwrap();
    assert_eq!(s.tx_power(), Some(20));
    assert_eq!(SpinelSpec::parse(&s.to_string()).unwrap(), s);
    let s = SpinelSpec::parse("spinel+hdlc+forkpty:///bin/ot-rcp?tx-power=-40").unwrap();
    assert_eq!(s.to_string(), "spinel+hdlc+forkpty:///bin/ot-rcp?tx-power=-40");
    assert_eq!(SpinelSpec::parse("spinel+hdlc+forkpty:///bin/ot-rcp").unwrap().tx_power(), None);
    for (url, why) in [
        ("spinel+hdlc+uart:///dev/ttyACM0?tx-power=21", "tx-power=21 dBm is out of range"),
        ("spinel+hdlc+uart:///dev/ttyACM0?tx-power=-41", "-40 to 20 dBm"),
        ("spinel+hdlc+uart:///dev/ttyACM0?tx-power=300", "out of range"),
        ("spinel+hdlc+uart:///dev/ttyACM0?tx-power=99999", "out of range"),
        ("spinel+hdlc+uart:///dev/ttyACM0?tx-power=high", "not a whole number"),
        ("spinel+hdlc+uart:///dev/ttyACM0?tx-power=4.5", "not a whole number"),
        ("spinel+hdlc+uart:///dev/ttyACM0?tx-power", "tx-power needs a value"),
        ("spinel+hdlc+forkpty:///bin/ot-rcp?tx-power=1&tx-power=2", "given twice"),
    ] {
        let e = SpinelSpec::parse(url).unwrap_err();
        assert!(e.contains(why) && e.starts_with("--radio "), "{url}: {e}");
    }
}

/// Runs an energy scan of `channel` on a thread while `rcp` plays the RCP's side once the
/// scan was started (SCAN_STATE set to ENERGY); returns the scan's result.
fn energy_scan_with(
    fake: &Fake,
    radio: SpinelRadio,
    channel: u8,
    rcp: impl FnOnce(&Fake),
) -> Result<i8, RadioError> {
    let scan = std::thread::spawn(move || radio.energy_scan(channel, Duration::from_millis(20)));
    fake.wait_for("SCAN_STATE = ENERGY", |f| {
        matches!(&f.command, Command::PropValue(PropOp::Set, PropValue::Other { prop, data })
            if *prop == PROP_MAC_SCAN_STATE && data[..] == [SCAN_STATE_ENERGY])
    });
    rcp(fake);
    scan.join().unwrap()
}

fn energy_result(data: &[u8]) -> Command {
    let v = PropValue::Other { prop: PROP_MAC_ENERGY_SCAN_RESULT, data: data.to_vec() };
    Command::PropValue(PropOp::Is, v)
}

#[test]
fn an_energy_scan_sets_mask_and_period_then_reads_the_rcps_unprompted_result() {
    let fake = Fake::new(Script::default());
    let radio = open(&fake).unwrap();
    let rssi = energy_scan_with(&fake, radio, 20, |f| f.send(0, energy_result(&[20, 0xb5])));
    assert_eq!(rssi.unwrap(), -75);
    let sets: Vec<(u32, Vec<u8>)> = fake
        .state()
        .log
        .iter()
        .filter_map(|f| match &f.command {
            Command::PropValue(PropOp::Set, PropValue::Other { prop, data }) => {
                Some((*prop, data.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        sets,
        [
            (PROP_MAC_SCAN_MASK, vec![20]),
            (PROP_MAC_SCAN_PERIOD, 20u16.to_le_bytes().to_vec()),
            (PROP_MAC_SCAN_STATE, vec![SCAN_STATE_ENERGY]),
        ]
    );
    assert_eq!(fake.state().props.get(&Prop::PhyEnabled.id()), Some(&PropValue::PhyEnabled(true)));
}

#[test]
fn an_energy_scan_the_rcp_answers_wrongly_or_never_is_an_error() {
    // Nothing measured (OT_RADIO_RSSI_INVALID), another channel, a truncated result (ignored:
    // no result comes), silence: each a typed error, in bounded time.
    for (what, data) in [
        ("measured nothing", vec![15, 127]),
        ("reported Some((16", vec![16, 0xa0]),
        ("no energy scan result", vec![15]),
    ] {
        let fake = Fake::new(Script::default());
        let radio = open(&fake).unwrap();
        let t0 = Instant::now();
        let e =
            energy_scan_with(&fake, radio, 15, |f| f.send(0, energy_result(&data))).unwrap_err().0;
        assert!(e.contains(what), "{data:?}: {e}");
        assert!(t0.elapsed() < Duration::from_secs(3), "{data:?}");
    }
    // A firmware that refuses the scan.
    let fake = Fake::new(Script::default());
    let radio = open(&fake).unwrap();
    fake.script.lock().unwrap().silent = true;
    let e = radio.energy_scan(15, Duration::from_millis(20)).unwrap_err().0;
    assert!(e.contains("no answer"), "{e}");
    let fake = Fake::new(Script::default());
    let radio = open(&fake).unwrap();
    let e = radio.energy_scan(27, Duration::from_millis(20)).unwrap_err().0;
    assert!(e.contains("11-26"), "{e}");
}
