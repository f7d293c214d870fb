//! tshark (Wireshark's dissectors, written by others) as an oracle: reads a capture with the
//! keys and preferences given on its command line, isolated from any user profile, and returns
//! the requested fields per frame (`-T fields`). Fails the test when tshark is missing or fails.

use std::collections::HashMap;
use std::ops::Index;
use std::path::Path;
use std::process::Command;

/// How one tshark run is set up: keys for its Zigbee key table, other preferences, and a
/// display filter.
#[derive(Debug, Clone, Default)]
pub struct Tshark {
    keys: Vec<String>,
    prefs: Vec<String>,
    filter: Option<String>,
}

/// One frame's fields. A field tshark found several times holds every occurrence joined by
/// `,` (see [`Row::list`]); a field it did not find is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    fields: HashMap<String, String>,
}

impl Row {
    /// Every occurrence of `field` (none when empty).
    pub fn list(&self, field: &str) -> Vec<String> {
        let v = &self[field];
        if v.is_empty() {
            Vec::new()
        } else {
            v.split(',').map(str::to_string).collect()
        }
    }
}

impl Index<&str> for Row {
    type Output = String;

    /// Panics for a field that was not asked for: a bug in the test.
    fn index(&self, field: &str) -> &String {
        self.fields.get(field).unwrap_or_else(|| panic!("tshark field {field} was not requested"))
    }
}

impl Tshark {
    pub fn new() -> Tshark {
        Tshark::default()
    }

    /// Adds keys (hex) to the Zigbee key table, tried for network and link layers alike.
    pub fn keys<S: AsRef<str>>(mut self, keys: impl IntoIterator<Item = S>) -> Tshark {
        self.keys.extend(keys.into_iter().map(|k| k.as_ref().to_string()));
        self
    }

    /// Sets a preference, e.g. `("zbee_nwk.seclevel", "AES-128 Encryption, …")`.
    pub fn pref(mut self, name: &str, value: &str) -> Tshark {
        self.prefs.push(format!("{name}:{value}"));
        self
    }

    /// Only frames matching this display filter (`-Y`).
    pub fn filter(mut self, filter: &str) -> Tshark {
        self.filter = Some(filter.to_string());
        self
    }

    /// Reads `capture` and returns `fields` for every frame (every occurrence of a field,
    /// joined by `,`).
    pub fn fields(&self, capture: &Path, fields: &[&str]) -> Vec<Row> {
        let mut cmd = Command::new("tshark");
        // An empty configuration directory: no user profile, key table or preference leaks in.
        cmd.env("WIRESHARK_CONFIG_DIR", crate::scratch("empty-wireshark-profile"));
        cmd.arg("-r").arg(capture);
        for p in &self.prefs {
            cmd.arg("-o").arg(p);
        }
        for (i, k) in self.keys.iter().enumerate() {
            cmd.arg("-o").arg(format!("uat:zigbee_pc_keys:\"{k}\",\"Normal\",\"k{i}\""));
        }
        if let Some(f) = &self.filter {
            cmd.args(["-Y", f]);
        }
        cmd.args([
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ]);
        for f in fields {
            cmd.args(["-e", f]);
        }
        let out = cmd.output().expect("tshark must be installed (scripts/test installs it)");
        assert!(
            out.status.success(),
            "tshark failed on {}: {}",
            capture.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("tshark prints UTF-8")
            .lines()
            .map(|l| {
                let mut values = l.split('\t');
                let fields = fields
                    .iter()
                    .map(|f| (f.to_string(), values.next().unwrap_or("").to_string()))
                    .collect();
                Row { fields }
            })
            .collect()
    }
}

/// A key as tshark prints it (`aa:bb:…`, any case) in our hex form (`aabb…`, lower case).
pub fn key_hex(k: &str) -> String {
    k.replace(':', "").to_ascii_lowercase()
}
