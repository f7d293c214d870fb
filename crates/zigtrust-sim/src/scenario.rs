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
//!
//! **Attack scenarios** ([`ATTACK_SCENARIOS`], issue 11): one per attack class of the Trust
//! Center's threat model (`zigtrust_tc` crate docs). Each has 2 routers + 6 sleepy devices,
//! mixed, by default, and the attacker listens from t = 0 (it needs the key a legacy join
//! exposes to forge anything). It learns keys transitively, and forges NWK frames under any
//! network key it holds and APS commands under any link key it holds (`attacker.rs`).
//!
//! | scenario | what the attacker does | what the Trust Center must do |
//! |---|---|---|
//! | `rate-limit-starvation` | hub reboot at 15 min (60 s), then 300 s of unsecured TC rejoins at 50/s (`Config::flood_rate`), alternately in real devices' names from made-up short addresses and from decoy IEEEs; a rotation at 25 min (sleepy devices poll every 10 min, so they need a rejoin) and 600 s more of the flood | no device stranded: rate limits are spent only on refusals and public-key answers, never on answers only the genuine device can read |
//! | `tclk-hijack` | at 10 and ~12 min, a TCLK update in a legacy (`z30-wk`, else `ha12`) sleepy device's name: Request-Key (APS under the well-known key, NWK under the exposed key), then Verify-Key for the new key if it could read the TC's answer (else for a key of its own); a rotation at 15 min | refuse the update (`tclk-update-refused`); the victim keeps its link key and gets the rotation key |
//! | `removed-router` | at 15 min the user removes a compromised router (`AdminCommand::RemoveDevice`): the attacker holds its network keys, link key and frame counter, and keeps sending as it (data, Update-Device for a made-up device as a join and as a TC rejoin, secured and unsecured rejoins) right away, at ~17 min and at 35 min (after the rotation) | drop its frames (`removed-device-frame`), rotate without it; every key it still reads (through a public-link-key device, under a key it held) is marked exposed |
//! | `forged-update-device` | at 10 and ~12 min, Update-Device (TC rejoin, secured rejoin, join) in a legacy router's name (under the exposed key and the well-known link key, APS counters just above the router's) for its genuine sleepy child (else any sleepy device) at a bogus short address; a rotation at 15 min | move nothing: the child keeps its address, gets the rotation key, and can still rejoin through that router |
//! | `old-key-replay` | hub reboot at 10 min (secured rejoins follow), rotation at 15 min; replays every secured frame it captured toward the coordinator before the rotation, at ~18 and 25 min | drop them (`replay-dropped`); nobody stranded |
//! | `counter-poisoning` | at 10 min one data frame in a genuine device's name (directly behind the coordinator) with NWK counter 0xFFFFFFFF; at 90 min another device directly behind the coordinator reboots and loses its NWK counter (restarts at 0) | after ≥ 2 drops and a rejoin only the genuine device completes, rotate (`counter-resync`, twice: the resync rotations are ≥ 1 h apart); 150 min in all |
//! | `reboot-mid-rotation` | (no forgery: a fault) rotation at 15 min with a 15 min deadline, sleepy devices polling every 10 min; the hub reboots from its store at 16 min for 60 s | resume the rotation (`key-rotation-resumed`) with the same key under the new sequence number (`Report::rotation_key_kept`) |
//! | `counter-exhaustion` | (a fault) at 15 min the hub goes down, its stored NWK counter lease is set to `NWK_COUNTER_ROTATE_AT` + 4096, it comes back 30 s later | rotate and restart the NWK counter at 0 under the new key (`Report::nwk_counter_restarted`); devices keep counters per key |
//!
//! Evidence in the report: `attack_frames` (every frame the attacker sent), `attack_notes`,
//! `audit_counts` (the Trust Center's audit log by kind), `silenced_devices` (joined, on the
//! right key, but not heard by the Trust Center in the last 15 min) and `misrouted_devices`.
//! These scenarios are not in [`SCENARIOS`]: other crates' tests audit those captures against
//! the attacker's ground truth, which an insider's keys (never on air) and forged counters
//! would break.
//!
//! "After pairing": the home was paired before the attacker arrived; legacy joins leak inside
//! their permit-join window by design, and `join-legacy` / `home` show exactly that.
//! `attacker_from_s` (CLI `--attacker-from-s`) overrides when the attacker starts listening.
//!
//! **Populations.** `Config::population` (CLI `--population ha12=N,z30=N,z30-wk=N`) replaces a
//! scenario's devices and keeps its timing and events. Each class with N ≥ 2 devices gets
//! max(1, N / 6) routers and the rest are sleepy end devices (N = 1: one sleepy device);
//! routers come first, and within routers and within sleepy devices the classes take turns
//! (ha12, z30, z30-wk, ha12, …), so sleepy devices of every class sit behind the coordinator
//! and behind routers. The spoof victims become the first sleepy device and the first router
//! (`spoofed-rejoin`) or the first and second sleepy devices (`home`) holding the well-known
//! link key (`ha12` first, then `z30-wk`; any device if there is none).
//!
//! **Exposure accounting.** The report has the attacker's ground truth (`leaks`: the network
//! keys its own decryption read), the Trust Center's view (`exposed_keys`: the sequence numbers
//! of the network keys it marks exposed at the end of the run) and their difference
//! (`silent_leaks`: keys the attacker read that the Trust Center does not mark exposed — a
//! Trust Center bug whenever it is not empty).

