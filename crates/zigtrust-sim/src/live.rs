//! A small simulated home run in real time, for the hub daemon (`zigtrust serve --radio sim`).
//!
//! The home is a [`Radio`] for the daemon's hub: only the devices (and the attacker) live here;
//! node 0 is the coordinator's radio port, and the Trust Center stays in the hub. The devices are the
//! simulator's models with demo-friendly timing (sleepy devices poll every 5 s, everyone
//! reports every 30 s) and stay in pairing mode until they join. Their non-volatile memory
//! ([`HomeNv`]) is saved by the daemon so the home stays joined across a daemon restart.
//!
//! The home: two routers (a Zigbee 3.0 plug, an HA 1.2 light) and four sleepy sensors (two
//! HA 1.2, two Zigbee 3.0). On first start the daemon pairs all but the last one (adds the
//! install codes of the Z3.0 devices, opens permit join); the last — a Z3.0 motion sensor —
//! waits for the user to scan its install-code label and open permit join. It powers up
//! once the daemon reports its install code known ([`LiveHome::install_code_known`]), as a user
//! would insert its battery after scanning it.
//!
//! The attacker, when switched on, listens to everything (learning keys only from what it
//! decrypts) and every 15 s spoofs a Trust Center rejoin of a joined HA 1.2 device whose short
//! address it has overheard, and every third move (from the second) replays four captured
//! frames instead.

use crate::attacker::{self, Attacker};
use crate::device::{self, Device, DeviceNv, Knobs, Profile, Role};
use crate::engine::{Rng, Topology, Us};
use crate::world::{Ev, Kind, Port, World};
use serde::{Deserialize, Serialize};
use zigtrust_crypto::{InstallCode, Key};
use zigtrust_hub::{Radio, RadioConfig, RadioError, Received};
use zigtrust_tc::model::Millis;
use zigtrust_tc::{RxMeta, Transmit};
use zigtrust_wire::ExtAddr;

/// (name, profile, role, preferred parent node, paired on first start).
const HOME: &[(&str, Profile, Role, usize, bool)] = &[
    ("Living room plug", Profile::Z30, Role::Router, 0, true),
    ("Hallway light", Profile::Ha12, Role::Router, 0, true),
    ("Kitchen temperature", Profile::Z30, Role::Sleepy, 0, true),
    ("Front door contact", Profile::Ha12, Role::Sleepy, 1, true),
    ("Bathroom leak sensor", Profile::Ha12, Role::Sleepy, 2, true),
    ("Garage motion sensor", Profile::Z30, Role::Sleepy, 1, false),
];

/// Counters resume this far above their saved values after a restart; the daemon saves
/// memory before any device uses half of it.
pub const COUNTER_MARGIN: u32 = 4096;

const SPOOF_EVERY_US: Us = 15_000_000;
const SPOOF_ACTION: usize = 0;

pub struct LiveDevice {
    pub node: usize,
    pub name: &'static str,
    pub profile: Profile,
    pub role: Role,
    pub install_code: Option<InstallCode>,
    /// The text of its printed install-code QR label (Z3.0 devices).
    pub label: Option<String>,
    pub auto_pair: bool,
    booted: bool,
}

/// What the daemon saves about the home: the devices' own memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeNv {
    pub seed: u64,
    pub paired_once: bool,
    pub attacker: bool,
    /// By device index in the home, `None` for a device that never joined.
    pub devices: Vec<Option<DeviceNv>>,
}

pub struct LiveHome {
    pub world: World,
    pub devices: Vec<LiveDevice>,
    pub seed: u64,
    pub paired_once: bool,
    attacker_on: bool,
    spoof_rr: usize,
    attacker_node: usize,
    /// Devices whose install code the hub holds (the user scanned their label).
    install_codes_known: Vec<ExtAddr>,
}

