//! OpenThread's simulation medium for the tests that run the simulation `ot-rcp` (UDP
//! multicast 224.0.0.116 on 127.0.0.1, port 9000 + PORT_OFFSET × 34; each datagram is one
//! channel byte and the PSDU with its FCS; node N sends from 127.0.0.1:base+N): the `ot-rcp`
//! binary, its process transport, the multicast sockets (`SO_REUSEPORT`, `IP_MULTICAST_IF`,
//! which std lacks) and [`Medium`], a test's own view of the medium for injecting frames and
//! reading what the RCP put on air. [`sim_nodes`] puts a simulated world's devices on it
//! ([`zigtrust_sim::medium_ot`]).
//!
//! `ZIGTRUST_OT_RCP` names another `ot-rcp` binary. Without one, [`ot_rcp`] builds it with
//! `scripts/build-ot-rcp` and fails — never skips — when that fails.

use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use zigtrust_hub::radio::spinel::ProcessTransport;
use zigtrust_sim::medium_ot::{base_port, OtMedium, OtMediumThread, GROUP};
use zigtrust_sim::world::World;
use zigtrust_wire::mac::{fcs, MacFrame};

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The `ot-rcp` binary: `ZIGTRUST_OT_RCP`, else the build script's cache (built once if
/// missing). Panics when there is none: the RCP tests never skip.
pub fn ot_rcp() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("ZIGTRUST_OT_RCP") {
            let p = PathBuf::from(p);
            return if p.is_file() {
                Ok(p)
            } else {
                Err(format!("ZIGTRUST_OT_RCP={} is not a file", p.display()))
            };
        }
        let root = crate::repo_root();
        let cached = root.join("target/ot-rcp/ot-rcp");
        if cached.is_file() {
            return Ok(cached);
        }
        let out = std::process::Command::new(root.join("scripts/build-ot-rcp"))
            .output()
            .map_err(|e| format!("running scripts/build-ot-rcp: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/build-ot-rcp failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string());
        if p.is_file() {
            Ok(p)
        } else {
            Err(format!("scripts/build-ot-rcp printed {}, which is not a file", p.display()))
        }
    })
    .clone()
    .unwrap_or_else(|e| panic!("no ot-rcp (the RCP tests need it; they never skip): {e}"))
}

/// `ot-rcp` as node `node` on the medium at `port_offset`, as a process transport for the
/// Spinel radio.
pub fn rcp_transport(node: u16, port_offset: u16) -> ProcessTransport {
    ProcessTransport {
        program: ot_rcp(),
        args: vec![node.to_string()],
        env: vec![("PORT_OFFSET".into(), port_offset.to_string())],
        inherit_stderr: false,
    }
}

/// A socket receiving everything on the medium at `base` (bound to the group's port with
/// `SO_REUSEADDR` and `SO_REUSEPORT`, as every simulated radio binds it).
pub fn rx_socket(base: u16) -> UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("a UDP socket");
    s.set_reuse_address(true).expect("SO_REUSEADDR");
    s.set_reuse_port(true).expect("SO_REUSEPORT");
    s.join_multicast_v4(&GROUP, &LOOPBACK).expect("joining 224.0.0.116 on 127.0.0.1");
    s.bind(&SocketAddr::V4(SocketAddrV4::new(GROUP, base)).into())
        .unwrap_or_else(|e| panic!("binding the medium's port {base}: {e}"));
    s.into()
}

/// Node `node`'s sending socket on the medium at `base`: bound to 127.0.0.1:base+node,
/// multicast out of the loopback interface, looped back to every receiver.
pub fn node_socket(base: u16, node: u16) -> UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("a UDP socket");
    s.set_multicast_if_v4(&LOOPBACK).expect("IP_MULTICAST_IF");
    s.set_multicast_loop_v4(true).expect("IP_MULTICAST_LOOP");
    s.bind(&SocketAddr::V4(SocketAddrV4::new(LOOPBACK, base + node)).into())
        .unwrap_or_else(|e| panic!("binding node {node}'s port {}: {e}", base + node));
    s.into()
}

