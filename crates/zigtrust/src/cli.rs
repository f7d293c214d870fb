//! Argument parsing and dispatch, and the key arguments every capture command shares.

use crate::exit;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use zigtrust_crypto::{InstallCodePayload, Key};
use zigtrust_wire::dissect::{KeySource, Keyring};
use zigtrust_wire::{ExtAddr, PanId};

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
    ///
    /// At first start it forms the network and stores it: on channel 15 with random PAN ids
    /// unless --channel, --pan-id and --extended-pan-id name them. Later starts serve the stored
    /// network; options naming another one exit 2.
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

/// `--channel`: a channel, or `auto` for one chosen by an energy scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelChoice {
    /// A 2.4 GHz 802.15.4 channel, 11-26 (the only band the radios we drive have).
    Channel(u8),
    /// The quietest of the channels Zigbee shares best with Wi-Fi, measured by the radio.
    Auto,
}

/// `--channel`: 11-26 or `auto`.
pub fn parse_channel(s: &str) -> Result<ChannelChoice, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("auto") {
        return Ok(ChannelChoice::Auto);
    }
    match t.parse::<u8>() {
        Ok(c) if (11..=26).contains(&c) => Ok(ChannelChoice::Channel(c)),
        _ => Err("a Zigbee channel is 11-26 (2.4 GHz), or auto".to_string()),
    }
}

/// `--pan-id`: hex with `0x` (`0x1a62`, as tools print it) or decimal (`6754`, as
/// Zigbee2MQTT's configuration holds it). Bare digits are decimal, so `1a62` is refused rather
/// than guessed. 0xffff is the broadcast PAN id: every device would take it for "any network".
pub fn parse_pan_id(s: &str) -> Result<PanId, String> {
    let t = s.trim();
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u16::from_str_radix(h, 16).ok(),
        None => t.parse::<u16>().ok(),
    };
    match v {
        Some(0xffff) => Err("0xffff is the broadcast PAN id, not a network's".to_string()),
        Some(p) => Ok(PanId(p)),
        None => {
            Err("a PAN id is 0x0000-0xfffe, in hex with 0x (0x1a62) or decimal (6754)".to_string())
        }
    }
}

/// `--extended-pan-id`: 16 hex digits, separators allowed (`dd:dd:dd:dd:dd:dd:dd:dd`, as
/// zigpy's backups write it). All zeros and all ones are refused: stacks read them as "none"
/// and "any network".
pub fn parse_extended_pan_id(s: &str) -> Result<u64, String> {
    let v = s
        .parse::<ExtAddr>()
        .map_err(|_| "an extended PAN id is 16 hex digits, separators allowed".to_string())?
        .0;
    match v {
        0 | u64::MAX => {
            Err("all zeros and all ones are reserved (\"none\", \"any network\")".to_string())
        }
        v => Ok(v),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_the_2_4_ghz_ones() {
        assert_eq!(parse_channel("11"), Ok(ChannelChoice::Channel(11)));
        assert_eq!(parse_channel("26"), Ok(ChannelChoice::Channel(26)));
        assert_eq!(parse_channel("auto"), Ok(ChannelChoice::Auto));
        for bad in ["10", "27", "0", "256", "-1", "", "15.0", "automatic"] {
            assert!(parse_channel(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pan_ids_are_hex_with_0x_or_decimal_and_never_broadcast() {
        assert_eq!(parse_pan_id("0x1a62"), Ok(PanId(0x1a62)));
        assert_eq!(parse_pan_id("0X1A62"), Ok(PanId(0x1a62)));
        assert_eq!(parse_pan_id("6754"), Ok(PanId(0x1a62)));
        assert_eq!(parse_pan_id("0xfffe"), Ok(PanId(0xfffe)));
        assert_eq!(parse_pan_id("0"), Ok(PanId(0)));
        for bad in ["0xffff", "65535", "0x10000", "65536", "1a62", "0x", "", "-1", "0x-1"] {
            assert!(parse_pan_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extended_pan_ids_are_eight_bytes_and_not_reserved() {
        assert_eq!(parse_extended_pan_id("dd:dd:00:00:00:00:12:34"), Ok(0xdddd_0000_0000_1234));
        assert_eq!(parse_extended_pan_id("0xDDDD000000001234"), Ok(0xdddd_0000_0000_1234));
        for bad in ["0000000000000000", "ff:ff:ff:ff:ff:ff:ff:ff", "dd:dd", "", "zz"] {
            assert!(parse_extended_pan_id(bad).is_err(), "{bad}");
        }
    }
}
