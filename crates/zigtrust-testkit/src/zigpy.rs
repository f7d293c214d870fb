//! zigpy (PyPI, an independent Python Zigbee stack) as an oracle, run as a separate python3
//! process through the scripts in `oracles/zigpy/`. Fails the test when python3 or zigpy is
//! missing (`scripts/test` installs them).

use serde_json::Value;

/// Runs `oracles/zigpy/<script>` with `request` as JSON on stdin; returns the JSON it prints.
pub fn run(script: &str, request: &Value) -> Value {
    let path = crate::repo_root().join("oracles/zigpy").join(script);
    let out = crate::run_script("python3", &path, request.to_string().as_bytes(), "zigpy");
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{script}: bad JSON ({e}): {}", String::from_utf8_lossy(&out)))
}
