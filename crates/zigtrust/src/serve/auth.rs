//! Admin authentication: one token, created on first start, printed once and stored as its
//! SHA-256 hash. Scripts send it as a bearer token; the web page trades it for a session: an
//! `HttpOnly; SameSite=Strict` cookie plus a CSRF token that every cookie request, reads
//! included, must echo in `X-CSRF-Token`. A cookie is not scoped to a port — the browser sends
//! it to every service on the host — so the cookie alone authenticates nothing; the CSRF half
//! lives in the page's origin-scoped storage, which other ports cannot read.

use super::api::ApiError;
use axum::http::{HeaderMap, Method};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zigtrust_hub::os_seed;
use zigtrust_store::Store;

const TOKEN_SETTING: &str = "admin_token_sha256";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const MAX_SESSIONS: usize = 256;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn random_hex() -> Result<String, String> {
    let mut s = os_seed().map_err(|e| format!("reading /dev/urandom: {e}"))?;
    let h = hex(&s);
    s.fill(0);
    Ok(h)
}

/// The stored form of an admin token.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token)
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Equal in time independent of where the inputs differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Returns (the new token if one was made now, the stored hash).
pub fn ensure_token(store: &mut Store, reset: bool) -> Result<(Option<String>, [u8; 32]), String> {
    if !reset {
        if let Some(h) = store.setting(TOKEN_SETTING).map_err(|e| e.to_string())? {
            let hash: [u8; 32] = h.try_into().map_err(|_| {
                format!(
                    "{}: the stored admin token hash is damaged; start with --reset-token",
                    store.path().display()
                )
            })?;
            return Ok((None, hash));
        }
    }
    let token = format!("zt_{}", random_hex()?);
    let hash = sha256(&token);
    store.set_setting(TOKEN_SETTING, &hash).map_err(|e| e.to_string())?;
    Ok((Some(token), hash))
}

pub enum Credential {
    Bearer,
    Cookie,
}

struct Session {
    csrf: String,
    expires: Instant,
}

