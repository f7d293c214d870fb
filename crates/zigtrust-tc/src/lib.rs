//! The zigtrust Trust Center as a sans-IO state machine (in the style of quinn-proto): feed it
//! received frames ([`TrustCenter::handle_frame`]), time ([`TrustCenter::handle_timeout`]) and
//! admin commands ([`TrustCenter::command`]); take each step's output as a [`Batch`]
//! ([`TrustCenter::take_batch`]): store writes, frames and events, the frames released only by
//! [`Batch::commit`] once the writes are durable ([`durable`]). No sockets, threads, clocks or files inside; given its
//! inputs and RNG seed it is fully deterministic.
//!
//! # Threat model
//!
//! The rules below are held against this attacker, and the tests (`tests/attacks.rs`, the
//! property test, the simulator's scenarios) play it:
//!
//! - **Passive:** it hears every frame from the network's first power-on, every legacy
//!   permit-join window included, and learns every key it can decrypt, transitively: network
//!   keys and link keys from any Transport-Key it can read, then everything those keys open.
//! - **Active:** it injects frames with any MAC/NWK/APS addresses, IEEE addresses and frame
//!   counters, replays anything it heard, and forges anything under any key it holds, at any
//!   rate the radio carries.
//! - **Insider:** a compromised router holds the network key and its own link key, before and
//!   after the user removes it.
//!
//! What holds, per device class:
//! - **Zigbee 3.0 with an install code:** its link key never travels; every key sent to it is
//!   secret from the passive attacker, and no one else can run its TCLK update, move it, or
//!   make the TC refuse it for rate.
//! - **Zigbee 3.0 joined without an install code** and **HA 1.2:** they share nothing secret
//!   with the TC (their link key is public, and a TCLK update would travel under public keys
//!   only, so it is refused). Any network key sent to them is exactly as secret as the network
//!   key it travels under; the TC marks such keys **exposed**, with the reason, and never sends
//!   a key under a public key outside a permit-join window (legacy joins allowed) or a rejoin
//!   window the user opened. Anyone holding an exposed network key can impersonate them.
//!
//! The claim the simulator checks: every key the attacker reads is one the TC marks exposed
//! (no *silent* leak), and no genuine device is stranded (an HA 1.2 device that erases its
//! network key shares no secret with the TC: it is "unrecoverable without a leak", and the
//! user's rejoin window is its way back).
//!
//! # The rules
//!
//! **Joins** (MAC association to the coordinator, or a router's Update-Device "unsecured join",
//! answered with the key tunnelled to that router). Checked before any key is sent, in order:
//! tombstone (a removed device stays out until re-admitted), deny list, allow list (if not
//! empty), an open permit-join window (and, if the window names a device, that device). Then the
//! key: under the link key a known device already holds if that key is secret (a join in its
//! name neither downgrades its key nor resets its counters); else under the device's
//! install-code key if one was added; else under the well-known key only if the policy is
//! `legacy-allowed-while-permit-join` (the window is open by then); else denied
//! (`install-code-required`). A key sent under the well-known key is marked **exposed**.
//! Permit-join windows are at most 254 s and close on the core's own clock: nothing is accepted
//! after `until`, whether or not the shell calls `handle_timeout` on time.
//!
//! **Key exposure** is durable (`NetworkKeyRecord::exposed`, with `exposure` saying why and
//! when) and transitive: a key is exposed when sent under the well-known key (or the link key
//! of a device that joined under it), when sent to a public-link-key device inside NWK security
//! of an exposed key (a rotation), or when a removed device holds it.
//!
//! **Command authentication.** An APS security command (Request-Key, Verify-Key,
//! Update-Device) is acted on only when the APS security source, the NWK originator and the
//! device it concerns are one known, non-removed device, secured under the link key the TC
//! holds for it (the well-known key only for a device whose link key is public; unknown sources
//! are dropped), with an APS counter above the last accepted one. Update-Device is accepted only
//! from a known, non-removed router. Frames from removed devices (sent or relayed) are dropped.
//!
//! **TC link key update** (R21): Request-Key (TC link key, APS-secured under the device's
//! current link key) → Transport-Key of a fresh random key under the key-load key → Verify-Key
//! (hash checked) → Confirm-Key under the new key; the device is then marked as holding a
//! verified unique key. Refused for a device whose link key is public: the new key would travel
//! under the key-load key of a public key, inside a network key that anyone given it under the
//! well-known key can read, now or later from a recording — no secret, only a key an outsider
//! could install in the device's name (stranding it).
//!
//! **Secured rejoin** under the current key: accepted (rejoin response NWK-secured). Frames
//! under an older key: see the stale-key rescue below; that is all they do.
//!
//! **Trust Center rejoin** (unsecured rejoin request, directly or reported by a router's
//! Update-Device): tombstoned devices are refused; an unknown IEEE is treated as a join. A device
//! whose link key is not public (verified unique TCLK, or its install-code key) always gets the
//! key under that link key. A device with a public link key:
//! - `allow` (`InsecureRejoinPolicy::AllowLeakingKey`, risky): key under the well-known key
//!   (exposed) — today's permissive stacks.
//! - `deny`: refused — today's strict stacks (devices that missed a key change are stranded).
//!   A refused rejoin from a device that spoke under the current key in the last 10 minutes
//!   still raises *suspected spoof*: detection does not depend on the policy; with
//!   `spoof_response = ignore` such a spoof gets no answer at all.
//! - `adaptive` (zigtrust, the default):
//!   1. if the device sent a frame under the current key in the last 10 minutes, raise
//!      *suspected spoof*. The key is then never sent under the well-known key: it goes only
//!      NWK-secured under the key the device holds (rule 2's condition), which the genuine
//!      device can read and a spoofer cannot; if there is no such key the rejoin is refused
//!      (`spoof_response`).
//!   2. else if the device holds a known network key (the newest one it was given at join or
//!      acknowledged in a rotation, or used in a frame) and sending under it reveals nothing new
//!      (that key was never exposed, or the current key already is): the current key is sent
//!      NWK-secured under that proven key, followed by a Switch-Key. If that key is the pending
//!      rotation key, the answer goes under the current key instead (the device got the
//!      rotation key under it): a frame under the rotation key before the Switch-Key would make
//!      every device that hears it and holds that key switch early;
//!   3. else inside a rejoin window the user opened: allowed under the well-known key
//!      (exposed);
//!   4. else refused (`NoReasonToTrust`).
//!
//! An unauthenticated rejoin (or a router's report of one) moves nothing: a rejoining device
//! keeps its stored address (the rejoin response, sent to where the request came from, says so;
//! nothing is answered at another known device's address), the parent it claims is where the
//! answer goes for at most a minute, and the stored record follows only when the device speaks
//! from there under the current key. A router's report never redirects frames. The same answer
//! goes to the same place at most once per 2 s, so spoofed rejoins cannot make the coordinator
//! transmit answers to nobody; a request inside those 2 s is answered when they end (its
//! rejoin response to the device's stored address if any request came from there), so a
//! genuine device that asks just after a spoof in its name was answered still gets its own.
//!
//! **Rate limits** (3 per device and 30 network-wide per minute) apply only to answers that
//! send a key under a public link key, and to refusals (which cost airtime only: without the
//! network-wide cap, rejoins in made-up devices' names would each get an acknowledged unicast
//! to nobody). Answers that
//! reveal nothing new — a key under a secret link key or under a key the device proved it holds
//! — are never refused for rate, so spoofed rejoins (in real devices' names or decoys') cannot
//! spend a genuine device's budget.
//!
//! **Stale-key rescue** (`adaptive`): a fresh frame from a known device under an older network
//! key (with rule 2's exposure condition) makes the TC send the current key under that old key,
//! plus a Switch-Key (at most once per 30 s per device). Such a frame does nothing else: no
//! liveness, no rejoin, no command. Replays of it are dropped (counters per device and key).
//!
//! **Key rotation**: a new random key is sent to every non-removed device (unicast, NWK-secured
//! under the current key, APS-secured under the device's link key unless that is public; held
//! for sleepy devices' polls), with APS ack requested; a copy not acknowledged within
//! [`APS_ACK_WAIT_MS`] ([`APS_ACK_WAIT_SLEEPY_MS`] for a sleepy device) goes again, at most
//! [`APS_MAX_FRAME_RETRIES`] times, with the same APS counter and fresh security counters, and
//! never to a device removed since; Switch-Key is broadcast when all acked or at the deadline;
//! stragglers are rescued as above when they come back. The rotation is
//! persisted ([`model::StoreWrite::Rotation`]): after a restart it resumes with the same key
//! (re-sent to those that had not acknowledged), so an interrupted rotation never gives its
//! number to a different key. Numbers wrap after 256 rotations: the key a device holds is named
//! by number and key hash ([`TrustCenter::held_key`]). Removing a router (policy
//! `rotate_after_removal`) starts a rotation that leaves it out. Optional: rotate automatically
//! when a permit-join window with a legacy join closes.
//!
//! **Frame counters**: outgoing NWK and APS counters are leased in blocks of 4096
//! ([`model::StoreWrite::CounterLease`]) before use; a restored core starts after the lease. A
//! counter never wraps: at [`NWK_COUNTER_ROTATE_AT`] the TC rotates the network key (also right
//! after importing a backup whose counter is that high) and the new key's counter starts at 0
//! ([`model::StoreWrite::CounterRestart`]); older keys go on with a retired counter above
//! everything they used, so stragglers can still be rescued and no counter repeats. Incoming
//! NWK counters are tracked per transmitting device and per key (kept across rotations and
//! restarts), APS counters per device; a counter not above the last accepted one is dropped
//! and reported (`ReplayDropped`). The resynchronisation rule for a device whose counter is out
//! of step (a reboot that lost it, or a forged frame with a huge counter) is in the `counters`
//! module: the mark is never lowered; a device whose frames keep being dropped under the
//! current key (a copy at exactly the mark is a retransmission, no evidence) and then completes
//! a rejoin only it can read, or sends an APS command under its secret link key with a fresh
//! APS counter (then acted on), triggers a key rotation that switches after
//! [`RESYNC_ROTATION_DEADLINE_MS`], under which every counter starts afresh. Under an exposed
//! current key, drops of frames that are no replay (above the counter accepted before the
//! mark) trigger it alone: whoever holds that key could force it anyway.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod core;
pub mod durable;
pub mod model;
mod rng;

pub use crate::core::*;
pub use crate::durable::{Batch, CommitFailed, Durable, MemStore, Released};
