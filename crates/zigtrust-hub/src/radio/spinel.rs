//! `--radio spinel+hdlc+…`: an OpenThread radio co-processor (`ot-rcp` firmware) driven over
//! Spinel in HDLC-lite framing, the way OpenThread's own host and zigbee-on-host drive it.
//!
//! The RCP is a bare 802.15.4 radio: it filters frames by PAN and address, ACKs them in time
//! (with frame-pending from its source-match table when a child polls), and transmits with
//! CSMA-CA and MAC retries. Everything above that is the host's, here:
//!
//! - **Startup:** `CMD_RESET`, wait for `LAST_STATUS = RESET_*`, then check
//!   `PROTOCOL_VERSION` (major 4) and `RCP_API_VERSION` (at least
//!   [`MIN_RCP_API_VERSION`]; a firmware without it is an NCP or something else, and
//!   [`SpinelRadio::open`] says what it saw), and read `NCP_VERSION` and `HWADDR`.
//! - **[`Radio::configure`]:** `PHY_ENABLED`, `PHY_CHAN`, `MAC_15_4_PANID`,
//!   `MAC_15_4_SADDR` (0x0000), `MAC_15_4_LADDR` (the coordinator's IEEE address),
//!   `MAC_RAW_STREAM_ENABLED`, `MAC_SRC_MATCH_ENABLED`, then both source-match tables as a whole;
//!   each answer is checked against what was set. With `tx-power=<dBm>` in the URL,
//!   `PHY_TX_POWER` too (after the channel, and once already at open), read back as the RCP
//!   reports it (it may clamp the value to what its hardware can do):
//!   [`SpinelStatus::tx_power`]. Without it the firmware's default stays.
//! - **[`Radio::transmit`]:** `STREAM_RAW` with a nonzero TID and the PSDU plus two FCS bytes
//!   the radio fills; one transmit outstanding at a time, the rest queued; the transmit-done
//!   (OK, NO_ACK, CCA_FAILURE, …) is recorded in [`SpinelStatus`] and [`TxReport`]s, as on air
//!   (a lost frame's counters are never reused). Frames marked [`Transmit::indirect`] wait in an
//!   [`IndirectQueue`] per destination, and the RCP's **source-match table follows that queue**:
//!   the destination's short or extended address is INSERTed when its first frame starts
//!   waiting and REMOVEd when its last one is sent or expires, so the RCP sets frame-pending in
//!   its ACK to exactly the children something waits for. The child's MAC Data Request then
//!   releases its oldest frame (ahead of other queued frames) — when the RCP reports that it
//!   ACKed that poll with frame-pending, as OpenThread's own host requires: a child told
//!   "nothing pending" has gone back to sleep, and its frame waits for the next poll.
//! - **[`Radio::receive`]:** unsolicited `STREAM_RAW` frames, FCS stripped, with RSSI and LQI;
//!   beacon requests are answered with the coordinator's beacon (permit-join bit included) and
//!   data requests with held frames, here, without waiting for the hub.
//! - **Recovery:** an unexpected `RESET_*` from the RCP, a dead RCP process or serial link, or a
//!   transmit-done that never comes makes the radio re-open the link (respawn the process,
//!   reopen the device), redo the handshake and re-apply the configuration and the source-match
//!   table; [`Radio::take_events`] then reports one [`RadioEvent`] saying what was seen (an
//!   unexpected reset with its status, a lost link, a stuck transmit), when, how many frames
//!   were lost and that the configuration was re-applied — or, when re-opening fails, one
//!   [`RadioIncident::Down`] per outage while it keeps retrying — and
//!   [`SpinelStatus::recoveries`] counts it. Frame counters are the core's: nothing is re-sent;
//!   frames in flight or queued at the fault, and direct frames refused while the RCP is down,
//!   are counted lost.
//!
//! All Spinel traffic runs on a driver thread of the radio's own (plus one thread reading the
//! link), so the RCP's answers, data requests and beacon requests are handled within
//! milliseconds whatever the hub's polling pace; the [`Radio`] methods only exchange messages
//! with it.
//!
//! Links ([`Transport`]): `spinel+hdlc+forkpty:///path/to/ot-rcp?forkpty-arg=1` spawns the
//! program with the `forkpty-arg` values as its arguments and its stdin/stdout (pipes) as the
//! UART; `spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800` opens a serial device, set to
//! the baud rate and raw mode with `stty`.

use super::indirect::IndirectQueue;
use super::{
    coordinator_beacon, Radio, RadioConfig, RadioError, RadioEvent, RadioFault, RadioIncident,
    Received,
};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use zigtrust_spinel::{
    hdlc, Command, Eui64, Frame, Prop, PropOp, PropValue, ResetType, RxFrame, Status, TxMetadata,
    TxRequest,
};
use zigtrust_tc::model::Millis;
use zigtrust_tc::{RxMeta, Transmit};
use zigtrust_wire::mac::{Address, MacBody, MacCommand, MacFrame};

/// The Spinel protocol major version this driver speaks.
pub const PROTOCOL_MAJOR: u32 = 4;
/// The oldest `RCP_API_VERSION` accepted (OpenThread's own host accepts 4 and up; OpenThread
/// at 590c56e reports 11).
pub const MIN_RCP_API_VERSION: u32 = 4;
/// Serial speeds `uart-baudrate` may take (the standard termios rates).
pub const BAUD_RATES: [u32; 19] = [
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600,
    1000000, 1152000, 1500000, 2000000, 3000000, 4000000,
];
/// `uart-baudrate` when the URL gives none (OpenThread's default).
pub const DEFAULT_BAUD: u32 = 115200;
/// How many [`TxReport`]s are kept until [`SpinelRadio::take_tx_reports`] takes them.
pub const MAX_TX_REPORTS: usize = 1024;
/// The `tx-power` values accepted, in dBm: what 2.4 GHz 802.15.4 radios offer (nRF52840
/// -40 to +8, EFR32MG21 and CC2652P up to +20); the RCP clamps a value its own hardware
/// cannot do, and reports what it set.
pub const TX_POWER_DBM: std::ops::RangeInclusive<i8> = -40..=20;
/// `SPINEL_PROP_PHY_TX_POWER` (`SPINEL_PROP_PHY__BEGIN + 5`, type `c`: a signed byte, dBm) in
/// OpenThread's `spinel.h`; GET reports the power in use (the set value, capped at the
/// channel's maximum).
const PROP_PHY_TX_POWER: u32 = 0x25;
/// How many [`RadioEvent`]s are kept until [`Radio::take_events`] takes them (the oldest go
/// first).
pub const MAX_EVENTS: usize = 64;

// Energy scan (`spinel.h`), which this driver speaks through [`PropValue::Other`]: the RCP
// scans one channel (the only bit of SCAN_MASK) for SCAN_PERIOD ms once SCAN_STATE is set to
// ENERGY, then reports `MAC_ENERGY_SCAN_RESULT` (`Cc`: channel, max RSSI in dBm) unprompted.
const PROP_MAC_SCAN_STATE: u32 = 0x30;
const PROP_MAC_SCAN_MASK: u32 = 0x31;
const PROP_MAC_SCAN_PERIOD: u32 = 0x32;
const PROP_MAC_ENERGY_SCAN_RESULT: u32 = 0x39;
const SCAN_STATE_ENERGY: u8 = 2;
/// `OT_RADIO_RSSI_INVALID`: the radio measured nothing.
const RSSI_INVALID: i8 = 127;

// ---- --radio URLs ------------------------------------------------------------------------

/// A Spinel radio URL, parsed (OpenThread's `spinel+hdlc+…` convention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpinelSpec {
    /// `spinel+hdlc+forkpty:///path/to/ot-rcp?forkpty-arg=1`: spawn the RCP program with its
    /// stdin/stdout as the UART.
    Forkpty {
        /// Absolute path of the program.
        program: PathBuf,
        /// Its arguments, the `forkpty-arg` values in order.
        args: Vec<String>,
        /// `tx-power=<dBm>`: the transmit power to set (`None`: the firmware's default).
        tx_power: Option<i8>,
    },
    /// `spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800[&uart-flow-control]`: a serial
    /// device.
    Uart {
        /// Absolute path of the device.
        device: PathBuf,
        /// Baud rate, one of [`BAUD_RATES`] ([`DEFAULT_BAUD`] when not given).
        baud: u32,
        /// Hardware (RTS/CTS) flow control.
        flow_control: bool,
        /// `tx-power=<dBm>`: the transmit power to set (`None`: the firmware's default).
        tx_power: Option<i8>,
    },
}

