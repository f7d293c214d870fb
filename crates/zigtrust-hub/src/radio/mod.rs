//! The hub's radio: what the Trust Center needs of an IEEE 802.15.4 radio and its MAC, whatever
//! carries the frames (the simulated home, ZEP over UDP, an OpenThread RCP over Spinel).
//!
//! A radio answers beacon requests, sends acknowledgements where it can, holds frames marked
//! [`Transmit::indirect`] for a sleepy child's data request, and hands every other received
//! frame to the hub. Radio configuration is parsed once, from `--radio`, into a [`RadioSpec`].

pub mod indirect;
pub mod spinel;
pub mod zep;

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use zigtrust_tc::model::{AuditEntry, Millis, NetworkConfig, Severity};
use zigtrust_tc::{RxMeta, Transmit};
use zigtrust_wire::mac::{Beacon, MacFrame, SuperframeSpec, ZigbeeBeaconPayload};
use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

/// What the radio must know about the network it serves as coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadioConfig {
    /// 802.15.4 channel (11–26).
    pub channel: u8,
    /// PAN identifier.
    pub pan_id: PanId,
    /// Extended PAN id, for beacons.
    pub extended_pan_id: u64,
    /// The coordinator's own IEEE address.
    pub ieee: ExtAddr,
    /// NWK update id, for beacons.
    pub nwk_update_id: u8,
    /// Whether beacons advertise permit join.
    pub permit_join: bool,
}

impl RadioConfig {
    /// The configuration for `net`, with the permit-join bit.
    pub fn of(net: &NetworkConfig, permit_join: bool) -> RadioConfig {
        RadioConfig {
            channel: net.channel,
            pan_id: net.pan_id,
            extended_pan_id: net.extended_pan_id,
            ieee: net.tc_ieee,
            nwk_update_id: net.nwk_update_id,
            permit_join,
        }
    }
}

/// The coordinator's answer to a beacon request under `config`: a Zigbee PRO beacon from short
/// address 0x0000 with the permit-join bit, MAC sequence number `seq`, without FCS.
pub fn coordinator_beacon(config: &RadioConfig, seq: u8) -> Vec<u8> {
    let zb = ZigbeeBeaconPayload::coordinator(config.extended_pan_id, config.nwk_update_id);
    let mut payload = Vec::new();
    zb.emit(&mut payload);
    let b = MacFrame::beacon(
        seq,
        config.pan_id,
        ShortAddr::COORDINATOR,
        Beacon::new(SuperframeSpec::zigbee(true, config.permit_join), &payload),
    );
    let mut psdu = Vec::new();
    b.emit(&mut psdu);
    psdu
}

/// A frame the radio received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// MAC frame without FCS.
    pub psdu: Vec<u8>,
    /// Signal metadata, where the radio reports it.
    pub meta: RxMeta,
}

/// A radio failure. The hub records it and carries on: a frame that failed to go out is lost
/// (its counters are never reused), as on air.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioError(pub String);

impl fmt::Display for RadioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RadioError {}

/// What went wrong with a radio that had to be brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioFault {
    /// The radio restarted on its own (power loss, watchdog, a firmware crash) and forgot its
    /// configuration; `status` is the reset reason it reported (e.g. `ResetPowerOn`).
    UnexpectedReset {
        /// The reset status, as the radio named it.
        status: String,
    },
    /// The link to the radio went away: its process died, the USB device was unplugged, a
    /// read or write failed.
    LinkLost {
        /// What was seen.
        detail: String,
    },
    /// The radio stopped answering (a transmission never completed).
    Unresponsive {
        /// What was seen.
        detail: String,
    },
}

impl RadioFault {
    /// A stable machine name: `unexpected-reset`, `link-lost` or `unresponsive`.
    pub fn as_str(&self) -> &'static str {
        match self {
            RadioFault::UnexpectedReset { .. } => "unexpected-reset",
            RadioFault::LinkLost { .. } => "link-lost",
            RadioFault::Unresponsive { .. } => "unresponsive",
        }
    }
}