impl LiveHome {
    /// Builds the home at `now_us` (Unix µs). `nv`: the devices' saved memory from an earlier
    /// run, if any.
    pub fn new(seed: u64, now_us: Us, nv: Option<&HomeNv>) -> Result<LiveHome, String> {
        let mut w = World::new(seed);
        w.keep_capture = false;
        w.q.now = now_us;
        w.add_node(Kind::Port(Box::default()), true);
        let knobs = Knobs {
            poll_interval_ms: 5_000,
            report_interval_ms: 30_000,
            join_retry_ms: 5_000,
            ..Knobs::default()
        };
        let routers: Vec<usize> = HOME
            .iter()
            .enumerate()
            .filter(|(_, h)| h.2 == Role::Router)
            .map(|(i, _)| i + 1)
            .collect();
        let mut topo = Topology::new(HOME.len() + 2);
        let mut rng = Rng::new(seed ^ 0x686f_6d65);
        let mut devices = Vec::new();
        for (i, &(name, profile, role, parent, auto_pair)) in HOME.iter().enumerate() {
            let n = i + 1;
            let mut candidates = vec![parent];
            for c in std::iter::once(0).chain(routers.iter().copied()) {
                if c != n && !candidates.contains(&c) && (role == Role::Sleepy || c == 0) {
                    candidates.push(c);
                }
            }
            for &c in &candidates {
                topo.link(n, c, 0);
            }
            let ieee = ExtAddr(0x0012_4b00_0000_0000 | (seed & 0xffff) << 16 | n as u64);
            let (install_code, label) = if profile == Profile::Z30 {
                let secret: [u8; 16] = rng.bytes32()[..16].try_into().expect("16 bytes");
                let crc = zigtrust_crypto::crc16_x25(&secret).to_le_bytes();
                let mut bytes = secret.to_vec();
                bytes.extend_from_slice(&crc);
                let ic = InstallCode::from_bytes(&bytes).map_err(|e| e.to_string())?;
                let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
                (Some(ic), Some(format!("Z:{:016X}$I:{hex}", ieee.0)))
            } else {
                (None, None)
            };
            let key = install_code.as_ref().map(InstallCode::link_key);
            let dv = Device::new(ieee, profile, role, key, candidates, knobs.clone());
            let node = w.add_node(Kind::Device(Box::new(dv)), role == Role::Router);
            devices.push(LiveDevice {
                node,
                name,
                profile,
                role,
                install_code,
                label,
                auto_pair,
                booted: false,
            });
        }
        for (a, &r) in routers.iter().enumerate() {
            for &r2 in &routers[a + 1..] {
                topo.link(r, r2, 0);
            }
        }
        let attacker_node = w.add_node(Kind::Attacker, true);
        for n in 0..attacker_node {
            topo.link(attacker_node, n, 0);
        }
        w.topo = topo;
        w.attacker_node = Some(attacker_node);
        let mut home = LiveHome {
            world: w,
            devices,
            seed,
            paired_once: false,
            attacker_on: false,
            spoof_rr: 0,
            attacker_node,
            install_codes_known: Vec::new(),
        };
        if let Some(nv) = nv {
            home.restore(nv)?;
        }
        Ok(home)
    }

    fn restore(&mut self, nv: &HomeNv) -> Result<(), String> {
        if nv.seed != self.seed {
            return Err(format!("saved home has seed {}, expected {}", nv.seed, self.seed));
        }
        self.paired_once = nv.paired_once;
        for (i, saved) in nv.devices.iter().enumerate().take(self.devices.len()) {
            let Some(saved) = saved else { continue };
            let node = self.devices[i].node;
            device::restore(&mut self.world, node, saved, COUNTER_MARGIN)?;
            self.devices[i].booted = self.world.dev(node).is_some_and(|d| d.joined);
        }
        self.set_attacker(nv.attacker);
        Ok(())
    }

    /// The devices' memory, to be saved.
    pub fn nv(&self) -> HomeNv {
        HomeNv {
            seed: self.seed,
            paired_once: self.paired_once,
            attacker: self.attacker_on,
            devices: self
                .devices
                .iter()
                .map(|d| self.world.dev(d.node).filter(|x| x.ever_joined).map(Device::nv))
                .collect(),
        }
    }

    /// The highest outgoing frame counter any device used (the daemon saves memory well
    /// before this passes the saved value plus [`COUNTER_MARGIN`]).
    pub fn max_counter(&self) -> u32 {
        self.devices
            .iter()
            .filter_map(|d| self.world.dev(d.node))
            .map(|d| {
                let (a, b) = d.frame_counters();
                a.max(b)
            })
            .max()
            .unwrap_or(0)
    }

