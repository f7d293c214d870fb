//! The zigtrust Trust Center as a sans-IO state machine (in the style of quinn-proto): feed it
//! received frames ([`TrustCenter::handle_frame`]), time ([`TrustCenter::handle_timeout`]) and
//! admin commands ([`TrustCenter::command`]); take frames to transmit
//! ([`TrustCenter::poll_transmit`]), events ([`TrustCenter::poll_event`]) and durable writes
//! ([`TrustCenter::take_store_writes`]). No sockets, threads, clocks or files inside; given its
//! inputs and RNG seed it is fully deterministic.
//!
//! # The rules
//!
//! **Joins** (MAC association to the coordinator, or a router's Update-Device "unsecured join",
//! answered with the key tunnelled to that router). Checked before any key is sent, in order:
//! tombstone (a removed device stays out until re-admitted), deny list, allow list (if not
//! empty), an open permit-join window (and, if the window names a device, that device). Then the
//! key: under the device's install-code key if one was added; else under the well-known key only
//! if the policy is `legacy-allowed-while-permit-join` (the window is open by then); else denied
//! (`install-code-required`). A key sent under the well-known key is marked **exposed**.
//! Permit-join windows are at most 254 s and close on the core's own clock: nothing is accepted
//! after `until`, whether or not the shell calls `handle_timeout` on time.
//!
//! **TC link key update** (R21): Request-Key (TC link key, APS-secured under the device's
//! current link key) → Transport-Key of a fresh random key under the key-load key → Verify-Key
//! (hash checked) → Confirm-Key under the new key; the device is then marked as holding a
//! verified unique key.
//!
//! **Secured rejoin** under the current key: accepted (rejoin response NWK-secured) unless the
//! device is tombstoned. Frames under an older key: see `adaptive` below; `allow`/`deny` drop
//! them, as stacks that keep only the current key do.
//!
//! **Trust Center rejoin** (unsecured rejoin request, directly or reported by a router's
//! Update-Device): tombstoned devices are refused; per-device (3/min) and network-wide (30/min)
//! rate limits apply; an unknown IEEE is treated as a join. A device whose link key is not
//! public (verified unique TCLK, or its install-code key) always gets the key under that link
//! key. A device that only has the well-known key:
//! - `allow`: key under the well-known key (exposed) — today's permissive stacks.
//! - `deny`: refused — today's strict stacks (devices that missed a key change are stranded).
//!   A refused rejoin from a device that spoke under the current key in the last 10 minutes
//!   still raises *suspected spoof*: detection does not depend on the policy.
//! - `adaptive` (zigtrust):
//!   1. if the device sent a frame under the current key in the last 10 minutes, raise
//!      *suspected spoof*. The key is then never sent under the well-known key: it goes only
//!      NWK-secured under the key the device holds (rule 2's condition), which the genuine
//!      device — e.g. one whose parent or hub just went away — can read and a spoofer cannot;
//!      if there is no such key the rejoin is refused (`spoof_response`: deny sends a rejoin
//!      response "access denied", ignore sends nothing). Refusing outright instead would strand
//!      genuine devices after a hub reboot (the simulator's `hub-reboot` scenario), which the
//!      product must not do.
//!   2. else if the device holds a known network key (the newest one it was given at join or
//!      acknowledged in a rotation, or used in a frame) and sending
//!      under it reveals nothing new (that key was never exposed, or the current key already
//!      is): the current key is sent NWK-secured under that proven key, followed by a
//!      Switch-Key — only a holder of that key can read it;
//!   3. else inside a rejoin window the user opened (e.g. after restoring a backup): allowed
//!      under the well-known key (exposed);
//!   4. else refused (`NoReasonToTrust`).
//!
//! So under `deny` and `adaptive` the network key is sent under the well-known key only inside
//! a permit-join window with legacy joins allowed, or a rejoin window the user opened.
//!
//! **Stale-key rescue** (`adaptive`): any frame from a known device that verifies under an older
//! network key (with the same exposure condition as rule 2) makes the TC send the current key
//! under that old key, plus a Switch-Key (at most once per 30 s per device).
//!
//! **Key rotation**: a new random key is sent to every device (unicast, NWK-secured under the
//! current key, APS-secured under the device's link key unless that is the well-known key; held
//! for sleepy devices' polls), with APS ack requested; Switch-Key is broadcast when all acked or
//! at the deadline; stragglers are reported and rescued as above when they come back. If the
//! current key was exposed and a well-known-key device receives the new key, the new key is
//! exposed too. Optional: rotate automatically when a permit-join window with a legacy join
//! closes.
//!
//! **Frame counters**: outgoing NWK and APS counters are leased in blocks of 4096
//! ([`model::StoreWrite::CounterLease`]) before use; a restored core starts after the lease.
//! Incoming NWK counters are tracked per transmitting device and key, incoming APS counters per
//! device; a counter not above the last accepted one is dropped and reported (`ReplayDropped`).
#![forbid(unsafe_code)]

mod core;
pub mod model;
pub mod rng;

pub use crate::core::*;
