//! `zigtrust tc-crash-child --db FILE` (hidden): the daemon's hub (`zigtrust_hub::Hub` on the
//! SQLite store) and one scripted device in a loop, for the crash test. The device keeps sending secured rejoins and Request-Keys; every frame the
//! hub releases (after its store writes are committed) is reported on stdout as `NWK <counter>`
//! / `APS <counter>`. The test kills this process with SIGKILL at random points and checks that
//! no counter is ever reported twice across restarts.

use crate::exit;
use std::io::Write;
use std::path::PathBuf;
use zigtrust_crypto::Key;
use zigtrust_hub::{os_seed, Hub, Outbox};
use zigtrust_store::Store;
use zigtrust_tc::AdminCommand;
use zigtrust_tc::RxMeta;
use zigtrust_wire::aps::{ApsCommand, ApsHeader, KeyType};
use zigtrust_wire::mac::{Address, MacBody, MacFrame, MacHeader};
use zigtrust_wire::nwk::{NwkCommand, NwkFrameType, NwkHeader};
use zigtrust_wire::security::{secure_aps, secure_nwk, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::{CapabilityInfo, ExtAddr, PanId, ShortAddr};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    pub db: PathBuf,
}

const DEVICE: ExtAddr = ExtAddr(0x0011_2233_4455_6677);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The device's frame counter: wall-clock microseconds, so it increases across restarts of
/// this process without the device needing storage of its own.
fn device_counter() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_micros() & 0xffff_ffff) as u32)
        .unwrap_or(0)
}

fn mac(pan: PanId, src: ShortAddr, seq: u8, nwk: &[u8]) -> Vec<u8> {
    let hdr = MacHeader::data(
        seq,
        pan,
        Address::Short(ShortAddr::COORDINATOR),
        Address::Short(src),
        true,
    );
    let mut v = Vec::new();
    MacFrame { header: hdr, body: MacBody::Data(nwk) }.emit(&mut v);
    v
}

/// Reports the security counters (NWK, and APS inside) of frames about to go on air.
fn report(
    out: &mut dyn Write,
    frames: &[zigtrust_tc::Transmit],
    tc: &zigtrust_tc::TrustCenter,
) -> std::io::Result<()> {
    use zigtrust_crypto::CcmStar;
    use zigtrust_wire::security::open;
    for t in frames {
        let Ok(m) = MacFrame::parse(&t.psdu) else { continue };
        let MacBody::Data(nwk) = m.body else { continue };
        let Ok((h, n)) = NwkHeader::parse(nwk) else { continue };
        let aps = if h.security {
            let Ok((aux, _)) = AuxHeader::parse(&nwk[n..]) else { continue };
            writeln!(out, "NWK {}", aux.frame_counter)?;
            let Some(key) = aux.key_seq.and_then(|s| tc.network_key(s)) else { continue };
            match open(&CcmStar::new(&key.key), ZIGBEE_PRO_LEVEL, nwk, n, None) {
                Ok(o) => o.plaintext,
                Err(_) => continue,
            }
        } else {
            nwk[n..].to_vec()
        };
        if let Ok((ah, hl)) = ApsHeader::parse(&aps) {
            if ah.security {
                if let Ok((aux, _)) = AuxHeader::parse(&aps[hl..]) {
                    writeln!(out, "APS {}", aux.frame_counter)?;
                }
            }
        }
    }
    out.flush()
}

pub fn run(args: &Args, out: &mut dyn Write) -> i32 {
    match run_inner(args, out) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("zigtrust tc-crash-child: {e}");
            exit::BAD_INPUT
        }
    }
}

type CrashHub = Hub<Store, Outbox>;

/// Reports what the hub released in the last step; a store failure ends the run (its frames
/// were dropped unsent, as the daemon drops them).
fn released(hub: &mut CrashHub, out: &mut dyn Write) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(e) = hub.store_error() {
        return Err(e.to_string().into());
    }
    let frames = std::mem::take(&mut hub.radio_mut().frames);
    Ok(report(out, &frames, hub.tc())?)
}

fn run_inner(args: &Args, out: &mut dyn Write) -> Result<(), Box<dyn std::error::Error>> {
    let mut hub = Hub::open(Store::open(&args.db)?, Outbox::default(), os_seed()?, now_ms())?;
    if hub.tc().network().is_none() {
        hub.command(
            now_ms(),
            AdminCommand::FormNetwork { pan_id: PanId(0x1a62), extended_pan_id: 1, channel: 15 },
        )?;
        released(&mut hub, out)?;
    }
    let pan = hub.tc().network().map(|n| n.pan_id).unwrap_or_default();
    // An install-code device: the Trust Center answers its Request-Keys (APS-secured frames
    // for the counter check), which it refuses to a device with a public link key.
    let link = Key::from_bytes([0x5a; 16]);
    if hub.tc().device(DEVICE).is_none() {
        hub.command(
            now_ms(),
            AdminCommand::AddInstallCode { ieee: DEVICE, link_key: link.clone() },
        )?;
        hub.command(
            now_ms(),
            AdminCommand::PermitJoin { duration_ms: 60_000, ieee: Some(DEVICE) },
        )?;
        released(&mut hub, out)?;
        let mut req = Vec::new();
        MacFrame::association_request(
            1,
            pan,
            ShortAddr::COORDINATOR,
            DEVICE,
            CapabilityInfo::ROUTER,
        )
        .emit(&mut req);
        hub.receive(now_ms(), &req, RxMeta::default());
        released(&mut hub, out)?;
    }
    let short = hub.tc().device(DEVICE).map(|d| d.short_addr).ok_or("device did not join")?;
    for i in 0u32.. {
        let seq = hub.tc().active_key_seq();
        let key: Key = hub.tc().network_key(seq).map(|k| k.key.clone()).ok_or("no network key")?;
        let mut h =
            NwkHeader::new(NwkFrameType::Command, ShortAddr::COORDINATOR, short, 30, i as u8);
        h.src_ieee = Some(DEVICE);
        let payload = if i % 3 == 2 {
            h.frame_type = NwkFrameType::Data;
            let body = {
                let mut b = Vec::new();
                ApsCommand::RequestKey { key_type: KeyType::TrustCenterLinkKey, partner: None }
                    .emit(&mut b);
                b
            };
            let aux = AuxHeader::aps(KeyId::Data, device_counter(), Some(DEVICE));
            secure_aps(
                &ApsHeader::command(i as u8, true),
                &aux,
                &body,
                &link,
                ZIGBEE_PRO_LEVEL,
                Some(DEVICE),
            )?
        } else {
            let mut p = Vec::new();
            NwkCommand::RejoinRequest { capability: CapabilityInfo::ROUTER }.emit(&mut p);
            p
        };
        let aux = AuxHeader::nwk(device_counter(), DEVICE, seq);
        let nwk = secure_nwk(&h, &aux, &payload, &key, ZIGBEE_PRO_LEVEL)?;
        hub.receive(now_ms(), &mac(pan, short, i as u8, &nwk), RxMeta::default());
        released(&mut hub, out)?;
    }
    Ok(())
}
