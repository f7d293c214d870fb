//! `zigtrust serve --channel/--pan-id/--extended-pan-id`: the network a first start forms, and
//! later starts refusing to pretend they moved it.

mod common;

use common::daemon::{bin, test_dir, Daemon};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `zigtrust serve --db DB --listen 127.0.0.1:0 ARGS`, for starts that must be refused:
/// returns its exit code and stderr, or `None` and what it printed if it started serving
/// instead (killed after 10 s).
fn refused(db: &Path, args: &[&str]) -> (Option<i32>, String) {
    let dir = db.parent().unwrap();
    let (out, err) = (dir.join("refused-stdout.txt"), dir.join("refused-stderr.txt"));
    let mut child = Command::new(bin())
        .arg("serve")
        .arg("--db")
        .arg(db)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let stdout = text(&out);
    assert!(stdout.is_empty() || code.is_none(), "a refused start printed {stdout}");
    (code, format!("{}{stdout}", text(&err)))
}

/// What identifies the network: PAN id, extended PAN id, channel, Trust Center, network keys.
fn identity(d: &Daemon) -> Value {
    let n = d.get("/api/network");
    let b = d.get("/api/backup");
    serde_json::json!([
        n["pan_id"],
        n["extended_pan_id"],
        n["channel"],
        n["tc_ieee"],
        // (Its frame counter moves on: a started hub sends link statuses and route requests.)
        b["network_key"]["key"],
        b["network_key"]["sequence_number"]
    ])
}