use crate::attacker::{self, Attacker, Leak};
use crate::device::{self, Class, Device, Knobs, Profile, Role};
use crate::engine::{Topology, Us};
use crate::world::{Coordinator, Ev, Kind, MemStore, World, PAN};
use serde::Serialize;
use std::time::Instant;
use zigtrust_crypto::Key;
use zigtrust_tc::model::{CounterKind, InsecureRejoinPolicy, LegacyJoinPolicy, Policy, StoreWrite};
use zigtrust_tc::AdminCommand;
use zigtrust_wire::{CapabilityInfo, ExtAddr, ShortAddr};

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
/// The attack scenarios of issue 11, one per attack class of the Trust Center's threat model
/// (documented in the table above). Kept apart from [`SCENARIOS`], whose runs other crates'
/// tests compare with an audit of the capture (ground truth the forging attacker breaks: an
/// insider's keys never travel on air, and forged frames reuse counters); `run` accepts
/// every name of both lists and `sim matrix` runs both.
pub const ATTACK_SCENARIOS: &[&str] = &[
    "rate-limit-starvation",
    "tclk-hijack",
    "removed-router",
    "forged-update-device",
    "old-key-replay",
    "counter-poisoning",
    "reboot-mid-rotation",
    "counter-exhaustion",
];
pub const POLICIES: &[&str] = &["allow", "deny", "adaptive"];

/// Every scenario: [`SCENARIOS`] then [`ATTACK_SCENARIOS`].
pub fn all_scenarios() -> impl Iterator<Item = &'static str> {
    SCENARIOS.iter().chain(ATTACK_SCENARIOS).copied()
}
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
    /// The devices by class (replaces the scenario's devices); None: the scenario's devices.
    /// Exclusive with `devices`.
    pub population: Option<Population>,
    /// `rate-limit-starvation`: the attacker's rejoin flood rate (frames per second) instead
    /// of the scenario's 50.
    pub flood_rate: Option<u64>,
}

/// How many devices of each class (`ha12=N,z30=N,z30-wk=N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Population {
    pub ha12: usize,
    pub z30: usize,
    pub z30_wk: usize,
}

impl Population {
    /// Parses `ha12=N,z30=N,z30-wk=N` (any subset, each class at most once, at least one device).
    pub fn parse(s: &str) -> Result<Population, String> {
        let bad = |why: String| {
            Err(format!("bad population {s:?}: {why} (expected e.g. ha12=2,z30=2,z30-wk=2)"))
        };
        let mut p = Population::default();
        let mut seen = Vec::new();
        for part in s.split(',') {
            let Some((name, n)) = part.split_once('=') else {
                return bad(format!("{part:?} is not CLASS=N"));
            };
            let name = name.trim();
            let Some(class) = Class::ALL.into_iter().find(|c| c.name() == name) else {
                return bad(format!("unknown class {name:?} (ha12, z30, z30-wk)"));
            };
            if seen.contains(&class) {
                return bad(format!("class {name} given twice"));
            }
            seen.push(class);
            let Ok(n) = n.trim().parse::<usize>() else {
                return bad(format!("{n:?} is not a device count"));
            };
            if n > 10_000 {
                return bad(format!("{n} {name} devices is more than 10000"));
            }
            *p.count_mut(class) = n;
        }
        if p.total() == 0 {
            return bad("no devices".into());
        }
        Ok(p)
    }

