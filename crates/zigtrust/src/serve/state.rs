//! The hub thread's state: the Trust Center on its radio (the live simulated home or ZEP),
//! the store, key-rotation progress, and the live-update broadcast. Everything here runs on
//! one thread; HTTP threads send it jobs.

use super::views::*;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;
use zigtrust_hub::radio::spinel::SpinelRadio;
use zigtrust_hub::radio::zep::ZepRadio;
use zigtrust_hub::radio::{RadioEvent, RadioFault, RadioIncident};
use zigtrust_hub::{Hub, Radio, RadioConfig, RadioError, Received};
use zigtrust_sim::device::Role as SimRole;
use zigtrust_sim::live::{HomeNv, LiveHome, COUNTER_MARGIN};
use zigtrust_store::Store;
use zigtrust_tc::model::{
    DeviceRecord, InsecureRejoinPolicy, JoinMethod, LegacyJoinPolicy, Millis, Policy,
    RemovalRotation, Severity, SpoofResponse,
};
use zigtrust_tc::{AdminCommand, AdminError, Event, Transmit, TrustCenter};
use zigtrust_wire::{CapabilityInfo, ExtAddr};

/// One Server-Sent Event for the live views: `state` (the whole state) or `alert`.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub kind: &'static str,
    /// JSON text.
    pub data: String,
}

pub const SIM_HOME_SETTING: &str = "sim_home";

pub fn now_ms() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The daemon's radios: the live simulated home (its devices only) or ZEP over UDP.
pub enum DaemonRadio {
    Sim(Box<LiveHome>),
    Zep(Box<ZepRadio>),
    /// An OpenThread RCP over Spinel (a USB dongle, or the simulation RCP).
    Spinel(Box<SpinelRadio>),
}

impl Radio for DaemonRadio {
    fn configure(&mut self, config: &RadioConfig) -> Result<(), RadioError> {
        match self {
            DaemonRadio::Sim(h) => h.configure(config),
            DaemonRadio::Zep(z) => z.configure(config),
            DaemonRadio::Spinel(r) => r.configure(config),
        }
    }
    fn transmit(&mut self, now: Millis, frame: Transmit) -> Result<(), RadioError> {
        match self {
            DaemonRadio::Sim(h) => h.transmit(now, frame),
            DaemonRadio::Zep(z) => z.transmit(now, frame),
            DaemonRadio::Spinel(r) => r.transmit(now, frame),
        }
    }
    fn receive(&mut self, now: Millis) -> Result<Option<Received>, RadioError> {
        match self {
            DaemonRadio::Sim(h) => h.receive(now),
            DaemonRadio::Zep(z) => z.receive(now),
            DaemonRadio::Spinel(r) => r.receive(now),
        }
    }
    fn next_wake(&self) -> Option<Millis> {
        match self {
            DaemonRadio::Sim(h) => h.next_wake(),
            DaemonRadio::Zep(z) => z.next_wake(),
            DaemonRadio::Spinel(r) => r.next_wake(),
        }
    }
    fn take_events(&mut self) -> Vec<RadioEvent> {
        match self {
            DaemonRadio::Sim(h) => h.take_events(),
            DaemonRadio::Zep(z) => z.take_events(),
            DaemonRadio::Spinel(r) => r.take_events(),
        }
    }
}

/// The daemon's hub: the SQLite store and one of its radios.
pub type DaemonHub = Hub<Store, DaemonRadio>;

/// A key rotation started from the API, and how far it got.
pub struct Rotation {
    pub from: u8,
    pub to: u8,
    pub started: Millis,
    pub deadline: Millis,
    pub devices: Vec<ExtAddr>,
    pub switched: Option<(Millis, Vec<ExtAddr>)>,
}

pub struct HubState {
    pub hub: DaemonHub,
    pub radio_name: String,
    /// Events of admin commands, handled with the radio's at the next step.
    events: Vec<Event>,
    pub rotation: Option<Rotation>,
    /// The device the open permit-join window is for, if one was named.
    pub permit_ieee: Option<ExtAddr>,
    pub sse: Arc<Mutex<Vec<Sender<LiveEvent>>>>,
    dirty: bool,
    last_push: Instant,
    last_alert_id: i64,
    check_alerts: bool,
    saved_home: Option<HomeNv>,
    saved_home_at: Instant,
    saved_counter: u32,
}

