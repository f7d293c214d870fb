//! `zigtrust serve --radio zep:127.0.0.1:PORT` watched live by tshark on the loopback
//! interface: a device injects ZEP frames (beacon request, association, data requests); tshark
//! must decode the daemon's beacon, association response and Transport-Key — decrypting the
//! network key with only the well-known key, because legacy joins are allowed while permit
//! join is open — and that key must be the one in the daemon's backup.

mod common;

use common::daemon::{test_dir, Daemon};
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;
use zigtrust_capture::zep::{encode_v2, ZepHeader, ZepTrailer};
use zigtrust_wire::mac::{Address, MacFrame};
use zigtrust_wire::{CapabilityInfo, ExtAddr, PanId, ShortAddr};

const WELL_KNOWN: &str = "5A6967426565416C6C69616E63653039";

fn zep(psdu_frame: &MacFrame<'_>, seq: u32) -> Vec<u8> {
    let mut mac = Vec::new();
    psdu_frame.emit(&mut mac);
    let h = ZepHeader {
        channel: 15,
        device_id: 0x1234,
        lqi: 200,
        trailer: ZepTrailer::Fcs,
        ntp_timestamp: 0,
        sequence: seq,
    };
    encode_v2(&h, &mac).unwrap()
}

#[test]
fn tshark_watches_a_join_over_zep() {
    let dir = test_dir("zep");
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cap = dir.join("live.pcapng");
    let conf = dir.join("wireshark-profile");
    std::fs::create_dir_all(&conf).unwrap();
    let mut tshark = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &conf)
        .args(["-i", "lo", "-f", &format!("udp port {port}"), "-a", "duration:25", "-w"])
        .arg(&cap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tshark must be installed (scripts/test installs it)");
    // Wait until it captures.
    let err = tshark.stderr.take().unwrap();
    let mut lines = BufReader::new(err).lines();
    loop {
        let l = lines.next().expect("tshark exited before capturing").unwrap();
        if l.contains("Capturing on") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});

    let d = Daemon::start(&dir, &["--radio", &format!("zep:127.0.0.1:{port}")], None);
    let net = d.get("/api/network");
    assert_eq!(net["radio"], format!("zep:127.0.0.1:{port}"));
    let pan = PanId(
        u16::from_str_radix(net["pan_id"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
    );
    let (st, _) = d.call("POST", "/api/permit-join", Some(r#"{"duration_s": 60}"#));
    assert_eq!(st, 200);

    let dev = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = ("127.0.0.1", port);
    let ieee = ExtAddr(0x0012_4b00_1c0f_fee1);
    let send = |f: MacFrame<'_>, seq: u32| {
        dev.send_to(&zep(&f, seq), to).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    };
    // Twice, as a scanning device does: the first datagrams right after the capture starts
    // are sometimes missing from tshark's file on a loaded machine.
    send(MacFrame::beacon_request(1), 1);
    send(MacFrame::beacon_request(1), 1);
    send(
        MacFrame::association_request(
            2,
            pan,
            ShortAddr::COORDINATOR,
            ieee,
            CapabilityInfo::SLEEPY_END_DEVICE,
        ),
        2,
    );
    send(
        MacFrame::data_request(
            3,
            pan,
            Address::Short(ShortAddr::COORDINATOR),
            Address::Extended(ieee),
        ),
        3,
    );
    let short = d.wait_for(10, "the device record", |d| {
        let v = d.get("/api/devices");
        let dv = v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["ieee"] == ieee.to_string())?
            .clone();
        u16::from_str_radix(dv["short_addr"].as_str()?.trim_start_matches("0x"), 16).ok()
    });
    let dv = d.get(&format!("/api/devices/{ieee}"));
    assert_eq!(dv["security"], "legacy");
    send(
        MacFrame::data_request(
            4,
            pan,
            Address::Short(ShortAddr::COORDINATOR),
            Address::Short(ShortAddr(short)),
        ),
        4,
    );
    let backup = d.get("/api/backup");
    let key = backup["network_key"]["key"].as_str().unwrap().to_ascii_lowercase();
    drop(d);
    let _ = Command::new("kill").args(["-INT", &tshark.id().to_string()]).status();
    assert!(tshark.wait().unwrap().success() || cap.exists());

    let out = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &conf)
        .arg("-r")
        .arg(&cap)
        .args(["-d", &format!("udp.port=={port},zep")])
        .args(["-o", &format!("uat:zigbee_pc_keys:\"{WELL_KNOWN}\",\"Normal\",\"wk\"")])
        .args(["-T", "fields", "-E", "occurrence=f"])
        .args([
            "-e",
            "zep.device_id",
            "-e",
            "wpan.frame_type",
            "-e",
            "wpan.cmd",
            "-e",
            "wpan.src_pan",
        ])
        .args([
            "-e",
            "zbee_beacon.ext_panid",
            "-e",
            "wpan.asoc.addr",
            "-e",
            "zbee_aps.cmd.key",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let ours: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == "23124").collect(); // 0x5a54
    assert!(rows.iter().all(|r| r.len() < 8 || r[7].is_empty()), "malformed frames:\n{text}");
    let beacon = ours
        .iter()
        .find(|r| r[1] == "0x0" || r[1] == "0x0000")
        .unwrap_or_else(|| panic!("no beacon:\n{text}"));
    assert_eq!(
        beacon[4].replace(':', ""),
        net["extended_pan_id"].as_str().unwrap().replace(':', ""),
        "{text}"
    );
    let assoc = ours
        .iter()
        .find(|r| r[2] == "0x02")
        .unwrap_or_else(|| panic!("no association response:\n{text}"));
    assert_eq!(
        u16::from_str_radix(assoc[5].trim_start_matches("0x"), 16).unwrap(),
        short,
        "{text}"
    );
    let tk = ours
        .iter()
        .find(|r| !r[6].is_empty())
        .unwrap_or_else(|| panic!("no Transport-Key decrypted:\n{text}"));
    assert_eq!(tk[6].replace(':', ""), key, "tshark's key differs from the backup's:\n{text}");
}
