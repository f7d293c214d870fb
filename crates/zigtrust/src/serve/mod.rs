//! `zigtrust serve`: the hub daemon. The Trust Center core and its SQLite store run in one
//! [`zigtrust_hub::Hub`] on a hub thread with the radio (the live simulated home, or ZEP over
//! UDP); the hub thread is the single owner of that state. HTTP runs on axum/hyper over tokio
//! ([`server`]) and hands API requests to the hub thread as jobs ([`HubHandle`]). The admin API
//! and the web page need the admin token (see docs/api.md).

pub mod api;
pub mod auth;
pub mod server;
pub mod state;
pub mod views;

use crate::cli::ChannelChoice;
use crate::exit;
use api::ApiError;
use auth::{AllowedHosts, Auth};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
pub use server::BODY_TIMEOUT;
use state::{now_ms, DaemonRadio, HubState, LiveEvent, SIM_HOME_SETTING};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zigtrust_hub::radio::spinel::SpinelRadio;
use zigtrust_hub::radio::zep::ZepRadio;
use zigtrust_hub::{os_seed, Hub, RadioSpec};
use zigtrust_sim::live::{HomeNv, LiveHome};
use zigtrust_store::Store;
use zigtrust_tc::model::{NetworkConfig, Snapshot};
use zigtrust_tc::{AdminCommand, TrustCenter};
use zigtrust_wire::{ExtAddr, PanId};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Trust Center's SQLite store (created on first start).
    #[arg(long, default_value = "zigtrust.db")]
    pub db: PathBuf,
    /// Address for the web page and API (loopback by default: the API administers the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// `sim` (a live simulated home), `zep:ADDR:PORT` (802.15.4 frames as ZEP v2 over UDP), or
    /// an OpenThread RCP over Spinel: `spinel+hdlc+uart:///dev/ttyACM0?uart-baudrate=460800`,
    /// `spinel+hdlc+forkpty:///path/to/ot-rcp?forkpty-arg=1`; either takes `&tx-power=<dBm>`
    /// (-40 to 20; the firmware's default when absent).
    #[arg(long, default_value = "sim")]
    pub radio: String,
    /// Replace the admin token with a new one (printed once).
    #[arg(long)]
    pub reset_token: bool,
    /// A host name the page and API answer to besides `localhost` and the listening address
    /// (e.g. `hub.lan`; repeatable). Requests naming any other host are refused, so a
    /// DNS-rebinding page cannot reach the daemon.
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// The 2.4 GHz channel (11-26) the network is formed on at first start [default: 15].
    /// Next to Wi-Fi, Zigbee networks usually take 11, 15, 20 or 25; `auto` takes the quietest
    /// of those by an energy scan (OpenThread RCP radios only). A formed network keeps its
    /// channel: naming another one later exits 2.
    #[arg(long, value_name = "11-26|auto", value_parser = crate::cli::parse_channel)]
    pub channel: Option<ChannelChoice>,
    /// The PAN id the network is formed with at first start, e.g. 0x1a62 (or decimal); random
    /// if not given. For moving devices from another coordinator's network. A formed network
    /// keeps its PAN id: naming another one later exits 2.
    #[arg(long = "pan-id", value_name = "0xXXXX", value_parser = crate::cli::parse_pan_id)]
    pub pan_id: Option<PanId>,
    /// The extended PAN id the network is formed with at first start (16 hex digits, e.g.
    /// dd:dd:dd:dd:dd:dd:dd:dd); random if not given. Like --pan-id, fixed once formed.
    #[arg(long = "extended-pan-id", value_name = "HEX", value_parser = crate::cli::parse_extended_pan_id)]
    pub extended_pan_id: Option<u64>,
}

impl Args {
    /// The network the options ask for.
    fn network_choice(&self) -> NetworkChoice {
        NetworkChoice {
            channel: self.channel,
            pan_id: self.pan_id,
            extended_pan_id: self.extended_pan_id,
        }
    }
}

