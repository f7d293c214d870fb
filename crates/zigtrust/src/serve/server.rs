//! The HTTP transport: hyper's HTTP/1.1 on tokio, with the limits a daemon that administers a
//! network needs against hostile clients on the same host.
//!
//! - A request head must arrive whole within [`HEAD_TIMEOUT`] and fit in [`MAX_HEAD`]; a body
//!   within [`BODY_TIMEOUT`] (see `api::ApiJson`), and only after its credentials were checked.
//! - Connections are capped below the process's file-descriptor limit (one descriptor each), so
//!   `accept` never runs out of descriptors; an `accept` error backs off instead of spinning.
//! - At the cap, a new connection evicts the oldest one whose client never proved the admin
//!   token: clients without the token cannot hold every slot and lock the owner out.

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::Service;

/// How long a client may take to send a whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a whole request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head read (hyper answers 431 past it).
pub const MAX_HEAD: usize = 16 * 1024;
/// Connections at most, whatever the descriptor limit allows.
const MAX_CONNECTIONS: usize = 512;
/// Descriptors kept free for the store, the radio and the rest of the process.
const SPARE_FDS: usize = 64;
/// Evicted connections whose descriptors may still be open (their tasks close them a moment
/// later): beyond this many, a newcomer is refused instead, so descriptors stay bounded.
const CLOSING_MAX: usize = 16;
/// How long the accept loop waits for evicted connections to close before refusing one.
const CLOSING_WAIT: Duration = Duration::from_secs(1);

/// A connection's trust, in each request's extensions: set once its client proved the token.
#[derive(Clone, Debug, Default)]
pub struct ConnTrust(Arc<AtomicBool>);

impl ConnTrust {
    /// The client sent a valid bearer token or session: this connection is never evicted.
    pub fn prove(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn proven(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

struct Slot {
    id: u64,
    trust: ConnTrust,
    evict: Arc<Notify>,
    /// Told to close; it still holds its descriptor until its task ends.
    closing: bool,
}

/// The live connections, oldest first.
pub struct Slots {
    max: usize,
    /// Signalled whenever a connection's descriptor is closed.
    released: Notify,
    next_id: Mutex<u64>,
    live: Mutex<Vec<Slot>>,
}

impl Slots {
    pub fn new(max: usize) -> Slots {
        Slots {
            max: max.max(1),
            released: Notify::new(),
            next_id: Mutex::new(0),
            live: Mutex::new(Vec::new()),
        }
    }

    /// A slot for a new connection. At the cap the oldest connection without a proven client
    /// is told to close; when every connection has one, the newcomer is refused (`None`).
    fn take(&self) -> Option<(u64, ConnTrust, Arc<Notify>)> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let closing = live.iter().filter(|s| s.closing).count();
        if live.len() - closing >= self.max {
            if closing >= CLOSING_MAX {
                return None;
            }
            let victim = live.iter_mut().find(|s| !s.closing && !s.trust.proven())?;
            victim.closing = true;
            victim.evict.notify_one();
        }
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            *n
        };
        let slot = Slot {
            id,
            trust: ConnTrust::default(),
            evict: Arc::new(Notify::new()),
            closing: false,
        };
        let out = (id, slot.trust.clone(), slot.evict.clone());
        live.push(slot);
        Some(out)
    }

    fn release(&self, id: u64) {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).retain(|s| s.id != id);
        self.released.notify_waiters();
    }

    /// A slot for a new connection, waiting up to [`CLOSING_WAIT`] while too many evicted
    /// connections are still closing (a burst of newcomers: the evicted tasks have not run
    /// yet). `None` when every slot holds a proven client, or the wait ran out.
    async fn take_waiting(&self) -> Option<(u64, ConnTrust, Arc<Notify>)> {
        let deadline = tokio::time::Instant::now() + CLOSING_WAIT;
        loop {
            // Registered before the check, so a release in between is not missed.
            let released = self.released.notified();
            if let Some(s) = self.take() {
                return Some(s);
            }
            if !self.closing_full() {
                return None;
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return None;
            }
        }
    }

    fn closing_full(&self) -> bool {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.iter().filter(|s| s.closing).count() >= CLOSING_MAX
    }

    /// Connections open now (those told to close included, until they have).
    pub fn open_connections(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The connection cap for this process: [`MAX_CONNECTIONS`], or fewer when the soft limit of
/// open files would run out first.
pub fn connection_cap() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse::<usize>().ok()))
    });
    match soft {
        Some(n) => MAX_CONNECTIONS.min(n.saturating_sub(SPARE_FDS + CLOSING_MAX)).max(8),
        None => MAX_CONNECTIONS,
    }
}

/// Serves `app` on `listener` for ever.
pub async fn serve(listener: TcpListener, app: Router, slots: Arc<Slots>) {
    let mut told = false;
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors or a transient network error: back off, never spin.
                if !told {
                    eprintln!("zigtrust serve: accept failed ({e}); backing off");
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((id, trust, evict)) = slots.take_waiting().await else {
            drop(stream); // every slot holds an authenticated client
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let slots = slots.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(trust.clone());
                app.clone().call(req)
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = evict.notified() => {}
            }
            slots.release(id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_unproven_connection_goes_and_proven_ones_stay() {
        let slots = Slots::new(3);
        let (a, ta, ea) = slots.take().unwrap();
        let (_b, _tb, eb) = slots.take().unwrap();
        let (_c, tc, _ec) = slots.take().unwrap();
        ta.prove();
        tc.prove();
        // The fourth evicts b, the only unproven one.
        let (_d, td, _ed) = slots.take().unwrap();
        assert_eq!(slots.open_connections(), 4, "b holds its descriptor until it closes");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(1), eb.notified()).await.unwrap();
            assert!(tokio::time::timeout(Duration::from_millis(20), ea.notified()).await.is_err());
        });
        // Now all are proven: a newcomer is refused rather than evicting the owner.
        td.prove();
        assert!(slots.take().is_none());
        slots.release(a);
        assert!(slots.take().is_some());
    }

    #[test]
    fn connections_told_to_close_are_bounded() {
        let slots = Slots::new(CLOSING_MAX + 1);
        let held: Vec<_> = (0..CLOSING_MAX + 1).map(|_| slots.take().unwrap()).collect();
        // Each newcomer evicts one; none of the evicted closes (a stalled runtime).
        for _ in 0..CLOSING_MAX {
            assert!(slots.take().is_some());
        }
        assert!(slots.take().is_none(), "no more descriptors than the cap plus the closing margin");
        slots.release(held[0].0);
        assert!(slots.take().is_some());
    }

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let cap = connection_cap();
        assert!((8..=MAX_CONNECTIONS).contains(&cap), "{cap}");
    }
}