/// Sockets for world nodes as medium nodes: `(world node, node id)` pairs become the
/// `(world node, node id, socket)` triples [`zigtrust_sim::medium_ot::OtMedium::new`] takes.
pub fn sim_nodes(base: u16, nodes: &[(usize, u16)]) -> Vec<(usize, u16, UdpSocket)> {
    nodes.iter().map(|&(n, id)| (n, id, node_socket(base, id))).collect()
}

/// Every node of `world` but node 0 (the hub's port: the RCP the hub drives is medium node 1)
/// on the medium at `base` on `channel`, world node n as medium node n + 1, with the ACK wait
/// and frame-pending listen times the rig uses, run on its own thread. `rx`: the medium's
/// receiving socket ([`rx_socket`]), opened before the world was built.
pub fn spawn_world_medium(world: World, base: u16, channel: u8, rx: UdpSocket) -> OtMediumThread {
    let ids: Vec<(usize, u16)> = (1..world.nodes.len()).map(|n| (n, n as u16 + 1)).collect();
    let nodes = sim_nodes(base, &ids);
    let ack_wait = Duration::from_millis(40);
    let pending_listen = Duration::from_millis(400);
    OtMedium::new(world, base, channel, rx, nodes, ack_wait, pending_listen)
        .spawn()
        .expect("the medium's thread")
}

/// One datagram: who sent it, on which channel, and the PSDU with its FCS.
#[derive(Debug, Clone)]
pub struct Heard {
    /// The sender's node id (from the source port).
    pub node: u16,
    /// The channel byte.
    pub channel: u8,
    /// The PSDU including its FCS.
    pub psdu: Vec<u8>,
    /// When it was read.
    pub at: Instant,
}

impl Heard {
    /// The MAC frame (panics when it does not parse: a test failure).
    pub fn frame(&self) -> MacFrame<'_> {
        MacFrame::parse(self.without_fcs()).expect("a MAC frame")
    }

    /// The PSDU without its FCS.
    pub fn without_fcs(&self) -> &[u8] {
        &self.psdu[..self.psdu.len().saturating_sub(2)]
    }
}

/// OpenThread's simulation medium at one PORT_OFFSET, seen from a test.
pub struct Medium {
    base: u16,
    channel: u8,
    rx: UdpSocket,
    nodes: HashMap<u16, UdpSocket>,
}

impl Medium {
    /// Joins the medium at `port_offset`; frames are injected on `channel`.
    pub fn new(port_offset: u16, channel: u8) -> Medium {
        let base = base_port(port_offset);
        let rx = rx_socket(base);
        rx.set_read_timeout(Some(Duration::from_millis(20))).expect("a read timeout");
        Medium { base, channel, rx, nodes: HashMap::new() }
    }

    /// The medium's base port.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// Sends `psdu` (without FCS; the FCS is appended as a radio would) as node `node`.
    pub fn inject(&mut self, node: u16, psdu: &[u8]) -> Instant {
        let base = self.base;
        let sock = self.nodes.entry(node).or_insert_with(|| node_socket(base, node));
        let mut d = vec![self.channel];
        d.extend_from_slice(psdu);
        d.extend_from_slice(&fcs(psdu).to_le_bytes());
        let at = Instant::now();
        sock.send_to(&d, SocketAddrV4::new(GROUP, base)).expect("sending on the medium");
        at
    }

    /// The next datagram from `node` that `pred` accepts, within `timeout`.
    pub fn next_from(
        &self,
        node: u16,
        timeout: Duration,
        pred: impl Fn(&Heard) -> bool,
    ) -> Option<Heard> {
        let end = Instant::now() + timeout;
        let mut buf = [0u8; 256];
        while Instant::now() < end {
            let Ok((n, from)) = self.rx.recv_from(&mut buf) else { continue };
            let at = Instant::now();
            if n < 4 {
                continue;
            }
            let h = Heard {
                node: from.port().wrapping_sub(self.base),
                channel: buf[0],
                psdu: buf[1..n].to_vec(),
                at,
            };
            if h.node == node && pred(&h) {
                return Some(h);
            }
        }
        None
    }

    /// Every datagram from `node` within `d`.
    pub fn all_from(&self, node: u16, d: Duration) -> Vec<Heard> {
        let end = Instant::now() + d;
        let mut v = Vec::new();
        while let Some(h) =
            self.next_from(node, end.saturating_duration_since(Instant::now()), |_| true)
        {
            v.push(h);
        }
        v
    }
}
