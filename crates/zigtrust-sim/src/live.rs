//! A small simulated home run in real time, for the hub daemon (`zigtrust serve --radio sim`).
//!
//! The coordinator is the daemon's own Trust Center core; its store writes go through the
//! daemon's durable sink before any frame of the same step is sent. The devices are the
//! simulator's models with demo-friendly timing (sleepy devices poll every 5 s, everyone
//! reports every 30 s) and stay in pairing mode until they join. Their non-volatile memory
//! ([`HomeNv`]) is saved by the daemon so the home stays joined across a daemon restart.
//!
//! The home: two routers (a Zigbee 3.0 plug, an HA 1.2 light) and four sleepy sensors (two
//! HA 1.2, two Zigbee 3.0). On first start the daemon pairs all but the last one (adds the
//! install codes of the Z3.0 devices, opens permit join); the last — a Z3.0 motion sensor —
//! waits for the user to scan its install-code label and open permit join. It powers up
//! once its install code is known to the hub, as a user would insert its battery after
//! scanning it.
//!
//! The attacker, when switched on, listens to everything (learning keys only from what it
//! decrypts) and every 15 s spoofs a Trust Center rejoin of a joined HA 1.2 device whose short
//! address it has overheard, and every third move (from the second) replays four captured
//! frames instead.

use crate::attacker::{self, Attacker};
use crate::device::{self, Device, DeviceNv, Knobs, Profile, Role};
use crate::engine::{Rng, Topology, Us};
use crate::world::{DurableSink, Ev, Hub, Kind, MemStore, World};
use serde::{Deserialize, Serialize};
use zigtrust_crypto::{InstallCode, Key};
use zigtrust_tc::model::Snapshot;
use zigtrust_tc::{Event, TrustCenter};
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
}

impl LiveHome {
    /// Builds the home around a Trust Center restored from `snapshot` at `now_us` (Unix µs).
    /// `nv`: the devices' saved memory from an earlier run, if any.
    pub fn new(
        seed: u64,
        snapshot: Snapshot,
        tc_seed: [u8; 32],
        durable: DurableSink,
        now_us: Us,
        nv: Option<&HomeNv>,
    ) -> Result<LiveHome, String> {
        let mut w = World::new(seed);
        w.keep_capture = false;
        w.q.now = now_us;
        let tc = TrustCenter::new(snapshot.clone(), tc_seed, now_us / 1000);
        let ieee = snapshot.network.as_ref().map_or(ExtAddr(0), |n| n.tc_ieee);
        let mut store = MemStore { snap: snapshot, devices: Default::default() };
        for d in std::mem::take(&mut store.snap.devices) {
            store.devices.insert(d.ieee, d);
        }
        let hub = Hub {
            tc: Some(tc),
            store,
            durable: Some(durable),
            event_log: Some(Vec::new()),
            ieee,
            app_fc: 0,
            app_seq: 0,
            reboots: 0,
            seed,
        };
        w.add_node(Kind::Coordinator(Box::new(hub)), true);
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
        };
        if let Some(nv) = nv {
            home.restore(nv)?;
        }
        home.world.drain_tc();
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

    /// Runs the home up to `until` (Unix µs).
    pub fn advance(&mut self, until: Us) {
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
        self.world.run_until(until, &mut act);
    }