impl HubState {
    pub fn new(hub: DaemonHub, radio_name: String) -> HubState {
        let last_alert_id =
            hub.store().audit_log(1, None).ok().and_then(|v| v.first().map(|e| e.0)).unwrap_or(0);
        let saved_counter = match hub.radio() {
            DaemonRadio::Sim(h) => h.max_counter(),
            DaemonRadio::Zep(_) | DaemonRadio::Spinel(_) => 0,
        };
        HubState {
            hub,
            radio_name,
            events: Vec::new(),
            rotation: None,
            permit_ieee: None,
            sse: Arc::new(Mutex::new(Vec::new())),
            dirty: true,
            last_push: Instant::now(),
            last_alert_id,
            check_alerts: false,
            saved_home: None,
            saved_home_at: Instant::now(),
            saved_counter,
        }
    }

    pub fn home(&self) -> Option<&LiveHome> {
        match self.hub.radio() {
            DaemonRadio::Sim(h) => Some(h),
            DaemonRadio::Zep(_) | DaemonRadio::Spinel(_) => None,
        }
    }

    pub fn home_mut(&mut self) -> Option<&mut LiveHome> {
        match self.hub.radio_mut() {
            DaemonRadio::Sim(h) => Some(h),
            DaemonRadio::Zep(_) | DaemonRadio::Spinel(_) => None,
        }
    }

    /// The Trust Center, for reads.
    pub fn tc(&self) -> &TrustCenter {
        self.hub.tc()
    }

    pub fn store(&self) -> &Store {
        self.hub.store()
    }

    /// The last store failure (the radio is mute while the store fails).
    pub fn store_error(&self) -> Option<String> {
        self.hub.store_error().map(str::to_string)
    }

    /// An admin command through the hub (committed, then sent), and the live views refreshed.
    pub fn command(&mut self, cmd: AdminCommand) -> Result<(), AdminError> {
        let added = match &cmd {
            AdminCommand::AddInstallCode { ieee, .. } => Some(*ieee),
            _ => None,
        };
        let step = self.hub.command(now_ms(), cmd)?;
        self.events.extend(step.events);
        if let (Some(ieee), Some(home)) = (added, self.home_mut()) {
            home.install_code_known(ieee);
        }
        self.touch();
        Ok(())
    }

    /// Something changed outside the radio's steps: refresh the live views.
    pub fn touch(&mut self) {
        self.dirty = true;
        self.check_alerts = true;
        self.step();
    }

    /// When the hub thread must wake next at the latest (ms from now).
    pub fn wait_ms(&self) -> u64 {
        let now = now_ms();
        let radio = self.hub.next_wake().map_or(100, |t| t.saturating_sub(now));
        // A real radio's input (ZEP, Spinel) is polled; live views are pushed at most every
        // 250 ms.
        let polled = !matches!(self.hub.radio(), DaemonRadio::Sim(_));
        let cap = if polled || self.dirty { 20 } else { 100 };
        radio.min(cap)
    }

