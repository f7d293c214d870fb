//! The simulator's devices as further nodes on OpenThread's simulation medium, so that a hub on
//! a real `ot-rcp` (the simulation build of OpenThread's RCP firmware) talks to them through
//! that radio.
//!
//! The medium (OpenThread `examples/platforms/simulation/radio.c`): UDP over IPv4 multicast,
//! group [`GROUP`] on 127.0.0.1, port [`base_port`]`(PORT_OFFSET)`; node N sends from
//! 127.0.0.1:base+N, and receivers take the sender's node id from the source port. Each
//! datagram is one channel byte and the PSDU with its 2-byte FCS (CRC-16/KERMIT, LE).
//!
//! [`OtMedium`] runs a [`World`] in real time with its medium replaced ([`World::external`]):
//! the device models keep their own logic (joins, polls, rejoins, keys, relaying, indirect
//! queues as parents) and their MAC queues and retries; every frame they transmit goes on the
//! medium from the node's own socket, and every datagram on the medium's channel goes through
//! each node's radio: address filtering (PAN, short, extended, broadcast), sleepy nodes
//! hearing only while their receiver is on, and an immediate MAC ACK from the node's own
//! socket for frames with AR addressed to it — sent from the receive path before anything
//! else, since OpenThread's sub-MAC waits only 16 ms — with frame-pending when a router node
//! holds an indirect frame for the polling child. ACKs heard complete the waiting node's
//! transmission; frame-pending in them keeps a sleepy node listening for
//! [`External::pending_listen_us`]. The world's attacker hears every datagram.
//!
//! The module needs only std; the multicast sockets (which need `SO_REUSEPORT` and
//! `IP_MULTICAST_IF`, outside std) are made by the caller: a receiving socket bound to
//! `GROUP:base` and joined to the group, and one socket per node bound to 127.0.0.1:base+id
//! with multicast on loopback.

use crate::engine::Us;
use crate::world::{External, World};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zigtrust_wire::mac::{fcs, MacFrame, MacPacket};

/// The medium's multicast group.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 116);
/// OpenThread's simulation radio ignores node ids above this.
pub const MAX_NODE_ID: u16 = 33;

/// The medium's port at `PORT_OFFSET` `port_offset`: 9000 + 34 × offset.
pub fn base_port(port_offset: u16) -> u16 {
    9000 + port_offset * 34
}

/// One datagram on the medium.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// When it was read (or sent, for [`OtMedium::sent`]).
    pub at: Instant,
    /// The same moment as Unix microseconds.
    pub unix_us: u64,
    /// The sender's node id.
    pub node: u16,
    /// Its channel byte.
    pub channel: u8,
    /// The PSDU with its FCS.
    pub psdu: Vec<u8>,
}

impl Datagram {
    /// The MAC frame without its FCS.
    pub fn without_fcs(&self) -> &[u8] {
        &self.psdu[..self.psdu.len().saturating_sub(2)]
    }
}

/// Counters of an [`OtMedium`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtStats {
    /// Datagrams read on the medium's channel (every node's, ours included).
    pub heard: u64,
    /// Frames the world's nodes transmitted.
    pub sent: u64,
    /// MAC ACKs the nodes' radios sent.
    pub acks_sent: u64,
    /// ACKs that completed a node's transmission.
    pub acks_matched: u64,
    /// Datagrams ignored: too short or on another channel.
    pub ignored: u64,
    /// Send errors on the nodes' sockets.
    pub send_errors: u64,
}

/// Actions the world schedules as `Ev::Action` (scenario scripts).
pub type Actions = Box<dyn FnMut(&mut World, usize) + Send>;

/// A world whose nodes live on OpenThread's simulation medium (see the module docs).
pub struct OtMedium {
    /// The simulated nodes. Its clock is Unix microseconds, advanced with real time.
    pub world: World,
    base: u16,
    channel: u8,
    rx: UdpSocket,
    /// World node → (node id on the medium, its socket).
    socks: HashMap<usize, (u16, UdpSocket)>,
    by_id: HashMap<u16, usize>,
    origin: (Instant, Us),
    /// Everything heard on the medium's channel, in order, when [`OtMedium::keep`] is set.
    pub heard: Vec<Datagram>,
    /// Everything the nodes sent (ACKs included), when [`OtMedium::keep`] is set.
    pub sent: Vec<Datagram>,
    /// Whether to keep [`OtMedium::heard`] and [`OtMedium::sent`].
    pub keep: bool,
    /// Counters.
    pub stats: OtStats,
    actions: Option<Actions>,
}

