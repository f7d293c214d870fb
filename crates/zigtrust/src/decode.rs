//! `zigtrust decode CAPTURE [--key HEX]... [--install-code EUI64:CODE]... [--json]`
//!
//! One line per capture record: readable text, or JSON Lines as documented in
//! `docs/decode-json.md`. The well-known TC link key is always tried; keys revealed by
//! Transport-Key commands are used for the frames after them.

use crate::cli::KeyArgs;
use crate::exit;
use crate::json::Obj;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use zigtrust_capture::{CaptureReader, CaptureRecord, FcsStatus, RecordContent};
use zigtrust_crypto::hex;
use zigtrust_wire::aps::{ApsCommand, ApsFrameType, DeliveryMode, TransportKeyBody};
use zigtrust_wire::dissect::{
    ApsLayer, Decryption, Dissection, Dissector, KeySource, SecurityInfo,
};
use zigtrust_wire::mac::{Address, FrameType, MacHeader};
use zigtrust_wire::nwk::{NwkFrameType, NwkHeader};
use zigtrust_wire::security::KeyId;
use zigtrust_wire::zdo::ZdoMessage;
use zigtrust_wire::ExtAddr;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Capture file: pcap or pcapng with 802.15.4 (linktypes 195, 230, 283) or ZEP over UDP.
    pub capture: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// JSON Lines output (see docs/decode-json.md).
    #[arg(long)]
    pub json: bool,
    /// Decode frames whose FCS is bad too (by default, like Wireshark, nothing above the MAC
    /// header of a corrupt frame is trusted).
    #[arg(long)]
    pub ignore_fcs: bool,
    /// The network's CCM* security level (0-7). Zigbee PRO transmits 0 in the frames and uses
    /// 5 (ENC-MIC-32); change it only for networks configured otherwise.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..8))]
    pub security_level: u8,
}

pub fn run(args: &Args, out: &mut dyn Write) -> i32 {
    let ring = args.keys.keyring();
    let reader = match CaptureReader::open(&args.capture) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zigtrust decode: {}: {e}", args.capture.display());
            return exit::BAD_INPUT;
        }
    };
    let mut dissector = Dissector::new(ring);
    dissector.level = zigtrust_crypto::SecurityLevel::from_bits(args.security_level);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut line = String::with_capacity(1024);
    let mut first_ts = None;
    // Distinct transported keys, in order of first appearance (bounded like the keyring, so a
    // capture full of Transport-Key commands cannot grow memory without limit).
    let mut found: Vec<(u64, String)> = Vec::new();
    let mut found_set = std::collections::HashSet::new();
    for rec in reader {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let _ = out.flush();
                eprintln!("zigtrust decode: {}: {e}", args.capture.display());
                return exit::BAD_INPUT;
            }
        };
        line.clear();
        let d = match &rec.content {
            RecordContent::Frame(f) if f.fcs.is_trustworthy() || args.ignore_fcs => {
                Some(dissector.dissect(rec.number, &f.psdu))
            }
            RecordContent::Frame(f) => {
                // Corrupt frame: MAC header only, nothing learned from it.
                let mac = zigtrust_wire::mac::MacHeader::parse(&f.psdu).ok().map(|(h, _)| h);
                Some(Dissection { mac, ..Dissection::default() })
            }
            RecordContent::Skipped(_) => None,
        };
        if let Some(d) = &d {
            for (kt, key) in &d.learned_keys {
                let k = format!("{} {}", kt.name(), key.to_hex());
                if found.len() < zigtrust_wire::dissect::MAX_LEARNED_KEYS
                    && found_set.insert(k.clone())
                {
                    found.push((rec.number, k));
                }
            }
        }
        if args.json {
            json_line(&rec, d.as_ref(), &mut line);
        } else {
            let t0 = *first_ts.get_or_insert(rec.timestamp);
            text_line(&rec, d.as_ref(), t0, &mut line);
        }
        line.push('\n');
        if out.write_all(line.as_bytes()).is_err() {
            return exit::OK; // stdout closed (e.g. piped into `head`): not an error
        }
    }
    if !args.json {
        let mut tail = String::new();
        if found.is_empty() {
            tail.push_str("# no keys transported in readable frames\n");
        }
        for (n, k) in &found {
            let _ = writeln!(tail, "# key found in frame {n}: {k}");
        }
        let _ = out.write_all(tail.as_bytes());
    }
    let _ = out.flush();
    exit::OK
}

