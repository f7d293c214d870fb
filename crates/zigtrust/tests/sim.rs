//! `zigtrust sim` end to end: JSON fields, pcap output, knobs, bad arguments.

use std::process::Command;

fn zigtrust(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zigtrust")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn sim_json_report_and_pcap() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let pcap = dir.join("cli-sim.pcap");
    let p = pcap.to_str().unwrap();
    let args = ["sim", "--scenario", "spoofed-rejoin", "--policy", "allow", "--seed", "5"];
    let (code, out) = zigtrust(&[&args[..], &["--json", "--pcap", p]].concat());
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for k in [
        "scenario",
        "policy",
        "seed",
        "devices",
        "joined",
        "stranded_devices",
        "network_key_leaked",
        "leaks",
        "rejoins_denied",
        "spoof_alerts",
        "frames",
        "airtime_s",
        "sim_time_s",
        "wall_time_s",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {out}");
    }
    assert_eq!(v["network_key_leaked"], true);
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(&bytes[20..24], &195u32.to_le_bytes());
    // Same seed, same pcap.
    let pcap2 = dir.join("cli-sim2.pcap");
    let (code, _) = zigtrust(&[&args[..], &["--pcap", pcap2.to_str().unwrap()]].concat());
    assert_eq!(code, 0);
    assert_eq!(bytes, std::fs::read(&pcap2).unwrap());
}

#[test]
fn sim_knobs_and_errors() {
    let (code, out) = zigtrust(&[
        "sim",
        "--scenario",
        "join-z30",
        "--devices",
        "3",
        "--secured-rejoin-attempts",
        "2",
        "--keep-previous-key",
        "false",
        "--poll-interval-ms",
        "5000",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["devices"], 3);
    assert_eq!(v["secured_rejoin_attempts"], 2);
    assert_eq!(v["keep_previous_key"], false);
    assert_eq!(zigtrust(&["sim", "--scenario", "nope"]).0, 2);
    assert_eq!(zigtrust(&["sim", "--scenario", "join-z30", "--policy", "nope"]).0, 2);
    assert_eq!(zigtrust(&["sim"]).0, 2);
}
