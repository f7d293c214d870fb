//! Argument parsing and dispatch.

use crate::exit;
use clap::{Parser, Subcommand};
use std::ffi::OsString;

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
