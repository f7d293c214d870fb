//! The coordinator's NWK-layer duties that need the network key and the one outgoing NWK frame
//! counter: NWK command frames the shell builds ([`TrustCenter::send_nwk_command`]: link
//! status, many-to-one route requests), the concentrator's source routes learned from route
//! records, route replies for route discoveries toward the coordinator, and address conflict
//! reports (Zigbee PRO spec 05-3474 §3.4 and §3.6.3–3.6.4, §3.6.1.9).
//!
//! Everything here is learned only from frames the core authenticated: NWK-secured under a
//! network key the Trust Center holds, current or being rotated to, with the sender's frame
//! counter above the last one accepted. A route record re-sent by a sniffer (a replay) is
//! dropped by the counter check before it can redirect the coordinator's unicasts; forging one
//! needs the network key, whose holder can already send anything to anyone.

use super::*;
use zigtrust_wire::aps::DeliveryMode;
use zigtrust_wire::nwk::{RouteReplyOptions, RouteRequestOptions, SourceRoute};

/// NWK status "address conflict" (spec Table 3-50).
pub const NWK_STATUS_ADDRESS_CONFLICT: u8 = 0x0d;
/// Longest relay list the coordinator accepts in a route record or puts in a source route
/// subframe (spec nwkMaxSourceRoute is 0x0c).
pub const MAX_SOURCE_ROUTE_RELAYS: usize = 12;
/// How long a route learned from a route record is used without being refreshed. Concentrators
/// re-announce themselves every minute or so and devices answer with fresh records, so a
/// route this old belongs to a device that went quiet or moved.
pub const ROUTE_RECORD_TTL_MS: Millis = 10 * 60 * 1000;
/// A route request from the same originator with the same id is answered again only with a
/// lower path cost within this time (copies of one discovery arrive over several routers).
pub const ROUTE_REQUEST_MEMORY_MS: Millis = 10 * 1000;
/// One address conflict report per short address per this interval: a conflict persists until
/// the devices involved pick new addresses, and every frame in between would show it again.
pub const ADDRESS_CONFLICT_INTERVAL_MS: Millis = 60 * 1000;
/// Radius of the coordinator's NWK frames (spec nwkMaxDepth × 2).
pub const NWK_DEFAULT_RADIUS: u8 = 30;
/// ZDO Device_annce cluster (spec 2.4.3.1.11).
const DEVICE_ANNCE: u16 = 0x0013;
/// Network Status codes that report a broken route (spec Table 3-50): no route available,
/// tree link failure, non-tree link failure, source route failure, many-to-one route failure.
const ROUTE_FAILURES: [u8; 5] = [0x00, 0x01, 0x02, 0x0b, 0x0c];

/// A route learned from an authenticated route record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRecordEntry {
    /// The device the record came from (the route is used only while the short address is
    /// still this device's).
    pub ieee: ExtAddr,
    /// Relays, the one nearest the device first (as in the record and in a source route
    /// subframe).
    pub relays: Vec<ShortAddr>,
    /// When the record was received.
    pub learned_at: Millis,
}

/// The routing state of the coordinator (volatile: routes are relearned after a restart from
/// the next route records; the tree of recorded parents serves meanwhile).
#[derive(Debug, Default)]
pub(super) struct Routing {
    /// Routes by destination short address.
    records: BTreeMap<ShortAddr, RouteRecordEntry>,
    /// Source routing off: unicasts go to the device or its recorded parent, as before.
    disabled: bool,
    /// Route requests answered: (originator, request id) → (when, path cost answered).
    answered: BTreeMap<(ShortAddr, u8), (Millis, u8)>,
    /// Address conflicts reported, by short address.
    conflicts: BTreeMap<ShortAddr, Millis>,
}

