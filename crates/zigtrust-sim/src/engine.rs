//! The discrete-event engine: integer microseconds, a seeded RNG, an event queue ordered by
//! (time, sequence), and the shared 802.15.4 medium (topology, per-link loss, airtime, capture).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Simulated time in microseconds.
pub type Us = u64;

/// One 802.15.4 byte at 250 kbit/s.
pub const BYTE_US: Us = 32;
/// RX-to-TX turnaround before an acknowledgement (aTurnaroundTime, 12 symbols).
pub const TURNAROUND_US: Us = 192;
/// How long a sender waits for an ack after its frame ends (macAckWaitDuration, 54 symbols).
pub const ACK_WAIT_US: Us = 864;
/// Retries after the first attempt (macMaxFrameRetries).
pub const MAX_RETRIES: u8 = 3;
/// How long a parent holds an indirect frame (macTransactionPersistenceTime at 2.4 GHz).
pub const PERSISTENCE_US: Us = 7_680_000;

/// Airtime of a PSDU of `psdu_len` bytes without FCS: preamble+SFD+PHR (6) + PSDU + FCS (2).
pub fn airtime(psdu_len: usize) -> Us {
    (6 + psdu_len as Us + 2) * BYTE_US
}

/// SplitMix64: small, fast and fully deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// True with probability `p_ppm` parts per million.
    pub fn chance_ppm(&mut self, p_ppm: u32) -> bool {
        self.below(1_000_000) < p_ppm as u64
    }
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        for c in s.chunks_mut(8) {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        s
    }
}

/// Who can hear whom: an explicit, symmetric link list with a loss probability per link.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// For each node, its neighbours and the loss (ppm) on that link.
    pub neighbours: Vec<Vec<(usize, u32)>>,
}

impl Topology {
    pub fn new(nodes: usize) -> Topology {
        Topology { neighbours: vec![Vec::new(); nodes] }
    }
    pub fn add_node(&mut self) -> usize {
        self.neighbours.push(Vec::new());
        self.neighbours.len() - 1
    }
    /// Adds a symmetric link (ignored if it exists).
    pub fn link(&mut self, a: usize, b: usize, loss_ppm: u32) {
        if a == b || self.neighbours[a].iter().any(|(n, _)| *n == b) {
            return;
        }
        self.neighbours[a].push((b, loss_ppm));
        self.neighbours[b].push((a, loss_ppm));
    }
    pub fn linked(&self, a: usize, b: usize) -> bool {
        self.neighbours[a].iter().any(|(n, _)| *n == b)
    }
    /// Links every pair of the given positions closer than `range` (the "positions" form).
    pub fn from_positions(pos: &[(f64, f64)], range: f64, loss_ppm: u32) -> Topology {
        let mut t = Topology::new(pos.len());
        for a in 0..pos.len() {
            for b in a + 1..pos.len() {
                let (dx, dy) = (pos[a].0 - pos[b].0, pos[a].1 - pos[b].1);
                if (dx * dx + dy * dy).sqrt() <= range {
                    t.link(a, b, loss_ppm);
                }
            }
        }
        t
    }
}

/// A frame as it went on air.
#[derive(Debug, Clone)]
pub struct Captured {
    pub time: Us,
    pub psdu: Vec<u8>,
}

/// The event queue: ordered by (time, insertion sequence), so equal times keep their order.
pub struct Queue<E> {
    heap: BinaryHeap<Reverse<(Us, u64, usize)>>,
    slots: Vec<Option<E>>,
    free: Vec<usize>,
    seq: u64,
    pub now: Us,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue { heap: BinaryHeap::new(), slots: Vec::new(), free: Vec::new(), seq: 0, now: 0 }
    }
}

impl<E> Queue<E> {
    pub fn at(&mut self, time: Us, e: E) {
        let time = time.max(self.now);
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(e);
                i
            }
            None => {
                self.slots.push(Some(e));
                self.slots.len() - 1
            }
        };
        self.seq += 1;
        self.heap.push(Reverse((time, self.seq, slot)));
    }
    pub fn after(&mut self, delay: Us, e: E) {
        self.at(self.now + delay, e)
    }
    /// Next event not later than `until`; advances `now`.
    pub fn pop(&mut self, until: Us) -> Option<E> {
        let Reverse((t, _, _)) = *self.heap.peek()?;
        if t > until {
            return None;
        }
        let Reverse((t, _, slot)) = self.heap.pop()?;
        self.now = t;
        self.free.push(slot);
        self.slots[slot].take()
    }
    /// When the next event is due.
    pub fn peek_time(&self) -> Option<Us> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_orders_by_time_then_sequence() {
        let mut q = Queue::default();
        q.at(5, 'b');
        q.at(3, 'a');
        q.at(5, 'c');
        let got: Vec<char> = std::iter::from_fn(|| q.pop(u64::MAX)).collect();
        assert_eq!(got, vec!['a', 'b', 'c']);
    }

    #[test]
    fn rng_is_deterministic() {
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn airtime_of_a_max_frame() {
        assert_eq!(airtime(125), (6 + 125 + 2) * 32);
        let t = Topology::from_positions(&[(0.0, 0.0), (5.0, 0.0), (20.0, 0.0)], 10.0, 0);
        assert!(t.linked(0, 1) && !t.linked(0, 2));
    }
}
