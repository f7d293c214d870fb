//! The `/api/` resources (docs/api.md, docs/openapi.json), run on the hub thread. Every
//! handler validates its whole input before it changes anything, so a refused request leaves
//! the Trust Center and the store as they were.

use super::http::Response;
use super::state::{audit_view, now_ms, policy_view, HubState, Rotation};
use serde_json::{json, Map, Value};
use zigtrust_crypto::{InstallCodeError, InstallCodePayload};
use zigtrust_store::backup;
use zigtrust_tc::model::{InsecureRejoinPolicy, LegacyJoinPolicy, Severity, SpoofResponse};
use zigtrust_tc::{AdminCommand, AdminError};
use zigtrust_wire::ExtAddr;

/// A refused request: status, message, and the request field at fault.
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub field: Option<&'static str>,
}

type Res = Result<(u16, Value), ApiError>;

pub fn error(status: u16, message: impl Into<String>, field: Option<&'static str>) -> ApiError {
    ApiError { status, message: message.into(), field }
}

fn bad(message: impl Into<String>, field: &'static str) -> ApiError {
    error(400, message, Some(field))
}

pub fn json_response(status: u16, v: &Value) -> Response {
    Response::new(status, "application/json", v.to_string()).header("Cache-Control", "no-store")
}

pub fn error_response(e: &ApiError) -> Response {
    let mut v = json!({"error": e.message});
    if let Some(f) = e.field {
        v["field"] = json!(f);
    }
    json_response(e.status, &v)
}

fn admin_err(e: AdminError) -> ApiError {
    match e {
        AdminError::UnknownDevice(_) => error(404, e.to_string(), None),
        AdminError::RotationInProgress => error(409, e.to_string(), None),
        AdminError::NetworkNotFormed | AdminError::AlreadyFormed => error(409, e.to_string(), None),
        AdminError::InvalidChannel(_) => error(400, e.to_string(), None),
    }
}

/// Parses an IEEE address: colon-separated display order or 16 hex digits, any separators.
pub fn parse_ieee(s: &str) -> Option<ExtAddr> {
    let bytes = zigtrust_crypto::decode_hex_loose(s.trim()).ok()?;
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(ExtAddr(u64::from_be_bytes(arr)))
}

fn body_object(body: &Option<Value>) -> Result<Map<String, Value>, ApiError> {
    match body {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(error(400, "the request body must be a JSON object", None)),
    }
}

fn only_fields(m: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(error(
            400,
            format!("unknown field \"{k}\" (expected: {})", allowed.join(", ")),
            None,
        )),
        None => Ok(()),
    }
}

fn opt_str<'a>(m: &'a Map<String, Value>, k: &'static str) -> Result<Option<&'a str>, ApiError> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("\"{k}\" must be a string"), k)),
    }
}

fn opt_u64(m: &Map<String, Value>, k: &'static str) -> Result<Option<u64>, ApiError> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(format!("\"{k}\" must be a non-negative integer"), k)),
    }
}

fn opt_ieee(m: &Map<String, Value>, k: &'static str) -> Result<Option<ExtAddr>, ApiError> {
    match opt_str(m, k)? {
        None => Ok(None),
        Some(s) => parse_ieee(s).map(Some).ok_or_else(|| {
            bad(
                format!(
                    "\"{s}\" is not an IEEE address (8 bytes as hex, e.g. 00:12:4b:00:01:02:03:04)"
                ),
                k,
            )
        }),
    }
}

fn query_u64(q: &str, name: &str) -> Result<Option<u64>, ApiError> {
    let v =
        q.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v);
    match v {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            error(400, format!("query parameter {name} must be a non-negative integer"), None)
        }),
    }
}

/// Runs one API request on the hub thread. `path` is below `/api/`.
pub fn handle(
    st: &mut HubState,
    method: &str,
    path: &str,
    query: &str,
    body: Option<Value>,
) -> Response {
    let mut r = route(st, method, path, query, body);
    if r.is_ok() && method != "GET" {
        if let Some(e) = st.store_error() {
            // The core took the change but the store refused it: nothing was sent, and a
            // restart would forget it. Say so rather than report success.
            r = Err(error(503, format!("the change could not be stored: {e}"), None));
        }
    }
    match r {
        Ok((status, v)) => json_response(status, &v),
        Err(e) => error_response(&e),
    }
}

