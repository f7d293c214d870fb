//! The coordinator's periodic NWK-layer broadcasts on a bare radio, where the host is the whole
//! NWK layer (Zigbee PRO spec 05-3474):
//!
//! - **Link status** (§3.4.8, §3.6.3.4) every nwkLinkStatusPeriod (15 s) to 0xfffc with radius
//!   1, listing the neighbouring routers with the cost of each link both ways. A router keeps a
//!   neighbour only while its link statuses arrive (nwkRouterAgeLimit periods): without them
//!   routers age the coordinator out of their neighbour tables and stop routing through it.
//! - **Many-to-one route request** (§3.6.3.5.2) at start and every minute: the coordinator
//!   announces itself as a concentrator with a route record table, so routers keep a route
//!   toward it and devices send route records, from which the core source-routes unicasts.
//!
//! The frames are built here (the hub knows the radio's link qualities) and sent through the
//! core ([`TrustCenter::send_nwk_command`]), which secures them under the active key with the
//! one outgoing NWK frame counter.

use crate::hub::LinkQuality;
use std::collections::{BTreeMap, HashMap};
use zigtrust_tc::model::Millis;
use zigtrust_tc::{Event, TrustCenter, NWK_DEFAULT_RADIUS};
use zigtrust_wire::nwk::{LinkStatusEntry, NwkCommand, RouteRequestOptions};
use zigtrust_wire::{CapabilityInfo, ShortAddr};

/// nwkLinkStatusPeriod: how often the coordinator sends its link status.
pub const LINK_STATUS_PERIOD_MS: Millis = 15_000;
/// nwkRouterAgeLimit: link status periods a neighbouring router may stay silent before its
/// link is no longer listed.
pub const ROUTER_AGE_LIMIT: u64 = 3;
/// How often the coordinator repeats its many-to-one route request (the concentrator
/// discovery time; EmberZNet and zigbee-on-host use a minute too).
pub const CONCENTRATOR_DISCOVERY_MS: Millis = 60_000;
/// A route failure brings the next many-to-one route request forward, but never closer than
/// this to the previous one (a burst of failure reports must not flood the network with route
/// requests).
pub const CONCENTRATOR_MIN_INTERVAL_MS: Millis = 10_000;
/// Entries per link status frame: with the NWK header carrying the source IEEE address, the
/// auxiliary security header and the MIC, 26 entries fill a 127-byte 802.15.4 frame.
pub const LINK_STATUS_MAX_ENTRIES: usize = 26;
/// Many-to-one field of the route request options: "many-to-one, the sender keeps a route
/// record table" (a high-RAM concentrator: a device sends a route record once, not before
/// every frame).
const MANY_TO_ONE_WITH_ROUTE_RECORD_TABLE: u8 = 1;

/// When the periodic NWK broadcasts are due, and what routers said about their link to us.
#[derive(Debug)]
pub(crate) struct NwkDuties {
    on: bool,
    next_link_status: Option<Millis>,
    next_route_request: Option<Millis>,
    last_route_request: Option<Millis>,
    route_request_id: u8,
    /// Outgoing cost to each router (its incoming cost from the coordinator, as its own link
    /// status lists it) and when it said so.
    outgoing: BTreeMap<ShortAddr, (u8, Millis)>,
}

impl Default for NwkDuties {
    fn default() -> Self {
        NwkDuties {
            on: true,
            next_link_status: None,
            next_route_request: None,
            last_route_request: None,
            route_request_id: 0,
            outgoing: BTreeMap::new(),
        }
    }
}

impl NwkDuties {
    /// The hub restarted: announce the concentrator and send a link status again at once.
    pub(crate) fn restart(&mut self) {
        self.next_link_status = None;
        self.next_route_request = None;
    }

    pub(crate) fn set_on(&mut self, on: bool) {
        self.on = on;
        if !on {
            self.next_link_status = None;
            self.next_route_request = None;
        }
    }

    /// Schedules the first broadcasts, due at `now`, once the network is formed (or restored,
    /// or the hub restarted). Called on every step: the shell's clock is only known there.
    pub(crate) fn arm(&mut self, tc: &TrustCenter, now: Millis) {
        if !self.on || tc.network().is_none() {
            return;
        }
        self.next_link_status.get_or_insert(now);
        self.next_route_request.get_or_insert(now);
    }

    /// When [`NwkDuties::run`] next has something to send (`None`: nothing until the network
    /// is formed, or the duties are off).
    pub(crate) fn next_wake(&self, tc: &TrustCenter) -> Option<Millis> {
        if !self.on || tc.network().is_none() {
            return None;
        }
        [self.next_link_status, self.next_route_request].into_iter().flatten().min()
    }

