//! `zigtrust serve`: the hub daemon. The Trust Center core and its SQLite store run on one
//! hub thread with the radio (the live simulated home, or ZEP over UDP); HTTP connections run
//! on their own threads and hand API requests to the hub thread as jobs. The admin API and the
//! web page need the admin token (see docs/api.md).

pub mod api;
pub mod auth;
pub mod http;
pub mod state;

use crate::exit;
use auth::{Auth, Credential};
use http::{Reply, Request, Response};
use serde_json::Value;
use state::{now_ms, DaemonRadio, HubState, SIM_HOME_SETTING};
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zigtrust_hub::radio::zep::ZepRadio;
use zigtrust_hub::{os_seed, Hub, RadioSpec};
use zigtrust_sim::live::{HomeNv, LiveHome};
use zigtrust_store::Store;
use zigtrust_tc::model::Snapshot;
use zigtrust_tc::{AdminCommand, TrustCenter};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Trust Center's SQLite store (created on first start).
    #[arg(long, default_value = "zigtrust.db")]
    pub db: PathBuf,
    /// Address for the web page and API (loopback by default: the API administers the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// `sim` (a live simulated home) or `zep:ADDR:PORT` (802.15.4 frames as ZEP v2 over UDP).
    #[arg(long, default_value = "sim")]
    pub radio: String,
    /// Replace the admin token with a new one (printed once).
    #[arg(long)]
    pub reset_token: bool,
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

type Job = Box<dyn FnOnce(&mut HubState) -> Response + Send>;

/// What the hub thread reports once it is up.
struct Started {
    token: Option<String>,
    token_hash: [u8; 32],
    sse: Arc<Mutex<Vec<SyncSender<String>>>>,
    summary: String,
}