impl fmt::Display for RadioFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RadioFault::UnexpectedReset { status } => {
                write!(f, "the radio reset unexpectedly ({status})")
            }
            RadioFault::LinkLost { detail } | RadioFault::Unresponsive { detail } => {
                f.write_str(detail)
            }
        }
    }
}

/// What a radio did about a [`RadioFault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioIncident {
    /// The radio is back: re-opened (or re-handshaken on a live link) and reconfigured.
    Recovered {
        /// What was seen first.
        fault: RadioFault,
        /// Frames lost with it: in flight or queued at the fault, and refused while it was
        /// down (never re-sent: their frame counters are spent).
        frames_lost: u64,
        /// Whether the link was re-opened (the process respawned, the device reopened), not
        /// just re-handshaken.
        reopened: bool,
        /// Whether the network's configuration (channel, PAN, addresses, and the frames held
        /// for sleepy children) was applied again.
        config_reapplied: bool,
        /// Entries put back in the radio's frame-pending table.
        pending_entries: usize,
        /// From the fault to the radio working again, in ms.
        outage_ms: u64,
    },
    /// Bringing the radio back failed; it is retried until it works. Reported once per
    /// outage.
    Down {
        /// What was seen first.
        fault: RadioFault,
        /// Why re-opening failed.
        error: String,
    },
}

/// Something that happened to the radio that the user should hear about, with when the fault
/// was seen (Unix ms, the hub's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioEvent {
    /// When the fault was seen.
    pub at: Millis,
    /// What happened.
    pub incident: RadioIncident,
}

impl RadioEvent {
    /// The audit log's name for it: `radio-recovered` or `radio-down`.
    pub fn audit_kind(&self) -> &'static str {
        match self.incident {
            RadioIncident::Recovered { .. } => "radio-recovered",
            RadioIncident::Down { .. } => "radio-down",
        }
    }

    /// The fault behind it.
    pub fn fault(&self) -> &RadioFault {
        match &self.incident {
            RadioIncident::Recovered { fault, .. } | RadioIncident::Down { fault, .. } => fault,
        }
    }

    /// The audit-log line: a warning (frames were lost; the network may have been deaf), not
    /// a security alert.
    pub fn audit_entry(&self) -> AuditEntry {
        AuditEntry {
            time: self.at,
            severity: Severity::Warning,
            kind: self.audit_kind().to_string(),
            ieee: None,
            detail: self.to_string(),
        }
    }
}

impl fmt::Display for RadioEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.incident {
            RadioIncident::Recovered {
                fault,
                frames_lost,
                reopened,
                config_reapplied,
                pending_entries,
                outage_ms,
            } => {
                write!(f, "{fault}; ")?;
                f.write_str(if *reopened { "re-opened" } else { "handshaken again" })?;
                if *config_reapplied {
                    write!(
                        f,
                        " and its configuration re-applied (channel, PAN, addresses, \
                         {pending_entries} frame-pending entries)"
                    )?;
                }
                write!(f, " after {outage_ms} ms; {frames_lost} frames lost")
            }
            RadioIncident::Down { fault, error } => {
                write!(f, "{fault}; re-opening the radio failed ({error}); retrying")
            }
        }
    }
}

/// What a radio's [`RadioEvent`]s add up to since the hub started, for the user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RadioHealth {
    /// Times the radio was brought back after a fault.
    pub recoveries: u32,
    /// Outages in which a first attempt to bring it back failed.
    pub outages: u32,
    /// Frames lost with faults, in all.
    pub frames_lost: u64,
    /// Whether the radio is down now (a [`RadioIncident::Down`] not yet followed by a
    /// recovery).
    pub down: bool,
    /// The latest event.
    pub last: Option<RadioEvent>,
}

impl RadioHealth {
    /// Counts `e` in.
    pub fn record(&mut self, e: &RadioEvent) {
        match &e.incident {
            RadioIncident::Recovered { frames_lost, .. } => {
                self.recoveries += 1;
                self.frames_lost += frames_lost;
                self.down = false;
            }
            RadioIncident::Down { .. } => {
                self.outages += 1;
                self.down = true;
            }
        }
        self.last = Some(e.clone());
    }
}

