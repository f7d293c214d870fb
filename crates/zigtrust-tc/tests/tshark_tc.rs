//! Oracle test: every frame the Trust Center core emits in a scripted network life (joins,
//! TCLK updates, rejoins, a spoof attempt, a key rotation, a stale-key rescue) is written to a
//! pcap that tshark dissects with no malformed frame or expert error and decrypts with the keys
//! given on its command line. Fails (never skips) when tshark is missing.

mod common;

use common::*;
use std::process::Command;
use zigtrust_capture::{PcapWriter, Timestamp};
use zigtrust_crypto::Key;
use zigtrust_tc::AdminCommand;
use zigtrust_wire::dissect::{Dissector, KeySource, Keyring};

#[test]
fn tshark_reads_everything_the_trust_center_sends() {
    let mut h = Harness::new();
    h.admin(AdminCommand::PermitJoin { duration_ms: 100_000, ieee: None });
    let ic = Key::from_bytes([0x42; 16]);
    let mut devices = Vec::new();
    for i in 0..6u64 {
        let mut d = if i % 2 == 0 {
            h.admin(AdminCommand::AddInstallCode {
                ieee: zigtrust_wire::ExtAddr(0x100 + i),
                link_key: ic.clone(),
            });
            Device::new(0x100 + i, Some(ic.clone()))
        } else {
            Device::new(0x100 + i, None)
        };
        let f = d.association_request();
        h.exchange(&mut d, f);
        if i % 2 == 0 {
            let f = d.request_key();
            h.exchange(&mut d, f);
            let f = d.verify_key();
            h.exchange(&mut d, f);
        }
        let f = d.data();
        h.exchange(&mut d, f);
        let f = d.rejoin_secured(None);
        h.exchange(&mut d, f);
        devices.push(d);
    }
    h.admin(AdminCommand::PermitJoin { duration_ms: 0, ieee: None });
    // TC rejoin of a Z3.0 device with its unique key, and a spoof attempt on a legacy one.
    let f = devices[0].rejoin_unsecured();
    h.exchange(&mut devices[0], f);
    let mut attacker = Device::new(0x101, None);
    attacker.short = devices[1].short;
    let f = attacker.rejoin_unsecured();
    h.rx(f);
    // Rotation: all but the last device acknowledge; then the straggler is rescued.
    h.admin(AdminCommand::RotateNetworkKey { deadline_ms: 20_000 });
    let sent = h.sent.clone();
    let n = devices.len();
    for d in devices.iter_mut().take(n - 1) {
        for t in &sent {
            d.receive(&t.psdu);
        }
        for c in std::mem::take(&mut d.acks_due) {
            let f = d.ack(c);
            h.rx(f);
        }
    }
    h.advance(25_000);
    let f = devices[n - 1].data();
    h.exchange(&mut devices[n - 1], f);
    assert!(h.sent.len() >= 30, "scripted life produced {} frames", h.sent.len());

    // Keys an observer with full knowledge has.
    let mut keys: Vec<String> =
        (0..=1).filter_map(|s| h.tc.network_key(s)).map(|k| k.key.to_hex()).collect();
    keys.push(WELL_KNOWN.into());
    keys.push(ic.to_hex());
    for d in &devices {
        if let Some(k) = &d.tclk {
            keys.push(k.to_hex());
        }
    }
    keys.dedup();

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let pcap = dir.join("tc-frames.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&pcap).unwrap()).unwrap();
    for (i, t) in h.sent.iter().enumerate() {
        w.write_frame(Timestamp::new(1_700_000_000 + i as i64, 0), &t.psdu).unwrap();
    }
    w.finish().unwrap();

    // Our own dissector, with the same keys: how many secured layers must decrypt.
    let mut ring = Keyring::new();
    for k in &keys {
        ring.add_key(Key::from_hex(k).unwrap(), KeySource::Given);
    }
    let mut dis = Dissector::new(ring);
    let mut secured = Vec::new();
    for (i, t) in h.sent.iter().enumerate() {
        let d = dis.dissect(i as u64 + 1, &t.psdu);
        assert!(d.error.is_none(), "frame {} ({}) does not parse: {:?}", i + 1, t.what, d.error);
        let layers = [
            d.nwk_security.as_ref(),
            d.aps.as_ref().and_then(|a| a.security.as_ref()),
            d.tunnel.as_ref().and_then(|a| a.security.as_ref()),
        ];
        for s in layers.into_iter().flatten() {
            assert!(
                s.decrypted(),
                "frame {} ({}) does not decrypt with the known keys",
                i + 1,
                t.what
            );
        }
        secured.push(layers.iter().flatten().count());
    }

    let conf = dir.join("empty-wireshark-profile");
    std::fs::create_dir_all(&conf).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.env("WIRESHARK_CONFIG_DIR", &conf).arg("-r").arg(&pcap);
    for (i, k) in keys.iter().enumerate() {
        cmd.arg("-o").arg(format!("uat:zigbee_pc_keys:\"{k}\",\"Normal\",\"k{i}\""));
    }
    cmd.args([
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "frame.number",
        "-e",
        "_ws.malformed",
        "-e",
        "_ws.expert.message",
        "-e",
        "zbee.sec.key",
    ]);
    let out = cmd.output().expect("tshark must be installed (scripts/test installs it)");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), h.sent.len());
    for (i, l) in lines.iter().enumerate() {
        let f: Vec<&str> = l.split('\t').collect();
        let what = h.sent[i].what;
        assert!(f[1].is_empty(), "tshark: frame {} ({what}) malformed: {l}", i + 1);
        assert!(
            f.get(2).is_none_or(|m| m.is_empty()),
            "tshark: frame {} ({what}) expert info: {l}",
            i + 1
        );
        let decrypted =
            f.get(3).map(|k| if k.is_empty() { 0 } else { k.split(',').count() }).unwrap_or(0);
        assert_eq!(
            decrypted,
            secured[i],
            "tshark: frame {} ({what}) secured layers decrypted: {l}",
            i + 1
        );
    }
}

const WELL_KNOWN: &str = "5a6967426565416c6c69616e63653039";
