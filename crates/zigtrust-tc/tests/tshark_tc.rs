//! Oracle test: every frame the Trust Center core emits in a scripted network life (joins,
//! TCLK updates, rejoins, a spoof attempt, a key rotation, a stale-key rescue) is written to a
//! pcap that tshark dissects with no malformed frame or expert error, decrypting as many secured
//! layers per frame as our dissector does with the keys the devices hold. Fails (never skips)
//! when tshark is missing.

mod common;

use common::*;
use zigtrust_crypto::Key;
use zigtrust_tc::AdminCommand;
use zigtrust_testkit::WELL_KNOWN;
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
        (0..=1).filter_map(|s| h.tc().network_key(s)).map(|k| k.key.to_hex()).collect();
    keys.push(WELL_KNOWN.into());
    keys.push(ic.to_hex());
    for d in &devices {
        if let Some(k) = &d.tclk {
            keys.push(k.to_hex());
        }
    }
    keys.dedup();

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

    // tshark, with every key the TC used: no malformed frame or expert error, and the same
    // number of secured layers decrypted per frame as our dissector.
    let decrypted = h.tshark_check("scripted-life");
    for (i, (theirs, ours)) in decrypted.iter().zip(&secured).enumerate() {
        assert_eq!(
            theirs,
            ours,
            "tshark: frame {} ({}) secured layers decrypted",
            i + 1,
            h.sent[i].what
        );
    }
}