    pub fn count(&self, c: Class) -> usize {
        match c {
            Class::Ha12 => self.ha12,
            Class::Z30 => self.z30,
            Class::Z30Wk => self.z30_wk,
        }
    }

    fn count_mut(&mut self, c: Class) -> &mut usize {
        match c {
            Class::Ha12 => &mut self.ha12,
            Class::Z30 => &mut self.z30,
            Class::Z30Wk => &mut self.z30_wk,
        }
    }

    pub fn total(&self) -> usize {
        self.ha12 + self.z30 + self.z30_wk
    }

    /// The devices in node order: routers, then sleepy devices, classes taking turns in each.
    fn devices(&self) -> (usize, Vec<Class>) {
        let routers = |n: usize| if n >= 2 { (n / 6).max(1) } else { 0 };
        let r: Vec<usize> = Class::ALL.iter().map(|c| routers(self.count(*c))).collect();
        let s: Vec<usize> = Class::ALL.iter().zip(&r).map(|(c, r)| self.count(*c) - r).collect();
        let mut out = Vec::with_capacity(self.total());
        for counts in [r.clone(), s] {
            for round in 0..counts.iter().copied().max().unwrap_or(0) {
                for (i, c) in Class::ALL.iter().enumerate() {
                    if round < counts[i] {
                        out.push(*c);
                    }
                }
            }
        }
        (r.iter().sum(), out)
    }
}

impl std::fmt::Display for Population {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ha12={},z30={},z30-wk={}", self.ha12, self.z30, self.z30_wk)
    }
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
            population: None,
            flood_rate: None,
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
    /// Devices per class, as `ha12=N,z30=N,z30-wk=N`.
    pub population: String,
    /// When the attacker started listening (seconds).
    pub attacker_from_s: f64,
    /// Devices that completed a join.
    pub joined: usize,
    /// Devices never admitted (e.g. `ha12` under install-code-required).
    pub never_joined: usize,
    /// Joined devices that at the end cannot talk on the active network key.
    pub stranded: usize,
    pub stranded_devices: Vec<String>,
    pub network_key_leaked: bool,
    /// Network keys the attacker's own decryption read (ground truth).
    pub leaks: Vec<Leak>,
    /// The Trust Center's view at the end: sequence numbers of the network keys it marks
    /// exposed.
    pub exposed_keys: Vec<u8>,
    /// Sequence numbers of network keys the attacker read that the Trust Center does not mark
    /// exposed. Always empty unless the Trust Center has a bug.
    pub silent_leaks: Vec<u8>,
    pub rejoins_denied: u64,
    pub spoof_alerts: u64,
    pub replays_dropped: u64,
    pub stale_key_rescues: u64,
    pub device_rejoins: u64,
    pub rejoin_attempts: u64,
    pub spoofs_sent: u64,
    pub replays_sent: u64,
    /// Every frame the attacker put on air (spoofs and their polls, replays, floods,
    /// forgeries): evidence that an attack happened.
    pub attack_frames: u64,
    /// What the active attacker did (rates, targets, whether it could read the answers).
    pub attack_notes: Vec<String>,
    /// The Trust Center's audit log over the run, counted by kind (e.g. `tclk-update-refused`,
    /// `replay-dropped`, `removed-device-frame`, `counter-resync`, `key-rotation-resumed`).
    pub audit_counts: std::collections::BTreeMap<String, u64>,
    /// Joined devices (not stranded, not removed) the Trust Center has not heard from (directly
    /// or relayed) in the last 15 minutes of the run: talking on the right key but unheard,
    /// e.g. every frame dropped for its counter.
    pub silenced_devices: Vec<String>,
    /// Joined devices whose short address in the Trust Center's record is not the one they use.
    pub misrouted_devices: Vec<String>,
    /// `reboot-mid-rotation`: whether the rotation finished with the key it started with
    /// (same key under the new sequence number); None in other scenarios.
    pub rotation_key_kept: Option<bool>,
    /// `counter-exhaustion`: whether the Trust Center restarted its NWK counter under a new key.
    pub nwk_counter_restarted: Option<bool>,
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
    /// Unsecured TC rejoin flood: (seconds, frames per second).
    Flood(u64, u64),
    /// The attacker runs a TCLK update in a legacy device's name.
    TclkHijack,
    /// The user removes a compromised router; the attacker keeps everything it held.
    RemoveCompromisedRouter,
    /// The removed router's keys at work: data, Update-Device, rejoins in its name.
    InsiderSends,
    /// Update-Device reports for a genuine child, forged in a legacy router's name.
    ForgeUpdateDevice,
    /// The attacker notes which captured frames were heard so far (replayed later).
    MarkCaptured,
    ReplayMarked,
    /// One frame with NWK counter 0xFFFFFFFF in a genuine device's name.
    ForgeMaxCounter,
    /// A device reboots and loses its outgoing NWK frame counter.
    LoseCounter,
    /// The hub goes down, its stored NWK counter lease is set near the top, it comes back
    /// after the given seconds.
    ExhaustCounter(u64),
}

