//! Scenarios, policies and the run report.
//!
//! Every scenario forms a network (node 0 is the coordinator running the real Trust Center),
//! opens a permit-join window, pairs its devices (routers first, then sleepy end devices
//! behind the coordinator or a router) and then scripts what happens:
//!
//! | scenario | devices (default) | what happens | attacker listens |
//! |---|---|---|---|
//! | `join-legacy` | 1 router + 3 sleepy, all `ha12` | pairing only | from t = 0 |
//! | `join-z30` | 1 router + 3 sleepy, all `z30` (install codes) | pairing, TCLK updates | from t = 0 |
//! | `hub-reboot` | 2 routers + 6 sleepy, mixed | hub offline 60 s at 15 min | after pairing |
//! | `router-loss` | 2 routers + 6 sleepy, mixed | router 1 dies for good at 15 min | after pairing |
//! | `key-rotation` | 2 routers + 6 sleepy, mixed | key rotation at 15 min (60 s deadline); sleepy devices poll every 10 min, so they sleep through it | after pairing |
//! | `spoofed-rejoin` | 2 routers + 6 sleepy, mixed | spoofed TC rejoins for an `ha12` sleepy device and an `ha12` router at 15 min | after pairing |
//! | `replay` | 2 routers + 6 sleepy, mixed | all captured secured frames replayed at 20 min | after pairing |
//! | `home` | 8 routers + 42 sleepy, mixed, 7 days | reboots on days 1 and 5, rotation on day 3, spoofs on days 2 and 6, replay on day 4 | throughout |
//!
//! "After pairing": the home was paired before the attacker arrived; legacy joins leak inside
//! their permit-join window by design, and `join-legacy` / `home` show exactly that.

use crate::attacker::{self, Attacker, Leak};
use crate::device::{self, Device, Knobs, Profile, Role};
use crate::engine::{Topology, Us};
use crate::world::{Ev, Hub, Kind, MemStore, World, PAN};
use serde::Serialize;
use std::time::Instant;
use zigtrust_crypto::Key;
use zigtrust_tc::model::{InsecureRejoinPolicy, LegacyJoinPolicy, Policy};
use zigtrust_tc::{AdminCommand, TrustCenter};
use zigtrust_wire::{CapabilityInfo, ExtAddr};

pub const SCENARIOS: &[&str] = &[
    "join-legacy",
    "join-z30",
    "hub-reboot",
    "router-loss",
    "key-rotation",
    "spoofed-rejoin",
    "replay",
    "home",
];
pub const POLICIES: &[&str] = &["allow", "deny", "adaptive"];
pub const LEGACY: &[&str] = &["legacy-allowed-while-permit-join", "install-code-required"];

const S: Us = 1_000_000;

/// Everything a run depends on.
#[derive(Debug, Clone)]
pub struct Config {
    pub scenario: String,
    pub policy: String,
    pub legacy_join: String,
    pub seed: u64,
    /// Total devices (routers + sleepy); None: the scenario's default.
    pub devices: Option<usize>,
    /// Override of the scenario's simulated duration.
    pub duration_s: Option<u64>,
    pub knobs: Knobs,
    /// Link loss in parts per million.
    pub loss_ppm: u32,
    pub keep_capture: bool,
    /// Override of when the attacker starts listening (seconds); None: the scenario's choice.
    pub attacker_from_s: Option<u64>,
}