impl TrustCenter {
    /// Sends a NWK command frame from the coordinator, NWK-secured under the active network key
    /// with the core's own frame counter (the one counter everything the coordinator sends
    /// uses, so neighbours never see it go backwards). `dst` is a broadcast address (0xffff,
    /// 0xfffd, 0xfffc, 0xfffb: sent as a MAC broadcast) or a known device's short address (sent
    /// along its source route, else to it or its parent). `radius` is the hop limit (1 for a
    /// link status, which only neighbours may act on). Returns false if the network is not
    /// formed or the destination is unknown or removed.
    pub fn send_nwk_command(
        &mut self,
        now: Millis,
        dst: ShortAddr,
        radius: u8,
        command: &NwkCommand,
    ) -> bool {
        self.advance(now);
        if self.network.is_none() {
            return false;
        }
        let mut payload = Vec::with_capacity(command.buffer_len());
        command.emit(&mut payload);
        if dst.is_broadcast() {
            let mut h = self.nwk_header(NwkFrameType::Command, dst);
            h.radius = radius;
            self.send_nwk_secured(
                h,
                &payload,
                self.active_seq,
                ShortAddr::BROADCAST,
                "nwk-command",
            );
            return true;
        }
        let Some(ieee) = self.by_short.get(&dst).copied() else { return false };
        if self.devices.get(&ieee).is_none_or(|d| d.tombstoned) {
            return false;
        }
        let Some(loc) = self.location_of(ieee) else { return false };
        let mut h = self.nwk_header(NwkFrameType::Command, loc.short);
        h.radius = radius;
        h.dst_ieee = Some(ieee);
        let hop = next_hop(loc.short, loc.parent);
        self.send_nwk_secured(h, &payload, self.active_seq, hop, "nwk-command");
        true
    }

    /// Turns source routing on (the default) or off. Off, unicasts go to the device itself or
    /// to its recorded parent, which reaches no device two routers away; for comparisons.
    pub fn set_source_routing(&mut self, on: bool) {
        self.routing.disabled = !on;
    }

    /// The route a unicast to `short` takes now: the relays of its source route subframe, the
    /// one nearest the destination first (empty: no subframe, the frame goes to the device or
    /// its parent directly).
    pub fn source_route_to(&self, short: ShortAddr) -> Vec<ShortAddr> {
        let Some(ieee) = self.by_short.get(&short).copied() else { return Vec::new() };
        let Some(loc) = self.location_of(ieee) else { return Vec::new() };
        self.relays_to(loc.short, next_hop(loc.short, loc.parent))
    }

    /// The route learned from `short`'s last route record, if it is still in use.
    pub fn route_record(&self, short: ShortAddr) -> Option<&RouteRecordEntry> {
        self.records_for(short)
    }

    /// The record of the device that has short address `short` now.
    pub fn device_at(&self, short: ShortAddr) -> Option<&DeviceRecord> {
        self.devices.get(self.by_short.get(&short)?)
    }

    fn records_for(&self, short: ShortAddr) -> Option<&RouteRecordEntry> {
        let r = self.routing.records.get(&short)?;
        let fresh = self.now.saturating_sub(r.learned_at) < ROUTE_RECORD_TTL_MS;
        (fresh && self.by_short.get(&short) == Some(&r.ieee)).then_some(r)
    }

    /// Relays toward `dst`, whose tree next hop (itself, or its parent) is `hop`, the one
    /// nearest `dst` first. A fresh route record of `dst` wins, unless `dst` claimed a new
    /// location in a rejoin the core is answering (its record describes where it was); else
    /// the route to its parent (the parent the core recorded at its join or rejoin), with the
    /// parent in front; a parent that is the coordinator's own child needs no subframe (it is a
    /// neighbour and delivers to its child itself).
    pub(super) fn relays_to(&self, dst: ShortAddr, hop: ShortAddr) -> Vec<ShortAddr> {
        if self.routing.disabled || dst.is_broadcast() || dst == ShortAddr::COORDINATOR {
            return Vec::new();
        }
        let claimed = self
            .by_short
            .get(&dst)
            .and_then(|i| self.volatile.get(i))
            .and_then(|v| v.claimed)
            .is_some_and(|c| c.route && self.now.saturating_sub(c.at) < CLAIM_TTL_MS);
        if !claimed {
            if let Some(r) = self.records_for(dst) {
                return r.relays.clone();
            }
        }
        // The tree: the caller's next hop is the device's parent; a router sent to directly
        // (a tunnel) may itself sit behind its recorded parent.
        let start = if hop != dst {
            hop
        } else {
            // Where the device is now: a location claimed in a rejoin being answered wins over
            // the stored record.
            let parent = self.by_short.get(&dst).and_then(|i| self.location_of(*i));
            match parent.map(|l| l.parent) {
                Some(p) if p != ShortAddr::COORDINATOR && p != dst && !p.is_broadcast() => p,
                _ => return Vec::new(),
            }
        };
        // Walk up the recorded parents (bounded: a loop in stale records ends).
        let mut relays = vec![start];
        let mut at = start;
        while relays.len() <= MAX_SOURCE_ROUTE_RELAYS {
            if let Some(r) = self.records_for(at) {
                relays.extend(r.relays.iter().copied());
                break;
            }
            let Some(parent) = self.device_at(at).map(|d| d.parent) else { break };
            if parent == ShortAddr::COORDINATOR || relays.contains(&parent) {
                break;
            }
            relays.push(parent);
            at = parent;
        }
        let mut seen = std::collections::BTreeSet::new();
        let looped = !relays.iter().all(|r| seen.insert(*r)) || relays.contains(&dst);
        if relays.len() > MAX_SOURCE_ROUTE_RELAYS || looped {
            return Vec::new();
        }
        if relays == [hop] {
            // The caller sends to the parent, a neighbour that delivers to its child itself.
            return Vec::new();
        }
        relays
    }