fn fcs_name(f: FcsStatus) -> &'static str {
    match f {
        FcsStatus::Ok => "ok",
        FcsStatus::Bad { .. } => "bad",
        FcsStatus::Absent | FcsStatus::Unverified32 => "absent",
        FcsStatus::MetadataOk => "metadata-ok",
        FcsStatus::MetadataBad => "metadata-bad",
    }
}

/// A MAC address field: the address, or null when the frame has none.
fn json_addr(o: &mut Obj<'_>, k: &str, a: Address) {
    match a {
        Address::Absent => o.null(k),
        a => o.fmt_str(k, format_args!("{a}")),
    };
}

fn mac_type(t: FrameType) -> &'static str {
    match t {
        FrameType::Beacon => "beacon",
        FrameType::Data => "data",
        FrameType::Ack => "ack",
        FrameType::MacCommand => "command",
        _ => "other",
    }
}

fn nwk_type(t: NwkFrameType) -> &'static str {
    match t {
        NwkFrameType::Data => "data",
        NwkFrameType::Command => "command",
        NwkFrameType::InterPan => "inter-pan",
        _ => "other",
    }
}

fn aps_type(t: ApsFrameType) -> &'static str {
    match t {
        ApsFrameType::Data => "data",
        ApsFrameType::Command => "command",
        ApsFrameType::Ack => "ack",
        ApsFrameType::InterPan => "inter-pan",
    }
}

fn delivery(m: DeliveryMode) -> &'static str {
    match m {
        DeliveryMode::Unicast => "unicast",
        DeliveryMode::Indirect => "indirect",
        DeliveryMode::Broadcast => "broadcast",
        DeliveryMode::Group => "group",
    }
}

fn key_id_name(k: KeyId) -> &'static str {
    match k {
        KeyId::Data => "data",
        KeyId::Network => "network",
        KeyId::KeyTransport => "key-transport",
        KeyId::KeyLoad => "key-load",
    }
}

fn json_security(o: &mut Obj<'_>, s: &SecurityInfo) {
    o.str("key_id", key_id_name(s.aux.key_id))
        .num("level_on_air", s.aux.level_on_air as u64)
        .num("frame_counter", s.aux.frame_counter as u64);
    match s.aux.source {
        Some(e) => o.fmt_str("src64", format_args!("{e}")),
        None => o.null("src64"),
    };
    if let Some(seq) = s.aux.key_seq {
        o.num("key_seq", seq as u64);
    }
    match &s.result {
        Decryption::Ok { key, source } => {
            o.str("mic", "ok").str("key_source", source.name()).str("key", &key.to_hex());
            if let KeySource::Transported { frame } = source {
                o.num("key_frame", *frame);
            }
        }
        Decryption::Failed => {
            o.str("mic", "failed");
        }
    }
}

fn json_mac(o: &mut Obj<'_>, h: &MacHeader, d: &Dissection) {
    o.str("type", mac_type(h.frame_type)).opt_num("seq", h.sequence.map(u64::from));
    let dst_pan = h.dst_pan.map(|p| p.to_string());
    let src_pan =
        h.src_pan.or(h.dst_pan.filter(|_| h.src_addr != Address::Absent)).map(|p| p.to_string());
    o.opt_str("dst_pan", dst_pan.as_deref()).opt_str("src_pan", src_pan.as_deref());
    json_addr(o, "dst", h.dst_addr);
    json_addr(o, "src", h.src_addr);
    o.bool("ack_request", h.ack_request).bool("frame_pending", h.frame_pending);
    if let Some(c) = &d.mac_command {
        o.str("command", c.name()).num("command_id", c.id() as u64);
    }
    if let Some(b) = &d.beacon {
        o.obj("beacon", |bo| {
            bo.bool("association_permit", b.association_permit)
                .bool("pan_coordinator", b.pan_coordinator);
            match b.extended_pan_id {
                Some(e) => bo.fmt_str("extended_pan_id", format_args!("{}", ExtAddr(e))),
                None => bo.null("extended_pan_id"),
            };
        });
    }
}