/// What scenario actions remember between them and report.
#[derive(Default)]
struct St {
    /// Nodes the user removed (not counted as stranded).
    removed: Vec<usize>,
    /// The compromised router: node, IEEE, short.
    insider: Option<(usize, ExtAddr, ShortAddr)>,
    marked: usize,
    /// The rotation started by `Rotate`: (seq, key).
    rotation: Option<(u8, Key)>,
}

/// The first device that matches, classes in order of preference: joined, of a role (None:
/// any), directly behind the coordinator if `direct`.
fn pick(w: &World, classes: &[Class], role: Option<Role>, direct: bool) -> Option<usize> {
    for c in classes {
        for n in 1..w.nodes.len() {
            let Some(d) = w.dev(n) else { continue };
            if d.class() == *c
                && d.joined
                && w.nodes[n].alive
                && role.is_none_or(|r| d.role == r)
                && (!direct || d.parent == 0)
            {
                return Some(n);
            }
        }
    }
    None
}

const LEGACY_FIRST: &[Class] = &[Class::Z30Wk, Class::Ha12];
const ANY: &[Class] = &[Class::Z30, Class::Z30Wk, Class::Ha12];

/// A device's address as the attacker knows it (heard on air), else its own.
fn addr(w: &World, n: usize) -> (ExtAddr, ShortAddr) {
    let d = w.dev(n).expect("device");
    let heard = w.attacker.as_ref().and_then(|a| a.shorts.get(&d.ieee).copied());
    (d.ieee, heard.or(d.short).unwrap_or(ShortAddr(0xfffe)))
}