#[test]
fn a_first_start_forms_on_the_named_channel_and_pan_and_a_restart_cannot_move_it() {
    let dir = test_dir("network-named");
    let db = dir.join("hub.db");
    let named =
        ["--channel", "20", "--pan-id", "0x1a62", "--extended-pan-id", "dd:dd:00:00:00:00:12:34"];
    let mut d = Daemon::start(&dir, &named, None);
    let token = d.token.clone();
    let net = d.get("/api/network");
    assert_eq!(net["channel"], 20, "{net}");
    assert_eq!(net["pan_id"], "0x1a62", "{net}");
    assert_eq!(net["extended_pan_id"], "dd:dd:00:00:00:00:12:34", "{net}");
    assert!(
        d.stdout.iter().any(|l| l
            == "formed a network on channel 20, PAN id 0x1a62, extended PAN id dd:dd:00:00:00:00:12:34"),
        "{:?}",
        d.stdout
    );
    let backup = d.get("/api/backup");
    assert_eq!(backup["channel"], 20, "{backup}");
    let before = identity(&d);
    d.kill();

    // Options naming another network are refused, saying what the store holds.
    for args in [
        &["--channel", "25"][..],
        &["--pan-id", "0x1234"],
        &["--extended-pan-id", "dd:dd:00:00:00:00:00:01"],
        &["--channel", "25", "--pan-id", "0x1a62", "--reset-token"],
    ] {
        let (code, err) = refused(&db, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("channel 20, PAN id 0x1a62, extended PAN id dd:dd:00:00:00:00:12:34"),
            "{args:?}: {err}"
        );
        assert!(err.contains(&format!("{} {}", args[0], args[1])), "{args:?}: {err}");
        assert!(err.contains("is not supported"), "{args:?}: {err}");
    }
    // The same options, in any spelling, or none, serve the stored network as it was (and the
    // refused --reset-token did not replace the token).
    let d = Daemon::start(&dir, &["--pan-id", "6754", "--channel", "20"], Some(&token));
    assert!(d.printed_token.is_none(), "{:?}", d.stdout);
    assert!(d.stdout.iter().any(|l| l.starts_with("network on channel 20, PAN id 0x1a62")));
    assert_eq!(identity(&d), before);
    let log = d.get("/api/audit-log?limit=1000");
    let formed =
        log["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "network-formed").count();
    assert_eq!(formed, 1, "{log}");
    drop(d);
    let d = Daemon::start(&dir, &[], Some(&token));
    assert_eq!(identity(&d), before);
}

#[test]
fn bad_channel_and_pan_values_exit_2_and_store_nothing() {
    let dir = test_dir("network-bad");
    let db = dir.join("hub.db");
    for (args, says) in [
        (&["--channel", "10"][..], "11-26"),
        (&["--channel", "27"], "11-26"),
        (&["--channel", "auto?"], "11-26"),
        (&["--channel", ""], "11-26"),
        (&["--pan-id", "0xffff"], "broadcast"),
        (&["--pan-id", "65535"], "broadcast"),
        (&["--pan-id", "0x10000"], "0x0000-0xfffe"),
        (&["--pan-id", "1a62"], "0x0000-0xfffe"),
        (&["--pan-id=-1"], "0x0000-0xfffe"),
        (&["--extended-pan-id", "00:00:00:00:00:00:00:00"], "reserved"),
        (&["--extended-pan-id", "ffffffffffffffff"], "reserved"),
        (&["--extended-pan-id", "dd:dd:dd"], "16 hex digits"),
    ] {
        let (code, err) = refused(&db, args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        let option = args[0].split('=').next().unwrap();
        assert!(err.contains(option) && err.contains(says), "{args:?}: {err}");
    }
    assert!(!db.exists(), "a refused option created the store");
    // The simulated home's devices are built for one PAN: another is refused before the store
    // is written, so the next start is still a first start (a network is formed, a token shown).
    let (code, err) = refused(&db, &["--pan-id", "0x1234"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--pan-id 0x1234") && err.contains("0x1a62"), "{err}");
    let d = Daemon::start(&dir, &["--channel", "11"], None);
    assert!(d.printed_token.is_some(), "{:?}", d.stdout);
    let net = d.get("/api/network");
    assert_eq!((net["channel"].as_u64(), net["pan_id"].as_str()), (Some(11), Some("0x1a62")));
}

#[test]
fn a_first_start_whose_radio_fails_forms_nothing_and_keeps_the_token_for_the_next() {
    let dir = test_dir("network-radio-fails");
    let db = dir.join("hub.db");
    let missing = dir.join("no-such-ot-rcp");
    let url = format!("spinel+hdlc+forkpty://{}?forkpty-arg=1", missing.display());
    let (code, err) = refused(&db, &["--radio", &url, "--channel", "25"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no-such-ot-rcp"), "{err}");
    // The user fixes the radio (here: takes the simulated one) and picks another channel: this
    // is still the first start, so the token is shown and the network formed as now named.
    let d = Daemon::start(&dir, &["--channel", "11"], None);
    assert!(d.printed_token.is_some(), "{:?}", d.stdout);
    assert!(d.stdout.iter().any(|l| l.starts_with("formed a network on channel 11,")));
    assert_eq!(d.get("/api/network")["channel"], 11);
}

/// `--channel auto` on OpenThread's simulation RCP: the daemon measures 11, 15, 20 and 25 with
/// the RCP's energy scan and forms on the quietest. The simulation radio's interference model
/// reads a high RSSI (-30 dBm) with probability 5 % × (channel − 11) per sample, so over a
/// 100 ms scan every channel but 11 is loud and 11 is always quiet (-98 dBm).
#[test]
fn channel_auto_forms_on_the_quietest_channel_by_the_rcps_energy_scan() {
    use zigtrust_testkit::ot_medium::{ot_rcp, Medium};
    use zigtrust_testkit::serve::Serve;
    use zigtrust_wire::mac::{MacBody, MacFrame};
    const PORT_OFFSET: u16 = 62;
    let dir = test_dir("network-auto");
    let url = format!("spinel+hdlc+forkpty://{}?forkpty-arg=1", ot_rcp().display());
    let offset = PORT_OFFSET.to_string();
    let mut serve = Serve::spawn_env(
        &bin(),
        &dir.join("hub.db"),
        &["--radio", &url, "--channel", "auto"],
        &dir.join("stderr.txt"),
        &[("PORT_OFFSET", &offset)],
    );
    serve.wait_started(30);
    let scan = serve.stdout.iter().find(|l| l.starts_with("energy scan")).expect("the scan line");
    println!("{scan}");
    assert!(scan.contains("channel 11 -98 dBm"), "{scan}");
    for loud in [15, 20, 25] {
        assert!(scan.contains(&format!("channel {loud} -")), "{scan}");
        assert!(!scan.contains(&format!("channel {loud} -98 dBm")), "{scan}");
    }
    assert!(serve.stdout.iter().any(|l| l.starts_with("formed a network on channel 11,")));
    let api = serve.client(serve.token.as_deref());
    let net = api.get("/api/network");
    assert_eq!(net["channel"], 11, "{net}");
    // The RCP listens there: a device scanning channel 11 gets the network's beacon.
    let mut medium = Medium::new(PORT_OFFSET, 11);
    let mut breq = Vec::new();
    MacFrame::beacon_request(1).emit(&mut breq);
    medium.inject(30, &breq);
    let beacon = medium
        .next_from(1, std::time::Duration::from_secs(2), |h| {
            matches!(h.frame().body, MacBody::Beacon(_))
        })
        .expect("a beacon on channel 11");
    let pan = beacon.frame().header.src_pan.map(|p| p.to_string());
    assert_eq!(pan.as_deref(), net["pan_id"].as_str());
    serve.kill();
    // A restart with `auto` keeps the network where it is; no scan is made.
    let mut serve = Serve::spawn_env(
        &bin(),
        &dir.join("hub.db"),
        &["--radio", &url, "--channel", "auto"],
        &dir.join("stderr2.txt"),
        &[("PORT_OFFSET", &offset)],
    );
    serve.wait_started(30);
    assert!(!serve.stdout.iter().any(|l| l.starts_with("energy scan")), "{:?}", serve.stdout);
    assert!(serve.stdout.iter().any(|l| l.starts_with("network on channel 11,")));
    serve.kill();
    // Only an RCP measures energy.
    let (code, err) = refused(&dir.join("sim.db"), &["--channel", "auto"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--channel auto") && err.contains("energy scan"), "{err}");
}