fn json_nwk(o: &mut Obj<'_>, h: &NwkHeader, d: &Dissection) {
    o.str("type", nwk_type(h.frame_type))
        .fmt_str("dst", format_args!("{}", h.dst))
        .fmt_str("src", format_args!("{}", h.src))
        .num("radius", h.radius as u64)
        .num("seq", h.seq as u64)
        .opt_str("dst64", h.dst_ieee.map(|e| e.to_string()).as_deref())
        .opt_str("src64", h.src_ieee.map(|e| e.to_string()).as_deref());
    if let Some(s) = &d.nwk_security {
        o.obj("security", |so| json_security(so, s));
    }
    if let Some(c) = &d.nwk_command {
        o.str("command", c.name()).num("command_id", c.id() as u64);
    }
}

fn json_aps(o: &mut Obj<'_>, a: &ApsLayer) {
    let h = &a.header;
    o.str("type", aps_type(h.frame_type)).str("delivery", delivery(h.delivery_mode));
    o.opt_num("dst_ep", h.dst_endpoint.map(u64::from))
        .opt_num("src_ep", h.src_endpoint.map(u64::from))
        .opt_str("group", h.group.map(|g| format!("0x{g:04x}")).as_deref())
        .opt_str("cluster", h.cluster.map(|g| format!("0x{g:04x}")).as_deref())
        .opt_str("profile", h.profile.map(|g| format!("0x{g:04x}")).as_deref())
        .num("counter", h.counter as u64);
    if let Some(s) = &a.security {
        o.obj("security", |so| json_security(so, s));
    }
    if let Some(c) = &a.command {
        o.str("command", c.name()).num("command_id", c.id() as u64);
        json_aps_command(o, c);
    }
}

fn json_aps_command(o: &mut Obj<'_>, c: &ApsCommand) {
    let ext = |o: &mut Obj<'_>, k: &str, e: &ExtAddr| {
        o.fmt_str(k, format_args!("{e}"));
    };
    match c {
        ApsCommand::TransportKey(tk) => {
            o.str("key_type", tk.key_type.name())
                .num("key_type_id", u8::from(tk.key_type) as u64)
                .str("key", &tk.key.to_hex());
            match &tk.body {
                TransportKeyBody::Network { seq, dst, src } => {
                    o.num("key_seq", *seq as u64);
                    ext(o, "dst64", dst);
                    ext(o, "src64", src);
                }
                TransportKeyBody::TrustCenter { dst, src } => {
                    ext(o, "dst64", dst);
                    ext(o, "src64", src);
                }
                TransportKeyBody::Application { partner, initiator } => {
                    ext(o, "partner64", partner);
                    o.bool("initiator", *initiator);
                }
                TransportKeyBody::Unknown { .. } => {}
            }
        }
        ApsCommand::UpdateDevice { device, short_addr, status, .. } => {
            ext(o, "device64", device);
            o.fmt_str("device", format_args!("{short_addr}")).num("status", status.to_u8() as u64);
        }
        ApsCommand::RemoveDevice { target } => ext(o, "device64", target),
        ApsCommand::RequestKey { key_type, partner } => {
            o.str("key_type", key_type.name()).num("key_type_id", u8::from(*key_type) as u64);
            if let Some(p) = partner {
                ext(o, "partner64", p);
            }
        }
        ApsCommand::SwitchKey { seq } => {
            o.num("key_seq", *seq as u64);
        }
        ApsCommand::Tunnel { dst, .. } => ext(o, "dst64", dst),
        ApsCommand::VerifyKey { key_type, src, hash } => {
            o.str("key_type", key_type.name()).num("key_type_id", u8::from(*key_type) as u64);
            ext(o, "src64", src);
            o.str("hash", &hex(hash));
        }
        ApsCommand::ConfirmKey { status, key_type, dst } => {
            o.num("status", *status as u64)
                .str("key_type", key_type.name())
                .num("key_type_id", u8::from(*key_type) as u64);
            ext(o, "dst64", dst);
        }
        _ => {}
    }
}