fn method_not_allowed(allowed: &str) -> ApiError {
    error(405, format!("method not allowed here (allowed: {allowed})"), None)
}

fn route(st: &mut HubState, method: &str, path: &str, query: &str, body: Option<Value>) -> Res {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (segs.as_slice(), method) {
        (["network"], "GET") => Ok((200, st.network_view())),
        (["network"], _) => Err(method_not_allowed("GET")),
        (["devices"], "GET") => Ok((200, json!({"devices": st.device_views()}))),
        (["devices"], _) => Err(method_not_allowed("GET")),
        (["devices", ieee], m) => device(st, m, ieee),
        (["permit-join"], "GET") => Ok((200, st.permit_view())),
        (["permit-join"], "POST" | "PUT") => permit_join(st, &body),
        (["permit-join"], _) => Err(method_not_allowed("GET, POST")),
        (["rejoin-window"], "GET") => Ok((200, st.rejoin_window_view())),
        (["rejoin-window"], "POST" | "PUT") => rejoin_window(st, &body),
        (["rejoin-window"], _) => Err(method_not_allowed("GET, POST")),
        (["install-codes"], "GET") => install_codes(st),
        (["install-codes"], "POST") => add_install_code(st, &body),
        (["install-codes"], _) => Err(method_not_allowed("GET, POST")),
        (["install-codes", ieee], "DELETE") => remove_install_code(st, ieee),
        (["install-codes", _], _) => Err(method_not_allowed("DELETE")),
        (["policy"], "GET") => Ok((200, policy_view(st.tc().policy()))),
        (["policy"], "PUT" | "POST") => set_policy(st, &body),
        (["policy"], _) => Err(method_not_allowed("GET, PUT, POST")),
        (["network-key", "rotate"], "GET") => Ok((200, st.rotation_view())),
        (["network-key", "rotate"], "POST") => rotate(st, &body),
        (["network-key", "rotate"], _) => Err(method_not_allowed("GET, POST")),
        (["alerts"], "GET") => alerts(st, query),
        (["alerts"], _) => Err(method_not_allowed("GET")),
        (["audit-log"], "GET") => audit_log(st, query),
        (["audit-log"], _) => Err(method_not_allowed("GET")),
        (["sim"], "GET") => st.sim_view().map(|v| (200, v)).ok_or_else(no_sim),
        (["sim"], _) => Err(method_not_allowed("GET")),
        (["sim", "attacker"], "POST" | "PUT") => attacker(st, &body),
        (["sim", "attacker"], _) => Err(method_not_allowed("POST")),
        _ => Err(error(404, format!("no such resource: /api/{}", path.trim_matches('/')), None)),
    }
}

fn no_sim() -> ApiError {
    error(404, "this daemon runs on a real radio (--radio zep:…), not the simulated home", None)
}

fn device(st: &mut HubState, method: &str, ieee_text: &str) -> Res {
    let ieee = parse_ieee(ieee_text)
        .ok_or_else(|| error(404, format!("\"{ieee_text}\" is not an IEEE address"), None))?;
    let Some(rec) = st.tc().device(ieee).cloned() else {
        return Err(error(404, format!("unknown device {ieee}"), None));
    };
    match method {
        "GET" => Ok((200, st.device_view(&rec))),
        "DELETE" => {
            st.command(AdminCommand::RemoveDevice { ieee }).map_err(admin_err)?;
            Ok((200, json!({"removed": ieee.to_string()})))
        }
        _ => Err(method_not_allowed("GET, DELETE")),
    }
}

fn permit_join(st: &mut HubState, body: &Option<Value>) -> Res {
    let m = body_object(body)?;
    only_fields(&m, &["duration_s", "ieee"])?;
    let secs = opt_u64(&m, "duration_s")?.unwrap_or(180);
    if secs > 254 {
        return Err(bad(
            "duration_s must be 0-254 seconds (Zigbee permit-join limit)",
            "duration_s",
        ));
    }
    let ieee = opt_ieee(&m, "ieee")?;
    st.command(AdminCommand::PermitJoin { duration_ms: secs * 1000, ieee }).map_err(admin_err)?;
    st.permit_ieee = if secs > 0 { ieee } else { None };
    st.touch();
    Ok((200, st.permit_view()))
}