/// The network a first start forms, as the options name it; what they leave out is chosen:
/// channel 15, a random PAN id and extended PAN id. On a later start it must name the stored
/// network or nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkChoice {
    pub channel: Option<ChannelChoice>,
    pub pan_id: Option<PanId>,
    pub extended_pan_id: Option<u64>,
}

/// The channel a network is formed on when none is named.
const DEFAULT_CHANNEL: u8 = 15;

/// The channels `--channel auto` chooses from: 15, 20 and 25 lie in the gaps beside Wi-Fi
/// channels 1, 6 and 11; 11 (many stacks' default) lies inside Wi-Fi channel 1. In order of
/// preference on equal energy: the daemon's default first, 11 last.
const AUTO_CHANNELS: [u8; 4] = [15, 20, 25, 11];
/// Energy scans per channel, taken in turns so that a burst of traffic hits one sample.
const SCAN_ROUNDS: usize = 3;
/// How long each energy scan listens.
const SCAN_PERIOD: Duration = Duration::from_millis(100);

impl NetworkChoice {
    /// Refuses options that name another network than the stored one. A formed network cannot
    /// be moved from here (its devices would have to follow, by a network update the daemon
    /// does not send), and silently ignoring the options would let the user believe it moved.
    fn check_stored(&self, net: &NetworkConfig, db_name: &str) -> Result<(), String> {
        let mut named = Vec::new();
        // `auto` asks for nothing in particular: any formed network satisfies it.
        if let Some(ChannelChoice::Channel(c)) = self.channel {
            if c != net.channel {
                named.push(format!("--channel {c}"));
            }
        }
        if let Some(p) = self.pan_id.filter(|p| *p != net.pan_id) {
            named.push(format!("--pan-id {p}"));
        }
        if let Some(e) = self.extended_pan_id.filter(|e| *e != net.extended_pan_id) {
            named.push(format!("--extended-pan-id {}", ExtAddr(e)));
        }
        if named.is_empty() {
            return Ok(());
        }
        let (verb, them) = if named.len() == 1 { ("names", "it") } else { ("name", "them") };
        Err(format!(
            "{db_name} holds a network formed on channel {}, PAN id {}, extended PAN id {}, but {} \
             {verb} another: changing the channel or PAN of a formed network is not supported \
             (start without {them}, or form a new network with a new --db and pair every device \
             again)",
            net.channel,
            net.pan_id,
            ExtAddr(net.extended_pan_id),
            named.join(" and "),
        ))
    }

    /// Refuses, before anything is stored, a first start the radio cannot serve.
    fn check_radio(&self, radio: &RadioSpec) -> Result<(), String> {
        if self.channel == Some(ChannelChoice::Auto) && !matches!(radio, RadioSpec::Spinel(_)) {
            return Err(format!(
                "--channel auto measures the channels with the radio's energy scan, which only an \
                 OpenThread RCP does (--radio spinel+…), not --radio {radio}; name a channel"
            ));
        }
        match self.pan_id {
            Some(p) if *radio == RadioSpec::Sim && p != zigtrust_sim::world::PAN => Err(format!(
                "--pan-id {p}: the simulated home's devices look for PAN {} (--radio sim)",
                zigtrust_sim::world::PAN
            )),
            _ => Ok(()),
        }
    }
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
/// jsQR 1.4.0 (Apache-2.0), loaded by the page only when a label is scanned.
const JSQR_JS: &str = include_str!("assets/jsqr.js");

/// How long an API request waits for the hub thread.
const HUB_TIMEOUT: Duration = Duration::from_secs(20);

type Job = Box<dyn FnOnce(&mut HubState) + Send>;

/// The way to the hub thread: jobs run there one at a time, between radio steps.
#[derive(Clone)]
pub struct HubHandle {
    jobs: Sender<Job>,
}

impl HubHandle {
    /// Runs `f` on the hub thread and waits for its answer (503 when it takes too long).
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut HubState) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |st| {
            let _ = tx.send(f(st));
        });
        if self.jobs.send(job).is_err() {
            // A daemon without its Trust Center must stop, so a supervisor can restart it.
            eprintln!("zigtrust serve: the hub thread has stopped; exiting");
            std::process::exit(1);
        }
        match tokio::time::timeout(HUB_TIMEOUT, rx).await {
            Ok(Ok(r)) => Ok(r),
            _ => Err(ApiError::new(503, "the hub did not answer in time")),
        }
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub struct App {
    pub hub: HubHandle,
    pub auth: Arc<Auth>,
    pub hosts: Arc<AllowedHosts>,
    pub sse: Arc<Mutex<Vec<tokio::sync::mpsc::Sender<LiveEvent>>>>,
}

