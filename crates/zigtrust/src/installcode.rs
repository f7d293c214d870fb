//! `zigtrust installcode CODE [--json]`: validate an install code and derive its link key.

use crate::exit;
use serde_json::json;
use std::io::Write;
use zigtrust_crypto::{hex, InstallCodePayload};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Install code: hex with or without separators (`83FE D340 …`, `83:FE:…`), or a QR/text
    /// payload (`Z:<IEEE>$I:<code>`, `<IEEE>|<code>`, `HUE:Z:<code> M:<IEEE>`, …).
    pub code: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, out: &mut dyn Write) -> i32 {
    match InstallCodePayload::parse(&args.code) {
        Ok(p) => {
            let key = p.code.link_key();
            let ieee = p.ieee.map(|v| zigtrust_wire::ExtAddr(v).to_string());
            let r = if args.json {
                let v = json!({
                    "install_code": hex(p.code.as_bytes()),
                    "format": p.format.name(),
                    "ieee": ieee,
                    "code_bytes": p.code.secret_len(),
                    "crc": hex(&p.code.crc_bytes()),
                    "crc_ok": true,
                    "link_key": key.to_hex(),
                });
                writeln!(out, "{v}")
            } else {
                let mut s = format!(
                    "install code: {} ({} code bytes + CRC, {} form)\n",
                    hex(p.code.as_bytes()),
                    p.code.secret_len(),
                    p.format.name()
                );
                if let Some(i) = &ieee {
                    s += &format!("device IEEE:  {i}\n");
                }
                s += &format!("CRC:          ok ({})\n", hex(&p.code.crc_bytes()));
                s += &format!("link key:     {}\n", key.to_hex());
                write!(out, "{s}")
            };
            if r.is_err() {
                return exit::BAD_INPUT;
            }
            exit::OK
        }
        Err(e) => {
            if args.json {
                let crc_ok = match &e {
                    zigtrust_crypto::InstallCodeError::BadCrc { .. } => json!(false),
                    _ => serde_json::Value::Null,
                };
                let _ = writeln!(out, "{}", json!({ "error": e.to_string(), "crc_ok": crc_ok }));
            }
            eprintln!("zigtrust installcode: {e}");
            exit::BAD_INPUT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_str(code: &str, json: bool) -> (i32, String) {
        let mut out = Vec::new();
        let rc = run(&Args { code: code.into(), json }, &mut out);
        (rc, String::from_utf8(out).unwrap())
    }

    #[test]
    fn ok_text_and_json() {
        let (rc, s) = run_str("83FED3407A939723A5C639B26916D505C3B5", false);
        assert_eq!(rc, 0);
        assert!(s.contains("link key:     66b6900981e1ee3ca4206b6b861c02bb"), "{s}");
        let (rc, s) = run_str("Z:00124B0001020304$I:83FED3407A939723A5C639B26916D505C3B5", true);
        assert_eq!(rc, 0);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["link_key"], "66b6900981e1ee3ca4206b6b861c02bb");
        assert_eq!(v["ieee"], "00:12:4b:00:01:02:03:04");
        assert_eq!(v["crc_ok"], true);
    }

    #[test]
    fn bad_crc_and_length_exit_2() {
        let (rc, s) = run_str("83FED3407A939723A5C639B26916D505C3B6", true);
        assert_eq!(rc, 2);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["crc_ok"], false);
        assert!(v["error"].as_str().unwrap().contains("CRC"));
        assert_eq!(run_str("83FED3407A93", false).0, 2);
    }
}