    /// Runs the radio up to now and publishes what changed.
    pub fn step(&mut self) {
        let now = now_ms();
        let mut events = std::mem::take(&mut self.events);
        // Step by step to the next wake-up (the simulated home's next event, the core's next
        // timer), so the core's timers run on time between the home's frames.
        let mut last = None;
        loop {
            let mut t = self.hub.next_wake().map_or(now, |w| w.min(now));
            if last.is_some_and(|l| t <= l) {
                t = now; // everything due at `last` ran; a timer still due must not spin
            }
            let step = self.hub.poll(t);
            events.extend(step.events);
            for e in &step.radio_events {
                // The hub wrote it to the audit log (published as an alert below); the
                // operator watching the daemon's output gets it as one line too.
                eprintln!("zigtrust serve: radio: {e}");
                self.dirty = true;
                self.check_alerts = true;
            }
            if t >= now {
                break;
            }
            last = Some(t);
        }
        if !events.is_empty() {
            self.dirty = true;
            self.check_alerts = true;
        }
        for e in events {
            if let Event::KeySwitched { seq, stragglers } = e {
                if let Some(r) = self.rotation.as_mut().filter(|r| r.to == seq) {
                    r.switched = Some((now, stragglers));
                }
            }
        }
        if self.check_alerts {
            self.check_alerts = false;
            self.publish_alerts();
        }
        if self.dirty && self.last_push.elapsed().as_millis() >= 250 {
            self.dirty = false;
            self.last_push = Instant::now();
            let v = self.state_event();
            let data = serde_json::to_string(&v).unwrap_or_default();
            self.broadcast(LiveEvent { kind: "state", data });
        }
        self.save_home(false);
    }

    fn publish_alerts(&mut self) {
        let Ok(entries) = self.store().audit_log(50, None) else { return };
        let mut fresh: Vec<AuditEntryView> = entries
            .iter()
            .filter(|(id, e)| *id > self.last_alert_id && e.severity >= Severity::Warning)
            .map(|(id, e)| audit_view(*id, e))
            .collect();
        if let Some((id, _)) = entries.first() {
            self.last_alert_id = self.last_alert_id.max(*id);
        }
        fresh.reverse();
        for a in fresh {
            let data = serde_json::to_string(&a).unwrap_or_default();
            self.broadcast(LiveEvent { kind: "alert", data });
        }
    }

