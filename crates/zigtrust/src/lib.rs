//! zigtrust: the command-line shell around the zigtrust crates.
//!
//! - [`backup`]: `zigtrust backup export|import` (Open ZigBee Coordinator Backup JSON).
//! - [`hub`]: the I/O shell that runs the Trust Center core on its SQLite store.
//! - [`cli`]: argument parsing and dispatch (`zigtrust <subcommand>`).
//! - [`installcode`]: `zigtrust installcode`.
//! - [`decode`]: `zigtrust decode`.
//! - [`audit`]: `zigtrust audit` (security findings and inventory of captures).
//! - [`sim`]: `zigtrust sim` / `zigtrust sim matrix` (the network simulator).
//! - [`serve`]: `zigtrust serve`, the hub daemon (Trust Center, HTTP API, web page).
#![forbid(unsafe_code)]

pub mod audit;
pub mod backup;
pub mod cli;
pub mod crashtest;
pub mod decode;
pub mod installcode;
pub mod json;
pub mod serve;
pub mod sim;

/// Exit codes shared by every subcommand.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The command ran and found something (e.g. `audit --fail-on`).
    pub const FINDINGS: i32 = 1;
    /// Bad input or usage: unreadable file, corrupt capture, invalid key or install code.
    pub const BAD_INPUT: i32 = 2;
}
