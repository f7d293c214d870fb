//! Permit-join announcements. The Trust Center core owns the permit-join window; routers only
//! accept associations while their own window is open, and they learn of it from the
//! coordinator's ZDO Mgmt_Permit_Joining_req. Without the announcement a device can join only
//! directly at the coordinator. A router's window only lets a joiner reach the Trust Center,
//! which still decides (the core refuses a join reported by a router while its own window is
//! closed).
//!
//! What is sent, and when:
//! - the window opens, is re-opened for a different time, or is cut short: a broadcast to all
//!   routers (0xfffc) with the seconds left (0 to close), NWK-secured under the active key;
//! - the window closes at its end: a closing broadcast too, so routers that heard the request
//!   of some other device, or whose clocks ran slow, close with the Trust Center;
//! - a router joins while the window is open: the same request unicast to it once the Trust
//!   Center has authenticated a frame from it under the network key (it holds the key: its
//!   Device_annce, a Z3.0 device's Request-Key), or [`NEW_ROUTER_DELAY_MS`] after its join if it
//!   says nothing. A broadcast sent before it joined never reached it; at its join it could not
//!   read one yet, and a frame held with its association response would come after later
//!   frames with higher counters: a replay to it;
//! - a window longer than [`MAX_PERMIT_DURATION_S`] (the core caps its windows there today, but
//!   the announcer does not rely on it): re-broadcast [`RENEW_LEAD_MS`] before the routers'
//!   windows end. `0xff`, "forever" before R21, is forbidden since and never sent.
//!
//! Durations are rounded down to whole seconds: a router never permits after the Trust Center
//! stopped, at worst it stops up to a second earlier.

use zigtrust_tc::model::Millis;
use zigtrust_wire::aps::ApsHeader;
use zigtrust_wire::zdo::{PermitJoiningReq, MGMT_PERMIT_JOINING_REQ, PROFILE_ZDO};
use zigtrust_wire::ExtAddr;

/// The longest PermitDuration sent (seconds). 0xff meant "until told otherwise" before
/// Zigbee R21 and is forbidden since.
pub const MAX_PERMIT_DURATION_S: u8 = 254;
/// How long before the routers' windows end a window that outlasts them is announced again.
pub const RENEW_LEAD_MS: Millis = 10_000;
/// Changes of the window end smaller than this are rounding, not a new window.
const SAME_WINDOW_MS: Millis = 1_000;
/// How long after a router's join it is told about the open window when it has not spoken
/// under the network key by then: time to fetch its association response and the key with
/// its polls.
pub const NEW_ROUTER_DELAY_MS: Millis = 5_000;
/// Routers waiting to be told at most (the oldest is dropped first: a flood of joins cannot grow
/// the list).
const NEW_ROUTERS_KEPT: usize = 64;

/// What the routers were last told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announced {
    /// End of the Trust Center's window the announcement was for.
    window_until: Millis,
    /// When the routers' windows end.
    routers_until: Millis,
}

impl Announced {
    /// Whether the Trust Center's window goes on after the routers' (by more than the second
    /// dropped in rounding).
    fn outlasts_routers(self) -> bool {
        self.window_until >= self.routers_until + SAME_WINDOW_MS
    }
}

/// Keeps the routers' permit-join windows in step with the Trust Center's (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct PermitAnnouncer {
    announced: Option<Announced>,
    tsn: u8,
    /// Routers that joined during the window, and when to tell them.
    new_routers: Vec<NewRouter>,
}

/// A router that joined during the window and has not been told yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NewRouter {
    ieee: ExtAddr,
    /// When to tell it at the latest.
    due: Millis,
    /// The incoming NWK counter the Trust Center had for it under the active key when it
    /// joined: a change means it spoke under the key since.
    counter_at_join: Option<u32>,
}

impl PermitAnnouncer {
    /// The PermitDuration to broadcast now (0: close), given the time left in the core's
    /// window (`None`: closed), or `None` when the routers already know.
    pub(crate) fn due(&mut self, now: Millis, remaining: Option<Millis>) -> Option<u8> {
        let secs = remaining.map_or(0, |r| (r / 1000).min(Millis::from(MAX_PERMIT_DURATION_S)));
        let Some(r) = remaining.filter(|_| secs > 0) else {
            // Closed (or less than a second left: the routers close with it).
            return self.announced.take().map(|_| 0);
        };
        let window_until = now + r;
        let renew = match self.announced {
            None => true,
            Some(a) => {
                window_until.abs_diff(a.window_until) >= SAME_WINDOW_MS
                    || (a.outlasts_routers()
                        && a.routers_until.saturating_sub(now) <= RENEW_LEAD_MS)
            }
        };
        if !renew {
            return None;
        }
        self.announced = Some(Announced { window_until, routers_until: now + secs * 1000 });
        Some(secs as u8)
    }

