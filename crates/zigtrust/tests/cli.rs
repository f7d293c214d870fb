//! End-to-end tests of the `zigtrust` binary: outputs, exit codes and error messages.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use zigtrust_testkit::corpus::Options;

fn zigtrust(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zigtrust")).args(args).output().unwrap()
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample.pcap").display().to_string()
}

#[test]
fn sample_capture_is_the_seeded_corpus() {
    // testdata/sample.pcap is `zigtrust-corpus --seed 1 --frames 120` (the test kit's
    // generator); regenerate and compare so the shipped sample can never drift from it.
    let (_, fresh) = corpus_pcap(
        "sample-regen.pcap",
        &Options { seed: 1, min_frames: 120, ..Default::default() },
    );
    assert_eq!(std::fs::read(fresh).unwrap(), std::fs::read(sample()).unwrap());
}

#[test]
fn decode_sample_finds_the_leaked_network_key() {
    let out = zigtrust(&["decode", &sample()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "# key found in frame 9: Standard Network Key 5e5532fbeea293f80bc942ee9086c171"
        ),
        "{text}"
    );
    assert!(text
        .lines()
        .any(|l| l.trim_start().starts_with("10 ") && l.contains("key from frame 9, MIC ok")));

    let frames = our_decode(Path::new(&sample()), &[]);
    assert_eq!(frames.len(), 162);
    let f9 = &frames[8];
    assert_eq!(f9["aps"]["command"], "Transport Key");
    assert_eq!(f9["aps"]["key_type"], "Standard Network Key");
    assert_eq!(f9["aps"]["key"], "5e5532fbeea293f80bc942ee9086c171");
    assert_eq!(f9["aps"]["key_seq"], 0);
    assert_eq!(f9["aps"]["security"]["key_source"], "well-known");
    assert_eq!(frames[9]["nwk"]["security"]["key_source"], "transported");
    assert_eq!(frames[9]["nwk"]["security"]["key_frame"], 9);
    for f in &frames {
        for field in ["frame", "time", "len", "fcs", "mac", "summary"] {
            assert!(f.get(field).is_some(), "{field} missing: {f}");
        }
    }
}

#[test]
fn decode_with_install_code_reads_the_z30_join() {
    let keys: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sample-keys.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let ic = &keys["install_codes"][0];
    let arg = format!("{}:{}", ic["ieee"].as_str().unwrap(), ic["install_code"].as_str().unwrap());
    let without = our_decode(Path::new(&sample()), &[]);
    let with = our_decode(Path::new(&sample()), &["--install-code".into(), arg]);
    let ok =
        |v: &[serde_json::Value]| v.iter().filter(|f| f["aps"]["security"]["mic"] == "ok").count();
    assert!(ok(&with) > ok(&without));
    assert!(with.iter().any(|f| f["aps"]["security"]["key_source"] == "install-code"));
}

#[test]
fn bad_inputs_exit_2_with_a_clear_message() {
    let dir = tmp("cli-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let truncated = dir.join("truncated.pcap");
    let full = std::fs::read(sample()).unwrap();
    std::fs::write(&truncated, &full[..full.len() - 10]).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["decode".into(), "/nonexistent/x.pcap".into()], "No such file"),
        (vec!["decode".into(), garbage.display().to_string()], "not a pcap or pcapng"),
        (vec!["decode".into(), sample(), "--key".into(), "1234".into()], "--key"),
        (vec!["decode".into(), sample(), "--key".into(), "zz".repeat(16)], "invalid character"),
        (
            vec![
                "decode".into(),
                sample(),
                "--install-code".into(),
                "83FED3407A939723A5C639B26916D505C3B5".into(),
            ],
            "EUI64:CODE",
        ),
        (
            vec![
                "decode".into(),
                sample(),
                "--install-code".into(),
                "0011223344556677:83FED3407A939723A5C639B26916D505C3B6".into(),
            ],
            "CRC",
        ),
        (vec!["installcode".into(), "83FED3407A939723A5C639B26916D505C3B6".into()], "CRC mismatch"),
        (
            vec!["installcode".into(), "83FED3407A939723A5C639B26916D505".into()],
            "without its 2-byte CRC",
        ),
        (vec!["installcode".into(), "83FED3".into()], "must be 8, 10, 14 or 18 bytes"),
        (vec!["frobnicate".into()], "unrecognized subcommand"),
        (vec!["decode".into()], "required"),
    ];
    for (args, want) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = zigtrust(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: stderr {err:?} lacks {want:?}");
    }
    // A capture cut mid-record: every whole frame is printed, then the offset of the cut.
    let out = zigtrust(&["decode", &truncated.display().to_string(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 161);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at byte offset") && err.contains("truncated"), "{err}");
}

#[test]
fn installcode_accepts_every_form() {
    let key = "66b6900981e1ee3ca4206b6b861c02bb";
    for form in [
        "83FED3407A939723A5C639B26916D505C3B5",
        "83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5",
        "83:fe:d3:40:7a:93:97:23:a5:c6:39:b2:69:16:d5:05:c3:b5",
        "Z:00124B0001020304$I:83FED3407A939723A5C639B26916D505C3B5",
        "00124B0001020304|83FED3407A939723A5C639B26916D505C3B5",
        "HUE:Z:83FED3407A939723A5C639B26916D505C3B5 M:00124B0001020304",
    ] {
        let out = zigtrust(&["installcode", form, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{form}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["link_key"], key, "{form}");
        assert_eq!(v["crc_ok"], true);
    }
}
