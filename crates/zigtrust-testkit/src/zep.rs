//! A device's end of `zigtrust serve --radio zep:127.0.0.1:PORT`.
//!
//! The daemon's ZEP radio binds UDP port PORT on every interface and sends each frame to
//! 127.0.0.1:PORT — to itself, on loopback (it skips its own datagrams by their ZEP device id).
//! So no other socket can receive what it sends: a device sends its frames to PORT from a port
//! of its own, and sees the daemon's frames by capturing the loopback interface, as Wireshark
//! watching the network would: a live tshark prints each datagram's UDP payload as it arrives
//! (a ZEP datagram on any port; `zigtrust-capture` reads ZEP inside a capture only on the ZEP
//! port, 17754, which a test must not take from a daemon running on the machine).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zigtrust_capture::zep::{self, encode_v2, ZepHeader, ZepTrailer};
use zigtrust_capture::RecordContent;
use zigtrust_crypto::decode_hex_loose;

/// The ZEP device id the test device sends with (anything else on the port is the daemon).
pub const DEVICE_ID: u16 = 0x1234;

/// A UDP port that was free a moment ago on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("binding an ephemeral UDP port");
    s.local_addr().expect("local address").port()
}

/// Sends a device's frames to the daemon and receives the daemon's frames (see the module docs).
pub struct ZepLink {
    sock: UdpSocket,
    daemon: SocketAddr,
    sequence: u32,
    sniffer: Child,
    frames: mpsc::Receiver<Vec<u8>>,
}

impl ZepLink {
    /// Starts capturing UDP port `port` on loopback and returns once the capture runs.
    pub fn open(port: u16) -> ZepLink {
        let mut sniffer = Command::new("tshark")
            .env("WIRESHARK_CONFIG_DIR", crate::scratch("empty-wireshark-profile"))
            .args(["-i", "lo", "-f", &format!("udp port {port}"), "-l", "-n"])
            .args(["-T", "fields", "-e", "udp.payload"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tshark must be installed (scripts/test installs it)");
        let err = sniffer.stderr.take().expect("piped stderr");
        let mut err = BufReader::new(err).lines();
        let mut said = Vec::new();
        loop {
            match err.next() {
                Some(Ok(l)) if l.contains("Capturing on") => break,
                Some(Ok(l)) => said.push(l),
                _ => panic!("tshark could not capture on lo (needs capture rights): {said:?}"),
            }
        }
        std::thread::spawn(move || for _ in err {});
        let out = sniffer.stdout.take().expect("piped stdout");
        let (tx, frames) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let Ok(datagram) = decode_hex_loose(line.trim()) else { continue };
                let RecordContent::Frame(f) = zep::decode(&datagram) else { continue };
                if f.zep.is_some_and(|z| z.device_id != DEVICE_ID) && tx.send(f.psdu).is_err() {
                    return;
                }
            }
        });
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binding the device's UDP port");
        let daemon = SocketAddr::from(([127, 0, 0, 1], port));
        ZepLink { sock, daemon, sequence: 0, sniffer, frames }
    }

    /// Sends one MAC frame (without FCS) to the daemon as ZEP v2. Errors are ignored: the
    /// daemon may be down, as a radio peer may be.
    pub fn send(&mut self, psdu: &[u8]) {
        self.sequence = self.sequence.wrapping_add(1);
        let h = ZepHeader {
            channel: 15,
            device_id: DEVICE_ID,
            lqi: 200,
            trailer: ZepTrailer::Fcs,
            ntp_timestamp: 0,
            sequence: self.sequence,
        };
        let d = encode_v2(&h, psdu).expect("an 802.15.4 frame fits ZEP");
        let _ = self.sock.send_to(&d, self.daemon);
    }

    /// The daemon's next frame, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.frames.recv_timeout(timeout).ok()
    }

    /// Every frame of the daemon's captured until `wait` from now.
    pub fn frames_for(&self, wait: Duration) -> Vec<Vec<u8>> {
        let until = Instant::now() + wait;
        let mut v = Vec::new();
        while let Some(f) = self.recv_timeout(until.saturating_duration_since(Instant::now())) {
            v.push(f);
        }
        v
    }
}

impl Drop for ZepLink {
    /// Stops tshark with SIGINT, as a user would: it then stops the dumpcap it captures with,
    /// which a SIGKILL would leave running. SIGKILL only if it does not stop within 10 s.
    fn drop(&mut self) {
        let pid = self.sniffer.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.sniffer.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.sniffer.kill();
        let _ = self.sniffer.wait();
    }
}
