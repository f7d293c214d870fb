//! 802.15.4 indirect transmission, shared by the hub's radios: frames for a sleepy child wait
//! in an [`IndirectQueue`] until the child polls with a MAC Data Request, and expire after
//! [`PERSISTENCE_MS`] (macTransactionPersistenceTime).
//!
//! A radio that sets frame-pending in its own ACKs (an RCP's source-match table) needs to know
//! when a destination starts and stops waiting: [`IndirectQueue::hold`] and
//! [`IndirectQueue::expire`] / [`IndirectQueue::take`] report exactly those moments.

use super::RadioError;
use zigtrust_tc::model::Millis;
use zigtrust_wire::mac::{Address, MacBody, MacCommand, MacFrame};

/// How long a frame waits for a sleepy child's data request (macTransactionPersistenceTime at
/// 2.4 GHz: 7.68 s).
pub const PERSISTENCE_MS: Millis = 7_680;

/// One held frame.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    dst: Address,
    psdu: Vec<u8>,
    expires: Millis,
}

/// Frames held for their destination's data request, oldest first.
#[derive(Debug, Clone, Default)]
pub struct IndirectQueue {
    held: Vec<Held>,
}

/// What [`IndirectQueue::take`] handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The frame to send now (frame-pending set in it when more frames wait for the child).
    pub psdu: Vec<u8>,
    /// Whether nothing waits for the child any more.
    pub emptied: bool,
}

impl IndirectQueue {
    /// An empty queue.
    pub fn new() -> IndirectQueue {
        IndirectQueue::default()
    }

    /// Holds `psdu` (a MAC frame without FCS) for its destination until `now` +
    /// [`PERSISTENCE_MS`]. Returns the destination when it had nothing waiting before (the
    /// moment a source-match entry must be added).
    pub fn hold(&mut self, now: Millis, psdu: Vec<u8>) -> Result<Option<Address>, RadioError> {
        let dst = MacFrame::parse(&psdu)
            .map_err(|e| RadioError(format!("an unparsable indirect frame: {e:?}")))?
            .header
            .dst_addr;
        let first = !self.is_waiting(dst);
        self.held.push(Held { dst, psdu, expires: now + PERSISTENCE_MS });
        Ok(first.then_some(dst))
    }

    /// Whether a direct frame must nevertheless wait with the held frames: it goes to the short
    /// address a held association response hands out, and that joiner only answers to it once
    /// it has polled for its response (as the simulator's coordinator and real coordinators
    /// do).
    pub fn awaits_association(&self, psdu: &[u8]) -> bool {
        let Ok(f) = MacFrame::parse(psdu) else { return false };
        let Address::Short(dst) = f.header.dst_addr else { return false };
        self.held.iter().any(|h| {
            matches!(MacFrame::parse(&h.psdu).map(|f| f.body),
                Ok(MacBody::Command(MacCommand::AssociationResponse { short_addr, .. })) if short_addr == dst)
        })
    }

    /// Whether something waits for `dst`.
    pub fn is_waiting(&self, dst: Address) -> bool {
        self.held.iter().any(|h| h.dst == dst)
    }

    /// Every destination something waits for, once each, in the order they started waiting.
    pub fn waiting(&self) -> Vec<Address> {
        let mut out: Vec<Address> = Vec::new();
        for h in &self.held {
            if !out.contains(&h.dst) {
                out.push(h.dst);
            }
        }
        out
    }

    /// Number of held frames.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Drops frames expired by `now`; returns the destinations left with nothing waiting.
    pub fn expire(&mut self, now: Millis) -> Vec<Address> {
        let before = self.waiting();
        self.held.retain(|h| h.expires > now);
        before.into_iter().filter(|d| !self.is_waiting(*d)).collect()
    }

    /// When the next held frame expires.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.held.iter().map(|h| h.expires).min()
    }

    /// `child` polled: its oldest unexpired frame, with frame-pending set when more wait.
    /// Call [`IndirectQueue::expire`] first so an expired frame is never sent.
    pub fn take(&mut self, child: Address) -> Option<Taken> {
        let i = self.held.iter().position(|h| h.dst == child)?;
        let mut psdu = self.held.remove(i).psdu;
        let emptied = !self.is_waiting(child);
        if !emptied && !psdu.is_empty() {
            psdu[0] |= 0x10; // frame pending: more to come
        }
        Some(Taken { psdu, emptied })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zigtrust_wire::mac::{AssociationStatus, MacHeader};
    use zigtrust_wire::{ExtAddr, PanId, ShortAddr};

    fn data_to(dst: Address, seq: u8) -> Vec<u8> {
        let h = MacHeader::data(seq, PanId(0x1a62), dst, Address::Short(ShortAddr(0)), true);
        let mut v = Vec::new();
        MacFrame::data(h, &[0x08, 0x00]).emit(&mut v);
        v
    }

    #[test]
    fn a_destination_starts_and_stops_waiting_exactly_once() {
        let child = Address::Short(ShortAddr(0x4c2e));
        let mut q = IndirectQueue::new();
        assert_eq!(q.hold(1_000, data_to(child, 1)).unwrap(), Some(child));
        assert_eq!(q.hold(1_100, data_to(child, 2)).unwrap(), None, "already waiting");
        let first = q.take(child).unwrap();
        assert!(!first.emptied);
        assert_eq!(first.psdu[0] & 0x10, 0x10, "frame pending: one more waits");
        assert_eq!(first.psdu[2], 1, "oldest first");
        let second = q.take(child).unwrap();
        assert!(second.emptied);
        assert_eq!(second.psdu[0] & 0x10, 0);
        assert_eq!(q.take(child), None);
        // Expiry empties a destination too.
        q.hold(2_000, data_to(child, 3)).unwrap();
        assert_eq!(q.next_expiry(), Some(2_000 + PERSISTENCE_MS));
        assert!(q.expire(2_000 + PERSISTENCE_MS - 1).is_empty());
        assert_eq!(q.expire(2_000 + PERSISTENCE_MS), vec![child]);
        assert!(q.is_empty());
        assert!(q.hold(0, vec![0x41]).is_err(), "garbage is refused");
    }

    #[test]
    fn frames_for_a_joiner_wait_with_its_association_response() {
        let joiner = ExtAddr(0x0011_2233_4455_6677);
        let mut q = IndirectQueue::new();
        let mut resp = Vec::new();
        MacFrame::association_response(
            1,
            PanId(0x1a62),
            joiner,
            ExtAddr(1),
            ShortAddr(0x7777),
            AssociationStatus::Success,
        )
        .emit(&mut resp);
        assert!(!q.awaits_association(&data_to(Address::Short(ShortAddr(0x7777)), 2)));
        q.hold(0, resp).unwrap();
        assert!(q.awaits_association(&data_to(Address::Short(ShortAddr(0x7777)), 2)));
        assert!(!q.awaits_association(&data_to(Address::Short(ShortAddr(0x7778)), 2)));
        assert_eq!(q.waiting(), vec![Address::Extended(joiner)]);
    }
}
