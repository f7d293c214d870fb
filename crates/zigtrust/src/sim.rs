//! `zigtrust sim`: run a simulated network (real Trust Center core, device models, attacker)
//! and print its report; `zigtrust sim matrix`: every scenario × every policy.

use crate::exit;
use std::io::Write;
use zigtrust_sim::device::Knobs;
use zigtrust_sim::{pcap_bytes, report_json, run, Config, Report, LEGACY, POLICIES, SCENARIOS};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// `matrix`: run every scenario under every policy.
    pub mode: Option<String>,
    /// Scenario: join-legacy, join-z30, hub-reboot, router-loss, key-rotation, spoofed-rejoin,
    /// replay, home.
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

fn config(a: &Args, scenario: &str, policy: &str, legacy: &str) -> Config {
    let mut c = Config::new(scenario, policy, a.seed);
    c.legacy_join = legacy.into();
    c.devices = a.devices;
    c.duration_s = a.duration_s;
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
        "{:15} {:9} {:22} {:>4}/{:<4} {:>8} {:>6} {:>7} {:>6} {:>8} {:>9.1}",
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
        r.rejoins_denied,
        r.spoof_alerts,
        r.frames,
        r.sim_time_s,
    )
}

const HEADER: &str = "scenario        policy    legacy-join            joined    stranded   leak  denied  spoof   frames     sim_s";

pub fn run_cmd(a: &Args, out: &mut dyn Write) -> i32 {
    let io = |r: std::io::Result<()>| if r.is_err() { exit::BAD_INPUT } else { exit::OK };
    if a.mode.as_deref() == Some("matrix") {
        let mut reports = Vec::new();
        for s in SCENARIOS {
            let mut runs: Vec<(&str, &str)> = POLICIES.iter().map(|p| (*p, LEGACY[0])).collect();
            runs.push(("adaptive", LEGACY[1]));
            for (p, l) in runs {
                match run(&config(a, s, p, l)) {
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
    let o = match run(&config(a, scenario, &a.policy, &a.legacy_join)) {
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
    for l in &r.leaks {
        s += &format!(
            "leak: network key {} at {:.3} s, frame {}: {}\n",
            l.key_seq, l.time_s, l.frame, l.how
        );
    }
    for d in &r.stranded_devices {
        s += &format!("stranded: {d}\n");
    }
    io(write!(out, "{s}"))
}
