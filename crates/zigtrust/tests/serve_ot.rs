//! The real `zigtrust serve` binary on OpenThread's simulation RCP, end to end, driven only
//! through its HTTP API as a user would: the daemon spawns `ot-rcp` (node 1) itself from
//! `--radio spinel+hdlc+forkpty://…`, with this test's PORT_OFFSET in its environment, and the
//! test process runs the simulator's device models as further nodes on the same medium
//! ([`zigtrust_sim::medium_ot`]), so every frame between the daemon and a device passes through
//! the real RCP. The daemon forms the network at its first start with `--channel`, `--pan-id`
//! and `--extended-pan-id`, where the device models look for it.
//!
//! A mixed home joins (a Zigbee 3.0 router and a sleepy Zigbee 3.0 sensor by install code, an
//! HA 1.2 router, a sleepy HA 1.2 sensor through the Zigbee 3.0 router), the network key
//! rotates with every device confirming, then the RCP process is killed: the daemon must
//! respawn and reconfigure it, tell the user (status answer, audit log, live alert, stderr),
//! and the network must carry on (reports, a second rotation). The backup's network key must
//! be the one the devices hold.
//!
//! No timing is asserted (only generous deadlines); what was seen is printed.

mod common;

use common::daemon::{bin, test_dir};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zigtrust_crypto::{InstallCode, Key};
use zigtrust_sim::device::{self, Device, Knobs, Profile, Role};
use zigtrust_sim::medium_ot::{base_port, OtMediumThread};
use zigtrust_sim::world::{Kind, World, PAN};
use zigtrust_testkit::http::{Client, SseEvent};
use zigtrust_testkit::ot_medium::{ot_rcp, rx_socket, spawn_world_medium, Medium};
use zigtrust_testkit::serve::Serve;
use zigtrust_wire::mac::{MacBody, MacFrame};
use zigtrust_wire::ExtAddr;

/// This test's medium (the other RCP tests use 46–54).
const PORT_OFFSET: u16 = 61;
const RCP_NODE: u16 = 1;
/// A node of the test's own on the medium, scanning for the network.
const SCANNER_NODE: u16 = 30;
/// The medium's channel: not the daemon's default (15), so that only a `--channel` that
/// reaches the RCP lets the devices hear it (the medium drops frames on other channels).
const CHANNEL: u8 = 20;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A device of the home: name, profile, role, preferred parent (world node). Zigbee 3.0
/// devices join with an install code.
struct Spec {
    name: &'static str,
    profile: Profile,
    role: Role,
    parent: usize,
}

const HOME: [Spec; 4] = [
    Spec { name: "plug (Z3.0 router)", profile: Profile::Z30, role: Role::Router, parent: 0 },
    Spec { name: "light (HA 1.2 router)", profile: Profile::Ha12, role: Role::Router, parent: 0 },
    Spec {
        name: "thermometer (Z3.0 sleepy)",
        profile: Profile::Z30,
        role: Role::Sleepy,
        parent: 0,
    },
    // Behind the Zigbee 3.0 plug (world node 1): its association goes to the plug.
    Spec { name: "contact (HA 1.2 sleepy)", profile: Profile::Ha12, role: Role::Sleepy, parent: 1 },
];

/// The home on the medium, as the devices see it.
struct Home {
    medium: OtMediumThread,
    /// World node of each device, in `HOME` order.
    nodes: Vec<usize>,
    ieees: Vec<ExtAddr>,
    /// Install codes (16 bytes and CRC) of the Zigbee 3.0 devices.
    codes: Vec<Option<Vec<u8>>>,
}

