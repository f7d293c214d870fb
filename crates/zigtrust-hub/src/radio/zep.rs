//! `--radio zep:ADDR:PORT`: the coordinator's 802.15.4 frames as ZEP v2 over UDP, so
//! Wireshark/tshark can watch live (capture on the loopback interface, UDP port 17754) and
//! anything that speaks ZEP can inject frames.
//!
//! The radio binds `0.0.0.0:PORT` and sends every frame to `ADDR:PORT` with its own ZEP device
//! id, so on loopback it receives its own datagrams back and skips them by that id. The thin MAC
//! here does what a coordinator's radio and MAC do for the hub: answers beacon requests with a
//! Zigbee beacon, holds frames for sleepy children until their data request (802.15.4 indirect
//! transmission), and sends the rest at once. MAC acknowledgements are not sent (ZEP peers are
//! sniffers and simulators that do not wait for them).

use super::indirect::IndirectQueue;
use super::{coordinator_beacon, Radio, RadioConfig, RadioError, Received};
use std::net::{SocketAddr, UdpSocket};
use zigtrust_capture::zep::{self, ZepHeader, ZepTrailer};
use zigtrust_capture::RecordContent;
use zigtrust_tc::model::Millis;
use zigtrust_tc::{RxMeta, Transmit};
use zigtrust_wire::mac::{Address, MacBody, MacCommand, MacFrame};

/// Our ZEP device id ("ZT"): datagrams carrying it are our own, echoed back on loopback.
pub const DEVICE_ID: u16 = 0x5a54;

/// The ZEP radio (see the module docs).
pub struct ZepRadio {
    sock: UdpSocket,
    peer: SocketAddr,
    config: Option<RadioConfig>,
    indirect: IndirectQueue,
    sequence: u32,
    mac_seq: u8,
    /// Frames received from peers.
    pub frames_in: u64,
    /// Frames sent.
    pub frames_out: u64,
}

impl ZepRadio {
    /// Binds the peer's port on every interface.
    pub fn open(peer: SocketAddr) -> Result<ZepRadio, RadioError> {
        let bind = SocketAddr::new([0, 0, 0, 0].into(), peer.port());
        let sock =
            UdpSocket::bind(bind).map_err(|e| RadioError(format!("binding UDP {bind}: {e}")))?;
        sock.set_nonblocking(true).map_err(|e| RadioError(e.to_string()))?;
        Ok(ZepRadio {
            sock,
            peer,
            config: None,
            indirect: IndirectQueue::new(),
            sequence: 0,
            mac_seq: 0,
            frames_in: 0,
            frames_out: 0,
        })
    }

    fn send(&mut self, psdu: &[u8], now: Millis) -> Result<(), RadioError> {
        self.sequence = self.sequence.wrapping_add(1);
        let h = ZepHeader {
            channel: self.config.map_or(15, |c| c.channel),
            device_id: DEVICE_ID,
            lqi: 0xff,
            trailer: ZepTrailer::Fcs,
            ntp_timestamp: zep::ntp_from_unix(zigtrust_capture::Timestamp {
                secs: (now / 1000) as i64,
                nanos: (now % 1000) as u32 * 1_000_000,
            }),
            sequence: self.sequence,
        };
        let d = zep::encode_v2(&h, psdu)
            .ok_or_else(|| RadioError(format!("a {}-byte frame does not fit ZEP", psdu.len())))?;
        self.sock
            .send_to(&d, self.peer)
            .map_err(|e| RadioError(format!("sending to {}: {e}", self.peer)))?;
        self.frames_out += 1;
        Ok(())
    }

    fn beacon(&mut self, now: Millis) -> Result<(), RadioError> {
        let Some(c) = self.config else { return Ok(()) };
        self.mac_seq = self.mac_seq.wrapping_add(1);
        let psdu = coordinator_beacon(&c, self.mac_seq);
        self.send(&psdu, now)
    }

    fn data_request(&mut self, child: Address, now: Millis) -> Result<(), RadioError> {
        self.indirect.expire(now);
        match self.indirect.take(child) {
            Some(t) => self.send(&t.psdu, now),
            None => Ok(()),
        }
    }
}

impl Radio for ZepRadio {
    fn configure(&mut self, config: &RadioConfig) -> Result<(), RadioError> {
        self.config = Some(*config);
        Ok(())
    }

    fn transmit(&mut self, now: Millis, frame: Transmit) -> Result<(), RadioError> {
        if frame.indirect {
            self.indirect.hold(now, frame.psdu).map(|_| ())
        } else {
            self.send(&frame.psdu, now)
        }
    }

    fn receive(&mut self, now: Millis) -> Result<Option<Received>, RadioError> {
        let mut buf = [0u8; 256];
        loop {
            let n = match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                // ICMP port unreachable from an absent peer, reported on the next receive.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(RadioError(format!("receiving ZEP: {e}"))),
            };
            let RecordContent::Frame(f) = zep::decode(&buf[..n]) else { continue };
            if n >= 7 && u16::from_be_bytes([buf[5], buf[6]]) == DEVICE_ID {
                continue; // our own, echoed back
            }
            self.frames_in += 1;
            let Ok(mac) = MacFrame::parse(&f.psdu) else { continue };
            match mac.body {
                MacBody::Command(MacCommand::BeaconRequest) => self.beacon(now)?,
                MacBody::Command(MacCommand::DataRequest) => {
                    self.data_request(mac.header.src_addr, now)?
                }
                _ => return Ok(Some(Received { psdu: f.psdu, meta: RxMeta::default() })),
            }
        }
    }
}