    /// Puts the source route to a unicast's destination into its header and returns the MAC
    /// next hop (the relay nearest the coordinator); `hop` is the caller's tree next hop.
    /// Headers that already carry a subframe, broadcasts, and destinations one hop away (or
    /// behind a parent that is the coordinator's neighbour) are left alone.
    pub(super) fn apply_source_route(&self, h: &mut NwkHeader, hop: ShortAddr) -> ShortAddr {
        if h.source_route.is_some() || h.dst.is_broadcast() || hop.is_broadcast() {
            return hop;
        }
        let relays = self.relays_to(h.dst, hop);
        let Some(&first) = relays.last() else { return hop };
        h.source_route = Some(SourceRoute { relay_index: (relays.len() - 1) as u8, relays });
        first
    }

    /// A device's location changed (it joined, rejoined or moved): its route record describes
    /// the old place.
    pub(super) fn forget_route(&mut self, short: ShortAddr) {
        self.routing.records.remove(&short);
    }

    /// NWK duties for an authenticated frame under a current key: route records, route
    /// requests for the coordinator, routers' link statuses, and address conflicts. `sender`
    /// is the device that secured this hop (the last relay), `originator` the NWK source's
    /// IEEE address (from the header, else the address map).
    pub(super) fn nwk_duties(
        &mut self,
        h: &NwkHeader,
        payload: &[u8],
        sender: ExtAddr,
        originator: Option<ExtAddr>,
        mac_src: Address,
    ) {
        let mac_src = match mac_src {
            Address::Short(s) => Some(s),
            _ => None,
        };
        match h.frame_type {
            NwkFrameType::Command => match NwkCommand::parse(payload) {
                // A rejoin's addresses are the rejoin logic's business.
                Ok(NwkCommand::RejoinRequest { .. }) => return,
                Ok(NwkCommand::RouteRecord { relays }) if h.dst == ShortAddr::COORDINATOR => {
                    self.learn_route_record(h, relays, sender, originator, mac_src)
                }
                Ok(NwkCommand::RouteRequest { options, id, dst, path_cost, .. })
                    if dst == ShortAddr::COORDINATOR && options.many_to_one() == 0 =>
                {
                    self.route_request(h, options, id, path_cost, mac_src)
                }
                Ok(NwkCommand::NetworkStatus { status, dst })
                    if ROUTE_FAILURES.contains(&status) =>
                {
                    // A relay could not pass a frame on toward `dst` (or toward the coordinator):
                    // the route the coordinator holds is broken; the shell re-announces the
                    // concentrator so devices send fresh route records.
                    self.forget_route(dst);
                    self.events.push_back(Event::RouteFailure { reporter: h.src, dst, status });
                }
                Ok(NwkCommand::LinkStatus { entries, .. }) if h.src == mac_src.unwrap_or(h.src) => {
                    let cost = entries
                        .iter()
                        .find(|e| e.addr == ShortAddr::COORDINATOR)
                        .map(|e| (e.incoming_cost, e.outgoing_cost));
                    self.events.push_back(Event::LinkStatusReceived {
                        router: h.src,
                        ieee: sender,
                        coordinator_cost: cost,
                    });
                }
                _ => {}
            },
            NwkFrameType::Data => {
                if let Some((short, ieee, capability)) = device_annce(payload) {
                    self.check_address(short, ieee);
                    if h.src == short && originator == Some(ieee) {
                        self.announced(ieee, short, capability);
                    }
                }
            }
            _ => {}
        }
        if let Some(o) = h.src_ieee.filter(|_| originator.is_some()) {
            self.check_address(h.src, o);
        }
    }

