//! `--radio zep:ADDR:PORT`: the coordinator's 802.15.4 frames as ZEP v2 over UDP, so
//! Wireshark/tshark can watch live (capture on the loopback interface, UDP port 17754) and
//! anything that speaks ZEP can inject frames.
//!
//! The daemon binds `0.0.0.0:PORT` and sends every frame to `ADDR:PORT` with its own ZEP device
//! id, so on loopback it receives its own datagrams back and skips them by that id. The thin MAC
//! shell here does what a coordinator's radio and MAC do for the core: answers beacon requests
//! with a Zigbee beacon, holds frames for sleepy children until their data request (802.15.4
//! indirect transmission), and sends the rest at once. MAC acknowledgements are not sent (ZEP
//! peers are sniffers and simulators that do not wait for them).

use std::cell::RefCell;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::rc::Rc;
use zigtrust_capture::zep::{self, ZepHeader, ZepTrailer};
use zigtrust_capture::RecordContent;
use zigtrust_store::Store;
use zigtrust_tc::model::Millis;
use zigtrust_tc::{Event, RxMeta, TrustCenter};
use zigtrust_wire::mac::{
    Address, Beacon, MacBody, MacCommand, MacFrame, SuperframeSpec, ZigbeeBeaconPayload,
};
use zigtrust_wire::ShortAddr;

/// Our ZEP device id ("ZT"): datagrams carrying it are our own, echoed back on loopback.
pub const DEVICE_ID: u16 = 0x5a54;
/// How long a frame waits for a sleepy child's data request (macTransactionPersistenceTime).
const PERSISTENCE_MS: Millis = 7_680;

pub struct ZepRadio {
    pub tc: TrustCenter,
    store: Rc<RefCell<Store>>,
    sock: UdpSocket,
    peer: SocketAddr,
    indirect: Vec<(Address, Vec<u8>, Millis)>,
    pub events: Vec<(Millis, Event)>,
    /// Shared with the hub state: the last store failure (the radio is mute meanwhile).
    store_error: Rc<RefCell<Option<String>>>,
    sequence: u32,
    mac_seq: u8,
    pub frames_in: u64,
    pub frames_out: u64,
}

/// Parses `ADDR:PORT` (the part after `zep:`).
pub fn parse_target(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .map_err(|e| format!("--radio zep:{s}: {e}"))?
        .next()
        .ok_or_else(|| format!("--radio zep:{s}: no address"))
}

impl ZepRadio {
    pub fn open(
        tc: TrustCenter,
        store: Rc<RefCell<Store>>,
        store_error: Rc<RefCell<Option<String>>>,
        peer: SocketAddr,
    ) -> Result<ZepRadio, String> {
        let bind = SocketAddr::new([0, 0, 0, 0].into(), peer.port());
        let sock = UdpSocket::bind(bind).map_err(|e| format!("binding UDP {bind}: {e}"))?;
        sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        Ok(ZepRadio {
            tc,
            store,
            sock,
            peer,
            indirect: Vec::new(),
            events: Vec::new(),
            store_error,
            sequence: 0,
            mac_seq: 0,
            frames_in: 0,
            frames_out: 0,
        })
    }

    fn channel(&self) -> u8 {
        self.tc.network().map_or(15, |n| n.channel)
    }

    fn send(&mut self, psdu: &[u8], now: Millis) {
        self.sequence = self.sequence.wrapping_add(1);
        let h = ZepHeader {
            channel: self.channel(),
            device_id: DEVICE_ID,
            lqi: 0xff,
            trailer: ZepTrailer::Fcs,
            ntp_timestamp: zep::ntp_from_unix(zigtrust_capture::Timestamp {
                secs: (now / 1000) as i64,
                nanos: (now % 1000) as u32 * 1_000_000,
            }),
            sequence: self.sequence,
        };
        if let Some(d) = zep::encode_v2(&h, psdu) {
            if self.sock.send_to(&d, self.peer).is_ok() {
                self.frames_out += 1;
            }
        }
    }

    /// Commits the core's writes, then sends (or holds) its frames; keeps its events.
    pub fn drain(&mut self, now: Millis) {
        let writes = self.tc.take_store_writes();
        if !writes.is_empty() {
            let r = self.store.borrow_mut().apply(&writes);
            *self.store_error.borrow_mut() = r.as_ref().err().map(ToString::to_string);
            if r.is_err() {
                // Frames whose counter lease is not durable must never go on air.
                while self.tc.poll_transmit().is_some() {}
            }
        }
        while let Some(t) = self.tc.poll_transmit() {
            if t.indirect {
                if let Ok(f) = MacFrame::parse(&t.psdu) {
                    self.indirect.push((f.header.dst_addr, t.psdu, now + PERSISTENCE_MS));
                }
            } else {
                self.send(&t.psdu, now);
            }
        }
        while let Some(e) = self.tc.poll_event() {
            self.events.push((now, e));
        }
    }

    /// Receives what arrived, runs timers.
    pub fn advance(&mut self, now: Millis) {
        let mut buf = [0u8; 256];
        while let Ok((n, _)) = self.sock.recv_from(&mut buf) {
            let RecordContent::Frame(f) = zep::decode(&buf[..n]) else { continue };
            if u16::from_be_bytes([buf[5], buf[6]]) == DEVICE_ID {
                continue; // our own, echoed back
            }
            self.frames_in += 1;
            self.mac_rx(&f.psdu, now);
        }
        if self.tc.next_timeout().is_some_and(|t| t <= now) {
            self.tc.handle_timeout(now);
            self.drain(now);
        }
    }

    fn mac_rx(&mut self, psdu: &[u8], now: Millis) {
        let Ok(f) = MacFrame::parse(psdu) else { return };
        match f.body {
            MacBody::Command(MacCommand::BeaconRequest) => self.beacon(now),
            MacBody::Command(MacCommand::DataRequest) => {
                self.indirect.retain(|(_, _, exp)| *exp > now);
                let child = f.header.src_addr;
                if let Some(i) = self.indirect.iter().position(|(d, _, _)| *d == child) {
                    let (_, mut p, _) = self.indirect.remove(i);
                    if self.indirect.iter().any(|(d, _, _)| *d == child) && !p.is_empty() {
                        p[0] |= 0x10; // frame pending: more to come
                    }
                    self.send(&p, now);
                }
            }
            _ => {
                self.tc.handle_frame(now, psdu, RxMeta::default());
                self.drain(now);
            }
        }
    }

    fn beacon(&mut self, now: Millis) {
        let Some(net) = self.tc.network().cloned() else { return };
        let zb = ZigbeeBeaconPayload::coordinator(net.extended_pan_id, net.nwk_update_id);
        let mut payload = Vec::new();
        zb.emit(&mut payload);
        let permit = self.tc.permit_join_remaining().is_some_and(|r| r > 0);
        self.mac_seq = self.mac_seq.wrapping_add(1);
        let b = MacFrame::beacon(
            self.mac_seq,
            net.pan_id,
            ShortAddr::COORDINATOR,
            Beacon::new(SuperframeSpec::zigbee(true, permit), &payload),
        );
        let mut psdu = Vec::new();
        b.emit(&mut psdu);
        self.send(&psdu, now);
    }
}
