//! Oracle test: install-code CRC checking and link-key derivation agree with zigpy
//! (`zigpy.util.convert_install_code`, `parse_install_code_qr`), an independent implementation.
//! Runs `python3 oracles/zigpy/installcodes.py`; fails (never skips) if python3 or zigpy is
//! missing — `scripts/test` installs them.

use zigtrust_crypto::{crc16_x25, hex, InstallCode, InstallCodePayload};

fn zigpy(request: &serde_json::Value) -> serde_json::Value {
    zigtrust_testkit::zigpy::run("installcodes.py", request)
}

#[test]
fn install_codes_agree_with_zigpy() {
    // Deterministic pseudo-random codes of every length, with good and corrupted CRCs.
    let mut seed = 0x9e37_79b9u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as u8
    };
    let mut codes = Vec::new();
    for i in 0..200 {
        let len = [6, 8, 12, 16][i % 4];
        let mut c: Vec<u8> = (0..len).map(|_| next()).collect();
        c.extend_from_slice(&crc16_x25(&c).to_le_bytes());
        if i % 5 == 4 {
            let at = i % c.len();
            c[at] ^= 0x10; // corrupt: both sides must reject
        }
        codes.push(hex(&c));
    }
    codes.push("83fed3407a939723a5c639b26916d505".into()); // no CRC
    codes.push("83fed3407a939723a5c639b26916d505c3".into()); // odd length
    let code = "83FED3407A939723A5C639B26916D505C3B5";
    let qr = vec![
        format!("Z:00124B0001020304$I:{code}"),
        format!("Z:00124B0001020304$I:{code}$S:1234$P:Foo"),
        format!("G$M:lumi.x$A:00124B0001020304$I:{code}"),
        format!("00124B0001020304|{code}"),
        format!("HUE:Z:{code} M:00124B0001020304 D:V1"),
        format!("RB01SG{}00124B0001020304DLK{code}", "0".repeat(34)),
        format!("RB01SG{}2007A716004B1200DLK{code}", "0".repeat(34)),
        // Printed byte-reversed (ends in 16:A7:20): zigpy flips it back.
        format!("RB01SG{}040302010016A720DLK{code}", "0".repeat(34)),
    ];
    let resp = zigpy(&serde_json::json!({ "codes": codes, "qr": qr }));
    let mut rejected = 0;
    for r in resp["codes"].as_array().unwrap() {
        let code = r["code"].as_str().unwrap();
        let ours = InstallCode::from_hex(code);
        match r["key"].as_str() {
            Some(key) => assert_eq!(ours.unwrap().link_key().to_hex(), key, "{code}"),
            None => {
                rejected += 1;
                assert!(ours.is_err(), "zigpy rejected {code} ({}) but we accepted", r["error"]);
            }
        }
    }
    assert_eq!(rejected, 42, "40 corrupted codes + 2 malformed must be rejected by both");
    for r in resp["qr"].as_array().unwrap() {
        let text = r["qr"].as_str().unwrap();
        assert!(r["error"].is_null(), "zigpy failed on {text}: {}", r["error"]);
        let ours = InstallCodePayload::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(ours.code.link_key().to_hex(), r["key"].as_str().unwrap(), "{text}");
        let ieee = format!("{:016x}", ours.ieee.unwrap());
        let zig = r["ieee"].as_str().unwrap().replace(':', "");
        assert_eq!(ieee, zig, "{text}");
    }
}