/// A user-opened window in which legacy devices that lost their network key may rejoin
/// with the well-known key: the way back for them without a factory reset, at the price the
/// window makes explicit (the key goes out readable by any sniffer while it is open).
fn rejoin_window(st: &mut HubState, body: &Option<Value>) -> Res {
    let m = body_object(body)?;
    only_fields(&m, &["duration_s"])?;
    let secs = opt_u64(&m, "duration_s")?
        .ok_or_else(|| bad("missing \"duration_s\" (0-600; 0 closes)", "duration_s"))?;
    if secs > 600 {
        return Err(bad("duration_s must be 0-600 seconds", "duration_s"));
    }
    st.command(AdminCommand::OpenRejoinWindow { duration_ms: secs * 1000 }).map_err(admin_err)?;
    Ok((200, st.rejoin_window_view()))
}

fn install_codes(st: &HubState) -> Res {
    let snap = st.store().snapshot().map_err(|e| error(503, e.to_string(), None))?;
    let tc = st.tc();
    let list: Vec<Value> = snap
        .install_codes
        .iter()
        .map(|(i, _)| {
            let joined = tc.device(*i).is_some_and(|d| !d.tombstoned);
            json!({"ieee": i.to_string(), "joined": joined})
        })
        .collect();
    Ok((200, json!({"install_codes": list})))
}

fn ic_error(e: InstallCodeError, field: &'static str) -> ApiError {
    let f = if matches!(e, InstallCodeError::BadIeee(_)) && field != "qr" { "ieee" } else { field };
    bad(e.to_string(), f)
}

fn add_install_code(st: &mut HubState, body: &Option<Value>) -> Res {
    let m = body_object(body)?;
    only_fields(&m, &["ieee", "install_code", "qr"])?;
    let given_ieee = opt_ieee(&m, "ieee")?;
    let (payload, field) = match (opt_str(&m, "qr")?, opt_str(&m, "install_code")?) {
        (Some(_), Some(_)) => {
            return Err(error(400, "send either \"qr\" or \"install_code\", not both", None))
        }
        (Some(q), None) => (InstallCodePayload::parse(q).map_err(|e| ic_error(e, "qr"))?, "qr"),
        (None, Some(c)) => {
            (InstallCodePayload::parse(c).map_err(|e| ic_error(e, "install_code"))?, "install_code")
        }
        (None, None) => {
            return Err(bad("missing \"install_code\" (with \"ieee\") or \"qr\"", "install_code"))
        }
    };
    let in_payload = payload.ieee.map(ExtAddr);
    let ieee = match (given_ieee, in_payload) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad(
                format!("\"ieee\" {a} differs from the address in the {field} payload ({b})"),
                "ieee",
            ))
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return Err(bad(
                format!("missing \"ieee\": this {field} carries no device address"),
                "ieee",
            ))
        }
    };
    let link_key = payload.code.link_key();
    st.command(AdminCommand::AddInstallCode { ieee, link_key }).map_err(admin_err)?;
    Ok((
        201,
        json!({"ieee": ieee.to_string(), "format": payload.format.name(), "code_bytes": payload.code.secret_len()}),
    ))
}

fn remove_install_code(st: &mut HubState, ieee_text: &str) -> Res {
    let ieee = parse_ieee(ieee_text)
        .ok_or_else(|| error(404, format!("\"{ieee_text}\" is not an IEEE address"), None))?;
    let snap = st.store().snapshot().map_err(|e| error(503, e.to_string(), None))?;
    if !snap.install_codes.iter().any(|(i, _)| *i == ieee) {
        return Err(error(404, format!("no install code stored for {ieee}"), None));
    }
    st.command(AdminCommand::RemoveInstallCode { ieee }).map_err(admin_err)?;
    Ok((200, json!({"removed": ieee.to_string()})))
}

