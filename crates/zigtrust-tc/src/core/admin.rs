use super::*;

impl TrustCenter {
    /// Applies an admin command at `now` (after running due timers). Its store writes, frames and
    /// events come out with the next [`TrustCenter::take_batch`].
    pub fn command(&mut self, now: Millis, cmd: AdminCommand) -> Result<(), AdminError> {
        self.advance(now);
        self.handle_timeout(self.now);
        match cmd {
            AdminCommand::FormNetwork { pan_id, extended_pan_id, channel } => {
                if self.network.is_some() {
                    return Err(AdminError::AlreadyFormed);
                }
                if !(11..=26).contains(&channel) {
                    return Err(AdminError::InvalidChannel(channel));
                }
                let tc_ieee = ExtAddr(0x00_0d6f_0000_0000 | (self.rng.u64() & 0xffff_ffff));
                let cfg =
                    NetworkConfig { pan_id, extended_pan_id, channel, tc_ieee, nwk_update_id: 0 };
                self.writes.push(StoreWrite::Network(cfg.clone()));
                self.network = Some(cfg);
                let key = NetworkKeyRecord {
                    seq: 0,
                    key: self.rng.key(),
                    exposed: false,
                    exposure: None,
                    created_at: self.now,
                };
                self.writes.push(StoreWrite::NetworkKey(key.clone()));
                self.writes.push(StoreWrite::ActiveKeySeq(0));
                self.writes.push(StoreWrite::Policy(self.policy.clone()));
                self.keys.insert(0, key);
                self.active_seq = 0;
                self.audit(
                    Severity::Info,
                    AuditKind::NetworkFormed,
                    None,
                    format!("PAN {pan_id}, channel {channel}"),
                );
            }
            AdminCommand::PermitJoin { duration_ms, ieee } => {
                self.require_network()?;
                if duration_ms == 0 {
                    if let Some(p) = &mut self.permit {
                        p.until = self.now;
                        self.handle_timeout(self.now);
                    }
                } else {
                    let until = self.now + duration_ms.min(MAX_PERMIT_JOIN_MS);
                    let legacy_joined = self.permit.as_ref().is_some_and(|p| p.legacy_joined);
                    self.permit = Some(PermitWindow { until, ieee, legacy_joined });
                    let who = ieee.map(|i| format!(" for {i}")).unwrap_or_default();
                    self.audit(
                        Severity::Info,
                        AuditKind::PermitJoinOpened,
                        ieee,
                        format!(
                            "permit join for {} s{who}",
                            duration_ms.min(MAX_PERMIT_JOIN_MS) / 1000
                        ),
                    );
                }
            }
            AdminCommand::AddInstallCode { ieee, link_key } => {
                self.writes.push(StoreWrite::InstallCode { ieee, key: link_key.clone() });
                self.install_codes.insert(ieee, link_key);
                self.audit(
                    Severity::Info,
                    AuditKind::InstallCodeAdded,
                    Some(ieee),
                    "install code added".into(),
                );
            }
            AdminCommand::RemoveInstallCode { ieee } => {
                self.install_codes.remove(&ieee);
                self.writes.push(StoreWrite::RemoveInstallCode(ieee));
            }
            AdminCommand::SetPolicy(p) => {
                self.writes.push(StoreWrite::Policy(p.clone()));
                self.audit(
                    Severity::Info,
                    AuditKind::PolicyChanged,
                    None,
                    format!("{:?} / insecure rejoin {:?}", p.legacy_join, p.insecure_rejoin),
                );
                self.policy = p;
            }
            AdminCommand::RemoveDevice { ieee } => {
                self.require_network()?;
                let d = self.devices.get_mut(&ieee).ok_or(AdminError::UnknownDevice(ieee))?;
                d.tombstoned = true;
                let router = d.capability & CapabilityInfo::FULL_FUNCTION_DEVICE != 0;
                let (short, parent) = (d.short_addr, d.parent);
                let rec = d.clone();
                self.writes.push(StoreWrite::Device(rec));
                // Ask the device to leave (NWK-secured, no rejoin).
                let mut h = self.nwk_header(NwkFrameType::Command, short);
                h.dst_ieee = Some(ieee);
                let mut p = Vec::new();
                NwkCommand::Leave { options: zigtrust_wire::nwk::LeaveOptions(0x40) }.emit(&mut p);
                self.send_nwk_secured(h, &p, self.active_seq, next_hop(short, parent), "leave");
                self.events.push_back(Event::DeviceRemoved { ieee });
                self.audit(
                    Severity::Warning,
                    AuditKind::DeviceRemoved,
                    Some(ieee),
                    "removed and tombstoned".into(),
                );
                // It keeps the network key it was given (and a rotation key, if one was sent):
                // those are readable by it until the network moves on without it.
                self.mark_exposed(self.active_seq, "held by a removed device", Some(ieee));
                if let Some(seq) = self.rotation.as_ref().map(|r| r.seq) {
                    self.mark_exposed(seq, "held by a removed device", Some(ieee));
                }
                let rotate = match self.policy.rotate_after_removal {
                    RemovalRotation::Never => false,
                    RemovalRotation::Routers => router,
                    RemovalRotation::Always => true,
                };
                if rotate {
                    if self.rotation.is_some() {
                        self.rotate_again = true;
                    } else {
                        self.start_rotation(AUTO_ROTATION_DEADLINE_MS)?;
                    }
                }
            }
            AdminCommand::ReadmitDevice { ieee } => {
                let d = self.devices.get_mut(&ieee).ok_or(AdminError::UnknownDevice(ieee))?;
                d.tombstoned = false;
                let rec = d.clone();
                self.writes.push(StoreWrite::Device(rec));
                self.audit(
                    Severity::Info,
                    AuditKind::DeviceReadmitted,
                    Some(ieee),
                    "tombstone lifted".into(),
                );
            }
            AdminCommand::RotateNetworkKey { deadline_ms } => {
                self.require_network()?;
                if self.rotation.is_some() {
                    return Err(AdminError::RotationInProgress);
                }
                self.start_rotation(deadline_ms)?;
            }
            AdminCommand::OpenRejoinWindow { duration_ms } => {
                self.rejoin_window_until = Some(self.now + duration_ms);
                self.audit(
                    Severity::Warning,
                    AuditKind::RejoinWindowOpened,
                    None,
                    format!("well-known-key rejoins accepted for {} s", duration_ms / 1000),
                );
            }
        }
        Ok(())
    }

    pub(super) fn require_network(&self) -> Result<&NetworkConfig, AdminError> {
        self.network.as_ref().ok_or(AdminError::NetworkNotFormed)
    }

    pub(super) fn audit(
        &mut self,
        severity: Severity,
        kind: AuditKind,
        ieee: Option<ExtAddr>,
        detail: String,
    ) {
        self.writes.push(StoreWrite::Audit(AuditEntry {
            time: self.now,
            severity,
            kind: kind.as_str().into(),
            ieee,
            detail,
        }));
    }
}