    /// First start: powers the devices paired out of the box, staggered over a few seconds.
    /// The daemon adds their install codes and opens permit join first.
    pub fn power_up_starter_devices(&mut self) {
        let now = self.world.now();
        let mut k = 0;
        for d in &mut self.devices {
            if d.auto_pair && !d.booted {
                d.booted = true;
                device::boot(&mut self.world, d.node, now + 1_000_000 + k * 1_500_000);
                k += 1;
            }
        }
        self.paired_once = true;
    }

    /// Install-code keys of the starter devices (for the daemon to add before pairing).
    pub fn starter_install_codes(&self) -> Vec<(ExtAddr, Key)> {
        self.devices
            .iter()
            .filter(|d| d.auto_pair)
            .filter_map(|d| Some((self.ieee(d), d.install_code.as_ref()?.link_key())))
            .collect()
    }

    pub fn ieee(&self, d: &LiveDevice) -> ExtAddr {
        self.world.dev(d.node).map_or(ExtAddr(0), |x| x.ieee)
    }

    pub fn joined(&self, d: &LiveDevice) -> bool {
        self.world.dev(d.node).is_some_and(|x| x.joined)
    }

    /// The hub holds `ieee`'s install code: a device waiting for it powers up.
    pub fn install_code_known(&mut self, ieee: ExtAddr) {
        if !self.install_codes_known.contains(&ieee) {
            self.install_codes_known.push(ieee);
        }
    }

    /// Runs the home up to `until` (Unix µs), or until a frame for the hub arrives (true).
    fn run(&mut self, until: Us) -> bool {
        self.power_up_scanned();
        let on = self.attacker_on;
        let rr = &mut self.spoof_rr;
        let devices = &self.devices;
        let mut act = |w: &mut World, i: usize| {
            if i != SPOOF_ACTION || !on {
                return;
            }
            // Victims: joined legacy devices whose short address it has heard, routers first
            // (mains-powered and always listening, the natural target).
            let known = |w: &World, n: usize| {
                let ieee = w.dev(n).map(|x| x.ieee);
                w.attacker.as_ref().is_some_and(|a| ieee.is_some_and(|i| a.shorts.contains_key(&i)))
            };
            let mut legacy: Vec<(bool, usize)> = devices
                .iter()
                .filter(|d| d.profile == Profile::Ha12)
                .filter(|d| w.dev(d.node).is_some_and(|x| x.joined) && known(w, d.node))
                .map(|d| (d.role != Role::Router, d.node))
                .collect();
            legacy.sort();
            let mv = *rr;
            if mv == 0 && legacy.first().is_none_or(|v| v.0) {
                // The first move waits (up to 30 s) until it has heard a router's address.
                if w.attacker.as_ref().is_some_and(|a| w.now() < a.listen_from + 30_000_000) {
                    w.q.after(2_000_000, Ev::Action(SPOOF_ACTION));
                    return;
                }
            }
            w.q.after(SPOOF_EVERY_US, Ev::Action(SPOOF_ACTION));
            // Move 0: a spoof; move 1: replay a few captured frames (the hub must drop them);
            // move 2: a spoof; and so on. A spoof with no victim known yet is not counted.
            if mv % 3 == 1 {
                *rr += 1;
                attacker::replay_last(w, 4);
                return;
            }
            if legacy.is_empty() {
                return;
            }
            *rr += 1;
            let n = legacy[(mv - (mv + 1) / 3) % legacy.len()].1;
            if let Some(d) = w.dev(n) {
                let (ieee, cap) = (d.ieee, d.capability());
                attacker::spoof(w, ieee, cap);
            }
        };
        self.world.run_until_port_frame(until, &mut act)
    }

    /// Z3.0 devices left for the user power up once the hub knows their install code.
    fn power_up_scanned(&mut self) {
        let now = self.world.now();
        for i in 0..self.devices.len() {
            let d = &self.devices[i];
            if d.booted || d.auto_pair || !self.install_codes_known.contains(&self.ieee(d)) {
                continue;
            }
            self.devices[i].booted = true;
            device::boot(&mut self.world, self.devices[i].node, now + 500_000);
        }
    }

    pub fn attacker_on(&self) -> bool {
        self.attacker_on
    }