    /// Sends what is due by `now`.
    pub(crate) fn run(
        &mut self,
        tc: &mut TrustCenter,
        links: &HashMap<ShortAddr, LinkQuality>,
        now: Millis,
    ) {
        if !self.on || tc.network().is_none() {
            return;
        }
        if self.next_route_request.is_none_or(|t| t <= now) {
            self.next_route_request = Some(now + CONCENTRATOR_DISCOVERY_MS);
            self.last_route_request = Some(now);
            self.route_request_id = self.route_request_id.wrapping_add(1);
            let mtorr = NwkCommand::RouteRequest {
                options: RouteRequestOptions(MANY_TO_ONE_WITH_ROUTE_RECORD_TABLE << 3),
                id: self.route_request_id,
                dst: ShortAddr::ROUTERS,
                path_cost: 0,
                dst_ieee: None,
            };
            tc.send_nwk_command(now, ShortAddr::ROUTERS, NWK_DEFAULT_RADIUS, &mtorr);
        }
        if self.next_link_status.is_none_or(|t| t <= now) {
            self.next_link_status = Some(now + LINK_STATUS_PERIOD_MS);
            for frame in self.link_status(tc, links, now) {
                tc.send_nwk_command(now, ShortAddr::ROUTERS, 1, &frame);
            }
        }
    }

    /// Takes in what the core reported: routers' link statuses, route failures.
    pub(crate) fn observe(&mut self, events: &[Event], now: Millis) {
        for e in events {
            if let (Event::RouteFailure { .. }, Some(next)) = (e, self.next_route_request) {
                let soonest =
                    self.last_route_request.map_or(now, |t| t + CONCENTRATOR_MIN_INTERVAL_MS);
                self.next_route_request = Some(next.min(soonest.max(now)));
            }
            if let Event::LinkStatusReceived { router, coordinator_cost, .. } = e {
                match coordinator_cost {
                    Some((incoming, _)) => {
                        self.outgoing.insert(*router, (*incoming, now));
                    }
                    None => {
                        self.outgoing.remove(router);
                    }
                }
            }
        }
        // Bounded by the routers heard: forget those silent for longer than the age limit.
        let age = LINK_STATUS_PERIOD_MS * (ROUTER_AGE_LIMIT + 1);
        self.outgoing.retain(|_, (_, t)| now.saturating_sub(*t) <= age);
    }

    /// The link status frames now: neighbouring routers heard within the age limit, by
    /// ascending short address (as the spec orders them), split into frames that fit.
    pub(crate) fn link_status(
        &self,
        tc: &TrustCenter,
        links: &HashMap<ShortAddr, LinkQuality>,
        now: Millis,
    ) -> Vec<NwkCommand> {
        let age = LINK_STATUS_PERIOD_MS * (ROUTER_AGE_LIMIT + 1);
        let mut entries: Vec<LinkStatusEntry> = links
            .iter()
            .filter(|(_, l)| now.saturating_sub(l.heard_at) <= age)
            .filter(|(s, _)| {
                tc.device_at(**s).is_some_and(|d| {
                    !d.tombstoned && d.capability & CapabilityInfo::FULL_FUNCTION_DEVICE != 0
                })
            })
            .map(|(s, l)| {
                let outgoing = self.outgoing.get(s).map_or(0, |(c, _)| *c);
                LinkStatusEntry::new(*s, link_cost(l.lqi), outgoing)
            })
            .collect();
        entries.sort_by_key(|e| e.addr.0);
        let chunks: Vec<&[LinkStatusEntry]> = if entries.is_empty() {
            vec![&[]]
        } else {
            entries.chunks(LINK_STATUS_MAX_ENTRIES).collect()
        };
        let last = chunks.len() - 1;
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| NwkCommand::LinkStatus {
                first_frame: i == 0,
                last_frame: i == last,
                reserved: false,
                entries: c.to_vec(),
            })
            .collect()
    }
}

/// Link cost (1 best – 7 worst, spec §3.6.3.1) from the link quality indicator of the last
/// frame heard on the link. The spec derives it from the delivery probability; radios map
/// LQI to that differently, so this is a linear estimate. A radio that reports no LQI gets
/// cost 1: the link carried a frame just now.
pub fn link_cost(lqi: Option<u8>) -> u8 {
    match lqi {
        Some(q) => (1 + (255 - q) / 40).clamp(1, 7),
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_cost_covers_one_to_seven() {
        assert_eq!(link_cost(Some(255)), 1);
        assert_eq!(link_cost(Some(216)), 1);
        assert_eq!(link_cost(Some(215)), 2);
        assert_eq!(link_cost(Some(0)), 7);
        assert_eq!(link_cost(None), 1);
        for q in 0..=255u8 {
            assert!((1..=7).contains(&link_cost(Some(q))));
        }
    }
}
