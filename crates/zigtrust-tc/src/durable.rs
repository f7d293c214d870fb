//! The one ordering rule, as types: the core's output for a step is a [`Batch`], and its frames
//! come out only through [`Batch::commit`], which first makes the step's store writes durable.
//!
//! A frame's security counters are leased in store writes (see `core/counters.rs`); a frame on
//! air whose lease was lost in a crash would let the restarted Trust Center reuse its counter,
//! and with it the CCM* nonce. So no caller can take a frame from the core without handing a
//! [`Durable`] store the writes of the same step, and on a failed commit the frames are dropped
//! with the batch, never sent later.

use crate::core::{Event, Transmit};
use crate::model::{CounterKind, DeviceRecord, Snapshot, StoreWrite};
use std::collections::HashMap;
use zigtrust_wire::ExtAddr;

/// A store that makes the Trust Center's writes durable: the hub's SQLite store, or
/// [`MemStore`] in tests and the simulator (where "durable" means "outlives the core").
pub trait Durable {
    /// Why a commit or a read failed.
    type Error: std::fmt::Display;
    /// Applies every write of one step atomically, or none; returns only once they are durable.
    fn commit(&mut self, writes: &[StoreWrite]) -> Result<(), Self::Error>;
    /// The durable state to restore a Trust Center from.
    fn snapshot(&self) -> Result<Snapshot, Self::Error>;
}

/// One step of the core: store writes, frames and events. Frames are private: the only way to
/// them is [`Batch::commit`]. Dropping a batch drops its frames (safe: nothing went on air).
#[must_use = "a batch's frames are released only by committing its writes"]
#[derive(Debug, Default)]
pub struct Batch {
    writes: Vec<StoreWrite>,
    transmits: Vec<Transmit>,
    events: Vec<Event>,
}

/// A committed batch: its frames may now be sent, in order.
#[derive(Debug, Default)]
pub struct Released {
    /// The writes that were committed (for observers, e.g. the simulator's audit counts).
    pub writes: Vec<StoreWrite>,
    /// Frames for the radio, in the order the core produced them.
    pub transmits: Vec<Transmit>,
    /// What happened in the step.
    pub events: Vec<Event>,
}

/// A commit that failed: the frames are gone; the events are kept (they describe what the core
/// did in memory, which the caller should still log).
#[derive(Debug)]
pub struct CommitFailed<E> {
    /// The store's error.
    pub error: E,
    /// The step's events.
    pub events: Vec<Event>,
    /// How many frames were dropped unsent.
    pub dropped_frames: usize,
}

impl Batch {
    pub(crate) fn new(
        writes: Vec<StoreWrite>,
        transmits: Vec<Transmit>,
        events: Vec<Event>,
    ) -> Batch {
        Batch { writes, transmits, events }
    }

    /// The writes to commit.
    pub fn writes(&self) -> &[StoreWrite] {
        &self.writes
    }

    /// Whether the step produced nothing at all.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.transmits.is_empty() && self.events.is_empty()
    }

    /// Commits the writes to `store`, then hands out the frames. An empty write set needs no
    /// commit.
    pub fn commit<D: Durable + ?Sized>(
        self,
        store: &mut D,
    ) -> Result<Released, CommitFailed<D::Error>> {
        if !self.writes.is_empty() {
            if let Err(error) = store.commit(&self.writes) {
                return Err(CommitFailed {
                    error,
                    events: self.events,
                    dropped_frames: self.transmits.len(),
                });
            }
        }
        Ok(Released { writes: self.writes, transmits: self.transmits, events: self.events })
    }
}

/// The reference in-memory store: the Trust Center's durable state folded from its writes, as
/// the SQLite store keeps it (audit entries are not kept).
#[derive(Debug, Default, Clone)]
pub struct MemStore {
    /// Everything but the devices.
    pub snap: Snapshot,
    /// Device records by IEEE address.
    pub devices: HashMap<ExtAddr, DeviceRecord>,
}

impl MemStore {
    /// A store holding `snap`.
    pub fn from_snapshot(mut snap: Snapshot) -> MemStore {
        let devices = std::mem::take(&mut snap.devices).into_iter().map(|d| (d.ieee, d)).collect();
        MemStore { snap, devices }
    }

    /// Applies one write.
    pub fn apply(&mut self, w: StoreWrite) {
        let s = &mut self.snap;
        match w {
            StoreWrite::Network(c) => s.network = Some(c),
            StoreWrite::NetworkKey(k) => {
                s.network_keys.retain(|x| x.seq != k.seq);
                s.network_keys.push(k);
            }
            StoreWrite::ActiveKeySeq(q) => s.active_key_seq = Some(q),
            StoreWrite::Device(d) => {
                self.devices.insert(d.ieee, d);
            }
            StoreWrite::DeleteDevice(i) => {
                self.devices.remove(&i);
            }
            StoreWrite::InstallCode { ieee, key } => {
                s.install_codes.retain(|(i, _)| *i != ieee);
                s.install_codes.push((ieee, key));
            }
            StoreWrite::RemoveInstallCode(i) => s.install_codes.retain(|(x, _)| *x != i),
            StoreWrite::CounterLease { kind, until } => {
                s.counter_leases.retain(|(k, _)| *k != kind);
                s.counter_leases.push((kind, until));
            }
            StoreWrite::Policy(p) => s.policy = Some(p),
            StoreWrite::Audit(_) => {}
            StoreWrite::Rotation(r) => s.rotation = r,
            StoreWrite::CounterRestart { kind, key_seq } => {
                s.counter_leases.retain(|(k, _)| *k != kind);
                s.counter_restarts.retain(|(k, _)| *k != kind);
                s.counter_restarts.push((kind, key_seq));
            }
        }
    }

    /// The state as a snapshot (devices sorted by IEEE address).
    pub fn to_snapshot(&self) -> Snapshot {
        let mut s = self.snap.clone();
        let mut d: Vec<DeviceRecord> = self.devices.values().cloned().collect();
        d.sort_by_key(|r| r.ieee);
        s.devices = d;
        s
    }

    /// The highest counter leased for `kind`.
    pub fn lease(&self, kind: CounterKind) -> u32 {
        self.snap
            .counter_leases
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0)
    }
}

impl Durable for MemStore {
    type Error = std::convert::Infallible;

    fn commit(&mut self, writes: &[StoreWrite]) -> Result<(), Self::Error> {
        for w in writes {
            self.apply(w.clone());
        }
        Ok(())
    }

    fn snapshot(&self) -> Result<Snapshot, Self::Error> {
        Ok(self.to_snapshot())
    }
}