    /// Switches the attacker on (it starts listening now and spoofs every 20 s) or off.
    pub fn set_attacker(&mut self, on: bool) {
        if on == self.attacker_on {
            return;
        }
        self.attacker_on = on;
        if on {
            let now = self.world.now();
            self.world.attacker = Some(Attacker::new(now));
            self.world.attacker_node = Some(self.attacker_node);
            // The first move once it has heard who is who.
            self.world.q.at(now + 2_000_000, Ev::Action(SPOOF_ACTION));
        } else {
            self.world.attacker = None;
        }
    }

    pub fn attacker(&self) -> Option<&Attacker> {
        self.world.attacker.as_ref()
    }

    /// When the next simulated event is due (Unix µs), if any.
    pub fn next_event_at(&self) -> Option<Us> {
        self.world.q.peek_time()
    }

    /// What the coordinator's radio would measure for a frame it heard: derived from the
    /// simulated link between the frame's MAC source and the coordinator (node 0). The medium
    /// models a link only by its loss, so each link also gets a fixed, seeded attenuation (the
    /// devices sit at different distances), plus a little per-frame jitter from the MAC
    /// sequence number. A spoofed frame is measured as its claimed sender's link: the port only
    /// sees the bytes. Nothing when the source is unknown or not a neighbour of the coordinator.
    fn link_meta(&self, psdu: &[u8]) -> RxMeta {
        use zigtrust_wire::mac::{Address, MacFrame};
        let Ok(frame) = MacFrame::parse(psdu) else { return RxMeta::default() };
        let src = frame.header.src_addr;
        let node = self.world.nodes.iter().enumerate().skip(1).find_map(|(i, n)| {
            let known = match src {
                Address::Short(s) => n.short() == Some(s),
                Address::Extended(e) => n.ieee() == Some(e),
                Address::Absent => false,
            };
            (known && !matches!(n.kind, Kind::Attacker)).then_some(i)
        });
        let Some(node) = node else { return RxMeta::default() };
        let Some(&(_, loss_ppm)) = self.world.topo.neighbours[0].iter().find(|l| l.0 == node)
        else {
            return RxMeta::default();
        };
        let attenuation = Rng::new(self.seed ^ 0x6c71_6900 ^ node as u64).below(90) as i32;
        let jitter = frame.header.sequence.map_or(0, |q| i32::from(q % 7) - 3);
        let from_loss = (u64::from(loss_ppm.min(1_000_000)) * 255 / 1_000_000) as i32;
        let lqi = (250 - attenuation - from_loss + jitter).clamp(0, 255);
        // A typical 2.4 GHz transceiver's mapping: LQI 0-255 over about -100 to -20 dBm.
        let rssi = -100.0 + lqi as f32 * 80.0 / 255.0;
        RxMeta { lqi: Some(lqi as u8), rssi: Some(rssi.round()) }
    }

    fn port(&mut self) -> &mut Port {
        self.world.port().expect("node 0 is the hub's port")
    }
}

/// The home as the hub's radio: frames for the coordinator come out of the port, frames the
/// hub releases go out on the coordinator's MAC at the home's current time.
impl Radio for LiveHome {
    fn configure(&mut self, config: &RadioConfig) -> Result<(), RadioError> {
        if config.pan_id != crate::world::PAN {
            return Err(RadioError(format!(
                "the simulated home's devices look for PAN {:#06x}, not {:#06x}",
                crate::world::PAN.0,
                config.pan_id.0
            )));
        }
        self.port().ieee = config.ieee;
        Ok(())
    }

    fn transmit(&mut self, _now: Millis, frame: Transmit) -> Result<(), RadioError> {
        self.world.coordinator_transmit(frame);
        Ok(())
    }

    fn receive(&mut self, now: Millis) -> Result<Option<Received>, RadioError> {
        if self.port().inbox.is_empty() {
            self.run(now * 1000);
        }
        let Some(psdu) = self.port().inbox.pop_front() else { return Ok(None) };
        let meta = self.link_meta(&psdu);
        Ok(Some(Received { psdu, meta }))
    }