    /// Sends a live update to every subscriber; a subscriber too slow to keep up misses it
    /// (the next `state` event carries the whole state again), one that left is dropped.
    pub fn broadcast(&self, msg: LiveEvent) {
        let mut subs = self.sse.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| !matches!(s.try_send(msg.clone()), Err(TrySendError::Closed(_))));
    }

    /// Saves the simulated devices' memory: at once when something other than counters
    /// changed, else every 5 s, and always before counters could pass the restore margin.
    pub fn save_home(&mut self, force: bool) {
        let DaemonRadio::Sim(h) = self.hub.radio() else { return };
        let nv = h.nv();
        let counter = h.max_counter();
        let structural = self.saved_home.as_ref().is_none_or(|s| !same_but_counters(s, &nv));
        let counters_changed = self.saved_home.as_ref() != Some(&nv);
        let due = counters_changed
            && (self.saved_home_at.elapsed().as_secs() >= 5
                || counter >= self.saved_counter.saturating_add(COUNTER_MARGIN / 4));
        if !(force || structural || due) {
            return;
        }
        let Ok(text) = serde_json::to_vec(&nv) else { return };
        if self.hub.store_mut().set_setting(SIM_HOME_SETTING, &text).is_ok() {
            self.saved_home = Some(nv);
            self.saved_home_at = Instant::now();
            self.saved_counter = counter;
        }
    }

    // ---- views ------------------------------------------------------------------------

    pub fn permit_view(&self) -> PermitView {
        let tc = self.tc();
        let rem = tc.permit_join_remaining().unwrap_or(0);
        let ieee = self.permit_ieee.filter(|_| rem > 0).map(|i| i.to_string());
        PermitView { open: rem > 0, remaining_s: rem.div_ceil(1000), ieee }
    }

    pub fn rejoin_window_view(&self) -> RejoinWindowView {
        let rem = self.tc().rejoin_window_remaining().unwrap_or(0);
        RejoinWindowView { open: rem > 0, remaining_s: rem.div_ceil(1000) }
    }

    pub fn network_view(&self) -> NetworkView {
        self.network_view_of(&self.device_views())
    }

    /// The live-update payload: the network view plus the device list, built once.
    pub fn state_event(&self) -> StateEvent {
        let devices = self.device_views();
        StateEvent { network: self.network_view_of(&devices), devices_list: devices }
    }

    fn network_view_of(&self, devices: &[DeviceView]) -> NetworkView {
        let tc = self.tc();
        let at_risk = devices.iter().filter(|d| d.stranded_risk == "high").count();
        let alerts = self
            .store()
            .audit_log(200, None)
            .map(|v| v.iter().filter(|(_, e)| e.severity >= Severity::Alert).count())
            .unwrap_or(0);
        let net = tc.network();
        // Every key the network used, with whether (and why) a sniffer or a removed device
        // may hold it.
        let keys: Vec<KeyView> = (0..=255u8)
            .filter_map(|s| tc.network_key(s))
            .map(|k| KeyView {
                seq: k.seq,
                active: k.seq == tc.active_key_seq(),
                exposed: k.exposed,
                exposure: k.exposure.clone(),
            })
            .collect();
        let active_exposed = tc.network_key(tc.active_key_seq()).is_some_and(|k| k.exposed);
        NetworkView {
            pan_id: net.map(|n| format!("{:#06x}", n.pan_id.0)),
            extended_pan_id: net.map(|n| ExtAddr(n.extended_pan_id).to_string()),
            channel: net.map(|n| n.channel),
            tc_ieee: net.map(|n| n.tc_ieee.to_string()),
            active_key_seq: tc.active_key_seq(),
            active_key_exposed: active_exposed,
            keys,
            key_advice: active_exposed.then_some(
                "The network key in use may be read by others (see each key's exposure). While \
                 devices with a public link key (legacy, or Zigbee 3.0 paired without an install \
                 code) are on the network, every new key sent to them is as exposed as the key it \
                 travels under: re-pair Zigbee 3.0 devices with their install code, remove what \
                 you no longer use, then rotate the network key.",
            ),
            radio: self.radio_name.clone(),
            radio_status: self.radio_status_view(),
            permit_join: self.permit_view(),
            rejoin_window: self.rejoin_window_view(),
            policy: policy_view(tc.policy()),
            rotation: self.rotation_view(),
            devices: devices.iter().filter(|d| !d.removed).count(),
            devices_at_risk: at_risk,
            alerts,
            store_error: self.store_error(),
            radio_error: self.hub.radio_error().map(str::to_string),
            now: now_ms(),
        }
    }

    pub fn radio_status_view(&self) -> RadioStatusView {
        let health = self.hub.radio_health();
        let (kind, link_up, firmware) = match self.hub.radio() {
            DaemonRadio::Sim(_) => ("sim", true, None),
            DaemonRadio::Zep(_) => ("zep", true, None),
            DaemonRadio::Spinel(r) => {
                let st = r.status();
                ("spinel", st.link_up, st.info.map(|i| i.ncp_version))
            }
        };
        RadioStatusView {
            kind,
            link_up,
            firmware,
            recoveries: health.recoveries,
            outages: health.outages,
            frames_lost: health.frames_lost,
            last_incident: health.last.as_ref().map(radio_incident_view),
        }
    }

    pub fn rotation_view(&self) -> Option<RotationView> {
        let r = self.rotation.as_ref()?;
        let tc = self.tc();
        let pending: Vec<ExtAddr> = match tc.rotation_pending() {
            Some((seq, p)) if seq == r.to => p,
            _ => Vec::new(),
        };
        let devices: Vec<RotationDevice> = r
            .devices
            .iter()
            .map(|i| {
                // Confirmed: acknowledged the new key (no longer pending), and not left behind
                // at the switch.
                let confirmed = tc.device(*i).is_some()
                    && !pending.contains(i)
                    && !r.switched.as_ref().is_some_and(|(_, s)| s.contains(i));
                RotationDevice { ieee: i.to_string(), confirmed }
            })
            .collect();
        let confirmed = devices.iter().filter(|d| d.confirmed).count();
        Some(RotationView {
            state: if r.switched.is_some() { "switched" } else { "distributing" },
            from_seq: r.from,
            to_seq: r.to,
            started: r.started,
            deadline: r.deadline,
            confirmed,
            total: r.devices.len(),
            devices,
            stragglers: r
                .switched
                .as_ref()
                .map_or(Vec::new(), |(_, s)| s.iter().map(ExtAddr::to_string).collect()),
        })
    }

    pub fn device_views(&self) -> Vec<DeviceView> {
        self.tc().devices().map(|d| self.device_view(d)).collect()
    }

    pub fn device_view(&self, d: &DeviceRecord) -> DeviceView {
        let tc = self.tc();
        let active = tc.active_key_seq();
        let cap = d.capability;
        let role = if cap & CapabilityInfo::FULL_FUNCTION_DEVICE != 0 {
            "router"
        } else if cap & CapabilityInfo::RX_ON_WHEN_IDLE != 0 {
            "end-device"
        } else {
            "sleepy-end-device"
        };
        let security = match d.join_method {
            JoinMethod::InstallCode => "z3.0",
            JoinMethod::WellKnownKey => "legacy",
            JoinMethod::Restored => "restored",
        };
        let unique_link = d.tclk.is_some();
        // Whether a sniffer can read what is sent under this device's link key.
        let (link_key, link_public, advice) = match (d.join_method, &d.tclk, d.tclk_verified) {
            (JoinMethod::WellKnownKey, None, _) => ("well-known", true, Some(
                "Its link key is the public ZigBeeAlliance09: keys sent to it are readable by anyone \
                 holding the network key they travel under. If it is a Zigbee 3.0 device, re-pair it \
                 with its install code.",
            )),
            (JoinMethod::WellKnownKey, Some(_), _) => ("exposed", true, Some(
                "Its unique link key travelled under public keys, so it is no secret. Re-pair it \
                 with its install code if it has one.",
            )),
            (_, Some(_), true) => ("unique", false, None),
            (_, Some(_), false) => ("install-code", false, None),
            (_, None, _) => ("well-known", true, None),
        };
        // The very key: same sequence number and key hash (numbers wrap after 256 rotations).
        let has_active = tc.held_key(d) == Some(active);
        let (risk, reason) = stranded_risk(tc, d, has_active, unique_link);
        // What the coordinator's radio last heard directly from this short address (a device
        // heard only through a router has none).
        let link = self.hub.link(d.short_addr);
        let name = self.home().and_then(|h| {
            h.devices.iter().find(|x| h.ieee(x) == d.ieee).map(|x| x.name.to_string())
        });
        DeviceView {
            ieee: d.ieee.to_string(),
            short_addr: format!("{:#06x}", d.short_addr.0),
            name,
            role,
            security,
            install_code_key: d.join_method == JoinMethod::InstallCode,
            tclk_verified: d.tclk_verified,
            link_key,
            link_key_public: link_public,
            advice,
            last_key_seq: d.last_key_seq,
            has_active_key: has_active,
            last_seen: d.last_seen,
            parent: format!("{:#06x}", d.parent.0),
            stranded_risk: risk,
            stranded_reason: reason,
            removed: d.tombstoned,
            link: LinkView {
                lqi: link.and_then(|l| l.lqi),
                rssi: link.and_then(|l| l.rssi),
                heard_at: link.map(|l| l.heard_at),
            },
        }
    }

    pub fn sim_view(&self) -> Option<SimView> {
        let h = self.home()?;
        let att = h.attacker();
        let devices: Vec<SimDeviceView> = h
            .devices
            .iter()
            .map(|d| SimDeviceView {
                ieee: h.ieee(d).to_string(),
                name: d.name.to_string(),
                profile: match d.profile {
                    zigtrust_sim::device::Profile::Z30 => "z3.0",
                    zigtrust_sim::device::Profile::Ha12 => "legacy",
                },
                role: if d.role == SimRole::Router { "router" } else { "sleepy-end-device" },
                joined: h.joined(d),
                starter: d.auto_pair,
                label: d.label.clone(),
            })
            .collect();
        Some(SimView {
            attacker: h.attacker_on(),
            spoofs_sent: att.map_or(0, |a| a.spoofs_sent),
            attacker_knows_network_key: att.is_some_and(|a| !a.leaks.is_empty()),
            devices,
        })
    }
}