struct Plan {
    routers: usize,
    sleepy: usize,
    profile: fn(usize) -> Profile,
    /// Set by a population: every device's class, in node order (replaces `profile`).
    classes: Option<Vec<Class>>,
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
                classes: None,
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
                classes: None,
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
                classes: None,
            }
        }
        "rate-limit-starvation"
        | "tclk-hijack"
        | "removed-router"
        | "forged-update-device"
        | "old-key-replay"
        | "counter-poisoning"
        | "reboot-mid-rotation"
        | "counter-exhaustion" => {
            let (routers, sleepy) = split((2, 6));
            let (actions, duration, poll) = match cfg.scenario.as_str() {
                "rate-limit-starvation" => (
                    vec![
                        (900 * S, Action::Reboot(60)),
                        (960 * S, Action::Flood(300, 50)),
                        (1500 * S, Action::Rotate(60)),
                        (1560 * S, Action::Flood(600, 50)),
                    ],
                    3000 * S,
                    Some(600_000),
                ),
                "tclk-hijack" => (
                    vec![
                        (600 * S, Action::TclkHijack),
                        (700 * S, Action::TclkHijack),
                        (900 * S, Action::Rotate(60)),
                    ],
                    1800 * S,
                    None,
                ),
                "removed-router" => (
                    vec![
                        (900 * S, Action::RemoveCompromisedRouter),
                        (905 * S, Action::InsiderSends),
                        (1000 * S, Action::InsiderSends),
                        (2100 * S, Action::InsiderSends),
                    ],
                    2700 * S,
                    None,
                ),
                "forged-update-device" => (
                    vec![
                        (600 * S, Action::ForgeUpdateDevice),
                        (700 * S, Action::ForgeUpdateDevice),
                        (900 * S, Action::Rotate(60)),
                    ],
                    1800 * S,
                    None,
                ),
                "old-key-replay" => (
                    vec![
                        (600 * S, Action::Reboot(60)),
                        (880 * S, Action::MarkCaptured),
                        (900 * S, Action::Rotate(60)),
                        (1100 * S, Action::ReplayMarked),
                        (1500 * S, Action::ReplayMarked),
                    ],
                    2100 * S,
                    None,
                ),
                "counter-poisoning" => (
                    vec![(600 * S, Action::ForgeMaxCounter), (5400 * S, Action::LoseCounter)],
                    9000 * S,
                    None,
                ),
                "reboot-mid-rotation" => (
                    vec![(900 * S, Action::Rotate(900)), (960 * S, Action::Reboot(60))],
                    3000 * S,
                    Some(600_000),
                ),
                _ => (vec![(900 * S, Action::ExhaustCounter(30))], 2700 * S, None),
            };
            Plan {
                routers,
                sleepy,
                profile: mixed,
                attacker_from: 0,
                duration,
                actions,
                poll_override_ms: poll,
                classes: None,
            }
        }
        s => {
            return Err(format!(
                "unknown scenario {s:?} (one of {})",
                all_scenarios().collect::<Vec<_>>().join(", ")
            ))
        }
    };
    let mut p = p;
    if let Some(pop) = &cfg.population {
        if cfg.devices.is_some() {
            return Err("give either a device count or a population, not both".into());
        }
        let (routers, classes) = pop.devices();
        p.routers = routers;
        p.sleepy = classes.len() - routers;
        // Spoof victims: devices holding the well-known link key (ha12 first, then z30-wk).
        let victim = |router: bool, nth: usize| -> usize {
            let range = if router { 0..routers } else { routers..classes.len() };
            let mut order: Vec<usize> = Vec::new();
            for want in [Class::Ha12, Class::Z30Wk, Class::Z30] {
                order.extend(range.clone().filter(|&i| classes[i] == want));
            }
            let fallback: Vec<usize> = (0..classes.len()).collect();
            let pick = if order.is_empty() { &fallback } else { &order };
            1 + pick[nth.min(pick.len() - 1)]
        };
        let mut spoofs = 0;
        for (_, a) in p.actions.iter_mut() {
            if let Action::Spoof(n) = a {
                *n = match cfg.scenario.as_str() {
                    "spoofed-rejoin" if spoofs == 1 => victim(true, 0),
                    "spoofed-rejoin" => victim(false, 0),
                    _ => victim(false, spoofs),
                };
                spoofs += 1;
            }
        }
        p.classes = Some(classes);
    }
    Ok(p)
}