pub fn run(a: &Args, out: &mut dyn Write) -> i32 {
    let radio_spec: RadioSpec = match a.radio.parse() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zigtrust serve: {e}");
            return exit::BAD_INPUT;
        }
    };
    let listener = match TcpListener::bind(&a.listen) {
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
    let (job_tx, job_rx) = mpsc::channel::<(Job, Sender<Response>)>();
    let (start_tx, start_rx) = mpsc::channel::<Result<Started, String>>();
    let (db, reset) = (a.db.clone(), a.reset_token);
    let hub = std::thread::Builder::new().name("hub".into()).spawn(move || {
        hub_thread(db, radio_spec, reset, start_tx, job_rx);
        // The hub thread only returns (or unwinds) on a fatal error once it is running: a
        // daemon without its Trust Center must stop, so a supervisor can restart it.
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
    let auth = Arc::new(Auth::new(started.token_hash));
    let jobs = Mutex::new(job_tx);
    let sse = started.sse;
    let handler: http::Handler = Arc::new(move |req: Request| dispatch(req, &auth, &jobs, &sse));
    http::serve(listener, handler, 512);
    exit::OK
}

fn hub_thread(
    db: PathBuf,
    radio_spec: RadioSpec,
    reset_token: bool,
    start: Sender<Result<Started, String>>,
    jobs: Receiver<(Job, Sender<Response>)>,
) {
    let st = match open_hub(&db, &radio_spec, reset_token) {
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
    let mut st = st;
    loop {
        let wait = Duration::from_millis(st.wait_ms());
        match jobs.recv_timeout(wait) {
            Ok((job, reply)) => {
                st.step();
                let _ = reply.send(job(&mut st));
                // Serve a bounded burst of requests before the next radio step, so a flood of
                // API calls cannot starve the radio.
                for _ in 0..64 {
                    let Ok((job, reply)) = jobs.try_recv() else { break };
                    let _ = reply.send(job(&mut st));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        st.step();
    }
}

type Opened = (HubState, Option<String>, [u8; 32], String);

fn open_hub(
    db: &std::path::Path,
    radio_spec: &RadioSpec,
    reset_token: bool,
) -> Result<Opened, String> {
    let store = Store::open(db).map_err(|e| e.to_string())?;
    open_hub_on(store, &db.display().to_string(), radio_spec, reset_token)
}

/// A hub on an in-memory store with the simulated home, for property tests and fuzzing of the
/// API handlers (no sockets; the caller drives it with [`api::handle`] and
/// [`HubState::step`]).
pub fn in_memory_hub() -> Result<HubState, String> {
    let store = Store::open_in_memory().map_err(|e| e.to_string())?;
    open_hub_on(store, ":memory:", &RadioSpec::Sim, false).map(|o| o.0)
}

fn open_hub_on(
    mut store: Store,
    db_name: &str,
    radio_spec: &RadioSpec,
    reset_token: bool,
) -> Result<Opened, String> {
    let (token, token_hash) = auth::ensure_token(&mut store, reset_token)?;
    let seed = os_seed().map_err(|e| format!("reading /dev/urandom: {e}"))?;
    let now = now_ms();
    if store.snapshot().map_err(|e| e.to_string())?.network.is_none() {
        let pan = if *radio_spec == RadioSpec::Sim {
            zigtrust_sim::world::PAN
        } else {
            zigtrust_wire::PanId(u16::from_le_bytes([seed[0], seed[1]]) & 0x3fff | 0x0100)
        };
        let epid = u64::from_le_bytes(seed[8..16].try_into().expect("8 bytes"));
        let mut tc = TrustCenter::new(Snapshot::default(), seed, now);
        tc.command(
            now,
            AdminCommand::FormNetwork { pan_id: pan, extended_pan_id: epid, channel: 15 },
        )
        .map_err(|e| e.to_string())?;
        // Nothing goes on air before the network is stored.
        let _ = tc.take_batch().commit(&mut store).map_err(|f| f.error.to_string())?;
    }
    let mut tc_seed = os_seed().map_err(|e| format!("reading /dev/urandom: {e}"))?;
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
    };
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
    Ok((st, token, token_hash, summary))
}

fn asset(body: &'static str, ctype: &str) -> Reply {
    Reply::Full(
        Response::new(200, ctype, body)
            .header("Cache-Control", "no-cache")
            .header("X-Content-Type-Options", "nosniff")
            .header("Referrer-Policy", "no-referrer")
            .header("X-Frame-Options", "DENY")
            .header(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
    )
}

fn full(r: Response) -> Reply {
    Reply::Full(r)
}

fn err(status: u16, msg: &str) -> Reply {
    full(api::error_response(&api::error(status, msg, None)))
}

/// Runs `job` on the hub thread and waits for its answer.
fn on_hub(jobs: &Mutex<Sender<(Job, Sender<Response>)>>, job: Job) -> Response {
    let (tx, rx) = mpsc::channel();
    let sent = jobs.lock().map(|j| j.send((job, tx)).is_ok()).unwrap_or(false);
    if !sent {
        eprintln!("zigtrust serve: the hub thread has stopped; exiting");
        std::process::exit(1);
    }
    rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| {
        api::error_response(&api::error(503, "the hub did not answer in time", None))
    })
}

fn dispatch(
    req: Request,
    auth: &Auth,
    jobs: &Mutex<Sender<(Job, Sender<Response>)>>,
    sse: &Arc<Mutex<Vec<SyncSender<String>>>>,
) -> Reply {
    let get = req.method == "GET" || req.method == "HEAD";
    match req.path.as_str() {
        "/" | "/index.html" if get => return asset(INDEX_HTML, "text/html; charset=utf-8"),
        "/app.js" if get => return asset(APP_JS, "text/javascript; charset=utf-8"),
        "/app.css" if get => return asset(APP_CSS, "text/css; charset=utf-8"),
        "/api/session" => return full(auth.session_endpoint(&req)),
        p if !p.starts_with("/api/") => return err(404, "not found"),
        _ => {}
    }
    let cred = match auth.check(&req) {
        Ok(c) => c,
        Err(r) => return full(r),
    };
    if let Credential::Cookie { .. } = cred {
        if !get {
            if let Err(r) = auth.check_csrf(&req, &cred) {
                return full(r);
            }
        }
    }
    let path = req.path["/api/".len()..].to_string();
    if path == "events" {
        if !get {
            return err(405, "method not allowed here (allowed: GET)");
        }
        return events(jobs, sse);
    }
    if path == "backup" {
        if !get {
            return err(405, "method not allowed here (allowed: GET)");
        }
        return full(on_hub(jobs, Box::new(|st: &mut HubState| api::backup_response(st))));
    }
    let body: Option<Value> = if req.body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => Some(v),
            Err(e) => return err(400, &format!("malformed JSON body: {e}")),
        }
    };
    let (method, query) = (req.method.clone(), req.query.clone());
    let method = if method == "HEAD" { "GET".to_string() } else { method };
    full(on_hub(
        jobs,
        Box::new(move |st: &mut HubState| api::handle(st, &method, &path, &query, body)),
    ))
}

/// `GET /api/events`: Server-Sent Events — the state now, then every change and alert.
fn events(
    jobs: &Mutex<Sender<(Job, Sender<Response>)>>,
    sse: &Arc<Mutex<Vec<SyncSender<String>>>>,
) -> Reply {
    let (tx, rx) = mpsc::sync_channel::<String>(64);
    let first = on_hub(
        jobs,
        Box::new(|st: &mut HubState| {
            let v = st.state_event();
            Response::new(200, "text/event-stream", format!("event: state\ndata: {v}\n\n"))
        }),
    );
    match sse.lock() {
        Ok(mut subs) => subs.push(tx),
        Err(_) => return err(503, "live updates are unavailable"),
    }
    let headers = vec![
        ("Content-Type".to_string(), "text/event-stream".to_string()),
        ("Cache-Control".to_string(), "no-store".to_string()),
    ];
    Reply::Stream {
        status: 200,
        headers,
        body: Box::new(move |w| {
            if w.write_all(b"retry: 2000\n\n")
                .and_then(|_| w.write_all(&first.body))
                .and_then(|_| w.flush())
                .is_err()
            {
                return;
            }
            loop {
                let msg = match rx.recv_timeout(Duration::from_secs(15)) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => ": keep-alive\n\n".to_string(),
                    Err(RecvTimeoutError::Disconnected) => return,
                };
                if w.write_all(msg.as_bytes()).and_then(|_| w.flush()).is_err() {
                    return;
                }
            }
        }),
    }
}