/// An IEEE 802.15.4 radio with the coordinator's MAC duties (see the module docs).
pub trait Radio {
    /// Applies the network's parameters; called at start and whenever they change.
    fn configure(&mut self, config: &RadioConfig) -> Result<(), RadioError>;
    /// Sends one frame now, or holds it for its destination's data request when
    /// `frame.indirect`.
    fn transmit(&mut self, now: Millis, frame: Transmit) -> Result<(), RadioError>;
    /// The next frame received up to `now` that is for the hub, if any.
    fn receive(&mut self, now: Millis) -> Result<Option<Received>, RadioError>;
    /// When the radio next needs [`Radio::receive`] called, if it knows (e.g. its next
    /// simulated event); `None` lets the caller poll at its own pace.
    fn next_wake(&self) -> Option<Millis> {
        None
    }
    /// What happened to the radio since the last call (resets, lost links, recoveries), oldest
    /// first; a radio that cannot fail this way has none.
    fn take_events(&mut self) -> Vec<RadioEvent> {
        Vec::new()
    }
}

/// A radio that only collects what the hub sends, for shells that move frames themselves (the
/// simulator's medium) and for tests.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Frames released by the hub, oldest first.
    pub frames: Vec<Transmit>,
    /// The last configuration applied.
    pub config: Option<RadioConfig>,
}

impl Radio for Outbox {
    fn configure(&mut self, config: &RadioConfig) -> Result<(), RadioError> {
        self.config = Some(*config);
        Ok(())
    }
    fn transmit(&mut self, _now: Millis, frame: Transmit) -> Result<(), RadioError> {
        self.frames.push(frame);
        Ok(())
    }
    fn receive(&mut self, _now: Millis) -> Result<Option<Received>, RadioError> {
        Ok(None)
    }
}

/// `--radio`, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadioSpec {
    /// `sim`: the live simulated home.
    Sim,
    /// `zep:ADDR:PORT`: 802.15.4 frames as ZEP v2 over UDP to `peer`, listening on its port.
    Zep {
        /// Where frames are sent.
        peer: SocketAddr,
    },
    /// `spinel+hdlc+forkpty:///path/to/ot-rcp?forkpty-arg=1` or
    /// `spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800`: an OpenThread RCP over Spinel
    /// ([`spinel::SpinelRadio`]); either takes `tx-power=<dBm>` ([`spinel::TX_POWER_DBM`]).
    Spinel(spinel::SpinelSpec),
}

impl FromStr for RadioSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<RadioSpec, String> {
        if s == "sim" {
            return Ok(RadioSpec::Sim);
        }
        if let Some(target) = s.strip_prefix("zep:") {
            let peer = target
                .to_socket_addrs()
                .map_err(|e| format!("--radio zep:{target}: {e}"))?
                .next()
                .ok_or_else(|| format!("--radio zep:{target}: no address"))?;
            return Ok(RadioSpec::Zep { peer });
        }
        if spinel::SpinelSpec::is_spinel_url(s) {
            return spinel::SpinelSpec::parse(s).map(RadioSpec::Spinel);
        }
        Err(format!(
            "--radio must be `sim`, `zep:ADDR:PORT`, `spinel+hdlc+uart:///dev/DEVICE?uart-baudrate=N` \
             or `spinel+hdlc+forkpty:///path/to/ot-rcp?forkpty-arg=…`, not `{s}`"
        ))
    }
}

