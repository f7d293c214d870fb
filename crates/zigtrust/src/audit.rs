//! `zigtrust audit CAPTURE... [--key HEX]... [--install-code EUI64:CODE]... [--json]
//! [--fail-on SEVERITY]`
//!
//! Audits captures as one stream (keys learned in one capture apply to the next; frame numbers
//! continue across captures) with [`zigtrust_audit::Auditor`]: a human summary, or one JSON
//! document with `--json`. Exit 0, 1 when a finding at or above `--fail-on` exists, 2 on bad
//! input (the report of what was read is still printed).

use crate::cli::KeyArgs;
use crate::exit;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use zigtrust_audit::{Auditor, Finding, Report, Severity};
use zigtrust_capture::{CaptureReader, RecordContent};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Capture files (pcap / pcapng, any format `decode` reads), audited in order as one stream.
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// One JSON document on stdout (field names in the README).
    #[arg(long)]
    pub json: bool,
    /// Exit 1 if a finding of this severity or worse exists (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("{s:?}: one of info, low, medium, high, critical"))
}

struct CaptureSpan {
    path: String,
    first_frame: u64,
    records: u64,
}

pub fn run(args: &Args, out: &mut dyn Write) -> i32 {
    let mut auditor = Auditor::new(args.keys.keyring());
    let mut spans = Vec::new();
    let mut error: Option<(String, String)> = None;
    let mut base = 0u64;
    'files: for path in &args.captures {
        let name = path.display().to_string();
        let reader = match CaptureReader::open(path) {
            Ok(r) => r,
            Err(e) => {
                error = Some((name, e.to_string()));
                break;
            }
        };
        let mut span = CaptureSpan { path: name.clone(), first_frame: base + 1, records: 0 };
        for rec in reader {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    spans.push(span);
                    error = Some((name, e.to_string()));
                    break 'files;
                }
            };
            span.records = rec.number;
            if let RecordContent::Frame(f) = &rec.content {
                let t = rec.timestamp.secs.saturating_mul(1_000_000)
                    + i64::from(rec.timestamp.nanos / 1000);
                auditor.feed(base + rec.number, t, &f.psdu, f.fcs.is_trustworthy());
            }
        }
        base += span.records;
        spans.push(span);
    }
    let report = auditor.report();
    let text = if args.json {
        let mut s = serde_json::to_string(&json_report(&report, &spans, error.as_ref()))
            .expect("serializable");
        s.push('\n');
        s
    } else {
        human(&report, &spans)
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    if let Some((path, e)) = &error {
        eprintln!("zigtrust audit: {path}: {e}");
        return exit::BAD_INPUT;
    }
    match (args.fail_on, report.worst()) {
        (Some(f), Some(w)) if w >= f => exit::FINDINGS,
        _ => exit::OK,
    }
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "severity": f.severity.name(),
        "kind": f.kind,
        "ieee": f.ieee.map(|i| i.to_string()),
        "short": f.short.map(|s| s.to_string()),
        "frames": f.frames,
        "count": f.count,
        "explanation": f.explanation,
        "key": f.key,
        "key_seq": f.key_seq,
        "via": f.via,
    })
}