impl Home {
    fn new() -> Home {
        let base = base_port(PORT_OFFSET);
        let rx = rx_socket(base);
        let mut w = World::new(u64::from(PORT_OFFSET));
        w.add_node(Kind::Port(Box::default()), true);
        let knobs = Knobs {
            poll_interval_ms: 1_000,
            report_interval_ms: 5_000,
            join_retry_ms: 4_000,
            ..Knobs::default()
        };
        let (mut nodes, mut ieees, mut codes) = (Vec::new(), Vec::new(), Vec::new());
        for (i, s) in HOME.iter().enumerate() {
            let n = i + 1;
            let ieee = ExtAddr(0x0012_4b00_0000_0000 | u64::from(PORT_OFFSET) << 16 | n as u64);
            let code = (s.profile == Profile::Z30).then(|| {
                let mut b: Vec<u8> =
                    (0..16u8).map(|k| k.wrapping_mul(29) ^ (n as u8) << 4).collect();
                let crc = zigtrust_crypto::crc16_x25(&b).to_le_bytes();
                b.extend_from_slice(&crc);
                b
            });
            let key: Option<Key> =
                code.as_ref().map(|b| InstallCode::from_bytes(b).unwrap().link_key());
            let mut candidates = vec![s.parent];
            if s.parent != 0 {
                candidates.push(0);
            }
            let dv = Device::new(ieee, s.profile, s.role, key, candidates, knobs.clone());
            nodes.push(w.add_node(Kind::Device(Box::new(dv)), s.role == Role::Router));
            ieees.push(ieee);
            codes.push(code);
        }
        let medium = spawn_world_medium(w, base, CHANNEL, rx);
        Home { medium, nodes, ieees, codes }
    }

    fn boot(&self, i: usize) {
        let n = self.nodes[i];
        self.medium.with(|m| {
            let at = m.now_us() + 100_000;
            device::boot(&mut m.world, n, at);
        });
    }

    fn dev<T>(&self, i: usize, f: impl FnOnce(&Device) -> T) -> T {
        let n = self.nodes[i];
        self.medium.with(|m| f(m.world.dev(n).expect("a device")))
    }

    /// The network key device `i` uses, as hex, if it holds one.
    fn active_key(&self, i: usize) -> Option<(u8, String)> {
        self.dev(i, |d| d.active.and_then(|s| d.keys.get(&s).map(|k| (s, k.to_hex()))))
    }
}

fn extended_pan_id() -> u64 {
    0xdddd_0000_0000_0000 | u64::from(PORT_OFFSET)
}

/// The daemon's `ot-rcp` child (spawned by one of its threads).
fn rcp_child(daemon: u32) -> Option<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{daemon}/task")).ok()?;
    for t in tasks.flatten() {
        let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "ot-rcp" {
                return Some(pid);
            }
        }
    }
    None
}