/// What the hub thread reports once it is up.
struct Started {
    token: Option<String>,
    token_hash: [u8; 32],
    sse: Arc<Mutex<Vec<tokio::sync::mpsc::Sender<LiveEvent>>>>,
    summary: String,
}

/// Takes the store for this daemon alone: a second daemon on the same store would lease
/// frame counters from its own memory, and two Trust Centers on one radio reuse nonces.
/// The lock is an OS file lock on `DB.lock`, released when the process ends, also by a kill.
fn lock_store(db: &Path) -> Result<std::fs::File, String> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "{} is in use by another zigtrust serve (two Trust Centers on one store would reuse frame counters)",
            db.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
    }
}

pub fn run(a: &Args, out: &mut dyn Write) -> i32 {
    let radio_spec: RadioSpec = match a.radio.parse() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zigtrust serve: {e}");
            return exit::BAD_INPUT;
        }
    };
    let _lock = match lock_store(&a.db) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("zigtrust serve: {e}");
            return exit::BAD_INPUT;
        }
    };
    let listener = match std::net::TcpListener::bind(&a.listen).and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("zigtrust serve: cannot listen on {}: {e}", a.listen);
            return exit::BAD_INPUT;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("zigtrust serve: {e}");
            return exit::BAD_INPUT;
        }
    };
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (start_tx, start_rx) = mpsc::channel::<Result<Started, String>>();
    let (db, reset, choice) = (a.db.clone(), a.reset_token, a.network_choice());
    let hub = std::thread::Builder::new().name("hub".into()).spawn(move || {
        hub_thread(db, radio_spec, choice, reset, start_tx, job_rx);
    });
    if let Err(e) = hub {
        eprintln!("zigtrust serve: {e}");
        return exit::BAD_INPUT;
    }
    let started = match start_rx.recv() {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            eprintln!("zigtrust serve: {e}");
            return exit::BAD_INPUT;
        }
        Err(_) => {
            eprintln!("zigtrust serve: the hub thread failed to start");
            return exit::BAD_INPUT;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("http")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zigtrust serve: {e}");
            return exit::BAD_INPUT;
        }
    };
    let _ = writeln!(out, "{}", started.summary);
    let _ = writeln!(out, "listening: http://{addr}/");
    match &started.token {
        Some(t) => {
            let _ = writeln!(out, "token: {t}");
            let _ = writeln!(
                out,
                "(the admin token is shown only now and stored hashed; `--reset-token` makes a new one)"
            );
        }
        None => {
            let _ = writeln!(out, "log in with the admin token printed at first start (`--reset-token` makes a new one)");
        }
    }
    let _ = out.flush();
    let app = App {
        hub: HubHandle { jobs: job_tx },
        auth: Arc::new(Auth::new(started.token_hash, addr.port())),
        hosts: Arc::new(AllowedHosts::new(addr, &a.allowed_hosts)),
        sse: started.sse,
    };
    let slots = Arc::new(server::Slots::new(server::connection_cap()));
    rt.block_on(async move {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => server::serve(l, router(app), slots).await,
            Err(e) => eprintln!("zigtrust serve: {e}"),
        }
    });
    exit::BAD_INPUT
}