fn json_zdo(o: &mut Obj<'_>, z: &ZdoMessage) {
    o.fmt_str("cluster", format_args!("0x{:04x}", z.cluster()))
        .str("name", z.name())
        .num("seq", z.seq() as u64);
    if let ZdoMessage::DeviceAnnce(a) = z {
        o.fmt_str("nwk_addr", format_args!("{}", a.nwk_addr))
            .fmt_str("ieee", format_args!("{}", a.ieee))
            .fmt_str("capability", format_args!("0x{:02x}", a.capability.0));
    }
}

fn timestamp(rec: &CaptureRecord) -> f64 {
    rec.timestamp.secs as f64 + rec.timestamp.nanos as f64 / 1e9
}

/// Appends the JSON object for one record (no newline).
pub fn json_line(rec: &CaptureRecord, d: Option<&Dissection>, line: &mut String) {
    let mut o = Obj::new(line);
    o.num("frame", rec.number).raw("time", format_args!("{:.6}", timestamp(rec)));
    match (&rec.content, d) {
        (RecordContent::Frame(f), Some(d)) => {
            o.num("len", f.psdu.len() as u64).str("fcs", fcs_name(f.fcs));
            if let Some(e) = &d.error {
                o.str("error", &e.to_string());
            }
            if let Some(h) = &d.mac {
                o.obj("mac", |m| json_mac(m, h, d));
            }
            if let Some(h) = &d.nwk {
                o.obj("nwk", |m| json_nwk(m, h, d));
            }
            if let Some(a) = &d.aps {
                o.obj("aps", |m| json_aps(m, a));
                if let Some(z) = &a.zdo {
                    o.obj("zdo", |m| json_zdo(m, z));
                }
            }
            if let (Some(t), Some(ApsCommand::Tunnel { dst, .. })) =
                (&d.tunnel, d.aps.as_ref().and_then(|a| a.command.as_ref()))
            {
                o.obj("tunnel", |to| {
                    to.fmt_str("dst64", format_args!("{dst}"));
                    to.obj("aps", |m| json_aps(m, t));
                });
            }
            let s = summary(d);
            o.str("summary", &s);
        }
        (RecordContent::Skipped(r), _) => {
            o.str("skipped", &r.to_string());
        }
        _ => {}
    }
    o.close();
}

/// Appends ` [key id #counter which key, MIC verdict]`.
fn sec_text(out: &mut String, s: &SecurityInfo) {
    let _ = write!(out, " [{} #{} ", key_id_name(s.aux.key_id), s.aux.frame_counter);
    let _ = match &s.result {
        Decryption::Ok { source: KeySource::Transported { frame }, .. } => {
            write!(out, "key from frame {frame}, MIC ok]")
        }
        Decryption::Ok { source: KeySource::InstallCode { ieee }, .. } => {
            write!(out, "install-code key of {ieee}, MIC ok]")
        }
        Decryption::Ok { source, .. } => write!(out, "{} key, MIC ok]", source.name()),
        Decryption::Failed => write!(out, "no key, MIC failed]"),
    };
}