    fn next_wake(&self) -> Option<Millis> {
        self.next_event_at().map(|us| us.div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zigtrust_hub::Hub;
    use zigtrust_tc::{AdminCommand, MemStore};

    const T0: Us = 1_700_000_000_000_000;

    type LiveHub = Hub<MemStore, LiveHome>;

    fn formed() -> MemStore {
        let mut h = Hub::open(MemStore::default(), zigtrust_hub::Outbox::default(), [7; 32], 0)
            .unwrap_or_else(|e| match e {});
        let form = AdminCommand::FormNetwork {
            pan_id: crate::world::PAN,
            extended_pan_id: 1,
            channel: 15,
        };
        h.command(T0 / 1000, form).unwrap();
        h.into_parts().0
    }

    /// Runs the hub and the home to `until` (Unix ms), waking when either needs it.
    fn run(h: &mut LiveHub, until: Millis) {
        loop {
            let t = h.next_wake().map_or(until, |w| w.min(until));
            h.poll(t);
            if t >= until {
                return;
            }
        }
    }

    fn command(h: &mut LiveHub, c: AdminCommand) {
        let now = h.radio().world.now_ms();
        if let AdminCommand::AddInstallCode { ieee, .. } = &c {
            h.radio_mut().install_code_known(*ieee);
        }
        h.command(now, c).unwrap();
    }

    #[test]
    fn a_restored_home_keeps_talking_without_rejoining() {
        let home = LiveHome::new(3, T0, None).unwrap();
        let mut h = Hub::open(formed(), home, [1; 32], T0 / 1000).unwrap_or_else(|e| match e {});
        for (ieee, link_key) in h.radio().starter_install_codes() {
            command(&mut h, AdminCommand::AddInstallCode { ieee, link_key });
        }
        command(&mut h, AdminCommand::PermitJoin { duration_ms: 120_000, ieee: None });
        h.radio_mut().power_up_starter_devices();
        run(&mut h, (T0 + 60_000_000) / 1000);
        let home = h.radio();
        let last = home.devices.last().unwrap();
        let (ieee, key) = (home.ieee(last), last.install_code.as_ref().unwrap().link_key());
        command(&mut h, AdminCommand::AddInstallCode { ieee, link_key: key });
        command(&mut h, AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None });
        run(&mut h, (T0 + 90_000_000) / 1000);
        command(&mut h, AdminCommand::RotateNetworkKey { deadline_ms: 60_000 });
        run(&mut h, (T0 + 180_000_000) / 1000);
        let home = h.radio();
        let joined = home.devices.iter().filter(|d| home.joined(d)).count();
        assert_eq!(joined, 6);
        assert!(h.tc().rotation_pending().is_none(), "the rotation finished");
        assert!(h.tc().active_key_seq() != 0, "on the new key");
        // The coordinator measured every device it hears directly (its children), and only
        // those: a device behind a router is heard through the router.
        let direct: Vec<_> = h.tc().devices().filter(|d| d.parent.0 == 0).collect();
        assert!(direct.len() >= 2, "{} direct children", direct.len());
        for d in &direct {
            let l = h.link(d.short_addr).unwrap_or_else(|| panic!("no link for {}", d.ieee));
            let (lqi, rssi) = (l.lqi.expect("lqi"), l.rssi.expect("rssi"));
            assert!(lqi > 100 && (-100.0..=-20.0).contains(&rssi), "{lqi} {rssi}");
        }
        for d in h.tc().devices().filter(|d| d.parent.0 != 0) {
            assert!(h.link(d.short_addr).is_none(), "{} heard directly", d.ieee);
        }
        let nv = home.nv();
        let rejoins_before: u32 =
            home.devices.iter().map(|d| home.world.dev(d.node).unwrap().rejoins).sum();
        let (store, _) = h.into_parts();
        let t1 = T0 + 181_000_000;
        let home = LiveHome::new(3, t1, Some(&nv)).unwrap();
        let mut h2 = Hub::open(store, home, [2; 32], t1 / 1000).unwrap_or_else(|e| match e {});
        run(&mut h2, (t1 + 300_000_000) / 1000);
        let home = h2.radio();
        let rejoins: Vec<(&str, u32, u32)> = home
            .devices
            .iter()
            .map(|d| {
                let x = home.world.dev(d.node).unwrap();
                (d.name, x.rejoins, x.rejoin_attempts)
            })
            .collect();
        assert!(
            rejoins.iter().all(|r| r.2 == 0),
            "before {rejoins_before}, after restart {rejoins:?}"
        );
    }
}