/// The routes: the page's assets, then the API behind [`guard`].
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }))
        .route("/index.html", get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }))
        .route("/app.js", get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/app.css", get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }))
        .route("/jsqr.js", get(|| async { asset(JSQR_JS, "text/javascript; charset=utf-8") }))
        .route("/api/session", get(api::session).post(api::login).delete(api::logout))
        .route("/api/network", get(api::network))
        .route("/api/devices", get(api::devices))
        .route("/api/devices/{ieee}", get(api::device_get).delete(api::device_delete))
        .route("/api/permit-join", get(api::permit_get).post(api::permit_set).put(api::permit_set))
        .route(
            "/api/rejoin-window",
            get(api::rejoin_get).post(api::rejoin_set).put(api::rejoin_set),
        )
        .route("/api/install-codes", get(api::install_codes).post(api::install_code_add))
        .route("/api/install-codes/{ieee}", axum::routing::delete(api::install_code_remove))
        .route("/api/policy", get(api::policy_get).put(api::policy_set).post(api::policy_set))
        .route("/api/network-key/rotate", get(api::rotate_get).post(api::rotate_start))
        .route("/api/alerts", get(api::alerts))
        .route("/api/audit-log", get(api::audit_log))
        .route("/api/backup", get(api::backup))
        .route("/api/sim", get(api::sim))
        .route("/api/sim/attacker", post(api::sim_attacker).put(api::sim_attacker))
        // A stream has no head-only form: HEAD must not hold a connection open.
        .route("/api/events", get(events).head(|| async { method_not_allowed().await }))
        .route("/api/openapi.json", get(api::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Every request: the Host must be one of ours; `/api/` needs credentials (checked before
/// routing and before any body is read, so unknown paths too); every answer gets the headers
/// that keep browsers from sniffing or caching it.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/api/");
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let mut resp = if let Err(e) = app.hosts.check(host) {
        e.into_response()
    } else if api && path != "/api/session" {
        match app.auth.check(req.headers()).await {
            Ok(_) => {
                if let Some(t) = req.extensions().get::<server::ConnTrust>() {
                    t.prove();
                }
                next.run(req).await
            }
            Err(e) => e.into_response(),
        }
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if api || resp.status().as_u16() >= 400 {
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    }
    resp
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    match uri.path().strip_prefix("/api/") {
        Some(p) => ApiError::new(404, format!("no such resource: /api/{}", p.trim_matches('/'))),
        None => ApiError::new(404, "not found"),
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(405, "method not allowed here")
}

fn asset(body: &'static str, ctype: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; \
                 connect-src 'self'; media-src 'self' blob: mediastream:; frame-ancestors 'none'; \
                 base-uri 'none'; form-action 'self'",
            ),
        ],
        body,
    )
        .into_response()
}

/// Live updates as Server-Sent Events: the state now, then every change and alert.
#[utoipa::path(get, path = "/api/events", tag = "network",
    responses((status = 200, description = "text/event-stream: `state` and `alert` events", content_type = "text/event-stream", body = String)))]
