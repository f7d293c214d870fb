//! zigbee-on-host (npm, GPL-3.0, an independent TypeScript Zigbee codec and CCM*) as an oracle,
//! run as a separate node process through the scripts in `oracles/zoh/` — nothing of it is
//! linked in. Fails the test when node or the package is missing (`scripts/test` installs
//! them).

use serde_json::Value;

/// Runs `oracles/zoh/<script>` with `input` as JSON on stdin; returns its JSON Lines output.
pub fn run(script: &str, input: Option<&Value>) -> Vec<Value> {
    let path = crate::repo_root().join("oracles/zoh").join(script);
    let input = input.map(Value::to_string).unwrap_or_default();
    let what = "zigbee-on-host, in oracles/zoh";
    let out = crate::run_script("node", &path, input.as_bytes(), what);
    String::from_utf8(out)
        .expect("the oracle prints UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{script}: bad JSON {l}: {e}")))
        .collect()
}