fn set_policy(st: &mut HubState, body: &Option<Value>) -> Res {
    let m = body_object(body)?;
    only_fields(
        &m,
        &[
            "legacy_join",
            "insecure_rejoin",
            "spoof_response",
            "rotate_after_legacy_window",
            "rotate_after_removal",
        ],
    )?;
    let mut p = st.tc().policy().clone();
    if let Some(v) = opt_str(&m, "legacy_join")? {
        p.legacy_join = match v {
            "allowed-while-permit-join" | "legacy-allowed-while-permit-join" => LegacyJoinPolicy::AllowedWhilePermitJoin,
            "install-code-required" => LegacyJoinPolicy::InstallCodeRequired,
            _ => return Err(bad(format!("legacy_join \"{v}\": expected allowed-while-permit-join or install-code-required"), "legacy_join")),
        };
    }
    if let Some(v) = opt_str(&m, "insecure_rejoin")? {
        p.insecure_rejoin = match v {
            "allow" => InsecureRejoinPolicy::AllowLeakingKey,
            "deny" => InsecureRejoinPolicy::Deny,
            "adaptive" => InsecureRejoinPolicy::Adaptive,
            _ => {
                return Err(bad(
                    format!("insecure_rejoin \"{v}\": expected allow, deny or adaptive"),
                    "insecure_rejoin",
                ))
            }
        };
    }
    if let Some(v) = opt_str(&m, "spoof_response")? {
        p.spoof_response = match v {
            "deny" => SpoofResponse::Deny,
            "ignore" => SpoofResponse::Ignore,
            _ => {
                return Err(bad(
                    format!("spoof_response \"{v}\": expected deny or ignore"),
                    "spoof_response",
                ))
            }
        };
    }
    match m.get("rotate_after_legacy_window") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => p.rotate_after_legacy_window = *b,
        Some(_) => {
            return Err(bad(
                "rotate_after_legacy_window must be true or false",
                "rotate_after_legacy_window",
            ))
        }
    }
    if let Some(v) = opt_str(&m, "rotate_after_removal")? {
        p.rotate_after_removal = match v {
            "never" => zigtrust_tc::model::RemovalRotation::Never,
            "routers" => zigtrust_tc::model::RemovalRotation::Routers,
            "always" => zigtrust_tc::model::RemovalRotation::Always,
            _ => {
                return Err(bad(
                    format!("rotate_after_removal \"{v}\": expected never, routers or always"),
                    "rotate_after_removal",
                ))
            }
        };
    }
    st.command(AdminCommand::SetPolicy(p)).map_err(admin_err)?;
    Ok((200, policy_view(st.tc().policy())))
}

fn rotate(st: &mut HubState, body: &Option<Value>) -> Res {
    let m = body_object(body)?;
    only_fields(&m, &["deadline_s"])?;
    let deadline_s = opt_u64(&m, "deadline_s")?.unwrap_or(60);
    if !(5..=86_400).contains(&deadline_s) {
        return Err(bad("deadline_s must be 5-86400 seconds", "deadline_s"));
    }
    let tc = st.tc();
    if tc.rotation_pending().is_some() {
        return Err(error(409, "a key rotation is already in progress", None));
    }
    let from = tc.active_key_seq();
    let devices: Vec<ExtAddr> = tc.devices().filter(|d| !d.tombstoned).map(|d| d.ieee).collect();
    let now = now_ms();
    st.command(AdminCommand::RotateNetworkKey { deadline_ms: deadline_s * 1000 })
        .map_err(admin_err)?;
    let to = st.tc().rotation_pending().map_or(from.wrapping_add(1), |(s, _)| s);
    st.rotation = Some(Rotation {
        from,
        to,
        started: now,
        deadline: now + deadline_s * 1000,
        devices,
        switched: None,
    });
    Ok((202, st.rotation_view()))
}

fn alerts(st: &HubState, query: &str) -> Res {
    let limit = query_u64(query, "limit")?.unwrap_or(100).clamp(1, 1000) as usize;
    let store = st.store();
    let mut out = Vec::new();
    let mut before = None;
    // Alerts are the warning/alert lines of the audit log; scan at most 20 pages back.
    for _ in 0..20 {
        let page = store.audit_log(500, before).map_err(|e| error(503, e.to_string(), None))?;
        let Some((last, _)) = page.last() else { break };
        before = Some(*last);
        out.extend(
            page.iter()
                .filter(|(_, e)| e.severity >= Severity::Warning)
                .map(|(id, e)| audit_view(*id, e)),
        );
        if out.len() >= limit {
            break;
        }
    }
    out.truncate(limit);
    Ok((200, json!({"alerts": out})))
}

