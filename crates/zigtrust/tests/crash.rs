//! Crash test on the daemon's real path: `zigtrust serve --radio zep:127.0.0.1:PORT` with a
//! scripted device in this process that joins with its install code (given through the HTTP
//! API) and then keeps sending secured rejoins and Request-Keys over ZEP. The daemon is killed
//! with SIGKILL at seeded random points, 60 times, and restarted on the same database. Every
//! frame it sends is read as the device reads it (captured on loopback): no network key and NWK
//! frame counter, and no link key and APS frame counter, may ever go out twice — the counter
//! lease written before use makes a restarted daemon jump past anything it may have used — and
//! no key may be lost: the device reads every frame, and the final backup holds the network key
//! and the device's link key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zigtrust_crypto::{CcmStar, InstallCode, Key};
use zigtrust_testkit::device::Device;
use zigtrust_testkit::serve::Serve;
use zigtrust_testkit::zep::{free_udp_port, ZepLink};
use zigtrust_wire::aps::ApsHeader;
use zigtrust_wire::mac::{MacBody, MacFrame};
use zigtrust_wire::nwk::NwkHeader;
use zigtrust_wire::security::{open, unsecure_aps, AuxHeader, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::{ExtAddr, PanId};

const KILLS: usize = 60;
const DEVICE: u64 = 0x0011_2233_4455_6677;
const INSTALL_CODE: &str = "83FED3407A939723A5C639B26916D505C3B5";

/// Every (key, frame counter) pair the daemon used, per layer, with the run that used it.
#[derive(Default)]
struct Seen {
    nwk: HashMap<(String, u32), usize>,
    aps: HashMap<(String, u32), usize>,
    reused: Vec<String>,
    unreadable: Vec<String>,
    /// NWK-secured frames sent before the device held any network key (the permit-join
    /// broadcast to routers), with their run: read with the backup's network key at the end.
    before_join: Vec<(Vec<u8>, usize)>,
    frames: usize,
}

impl Seen {
    fn record(&mut self, layer: &str, key: &Key, counter: u32, run: usize) {
        let map = if layer == "NWK" { &mut self.nwk } else { &mut self.aps };
        if let Some(first) = map.insert((key.to_hex(), counter), run) {
            self.reused.push(format!(
                "{layer} counter {counter} under key {} in run {first} and again in run {run}",
                key.to_hex()
            ));
        }
    }

    /// Reads one frame of the daemon's with the keys `dev` holds: records the NWK and APS
    /// security counters, or notes a secured layer the device cannot open (a lost key).
    fn observe(&mut self, dev: &Device, links: &[Key], psdu: &[u8], run: usize) {
        self.frames += 1;
        let Ok(mac) = MacFrame::parse(psdu) else { return };
        let MacBody::Data(nwk) = mac.body else { return };
        let Ok((h, n)) = NwkHeader::parse(nwk) else {
            self.unreadable.push(format!("run {run}: NWK header of {psdu:02x?}"));
            return;
        };
        let aps = if h.security {
            let Ok((aux, _)) = AuxHeader::parse(&nwk[n..]) else { return };
            let key = aux.key_seq.and_then(|s| dev.nwk_keys.get(&s));
            let opened = key.and_then(|k| {
                open(&CcmStar::new(k), ZIGBEE_PRO_LEVEL, nwk, n, None).ok().map(|o| (k, o))
            });
            let Some((key, o)) = opened else {
                if dev.nwk_keys.is_empty() {
                    self.before_join.push((psdu.to_vec(), run));
                } else {
                    self.unreadable.push(format!("run {run}: NWK layer of {psdu:02x?}"));
                }
                return;
            };
            self.record("NWK", key, aux.frame_counter, run);
            o.plaintext
        } else {
            nwk[n..].to_vec()
        };
        if !ApsHeader::parse(&aps).is_ok_and(|(a, _)| a.security) {
            return;
        }
        let src = h.src_ieee;
        match links
            .iter()
            .find_map(|k| unsecure_aps(&aps, k, ZIGBEE_PRO_LEVEL, src).ok().map(|u| (k, u)))
        {
            Some((k, u)) => self.record("APS", k, u.aux.frame_counter, run),
            None => self.unreadable.push(format!("run {run}: APS layer of {psdu:02x?}")),
        }
    }
}

/// The link keys the device holds: the one in use, one transported but not yet confirmed, and
/// the install-code key it joined with.
fn link_keys(dev: &Device, install: &Key) -> Vec<Key> {
    let mut v = vec![dev.link(), install.clone()];
    v.extend(dev.pending_tclk.clone());
    v
}

/// A tiny seeded generator (xorshift64): the kill points are the same on every run.
struct Kills(u64);

impl Kills {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo)
    }
}