impl fmt::Display for RadioSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RadioSpec::Sim => f.write_str("sim"),
            RadioSpec::Zep { peer } => write!(f, "zep:{peer}"),
            RadioSpec::Spinel(spec) => spec.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn radio_specs_parse_once_into_their_type() {
        assert_eq!("sim".parse::<RadioSpec>(), Ok(RadioSpec::Sim));
        let z: RadioSpec = "zep:127.0.0.1:17754".parse().unwrap();
        assert_eq!(z, RadioSpec::Zep { peer: "127.0.0.1:17754".parse().unwrap() });
        assert_eq!(z.to_string(), "zep:127.0.0.1:17754");
        for bad in ["", "zep:", "zep:127.0.0.1", "spinel", "SIM"] {
            assert!(bad.parse::<RadioSpec>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn spinel_urls_parse_into_path_args_and_baud_rate() {
        use spinel::SpinelSpec;
        let r: RadioSpec = "spinel+hdlc+forkpty:///opt/ot/ot-rcp?forkpty-arg=1".parse().unwrap();
        assert_eq!(
            r,
            RadioSpec::Spinel(SpinelSpec::Forkpty {
                program: "/opt/ot/ot-rcp".into(),
                args: vec!["1".into()],
                tx_power: None,
            })
        );
        assert_eq!(r.to_string(), "spinel+hdlc+forkpty:///opt/ot/ot-rcp?forkpty-arg=1");
        // Several arguments keep their order; escapes decode and round-trip.
        let r: RadioSpec =
            "spinel+hdlc+forkpty:///usr/bin/ot%20rcp?forkpty-arg=-s&forkpty-arg=2&forkpty-arg=a%26b"
                .parse()
                .unwrap();
        let RadioSpec::Spinel(SpinelSpec::Forkpty { program, args, .. }) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(program, &PathBuf::from("/usr/bin/ot rcp"));
        assert_eq!(args, &["-s", "2", "a&b"]);
        assert_eq!(r.to_string().parse::<RadioSpec>().unwrap(), r);
        // No arguments at all.
        let r: RadioSpec = "spinel+hdlc+forkpty:///bin/ot-rcp".parse().unwrap();
        assert_eq!(
            r,
            RadioSpec::Spinel(SpinelSpec::Forkpty {
                program: "/bin/ot-rcp".into(),
                args: vec![],
                tx_power: None
            })
        );

        let r: RadioSpec = "spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800".parse().unwrap();
        assert_eq!(
            r,
            RadioSpec::Spinel(SpinelSpec::Uart {
                device: "/dev/ttyACM0".into(),
                baud: 460800,
                flow_control: false,
                tx_power: None,
            })
        );
        assert_eq!(r.to_string(), "spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800");
        let r: RadioSpec =
            "spinel+hdlc+uart:///dev/serial/by-id/usb-ITead_Sonoff-if00".parse().unwrap();
        let RadioSpec::Spinel(SpinelSpec::Uart { baud, .. }) = &r else { panic!("{r:?}") };
        assert_eq!(*baud, spinel::DEFAULT_BAUD);
        let r: RadioSpec = "spinel+hdlc+uart:///dev/ttyUSB0?uart-baudrate=115200&uart-flow-control"
            .parse()
            .unwrap();
        assert_eq!(
            r,
            RadioSpec::Spinel(SpinelSpec::Uart {
                device: "/dev/ttyUSB0".into(),
                baud: 115200,
                flow_control: true,
                tx_power: None,
            })
        );
        assert_eq!(r.to_string().parse::<RadioSpec>().unwrap(), r);
    }

    #[test]
    fn bad_spinel_urls_say_what_is_wrong() {
        let cases = [
            ("spinel+hdlc+uart://dev/ttyACM0", "absolute"),
            ("spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=123456", "not a standard serial speed"),
            ("spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=fast", "not a number"),
            ("spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate", "needs a value"),
            ("spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=9600&uart-baudrate=9600", "twice"),
            ("spinel+hdlc+uart:///dev/ttyACM0?baud=9600", "unknown parameter `baud`"),
            ("spinel+hdlc+forkpty:///bin/ot-rcp?forkpty-arg", "needs a value"),
            ("spinel+hdlc+forkpty:///bin/ot-rcp?uart-baudrate=9600", "unknown parameter"),
            ("spinel+hdlc+forkpty://", "absolute"),
            ("spinel+hdlc+forkpty:///bin/ot%zzrcp", "%-escape"),
            ("spinel+hdlc+spi:///dev/spidev0.0", "a Spinel radio URL is"),
            ("spinel:///dev/ttyACM0", "a Spinel radio URL is"),
            ("spinel+hdlc+uart:///dev/ttyACM0?tx-power=30", "tx-power=30 dBm is out of range"),
        ];
        for (url, why) in cases {
            let e = url.parse::<RadioSpec>().unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
        }
    }
}