    /// Learns the route from a route record. Its last relay (or, with none, its originator) is
    /// the device that secured the hop to the coordinator: a record naming another last hop
    /// was altered or is not what it seems, and is ignored.
    fn learn_route_record(
        &mut self,
        h: &NwkHeader,
        relays: Vec<ShortAddr>,
        sender: ExtAddr,
        originator: Option<ExtAddr>,
        mac_src: Option<ShortAddr>,
    ) {
        let Some(ieee) = self.by_short.get(&h.src).copied() else { return };
        if originator.is_some_and(|o| o != ieee) || relays.len() > MAX_SOURCE_ROUTE_RELAYS {
            return;
        }
        let last_hop = relays.last().copied().unwrap_or(h.src);
        let sender_short = self.devices.get(&sender).map(|d| d.short_addr);
        if sender_short != Some(last_hop) || mac_src.is_some_and(|m| m != last_hop) {
            return;
        }
        let mut seen = std::collections::BTreeSet::new();
        let sane = relays.iter().all(|r| {
            !r.is_broadcast()
                && *r != ShortAddr::COORDINATOR
                && *r != h.src
                && seen.insert(*r)
                && self.device_at(*r).is_some_and(|d| !d.tombstoned)
        });
        if !sane {
            return;
        }
        let now = self.now;
        self.routing.records.retain(|_, r| now.saturating_sub(r.learned_at) < ROUTE_RECORD_TTL_MS);
        // Every relay on the way is reached by the rest of the path (as source-routing
        // concentrators do): the record of a device deep in the mesh also routes to the
        // routers it went through.
        for (i, r) in relays.iter().enumerate() {
            let Some(rieee) = self.by_short.get(r).copied() else { continue };
            let rest = relays[i + 1..].to_vec();
            self.routing
                .records
                .insert(*r, RouteRecordEntry { ieee: rieee, relays: rest, learned_at: now });
        }
        self.routing
            .records
            .insert(h.src, RouteRecordEntry { ieee, relays: relays.clone(), learned_at: now });
        self.events.push_back(Event::RouteRecorded { ieee, short: h.src, relays });
    }

    /// A router looks for a route to the coordinator: the reply goes back to the neighbour the
    /// request came from (NWK destination and MAC destination both that neighbour: route
    /// replies travel hop by hop, each relay re-originating it toward the originator).
    fn route_request(
        &mut self,
        h: &NwkHeader,
        options: RouteRequestOptions,
        id: u8,
        path_cost: u8,
        mac_src: Option<ShortAddr>,
    ) {
        let Some(prev) = mac_src.filter(|s| !s.is_broadcast() && *s != ShortAddr::COORDINATOR)
        else {
            return;
        };
        if h.src == ShortAddr::COORDINATOR || h.src.is_broadcast() {
            return;
        }
        // The cost of the last link is not known to the core; 1 is the cost of a perfect link,
        // so the reply's cost is never below the request's.
        let cost = path_cost.saturating_add(1);
        let now = self.now;
        self.routing.answered.retain(|_, (t, _)| now.saturating_sub(*t) < ROUTE_REQUEST_MEMORY_MS);
        if self.routing.answered.get(&(h.src, id)).is_some_and(|(_, c)| *c <= cost) {
            return;
        }
        if self.routing.answered.len() >= 256 {
            return; // a flood of discoveries: the ones in memory are answered, no more
        }
        self.routing.answered.insert((h.src, id), (now, cost));
        let originator_ieee = h.src_ieee.or_else(|| self.by_short.get(&h.src).copied());
        let tc = self.cfg().1;
        let mut o = 0;
        if originator_ieee.is_some() {
            o |= RouteReplyOptions::ORIGINATOR_IEEE;
        }
        o |= RouteReplyOptions::RESPONDER_IEEE;
        if options.multicast() {
            return; // a multicast group discovery is not for the coordinator
        }
        let reply = NwkCommand::RouteReply {
            options: RouteReplyOptions(o),
            id,
            originator: h.src,
            responder: ShortAddr::COORDINATOR,
            path_cost: cost,
            originator_ieee,
            responder_ieee: Some(tc),
        };
        let mut payload = Vec::with_capacity(reply.buffer_len());
        reply.emit(&mut payload);
        let mut rh = self.nwk_header(NwkFrameType::Command, prev);
        rh.dst_ieee = self.by_short.get(&prev).copied();
        // Straight to the neighbour: never along a source route (it is one hop away, the
        // request just came from it).
        self.send_nwk_to_hop(rh, &payload, self.active_seq, prev, "route-reply");
    }