pub fn policy(name: &str, legacy: &str) -> Result<Policy, String> {
    let insecure_rejoin = match name {
        "allow" => InsecureRejoinPolicy::AllowLeakingKey,
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
    let hub = Coordinator::new(MemStore::default(), tc_seed, 0, hub_seed);
    tc_seed.fill(0);
    w.add_node(Kind::Coordinator(Box::new(hub)), true);
    w.command(AdminCommand::SetPolicy(pol))?;
    w.command(AdminCommand::FormNetwork {
        pan_id: PAN,
        extended_pan_id: 0xdddd_0000_0000_0001,
        channel: 15,
    })?;
    let ieee = w.hub().hub.tc().network().expect("formed").tc_ieee;
    w.hub().ieee = ieee;
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
        let class = match &plan.classes {
            Some(c) => c[i],
            None if (plan.profile)(i) == Profile::Z30 => Class::Z30,
            None => Class::Ha12,
        };
        let profile = class.profile();
        let ieee = ExtAddr(0x0012_4b00_0000_0000 | (cfg.seed & 0xffff) << 16 | n as u64);
        let ic = class
            .install_code()
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
    for (ieee, link_key) in ics {
        w.command_at(now_ms, AdminCommand::AddInstallCode { ieee, link_key })?;
    }
    w.command_at(now_ms, AdminCommand::PermitJoin { duration_ms: 254_000, ieee: None })?;
    let spacing = (240 * S / (total as u64 + 1)).min(4 * S);
    for i in 0..total {
        let at = 2 * S + spacing * i as u64 + w.rng.below(spacing / 2 + 1);
        device::boot(&mut w, i + 1, at);
    }
    for (i, (t, _)) in plan.actions.iter().enumerate() {
        w.q.at(*t, Ev::Action(i));
    }
    let actions = plan.actions;
    let mut st = St::default();
    let act = |w: &mut World, i: usize, st: &mut St| match &actions[i].1 {
        Action::Reboot(secs) => {
            w.hub_down();
            w.q.after(secs * S, Ev::Action(usize::MAX));
        }
        Action::Kill(n) => {
            w.nodes[*n].alive = false;
        }
        Action::Rotate(deadline_s) => {
            // Refused while the hub is down or a rotation runs, as from the API.
            let _ = w.command(AdminCommand::RotateNetworkKey { deadline_ms: deadline_s * 1000 });
            let seq = w.hub().store().snap.rotation.as_ref().map(|r| r.seq);
            st.rotation = seq.and_then(|q| w.tc_key(q).map(|k| (q, k)));
        }
        Action::Spoof(n) => {
            if let Some(d) = w.dev(*n) {
                let (ieee, cap) = (d.ieee, d.capability());
                attacker::spoof(w, ieee, cap);
            }
        }
        Action::Replay => attacker::replay(w),
        Action::Flood(secs, rate) => {
            let rate = &cfg.flood_rate.unwrap_or(*rate).max(1);
            let targets: Vec<_> =
                (1..=total).filter_map(|n| w.dev(n).map(|d| (d.ieee, d.capability()))).collect();
            attacker::flood(w, targets, S / rate, (secs * rate) as u32);
        }
        Action::TclkHijack => {
            let Some(v) = pick(w, LEGACY_FIRST, Some(Role::Sleepy), false)
                .or_else(|| pick(w, LEGACY_FIRST, None, false))
            else {
                return;
            };
            let (victim, short) = addr(w, v);
            attacker::schedule(w, 0, attacker::Step::RequestKey { victim, short });
            attacker::schedule(w, 2 * S, attacker::Step::VerifyKey { victim, short });
        }
        Action::RemoveCompromisedRouter => {
            let Some(r) = pick(w, ANY, Some(Role::Router), false) else { return };
            let d = w.dev(r).expect("router");
            let keys: Vec<(u8, Key)> = d.keys.iter().map(|(q, k)| (*q, k.clone())).collect();
            let (ieee, short, link, fc) =
                (d.ieee, d.short.unwrap_or(ShortAddr(0xfffe)), d.link(), d.frame_counters().0);
            attacker::compromise(w, ieee, keys, link, fc);
            // The physical router is now the attacker's: it leaves the genuine network.
            w.nodes[r].alive = false;
            st.removed.push(r);
            st.insider = Some((r, ieee, short));
            let _ = w.command(AdminCommand::RemoveDevice { ieee });
        }
        Action::InsiderSends => {
            let Some((r, ieee, short)) = st.insider else { return };
            let cap = w.dev(r).map_or(CapabilityInfo::ROUTER, |d| d.capability());
            let fake = ExtAddr(0x00de_ad00_0000_0000 | (w.rng.next_u64() & 0xffff_ffff));
            use attacker::Step::*;
            let steps = [
                Data { src: ieee, short, fc: None },
                UpdateDevice {
                    router: ieee,
                    router_short: short,
                    device: fake,
                    short: ShortAddr(0x4242),
                    status: 1,
                },
                UpdateDevice {
                    router: ieee,
                    router_short: short,
                    device: fake,
                    short: ShortAddr(0x4243),
                    status: 3,
                },
                Rejoin { src: ieee, short, cap, secured: true },
                Rejoin { src: ieee, short, cap, secured: false },
            ];
            for (k, s) in steps.into_iter().enumerate() {
                attacker::schedule(w, k as u64 * S, s);
            }
        }
        Action::ForgeUpdateDevice => {
            // A legacy router with a sleepy child (its own child is the one it could report),
            // else any legacy router and any sleepy device.
            let ww: &World = w;
            let mut routers: Vec<usize> = Vec::new();
            for c in LEGACY_FIRST {
                routers.extend((1..=total).filter(|&n| {
                    ww.dev(n).is_some_and(|d| d.class() == *c && d.role == Role::Router && d.joined)
                }));
            }
            let child_of = |r: usize| {
                (1..=total).find(|&n| {
                    ww.dev(n).is_some_and(|d| d.role == Role::Sleepy && d.parent == r && d.joined)
                })
            };
            let Some((r, c)) =
                routers.iter().find_map(|&r| child_of(r).map(|c| (r, c))).or_else(|| {
                    let r = *routers.first()?;
                    Some((r, pick(ww, ANY, Some(Role::Sleepy), false)?))
                })
            else {
                return;
            };
            let (router, router_short) = addr(w, r);
            let (device, _) = addr(w, c);
            let bogus = ShortAddr(0x6000 | (w.rng.below(0x1000) as u16));
            // TC rejoin, secured rejoin, unsecured join: each at the bogus short address.
            for (k, status) in [3u8, 0, 1].into_iter().enumerate() {
                attacker::schedule(
                    w,
                    k as u64 * 5 * S,
                    attacker::Step::UpdateDevice {
                        router,
                        router_short,
                        device,
                        short: bogus,
                        status,
                    },
                );
            }
        }
        Action::MarkCaptured => {
            st.marked = w.attacker.as_ref().map_or(0, |a| a.captured.len());
        }
        Action::ReplayMarked => {
            let to = st.marked;
            attacker::schedule(w, 0, attacker::Step::ReplayCaptured { from: 0, to });
        }
        Action::ForgeMaxCounter => {
            let Some(v) = pick(w, ANY, None, true) else { return };
            let (src, short) = addr(w, v);
            attacker::schedule(w, 0, attacker::Step::Data { src, short, fc: Some(u32::MAX) });
        }
        Action::LoseCounter => {
            // Another device than the counter-poisoning victim: the last one behind the
            // coordinator.
            let direct: Vec<usize> = (1..=total)
                .filter(|&n| w.dev(n).is_some_and(|d| d.parent == 0 && d.joined))
                .collect();
            if let Some(&n) = direct.last() {
                if let Some(d) = w.dev_mut(n) {
                    d.lose_nwk_counter();
                }
            }
        }
        Action::ExhaustCounter(secs) => {
            w.hub_down();
            let until = zigtrust_tc::NWK_COUNTER_ROTATE_AT + 4096;
            w.hub().store_mut().apply(StoreWrite::CounterLease { kind: CounterKind::Nwk, until });
            w.q.after(secs * S, Ev::Action(usize::MAX));
        }
    };
    let duration = cfg.duration_s.map_or(plan.duration, |s| s * S);
    {
        let mut dispatch = |w: &mut World, i: usize| {
            if i == usize::MAX {
                w.hub_up();
            } else {
                act(w, i, &mut st)
            }
        };
        w.run_until(duration, &mut dispatch);
    }

    // Results: leaks only from the attacker's own decryption.
    let active = w.hub().store().snap.active_key_seq.unwrap_or(0);
    let mut joined = 0;
    let mut never = 0;
    let mut stranded_devices = Vec::new();
    let mut rejoin_attempts = 0;
    let end_ms = duration / 1000;
    let mut silenced_devices = Vec::new();
    let mut misrouted_devices = Vec::new();
    for n in 1..=total {
        if st.removed.contains(&n) {
            continue;
        }
        let d = w.dev(n).expect("device");
        rejoin_attempts += d.rejoin_attempts as u64;
        if d.ever_joined && d.joined {
            let Kind::Coordinator(h) = &w.nodes[0].kind else { unreachable!("coordinator") };
            if let Some(rec) = h.store().devices.get(&d.ieee) {
                if rec.last_seen + 900_000 < end_ms {
                    silenced_devices.push(d.ieee.to_string());
                }
                if Some(rec.short_addr) != d.short {
                    misrouted_devices.push(d.ieee.to_string());
                }
            }
        }
        let d = w.dev(n).expect("device");
        if !d.ever_joined {
            never += 1;
            continue;
        }
        joined += 1;
        let can_talk = d.joined && d.active == Some(active) && d.keys.contains_key(&active);
        if !can_talk {
            stranded_devices.push(d.ieee.to_string());
            silenced_devices.retain(|s| *s != d.ieee.to_string());
        }
    }
    let network_keys_by_seq: Vec<(u8, Key)> =
        w.hub().store().snap.network_keys.iter().map(|k| (k.seq, k.key.clone())).collect();
    let restarts: Vec<(CounterKind, u8)> = w
        .hub()
        .store()
        .snap
        .counter_restarts
        .iter()
        .filter(|(k, _)| *k == CounterKind::Nwk)
        .copied()
        .collect();
    let network_keys: Vec<Key> = {
        let mut ks: Vec<_> = w.hub().store().snap.network_keys.clone();
        ks.sort_by_key(|k| k.seq);
        ks.into_iter().map(|k| k.key).collect()
    };
    let exposed = tc_exposed_keys(&mut w);
    let exposed_keys: Vec<u8> = exposed.iter().filter(|k| k.1).map(|k| k.0).collect();
    let a = w.attacker.as_ref().expect("attacker");
    // Compared by key value, not by the sequence number the attacker saw with it; a key the
    // Trust Center no longer holds counts as silent (under the sequence number it came with).
    let mut silent_leaks: Vec<u8> = a
        .learned
        .iter()
        .zip(&a.leaks)
        .filter_map(|(key, leak)| match exposed.iter().find(|(_, _, k)| k == key) {
            Some((_, true, _)) => None,
            Some((seq, false, _)) => Some(*seq),
            None => Some(leak.key_seq),
        })
        .collect();
    silent_leaks.sort_unstable();
    silent_leaks.dedup();
    let mut population = Population::default();
    for n in 1..=total {
        *population.count_mut(w.dev(n).expect("device").class()) += 1;
    }
    let report = Report {
        scenario: cfg.scenario.clone(),
        policy: cfg.policy.clone(),
        legacy_join: cfg.legacy_join.clone(),
        seed: cfg.seed,
        devices: total,
        population: population.to_string(),
        attacker_from_s: a.listen_from as f64 / 1e6,
        joined,
        never_joined: never,
        stranded: stranded_devices.len(),
        stranded_devices,
        network_key_leaked: !a.leaks.is_empty(),
        leaks: a.leaks.clone(),
        exposed_keys,
        silent_leaks,
        rejoins_denied: w.stats.rejoins_denied,
        spoof_alerts: w.stats.spoof_alerts,
        replays_dropped: w.stats.replays_dropped,
        stale_key_rescues: w.stats.rescues,
        device_rejoins: w.stats.rejoins,
        rejoin_attempts,
        spoofs_sent: a.spoofs_sent,
        replays_sent: a.replays_sent,
        attack_frames: a.injected,
        attack_notes: a.notes.clone(),
        audit_counts: w.stats.audit.clone(),
        silenced_devices,
        misrouted_devices,
        rotation_key_kept: (cfg.scenario == "reboot-mid-rotation").then(|| {
            st.rotation.as_ref().is_some_and(|(q, k)| {
                active == *q && network_keys_by_seq.iter().any(|(s, key)| s == q && key == k)
            })
        }),
        nwk_counter_restarted: (cfg.scenario == "counter-exhaustion")
            .then(|| !restarts.is_empty() && restarts.iter().all(|(_, q)| *q == active)),
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

/// Every network key the Trust Center holds at the end: (seq, marked exposed, key). From the
/// running core, or from its store while the hub is down.
fn tc_exposed_keys(w: &mut World) -> Vec<(u8, bool, Key)> {
    let h = w.hub();
    match h.tc() {
        Some(tc) => (0..=255u8)
            .filter_map(|q| tc.network_key(q))
            .map(|k| (k.seq, k.exposed, k.key.clone()))
            .collect(),
        None => {
            let mut v: Vec<_> = h
                .store()
                .snap
                .network_keys
                .iter()
                .map(|k| (k.seq, k.exposed, k.key.clone()))
                .collect();
            v.sort_by_key(|k| k.0);
            v
        }
    }
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