fn audit_log(st: &HubState, query: &str) -> Res {
    let limit = query_u64(query, "limit")?.unwrap_or(100).clamp(1, 1000) as usize;
    let before = query_u64(query, "before")?.map(|b| b.min(i64::MAX as u64) as i64);
    let page = st.store().audit_log(limit, before).map_err(|e| error(503, e.to_string(), None))?;
    let entries: Vec<Value> = page.iter().map(|(id, e)| audit_view(*id, e)).collect();
    Ok((200, json!({"entries": entries})))
}

/// `GET /api/backup`: the Open ZigBee Coordinator Backup, as an attachment.
pub fn backup_response(st: &HubState) -> Response {
    let snap = match st.store().snapshot() {
        Ok(s) => s,
        Err(e) => return error_response(&error(503, e.to_string(), None)),
    };
    match backup::export(&snap, now_ms(), env!("CARGO_PKG_VERSION")) {
        Ok(v) => Response::new(
            200,
            "application/json",
            serde_json::to_string_pretty(&v).unwrap_or_default(),
        )
        .header("Cache-Control", "no-store")
        .header("Content-Disposition", "attachment; filename=\"zigtrust-backup.json\""),
        Err(e) => error_response(&error(409, e.to_string(), None)),
    }
}

fn attacker(st: &mut HubState, body: &Option<Value>) -> Res {
    let m = body_object(body)?;
    only_fields(&m, &["enabled"])?;
    let on = match m.get("enabled") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(bad("\"enabled\" must be true or false", "enabled")),
    };
    let home = st.home_mut().ok_or_else(no_sim)?;
    home.set_attacker(on);
    st.save_home(true);
    st.touch();
    Ok((200, st.sim_view().unwrap_or(Value::Null)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::RefCell;

    thread_local! {
        static HUB: RefCell<HubState> = RefCell::new(super::super::in_memory_hub().unwrap());
    }

    const FIELDS: &[&str] = &[
        "ieee",
        "install_code",
        "qr",
        "duration_s",
        "deadline_s",
        "legacy_join",
        "insecure_rejoin",
        "spoof_response",
        "rotate_after_legacy_window",
        "rotate_after_removal",
        "enabled",
        "x",
    ];

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (0u64..400).prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "[ -~]{0,40}".prop_map(Value::from),
            "[0-9A-Fa-f: ]{0,48}".prop_map(Value::from),
            prop::sample::select(vec![
                "allow",
                "deny",
                "adaptive",
                "install-code-required",
                "ignore"
            ])
            .prop_map(Value::from),
            Just(Value::from("Z:000D6F0000000001$I:83FED3407A939723A5C639B26916D505C3B5")),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop::collection::vec(inner, 0..4).prop_map(Value::Array)
        })
    }

    fn body() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            value().prop_map(Some),
            prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), value(), 0..4)
                .prop_map(|m| Some(Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                ))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Any request to any resource answers a JSON object with a sane status — an error
        /// message on 4xx/5xx — and never panics the hub.
        #[test]
        fn arbitrary_requests_answer_json_and_never_panic(
            method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
            path in prop::sample::select(vec![
                "network", "devices", "devices/00:12:4b:00:00:00:00:01", "devices/zz", "permit-join", "rejoin-window",
                "install-codes", "install-codes/000d6f0000000001", "policy", "network-key/rotate",
                "alerts", "audit-log", "sim", "sim/attacker", "nope", "", "devices/",
            ]),
            query in "(limit=[0-9a-z-]{0,6}&?)?(before=[0-9a-z-]{0,6})?",
            body in body(),
        ) {
            HUB.with(|h| {
                let mut st = h.borrow_mut();
                let r = handle(&mut st, method, path, &query, body);
                st.step();
                let v: Value = serde_json::from_slice(&r.body).unwrap();
                prop_assert!(v.is_object() || (r.status == 200 && v.is_null()), "{} {path}: {v}", r.status);
                prop_assert!([200, 201, 202, 400, 404, 405, 409].contains(&r.status), "{} {path}: {v}", r.status);
                if r.status >= 400 {
                    prop_assert!(v["error"].is_string(), "{v}");
                }
                Ok(())
            })?;
        }
    }
}
