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
        "exposed_keys",
        "silent_leaks",
        "population",
        "attacker_from_s",
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
    // The attacker's leaks are keys the Trust Center marks exposed.
    assert_eq!(v["silent_leaks"], serde_json::json!([]));
    for l in v["leaks"].as_array().unwrap() {
        assert!(v["exposed_keys"].as_array().unwrap().contains(&l["key_seq"]), "{out}");
    }
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

#[test]
fn sim_population_and_attacker_from() {
    let (code, out) = zigtrust(&[
        "sim",
        "--scenario",
        "replay",
        "--population",
        "ha12=1,z30=2,z30-wk=2",
        "--attacker-from-s",
        "0",
        "--duration-s",
        "600",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["devices"], 5);
    assert_eq!(v["population"], "ha12=1,z30=2,z30-wk=2");
    assert_eq!(v["attacker_from_s"], 0.0);
    // From power-on the attacker sees the well-known-key joins, and the TC says so.
    assert_eq!(v["network_key_leaked"], true, "{out}");
    assert!(v["exposed_keys"].as_array().unwrap().contains(&serde_json::json!(0)), "{out}");
    assert_eq!(v["silent_leaks"], serde_json::json!([]), "{out}");
    // Text: the Trust Center's view and the silent leaks.
    let (code, out) = zigtrust(&[
        "sim",
        "--scenario",
        "join-z30",
        "--population",
        "z30-wk=2",
        "--attacker-from-s",
        "0",
        "--duration-s",
        "300",
    ]);
    assert_eq!(code, 0);
    assert!(out.lines().next().unwrap().contains(" silent "), "{out}");
    assert!(
        out.contains("population: ha12=0,z30=0,z30-wk=2; attacker listening from 0 s"),
        "{out}"
    );
    assert!(out.contains("exposed network keys (Trust Center's view): 0\n"), "{out}");
    assert!(out.contains("silent leaks (read by the attacker, not marked exposed): none"), "{out}");
    // Bad populations and combinations exit 2 with a message.
    for bad in ["", "ha12", "ha12=x", "zll=1", "ha12=1,ha12=1", "ha12=0", "ha12=1;z30=1"] {
        let out = Command::new(env!("CARGO_BIN_EXE_zigtrust"))
            .args(["sim", "--scenario", "join-z30", "--population", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--population") && err.contains("bad population"), "{bad:?}: {err}");
    }
    let args = ["sim", "--scenario", "join-z30", "--population", "z30=2", "--devices", "3"];
    assert_eq!(zigtrust(&args).0, 2);
    assert_eq!(zigtrust(&["sim", "--scenario", "join-z30", "--attacker-from-s", "-1"]).0, 2);
}

#[test]
fn sim_matrix_with_population_has_silent_column() {
    let args = [
        "sim",
        "matrix",
        "--population",
        "ha12=1,z30-wk=1",
        "--attacker-from-s",
        "0",
        "--duration-s",
        "300",
    ];
    let (code, out) = zigtrust(&[&args[..], &["--json"]].concat());
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let runs = v.as_array().unwrap();
    // The first eight scenarios and the eight attack scenarios, four runs each.
    assert_eq!(runs.len(), 16 * 4);
    for r in runs {
        assert_eq!(r["population"], "ha12=1,z30=0,z30-wk=1", "{r}");
        assert_eq!(r["attacker_from_s"], 0.0, "{r}");
        assert_eq!(r["silent_leaks"], serde_json::json!([]), "{r}");
        assert!(r["exposed_keys"].is_array(), "{r}");
    }
    let (code, out) = zigtrust(&args);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let col = header.iter().position(|h| *h == "silent").expect("a silent column");
    let mut rows = 0;
    for l in lines {
        // One token per header column ("joined" is "a/b").
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(f.len(), header.len(), "{l}");
        assert_eq!(f[col], "0", "{l}");
        rows += 1;
    }
    assert_eq!(rows, 64);
}

/// An attack scenario from the CLI: the attacker's forged TCLK update is refused, and the
/// text report says what the attacker did and what the Trust Center's audit saw.
#[test]
fn sim_attack_scenario_reports_the_attack() {
    let args = [
        "sim",
        "--scenario",
        "tclk-hijack",
        "--population",
        "ha12=2,z30=2,z30-wk=2",
        "--attacker-from-s",
        "0",
        "--seed",
        "1112",
    ];
    let (code, out) = zigtrust(&[&args[..], &["--json"]].concat());
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["stranded"], 0, "{out}");
    assert_eq!(v["silent_leaks"], serde_json::json!([]), "{out}");
    assert!(v["attack_frames"].as_u64().unwrap() >= 4, "{out}");
    assert!(v["audit_counts"]["tclk-update-refused"].as_u64().unwrap() >= 1, "{out}");
    let (code, out) = zigtrust(&args);
    assert_eq!(code, 0);
    assert!(out.contains("attack: TCLK update in "), "{out}");
    assert!(out.contains("trust center audit: tclk-update-refused "), "{out}");
    let (code, _) = zigtrust(&["sim", "--scenario", "no-such-attack"]);
    assert_eq!(code, 2);
}
