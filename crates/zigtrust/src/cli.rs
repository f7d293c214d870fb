//! Argument parsing and dispatch, and the key arguments every capture command shares.

use crate::exit;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use zigtrust_crypto::{InstallCodePayload, Key};
use zigtrust_wire::dissect::{KeySource, Keyring};
use zigtrust_wire::ExtAddr;

#[derive(Parser, Debug)]
#[command(name = "zigtrust", version, about = "Zigbee Trust Center security tools", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check an install code (hex or QR/text payload) and print the link key it derives.
    Installcode(crate::installcode::Args),
    /// Decode a capture: one line per frame, decrypting with the keys it knows or learns.
    Decode(crate::decode::Args),
    /// Export or import the store as an Open ZigBee Coordinator Backup (zigpy / Zigbee2MQTT JSON).
    Backup(crate::backup::Args),
    /// Audit captures for leaked keys, legacy joins, spoofed rejoins, replays (one report).
    Audit(crate::audit::Args),
    /// Simulate a Zigbee network with the real Trust Center, device models and an attacker.
    Sim(crate::sim::Args),
    /// Run the hub daemon: the Trust Center with its store, an HTTP API and a web page.
    Serve(crate::serve::Args),
}

/// The keys a command reading captures is given (`decode`, `audit`): flattened into each.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// A network or link key (32 hex digits, separators allowed), tried in both roles.
    /// Repeatable.
    #[arg(long = "key", value_name = "HEX", value_parser = parse_key)]
    pub keys: Vec<Key>,
    /// A device's install code, as EUI64:CODE or any form `installcode` accepts that names the
    /// device (QR/text payloads, `<IEEE>|<code>`, …): its derived link key. Repeatable.
    #[arg(long = "install-code", value_name = "EUI64:CODE", value_parser = parse_install_code)]
    pub install_codes: Vec<DeviceInstallCode>,
}

/// A device's install code from `--install-code`: the device and its derived link key.
#[derive(Debug, Clone)]
pub struct DeviceInstallCode {
    pub ieee: ExtAddr,
    pub link_key: Key,
}

fn parse_key(s: &str) -> Result<Key, String> {
    Key::from_hex(s).map_err(|e| e.to_string())
}

fn parse_install_code(s: &str) -> Result<DeviceInstallCode, String> {
    let p = InstallCodePayload::parse(s).map_err(|e| e.to_string())?;
    // A link key is useful only with the device it belongs to.
    let ieee = p.ieee.ok_or(
        "give the device as EUI64:CODE (e.g. 00:12:4b:00:01:02:03:04:83FE…) or a form that names it",
    )?;
    Ok(DeviceInstallCode { ieee: ExtAddr(ieee), link_key: p.code.link_key() })
}

impl KeyArgs {
    /// The keyring to decode with: the given keys (the well-known key is always tried too).
    pub fn keyring(&self) -> Keyring {
        let mut ring = Keyring::new();
        for k in &self.keys {
            ring.add_key(k.clone(), KeySource::Given);
        }
        for ic in &self.install_codes {
            ring.add_link_key(ic.link_key.clone(), KeySource::InstallCode { ieee: ic.ieee });
        }
        ring
    }
}

/// Parses `args` (including argv[0]), runs the command and returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::BAD_INPUT } else { exit::OK };
            let _ = e.print();
            return code;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Installcode(a) => crate::installcode::run(&a, &mut out),
        Command::Decode(a) => crate::decode::run(&a, &mut out),
        Command::Backup(a) => crate::backup::run(&a, &mut out),
        Command::Sim(a) => crate::sim::run_cmd(&a, &mut out),
        Command::Serve(a) => crate::serve::run(&a, &mut out),
        Command::Audit(a) => crate::audit::run(&a, &mut out),
    }
}
