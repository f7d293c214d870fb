//! `zigtrust serve` API integration tests: every endpoint, bad input (state unchanged),
//! authentication and CSRF, durability across SIGKILL.

mod common;

use common::daemon::{header, test_dir, Daemon};
use serde_json::Value;

/// Waits until the simulated home's starter devices (5) joined and verified their keys.
fn starter_home(d: &Daemon) -> Vec<Value> {
    d.wait_for(60, "the starter devices to join", |d| {
        let v = d.get("/api/devices");
        let list = v["devices"].as_array().unwrap().clone();
        let ready = list.len() >= 5
            && list.iter().filter(|x| x["security"] == "z3.0").all(|x| x["tclk_verified"] == true);
        ready.then_some(list)
    })
}

#[test]
fn authentication_sessions_and_csrf() {
    let dir = test_dir("auth");
    let d = Daemon::start(&dir, &[], None);
    assert!(d.token.starts_with("zt_") && d.token.len() == 67, "{}", d.token);

    // The page itself is public and locked down; the API is not.
    let (st, h, body) = d.raw("GET", "/", &[], None);
    assert_eq!(st, 200);
    assert!(body.contains("<html") || body.contains("<!doctype") || body.contains("<!DOCTYPE"));
    assert!(header(&h, "content-security-policy").unwrap().contains("default-src 'self'"));
    for path in ["/api/network", "/api/devices", "/api/backup", "/api/events", "/api/alerts"] {
        let (st, h, body) = d.raw("GET", path, &[], None);
        assert_eq!(st, 401, "{path}: {body}");
        assert!(header(&h, "www-authenticate").is_some());
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("log in"), "{v}");
    }
    let (st, _, _) = d.raw("GET", "/api/network", &[("Authorization", "Bearer zt_wrong")], None);
    assert_eq!(st, 401);
    let (st, _, _) = d.raw("GET", "/api/network", &[("Authorization", "Basic abc")], None);
    assert_eq!(st, 401);

    // Session login.
    let (st, _, _) = d.raw("POST", "/api/session", &[], Some(r#"{"token":"zt_wrong"}"#));
    assert_eq!(st, 401);
    let (st, _, body) = d.raw("POST", "/api/session", &[], Some("{"));
    assert_eq!(st, 400, "{body}");
    let login = format!(r#"{{"token":"{}"}}"#, d.token);
    let (st, h, body) = d.raw("POST", "/api/session", &[], Some(&login));
    assert_eq!(st, 200, "{body}");
    let cookie_line = header(&h, "set-cookie").unwrap().to_string();
    assert!(
        cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"),
        "{cookie_line}"
    );
    let cookie = cookie_line.split(';').next().unwrap().to_string();
    let csrf = serde_json::from_str::<Value>(&body).unwrap()["csrf"].as_str().unwrap().to_string();
    assert!(cookie.starts_with(&format!("zt_session_{}=", d.port)), "{cookie}");
    // The cookie is sent to every port on the host: alone it authenticates nothing, not even
    // the session check that would hand out the CSRF half.
    let (st, _, body) = d.raw("GET", "/api/session", &[("Cookie", &cookie)], None);
    assert_eq!(st, 401, "{body}");
    assert!(!body.contains(&csrf));
    let with_csrf = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let (st, _, body) = d.raw("GET", "/api/session", &with_csrf, None);
    assert_eq!(st, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["authenticated"], true);

    // Reads and writes need the cookie, the CSRF header and, when sent, a same-origin Origin.
    let (st, _, _) = d.raw("GET", "/api/network", &[("Cookie", &cookie)], None);
    assert_eq!(st, 403);
    let (st, _, _) = d.raw("GET", "/api/network", &with_csrf, None);
    assert_eq!(st, 200);
    let before = d.get("/api/policy");
    let deny = Some(r#"{"insecure_rejoin":"deny"}"#);
    let (st, _, body) = d.raw("PUT", "/api/policy", &[("Cookie", &cookie)], deny);
    assert_eq!(st, 403, "{body}");
    let (st, _, _) =
        d.raw("PUT", "/api/policy", &[("Cookie", &cookie), ("X-CSRF-Token", "nope")], deny);
    assert_eq!(st, 403);
    let evil = [
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
        ("Origin", "http://evil.example"),
    ];
    let (st, _, _) = d.raw("PUT", "/api/policy", &evil, deny);
    assert_eq!(st, 403);
    assert_eq!(d.get("/api/policy"), before, "a refused request changed the policy");
    let origin = format!("http://127.0.0.1:{}", d.port);
    let ok =
        [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str()), ("Origin", origin.as_str())];
    let (st, _, body) = d.raw("PUT", "/api/policy", &ok, deny);
    assert_eq!(st, 200, "{body}");
    assert_eq!(d.get("/api/policy")["insecure_rejoin"], "deny");

    // Logout ends the session.
    let (st, _, _) = d.raw("DELETE", "/api/session", &[("Cookie", &cookie)], None);
    assert_eq!(st, 200);
    let (st, _, _) = d.raw("GET", "/api/network", &with_csrf, None);
    assert_eq!(st, 401);

    // The token is printed once: a restart on the same store prints none, and the old one works.
    drop(d);
    let d2 = Daemon::start(&dir, &[], Some(&login[10..login.len() - 2]));
    assert!(d2.printed_token.is_none(), "{:?}", d2.stdout);
    assert!(d2.stdout.iter().any(|l| l.contains("log in with")), "{:?}", d2.stdout);
    assert_eq!(d2.get("/api/policy")["insecure_rejoin"], "deny");
    // The store holds only the token's hash.
    let db = std::fs::read(dir.join("hub.db")).unwrap();
    let wal = std::fs::read(dir.join("hub.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(d2.token.len()).any(|w| w == d2.token.as_bytes()),
            "token stored in clear"
        );
    }
}

#[test]
fn every_endpoint_with_good_and_bad_input() {
    let dir = test_dir("endpoints");
    let d = Daemon::start(&dir, &[], None);
    let devices = starter_home(&d);

    // Network and devices.
    let net = d.get("/api/network");
    for k in [
        "pan_id",
        "extended_pan_id",
        "channel",
        "tc_ieee",
        "active_key_seq",
        "permit_join",
        "policy",
        "radio",
    ] {
        assert!(!net[k].is_null(), "network lacks {k}: {net}");
    }
    assert_eq!(net["radio"], "sim");
    // The starter home paired legacy devices in a permit-join window: the key in use is
    // exposed, and the API says why and what to do; legacy devices carry their advice.
    assert_eq!(net["active_key_exposed"], true, "{net}");
    let k0 = net["keys"].as_array().unwrap().iter().find(|k| k["active"] == true).unwrap();
    assert!(k0["exposure"].as_str().unwrap().contains("well-known key"), "{k0}");
    assert!(net["key_advice"].as_str().unwrap().contains("install code"));
    for dv in &devices {
        let public = dv["security"] == "legacy";
        assert_eq!(dv["link_key_public"], public, "{dv}");
        assert_eq!(dv["advice"].is_string(), public, "{dv}");
    }
    for dv in &devices {
        for k in [
            "ieee",
            "security",
            "install_code_key",
            "tclk_verified",
            "last_key_seq",
            "last_seen",
            "stranded_risk",
        ] {
            assert!(dv.get(k).is_some(), "device lacks {k}: {dv}");
        }
    }
    assert!(devices.iter().any(|x| x["security"] == "legacy"));
    let z30 = devices.iter().find(|x| x["security"] == "z3.0").unwrap();
    assert_eq!(z30["install_code_key"], true);
    let ieee = z30["ieee"].as_str().unwrap();
    assert_eq!(d.get(&format!("/api/devices/{ieee}"))["ieee"], ieee);
    // Any IEEE spelling works.
    assert_eq!(d.get(&format!("/api/devices/{}", ieee.replace(':', "")))["ieee"], ieee);
    let (st, v) = d.call("GET", "/api/devices/00:11:22:33:44:55:66:77", None);
    assert_eq!((st, v["error"].as_str().unwrap()), (404, "unknown device 00:11:22:33:44:55:66:77"));
    let (st, _) = d.call("DELETE", "/api/devices/00:11:22:33:44:55:66:77", None);
    assert_eq!(st, 404);
    let (st, _) = d.call("GET", "/api/devices/not-an-address", None);
    assert_eq!(st, 404);

    // Permit join.
    let (st, v) = d.call("POST", "/api/permit-join", Some(r#"{"duration_s": 300}"#));
    assert_eq!((st, v["field"].as_str()), (400, Some("duration_s")), "{v}");
    let (st, v) = d.call("POST", "/api/permit-join", Some(r#"{"duration_s": 0}"#));
    assert_eq!((st, v["open"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(d.get("/api/permit-join")["open"], false);
    let (st, v) = d.call("POST", "/api/permit-join", Some(r#"{"duration_s": -5}"#));
    assert_eq!((st, v["field"].as_str()), (400, Some("duration_s")));
    let (st, v) = d.call("POST", "/api/permit-join", Some(r#"{"ieee": "zz"}"#));
    assert_eq!((st, v["field"].as_str()), (400, Some("ieee")));
    assert_eq!(d.get("/api/permit-join")["open"], false, "a refused request opened joining");
    let (st, v) = d.call(
        "POST",
        "/api/permit-join",
        Some(&format!(r#"{{"duration_s": 30, "ieee": "{ieee}"}}"#)),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["open"].as_bool(), v["ieee"].as_str()), (Some(true), Some(ieee)));
    assert!(v["remaining_s"].as_u64().unwrap() > 25);

    // Rejoin window: bounded, and logged as a warning.
    let (st, v) = d.call("POST", "/api/rejoin-window", Some(r#"{"duration_s": 601}"#));
    assert_eq!((st, v["field"].as_str()), (400, Some("duration_s")), "{v}");
    let (st, v) = d.call("POST", "/api/rejoin-window", None);
    assert_eq!((st, v["field"].as_str()), (400, Some("duration_s")), "{v}");
    assert_eq!(d.get("/api/rejoin-window")["open"], false);
    let (st, v) = d.call("POST", "/api/rejoin-window", Some(r#"{"duration_s": 30}"#));
    assert_eq!((st, v["open"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(d.get("/api/network")["rejoin_window"]["open"], true);
    let (st, v) = d.call("POST", "/api/rejoin-window", Some(r#"{"duration_s": 0}"#));
    assert_eq!((st, v["open"].as_bool()), (200, Some(false)), "{v}");
    assert!(d.get("/api/alerts")["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["kind"] == "rejoin-window-opened"));

    // Install codes: CRC errors are reported against the field, nothing is stored.
    let codes_before = d.get("/api/install-codes");
    let bad_crc = r#"{"ieee": "00:0d:6f:00:00:00:00:01", "install_code": "83FED3407A939723A5C639B26916D505C3B6"}"#;
    let (st, v) = d.call("POST", "/api/install-codes", Some(bad_crc));
    assert_eq!((st, v["field"].as_str()), (400, Some("install_code")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("CRC"), "{v}");
    let (st, v) = d.call(
        "POST",
        "/api/install-codes",
        Some(r#"{"ieee": "00:0d:6f", "install_code": "83FED3407A939723A5C639B26916D505C3B5"}"#),
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("ieee")), "{v}");
    let (st, v) = d.call(
        "POST",
        "/api/install-codes",
        Some(r#"{"qr": "Z:000D6F0000000001$I:83FED3407A939723A5C639B26916D505C3B6"}"#),
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("qr")), "{v}");
    let (st, v) = d.call(
        "POST",
        "/api/install-codes",
        Some(r#"{"install_code": "83FED3407A939723A5C639B26916D505C3B5"}"#),
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("ieee")), "{v}");
    let (st, v) = d.call("POST", "/api/install-codes", Some(r#"{"ieee": 5, "install_code": "x"}"#));
    assert_eq!((st, v["field"].as_str()), (400, Some("ieee")), "{v}");
    assert_eq!(d.get("/api/install-codes"), codes_before, "a refused request stored a code");
    // Good codes: hex with separators, and a QR payload.
    let good = r#"{"ieee": "00:0d:6f:00:00:00:00:01", "install_code": "83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5"}"#;
    let (st, v) = d.call("POST", "/api/install-codes", Some(good));
    assert_eq!(st, 201, "{v}");
    assert_eq!(
        (v["ieee"].as_str(), v["code_bytes"].as_u64()),
        (Some("00:0d:6f:00:00:00:00:01"), Some(16))
    );
    let (st, v) = d.call(
        "POST",
        "/api/install-codes",
        Some(r#"{"qr": "Z:000D6F0000000002$I:83FED3407A939723A5C639B26916D505C3B5"}"#),
    );
    assert_eq!((st, v["format"].as_str()), (201, Some("qr-fields")), "{v}");
    let listed: Vec<String> = d.get("/api/install-codes")["install_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["ieee"].as_str().unwrap().to_string())
        .collect();
    assert!(
        listed.contains(&"00:0d:6f:00:00:00:00:01".into())
            && listed.contains(&"00:0d:6f:00:00:00:00:02".into())
    );
    assert!(
        !d.get("/api/install-codes").to_string().contains("key"),
        "install-code keys must not be listed"
    );
    let (st, _) = d.call("DELETE", "/api/install-codes/000d6f0000000002", None);
    assert_eq!(st, 200);
    let (st, _) = d.call("DELETE", "/api/install-codes/000d6f0000000002", None);
    assert_eq!(st, 404);

    // Malformed bodies.
    for (body, needle) in [
        ("{\"ieee\":", "malformed JSON"),
        ("[1,2]", "JSON object"),
        (
            r#"{"ieee": "00:0d:6f:00:00:00:00:03", "install_code": "83FED3407A939723A5C639B26916D505C3B5", "extra": 1}"#,
            "unknown field",
        ),
    ] {
        let (st, v) = d.call("POST", "/api/install-codes", Some(body));
        assert_eq!(st, 400, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{body}: {v}");
    }

    // Policy.
    let pol = d.get("/api/policy");
    assert_eq!(pol["insecure_rejoin"], "adaptive");
    let (st, v) = d.call("PUT", "/api/policy", Some(r#"{"insecure_rejoin": "sometimes"}"#));
    assert_eq!((st, v["field"].as_str()), (400, Some("insecure_rejoin")));
    let (st, v) = d.call(
        "PUT",
        "/api/policy",
        Some(r#"{"insecure_rejoin": "deny", "legacy_join": "never"}"#),
    );
    assert_eq!((st, v["field"].as_str()), (400, Some("legacy_join")));
    assert_eq!(d.get("/api/policy"), pol, "a refused request changed the policy");
    let (st, v) = d.call(
        "PUT",
        "/api/policy",
        Some(r#"{"legacy_join": "install-code-required", "spoof_response": "ignore"}"#),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["legacy_join"].as_str(), v["insecure_rejoin"].as_str()),
        (Some("install-code-required"), Some("adaptive"))
    );

    // Key rotation with per-device progress.
    let (st, v) = d.call("POST", "/api/network-key/rotate", Some(r#"{"deadline_s": 1}"#));
    assert_eq!((st, v["field"].as_str()), (400, Some("deadline_s")));
    let (st, v) = d.call("POST", "/api/network-key/rotate", Some(r#"{"deadline_s": 90}"#));
    assert_eq!(st, 202, "{v}");
    assert_eq!((v["from_seq"].as_u64(), v["to_seq"].as_u64()), (Some(0), Some(1)));
    assert_eq!(v["total"].as_u64().unwrap(), devices.len() as u64);
    let (st, _) = d.call("POST", "/api/network-key/rotate", None);
    assert_eq!(st, 409);
    let done = d.wait_for(90, "every device to confirm the new key", |d| {
        let r = d.get("/api/network-key/rotate");
        (r["state"] == "switched").then_some(r)
    });
    assert_eq!(done["confirmed"], done["total"], "{done}");
    assert_eq!(d.get("/api/network")["active_key_seq"], 1);

    // Remove a device.
    let legacy = devices.iter().find(|x| x["security"] == "legacy").unwrap()["ieee"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = d.call("DELETE", &format!("/api/devices/{legacy}"), None);
    assert_eq!((st, v["removed"].as_str()), (200, Some(legacy.as_str())));
    assert_eq!(d.get(&format!("/api/devices/{legacy}"))["removed"], true);

    // Alerts and the audit log.
    let alerts = d.get("/api/alerts")["alerts"].as_array().unwrap().clone();
    assert!(
        alerts.iter().any(|a| a["kind"] == "network-key-exposed"),
        "legacy joins must raise alerts: {alerts:?}"
    );
    assert!(alerts.iter().all(|a| a["severity"] != "info"));
    let page1 = d.get("/api/audit-log?limit=5")["entries"].as_array().unwrap().clone();
    assert_eq!(page1.len(), 5);
    let last = page1[4]["id"].as_i64().unwrap();
    let page2 = d.get(&format!("/api/audit-log?limit=5&before={last}"))["entries"]
        .as_array()
        .unwrap()
        .clone();
    assert!(page2.iter().all(|e| e["id"].as_i64().unwrap() < last) && !page2.is_empty());
    let (st, _) = d.call("GET", "/api/audit-log?limit=abc", None);
    assert_eq!(st, 400);
    assert!(!d.get("/api/audit-log?limit=1000").to_string().contains(&d.token));

    // Backup: an Open ZigBee Coordinator Backup our importer accepts.
    let auth = d.bearer();
    let (st, h, body) = d.raw("GET", "/api/backup", &[("Authorization", &auth)], None);
    assert_eq!(st, 200);
    assert!(header(&h, "content-disposition").unwrap().contains("attachment"));
    let b: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(b["metadata"]["format"], "zigpy/open-coordinator-backup");
    assert_eq!(b["network_key"]["sequence_number"], 1);
    assert!(zigtrust_store::backup::import(&body, 0).is_ok());

    // The simulated home and its attacker switch.
    let sim = d.get("/api/sim");
    assert_eq!(sim["attacker"], false);
    assert!(sim["devices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["label"].as_str().is_some_and(|l| l.starts_with("Z:"))));
    let (st, v) = d.call("POST", "/api/sim/attacker", Some(r#"{"enabled": "yes"}"#));
    assert_eq!((st, v["field"].as_str()), (400, Some("enabled")));
    let (st, v) = d.call("POST", "/api/sim/attacker", Some(r#"{"enabled": true}"#));
    assert_eq!((st, v["attacker"].as_bool()), (200, Some(true)));
    // Its replays are dropped and reported; it never learns the (rotated, never exposed) key.
    d.wait_for(90, "a replay-dropped alert", |d| {
        let a = d.get("/api/alerts?limit=50");
        a["alerts"].as_array().unwrap().iter().any(|x| x["kind"] == "replay-dropped").then_some(())
    });
    assert_eq!(d.get("/api/sim")["attacker_knows_network_key"], false);

    // Unknown resources and methods.
    let (st, v) = d.call("GET", "/api/nope", None);
    assert_eq!(st, 404, "{v}");
    let (st, v) = d.call("DELETE", "/api/network", None);
    assert_eq!(st, 405, "{v}");

    // Live updates: the state now, as an SSE event.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: {auth}\r\n\r\n",
        d.port
    )
    .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // (The stream is chunked: each event arrives whole inside one chunk.)
    while !String::from_utf8_lossy(&got).contains("event: state\ndata: {") && got.len() < 1 << 20 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200") && text.contains("text/event-stream"), "{text}");
    assert!(text.contains("retry: 2000"), "{text}");
    // HEAD has no stream to hold open.
    let (st, h, _) = d.raw("HEAD", "/api/events", &[("Authorization", &auth)], None);
    assert_eq!(st, 405);
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
}

#[test]
fn sigkill_keeps_devices_keys_policy_and_counters() {
    let dir = test_dir("durability");
    let mut d = Daemon::start(&dir, &[], None);
    let token = d.token.clone();
    starter_home(&d);
    // Pair the user's device by its label and change the policy.
    let label = d.get("/api/sim")["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["joined"] == false && x["label"].is_string())
        .unwrap()["label"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, _) = d.call("POST", "/api/install-codes", Some(&format!(r#"{{"qr": "{label}"}}"#)));
    assert_eq!(st, 201);
    d.call("POST", "/api/permit-join", Some(r#"{"duration_s": 60}"#));
    // (Under `deny` a sleepy device that slept through the switch is stranded: the seed's
    // dilemma, shown by the simulator's matrix. This test keeps the default, `adaptive`.)
    let (st, _) = d.call(
        "PUT",
        "/api/policy",
        Some(r#"{"spoof_response": "ignore", "rotate_after_legacy_window": true}"#),
    );
    assert_eq!(st, 200);
    let before = d.wait_for(60, "six devices holding the active key", |d| {
        let v = d.get("/api/devices")["devices"].as_array().unwrap().clone();
        (v.len() == 6 && v.iter().all(|x| x["has_active_key"] == true)).then_some(v)
    });
    let (st, _) = d.call("POST", "/api/network-key/rotate", Some(r#"{"deadline_s": 60}"#));
    assert_eq!(st, 202);
    d.wait_for(90, "the rotation", |d| {
        (d.get("/api/network-key/rotate")["state"] == "switched").then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(6)); // the devices' own memory is saved
    let max_audit = d.get("/api/audit-log?limit=1")["entries"][0]["id"].as_i64().unwrap();
    // Taken just before the kill: devices keep working meanwhile (a Z3.0 device that rejoins
    // redoes its TCLK update, which changes its link key).
    let backup_before = d.get("/api/backup");
    d.kill(); // SIGKILL

    let restart_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as u64;
    let d = Daemon::start(&dir, &[], Some(&token));
    assert!(d.printed_token.is_none());
    let backup_after = d.get("/api/backup");
    // The same key; its frame counter only moves forward (the restarted hub sends its link
    // status and many-to-one route request at once, past the lease it restarted from).
    let (a, b) = (&backup_after["network_key"], &backup_before["network_key"]);
    assert_eq!((&a["key"], &a["sequence_number"]), (&b["key"], &b["sequence_number"]));
    assert!(a["frame_counter"].as_u64() >= b["frame_counter"].as_u64(), "{a} / {b}");
    // Devices, addresses and link keys (counters move on while the home runs).
    let stable = |b: &Value| -> Vec<(Value, Value, Value)> {
        b["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (d["ieee_address"].clone(), d["nwk_address"].clone(), d["link_key"]["key"].clone())
            })
            .collect()
    };
    let (after_keys, before_keys) = (stable(&backup_after), stable(&backup_before));
    assert_eq!(after_keys.len(), 6);
    // A link key may only differ if a TCLK update was committed between the last read and the
    // kill (the audit log, which survived too, says so).
    let log = d.get("/api/audit-log?limit=1000")["entries"].as_array().unwrap().clone();
    for (a, b) in after_keys.iter().zip(&before_keys) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1), "devices or addresses changed");
        if a.2 != b.2 {
            let ieee = a.0.as_str().unwrap();
            let updated = log.iter().any(|e| {
                e["id"].as_i64().unwrap() > max_audit
                    && e["kind"] == "tclk-verified"
                    && e["ieee"].as_str().is_some_and(|i| i.replace(':', "") == ieee)
            });
            assert!(updated, "link key of {ieee} changed across the restart: {b:?} -> {a:?}");
        }
    }
    let pol = d.get("/api/policy");
    assert_eq!(
        (pol["spoof_response"].as_str(), pol["rotate_after_legacy_window"].as_bool()),
        (Some("ignore"), Some(true))
    );
    assert_eq!(d.get("/api/network")["active_key_seq"], 1);
    let sim = d.get("/api/sim");
    assert!(sim["devices"].as_array().unwrap().iter().all(|x| x["joined"] == true), "{sim}");
    // Every device talks again (its reports reach the Trust Center under the active key) and
    // none of its frames is taken for a replay: counters went on from where they were.
    let after = d.wait_for(75, "every device to be heard after the restart", |d| {
        let v = d.get("/api/devices")["devices"].as_array().unwrap().clone();
        let quiet: Vec<&Value> =
            v.iter().filter(|x| x["last_seen"].as_u64().unwrap() <= restart_ms).collect();
        eprintln!(
            "not heard since the restart: {:?}",
            quiet.iter().map(|x| (&x["name"], &x["last_seen"])).collect::<Vec<_>>()
        );
        quiet.is_empty().then_some(v)
    });
    assert_eq!(after.len(), before.len());
    for x in &after {
        assert_eq!(x["has_active_key"], true, "{x}");
    }
    let log = d.get("/api/audit-log?limit=1000")["entries"].as_array().unwrap().clone();
    let since: Vec<&Value> = log.iter().filter(|e| e["id"].as_i64().unwrap() > max_audit).collect();
    assert!(
        !since.iter().any(|e| e["kind"] == "replay-dropped" || e["kind"] == "device-joined"),
        "after the restart: {since:?}"
    );
}

#[test]
fn bad_arguments_and_a_corrupt_store_exit_2_with_a_message() {
    let dir = test_dir("bad-input");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(common::daemon::bin())
            .arg("serve")
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let db = dir.join("hub.db");
    let dbs = db.to_str().unwrap();
    let (code, err) = run(&["--db", dbs, "--radio", "bluetooth", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--radio"), "{err}");
    let (code, err) =
        run(&["--db", dbs, "--radio", "zep:no-such-host.invalid:1", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, err) = run(&["--db", dbs, "--listen", "not-an-address"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot listen"), "{err}");
    // A file that is not a zigtrust store is refused and left as it was.
    let junk = dir.join("junk.db");
    std::fs::write(&junk, b"this is not a database, it is a shopping list").unwrap();
    let (code, err) = run(&["--db", junk.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("junk.db"), "{err}");
    assert_eq!(std::fs::read(&junk).unwrap(), b"this is not a database, it is a shopping list");
}