fn aps_text(a: &ApsLayer, s: &mut String) {
    let h = &a.header;
    match (&a.command, h.frame_type) {
        (Some(c), _) => {
            let _ = write!(s, "APS {}", c.name());
            match c {
                ApsCommand::TransportKey(tk) => {
                    let _ = write!(s, " ({}", tk.key_type.name());
                    if let TransportKeyBody::Network { seq, .. } = tk.body {
                        let _ = write!(s, " seq {seq}");
                    }
                    let _ = write!(s, " key {})", tk.key.to_hex());
                }
                ApsCommand::RequestKey { key_type, .. } => {
                    let _ = write!(s, " ({})", key_type.name());
                }
                ApsCommand::UpdateDevice { device, short_addr, status, .. } => {
                    let _ = write!(s, " ({device} {short_addr}: {})", status.name());
                }
                ApsCommand::SwitchKey { seq } => {
                    let _ = write!(s, " (seq {seq})");
                }
                ApsCommand::ConfirmKey { status, .. } => {
                    let _ = write!(s, " (status {status})");
                }
                _ => {}
            }
        }
        (None, ApsFrameType::Data) => {
            let _ = write!(s, "APS data");
            if let Some(g) = h.group {
                let _ = write!(s, " group 0x{g:04x}");
            }
            if let (Some(src), Some(dst)) = (h.src_endpoint, h.dst_endpoint) {
                let _ = write!(s, " ep {src} → {dst}");
            }
            if let (Some(c), Some(p)) = (h.cluster, h.profile) {
                let _ = write!(s, " cluster 0x{c:04x} profile 0x{p:04x}");
            }
            if let Some(z) = &a.zdo {
                let _ = write!(s, " ZDO {}", z.name());
                if let ZdoMessage::DeviceAnnce(d) = z {
                    let _ = write!(s, " ({} {})", d.nwk_addr, d.ieee);
                }
            }
        }
        (None, t) => {
            let _ = write!(s, "APS {}", aps_type(t));
        }
    }
    if let Some(sec) = &a.security {
        sec_text(s, sec);
    }
}

/// A one-line human description of a frame.
pub fn summary(d: &Dissection) -> String {
    let mut s = String::new();
    if let Some(h) = &d.mac {
        let (src, dst) = (h.src_addr, h.dst_addr);
        match (&d.mac_command, h.frame_type) {
            (Some(c), _) => {
                let _ = write!(s, "MAC {} {src} → {dst}", c.name());
            }
            (None, FrameType::Ack) => {
                let _ = write!(s, "MAC Ack");
            }
            (None, FrameType::Beacon) => {
                let _ = write!(s, "MAC Beacon {src}");
                if let Some(b) = &d.beacon {
                    if b.association_permit {
                        s.push_str(" (permit join)");
                    }
                }
            }
            (None, _) => {
                let _ = write!(s, "MAC {src} → {dst}");
            }
        }
    }
    if let Some(n) = &d.nwk {
        // Show the IEEE addresses the frame itself carries (NWK header, or the aux header).
        let src64 = n.src_ieee.or_else(|| d.nwk_security.as_ref().and_then(|x| x.aux.source));
        let _ = write!(s, " | NWK {}", n.src);
        if let Some(e) = src64 {
            let _ = write!(s, " ({e})");
        }
        let _ = write!(s, " → {}", n.dst);
        if let Some(e) = n.dst_ieee {
            let _ = write!(s, " ({e})");
        }
        if let Some(c) = &d.nwk_command {
            let _ = write!(s, " {}", c.name());
        }
        if let Some(sec) = &d.nwk_security {
            sec_text(&mut s, sec);
        }
    }
    if let Some(a) = &d.aps {
        s.push_str(" | ");
        aps_text(a, &mut s);
    }
    if let Some(t) = &d.tunnel {
        s.push_str(" | tunnelled: ");
        aps_text(t, &mut s);
    }
    if let Some(e) = &d.error {
        let _ = write!(s, " | error: {e}");
    }
    s
}

fn text_line(
    rec: &CaptureRecord,
    d: Option<&Dissection>,
    t0: zigtrust_capture::Timestamp,
    line: &mut String,
) {
    let rel = (rec.timestamp.secs - t0.secs) as f64
        + (rec.timestamp.nanos as f64 - t0.nanos as f64) / 1e9;
    let _ = write!(line, "{:>6} {:>11.6} ", rec.number, rel);
    match (&rec.content, d) {
        (RecordContent::Frame(f), Some(d)) => {
            line.push_str(&summary(d));
            if !f.fcs.is_trustworthy() {
                line.push_str(" [bad FCS: not decoded]");
            }
        }
        (RecordContent::Skipped(r), _) => {
            let _ = write!(line, "(not an 802.15.4 frame: {r})");
        }
        _ => {}
    }
}