const FORKPTY: &str = "spinel+hdlc+forkpty://";
const UART: &str = "spinel+hdlc+uart://";

impl SpinelSpec {
    /// Whether `s` is meant as a Spinel URL (it starts with `spinel`).
    pub fn is_spinel_url(s: &str) -> bool {
        s.starts_with("spinel")
    }

    /// Parses a `spinel+hdlc+forkpty://` or `spinel+hdlc+uart://` URL.
    pub fn parse(s: &str) -> Result<SpinelSpec, String> {
        let bad = |why: String| format!("--radio {s}: {why}");
        let (forkpty, rest) = if let Some(r) = s.strip_prefix(FORKPTY) {
            (true, r)
        } else if let Some(r) = s.strip_prefix(UART) {
            (false, r)
        } else {
            return Err(bad(format!(
                "a Spinel radio URL is `{FORKPTY}/path/to/ot-rcp?forkpty-arg=1` or \
                 `{UART}/dev/ttyACM0?uart-baudrate=460800`"
            )));
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let path = percent_decode(path).map_err(&bad)?;
        if !path.starts_with('/') || path.len() < 2 {
            return Err(bad(format!(
                "the path must be absolute, as in `{}/…` (three slashes)",
                if forkpty { FORKPTY } else { UART }
            )));
        }
        let mut params = Vec::new();
        for item in query.into_iter().flat_map(|q| q.split('&')).filter(|i| !i.is_empty()) {
            let (k, v) = match item.split_once('=') {
                Some((k, v)) => (k, Some(percent_decode(v).map_err(&bad)?)),
                None => (item, None),
            };
            params.push((k.to_string(), v));
        }
        let tx_power = take_tx_power(&mut params).map_err(&bad)?;
        if forkpty {
            let mut args = Vec::new();
            for (k, v) in params {
                match (k.as_str(), v) {
                    ("forkpty-arg", Some(v)) => args.push(v),
                    ("forkpty-arg", None) => return Err(bad("forkpty-arg needs a value".into())),
                    (k, _) => {
                        return Err(bad(format!(
                            "unknown parameter `{k}` (a forkpty URL takes only forkpty-arg=… \
                             and tx-power=…)"
                        )))
                    }
                }
            }
            Ok(SpinelSpec::Forkpty { program: PathBuf::from(path), args, tx_power })
        } else {
            let mut baud = None;
            let mut flow_control = false;
            for (k, v) in params {
                match (k.as_str(), v) {
                    ("uart-baudrate", Some(v)) => {
                        let b: u32 = v
                            .parse()
                            .map_err(|_| bad(format!("uart-baudrate={v} is not a number")))?;
                        if !BAUD_RATES.contains(&b) {
                            return Err(bad(format!(
                                "uart-baudrate={b} is not a standard serial speed (one of {})",
                                BAUD_RATES.map(|b| b.to_string()).join(", ")
                            )));
                        }
                        if baud.replace(b).is_some() {
                            return Err(bad("uart-baudrate given twice".into()));
                        }
                    }
                    ("uart-baudrate", None) => {
                        return Err(bad("uart-baudrate needs a value".into()))
                    }
                    ("uart-flow-control", None) => flow_control = true,
                    (k, _) => {
                        return Err(bad(format!(
                            "unknown parameter `{k}` (a uart URL takes uart-baudrate=…, \
                             uart-flow-control and tx-power=…)"
                        )))
                    }
                }
            }
            Ok(SpinelSpec::Uart {
                device: PathBuf::from(path),
                baud: baud.unwrap_or(DEFAULT_BAUD),
                flow_control,
                tx_power,
            })
        }
    }

    /// The transmit power the URL asks for (`tx-power=<dBm>`), if any.
    pub fn tx_power(&self) -> Option<i8> {
        match self {
            SpinelSpec::Forkpty { tx_power, .. } | SpinelSpec::Uart { tx_power, .. } => *tx_power,
        }
    }

    /// The link this URL names.
    pub fn transport(&self) -> Box<dyn Transport> {
        match self {
            SpinelSpec::Forkpty { program, args, .. } => Box::new(ProcessTransport {
                program: program.clone(),
                args: args.clone(),
                env: Vec::new(),
                inherit_stderr: false,
            }),
            SpinelSpec::Uart { device, baud, flow_control, .. } => Box::new(UartTransport {
                device: device.clone(),
                baud: *baud,
                flow_control: *flow_control,
            }),
        }
    }
}

impl fmt::Display for SpinelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpinelSpec::Forkpty { program, args, tx_power } => {
                write!(f, "{FORKPTY}{}", percent_encode(&program.to_string_lossy(), true))?;
                for (i, a) in args.iter().enumerate() {
                    let sep = if i == 0 { '?' } else { '&' };
                    write!(f, "{sep}forkpty-arg={}", percent_encode(a, false))?;
                }
                if let Some(p) = tx_power {
                    write!(f, "{}tx-power={p}", if args.is_empty() { '?' } else { '&' })?;
                }
                Ok(())
            }
            SpinelSpec::Uart { device, baud, flow_control, tx_power } => {
                write!(
                    f,
                    "{UART}{}?uart-baudrate={baud}",
                    percent_encode(&device.to_string_lossy(), true)
                )?;
                if *flow_control {
                    f.write_str("&uart-flow-control")?;
                }
                if let Some(p) = tx_power {
                    write!(f, "&tx-power={p}")?;
                }
                Ok(())
            }
        }
    }
}