    /// Z3.0 devices left for the user power up once the hub knows their install code.
    fn power_up_scanned(&mut self) {
        let now = self.world.now();
        let known: Vec<ExtAddr> = match &self.world.nodes[0].kind {
            Kind::Coordinator(h) => h.store.snap.install_codes.iter().map(|(i, _)| *i).collect(),
            _ => Vec::new(),
        };
        for i in 0..self.devices.len() {
            let d = &self.devices[i];
            if d.booted || d.auto_pair || !known.contains(&self.ieee(d)) {
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

    /// The Trust Center core (for admin commands and reads). Call [`LiveHome::drain`] after
    /// a command.
    pub fn tc(&mut self) -> &mut TrustCenter {
        self.world.hub().tc.as_mut().expect("the live hub never goes down")
    }

    pub fn tc_ref(&self) -> &TrustCenter {
        match &self.world.nodes[0].kind {
            Kind::Coordinator(h) => h.tc.as_ref().expect("the live hub never goes down"),
            _ => unreachable!("node 0 is the coordinator"),
        }
    }

    /// Commits the core's writes and queues its frames (after an admin command).
    pub fn drain(&mut self) {
        self.world.drain_tc();
    }

    /// The core's events since the last call.
    pub fn take_events(&mut self) -> Vec<(Us, Event)> {
        self.world.hub().event_log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// When the next simulated event is due (Unix µs), if any.
    pub fn next_event_at(&self) -> Option<Us> {
        self.world.q.peek_time()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use zigtrust_tc::model::StoreWrite;
    use zigtrust_tc::AdminCommand;

    const T0: Us = 1_700_000_000_000_000;

    fn sink(log: &Rc<RefCell<MemStore>>) -> DurableSink {
        let log = log.clone();
        Box::new(move |w: &[StoreWrite]| {
            for x in w {
                log.borrow_mut().apply(x.clone());
            }
            Ok(())
        })
    }

    fn formed() -> Snapshot {
        let mut tc = TrustCenter::new(Snapshot::default(), [7; 32], T0 / 1000);
        tc.command(
            T0 / 1000,
            AdminCommand::FormNetwork {
                pan_id: crate::world::PAN,
                extended_pan_id: 1,
                channel: 15,
            },
        )
        .unwrap();
        let mut m = MemStore::default();
        for w in tc.take_store_writes() {
            m.apply(w);
        }
        m.snapshot()
    }

    #[test]
    fn a_restored_home_keeps_talking_without_rejoining() {
        let store = Rc::new(RefCell::new(MemStore::default()));
        let snap = formed();
        store.borrow_mut().snap = snap.clone();
        let mut h = LiveHome::new(3, snap, [1; 32], sink(&store), T0, None).unwrap();
        let now = T0 / 1000;
        for (ieee, link_key) in h.starter_install_codes() {
            h.tc().command(now, AdminCommand::AddInstallCode { ieee, link_key }).unwrap();
        }
        h.tc().command(now, AdminCommand::PermitJoin { duration_ms: 120_000, ieee: None }).unwrap();
        h.power_up_starter_devices();
        h.drain();
        h.advance(T0 + 60_000_000);
        let t = h.world.now_ms();
        let last = h.devices.last().unwrap();
        let (ieee, key) = (h.ieee(last), last.install_code.as_ref().unwrap().link_key());
        h.tc().command(t, AdminCommand::AddInstallCode { ieee, link_key: key }).unwrap();
        h.tc().command(t, AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None }).unwrap();
        h.drain();
        h.advance(T0 + 90_000_000);
        let t = h.world.now_ms();
        h.tc().command(t, AdminCommand::RotateNetworkKey { deadline_ms: 60_000 }).unwrap();
        h.drain();
        h.advance(T0 + 180_000_000);
        let joined = h.devices.iter().filter(|d| h.joined(d)).count();
        assert_eq!(joined, 6);
        let nv = h.nv();
        let rejoins_before: u32 =
            h.devices.iter().map(|d| h.world.dev(d.node).unwrap().rejoins).sum();
        drop(h);
        let snap = store.borrow().snapshot();
        let t1 = T0 + 181_000_000;
        let mut h2 = LiveHome::new(3, snap, [2; 32], sink(&store), t1, Some(&nv)).unwrap();
        h2.advance(t1 + 300_000_000);
        let rejoins: Vec<(&str, u32, u32)> = h2
            .devices
            .iter()
            .map(|d| {
                let x = h2.world.dev(d.node).unwrap();
                (d.name, x.rejoins, x.rejoin_attempts)
            })
            .collect();
        assert!(
            rejoins.iter().all(|r| r.2 == 0),
            "before {rejoins_before}, after restart {rejoins:?}"
        );
    }
}