pub struct Auth {
    token_hash: [u8; 32],
    /// The session cookie's name, with the daemon's port: two daemons on one host keep their
    /// sessions apart.
    cookie: String,
    /// By the SHA-256 of the session id (the id itself lives only in the browser).
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

pub fn unauthorized(msg: &str) -> ApiError {
    ApiError::new(401, msg)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Waits a little after a wrong token: slows guessing without holding a thread.
async fn penalty() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

impl Auth {
    pub fn new(token_hash: [u8; 32], port: u16) -> Auth {
        Auth {
            token_hash,
            cookie: format!("zt_session_{port}"),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn token_ok(&self, token: &str) -> bool {
        ct_eq(&sha256(token.trim()), &self.token_hash)
    }

    /// The CSRF token of the session the request's cookie names, if it is valid.
    fn session(&self, h: &HeaderMap) -> Option<String> {
        let id = cookie(h, &self.cookie)?;
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let key = sha256(id);
        match s.get(&key) {
            Some(x) if x.expires > Instant::now() => Some(x.csrf.clone()),
            Some(_) => {
                s.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Who is asking: a bearer token, or a session cookie with its CSRF header (and, when the
    /// browser names one, an Origin that is this host). Else 401 or 403.
    pub async fn check(&self, h: &HeaderMap) -> Result<Credential, ApiError> {
        if let Some(a) = header(h, "authorization") {
            let Some(t) = a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("bearer ")) else {
                return Err(unauthorized("Authorization must be `Bearer <token>`"));
            };
            if self.token_ok(t) {
                return Ok(Credential::Bearer);
            }
            penalty().await;
            return Err(unauthorized("wrong admin token"));
        }
        let Some(csrf) = self.session(h) else {
            return Err(unauthorized(
                "log in: send `Authorization: Bearer <token>` or POST /api/session",
            ));
        };
        check_origin(h)?;
        match header(h, "x-csrf-token") {
            Some(t) if ct_eq(t.as_bytes(), csrf.as_bytes()) => Ok(Credential::Cookie),
            _ => Err(ApiError::new(403, "missing or wrong X-CSRF-Token header")),
        }
    }

    /// `POST /api/session`: trades the token for a session. Returns the CSRF token and the
    /// `Set-Cookie` value.
    pub async fn login(&self, token: &str) -> Result<(String, String), ApiError> {
        if !self.token_ok(token) {
            penalty().await;
            return Err(unauthorized("wrong admin token"));
        }
        let (Ok(id), Ok(csrf)) = (random_hex(), random_hex()) else {
            return Err(ApiError::new(503, "no randomness for a session"));
        };
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        s.retain(|_, x| x.expires > now);
        if s.len() >= MAX_SESSIONS {
            if let Some(k) = s.iter().min_by_key(|(_, x)| x.expires).map(|(k, _)| *k) {
                s.remove(&k);
            }
        }
        s.insert(sha256(&id), Session { csrf: csrf.clone(), expires: now + SESSION_TTL });
        let set = format!(
            "{}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            self.cookie,
            SESSION_TTL.as_secs()
        );
        Ok((csrf, set))
    }

    /// `DELETE /api/session`: ends the cookie's session; returns the `Set-Cookie` that clears it.
    pub fn logout(&self, h: &HeaderMap) -> String {
        if let Some(id) = cookie(h, &self.cookie) {
            self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(&sha256(id));
        }
        format!("{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0", self.cookie)
    }
}

/// A browser's Origin, when sent, must be this host (the Host header, itself checked against
/// the names this daemon answers to).
pub fn check_origin(h: &HeaderMap) -> Result<(), ApiError> {
    if let (Some(origin), Some(host)) = (header(h, "origin"), header(h, "host")) {
        let o = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if !o.eq_ignore_ascii_case(host) {
            return Err(ApiError::new(403, "cross-origin request refused"));
        }
    }
    Ok(())
}

/// Whether a request changes state (for the 503-on-store-failure rule).
pub fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The names and addresses this daemon answers to: a request whose `Host` is anything else
/// is refused, so a DNS-rebinding page (its own name resolving to this host) reaches nothing.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    port: u16,
    /// Listening on every address: any IP literal with our port is ours.
    any_ip: bool,
    ip: std::net::IpAddr,
    names: Vec<String>,
}

impl AllowedHosts {
    pub fn new(listen: std::net::SocketAddr, extra: &[String]) -> AllowedHosts {
        let mut names = vec!["localhost".to_string()];
        names.extend(extra.iter().map(|n| n.to_ascii_lowercase()));
        AllowedHosts {
            port: listen.port(),
            any_ip: listen.ip().is_unspecified(),
            ip: listen.ip(),
            names,
        }
    }

    /// Checks a `Host` header value.
    pub fn check(&self, host: Option<&str>) -> Result<(), ApiError> {
        let Some(host) = host else {
            return Err(ApiError::new(400, "missing Host header"));
        };
        if self.allows(host) {
            Ok(())
        } else {
            Err(ApiError::new(
                421,
                format!("this daemon does not answer to Host \"{host}\" (start it with --allowed-host NAME to add a name)"),
            ))
        }
    }

    fn allows(&self, host: &str) -> bool {
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) if !p.contains(']') => (n, p.parse::<u16>().ok()),
            _ => (host, Some(80)),
        };
        if port != Some(self.port) {
            return false;
        }
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            return self.any_ip || ip == self.ip || ip.is_loopback() && self.ip.is_loopback();
        }
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_fips_180_2_vector() {
        // FIPS 180-2 appendix B.1: SHA-256("abc").
        assert_eq!(
            hex(&sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hosts_are_our_names_and_addresses_with_our_port() {
        let lo = AllowedHosts::new("127.0.0.1:8080".parse().unwrap(), &["hub.lan".into()]);
        for ok in
            ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080", "hub.lan:8080"]
        {
            assert!(lo.check(Some(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "localhost",
            "10.0.0.2:8080",
            "",
            "hub.lan:80",
        ] {
            assert!(lo.check(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(lo.check(None).unwrap_err().status, 400);
        let any = AllowedHosts::new("0.0.0.0:80".parse().unwrap(), &[]);
        assert!(any.check(Some("192.0.2.7")).is_ok() && any.check(Some("192.0.2.7:80")).is_ok());
        assert!(any.check(Some("rebind.example")).is_err());
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
