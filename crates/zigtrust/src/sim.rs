//! `zigtrust sim`: run a simulated network (real Trust Center core, device models, attacker)
//! and print its report; `zigtrust sim matrix`: every scenario × every policy.

use crate::exit;
use std::io::Write;
use zigtrust_sim::device::Knobs;
use zigtrust_sim::{
    all_scenarios, pcap_bytes, report_json, run, Config, Population, Report, LEGACY, POLICIES,
};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `matrix`: run every scenario under every policy.
    pub mode: Option<String>,
    /// Scenario: join-legacy, join-z30, hub-reboot, router-loss, key-rotation, spoofed-rejoin,
    /// replay, home; attacks: rate-limit-starvation, tclk-hijack, removed-router,
    /// forged-update-device, old-key-replay, counter-poisoning, reboot-mid-rotation,
    /// counter-exhaustion.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Insecure-rejoin policy: allow, deny, adaptive.
    #[arg(long, default_value = "adaptive")]
    pub policy: String,
    /// Legacy-join policy: legacy-allowed-while-permit-join or install-code-required
    /// (the matrix runs both under adaptive).
    #[arg(long, default_value = "legacy-allowed-while-permit-join")]
    pub legacy_join: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of devices (routers + sleepy end devices).
    #[arg(long)]
    pub devices: Option<usize>,
    /// Devices by class instead of the scenario's: `ha12=N,z30=N,z30-wk=N` (any subset).
    /// ha12: HA 1.2, well-known key; z30: Zigbee 3.0 with an install code; z30-wk: Zigbee 3.0
    /// joining without an install code under the well-known key, then asking for a TC link key.
    #[arg(long)]
    pub population: Option<String>,
    /// When the attacker starts listening, in seconds (0: from power-on; default: the
    /// scenario's choice).
    #[arg(long)]
    pub attacker_from_s: Option<u64>,
    /// `rate-limit-starvation`: the attacker's rejoin flood, frames per second (default 50).
    #[arg(long)]
    pub flood_rate: Option<u64>,
    /// Simulated duration in seconds (default: the scenario's).
    #[arg(long)]
    pub duration_s: Option<u64>,
    /// Write every frame on air to this pcap (linktype 195).
    #[arg(long)]
    pub pcap: Option<std::path::PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Secured rejoin attempts with the stored key before a Trust Center rejoin.
    #[arg(long, default_value_t = 1)]
    pub secured_rejoin_attempts: u32,
    /// Whether devices keep their network key when falling back to a Trust Center rejoin.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub keep_previous_key: bool,
    /// Sleepy end devices' long poll interval.
    #[arg(long, default_value_t = 60_000)]
    pub poll_interval_ms: u64,
}

fn config(
    a: &Args,
    population: Option<Population>,
    scenario: &str,
    policy: &str,
    legacy: &str,
) -> Config {
    let mut c = Config::new(scenario, policy, a.seed);
    c.legacy_join = legacy.into();
    c.devices = a.devices;
    c.population = population;
    c.attacker_from_s = a.attacker_from_s;
    c.duration_s = a.duration_s;
    c.flood_rate = a.flood_rate;
    c.keep_capture = a.pcap.is_some();
    c.knobs = Knobs {
        secured_rejoin_attempts: a.secured_rejoin_attempts,
        keep_previous_key: a.keep_previous_key,
        poll_interval_ms: a.poll_interval_ms,
        ..Knobs::default()
    };
    c
}

fn line(r: &Report) -> String {
    format!(
        "{:15} {:9} {:22} {:>4}/{:<4} {:>8} {:>6} {:>6} {:>7} {:>6} {:>8} {:>9.1}",
        r.scenario,
        r.policy,
        if r.legacy_join.starts_with("legacy") {
            "legacy-allowed"
        } else {
            "install-code-required"
        },
        r.joined,
        r.devices,
        r.stranded,
        if r.network_key_leaked { "LEAK" } else { "-" },
        r.silent_leaks.len(),
        r.rejoins_denied,
        r.spoof_alerts,
        r.frames,
        r.sim_time_s,
    )
}

const HEADER: &str = "scenario        policy    legacy-join            joined    stranded   leak silent  denied  spoof   frames     sim_s";

/// Notes in order, repeated ones once with a count.
fn dedup(v: &[String]) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for n in v {
        match out.iter_mut().find(|(m, _)| m == n) {
            Some(e) => e.1 += 1,
            None => out.push((n.clone(), 1)),
        }
    }
    out.into_iter().map(|(n, c)| if c > 1 { format!("{n} (x{c})") } else { n }).collect()
}