/// Polls `f` every 100 ms until it gives a value, at most `secs`.
fn wait<T>(secs: u64, what: &str, serve: &Serve, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out after {secs} s waiting for {what}; daemon stderr: {}",
            serve.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn device(devices: &Value, ieee: ExtAddr) -> Option<&Value> {
    devices["devices"].as_array()?.iter().find(|d| d["ieee"] == ieee.to_string())
}

/// Starts a rotation through the API and waits until it switched with every device
/// confirmed, then until the devices use the new key; returns how long each took.
fn rotate(api: &Client, serve: &Serve, home: &Home) -> (Duration, Duration) {
    let before = api.get("/api/network")["active_key_seq"].as_u64().unwrap();
    let t0 = Instant::now();
    let r = api.call("POST", "/api/network-key/rotate", Some(r#"{"deadline_s": 120}"#), 202);
    assert_eq!(r["total"], HOME.len(), "{r}");
    let r = wait(60, "every device to confirm the new key", serve, || {
        let r = api.get("/api/network-key/rotate");
        (r["state"] == "switched").then_some(r)
    });
    let took = t0.elapsed();
    assert_eq!(r["confirmed"], HOME.len(), "{r}");
    assert_eq!(r["stragglers"], serde_json::json!([]), "{r}");
    let active = api.get("/api/network")["active_key_seq"].as_u64().unwrap();
    assert_eq!(active, (before + 1) % 256);
    // The devices switched too (when each did is printed: a device that missed the
    // Switch-Key switches when it first hears the new key in use).
    let mut switched: Vec<Option<Duration>> = vec![None; HOME.len()];
    wait(30, "every device on the new key", serve, || {
        for (i, t) in switched.iter_mut().enumerate() {
            if t.is_none() && home.active_key(i).is_some_and(|(s, _)| u64::from(s) == active) {
                *t = Some(t0.elapsed());
            }
        }
        switched.iter().all(Option::is_some).then_some(())
    });
    for (spec, t) in HOME.iter().zip(&switched) {
        println!("  {} on key {active} after {:.1} s", spec.name, t.unwrap().as_secs_f64());
    }
    (took, t0.elapsed())
}

#[test]
fn the_daemon_on_the_simulation_rcp_runs_a_home_rotates_keys_and_survives_a_killed_rcp() {
    let t_all = Instant::now();
    let dir = test_dir("serve-ot");
    let db = dir.join("hub.db");
    // The daemon runs its own copy of ot-rcp, which the test takes away for an outage.
    let rcp = dir.join("ot-rcp");
    std::fs::copy(ot_rcp(), &rcp).unwrap();
    let url = format!("spinel+hdlc+forkpty://{}?forkpty-arg={RCP_NODE}", rcp.display());
    let offset = PORT_OFFSET.to_string();
    let home = Home::new();
    let t0 = Instant::now();
    // The daemon forms its network at this first start where the simulator's device models
    // look for it: their PAN, the medium's channel.
    let (channel, pan, epid) =
        (CHANNEL.to_string(), PAN.to_string(), ExtAddr(extended_pan_id()).to_string());
    let mut serve = Serve::spawn_env(
        &bin(),
        &db,
        &["--radio", &url, "--channel", &channel, "--pan-id", &pan, "--extended-pan-id", &epid],
        &dir.join("stderr.txt"),
        &[("PORT_OFFSET", &offset)],
    );
    serve.wait_started(30);
    println!("daemon up on the RCP in {:.0} ms: {}", t0.elapsed().as_millis(), serve.stdout[0]);
    let api = serve.client(serve.token.as_deref());

    // The network the daemon serves, on the RCP.
    let net = api.get("/api/network");
    assert_eq!(net["pan_id"], format!("{:#06x}", PAN.0), "{net}");
    assert_eq!(net["channel"], CHANNEL);
    assert_eq!(net["extended_pan_id"], epid);
    assert_eq!(net["radio"], url);
    let rs = &net["radio_status"];
    assert_eq!(rs["kind"], "spinel", "{rs}");
    assert_eq!(rs["link_up"], true, "{rs}");
    assert!(rs["firmware"].as_str().unwrap().starts_with("OPENTHREAD/"), "{rs}");
    assert_eq!(rs["recoveries"], 0);
    assert!(rs["last_incident"].is_null());
    let first_rcp = rcp_child(serve.child.id()).expect("the daemon's ot-rcp child");

    // The user adds the Zigbee 3.0 devices' install codes: one from its QR label, one typed
    // from the printed code, then opens permit join.
    let label = |i: usize| {
        let hex: String =
            home.codes[i].as_ref().unwrap().iter().map(|b| format!("{b:02X}")).collect();
        format!("Z:{:016X}$I:{hex}", home.ieees[i].0)
    };
    let r =
        api.call("POST", "/api/install-codes", Some(&format!(r#"{{"qr": "{}"}}"#, label(0))), 201);
    assert_eq!(r["ieee"], home.ieees[0].to_string(), "{r}");
    let typed: Vec<String> = home.codes[2]
        .as_ref()
        .unwrap()
        .chunks(2)
        .map(|c| c.iter().map(|b| format!("{b:02X}")).collect())
        .collect();
    let body = format!(r#"{{"ieee": "{}", "install_code": "{}"}}"#, home.ieees[2], typed.join(" "));
    let r = api.call("POST", "/api/install-codes", Some(&body), 201);
    assert_eq!(r["code_bytes"], 16, "{r}");
    api.call("POST", "/api/permit-join", Some(r#"{"duration_s": 180}"#), 200);

    // The home powers up; the contact sensor once the plug it joins through is on the network.
    let t_join = Instant::now();
    for i in 0..3 {
        home.boot(i);
    }
    let plug_short = wait(40, "the plug to join", &serve, || {
        let v = api.get("/api/devices");
        let d = device(&v, home.ieees[0])?;
        (home.dev(0, |d| d.joined)).then(|| d["short_addr"].as_str().unwrap().to_string())
    });
    home.boot(3);
    let devices = wait(60, "the whole home joined, Z3.0 link keys verified", &serve, || {
        let v = api.get("/api/devices");
        let all = home.ieees.iter().all(|i| device(&v, *i).is_some())
            && (0..HOME.len()).all(|i| home.dev(i, |d| d.joined && d.active.is_some()))
            && (0..HOME.len())
                .filter(|i| HOME[*i].profile == Profile::Z30)
                .all(|i| device(&v, home.ieees[i]).is_some_and(|d| d["tclk_verified"] == true));
        all.then_some(v)
    });
    println!("the home of {} joined in {:.1} s", HOME.len(), t_join.elapsed().as_secs_f64());
    let expect = [
        ("z3.0", "router", "unique"),
        ("legacy", "router", "well-known"),
        ("z3.0", "sleepy-end-device", "unique"),
        ("legacy", "sleepy-end-device", "well-known"),
    ];
    for (i, (security, role, link_key)) in expect.iter().enumerate() {
        let d = device(&devices, home.ieees[i]).unwrap();
        assert_eq!(d["security"], *security, "{}: {d}", HOME[i].name);
        assert_eq!(d["role"], *role, "{}: {d}", HOME[i].name);
        assert_eq!(d["link_key"], *link_key, "{}: {d}", HOME[i].name);
        assert_eq!(d["install_code_key"], *security == "z3.0", "{}: {d}", HOME[i].name);
        assert_eq!(d["has_active_key"], true, "{}: {d}", HOME[i].name);
        assert_eq!(d["removed"], false);
    }
    let contact = device(&devices, home.ieees[3]).unwrap();
    assert_eq!(contact["parent"], plug_short, "the contact sensor joined through the plug");
    assert_eq!(home.dev(3, |d| d.parent), home.nodes[0]);

    // A key rotation, every device confirming.
    let (took, used) = rotate(&api, &serve, &home);
    println!(
        "rotation 1: every device confirmed and the key switched in {:.1} s, all devices on it \
         after {:.1} s",
        took.as_secs_f64(),
        used.as_secs_f64()
    );

    // The RCP dies. The user's live view (SSE) is open meanwhile.
    let mut events = api.events().expect("the live event stream");
    let watcher = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            match events.next(Duration::from_secs(1)) {
                Some(e) if e.kind == "alert" && e.data.contains("radio-recovered") => {
                    return Some(e)
                }
                _ => {}
            }
        }
        None::<SseEvent>
    });
    std::thread::sleep(Duration::from_millis(300));
    let killed_at = now_ms();
    let t_kill = Instant::now();
    let killed = std::process::Command::new("kill").args(["-9", &first_rcp.to_string()]).status();
    assert!(killed.unwrap().success());
    let (net, seen) = wait(20, "the daemon to report the RCP recovered", &serve, || {
        let n = api.get("/api/network");
        (n["radio_status"]["recoveries"] == 1).then(|| (n, t_kill.elapsed()))
    });
    let rs = &net["radio_status"];
    assert_eq!(rs["link_up"], true, "{rs}");
    let inc = &rs["last_incident"];
    assert_eq!(inc["state"], "recovered", "{inc}");
    assert_eq!(inc["cause"], "link-lost", "{inc}");
    assert_eq!(inc["reopened"], true, "{inc}");
    assert_eq!(inc["config_reapplied"], true, "{inc}");
    let at = inc["time"].as_u64().unwrap();
    assert!(at >= killed_at && at < killed_at + 10_000, "{inc}");
    assert_eq!(rs["frames_lost"], inc["frames_lost"]);
    let second_rcp = rcp_child(serve.child.id()).expect("a new ot-rcp child");
    assert_ne!(second_rcp, first_rcp);
    println!(
        "RCP killed: the API showed it recovered {:.0} ms later (outage {} ms by the daemon, {} \
         frames lost): {}",
        seen.as_secs_f64() * 1000.0,
        inc["outage_ms"],
        inc["frames_lost"],
        inc["message"].as_str().unwrap()
    );
    // The user was told: the audit log (the page's timeline), the live alert, stderr.
    let log = api.get("/api/audit-log?limit=50");
    let entry = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "radio-recovered")
        .unwrap_or_else(|| panic!("no radio-recovered entry: {log}"))
        .clone();
    assert_eq!(entry["severity"], "warning", "{entry}");
    assert_eq!(entry["detail"], inc["message"], "{entry}");
    let alert = watcher.join().unwrap().expect("the live alert of the recovery");
    let alert: Value = serde_json::from_str(&alert.data).unwrap();
    assert_eq!(alert["id"], entry["id"], "{alert}");
    let stderr = serve.stderr_text();
    let lines: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("zigtrust serve: radio: ")).collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    assert!(lines[0].contains("was lost") && lines[0].contains("re-applied"), "{}", lines[0]);

    // The network carries on through the new RCP: every device is heard again, and a second
    // rotation completes with every device confirming.
    let recovered_at = now_ms();
    let t_heard = Instant::now();
    wait(30, "a report from every device after the restart", &serve, || {
        let v = api.get("/api/devices");
        home.ieees
            .iter()
            .all(|i| device(&v, *i).is_some_and(|d| d["last_seen"].as_u64() > Some(recovered_at)))
            .then_some(())
    });
    println!(
        "every device heard again through the new RCP within {:.1} s (reports every 5 s)",
        t_heard.elapsed().as_secs_f64()
    );
    let (took, used) = rotate(&api, &serve, &home);
    println!(
        "rotation 2 (new RCP): every device confirmed in {:.1} s, all on the key after {:.1} s",
        took.as_secs_f64(),
        used.as_secs_f64()
    );
    let rejoins: u32 = (0..HOME.len()).map(|i| home.dev(i, |d| d.rejoins)).sum();
    assert_eq!(rejoins, 0, "nobody had to rejoin");

    // The backup's network key is the one every device holds.
    let backup = api.get("/api/backup");
    let key = backup["network_key"]["key"].as_str().unwrap().to_ascii_lowercase();
    let seq = backup["network_key"]["sequence_number"].as_u64().unwrap();
    for (i, spec) in HOME.iter().enumerate() {
        let (s, k) = home.active_key(i).unwrap();
        assert_eq!((u64::from(s), k.to_ascii_lowercase()), (seq, key.clone()), "{}", spec.name);
    }
    let net = api.get("/api/network");
    assert_eq!(net["radio_status"]["recoveries"], 1, "{net}");
    assert_eq!(
        net["radio_error"].as_str().map(|_| ()),
        None,
        "the error cleared once frames went out"
    );
    // An outage: the RCP dies and cannot be started again at once (a dongle unplugged and
    // plugged back in). The user hears that it is down, once, and again when it is back.
    let away = dir.join("ot-rcp.away");
    std::fs::rename(&rcp, &away).unwrap();
    let pid = rcp_child(serve.child.id()).expect("the ot-rcp child");
    let t_out = Instant::now();
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(killed.unwrap().success());
    let net = wait(20, "the daemon to report the RCP down", &serve, || {
        let n = api.get("/api/network");
        (n["radio_status"]["last_incident"]["state"] == "down").then_some(n)
    });
    std::fs::rename(&away, &rcp).unwrap();
    let rs = &net["radio_status"];
    assert_eq!(rs["link_up"], false, "{rs}");
    assert_eq!(rs["outages"], 1, "{rs}");
    assert_eq!(rs["last_incident"]["cause"], "link-lost", "{rs}");
    let error = rs["last_incident"]["error"].as_str().unwrap();
    assert!(error.contains("starting the RCP"), "{error}");
    assert!(net["radio_error"].as_str().is_some_and(|e| e.contains("retrying")), "{net}");
    let net = wait(30, "the daemon to report the RCP back", &serve, || {
        let n = api.get("/api/network");
        (n["radio_status"]["recoveries"] == 2).then_some(n)
    });
    let back_at = now_ms();
    let inc = &net["radio_status"]["last_incident"];
    assert_eq!(inc["state"], "recovered", "{inc}");
    assert_eq!(inc["cause"], "link-lost", "the fault that started the outage: {inc}");
    assert_eq!(inc["config_reapplied"], true, "{inc}");
    assert_eq!(net["radio_status"]["link_up"], true);
    assert_eq!(net["radio_status"]["outages"], 1);
    println!(
        "outage: down {:.1} s by the test's clock, {} ms by the daemon's, {} frames lost",
        t_out.elapsed().as_secs_f64(),
        inc["outage_ms"],
        inc["frames_lost"]
    );
    let log = api.get("/api/audit-log?limit=100");
    let kinds: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str().filter(|k| k.starts_with("radio-")))
        .collect();
    assert_eq!(kinds, ["radio-recovered", "radio-down", "radio-recovered"], "newest first");
    let stderr = serve.stderr_text();
    let lines = stderr.lines().filter(|l| l.starts_with("zigtrust serve: radio: ")).count();
    assert_eq!(lines, 3, "{stderr}");
    // The respawned RCP has the network's configuration: a scanning device (a node of the
    // test's own) gets the network's beacon.
    let mut medium = Medium::new(PORT_OFFSET, CHANNEL);
    let mut breq = Vec::new();
    MacFrame::beacon_request(1).emit(&mut breq);
    let t_b = medium.inject(SCANNER_NODE, &breq);
    let beacon = medium
        .next_from(RCP_NODE, Duration::from_secs(2), |h| {
            matches!(h.frame().body, MacBody::Beacon(_))
        })
        .expect("a beacon from the respawned RCP");
    let MacBody::Beacon(b) = beacon.frame().body else { unreachable!() };
    assert_eq!(beacon.frame().header.src_pan, Some(PAN));
    assert_eq!(b.zigbee().unwrap().extended_pan_id, extended_pan_id());
    println!(
        "beacon request → beacon from the respawned RCP: {:.1} ms",
        (beacon.at - t_b).as_secs_f64() * 1000.0
    );
    // Devices that tried to reach the coordinator while it was deaf took it for lost and
    // wait out their rejoin back-off (60 s in the device models, as BDB devices back off);
    // the others carry on. Printed, not asserted: which ones depends on timing.
    std::thread::sleep(Duration::from_secs(6));
    let v = api.get("/api/devices");
    for (i, spec) in HOME.iter().enumerate() {
        let heard =
            device(&v, home.ieees[i]).is_some_and(|d| d["last_seen"].as_u64() > Some(back_at));
        let rejoining = home.dev(i, |d| d.rejoin_attempts);
        println!(
            "  after the outage, {}: heard again {heard}, rejoin attempts {rejoining}",
            spec.name
        );
    }
    let stats = home.medium.with(|m| m.stats.clone());
    println!("medium: {stats:?}; whole test {:.1} s", t_all.elapsed().as_secs_f64());
    serve.kill();
}