    /// A router joined at `now` (`counter`: the Trust Center's incoming NWK counter for it
    /// under the active key): if a window is announced it is told once it speaks under the
    /// key (see [`PermitAnnouncer::heard`]), [`NEW_ROUTER_DELAY_MS`] later at the latest.
    pub(crate) fn router_joined(&mut self, ieee: ExtAddr, now: Millis, counter: Option<u32>) {
        if self.announced.is_none() {
            return;
        }
        if self.new_routers.len() >= NEW_ROUTERS_KEPT {
            self.new_routers.remove(0);
        }
        let due = now + NEW_ROUTER_DELAY_MS;
        self.new_routers.push(NewRouter { ieee, due, counter_at_join: counter });
    }

    /// Makes the routers the Trust Center authenticated a frame from since their join due now.
    /// `counter_of`: its incoming NWK counter for a device under the active key.
    pub(crate) fn heard(&mut self, now: Millis, counter_of: impl Fn(ExtAddr) -> Option<u32>) {
        for r in &mut self.new_routers {
            if counter_of(r.ieee) != r.counter_at_join {
                r.due = r.due.min(now);
            }
        }
    }

    /// The routers waiting to be told.
    pub(crate) fn waiting(&self) -> bool {
        !self.new_routers.is_empty()
    }

    /// The routers to tell now, with the PermitDuration for them: what the others were told
    /// (routers waiting when the window closed are dropped: they were never opened).
    pub(crate) fn due_routers(&mut self, now: Millis) -> Vec<(ExtAddr, u8)> {
        let left = self.announced.map_or(0, |a| a.routers_until.saturating_sub(now) / 1000);
        let secs = left.min(Millis::from(MAX_PERMIT_DURATION_S)) as u8;
        if secs == 0 {
            self.new_routers.clear();
            return Vec::new();
        }
        let due =
            self.new_routers.iter().filter(|r| r.due <= now).map(|r| (r.ieee, secs)).collect();
        self.new_routers.retain(|r| r.due > now);
        due
    }

    /// When the announcer next has something to say without a change of the window: a router
    /// that joined is due, or a window longer than the routers' is to be renewed.
    pub(crate) fn next_wake(&self) -> Option<Millis> {
        let a = self.announced?;
        let renew = a.outlasts_routers().then(|| a.routers_until.saturating_sub(RENEW_LEAD_MS));
        renew.into_iter().chain(self.new_routers.iter().map(|r| r.due)).min()
    }