fn seqs(v: &[u8]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
}

pub fn run_cmd(a: &Args, out: &mut dyn Write) -> i32 {
    let io = |r: std::io::Result<()>| if r.is_err() { exit::BAD_INPUT } else { exit::OK };
    let population = match a.population.as_deref().map(Population::parse).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("zigtrust sim: --population: {e}");
            return exit::BAD_INPUT;
        }
    };
    if population.is_some() && a.devices.is_some() {
        eprintln!("zigtrust sim: give either --devices or --population, not both");
        return exit::BAD_INPUT;
    }
    if a.mode.as_deref() == Some("matrix") {
        let mut reports = Vec::new();
        for s in all_scenarios() {
            let mut runs: Vec<(&str, &str)> = POLICIES.iter().map(|p| (*p, LEGACY[0])).collect();
            runs.push(("adaptive", LEGACY[1]));
            for (p, l) in runs {
                match run(&config(a, population, s, p, l)) {
                    Ok(o) => reports.push(o.report),
                    Err(e) => {
                        eprintln!("zigtrust sim: {e}");
                        return exit::BAD_INPUT;
                    }
                }
            }
        }
        if a.json {
            let v: Vec<String> = reports.iter().map(report_json).collect();
            return io(writeln!(out, "[{}]", v.join(",")));
        }
        let mut s = format!("{HEADER}\n");
        for r in &reports {
            s += &line(r);
            s.push('\n');
        }
        return io(write!(out, "{s}"));
    }
    if let Some(m) = &a.mode {
        eprintln!("zigtrust sim: unknown mode {m:?} (only `matrix`)");
        return exit::BAD_INPUT;
    }
    let Some(scenario) = &a.scenario else {
        eprintln!("zigtrust sim: --scenario is required (or `zigtrust sim matrix`)");
        return exit::BAD_INPUT;
    };
    let o = match run(&config(a, population, scenario, &a.policy, &a.legacy_join)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("zigtrust sim: {e}");
            return exit::BAD_INPUT;
        }
    };
    if let Some(p) = &a.pcap {
        if let Err(e) = std::fs::write(p, pcap_bytes(&o.world)) {
            eprintln!("zigtrust sim: {}: {e}", p.display());
            return exit::BAD_INPUT;
        }
    }
    let r = &o.report;
    if a.json {
        return io(writeln!(out, "{}", report_json(r)));
    }
    let mut s = format!("{HEADER}\n{}\n", line(r));
    s += &format!(
        "population: {}; attacker listening from {:.0} s\n",
        r.population, r.attacker_from_s
    );
    s += &format!("exposed network keys (Trust Center's view): {}\n", seqs(&r.exposed_keys));
    s += &format!(
        "silent leaks (read by the attacker, not marked exposed): {}\n",
        seqs(&r.silent_leaks)
    );
    for l in &r.leaks {
        s += &format!(
            "leak: network key {} at {:.3} s, frame {}: {}\n",
            l.key_seq, l.time_s, l.frame, l.how
        );
    }
    for d in &r.stranded_devices {
        s += &format!("stranded: {d}\n");
    }
    if r.attack_frames > 0 {
        s += &format!("attacker: {} frames injected\n", r.attack_frames);
    }
    for n in dedup(&r.attack_notes) {
        s += &format!("attack: {n}\n");
    }
    for d in &r.silenced_devices {
        s += &format!("unheard for 15 min at the end: {d}\n");
    }
    for d in &r.misrouted_devices {
        s += &format!("misrouted (Trust Center holds another short address): {d}\n");
    }
    if let Some(k) = r.rotation_key_kept {
        s += &format!("rotation resumed with the same key: {k}\n");
    }
    if let Some(k) = r.nwk_counter_restarted {
        s += &format!("NWK frame counter restarted under the new key: {k}\n");
    }
    let evidence: Vec<String> = [
        "tclk-update-refused",
        "command-rejected",
        "removed-device-frame",
        "replay-dropped",
        "counter-resync",
        "key-rotation-resumed",
        "counter-exhaustion",
        "suspected-spoof",
        "rejoin-denied",
    ]
    .iter()
    .filter_map(|k| r.audit_counts.get(*k).map(|n| format!("{k} {n}")))
    .collect();
    if !evidence.is_empty() {
        s += &format!("trust center audit: {}\n", evidence.join(", "));
    }
    io(write!(out, "{s}"))
}