/// Takes the `tx-power=<dBm>` parameter out of a URL's parameters: a whole number of dBm in
/// [`TX_POWER_DBM`], given at most once.
fn take_tx_power(params: &mut Vec<(String, Option<String>)>) -> Result<Option<i8>, String> {
    let mut power = None;
    for (_, v) in params.iter().filter(|(k, _)| k == "tx-power") {
        let v = v.as_deref().ok_or("tx-power needs a value (dBm)")?;
        let p: i64 = v.parse().map_err(|_| format!("tx-power={v} is not a whole number of dBm"))?;
        if !(i64::from(*TX_POWER_DBM.start())..=i64::from(*TX_POWER_DBM.end())).contains(&p) {
            return Err(format!(
                "tx-power={p} dBm is out of range: 802.15.4 radios transmit at {} to {} dBm",
                TX_POWER_DBM.start(),
                TX_POWER_DBM.end()
            ));
        }
        if power.replace(p as i8).is_some() {
            return Err("tx-power given twice".into());
        }
    }
    params.retain(|(k, _)| k != "tx-power");
    Ok(power)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(|| format!("a bad %-escape in `{s}`"))?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| format!("a bad %-escape in `{s}`"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 once decoded"))
}

fn percent_encode(s: &str, path: bool) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-._~".contains(&c) || (path && c == b'/') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

// ---- links --------------------------------------------------------------------------------

/// A byte stream to an RCP that can be (re)opened: the UART the Spinel frames travel on.
pub trait Transport: Send {
    /// Opens the stream, or re-opens it after a failure (the old [`Link`] is dropped first).
    fn open(&mut self) -> Result<Link, RadioError>;
    /// What the stream is, for messages (e.g. `/dev/ttyACM0 at 460800 baud`).
    fn describe(&self) -> String;
}

/// An open byte stream to an RCP.
pub struct Link {
    /// Bytes from the RCP (read on a thread of its own until EOF or an error).
    pub reader: Box<dyn Read + Send>,
    /// Bytes to the RCP.
    pub writer: Box<dyn Write + Send>,
    /// The RCP process, when the transport spawned one: killed and reaped when the link is
    /// dropped.
    pub child: Option<Child>,
}

/// `spinel+hdlc+forkpty://`: the RCP as a child process whose stdin/stdout are the UART
/// (plain pipes: the simulation `ot-rcp` needs no terminal).
#[derive(Debug, Clone)]
pub struct ProcessTransport {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables (e.g. the simulation's `PORT_OFFSET`).
    pub env: Vec<(String, String)>,
    /// Whether the program's stderr (its logs) goes to ours; otherwise it is discarded.
    pub inherit_stderr: bool,
}

impl Transport for ProcessTransport {
    fn open(&mut self) -> Result<Link, RadioError> {
        let mut child = Process::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if self.inherit_stderr { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .map_err(|e| RadioError(format!("starting the RCP {}: {e}", self.describe())))?;
        let (Some(writer), Some(reader)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RadioError("the RCP process has no stdio pipes".into()));
        };
        Ok(Link { reader: Box::new(reader), writer: Box::new(writer), child: Some(child) })
    }

    fn describe(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// `spinel+hdlc+uart://`: a serial device, set to `baud` and raw mode with `stty`.
#[derive(Debug, Clone)]
pub struct UartTransport {
    /// The device, e.g. `/dev/ttyACM0`.
    pub device: PathBuf,
    /// Baud rate.
    pub baud: u32,
    /// RTS/CTS flow control.
    pub flow_control: bool,
}

impl Transport for UartTransport {
    fn open(&mut self) -> Result<Link, RadioError> {
        let dev = self.device.display();
        if !self.device.exists() {
            return Err(RadioError(format!(
                "serial device {dev} does not exist (is the dongle plugged in? `ls /dev/serial/by-id/` lists serial devices)"
            )));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.device)
            .map_err(|e| RadioError(format!("opening serial device {dev}: {e}")))?;
        let flow = if self.flow_control { "crtscts" } else { "-crtscts" };
        let out = Process::new("stty")
            .arg("-F")
            .arg(&self.device)
            .args([&self.baud.to_string(), "raw", "-echo", flow])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| RadioError(format!("running stty for {dev}: {e}")))?;
        if !out.status.success() {
            return Err(RadioError(format!(
                "setting {dev} to {} baud raw with stty failed: {} (is it a serial device?)",
                self.baud,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let reader =
            file.try_clone().map_err(|e| RadioError(format!("serial device {dev}: {e}")))?;
        Ok(Link { reader: Box::new(reader), writer: Box::new(file), child: None })
    }

    fn describe(&self) -> String {
        format!("{} at {} baud", self.device.display(), self.baud)
    }
}

// ---- what the radio reports ---------------------------------------------------------------

/// What the RCP said about itself during the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcpInfo {
    /// `PROTOCOL_VERSION` (major, minor).
    pub protocol: (u32, u32),
    /// `NCP_VERSION`, e.g. `OPENTHREAD/590c56e; SIMULATION; …`.
    pub ncp_version: String,
    /// `RCP_API_VERSION`.
    pub rcp_api_version: u32,
    /// `HWADDR`, the radio's factory EUI-64.
    pub hwaddr: Eui64,
}

/// One transmit-done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxReport {
    /// The frame's [`Transmit::what`] (`"beacon"`, `"indirect"` for a held frame released
    /// by a data request).
    pub what: &'static str,
    /// The MAC frame sent (without FCS).
    pub psdu: Vec<u8>,
    /// The RCP's verdict ([`Status::Ok`], [`Status::NoAck`], [`Status::CcaFailure`], …; a
    /// frame lost with the link is [`Status::Dropped`]).
    pub status: Status,
    /// Frame-pending bit of the ACK received, if any.
    pub frame_pending: bool,
    /// Time from [`Radio::transmit`] (or the data request that released it) until it was
    /// written to the RCP.
    pub queued: Duration,
    /// Time from writing it to the RCP until its transmit-done.
    pub on_air: Duration,
}

/// Counters and state of a [`SpinelRadio`], for the user and for tests.
#[derive(Debug, Clone, Default)]
pub struct SpinelStatus {
    /// The link (see [`Transport::describe`]).
    pub transport: String,
    /// Whether the RCP is up and answered its handshake.
    pub link_up: bool,
    /// What the RCP reported about itself.
    pub info: Option<RcpInfo>,
    /// Process id of the RCP, when the link is a process.
    pub child_pid: Option<u32>,
    /// Times the RCP was re-opened and reconfigured after a reset or a lost link.
    pub recoveries: u32,
    /// The last problem seen (kept after a recovery).
    pub last_error: Option<String>,
    /// Frames sent (and ACKed when they asked for it).
    pub tx_ok: u64,
    /// Frames that asked for an ACK and got none after all retries.
    pub tx_no_ack: u64,
    /// Frames not sent: channel busy.
    pub tx_cca_failure: u64,
    /// Frames the RCP refused or failed otherwise.
    pub tx_other_failure: u64,
    /// Frames lost with the link (in flight or queued when the RCP reset or went away).
    pub tx_lost: u64,
    /// Direct frames refused because the RCP was down (lost too).
    pub tx_refused: u64,
    /// Direct frames queued or in flight.
    pub tx_pending: usize,
    /// Frames received (any, including beacon and data requests).
    pub rx_frames: u64,
    /// Received frames dropped (reception errors, or the hub not reading them).
    pub rx_dropped: u64,
    /// Bytes read from the link.
    pub bytes_in: u64,
    /// HDLC-lite or Spinel frames that did not decode.
    pub bad_frames: u64,
    /// Beacons sent in answer to beacon requests.
    pub beacons_sent: u64,
    /// Data requests received.
    pub data_requests: u64,
    /// Data requests the RCP ACKed with frame-pending set.
    pub data_requests_fp: u64,
    /// Frames held for sleepy children.
    pub indirect_held: usize,
    /// The source-match table as the radio last set it (what waits for whom).
    pub src_match: Vec<Address>,
    /// The transmit power (dBm) the RCP reported after the last configuration set
    /// [`SpinelOptions::tx_power`]: the value asked for, or what the hardware clamped it to.
    /// `None` when no power was asked for (the firmware's default is in force).
    pub tx_power: Option<i8>,
}

/// Timeouts of a [`SpinelRadio`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpinelOptions {
    /// How long to wait for `RESET_*` after `CMD_RESET`.
    pub reset_timeout: Duration,
    /// How long to wait for the answer to a GET or SET.
    pub call_timeout: Duration,
    /// How long a transmit may wait for its transmit-done before the RCP is deemed stuck and
    /// re-opened.
    pub tx_done_timeout: Duration,
    /// First delay before re-opening a failed link (doubles up to 8 times that).
    pub reopen_delay: Duration,
    /// Transmit power to set with `PHY_TX_POWER` at every configuration (after a recovery
    /// too), in dBm; `None` leaves the firmware's default. See [`SpinelStatus::tx_power`].
    pub tx_power: Option<i8>,
}

impl Default for SpinelOptions {
    fn default() -> SpinelOptions {
        SpinelOptions {
            reset_timeout: Duration::from_secs(3),
            call_timeout: Duration::from_secs(2),
            tx_done_timeout: Duration::from_secs(5),
            reopen_delay: Duration::from_millis(500),
            tx_power: None,
        }
    }
}

// ---- the radio ----------------------------------------------------------------------------

/// The Spinel radio (see the module docs).
pub struct SpinelRadio {
    to_driver: Sender<Input>,
    from_driver: Receiver<Output>,
    /// Frames read off the driver's output while collecting events, for [`Radio::receive`].
    frames: VecDeque<Received>,
    /// Events read off the driver's output while receiving, for [`Radio::take_events`].
    events: VecDeque<RadioEvent>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    opts: SpinelOptions,
}

struct Shared {
    status: Mutex<SpinelStatus>,
    reports: Mutex<VecDeque<TxReport>>,
    bytes_in: AtomicU64,
    /// The hub's clock: its last `now` and when it was given (by a transmit or a receive, so
    /// a fault is timed right even before the hub first transmits).
    clock: Mutex<(Millis, Instant)>,
}

impl Shared {
    fn status(&self) -> MutexGuard<'_, SpinelStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> Millis {
        let c = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        c.0 + c.1.elapsed().as_millis() as Millis
    }

    /// Moves the clock to the hub's `now` (never backwards).
    fn tick(&self, now: Millis) {
        let mut c = self.clock.lock().unwrap_or_else(|p| p.into_inner());
        if now >= c.0 + c.1.elapsed().as_millis() as Millis {
            *c = (now, Instant::now());
        }
    }
}

enum Input {
    Rcp { gen: u64, frame: Result<Vec<u8>, zigtrust_spinel::Error> },
    LinkDown { gen: u64, why: String },
    Api(Api),
}

enum Api {
    Configure(RadioConfig, Sender<Result<(), RadioError>>),
    Transmit(Transmit, Millis),
    Get(Prop, Sender<Result<PropValue, RadioError>>),
    /// Answered once everything sent before it was handled.
    Sync(Sender<()>),
    EnergyScan {
        channel: u8,
        period_ms: u16,
        reply: Sender<Result<i8, RadioError>>,
    },
    Shutdown,
}

enum Output {
    Frame(Received),
    Event(RadioEvent),
}

impl SpinelRadio {
    /// Opens the RCP a `--radio` URL names and runs the handshake; the error says what was
    /// seen when the device is missing, silent, or not an OpenThread RCP.
    pub fn open(spec: &SpinelSpec) -> Result<SpinelRadio, RadioError> {
        let opts = SpinelOptions { tx_power: spec.tx_power(), ..SpinelOptions::default() };
        SpinelRadio::with_transport(spec.transport(), opts)
    }

    /// Opens the RCP on any [`Transport`] and runs the handshake.
    pub fn with_transport(
        transport: Box<dyn Transport>,
        opts: SpinelOptions,
    ) -> Result<SpinelRadio, RadioError> {
        let (to_driver, inputs) = mpsc::channel();
        let (out, from_driver) = mpsc::sync_channel(4096);
        let shared = Arc::new(Shared {
            status: Mutex::new(SpinelStatus {
                transport: transport.describe(),
                ..SpinelStatus::default()
            }),
            reports: Mutex::new(VecDeque::new()),
            bytes_in: AtomicU64::new(0),
            clock: Mutex::new((0, Instant::now())),
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut driver = Driver {
            transport,
            link: None,
            gen: 0,
            inputs,
            input_tx: to_driver.clone(),
            out,
            shared: shared.clone(),
            opts,
            config: None,
            next_tid: 0,
            in_flight: HashMap::new(),
            answers: HashMap::new(),
            txq: VecDeque::new(),
            tx: None,
            indirect: IndirectQueue::new(),
            backlog: VecDeque::new(),
            mac_seq: 0,
            recover: None,
            outage: None,
            handshaking: false,
            resets_seen: 0,
            retry: None,
            energy: None,
        };
        let thread = std::thread::Builder::new()
            .name("spinel-radio".into())
            .spawn(move || {
                // The power at once (and again with every configuration, after the channel that
                // caps it): what the RCP reports is known before the hub starts.
                let first = driver
                    .open_link()
                    .and_then(|()| driver.handshake())
                    .and_then(|()| driver.apply_tx_power());
                let ok = first.is_ok();
                if let Err(e) = &first {
                    driver.link = None;
                    driver.shared.status().last_error = Some(e.0.clone());
                }
                let _ = ready_tx.send(first);
                if ok {
                    driver.run();
                }
            })
            .map_err(|e| RadioError(format!("starting the Spinel thread: {e}")))?;
        let wait = opts.reset_timeout + opts.call_timeout * 6 + Duration::from_secs(2);
        let first = ready_rx
            .recv_timeout(wait)
            .unwrap_or_else(|_| Err(RadioError("the RCP handshake did not finish in time".into())));
        let mut radio = SpinelRadio {
            to_driver,
            from_driver,
            frames: VecDeque::new(),
            events: VecDeque::new(),
            shared,
            thread: Some(thread),
            opts,
        };
        match first {
            Ok(()) => Ok(radio),
            Err(e) => {
                radio.stop();
                Err(e)
            }
        }
    }

    /// A snapshot of the radio's counters and state.
    pub fn status(&self) -> SpinelStatus {
        let mut st = self.shared.status().clone();
        st.bytes_in = self.shared.bytes_in.load(Ordering::Relaxed);
        st
    }

    /// What the RCP reported about itself at the last handshake.
    pub fn info(&self) -> Option<RcpInfo> {
        self.shared.status().info.clone()
    }

    /// The transmit-done reports since the last call (at most [`MAX_TX_REPORTS`], oldest
    /// first).
    pub fn take_tx_reports(&self) -> Vec<TxReport> {
        let mut r = self.shared.reports.lock().unwrap_or_else(|p| p.into_inner());
        r.drain(..).collect()
    }

    /// Reads a property from the RCP (`PROP_VALUE_GET`), e.g. to check the configuration.
    pub fn get(&self, prop: Prop) -> Result<PropValue, RadioError> {
        let (tx, rx) = mpsc::channel();
        self.send(Api::Get(prop, tx))?;
        rx.recv_timeout(self.opts.call_timeout * 2)
            .unwrap_or_else(|_| Err(RadioError(format!("no answer to GET {}", prop.name()))))
    }

    /// Measures the energy on `channel` (11-26) for `period`: the highest RSSI the RCP saw
    /// there, in dBm. For choosing a channel before the radio is configured (the RCP goes back
    /// to its receive channel afterwards).
    pub fn energy_scan(&self, channel: u8, period: Duration) -> Result<i8, RadioError> {
        if !(11..=26).contains(&channel) {
            return Err(RadioError(format!("no energy scan on channel {channel} (11-26 only)")));
        }
        let period_ms = u16::try_from(period.as_millis()).unwrap_or(u16::MAX).max(1);
        let (tx, rx) = mpsc::channel();
        self.send(Api::EnergyScan { channel, period_ms, reply: tx })?;
        rx.recv_timeout(period + self.opts.call_timeout * 6).unwrap_or_else(|_| {
            Err(RadioError(format!("the energy scan of channel {channel} did not finish")))
        })
    }

    /// Waits until no direct frame is queued or in flight, up to `timeout`; whether it got
    /// there.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let (tx, rx) = mpsc::channel();
        if self.send(Api::Sync(tx)).is_err() || rx.recv_timeout(timeout).is_err() {
            return false;
        }
        loop {
            if self.shared.status().tx_pending == 0 {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn send(&self, api: Api) -> Result<(), RadioError> {
        self.to_driver.send(Input::Api(api)).map_err(|_| self.dead())
    }

    /// Moves the driver's output into `frames` and `events` until a frame is read (or
    /// everything, with `all`); an error once the driver is gone.
    fn drain(&mut self, all: bool) -> Result<(), RadioError> {
        loop {
            match self.from_driver.try_recv() {
                Ok(Output::Frame(r)) => {
                    self.frames.push_back(r);
                    if !all {
                        return Ok(());
                    }
                }
                Ok(Output::Event(e)) => {
                    if self.events.len() >= MAX_EVENTS {
                        self.events.pop_front();
                    }
                    self.events.push_back(e);
                }
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => return Err(self.dead()),
            }
        }
    }

    fn dead(&self) -> RadioError {
        let last = self.shared.status().last_error.clone().unwrap_or_default();
        RadioError(format!("the Spinel radio stopped: {last}"))
    }

    fn stop(&mut self) {
        let _ = self.to_driver.send(Input::Api(Api::Shutdown));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SpinelRadio {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for SpinelRadio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinelRadio").field("status", &self.status()).finish_non_exhaustive()
    }
}

impl Radio for SpinelRadio {
    fn configure(&mut self, config: &RadioConfig) -> Result<(), RadioError> {
        let (tx, rx) = mpsc::channel();
        self.send(Api::Configure(*config, tx))?;
        rx.recv_timeout(self.opts.call_timeout * 12)
            .unwrap_or_else(|_| Err(RadioError("the RCP configuration did not finish".into())))
    }

    fn transmit(&mut self, now: Millis, frame: Transmit) -> Result<(), RadioError> {
        if !frame.indirect {
            // Checked and counted under one lock, so the driver's count of what an outage
            // lost (taken when it marks the link up again) includes every refusal.
            let mut st = self.shared.status();
            if !st.link_up {
                st.tx_refused += 1;
                let last = st.last_error.clone().unwrap_or_default();
                return Err(RadioError(format!("RCP down ({last}): `{}` not sent", frame.what)));
            }
        }
        self.send(Api::Transmit(frame, now))
    }

    fn receive(&mut self, now: Millis) -> Result<Option<Received>, RadioError> {
        self.shared.tick(now);
        if self.frames.is_empty() {
            self.drain(false)?;
        }
        Ok(self.frames.pop_front())
    }

    fn take_events(&mut self) -> Vec<RadioEvent> {
        // Events behind frames not read yet are collected too; the frames wait in order.
        let _ = self.drain(true);
        self.events.drain(..).collect()
    }
}

// ---- the driver thread --------------------------------------------------------------------

enum Pending {
    Call,
    Tx,
    SrcMatch(String),
}

struct Outgoing {
    psdu: Vec<u8>,
    what: &'static str,
    queued_at: Instant,
}

struct LinkState {
    writer: Box<dyn Write + Send>,
    child: Option<Child>,
}

impl Drop for LinkState {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Driver {
    transport: Box<dyn Transport>,
    link: Option<LinkState>,
    /// Generation of the current link: what its reader thread tags its input with.
    gen: u64,
    inputs: Receiver<Input>,
    input_tx: Sender<Input>,
    out: SyncSender<Output>,
    shared: Arc<Shared>,
    opts: SpinelOptions,
    config: Option<RadioConfig>,
    next_tid: u8,
    in_flight: HashMap<u8, (Pending, Instant)>,
    answers: HashMap<u8, Frame>,
    txq: VecDeque<Outgoing>,
    tx: Option<(u8, Outgoing, Instant)>,
    indirect: IndirectQueue,
    /// API commands that arrived while waiting for an answer.
    backlog: VecDeque<Api>,
    mac_seq: u8,
    /// Why the RCP must be re-opened and reconfigured, once the current step is done.
    recover: Option<RadioFault>,
    /// The fault being recovered from, from when it was seen until the RCP works again.
    outage: Option<Outage>,
    handshaking: bool,
    resets_seen: u32,
    /// When to try re-opening a failed link again, and the delay after that.
    retry: Option<(Instant, Duration)>,
    /// The last energy scan result (channel, max RSSI), until an energy scan takes it.
    energy: Option<(u8, i8)>,
}

/// A fault and what it has cost so far, for the [`RadioEvent`] that reports it.
struct Outage {
    fault: RadioFault,
    /// When it was seen (the hub's clock, Unix ms).
    at: Millis,
    seen: Instant,
    /// Frames in flight or queued when it struck.
    lost: u64,
    /// [`SpinelStatus::tx_refused`] when it struck.
    refused_before: u64,
    /// Whether a [`RadioIncident::Down`] was reported for it.
    reported_down: bool,
}

impl Driver {
    fn run(&mut self) {
        loop {
            let input = match self.backlog.pop_front() {
                Some(a) => Input::Api(a),
                None => match self.inputs.recv_timeout(self.wait()) {
                    Ok(i) => i,
                    Err(RecvTimeoutError::Timeout) => {
                        self.housekeeping();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                },
            };
            match input {
                Input::Api(Api::Shutdown) => return,
                Input::Api(a) => self.api(a),
                other => self.dispatch(other),
            }
            self.housekeeping();
        }
    }

    fn now_ms(&self) -> Millis {
        self.shared.now_ms()
    }

    fn tick(&mut self, now: Millis) {
        self.shared.tick(now);
    }

    /// How long the loop may sleep: until the next held frame expires, the transmit-done
    /// deadline, or the next re-open attempt.
    fn wait(&self) -> Duration {
        let mut w = Duration::from_secs(1);
        if let Some(exp) = self.indirect.next_expiry() {
            w = w.min(Duration::from_millis(exp.saturating_sub(self.now_ms())));
        }
        if let Some((_, _, sent)) = &self.tx {
            w = w
                .min((*sent + self.opts.tx_done_timeout).saturating_duration_since(Instant::now()));
        }
        if let Some((at, _)) = self.retry {
            w = w.min(at.saturating_duration_since(Instant::now()));
        }
        w.max(Duration::from_millis(1))
    }

    fn api(&mut self, a: Api) {
        match a {
            Api::Configure(config, reply) => {
                self.config = Some(config);
                let r = if self.link.is_some() && self.recover.is_none() {
                    self.apply_config()
                } else {
                    Err(RadioError(format!(
                        "RCP down ({}); the configuration is applied once it is back",
                        self.shared.status().last_error.clone().unwrap_or_default()
                    )))
                };
                let _ = reply.send(r);
            }
            Api::Transmit(t, now) => {
                self.tick(now);
                if t.indirect || self.indirect.awaits_association(&t.psdu) {
                    match self.indirect.hold(now, t.psdu) {
                        Ok(Some(dst)) => self.src_match(PropOp::Insert, dst),
                        Ok(None) => {}
                        Err(e) => self.note_error(e.0),
                    }
                    self.publish_indirect();
                } else {
                    self.txq.push_back(Outgoing {
                        psdu: t.psdu,
                        what: t.what,
                        queued_at: Instant::now(),
                    });
                    self.start_tx();
                }
            }
            Api::Get(prop, reply) => {
                let r = self.call(Command::PropValueGet(prop)).and_then(|c| match c {
                    Command::PropValue(PropOp::Is, PropValue::LastStatus(s))
                        if prop != Prop::LastStatus =>
                    {
                        Err(RadioError(format!("GET {}: the RCP answered {s:?}", prop.name())))
                    }
                    Command::PropValue(PropOp::Is, v) => Ok(v),
                    other => Err(RadioError(format!("GET {}: answered {other:?}", prop.name()))),
                });
                let _ = reply.send(r);
            }
            Api::Sync(reply) => {
                let _ = reply.send(());
            }
            Api::EnergyScan { channel, period_ms, reply } => {
                let _ = reply.send(self.energy_scan(channel, period_ms));
            }
            Api::Shutdown => {}
        }
    }

    fn housekeeping(&mut self) {
        if let Some((_, _, sent)) = &self.tx {
            if sent.elapsed() > self.opts.tx_done_timeout && self.recover.is_none() {
                let detail =
                    format!("no transmit-done from the RCP within {:?}", self.opts.tx_done_timeout);
                self.fault(RadioFault::Unresponsive { detail });
            }
        }
        if self.recover.is_some() && self.retry.is_none() {
            self.recover_now();
        } else if let Some((at, _)) = self.retry {
            if Instant::now() >= at {
                self.recover_now();
            }
        }
        let gone = self.indirect.expire(self.now_ms());
        for dst in gone {
            self.src_match(PropOp::Remove, dst);
        }
        self.publish_indirect();
        let stale = self.opts.call_timeout * 4;
        self.in_flight.retain(|_, (p, at)| matches!(p, Pending::Tx) || at.elapsed() < stale);
        self.start_tx();
    }

    // ---- link ----

    fn open_link(&mut self) -> Result<(), RadioError> {
        self.link = None;
        let link = self.transport.open()?;
        self.gen += 1;
        let gen = self.gen;
        let inputs = self.input_tx.clone();
        let shared = self.shared.clone();
        let mut reader = link.reader;
        std::thread::Builder::new()
            .name("spinel-read".into())
            .spawn(move || {
                let mut dec = hdlc::Decoder::new();
                let mut buf = [0u8; 4096];
                let why = loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break "end of stream (the RCP closed the link)".to_string(),
                        Ok(n) => {
                            shared.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                            for frame in dec.feed(&buf[..n]) {
                                if inputs.send(Input::Rcp { gen, frame }).is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break format!("reading: {e}"),
                    }
                };
                let _ = inputs.send(Input::LinkDown { gen, why });
            })
            .map_err(|e| RadioError(format!("starting the Spinel reader: {e}")))?;
        let pid = link.child.as_ref().map(Child::id);
        self.link = Some(LinkState { writer: link.writer, child: link.child });
        self.shared.status().child_pid = pid;
        Ok(())
    }

    fn link_lost(&mut self, why: String) {
        if self.link.take().is_some() {
            let msg =
                format!("the link to the RCP ({}) was lost: {why}", self.transport.describe());
            self.note_error(msg.clone());
            self.fault(RadioFault::LinkLost { detail: msg });
        }
    }

    fn write_frame(&mut self, tid: u8, command: Command) -> Result<(), RadioError> {
        let frame = Frame::new(tid, command).map_err(|e| RadioError(format!("{e:?}")))?;
        let bytes = hdlc::encode_to_vec(&frame.to_vec());
        let Some(link) = &mut self.link else {
            return Err(RadioError("the link to the RCP is down".into()));
        };
        let r = link.writer.write_all(&bytes).and_then(|()| link.writer.flush());
        if let Err(e) = r {
            self.link_lost(format!("writing: {e}"));
            return Err(RadioError(format!("writing to the RCP: {e}")));
        }
        Ok(())
    }

    fn alloc_tid(&mut self) -> Result<u8, RadioError> {
        for _ in 0..15 {
            self.next_tid = self.next_tid % 15 + 1;
            if !self.in_flight.contains_key(&self.next_tid) {
                return Ok(self.next_tid);
            }
        }
        Err(RadioError("all 15 Spinel transaction ids are in use".into()))
    }

    // ---- waiting for the RCP ----

    /// Handles inputs until `done` holds (true), `timeout` passes (false), or the link fails.
    fn pump_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&Driver) -> bool,
    ) -> Result<bool, RadioError> {
        let end = Instant::now() + timeout;
        loop {
            if done(self) {
                return Ok(true);
            }
            if self.link.is_none() {
                return Err(RadioError(
                    self.recover.as_ref().map_or_else(
                        || "the link to the RCP is down".into(),
                        RadioFault::to_string,
                    ),
                ));
            }
            if let (Some(r), false) = (&self.recover, self.handshaking) {
                return Err(RadioError(r.to_string()));
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            match self.inputs.recv_timeout(left) {
                Ok(Input::Api(a)) => self.backlog.push_back(a),
                Ok(i) => self.dispatch(i),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(RadioError("the Spinel driver lost its inputs".into()))
                }
            }
        }
    }

    /// Sends `command` and waits for the answer with its TID.
    fn call(&mut self, command: Command) -> Result<Command, RadioError> {
        let what = describe_command(&command);
        let tid = self.alloc_tid()?;
        self.in_flight.insert(tid, (Pending::Call, Instant::now()));
        if let Err(e) = self.write_frame(tid, command) {
            self.in_flight.remove(&tid);
            return Err(e);
        }
        let got = self.pump_until(self.opts.call_timeout, |d| d.answers.contains_key(&tid));
        self.in_flight.remove(&tid);
        match got {
            Ok(true) => Ok(self
                .answers
                .remove(&tid)
                .map(|f| f.command)
                .unwrap_or(Command::Other { id: 0, payload: Vec::new() })),
            Ok(false) => Err(RadioError(format!(
                "no answer from the RCP to {what} within {:?}{}",
                self.opts.call_timeout,
                self.garbage_note()
            ))),
            Err(e) => Err(e),
        }
    }

    fn get(&mut self, prop: Prop) -> Result<PropValue, RadioError> {
        match self.call(Command::PropValueGet(prop))? {
            Command::PropValue(PropOp::Is, v) => Ok(v),
            other => Err(RadioError(format!("GET {}: the RCP answered {other:?}", prop.name()))),
        }
    }

    /// SET, checking the answer: the value set back (IS), or OK for a property without a
    /// getter (the source-match tables).
    fn set(&mut self, value: PropValue) -> Result<(), RadioError> {
        let name = value.prop().name();
        match self.call(Command::PropValue(PropOp::Set, value.clone()))? {
            Command::PropValue(PropOp::Is, PropValue::LastStatus(Status::Ok)) => Ok(()),
            Command::PropValue(PropOp::Is, PropValue::LastStatus(s)) => {
                Err(RadioError(format!("the RCP refused SET {name}: {s:?}")))
            }
            Command::PropValue(PropOp::Is, v) if v == value => Ok(()),
            other => {
                Err(RadioError(format!("SET {name} to {value:?}: the RCP answered {other:?}")))
            }
        }
    }

    fn garbage_note(&self) -> String {
        let bytes = self.shared.bytes_in.load(Ordering::Relaxed);
        let bad = self.shared.status().bad_frames;
        if bytes == 0 {
            " (nothing at all came back)".into()
        } else if bad > 0 {
            format!(
                " ({bytes} bytes came back, {bad} frames of them undecodable as HDLC-lite/Spinel: \
                 a wrong baud rate, or a firmware that does not speak Spinel)"
            )
        } else {
            format!(" ({bytes} bytes came back)")
        }
    }

    /// Reset and version checks; fills [`SpinelStatus::info`].
    fn handshake(&mut self) -> Result<(), RadioError> {
        self.handshaking = true;
        let r = self.handshake_inner();
        self.handshaking = false;
        match r {
            Ok(info) => {
                let mut st = self.shared.status();
                st.info = Some(info);
                st.link_up = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn handshake_inner(&mut self) -> Result<RcpInfo, RadioError> {
        let src = self.transport.describe();
        let before = self.resets_seen;
        self.write_frame(0, Command::Reset(Some(ResetType::Stack)))?;
        if !self.pump_until(self.opts.reset_timeout, |d| d.resets_seen > before)? {
            return Err(RadioError(format!(
                "no Spinel reset answer from {src} within {:?}{}: not an OpenThread RCP, a wrong \
                 baud rate, or a port in use",
                self.opts.reset_timeout,
                self.garbage_note()
            )));
        }
        let protocol = match self.get(Prop::ProtocolVersion) {
            Ok(PropValue::ProtocolVersion { major, minor }) => (major, minor),
            Ok(other) => {
                return Err(RadioError(format!(
                    "{src} answered PROTOCOL_VERSION with {other:?}: not a Spinel RCP"
                )))
            }
            Err(e) => return Err(RadioError(format!("{src}: {e}"))),
        };
        let ncp_version = match self.get(Prop::NcpVersion) {
            Ok(PropValue::NcpVersion(v)) => v,
            _ => String::from("?"),
        };
        if protocol.0 != PROTOCOL_MAJOR {
            return Err(RadioError(format!(
                "{src} speaks Spinel {}.{} (firmware \"{ncp_version}\"); this driver needs {}.x",
                protocol.0, protocol.1, PROTOCOL_MAJOR
            )));
        }
        let rcp_api_version = match self.get(Prop::RcpApiVersion) {
            Ok(PropValue::RcpApiVersion(v)) => v,
            Ok(other) => {
                return Err(RadioError(format!(
                    "{src} is not an OpenThread RCP: it answered RCP_API_VERSION with {} \
                     (firmware \"{ncp_version}\", Spinel {}.{}); flash an OpenThread RCP build \
                     (ot-rcp)",
                    match other {
                        PropValue::LastStatus(s) => format!("LAST_STATUS {s:?}"),
                        v => format!("{v:?}"),
                    },
                    protocol.0,
                    protocol.1
                )))
            }
            Err(e) => return Err(RadioError(format!("{src}: {e}"))),
        };
        if rcp_api_version < MIN_RCP_API_VERSION {
            return Err(RadioError(format!(
                "{src} has RCP API version {rcp_api_version} (firmware \"{ncp_version}\"); at \
                 least {MIN_RCP_API_VERSION} is needed"
            )));
        }
        let hwaddr = match self.get(Prop::HwAddr) {
            Ok(PropValue::HwAddr(e)) => e,
            Ok(other) => {
                return Err(RadioError(format!("{src} answered HWADDR with {other:?}")));
            }
            Err(e) => return Err(RadioError(format!("{src}: {e}"))),
        };
        Ok(RcpInfo { protocol, ncp_version, rcp_api_version, hwaddr })
    }

    /// One energy scan (see [`SpinelRadio::energy_scan`]).
    fn energy_scan(&mut self, channel: u8, period_ms: u16) -> Result<i8, RadioError> {
        if self.link.is_none() || self.recover.is_some() {
            return Err(RadioError("RCP down: no energy scan".into()));
        }
        // The RCP scans only with its raw link enabled.
        self.set(PropValue::PhyEnabled(true))?;
        self.set(PropValue::Other { prop: PROP_MAC_SCAN_MASK, data: vec![channel] })?;
        let period =
            PropValue::Other { prop: PROP_MAC_SCAN_PERIOD, data: period_ms.to_le_bytes().to_vec() };
        self.set(period)?;
        self.energy = None;
        let start = PropValue::Other { prop: PROP_MAC_SCAN_STATE, data: vec![SCAN_STATE_ENERGY] };
        // Answered with the scan state: ENERGY while scanning, IDLE if it is already over.
        match self.call(Command::PropValue(PropOp::Set, start))? {
            Command::PropValue(PropOp::Is, PropValue::Other { prop: PROP_MAC_SCAN_STATE, .. }) => {}
            Command::PropValue(PropOp::Is, PropValue::LastStatus(Status::Ok)) => {}
            other => {
                return Err(RadioError(format!(
                    "the RCP refused an energy scan of channel {channel}: {other:?}"
                )))
            }
        }
        let wait = Duration::from_millis(u64::from(period_ms)) + self.opts.call_timeout;
        if !self.pump_until(wait, |d| d.energy.is_some())? {
            return Err(RadioError(format!(
                "no energy scan result from the RCP for channel {channel} within {wait:?}"
            )));
        }
        match self.energy.take() {
            Some((c, rssi)) if c == channel && rssi != RSSI_INVALID => Ok(rssi),
            Some((c, RSSI_INVALID)) if c == channel => {
                Err(RadioError(format!("the RCP measured nothing on channel {channel}")))
            }
            got => Err(RadioError(format!(
                "asked for an energy scan of channel {channel}, the RCP reported {got:?}"
            ))),
        }
    }

    /// Applies the configuration and the whole source-match table.
    fn apply_config(&mut self) -> Result<(), RadioError> {
        let Some(c) = self.config else { return Ok(()) };
        self.set(PropValue::PhyEnabled(true))?;
        self.set(PropValue::PhyChan(c.channel))?;
        self.apply_tx_power()?;
        self.set(PropValue::MacPanId(c.pan_id.0))?;
        self.set(PropValue::MacShortAddr(0x0000))?;
        self.set(PropValue::MacLongAddr(Eui64::from_u64(c.ieee.0)))?;
        self.set(PropValue::MacRawStreamEnabled(true))?;
        self.set(PropValue::MacSrcMatchEnabled(true))?;
        let waiting = self.indirect.waiting();
        let shorts = waiting
            .iter()
            .filter_map(|a| if let Address::Short(s) = a { Some(s.0) } else { None })
            .collect();
        let exts = waiting
            .iter()
            .filter_map(|a| match a {
                Address::Extended(e) => Some(Eui64::from_u64(e.0)),
                _ => None,
            })
            .collect();
        self.set(PropValue::MacSrcMatchShortAddresses(shorts))?;
        self.set(PropValue::MacSrcMatchExtendedAddresses(exts))?;
        self.shared.status().src_match = waiting;
        Ok(())
    }

    /// Sets `PHY_TX_POWER` when the options ask for a power, and records what the RCP reports
    /// in use (after the channel: the power in use is capped at the channel's maximum).
    fn apply_tx_power(&mut self) -> Result<(), RadioError> {
        let Some(want) = self.opts.tx_power else { return Ok(()) };
        let value = PropValue::Other { prop: PROP_PHY_TX_POWER, data: vec![want as u8] };
        let power = |v: &PropValue| match v {
            PropValue::Other { prop: PROP_PHY_TX_POWER, data } if data.len() == 1 => {
                Some(data[0] as i8)
            }
            _ => None,
        };
        let got = match self.call(Command::PropValue(PropOp::Set, value))? {
            // OpenThread answers a SET with the value its getter then reports.
            Command::PropValue(PropOp::Is, v) if power(&v).is_some() => power(&v),
            // A firmware that only says OK: ask.
            Command::PropValue(PropOp::Is, PropValue::LastStatus(Status::Ok)) => {
                power(&self.get(Prop::Other(PROP_PHY_TX_POWER))?)
            }
            Command::PropValue(PropOp::Is, PropValue::LastStatus(s)) => {
                return Err(RadioError(format!(
                    "the RCP refused SET PHY_TX_POWER to {want} dBm: {s:?}"
                )))
            }
            other => {
                return Err(RadioError(format!(
                    "SET PHY_TX_POWER to {want} dBm: the RCP answered {other:?}"
                )))
            }
        };
        let got = got.ok_or_else(|| {
            RadioError(format!("SET PHY_TX_POWER to {want} dBm: the RCP did not report a power"))
        })?;
        self.shared.status().tx_power = Some(got);
        Ok(())
    }

    /// A fault seen: the RCP is down from now until [`Driver::recover_now`] brings it back.
    fn fault(&mut self, fault: RadioFault) {
        self.begin_outage(&fault);
        if self.recover.is_none() {
            self.recover = Some(fault);
        }
    }

    /// Marks the link down and, unless one is under way, starts an outage: the first fault of
    /// an outage is the one reported, with what the whole outage cost.
    fn begin_outage(&mut self, fault: &RadioFault) {
        let at = self.now_ms();
        let mut st = self.shared.status();
        st.link_up = false;
        if self.outage.is_none() {
            self.outage = Some(Outage {
                fault: fault.clone(),
                at,
                seen: Instant::now(),
                lost: 0,
                refused_before: st.tx_refused,
                reported_down: false,
            });
        }
    }

    /// Re-opens (or just re-handshakes, after a reset on a live link) and reconfigures.
    fn recover_now(&mut self) {
        let fault = self.recover.take().unwrap_or_else(|| RadioFault::LinkLost {
            detail: "the link to the RCP is down".into(),
        });
        self.begin_outage(&fault);
        let lost = usize::from(self.tx.take().is_some()) + self.txq.len();
        self.txq.clear();
        self.in_flight.clear();
        self.answers.clear();
        if let Some(o) = &mut self.outage {
            o.lost += lost as u64;
        }
        {
            let mut st = self.shared.status();
            st.tx_lost += lost as u64;
            st.tx_pending = 0;
            st.link_up = false;
            st.last_error = Some(fault.to_string());
        }
        let mut reopened = false;
        let mut r =
            if self.link.is_some() { self.handshake() } else { Err(RadioError(String::new())) };
        if r.is_err() {
            reopened = true;
            r = self.open_link().and_then(|()| self.handshake());
        }
        let r = r.and_then(|()| self.apply_config());
        match r {
            Ok(()) => {
                self.retry = None;
                self.recover = None;
                let entries = self.indirect.waiting().len();
                let mut st = self.shared.status();
                st.recoveries += 1;
                st.link_up = true;
                let refused = st.tx_refused;
                drop(st);
                let Some(o) = self.outage.take() else { return };
                let event = RadioEvent {
                    at: o.at,
                    incident: RadioIncident::Recovered {
                        fault: o.fault,
                        frames_lost: o.lost + refused.saturating_sub(o.refused_before),
                        reopened,
                        config_reapplied: self.config.is_some(),
                        pending_entries: entries,
                        outage_ms: o.seen.elapsed().as_millis() as u64,
                    },
                };
                self.emit(Output::Event(event));
            }
            Err(e) => {
                self.link = None;
                self.shared.status().link_up = false;
                let delay = self.retry.map_or(self.opts.reopen_delay, |(_, d)| {
                    (d * 2).min(self.opts.reopen_delay * 8)
                });
                self.retry = Some((Instant::now() + delay, delay));
                self.recover = Some(fault.clone());
                self.note_error(format!("{fault}; re-opening the RCP failed: {e}"));
                let Some(o) = self.outage.as_mut().filter(|o| !o.reported_down) else { return };
                o.reported_down = true;
                let event = RadioEvent {
                    at: o.at,
                    incident: RadioIncident::Down { fault: o.fault.clone(), error: e.0 },
                };
                self.emit(Output::Event(event));
            }
        }
    }

    // ---- from the RCP ----

    fn dispatch(&mut self, input: Input) {
        match input {
            Input::Rcp { gen, .. } | Input::LinkDown { gen, .. } if gen != self.gen => {}
            Input::Rcp { frame: Err(e), .. } => self.bad_frame(format!("{e:?}")),
            Input::Rcp { frame: Ok(bytes), .. } => match Frame::parse(&bytes) {
                Ok(f) => self.on_frame(f),
                Err(e) => self.bad_frame(format!("{e:?}")),
            },
            Input::LinkDown { why, .. } => self.link_lost(why),
            Input::Api(a) => self.backlog.push_back(a),
        }
    }

    fn bad_frame(&mut self, e: String) {
        let mut st = self.shared.status();
        st.bad_frames += 1;
        st.last_error = Some(format!("an undecodable frame from the RCP: {e}"));
    }

    fn on_frame(&mut self, f: Frame) {
        let tid = f.header.tid();
        if tid != 0 {
            match self.in_flight.remove(&tid) {
                Some((Pending::Call, _)) => {
                    self.answers.insert(tid, f);
                }
                Some((Pending::Tx, _)) => self.on_tx_done(tid, f.command),
                Some((Pending::SrcMatch(what), _)) => match f.command {
                    Command::PropValue(PropOp::Inserted | PropOp::Removed, _)
                    | Command::PropValue(PropOp::Is, PropValue::LastStatus(Status::Ok)) => {}
                    other => self.note_error(format!("{what}: the RCP answered {other:?}")),
                },
                None => {} // an answer from before a reset
            }
            return;
        }
        match f.command {
            Command::PropValue(PropOp::Is, PropValue::LastStatus(s)) if s.is_reset() => {
                if self.handshaking {
                    self.resets_seen += 1;
                } else {
                    self.fault(RadioFault::UnexpectedReset { status: format!("{s:?}") });
                }
            }
            Command::PropValue(PropOp::Is, PropValue::StreamRawRx(rx)) => self.on_rx(rx),
            Command::PropValue(
                PropOp::Is,
                PropValue::Other { prop: PROP_MAC_ENERGY_SCAN_RESULT, data },
            ) => {
                if let [channel, rssi, ..] = data[..] {
                    self.energy = Some((channel, rssi as i8));
                }
            }
            _ => {}
        }
    }

    fn on_tx_done(&mut self, tid: u8, command: Command) {
        let Some((sent_tid, o, sent_at)) = self.tx.take() else { return };
        if sent_tid != tid {
            self.tx = Some((sent_tid, o, sent_at));
            return;
        }
        let (status, frame_pending) = match command {
            Command::PropValue(PropOp::Is, PropValue::TransmitDone(d)) => {
                (d.status, d.frame_pending)
            }
            Command::PropValue(PropOp::Is, PropValue::LastStatus(s)) => (s, false),
            _ => (Status::Failure, false),
        };
        self.report(o, status, frame_pending, sent_at);
        self.start_tx();
    }

    fn report(&mut self, o: Outgoing, status: Status, frame_pending: bool, sent_at: Instant) {
        {
            let mut st = self.shared.status();
            match status {
                Status::Ok => st.tx_ok += 1,
                Status::NoAck => st.tx_no_ack += 1,
                Status::CcaFailure => st.tx_cca_failure += 1,
                Status::Dropped => st.tx_lost += 1,
                _ => st.tx_other_failure += 1,
            }
            st.tx_pending = self.txq.len() + usize::from(self.tx.is_some());
        }
        let mut r = self.shared.reports.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() >= MAX_TX_REPORTS {
            r.pop_front();
        }
        r.push_back(TxReport {
            what: o.what,
            psdu: o.psdu,
            status,
            frame_pending,
            queued: sent_at.saturating_duration_since(o.queued_at),
            on_air: sent_at.elapsed(),
        });
    }

    fn on_rx(&mut self, rx: RxFrame) {
        if rx.vendor.error != 0 || rx.psdu.len() < 2 {
            self.shared.status().rx_dropped += 1;
            return;
        }
        let psdu = &rx.psdu[..rx.psdu.len() - 2];
        self.shared.status().rx_frames += 1;
        match MacFrame::parse(psdu).map(|m| (m.header.src_addr, m.body)) {
            Ok((_, MacBody::Command(MacCommand::BeaconRequest))) => {
                if let Some(c) = self.config {
                    self.mac_seq = self.mac_seq.wrapping_add(1);
                    let psdu = coordinator_beacon(&c, self.mac_seq);
                    self.txq.push_back(Outgoing {
                        psdu,
                        what: "beacon",
                        queued_at: Instant::now(),
                    });
                    self.shared.status().beacons_sent += 1;
                    self.start_tx();
                }
            }
            Ok((child, MacBody::Command(MacCommand::DataRequest))) => {
                {
                    let mut st = self.shared.status();
                    st.data_requests += 1;
                    st.data_requests_fp += u64::from(rx.acked_with_frame_pending());
                }
                for dst in self.indirect.expire(self.now_ms()) {
                    self.src_match(PropOp::Remove, dst);
                }
                // Like OpenThread's own data-poll handler: only a poll the RCP ACKed with
                // frame-pending gets a frame. A child told "nothing pending" is asleep again
                // (a poll that crossed the INSERT on the link); its frame waits for the next.
                let told = rx.acked_with_frame_pending();
                if let Some(t) = told.then(|| self.indirect.take(child)).flatten() {
                    // Right after the ACK, ahead of anything else queued.
                    let o = Outgoing { psdu: t.psdu, what: "indirect", queued_at: Instant::now() };
                    self.txq.push_front(o);
                    self.start_tx();
                    if t.emptied {
                        self.src_match(PropOp::Remove, child);
                    }
                }
                self.publish_indirect();
            }
            _ => {
                let rssi = (rx.rssi != 127 && rx.rssi != -128).then_some(f32::from(rx.rssi));
                let meta = RxMeta { rssi, lqi: Some(rx.phy.lqi) };
                self.emit(Output::Frame(Received { psdu: psdu.to_vec(), meta }));
            }
        }
    }

    // ---- to the RCP ----

    fn start_tx(&mut self) {
        if self.tx.is_some() || self.link.is_none() || self.recover.is_some() {
            return;
        }
        let Some(c) = self.config else { return };
        let Some(o) = self.txq.pop_front() else { return };
        let tid = match self.alloc_tid() {
            Ok(t) => t,
            Err(e) => {
                self.txq.push_front(o);
                self.note_error(e.0);
                return;
            }
        };
        let mut psdu = o.psdu.clone();
        psdu.extend_from_slice(&[0, 0]); // FCS, filled by the radio
        let req = TxRequest { psdu, meta: TxMetadata::new(c.channel) };
        self.in_flight.insert(tid, (Pending::Tx, Instant::now()));
        let cmd = Command::PropValue(PropOp::Set, PropValue::StreamRawTx(req));
        match self.write_frame(tid, cmd) {
            Ok(()) => {
                self.tx = Some((tid, o, Instant::now()));
                self.shared.status().tx_pending = self.txq.len() + 1;
            }
            Err(_) => {
                self.in_flight.remove(&tid);
                let now = Instant::now();
                self.report(o, Status::Dropped, false, now);
            }
        }
    }

    /// INSERT or REMOVE `dst` in the RCP's source-match table, without waiting for the answer
    /// (it is checked when it comes). While the link is down the table is rebuilt whole on
    /// recovery instead.
    fn src_match(&mut self, op: PropOp, dst: Address) {
        let value = match dst {
            Address::Short(s) => PropValue::MacSrcMatchShortEntry(s.0),
            Address::Extended(e) => PropValue::MacSrcMatchExtendedEntry(Eui64::from_u64(e.0)),
            Address::Absent => return,
        };
        self.shared.status().src_match = self.indirect.waiting();
        if self.link.is_none() || self.recover.is_some() || self.config.is_none() {
            return;
        }
        let what = format!("{op:?} source-match {dst:?}");
        let tid = match self.alloc_tid() {
            Ok(t) => t,
            Err(e) => return self.note_error(format!("{what}: {e}")),
        };
        self.in_flight.insert(tid, (Pending::SrcMatch(what), Instant::now()));
        if self.write_frame(tid, Command::PropValue(op, value)).is_err() {
            self.in_flight.remove(&tid);
        }
    }

    fn publish_indirect(&self) {
        self.shared.status().indirect_held = self.indirect.len();
    }

    fn note_error(&self, e: String) {
        self.shared.status().last_error = Some(e);
    }

    fn emit(&self, o: Output) {
        if self.out.try_send(o).is_err() {
            self.shared.status().rx_dropped += 1;
        }
    }
}

fn describe_command(c: &Command) -> String {
    match c {
        Command::Reset(_) => "CMD_RESET".into(),
        Command::PropValueGet(p) => format!("GET {}", p.name()),
        Command::PropValue(op, v) => format!("{op:?} {}", v.prop().name()),
        Command::Other { id, .. } => format!("command {id}"),
    }
}

#[cfg(test)]
mod tests;