struct Rig {
    dir: PathBuf,
    radio: String,
    link: ZepLink,
    dev: Device,
    install: Key,
    seen: Seen,
    /// The daemon's frames while the device joins, read again after each exchange: it learns
    /// its address from the association response, which waits for its data request, after the
    /// Transport-Key sent to that address went by.
    backlog: Vec<Vec<u8>>,
    joining: bool,
}

impl Rig {
    fn spawn(&self, run: usize) -> Serve {
        let stderr = self.dir.join(format!("stderr-{run}.txt"));
        let db = self.dir.join("hub.db");
        Serve::spawn(
            Path::new(env!("CARGO_BIN_EXE_zigtrust")),
            &db,
            &["--radio", &self.radio],
            &stderr,
        )
    }

    /// Takes the daemon's frames for `wait`: the device reads them, and they are recorded.
    fn listen(&mut self, wait: Duration, run: usize) {
        for psdu in self.link.frames_for(wait) {
            let links = link_keys(&self.dev, &self.install);
            self.seen.observe(&self.dev, &links, &psdu, run);
            self.dev.receive(&psdu);
            if self.joining {
                self.backlog.push(psdu);
            }
        }
    }

    /// Sends `frames(dev)` every 200 ms until `done(dev)`, for at most `secs`.
    fn until(
        &mut self,
        run: usize,
        secs: u64,
        what: &str,
        mut frames: impl FnMut(&mut Device) -> Vec<Vec<u8>>,
        done: impl Fn(&Device) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(&self.dev) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {} frames from the daemon, device at {}",
                self.seen.frames,
                self.dev.short
            );
            for f in frames(&mut self.dev) {
                self.link.send(&f);
            }
            self.listen(Duration::from_millis(200), run);
            for psdu in &self.backlog {
                self.dev.receive(psdu);
            }
        }
    }
}

fn check_alive(daemon: &mut Serve, run: usize) {
    if let Ok(Some(status)) = daemon.child.try_wait() {
        panic!("run {run}: the daemon exited by itself ({status}): {}", daemon.stderr_text());
    }
}