pub async fn events(State(app): State<App>) -> Response {
    let first = match app.hub.run(|st| serde_json::to_string(&st.state_event())).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return ApiError::new(503, e.to_string()).into_response(),
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<LiveEvent>(64);
    match app.sse.lock() {
        Ok(mut subs) => subs.push(tx),
        Err(_) => return ApiError::new(503, "live updates are unavailable").into_response(),
    }
    let retry = SseEvent::default().retry(Duration::from_secs(2));
    let first = [retry, SseEvent::default().event("state").data(first)];
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let e = rx.recv().await?;
        Some((SseEvent::default().event(e.kind).data(e.data), rx))
    });
    let stream = futures_util::StreamExt::map(
        futures_util::StreamExt::chain(futures_util::stream::iter(first), rest),
        Ok::<_, std::convert::Infallible>,
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

fn hub_thread(
    db: PathBuf,
    radio_spec: RadioSpec,
    choice: NetworkChoice,
    reset_token: bool,
    start: Sender<Result<Started, String>>,
    jobs: Receiver<Job>,
) {
    let mut st = match open_hub(&db, &radio_spec, choice, reset_token) {
        Ok((st, token, token_hash, summary)) => {
            let sse = st.sse.clone();
            if start.send(Ok(Started { token, token_hash, sse, summary })).is_err() {
                return;
            }
            st
        }
        Err(e) => {
            let _ = start.send(Err(e));
            return;
        }
    };
    loop {
        let wait = Duration::from_millis(st.wait_ms());
        match jobs.recv_timeout(wait) {
            Ok(job) => {
                st.step();
                job(&mut st);
                // Serve a bounded burst of requests before the next radio step, so a flood of
                // API calls cannot starve the radio.
                for _ in 0..64 {
                    let Ok(job) = jobs.try_recv() else { break };
                    job(&mut st);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        st.step();
    }
}

/// An app on a hub with an in-memory store and the simulated home, on its own hub thread,
/// listening nowhere: for property tests and fuzzing of the whole request path. Returns the
/// router and the admin token.
pub fn in_memory_app() -> Result<(Router, String), String> {
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (start_tx, start_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("hub".into())
        .spawn(move || {
            let opened = Store::open_in_memory().map_err(|e| e.to_string()).and_then(|s| {
                open_hub_on(s, ":memory:", &RadioSpec::Sim, NetworkChoice::default(), false)
            });
            let mut st = match opened {
                Ok((st, token, _, _)) => {
                    let _ = start_tx.send(Ok((token, st.sse.clone())));
                    st
                }
                Err(e) => {
                    let _ = start_tx.send(Err(e));
                    return;
                }
            };
            while let Ok(job) = job_rx.recv() {
                job(&mut st);
                st.step();
            }
        })
        .map_err(|e| e.to_string())?;
    let (token, sse) = start_rx.recv().map_err(|e| e.to_string())??;
    let token = token.ok_or("no token made")?;
    let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().map_err(|_| "address")?;
    let hash = auth::token_hash(&token);
    let app = App {
        hub: HubHandle { jobs: job_tx },
        auth: Arc::new(Auth::new(hash, addr.port())),
        hosts: Arc::new(AllowedHosts::new(addr, &[])),
        sse,
    };
    Ok((router(app), token))
}

type Opened = (HubState, Option<String>, [u8; 32], String);

fn open_hub(
    db: &std::path::Path,
    radio_spec: &RadioSpec,
    choice: NetworkChoice,
    reset_token: bool,
) -> Result<Opened, String> {
    let store = Store::open(db).map_err(|e| e.to_string())?;
    open_hub_on(store, &db.display().to_string(), radio_spec, choice, reset_token)
}

fn open_hub_on(
    mut store: Store,
    db_name: &str,
    radio_spec: &RadioSpec,
    choice: NetworkChoice,
    reset_token: bool,
) -> Result<Opened, String> {
    // Options are checked, and the radio opened, before the store is written to: a refused or
    // failed first start must leave neither a token nobody was shown nor a network formed
    // from options the user may still correct.
    let stored = store.snapshot().map_err(|e| e.to_string())?.network;
    match &stored {
        Some(net) => choice.check_stored(net, db_name)?,
        None => choice.check_radio(radio_spec)?,
    }
    let seed = os_seed().map_err(|e| format!("reading /dev/urandom: {e}"))?;
    let now = now_ms();
    let mut tc_seed = os_seed().map_err(|e| format!("reading /dev/urandom: {e}"))?;
    // `--channel auto`: the energy per channel, measured once the radio is open.
    let mut scanned: Option<Vec<(u8, f64)>> = None;
    let (radio, summary) = match radio_spec {
        RadioSpec::Sim => {
            let saved: Option<HomeNv> = match store.setting(SIM_HOME_SETTING).map_err(|e| e.to_string())? {
                Some(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
                    format!("{db_name}: the simulated home's saved state is unreadable ({e}); use another --db")
                })?),
                None => None,
            };
            let home_seed = saved
                .as_ref()
                .map_or(u64::from(u16::from_le_bytes([seed[2], seed[3]])), |h| h.seed);
            let mut home = LiveHome::new(home_seed, now * 1000, saved.as_ref())?;
            for (ieee, _) in store.snapshot().map_err(|e| e.to_string())?.install_codes {
                home.install_code_known(ieee);
            }
            let summary = format!(
                "zigtrust serve: Trust Center on a simulated home of {} devices (radio sim), store {db_name}",
                home.devices.len()
            );
            (DaemonRadio::Sim(Box::new(home)), summary)
        }
        RadioSpec::Zep { peer } => {
            let z = ZepRadio::open(*peer).map_err(|e| e.to_string())?;
            let summary = format!(
                "zigtrust serve: Trust Center on ZEP v2 to {peer} (listening on UDP port {}), store {db_name}",
                peer.port()
            );
            (DaemonRadio::Zep(Box::new(z)), summary)
        }
        RadioSpec::Spinel(spec) => {
            let r = SpinelRadio::open(spec).map_err(|e| format!("--radio {spec}: {e}"))?;
            if stored.is_none() && choice.channel == Some(ChannelChoice::Auto) {
                scanned = Some(scan_channels(&r)?);
            }
            let info = r.info().unwrap_or_default();
            // The power the RCP reports in use after `tx-power=`: it may have clamped it.
            let power = match (spec.tx_power(), r.status().tx_power) {
                (Some(asked), Some(p)) if p != asked => {
                    format!(", transmit power {p} dBm (asked {asked}: the radio's limit)")
                }
                (_, Some(p)) => format!(", transmit power {p} dBm"),
                (_, None) => String::new(),
            };
            let summary = format!(
                "zigtrust serve: Trust Center on an OpenThread RCP ({}; {}, Spinel {}.{}, RCP API {}, EUI-64 {}{power}), store {db_name}",
                r.status().transport, info.ncp_version, info.protocol.0, info.protocol.1,
                info.rcp_api_version, info.hwaddr
            );
            (DaemonRadio::Spinel(Box::new(r)), summary)
        }
    };
    let formed = stored.is_none();
    if formed {
        let pan = choice.pan_id.unwrap_or(if *radio_spec == RadioSpec::Sim {
            zigtrust_sim::world::PAN
        } else {
            PanId(u16::from_le_bytes([seed[0], seed[1]]) & 0x3fff | 0x0100)
        });
        let epid = choice
            .extended_pan_id
            .unwrap_or_else(|| u64::from_le_bytes(seed[8..16].try_into().expect("8 bytes")));
        let channel = match (choice.channel, &scanned) {
            (Some(ChannelChoice::Channel(c)), _) => c,
            (Some(ChannelChoice::Auto), Some(energy)) => quietest(energy)
                .ok_or("--channel auto: the energy scan measured no channel; name a channel")?,
            (Some(ChannelChoice::Auto), None) => {
                return Err("--channel auto: no energy scan was made; name a channel".into())
            }
            (None, _) => DEFAULT_CHANNEL,
        };
        let mut tc = TrustCenter::new(Snapshot::default(), seed, now);
        tc.command(now, AdminCommand::FormNetwork { pan_id: pan, extended_pan_id: epid, channel })
            .map_err(|e| e.to_string())?;
        // Nothing goes on air before the network is stored.
        let _ = tc.take_batch().commit(&mut store).map_err(|f| f.error.to_string())?;
    }
    let (token, token_hash) = auth::ensure_token(&mut store, reset_token)?;
    let hub = Hub::open(store, radio, tc_seed, now).map_err(|e| e.to_string())?;
    tc_seed.fill(0);
    let mut st = HubState::new(hub, radio_spec.to_string());
    if st.home().is_some_and(|h| !h.paired_once) {
        // First start: pair the starter home (its Z3.0 devices by install code).
        let codes = st.home().map(LiveHome::starter_install_codes).unwrap_or_default();
        for (ieee, link_key) in codes {
            st.command(AdminCommand::AddInstallCode { ieee, link_key })
                .map_err(|e| e.to_string())?;
        }
        st.command(AdminCommand::PermitJoin { duration_ms: 120_000, ieee: None })
            .map_err(|e| e.to_string())?;
        if let Some(home) = st.home_mut() {
            home.power_up_starter_devices();
        }
    }
    st.save_home(true);
    let summary = match &scanned {
        Some(energy) => {
            let seen: Vec<String> =
                energy.iter().map(|(c, dbm)| format!("channel {c} {dbm:.0} dBm")).collect();
            format!(
                "{summary}\nenergy scan, peak RSSI (mean of {SCAN_ROUNDS} scans of {} ms): {}",
                SCAN_PERIOD.as_millis(),
                seen.join(", ")
            )
        }
        None => summary,
    };
    // The network's identity, which a user moving devices or choosing a Wi-Fi channel needs
    // (the PAN ids are random unless named).
    let summary = match st.tc().network() {
        Some(n) => format!(
            "{summary}\n{} channel {}, PAN id {}, extended PAN id {}",
            if formed { "formed a network on" } else { "network on" },
            n.channel,
            n.pan_id,
            ExtAddr(n.extended_pan_id)
        ),
        None => summary,
    };
    Ok((st, token, token_hash, summary))
}

/// Measures [`AUTO_CHANNELS`] with the RCP's energy scan: each channel's mean of
/// [`SCAN_ROUNDS`] peak readings (dBm), in [`AUTO_CHANNELS`] order. A failed scan fails the
/// start: picking a channel unmeasured is what the user asked not to happen.
fn scan_channels(radio: &SpinelRadio) -> Result<Vec<(u8, f64)>, String> {
    let mut sums = [0i32; AUTO_CHANNELS.len()];
    for _ in 0..SCAN_ROUNDS {
        for (sum, &c) in sums.iter_mut().zip(&AUTO_CHANNELS) {
            let dbm = radio.energy_scan(c, SCAN_PERIOD).map_err(|e| {
                format!("--channel auto: the energy scan failed: {e}; name a channel")
            })?;
            *sum += i32::from(dbm);
        }
    }
    Ok(AUTO_CHANNELS
        .iter()
        .zip(sums)
        .map(|(&c, s)| (c, f64::from(s) / SCAN_ROUNDS as f64))
        .collect())
}

/// The channel with the least energy; on equal energy the earlier one.
fn quietest(energy: &[(u8, f64)]) -> Option<u8> {
    let mut best: Option<(u8, f64)> = None;
    for &(c, dbm) in energy {
        if best.is_none_or(|(_, b)| dbm < b) {
            best = Some((c, dbm));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_the_quietest_channel_and_on_equal_energy_the_earlier() {
        assert_eq!(quietest(&[(15, -90.0), (20, -95.5), (25, -60.0), (11, -95.0)]), Some(20));
        assert_eq!(quietest(&[(15, -98.0), (20, -98.0), (25, -98.0), (11, -98.0)]), Some(15));
        assert_eq!(quietest(&[(15, -30.0), (20, -98.0), (25, -98.0), (11, -98.0)]), Some(20));
        assert_eq!(quietest(&[]), None);
    }

    #[test]
    fn auto_needs_an_rcp_and_asks_nothing_of_a_formed_network() {
        let auto = NetworkChoice { channel: Some(ChannelChoice::Auto), ..Default::default() };
        assert!(auto.check_radio(&RadioSpec::Sim).is_err());
        let rcp: RadioSpec = "spinel+hdlc+forkpty:///bin/ot-rcp?forkpty-arg=1".parse().unwrap();
        assert_eq!(auto.check_radio(&rcp), Ok(()));
        let net = NetworkConfig {
            pan_id: PanId(0x1a62),
            extended_pan_id: 1,
            channel: 25,
            tc_ieee: ExtAddr(2),
            nwk_update_id: 0,
        };
        assert_eq!(auto.check_stored(&net, "hub.db"), Ok(()));
        let other =
            NetworkChoice { channel: Some(ChannelChoice::Channel(20)), ..Default::default() };
        assert!(other.check_stored(&net, "hub.db").unwrap_err().contains("--channel 20"));
    }
}
