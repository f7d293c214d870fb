//! zigtrust: the command-line shell around the zigtrust crates — arguments in, output out (text,
//! JSON, and the daemon's HTTP API and page). The logic lives in the library crates (the hub in
//! `zigtrust-hub`); test support (the frame corpus, scripted devices, oracle runners) in
//! `zigtrust-testkit`, which is never shipped.
//!
//! - [`backup`]: `zigtrust backup export|import` (Open ZigBee Coordinator Backup JSON).
//! - [`cli`]: argument parsing and dispatch (`zigtrust <subcommand>`), and the key arguments
//!   shared by `decode` and `audit`.
//! - [`installcode`]: `zigtrust installcode`.
//! - [`decode`]: `zigtrust decode`.
//! - [`audit`]: `zigtrust audit` (security findings and inventory of captures).
//! - [`sim`]: `zigtrust sim` / `zigtrust sim matrix` (the network simulator).
//! - [`serve`]: `zigtrust serve`, the hub daemon (Trust Center, HTTP API, web page).
#![forbid(unsafe_code)]

pub mod audit;
pub mod backup;
pub mod cli;
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