    /// A device announced itself (ZDO Device_annce, originated by it at the address the Trust
    /// Center has for it): its capability is now known. A device that joined through a router
    /// was reported by an Update-Device, which carries none, and was recorded as a sleepy end
    /// device: a router stays one (its frames held for polls it never sends, its Update-Devices
    /// for its own children refused) until it says otherwise.
    ///
    /// Only that stand-in is replaced, once: a Device_annce is authenticated by the network
    /// key alone, so anyone holding it (an exposed key, a removed router) could otherwise
    /// re-announce a device as a router (its Update-Devices then accepted) or as sleepy (its
    /// frames held for polls it never sends). A capability the device stated in its own
    /// association or rejoin request is never overridden.
    fn announced(&mut self, ieee: ExtAddr, short: ShortAddr, capability: u8) {
        let Some(d) = self.devices.get(&ieee).filter(|d| !d.tombstoned) else { return };
        if d.short_addr != short {
            return;
        }
        let (parent, stand_in) = (d.parent, d.capability);
        let Some(v) = self.volatile.get_mut(&ieee).filter(|v| v.capability_unstated) else {
            return;
        };
        v.capability_unstated = false;
        if capability == stand_in {
            return;
        }
        let loc = Location { short, parent, capability };
        self.move_device(ieee, loc);
    }

    /// An authenticated frame says `short` is `ieee`'s address. If the Trust Center knows
    /// another of its devices at that address, two devices use it: broadcast a Network Status "address
    /// conflict" for it (spec 3.6.1.9) so they pick new ones. Only authenticated frames get
    /// here: an unsecured frame, or a replay, cannot make the coordinator chase devices off
    /// their addresses.
    fn check_address(&mut self, short: ShortAddr, ieee: ExtAddr) {
        if short.is_broadcast() || short == ShortAddr::COORDINATOR {
            return;
        }
        let Some(known) = self.by_short.get(&short).copied() else { return };
        // Both must be devices this Trust Center admitted: an IEEE address it never admitted
        // (an intruder holding the network key) gets no say over members' addresses.
        let member = |i: &ExtAddr| self.devices.get(i).is_some_and(|d| !d.tombstoned);
        if known == ieee || !member(&known) || !member(&ieee) {
            return;
        }
        let now = self.now;
        if self
            .routing
            .conflicts
            .get(&short)
            .is_some_and(|t| now.saturating_sub(*t) < ADDRESS_CONFLICT_INTERVAL_MS)
        {
            return;
        }
        self.routing.conflicts.retain(|_, t| now.saturating_sub(*t) < ADDRESS_CONFLICT_INTERVAL_MS);
        self.routing.conflicts.insert(short, now);
        self.forget_route(short);
        self.events.push_back(Event::AddressConflict { short, known, other: ieee });
        let status = NwkCommand::NetworkStatus { status: NWK_STATUS_ADDRESS_CONFLICT, dst: short };
        let mut payload = Vec::with_capacity(status.buffer_len());
        status.emit(&mut payload);
        let mut h = self.nwk_header(NwkFrameType::Command, ShortAddr::RX_ON_WHEN_IDLE);
        h.radius = NWK_DEFAULT_RADIUS;
        self.send_nwk_to_hop(
            h,
            &payload,
            self.active_seq,
            ShortAddr::BROADCAST,
            "address-conflict",
        );
    }
}

/// The (short address, IEEE address, capability) a ZDO Device_annce in this APS frame
/// announces.
fn device_annce(aps: &[u8]) -> Option<(ShortAddr, ExtAddr, u8)> {
    let (ah, n) = ApsHeader::parse(aps).ok()?;
    if ah.frame_type != ApsFrameType::Data
        || ah.security
        || ah.profile != Some(0)
        || ah.cluster != Some(DEVICE_ANNCE)
        || ah.delivery_mode == DeliveryMode::Group
    {
        return None;
    }
    let body = aps.get(n..)?;
    let short = u16::from_le_bytes([*body.get(1)?, *body.get(2)?]);
    let ieee: [u8; 8] = body.get(3..11)?.try_into().ok()?;
    Some((ShortAddr(short), ExtAddr::from_le_bytes(ieee), *body.get(11)?))
}