impl Config {
    pub fn new(scenario: &str, policy: &str, seed: u64) -> Config {
        Config {
            scenario: scenario.into(),
            policy: policy.into(),
            legacy_join: LEGACY[0].into(),
            seed,
            devices: None,
            duration_s: None,
            knobs: Knobs::default(),
            loss_ppm: 10_000,
            keep_capture: true,
            attacker_from_s: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub policy: String,
    pub legacy_join: String,
    pub seed: u64,
    pub devices: usize,
    /// Devices that completed a join.
    pub joined: usize,
    /// Devices never admitted (e.g. `ha12` under install-code-required).
    pub never_joined: usize,
    /// Joined devices that at the end cannot talk on the active network key.
    pub stranded: usize,
    pub stranded_devices: Vec<String>,
    pub network_key_leaked: bool,
    pub leaks: Vec<Leak>,
    pub rejoins_denied: u64,
    pub spoof_alerts: u64,
    pub replays_dropped: u64,
    pub stale_key_rescues: u64,
    pub device_rejoins: u64,
    pub rejoin_attempts: u64,
    pub spoofs_sent: u64,
    pub replays_sent: u64,
    pub active_key_seq: u8,
    pub frames: u64,
    pub airtime_s: f64,
    pub sim_time_s: f64,
    pub wall_time_s: f64,
    pub secured_rejoin_attempts: u32,
    pub keep_previous_key: bool,
    pub poll_interval_ms: u64,
}

/// A finished run: its report and every frame on air.
pub struct Outcome {
    pub report: Report,
    pub world: World,
    /// Network keys the Trust Center used (for realism checks only, never for leak results).
    pub network_keys: Vec<Key>,
}

enum Action {
    Reboot(u64),
    Kill(usize),
    Rotate(u64),
    Spoof(usize),
    Replay,
}

struct Plan {
    routers: usize,
    sleepy: usize,
    profile: fn(usize) -> Profile,
    attacker_from: Us,
    duration: Us,
    actions: Vec<(Us, Action)>,
    poll_override_ms: Option<u64>,
}

fn mixed(i: usize) -> Profile {
    if i.is_multiple_of(2) {
        Profile::Ha12
    } else {
        Profile::Z30
    }
}

fn plan(cfg: &Config) -> Result<Plan, String> {
    let split = |default: (usize, usize)| match cfg.devices {
        Some(n) if n >= 2 => {
            let r = (n / 6).max(1);
            (r, n - r)
        }
        Some(n) => (n, 0),
        None => default,
    };
    let after_pairing = 400 * S;
    let p = match cfg.scenario.as_str() {
        "join-legacy" | "join-z30" => {
            let (routers, sleepy) = split((1, 3));
            Plan {
                routers,
                sleepy,
                profile: if cfg.scenario == "join-legacy" {
                    |_| Profile::Ha12
                } else {
                    |_| Profile::Z30
                },
                attacker_from: 0,
                duration: 1800 * S,
                actions: vec![],
                poll_override_ms: None,
            }
        }
        "hub-reboot" | "router-loss" | "key-rotation" | "spoofed-rejoin" | "replay" => {
            let (routers, sleepy) = split((2, 6));
            let actions = match cfg.scenario.as_str() {
                "hub-reboot" => vec![(900 * S, Action::Reboot(60))],
                "router-loss" => vec![(900 * S, Action::Kill(1))],
                "key-rotation" => vec![(900 * S, Action::Rotate(60))],
                "spoofed-rejoin" => {
                    // Victims: the first ha12 sleepy device and the first ha12 router.
                    vec![(900 * S, Action::Spoof(routers + 1)), (1000 * S, Action::Spoof(1))]
                }
                _ => vec![(1200 * S, Action::Replay)],
            };
            Plan {
                routers,
                sleepy,
                profile: mixed,
                attacker_from: after_pairing,
                duration: 3600 * S,
                actions,
                poll_override_ms: (cfg.scenario == "key-rotation").then_some(600_000),
            }
        }
        "home" => {
            let (routers, sleepy) = split((8, 42));
            let day = 86_400 * S;
            Plan {
                routers,
                sleepy,
                profile: mixed,
                attacker_from: 0,
                duration: 7 * day,
                actions: vec![
                    (day + 3 * 3600 * S, Action::Reboot(90)),
                    (2 * day, Action::Spoof(routers + 1)),
                    (3 * day, Action::Rotate(120)),
                    (4 * day, Action::Replay),
                    (5 * day + 3 * 3600 * S, Action::Reboot(90)),
                    (6 * day, Action::Spoof(routers + 3)),
                ],
                poll_override_ms: None,
            }
        }
        s => return Err(format!("unknown scenario {s:?} (one of {})", SCENARIOS.join(", "))),
    };
    Ok(p)
}

pub fn policy(name: &str, legacy: &str) -> Result<Policy, String> {
    let insecure_rejoin = match name {
        "allow" => InsecureRejoinPolicy::Allow,
        "deny" => InsecureRejoinPolicy::Deny,
        "adaptive" => InsecureRejoinPolicy::Adaptive,
        p => return Err(format!("unknown policy {p:?} (allow, deny, adaptive)")),
    };
    let legacy_join = match legacy {
        "legacy-allowed-while-permit-join" | "allowed-while-permit-join" => {
            LegacyJoinPolicy::AllowedWhilePermitJoin
        }
        "install-code-required" => LegacyJoinPolicy::InstallCodeRequired,
        l => return Err(format!("unknown legacy-join policy {l:?} ({})", LEGACY.join(", "))),
    };
    Ok(Policy { legacy_join, insecure_rejoin, ..Policy::default() })
}

/// Runs one scenario.
pub fn run(cfg: &Config) -> Result<Outcome, String> {
    let wall = Instant::now();
    let plan = plan(cfg)?;
    let pol = policy(&cfg.policy, &cfg.legacy_join)?;
    let mut knobs = cfg.knobs.clone();
    if let Some(p) = plan.poll_override_ms {
        knobs.poll_interval_ms = knobs.poll_interval_ms.max(p);
    }
    let mut w = World::new(cfg.seed);
    w.keep_capture = cfg.keep_capture;
    let mut tc_seed = w.rng.bytes32();
    let hub_seed = w.rng.next_u64();
    let tc = TrustCenter::new(Default::default(), tc_seed, 0);
    tc_seed.fill(0);
    let hub = Hub {
        tc: Some(tc),
        store: MemStore::default(),
        durable: None,
        event_log: None,
        ieee: ExtAddr(0),
        app_fc: 0,
        app_seq: 0,
        reboots: 0,
        seed: hub_seed,
    };
    w.add_node(Kind::Coordinator(Box::new(hub)), true);
    {
        let tc = w.hub().tc.as_mut().expect("fresh");
        tc.command(0, AdminCommand::SetPolicy(pol)).map_err(|e| e.to_string())?;
        tc.command(
            0,
            AdminCommand::FormNetwork {
                pan_id: PAN,
                extended_pan_id: 0xdddd_0000_0000_0001,
                channel: 15,
            },
        )
        .map_err(|e| e.to_string())?;
        let ieee = tc.network().expect("formed").tc_ieee;
        w.hub().ieee = ieee;
    }
    w.drain_tc();
    let total = plan.routers + plan.sleepy;
    let mut topo = Topology::new(total + 1);
    let mut devs = Vec::with_capacity(total);
    for i in 0..total {
        let n = i + 1;
        let role = if i < plan.routers { Role::Router } else { Role::Sleepy };
        let parent = if role == Role::Router || (i - plan.routers) % (plan.routers + 1) == 0 {
            0
        } else {
            1 + (i - plan.routers) % (plan.routers + 1) - 1
        };
        // An alternate parent: the next router, or the coordinator.
        let alt = if parent == 0 { 1 + i % plan.routers.max(1) } else { 0 };
        let mut candidates = vec![parent];
        if alt != parent && alt <= plan.routers && role == Role::Sleepy {
            candidates.push(alt);
        }
        if parent != 0 && !candidates.contains(&0) {
            candidates.push(0);
        }
        let loss = cfg.loss_ppm;
        for &c in &candidates {
            topo.link(n, c, loss);
        }
        let profile = (plan.profile)(i);
        let ieee = ExtAddr(0x0012_4b00_0000_0000 | (cfg.seed & 0xffff) << 16 | n as u64);
        let ic = (profile == Profile::Z30)
            .then(|| Key::from_bytes(w.rng.bytes32()[..16].try_into().expect("16")));
        devs.push(Device::new(ieee, profile, role, ic, candidates, knobs.clone()));
    }
    // Routers hear their two nearest neighbours on each side (a street of houses), not every
    // other router: a full mesh is unrealistic and makes large networks quadratic.
    for r in 1..=plan.routers {
        for r2 in r + 1..=(r + 2).min(plan.routers) {
            topo.link(r, r2, cfg.loss_ppm);
        }
    }
    for dv in devs {
        let always = dv.role == Role::Router;
        w.add_node(Kind::Device(Box::new(dv)), always);
    }
    let att = w.add_node(Kind::Attacker, true);
    topo.add_node();
    for n in 0..att {
        topo.link(att, n, 0);
    }
    w.topo = topo;
    let attacker_from = cfg.attacker_from_s.map_or(plan.attacker_from, |s| s * S);
    w.attacker = Some(Attacker::new(attacker_from));
    w.attacker_node = Some(att);

    // Pairing: install codes, one permit-join window, routers first.
    let now_ms = 1_000;
    let mut ics = Vec::new();
    for n in 1..=total {
        let d = w.dev(n).expect("device");
        if let Some(k) = &d.install_key {
            ics.push((d.ieee, k.clone()));
        }
    }
    {
        let tc = w.hub().tc.as_mut().expect("up");
        for (ieee, link_key) in ics {
            tc.command(now_ms, AdminCommand::AddInstallCode { ieee, link_key })
                .map_err(|e| e.to_string())?;
        }
        tc.command(now_ms, AdminCommand::PermitJoin { duration_ms: 254_000, ieee: None })
            .map_err(|e| e.to_string())?;
    }
    w.drain_tc();
    let spacing = (240 * S / (total as u64 + 1)).min(4 * S);
    for i in 0..total {
        let at = 2 * S + spacing * i as u64 + w.rng.below(spacing / 2 + 1);
        device::boot(&mut w, i + 1, at);
    }
    for (i, (t, _)) in plan.actions.iter().enumerate() {
        w.q.at(*t, Ev::Action(i));
    }
    let actions = plan.actions;
    let act = |w: &mut World, i: usize| match &actions[i].1 {
        Action::Reboot(secs) => {
            w.hub_down();
            w.q.after(secs * S, Ev::Action(usize::MAX));
        }
        Action::Kill(n) => {
            w.nodes[*n].alive = false;
        }
        Action::Rotate(deadline_s) => {
            let now_ms = w.now_ms();
            if let Some(tc) = w.hub().tc.as_mut() {
                let _ = tc.command(
                    now_ms,
                    AdminCommand::RotateNetworkKey { deadline_ms: deadline_s * 1000 },
                );
            }
            w.drain_tc();
        }
        Action::Spoof(n) => {
            if let Some(d) = w.dev(*n) {
                let (ieee, cap) = (d.ieee, d.capability());
                attacker::spoof(w, ieee, cap);
            }
        }
        Action::Replay => attacker::replay(w),
    };
    let mut dispatch = |w: &mut World, i: usize| {
        if i == usize::MAX {
            w.hub_up();
        } else {
            act(w, i)
        }
    };
    let duration = cfg.duration_s.map_or(plan.duration, |s| s * S);
    w.run_until(duration, &mut dispatch);

    // Results: leaks only from the attacker's own decryption.
    let active = w.hub().store.snap.active_key_seq.unwrap_or(0);
    let mut joined = 0;
    let mut never = 0;
    let mut stranded_devices = Vec::new();
    let mut rejoin_attempts = 0;
    for n in 1..=total {
        let d = w.dev(n).expect("device");
        rejoin_attempts += d.rejoin_attempts as u64;
        if !d.ever_joined {
            never += 1;
            continue;
        }
        joined += 1;
        let can_talk = d.joined && d.active == Some(active) && d.keys.contains_key(&active);
        if !can_talk {
            stranded_devices.push(d.ieee.to_string());
        }
    }
    let network_keys: Vec<Key> = {
        let mut ks: Vec<_> = w.hub().store.snap.network_keys.clone();
        ks.sort_by_key(|k| k.seq);
        ks.into_iter().map(|k| k.key).collect()
    };
    let a = w.attacker.as_ref().expect("attacker");
    let report = Report {
        scenario: cfg.scenario.clone(),
        policy: cfg.policy.clone(),
        legacy_join: cfg.legacy_join.clone(),
        seed: cfg.seed,
        devices: total,
        joined,
        never_joined: never,
        stranded: stranded_devices.len(),
        stranded_devices,
        network_key_leaked: !a.leaks.is_empty(),
        leaks: a.leaks.clone(),
        rejoins_denied: w.stats.rejoins_denied,
        spoof_alerts: w.stats.spoof_alerts,
        replays_dropped: w.stats.replays_dropped,
        stale_key_rescues: w.stats.rescues,
        device_rejoins: w.stats.rejoins,
        rejoin_attempts,
        spoofs_sent: a.spoofs_sent,
        replays_sent: a.replays_sent,
        active_key_seq: active,
        frames: w.frames,
        airtime_s: w.airtime_us as f64 / 1e6,
        sim_time_s: duration as f64 / 1e6,
        wall_time_s: wall.elapsed().as_secs_f64(),
        secured_rejoin_attempts: cfg.knobs.secured_rejoin_attempts,
        keep_previous_key: cfg.knobs.keep_previous_key,
        poll_interval_ms: knobs.poll_interval_ms,
    };
    let _ = CapabilityInfo::ROUTER;
    Ok(Outcome { report, world: w, network_keys })
}

/// The capture as a pcap (linktype 195, FCS appended), timestamps from 2023-11-14.
pub fn pcap_bytes(w: &World) -> Vec<u8> {
    use zigtrust_capture::{PcapWriter, Timestamp};
    let mut pw = PcapWriter::new(Vec::new()).expect("in memory");
    for c in &w.capture {
        let ts = Timestamp::new(
            1_700_000_000 + (c.time / 1_000_000) as i64,
            (c.time % 1_000_000) as u32 * 1000,
        );
        pw.write_frame(ts, &c.psdu).expect("in memory");
    }
    pw.finish().expect("in memory")
}

/// The report as one JSON object; `wall_time_s` is the only field that varies between runs.
pub fn report_json(r: &Report) -> String {
    serde_json::to_string(r).expect("serializable")
}