fn json_report(r: &Report, spans: &[CaptureSpan], error: Option<&(String, String)>) -> Value {
    let mut counts = serde_json::Map::new();
    for s in Severity::ALL {
        counts.insert(s.name().into(), json!(r.count(s)));
    }
    let devices: Vec<Value> = r
        .devices
        .iter()
        .map(|d| {
            json!({
                "ieee": d.ieee.to_string(),
                "shorts": d.shorts.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "first_frame": d.first_frame,
                "last_frame": d.last_frame,
                "trust_center": d.trust_center,
                "joined_with_well_known_key": d.joined_with_well_known_key,
                "network_key_received": d.network_key_received,
                "tclk_updated": d.tclk.any(),
                "tclk": {
                    "request_key": d.tclk.request_key,
                    "transport_key": d.tclk.transport_key,
                    "verify_key": d.tclk.verify_key,
                    "confirm_key": d.tclk.confirm_key,
                },
                "secured_frames": d.secured_frames,
                "mic_failures": d.mic_failures,
                "unsecured_rejoins": d.unsecured_rejoins,
            })
        })
        .collect();
    let keys: Vec<Value> = r
        .keys
        .iter()
        .map(|k| {
            json!({
                "key": k.key,
                "role": k.role,
                "source": k.source,
                "install_code_device": k.install_code_device.map(|i| i.to_string()),
                "seq": k.seq,
                "transported_in": k.transported_in,
                "leaked": k.leaked,
                "nwk_frames_decrypted": k.nwk_frames_decrypted,
                "aps_frames_decrypted": k.aps_frames_decrypted,
                "first_decrypted": k.first_decrypted,
            })
        })
        .collect();
    let seqs: Vec<Value> = r
        .key_seqs
        .iter()
        .map(|(s, st)| json!({"seq": s, "frames": st.frames, "decrypted": st.decrypted}))
        .collect();
    let st = &r.stats;
    json!({
        "captures": spans.iter().map(|s| json!({
            "path": s.path, "first_frame": s.first_frame, "records": s.records,
        })).collect::<Vec<_>>(),
        "complete": error.is_none(),
        "error": error.map(|(p, e)| json!({"path": p, "message": e})),
        "counts": counts,
        "findings": r.findings.iter().map(finding_json).collect::<Vec<_>>(),
        "inventory": {
            "devices": devices,
            "keys": keys,
            "key_seqs": seqs,
        },
        "stats": {
            "frames": st.frames,
            "bad_fcs": st.bad_fcs,
            "undecodable": st.undecodable,
            "retransmissions": st.retransmissions,
            "nwk_secured": st.nwk_secured,
            "nwk_decrypted": st.nwk_decrypted,
            "aps_secured": st.aps_secured,
            "aps_decrypted": st.aps_decrypted,
            "devices_truncated": st.devices_dropped,
        },
    })
}

fn human(r: &Report, spans: &[CaptureSpan]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for c in spans {
        let _ = writeln!(
            s,
            "capture {}: {} records (frames {}..{})",
            c.path,
            c.records,
            c.first_frame,
            c.first_frame + c.records.max(1) - 1
        );
    }
    let counts: Vec<String> =
        Severity::ALL.iter().map(|v| format!("{} {}", r.count(*v), v.name())).collect();
    let _ = writeln!(s, "findings: {}", counts.join(", "));
    for f in &r.findings {
        let dev = match (f.ieee, f.short) {
            (Some(i), Some(sh)) => format!(" {i} ({sh})"),
            (Some(i), None) => format!(" {i}"),
            _ => String::new(),
        };
        let frames: Vec<String> = f.frames.iter().map(|n| n.to_string()).collect();
        let more = if f.count > f.frames.len() as u64 { ", …" } else { "" };
        let _ = writeln!(
            s,
            "[{}] {}{}: {} (frames {}{more})",
            f.severity.name().to_uppercase(),
            f.kind,
            dev,
            f.explanation,
            frames.join(", ")
        );
    }
    let _ = writeln!(s, "devices ({}):", r.devices.len());
    for d in &r.devices {
        let shorts: Vec<String> = d.shorts.iter().map(|x| x.to_string()).collect();
        let _ = writeln!(
            s,
            "  {} shorts [{}]{}{} tclk-updated={} secured-frames={} mic-failures={}",
            d.ieee,
            shorts.join(" "),
            if d.trust_center { " trust-center" } else { "" },
            if d.joined_with_well_known_key { " joined-with-well-known-key" } else { "" },
            d.tclk.any(),
            d.secured_frames,
            d.mic_failures
        );
    }
    let _ = writeln!(s, "keys ({}):", r.keys.len());
    for k in &r.keys {
        let _ = writeln!(
            s,
            "  {} {} {}{}{} leaked={} decrypted nwk={} aps={}",
            k.key,
            k.role,
            k.source,
            k.seq.map_or(String::new(), |q| format!(" seq {q}")),
            k.transported_in.map_or(String::new(), |f| format!(" from frame {f}")),
            k.leaked,
            k.nwk_frames_decrypted,
            k.aps_frames_decrypted
        );
    }
    for (q, st) in &r.key_seqs {
        let _ = writeln!(
            s,
            "key seq {q}: {} NWK-secured frames, {} decrypted",
            st.frames, st.decrypted
        );
    }
    let st = &r.stats;
    let _ = writeln!(
        s,
        "frames {}: bad FCS {}, retransmissions {}, NWK secured {} (decrypted {}), APS secured {} (decrypted {})",
        st.frames, st.bad_fcs, st.retransmissions, st.nwk_secured, st.nwk_decrypted, st.aps_secured, st.aps_decrypted
    );
    s
}