#[test]
fn sigkill_never_reuses_a_frame_counter_or_loses_a_key() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("crash");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_udp_port();
    let install = InstallCode::from_hex(INSTALL_CODE).unwrap().link_key();
    let mut rig = Rig {
        dir: dir.clone(),
        radio: format!("zep:127.0.0.1:{port}"),
        link: ZepLink::open(port),
        dev: Device::new(DEVICE, Some(install.clone())),
        install,
        seen: Seen::default(),
        backlog: Vec::new(),
        joining: true,
    };

    // First start: the admin token, the device's install code and a permit-join for it.
    let mut daemon = rig.spawn(0);
    daemon.wait_listening(30, true);
    let token = daemon.token.clone().expect("the first start prints the admin token");
    let api = daemon.client(Some(&token));
    let ieee = ExtAddr(DEVICE).to_string();
    let body = format!(r#"{{"ieee": "{ieee}", "install_code": "{INSTALL_CODE}"}}"#);
    api.call("POST", "/api/install-codes", Some(&body), 201);
    let body = format!(r#"{{"duration_s": 120, "ieee": "{ieee}"}}"#);
    api.call("POST", "/api/permit-join", Some(&body), 200);
    let pan = api.get("/api/network")["pan_id"].as_str().unwrap().to_string();
    rig.dev.pan = PanId(u16::from_str_radix(pan.trim_start_matches("0x"), 16).unwrap());

    // The device joins with its install code, then updates its TC link key (Request-Key,
    // Verify-Key): the unique key the backup must still hold at the end.
    // An association request every 2 s only: each one queues another association response,
    // and a data request fetches the oldest.
    let mut polls = 0;
    let join = |d: &mut Device| {
        polls += 1;
        let mut v = vec![d.data_request(true)];
        if polls % 10 == 1 {
            v.insert(0, d.association_request());
        }
        v
    };
    rig.until(0, 20, "the join", join, |d| d.network_key().is_some());
    rig.joining = false;
    rig.backlog.clear();
    rig.until(0, 10, "a TC link key", |d| vec![d.request_key()], |d| d.pending_tclk.is_some());
    rig.until(0, 10, "the Confirm-Key", |d| vec![d.verify_key()], |d| d.tclk_confirmed);

    let mut kills = Kills(0x2545_f491_4f6c_dd1d);
    let mut sent = 0u32;
    for run in 1..=KILLS {
        if run > 1 {
            daemon = rig.spawn(run);
        }
        // Killed anywhere from its startup to well after it answers.
        let until = Instant::now() + Duration::from_millis(kills.next_ms(20, 320));
        while Instant::now() < until {
            let f =
                if sent % 3 == 2 { rig.dev.request_key() } else { rig.dev.rejoin_secured(None) };
            rig.link.send(&f);
            sent += 1;
            rig.listen(Duration::from_millis(5), run);
        }
        check_alive(&mut daemon, run);
        daemon.kill(); // SIGKILL
        let err = daemon.stderr_text();
        assert!(!err.contains("panicked"), "run {run}: {err}");
    }

    // After the last kill: the daemon comes up on the same database, the device still reads
    // what it sends (a rejoin answered under the network key it holds, a new TC link key under
    // its link key), and the backup holds both keys.
    let mut daemon = rig.spawn(KILLS + 1);
    daemon.wait_listening(30, false);
    rig.dev.rejoin_status = None;
    rig.dev.pending_tclk = None;
    rig.until(
        KILLS + 1,
        10,
        "answers the device can read",
        |d| vec![d.rejoin_secured(None), d.request_key()],
        |d| d.rejoin_status == Some(0) && d.pending_tclk.is_some(),
    );
    rig.listen(Duration::from_millis(300), KILLS + 1);
    check_alive(&mut daemon, KILLS + 1);
    let backup = daemon.client(Some(&token)).get("/api/backup");
    let hex = |v: &serde_json::Value| v.as_str().unwrap_or("").replace(':', "").to_lowercase();
    let network_key = rig.dev.network_key().expect("the device holds the network key").to_hex();
    assert_eq!(hex(&backup["network_key"]["key"]), network_key, "network key in the backup");
    let ours = format!("{DEVICE:016x}");
    let entry = backup["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| hex(&d["ieee_address"]) == ours)
        .unwrap_or_else(|| panic!("the device is missing from the backup: {backup}"));
    assert_eq!(hex(&entry["link_key"]["key"]), rig.dev.link().to_hex(), "its link key");
    drop(daemon);

    // Frames sent before the device joined: their NWK counters count too.
    let key = Key::from_hex(&network_key).unwrap();
    for (psdu, run) in std::mem::take(&mut rig.seen.before_join) {
        let MacBody::Data(nwk) = MacFrame::parse(&psdu).unwrap().body else { unreachable!() };
        let (h, n) = NwkHeader::parse(nwk).unwrap();
        match open(&CcmStar::new(&key), ZIGBEE_PRO_LEVEL, nwk, n, None) {
            Ok(_) => {
                let aux = AuxHeader::parse(&nwk[n..]).unwrap().0;
                rig.seen.record("NWK", &key, aux.frame_counter, run);
            }
            Err(_) => rig.seen.unreadable.push(format!("run {run}: NWK layer of {psdu:02x?}")),
        }
        assert!(h.dst.is_broadcast(), "only broadcasts go out before the device joins: {h:?}");
    }
    let s = &rig.seen;
    assert!(s.reused.is_empty(), "frame counters reused after SIGKILL:\n{}", s.reused.join("\n"));
    assert!(
        s.unreadable.is_empty(),
        "frames the device could not read:\n{}",
        s.unreadable.join("\n")
    );
    assert!(s.nwk.len() > 100, "only {} NWK frames in {KILLS} runs", s.nwk.len());
    assert!(s.aps.len() > 20, "only {} APS frames in {KILLS} runs", s.aps.len());
}