/// Whether the device could be left unable to talk, and why.
fn stranded_risk(
    tc: &TrustCenter,
    d: &DeviceRecord,
    has_active: bool,
    unique_link: bool,
) -> (&'static str, Option<String>) {
    if d.tombstoned || has_active {
        return ("none", None);
    }
    let pending = tc.rotation_pending().is_some_and(|(_, p)| p.contains(&d.ieee));
    if unique_link {
        return (
            "low",
            Some(
                "lacks the active key; a Trust Center rejoin gets it under its own link key".into(),
            ),
        );
    }
    match tc.policy().insecure_rejoin {
        InsecureRejoinPolicy::AllowLeakingKey => ("low", Some("lacks the active key; the policy would send it under the well-known key (a sniffer gets it too)".into())),
        InsecureRejoinPolicy::Adaptive if d.last_key_seq.is_some() || pending => ("low", Some("lacks the active key; the Trust Center will send it under the key this device holds".into())),
        InsecureRejoinPolicy::Adaptive => ("high", Some("legacy device holding no key the Trust Center can send under safely: only the well-known key (readable by any sniffer) reaches it. Open a rejoin window for it, or re-pair it inside a permit-join window".into())),
        InsecureRejoinPolicy::Deny => ("high", Some("legacy device without the active key and insecure rejoin is denied".into())),
    }
}

