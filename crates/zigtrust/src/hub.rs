//! The I/O shell around the sans-IO Trust Center: a [`Hub`] owns the core and its SQLite store
//! and enforces the one ordering rule that makes crashes safe — durable writes (counter leases,
//! incoming counters, device records) are committed before any frame of the same step is
//! released to the radio.

use std::path::Path;
use zigtrust_store::{Store, StoreError};
use zigtrust_tc::{Event, RxMeta, Transmit, TrustCenter};

pub struct Hub {
    pub tc: TrustCenter,
    pub store: Store,
}

/// 32 bytes of OS entropy for the core's key generator.
pub fn os_seed() -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(seed)
}

impl Hub {
    /// Opens (or creates) the store and restores the Trust Center from it.
    pub fn open(db: &Path, seed: [u8; 32], now: u64) -> Result<Hub, StoreError> {
        let store = Store::open(db)?;
        let snapshot = store.snapshot()?;
        Ok(Hub { tc: TrustCenter::new(snapshot, seed, now), store })
    }

    /// Commits pending writes, then returns the frames and events of this step. On a store
    /// error nothing is returned for sending: a frame whose counter lease is not durable must
    /// not go on air.
    pub fn flush(&mut self) -> Result<(Vec<Transmit>, Vec<Event>), StoreError> {
        let writes = self.tc.take_store_writes();
        if !writes.is_empty() {
            if let Err(e) = self.store.apply(&writes) {
                // The frames of this step may use counters whose lease was not committed: they
                // must never be sent, not now and not with a later step.
                while self.tc.poll_transmit().is_some() {}
                return Err(e);
            }
        }
        let mut frames = Vec::new();
        while let Some(t) = self.tc.poll_transmit() {
            frames.push(t);
        }
        let mut events = Vec::new();
        while let Some(e) = self.tc.poll_event() {
            events.push(e);
        }
        Ok((frames, events))
    }

    /// Feeds one received frame and returns what to send.
    pub fn receive(
        &mut self,
        now: u64,
        psdu: &[u8],
    ) -> Result<(Vec<Transmit>, Vec<Event>), StoreError> {
        self.tc.handle_frame(now, psdu, RxMeta::default());
        self.flush()
    }
}
