use super::*;

impl TrustCenter {
    /// When [`TrustCenter::handle_timeout`] next needs to run.
    pub fn next_timeout(&self) -> Option<Millis> {
        [
            self.permit.as_ref().map(|p| p.until),
            self.rejoin_window_until,
            self.rotation.as_ref().map(|r| r.deadline),
            self.next_rotation_retry(),
            self.deferred_answers.values().map(|d| d.at).min(),
            // A counter near its end (e.g. after a restore) rotates at the next timeout: due now.
            self.counter_exhausted().then_some(self.now),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(super) fn advance(&mut self, now: Millis) {
        // The core's clock never goes backwards: a shell feeding an older time cannot reopen
        // or extend a window.
        self.now = self.now.max(now);
    }

    /// Runs timers: closes permit-join and rejoin windows, switches keys at a deadline, sends
    /// rejoin answers held back by [`ANSWER_INTERVAL_MS`].
    pub fn handle_timeout(&mut self, now: Millis) {
        self.advance(now);
        if let Some(p) = &self.permit {
            if self.now >= p.until {
                let legacy = p.legacy_joined;
                self.permit = None;
                self.events.push_back(Event::PermitJoinClosed);
                self.audit(
                    Severity::Info,
                    AuditKind::PermitJoinClosed,
                    None,
                    "permit-join window closed".into(),
                );
                if legacy && self.policy.rotate_after_legacy_window && self.rotation.is_none() {
                    let _ = self.start_rotation(60_000);
                }
            }
        }
        if self.rejoin_window_until.is_some_and(|u| self.now >= u) {
            self.rejoin_window_until = None;
        }
        if self.rotation.as_ref().is_some_and(|r| self.now >= r.deadline) {
            self.switch_key();
        }
        self.retry_rotation_keys();
        let due: Vec<(ExtAddr, RejoinVia)> = self
            .deferred_answers
            .iter()
            .filter(|(_, d)| d.at <= self.now)
            .map(|(i, d)| (*i, d.via))
            .collect();
        for (ieee, via) in due {
            self.deferred_answers.remove(&ieee);
            // Evaluated afresh: the device may have been removed or proved itself since.
            let Some(cap) = self.devices.get(&ieee).map(|d| d.capability) else { continue };
            self.answer_rejoin(ieee, cap, via);
        }
        self.check_counter_exhaustion();
    }
}