impl OtMedium {
    /// Puts `world`'s nodes on the medium at `base` (see [`base_port`]) on `channel`. `rx`:
    /// the receiving socket (bound to `GROUP:base`, joined); `nodes`: (world node, node id,
    /// its socket bound to 127.0.0.1:base+id). Nodes not listed stay off the medium (node 0,
    /// the hub's port, is the RCP's business). The world's clock is set to now (Unix µs) and
    /// its medium replaced; `ack_wait` and `pending_listen` set [`External`].
    pub fn new(
        mut world: World,
        base: u16,
        channel: u8,
        rx: UdpSocket,
        nodes: Vec<(usize, u16, UdpSocket)>,
        ack_wait: Duration,
        pending_listen: Duration,
    ) -> OtMedium {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros()) as Us;
        world.q.now = world.q.now.max(unix);
        world.keep_capture = false;
        world.external = Some(External {
            outbox: Vec::new(),
            ack_wait_us: ack_wait.as_micros() as Us,
            pending_listen_us: pending_listen.as_micros() as Us,
        });
        let mut socks = HashMap::new();
        let mut by_id = HashMap::new();
        for (n, id, s) in nodes {
            by_id.insert(id, n);
            socks.insert(n, (id, s));
        }
        OtMedium {
            origin: (Instant::now(), world.q.now),
            world,
            base,
            channel,
            rx,
            socks,
            by_id,
            heard: Vec::new(),
            sent: Vec::new(),
            keep: true,
            stats: OtStats::default(),
            actions: None,
        }
    }

    /// Sets what `Ev::Action(i)` events do.
    pub fn set_actions(&mut self, actions: Actions) {
        self.actions = Some(actions);
    }

    /// The medium's base port.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// The node id of world node `n` on the medium.
    pub fn node_id(&self, n: usize) -> Option<u16> {
        self.socks.get(&n).map(|s| s.0)
    }

    /// The world node with medium node id `id`.
    pub fn world_node(&self, id: u16) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// Real time as the world's clock (Unix µs).
    pub fn now_us(&self) -> Us {
        self.origin.1 + self.origin.0.elapsed().as_micros() as Us
    }

    /// Runs the world up to now and puts what its nodes transmitted on the medium.
    pub fn advance(&mut self) {
        let now = self.now_us().max(self.world.q.now);
        let mut actions = self.actions.take();
        match &mut actions {
            Some(a) => self.world.run_until(now, &mut |w, i| a(w, i)),
            None => self.world.run_until(now, &mut |_, _| {}),
        }
        self.actions = actions;
        self.flush();
    }

    /// How long until the world's next event (at most `max`).
    pub fn next_wait(&self, max: Duration) -> Duration {
        match self.world.q.peek_time() {
            Some(t) => Duration::from_micros(t.saturating_sub(self.now_us())).min(max),
            None => max,
        }
    }

    fn flush(&mut self) {
        let out = match &mut self.world.external {
            Some(e) => std::mem::take(&mut e.outbox),
            None => return,
        };
        for (n, psdu) in out {
            self.send(n, &psdu);
        }
    }

    /// Sends `psdu` (without FCS; the FCS is appended as a radio would) from world node `n`.
    fn send(&mut self, n: usize, psdu: &[u8]) {
        let Some((id, sock)) = self.socks.get(&n) else { return };
        let mut d = Vec::with_capacity(psdu.len() + 3);
        d.push(self.channel);
        d.extend_from_slice(psdu);
        d.extend_from_slice(&fcs(psdu).to_le_bytes());
        let at = Instant::now();
        match sock.send_to(&d, SocketAddrV4::new(GROUP, self.base)) {
            Ok(_) => self.stats.sent += 1,
            Err(_) => self.stats.send_errors += 1,
        }
        if self.keep {
            let unix_us = self.origin.1 + (at - self.origin.0).as_micros() as Us;
            self.sent.push(Datagram {
                at,
                unix_us,
                node: *id,
                channel: d[0],
                psdu: d[1..].to_vec(),
            });
        }
    }

    /// Handles one datagram read from the medium at `at` from source port `port`.
    pub fn handle(&mut self, port: u16, data: &[u8], at: Instant) {
        if data.len() < 4 || data[0] != self.channel {
            self.stats.ignored += 1;
            return;
        }
        let node = port.wrapping_sub(self.base);
        let psdu = &data[1..data.len() - 2];
        let now = self.origin.1 + at.saturating_duration_since(self.origin.0).as_micros() as Us;
        let now = now.max(self.world.q.now);
        // The world's clock at this frame (timers due by then run first).
        self.advance();
        self.world.q.now = self.world.q.now.max(now);
        self.stats.heard += 1;
        if self.keep {
            self.heard.push(Datagram {
                at,
                unix_us: now,
                node,
                channel: data[0],
                psdu: data[1..].to_vec(),
            });
        }
        let sender = self.by_id.get(&node).copied();
        let packet = MacPacket::new_unchecked(psdu);
        if MacFrame::parse(psdu).is_ok_and(|f| matches!(f.body, zigtrust_wire::mac::MacBody::Ack)) {
            if let Some(seq) = packet.sequence() {
                let done = self.world.external_ack(seq, packet.frame_pending());
                self.stats.acks_matched +=
                    done.iter().filter(|&&n| Some(n) != sender).count() as u64;
            }
            self.world.record(psdu);
            self.flush();
            return;
        }
        // Every radio first: ACKs go out before any node acts on the frame.
        let mut nodes: Vec<usize> =
            self.socks.keys().copied().filter(|&n| Some(n) != sender).collect();
        nodes.sort_unstable();
        let mut deliver = Vec::new();
        for n in nodes {
            let Some(rx) = self.world.external_filter(n, psdu) else { continue };
            if let Some((seq, pending)) = rx.ack {
                let mut ack = Vec::new();
                MacFrame::ack(seq, pending).emit(&mut ack);
                self.send(n, &ack);
                self.stats.acks_sent += 1;
            }
            deliver.push((n, rx.addressed));
        }
        self.world.record(psdu);
        for (n, addressed) in deliver {
            self.world.external_deliver(n, psdu, addressed);
        }
        self.flush();
    }

    /// Reads and handles datagrams for up to `max` (less when a world event is due sooner),
    /// running the world meanwhile. For a caller that drives the medium itself; see
    /// [`OtMediumThread`] for one on its own thread.
    pub fn step(&mut self, max: Duration) -> io::Result<()> {
        self.advance();
        let wait = self.next_wait(max).max(Duration::from_micros(200));
        self.rx.set_read_timeout(Some(wait))?;
        let mut buf = [0u8; 256];
        match self.rx.recv_from(&mut buf) {
            Ok((n, from)) => {
                let at = Instant::now();
                self.handle(from.port(), &buf[..n], at);
                Ok(())
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.advance();
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Runs the medium on its own thread.
    pub fn spawn(self) -> io::Result<OtMediumThread> {
        let rx = self.rx.try_clone()?;
        let inner = Arc::new(Mutex::new(self));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (inner.clone(), stop.clone());
        let thread =
            std::thread::Builder::new().name("ot-medium".into()).spawn(move || run(m, s, rx))?;
        Ok(OtMediumThread { inner, stop, thread: Some(thread) })
    }
}

fn run(m: Arc<Mutex<OtMedium>>, stop: Arc<AtomicBool>, rx: UdpSocket) {
    let lock = || m.lock().unwrap_or_else(|p| p.into_inner());
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        let wait = {
            let mut g = lock();
            g.advance();
            g.next_wait(Duration::from_millis(2)).max(Duration::from_micros(200))
        };
        if rx.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        // Read without holding the lock, so the world stays reachable meanwhile.
        if let Ok((n, from)) = rx.recv_from(&mut buf) {
            let at = Instant::now();
            lock().handle(from.port(), &buf[..n], at);
        }
    }
}

/// An [`OtMedium`] running on its own thread; stopped when dropped.
pub struct OtMediumThread {
    inner: Arc<Mutex<OtMedium>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl OtMediumThread {
    /// The medium, locked (the thread waits meanwhile: keep it short).
    pub fn lock(&self) -> MutexGuard<'_, OtMedium> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the medium.
    pub fn with<T>(&self, f: impl FnOnce(&mut OtMedium) -> T) -> T {
        f(&mut self.lock())
    }

    /// Stops the thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for OtMediumThread {
    fn drop(&mut self) {
        self.stop();
    }
}