    /// A Mgmt_Permit_Joining_req for `duration` seconds (TC_Significance 1) with APS counter
    /// `counter`: to all routers when `broadcast`, else to one device.
    pub(crate) fn request(&mut self, duration: u8, counter: u8, broadcast: bool) -> Vec<u8> {
        self.tsn = self.tsn.wrapping_add(1);
        let h = if broadcast {
            ApsHeader::data_broadcast(0, MGMT_PERMIT_JOINING_REQ, PROFILE_ZDO, 0, counter)
        } else {
            ApsHeader::data_unicast(0, MGMT_PERMIT_JOINING_REQ, PROFILE_ZDO, 0, counter)
        };
        let mut f = Vec::with_capacity(h.buffer_len() + PermitJoiningReq::LEN);
        h.emit(&mut f);
        PermitJoiningReq { seq: self.tsn, duration, tc_significance: 1 }.emit(&mut f);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_announced_when_it_opens_changes_and_closes() {
        let mut a = PermitAnnouncer::default();
        assert_eq!(a.due(1_000, None), None, "nothing to say while closed");
        assert_eq!(a.due(1_000, Some(180_000)), Some(180));
        assert_eq!(a.due(5_000, Some(176_000)), None, "the same window, told already");
        assert_eq!(a.due(5_500, Some(175_600)), None, "rounding is not a new window");
        // Re-opened for longer, then cut to a shorter time.
        assert_eq!(a.due(20_000, Some(254_000)), Some(254));
        assert_eq!(a.due(30_000, Some(60_000)), Some(60));
        assert_eq!(a.next_wake(), None, "the routers' windows end with the Trust Center's");
        // Closed early by the user, and at its end.
        assert_eq!(a.due(40_000, None), Some(0));
        assert_eq!(a.due(41_000, None), None);
        assert_eq!(a.due(50_000, Some(30_000)), Some(30));
        assert_eq!(a.due(79_400, Some(600)), Some(0), "under a second left: the routers close");
        assert_eq!(a.due(80_000, None), None);
        // Fractions of a second are dropped, never rounded up past the Trust Center's end.
        assert_eq!(a.due(90_000, Some(2_999)), Some(2));
        assert_eq!(a.next_wake(), None, "a dropped fraction is not a window to renew");
    }

    #[test]
    fn routers_that_join_during_the_window_are_told_once_they_can_read_it() {
        let (r1, r2, r3) = (ExtAddr(1), ExtAddr(2), ExtAddr(3));
        let mut a = PermitAnnouncer::default();
        a.router_joined(r1, 500, None);
        assert_eq!(a.next_wake(), None, "no window: nothing owed");
        assert!(!a.waiting());
        assert_eq!(a.due(1_000, Some(60_000)), Some(60));
        a.router_joined(r1, 10_000, None);
        a.router_joined(r2, 12_000, Some(7));
        assert_eq!(a.next_wake(), Some(10_000 + NEW_ROUTER_DELAY_MS));
        // Nothing heard from them (r2's counter is still the one from before its join).
        a.heard(11_000, |i| (i == r2).then_some(7));
        assert!(a.due_routers(14_999).is_empty());
        assert_eq!(a.due_routers(15_000), [(r1, 46)], "what the other routers have left");
        assert_eq!(a.next_wake(), Some(12_000 + NEW_ROUTER_DELAY_MS));
        // r2 speaks under the key: told at once.
        a.heard(15_500, |i| (i == r2).then_some(9));
        assert_eq!(a.next_wake(), Some(15_500));
        assert_eq!(a.due_routers(15_500), [(r2, 45)]);
        assert!(a.due_routers(30_000).is_empty(), "told once");
        assert_eq!(a.next_wake(), None);
        assert!(!a.waiting());
        // One still waiting when the window closes is never opened.
        a.router_joined(r3, 58_000, None);
        assert_eq!(a.due(61_000, None), Some(0));
        assert!(a.due_routers(63_000).is_empty());
        assert_eq!(a.next_wake(), None);
        // A flood of joins keeps the list bounded.
        assert_eq!(a.due(70_000, Some(100_000)), Some(100));
        for i in 0..NEW_ROUTERS_KEPT as u64 + 10 {
            a.router_joined(ExtAddr(100 + i), 70_000, None);
        }
        let due = a.due_routers(80_000);
        assert_eq!(due.len(), NEW_ROUTERS_KEPT);
        assert_eq!(due[0].0, ExtAddr(110), "the oldest were dropped");
    }

    #[test]
    fn a_window_longer_than_254_s_is_renewed_before_the_routers_close() {
        let mut a = PermitAnnouncer::default();
        assert_eq!(a.due(0, Some(600_000)), Some(MAX_PERMIT_DURATION_S));
        let wake = a.next_wake().unwrap();
        assert_eq!(wake, 254_000 - RENEW_LEAD_MS);
        assert_eq!(a.due(wake - 1, Some(600_000 - wake + 1)), None);
        assert_eq!(a.due(wake, Some(600_000 - wake)), Some(254), "renewed, never 0xff");
        let wake = a.next_wake().unwrap();
        assert_eq!(a.due(wake, Some(600_000 - wake)), Some(((600_000 - wake) / 1000) as u8));
        assert_eq!(a.next_wake(), None, "the last announcement reaches the end");
    }

    #[test]
    fn requests_carry_a_fresh_tsn_and_tc_significance() {
        use zigtrust_wire::aps::DeliveryMode;
        let mut a = PermitAnnouncer::default();
        let f = a.request(60, 0x42, true);
        let (h, n) = ApsHeader::parse(&f).unwrap();
        assert_eq!(h.delivery_mode, DeliveryMode::Broadcast);
        assert_eq!(
            (h.cluster, h.profile, h.dst_endpoint, h.counter),
            (Some(0x36), Some(0), Some(0), 0x42)
        );
        let r = PermitJoiningReq::parse(&f[n..]).unwrap();
        assert_eq!((r.duration, r.tc_significance), (60, 1));
        let g = a.request(0, 0x43, false);
        let (h, n) = ApsHeader::parse(&g).unwrap();
        assert_eq!(h.delivery_mode, DeliveryMode::Unicast);
        assert_eq!(PermitJoiningReq::parse(&g[n..]).unwrap().seq, r.seq.wrapping_add(1));
    }
}
