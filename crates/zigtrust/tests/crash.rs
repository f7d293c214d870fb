//! Crash test: a hub process (store + Trust Center, talking to a scripted device) is killed
//! with SIGKILL at random points, 60 times, restarting on the same database each time. Every
//! NWK and APS frame counter the hub released to the radio must be unique across all runs: the
//! lease written before use makes a restarted hub jump past anything it may have used.

use std::collections::HashSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn sigkill_never_causes_a_reused_frame_counter() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("crash");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("hub.db");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut nwk, mut aps) = (Vec::new(), Vec::new());
    for run in 0..60 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zigtrust"))
            .args(["tc-crash-child", "--db"])
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + rand() % 180));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(err.is_empty(), "run {run}: child failed: {err}");
        assert!(!status.success(), "run {run}: the child must have been killed");
        // A line cut by the kill is incomplete; only whole lines count.
        let whole = match out.rfind('\n') {
            Some(i) => &out[..i],
            None => "",
        };
        for line in whole.lines() {
            match line.split_once(' ') {
                Some(("NWK", v)) => nwk.extend(v.parse::<u32>().ok()),
                Some(("APS", v)) => aps.extend(v.parse::<u32>().ok()),
                _ => {}
            }
        }
    }
    assert!(nwk.len() > 100, "only {} NWK frames in 60 runs", nwk.len());
    assert!(aps.len() > 20, "only {} APS frames in 60 runs", aps.len());
    for (name, v) in [("NWK", &nwk), ("APS", &aps)] {
        let unique: HashSet<_> = v.iter().collect();
        assert_eq!(unique.len(), v.len(), "{name} frame counter reused after SIGKILL");
    }
}