fn same_but_counters(a: &HomeNv, b: &HomeNv) -> bool {
    let strip = |h: &HomeNv| {
        let mut h = h.clone();
        for d in h.devices.iter_mut().flatten() {
            d.nwk_fc = 0;
            d.aps_fc = 0;
        }
        h
    };
    strip(a) == strip(b)
}

pub fn policy_view(p: &Policy) -> PolicyView {
    PolicyView {
        legacy_join: match p.legacy_join {
            LegacyJoinPolicy::AllowedWhilePermitJoin => "allowed-while-permit-join",
            LegacyJoinPolicy::InstallCodeRequired => "install-code-required",
        },
        insecure_rejoin: match p.insecure_rejoin {
            InsecureRejoinPolicy::AllowLeakingKey => "allow",
            InsecureRejoinPolicy::Deny => "deny",
            InsecureRejoinPolicy::Adaptive => "adaptive",
        },
        spoof_response: match p.spoof_response {
            SpoofResponse::Deny => "deny",
            SpoofResponse::Ignore => "ignore",
        },
        rotate_after_legacy_window: p.rotate_after_legacy_window,
        rotate_after_removal: match p.rotate_after_removal {
            RemovalRotation::Never => "never",
            RemovalRotation::Routers => "routers",
            RemovalRotation::Always => "always",
        },
    }
}

pub fn radio_incident_view(e: &RadioEvent) -> RadioIncidentView {
    let fault = e.fault();
    let detail = match fault {
        RadioFault::UnexpectedReset { status } => status.clone(),
        RadioFault::LinkLost { detail } | RadioFault::Unresponsive { detail } => detail.clone(),
    };
    let mut v = RadioIncidentView {
        time: e.at,
        state: "recovered",
        cause: fault.as_str(),
        detail,
        frames_lost: None,
        reopened: None,
        config_reapplied: None,
        outage_ms: None,
        error: None,
        message: e.to_string(),
    };
    match &e.incident {
        RadioIncident::Recovered { frames_lost, reopened, config_reapplied, outage_ms, .. } => {
            v.frames_lost = Some(*frames_lost);
            v.reopened = Some(*reopened);
            v.config_reapplied = Some(*config_reapplied);
            v.outage_ms = Some(*outage_ms);
        }
        RadioIncident::Down { error, .. } => {
            v.state = "down";
            v.error = Some(error.clone());
        }
    }
    v
}

pub fn audit_view(id: i64, e: &zigtrust_tc::model::AuditEntry) -> AuditEntryView {
    AuditEntryView {
        id,
        time: e.time,
        severity: match e.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Alert => "alert",
        },
        kind: e.kind.clone(),
        ieee: e.ieee.map(|i| i.to_string()),
        detail: e.detail.clone(),
    }
}
