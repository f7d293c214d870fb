//! Browser end-to-end test of `zigtrust serve`: e2e/serve.mjs drives Debian's chromium with
//! playwright-core through the whole user story (log in, check the network map, scan a Z3.0
//! device's install-code QR label with a fake camera and add it, open permit join and see it
//! join, set insecure rejoin to deny, rotate the key and watch every device confirm, switch the
//! attacker on and see the spoof alert and the security timeline, download the backup, and the
//! map of a 40-device network). Screenshots land in test-output/e2e/. Fails, not skips, without
//! node or chromium (scripts/test installs them).

use std::path::Path;
use std::process::Command;

#[test]
fn the_web_page_end_to_end_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for module in ["playwright-core", "qrcode"] {
        assert!(
            root.join(format!("e2e/node_modules/{module}/package.json")).exists(),
            "{module} is missing: run `(cd e2e && npm ci)` (scripts/test does)"
        );
    }
    let out = Command::new("node")
        .current_dir(&root)
        .arg("e2e/serve.mjs")
        .env("ZIGTRUST_BIN", env!("CARGO_BIN_EXE_zigtrust"))
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "e2e failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("E2E OK"), "{stdout}\n{stderr}");
    println!("{stdout}");
    let dir = root.join("test-output/e2e");
    for step in [
        "-login.png",
        "-network-map.png",
        "-qr-scan.png",
        "-device-joined.png",
        "-rotation-confirmed.png",
        "-spoof-alert.png",
        "-security-timeline.png",
        "-network-map-40-devices.png",
    ] {
        let found = std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().ends_with(step)
                && e.metadata().is_ok_and(|m| m.len() > 10_000)
        });
        assert!(found, "no screenshot *{step} in {}", dir.display());
    }
}
