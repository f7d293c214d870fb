//! Admin authentication: one token, created on first start, printed once and stored as its
//! SHA-256 hash. Scripts send it as a bearer token; the web page trades it for a session
//! cookie (`HttpOnly; SameSite=Strict`) plus a CSRF token that every state-changing request
//! must echo in `X-CSRF-Token`.

use super::api::{error, error_response};
use super::http::{Request, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zigtrust_hub::os_seed;
use zigtrust_store::Store;

const TOKEN_SETTING: &str = "admin_token_sha256";
const SESSION_COOKIE: &str = "zt_session";
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
    Cookie { csrf: String },
}

struct Session {
    csrf: String,
    expires: Instant,
}

pub struct Auth {
    token_hash: [u8; 32],
    /// By the SHA-256 of the session id (the id itself lives only in the browser).
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

fn unauthorized(msg: &str) -> Response {
    error_response(&error(401, msg, None)).header("WWW-Authenticate", "Bearer realm=\"zigtrust\"")
}

impl Auth {
    pub fn new(token_hash: [u8; 32]) -> Auth {
        Auth { token_hash, sessions: Mutex::new(HashMap::new()) }
    }

    fn token_ok(&self, token: &str) -> bool {
        ct_eq(&sha256(token.trim()), &self.token_hash)
    }

    fn session(&self, req: &Request) -> Option<String> {
        let id = req.cookie(SESSION_COOKIE)?;
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

    /// Who is asking: a bearer token or a session cookie; else a 401 response.
    pub fn check(&self, req: &Request) -> Result<Credential, Response> {
        if let Some(h) = req.header("authorization") {
            let Some(t) = h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) else {
                return Err(unauthorized("Authorization must be `Bearer <token>`"));
            };
            return if self.token_ok(t) {
                Ok(Credential::Bearer)
            } else {
                std::thread::sleep(Duration::from_millis(200)); // slows guessing
                Err(unauthorized("wrong admin token"))
            };
        }
        match self.session(req) {
            Some(csrf) => Ok(Credential::Cookie { csrf }),
            None => Err(unauthorized(
                "log in: send `Authorization: Bearer <token>` or POST /api/session",
            )),
        }
    }

    /// Cookie sessions must echo the CSRF token on state-changing requests, and a browser's
    /// Origin, when sent, must be this host.
    pub fn check_csrf(&self, req: &Request, cred: &Credential) -> Result<(), Response> {
        let Credential::Cookie { csrf } = cred else { return Ok(()) };
        if let (Some(origin), Some(host)) = (req.header("origin"), req.header("host")) {
            let o = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            if o != host {
                return Err(error_response(&error(403, "cross-origin request refused", None)));
            }
        }
        match req.header("x-csrf-token") {
            Some(t) if ct_eq(t.as_bytes(), csrf.as_bytes()) => Ok(()),
            _ => Err(error_response(&error(403, "missing or wrong X-CSRF-Token header", None))),
        }
    }

    /// `/api/session`: POST logs in, GET says whether the cookie is valid, DELETE logs out.
    pub fn session_endpoint(&self, req: &Request) -> Response {
        let ok = |v: serde_json::Value| super::api::json_response(200, &v);
        match req.method.as_str() {
            "GET" | "HEAD" => match self.session(req) {
                Some(csrf) => ok(serde_json::json!({"authenticated": true, "csrf": csrf})),
                None => unauthorized("no valid session"),
            },
            "POST" => {
                let v: serde_json::Value = match serde_json::from_slice(&req.body) {
                    Ok(v) => v,
                    Err(e) => {
                        return error_response(&error(
                            400,
                            format!("malformed JSON body: {e}"),
                            None,
                        ))
                    }
                };
                let Some(token) = v.get("token").and_then(|t| t.as_str()) else {
                    return error_response(&error(400, "missing \"token\"", Some("token")));
                };
                if !self.token_ok(token) {
                    std::thread::sleep(Duration::from_millis(200));
                    return unauthorized("wrong admin token");
                }
                let (Ok(id), Ok(csrf)) = (random_hex(), random_hex()) else {
                    return error_response(&error(503, "no randomness for a session", None));
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
                ok(serde_json::json!({"authenticated": true, "csrf": csrf})).header(
                    "Set-Cookie",
                    format!(
                        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                        SESSION_TTL.as_secs()
                    ),
                )
            }
            "DELETE" => {
                if let Some(id) = req.cookie(SESSION_COOKIE) {
                    self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(&sha256(id));
                }
                ok(serde_json::json!({"authenticated": false})).header(
                    "Set-Cookie",
                    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
                )
            }
            _ => error_response(&error(
                405,
                "method not allowed here (allowed: GET, POST, DELETE)",
                None,
            )),
        }
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
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
