//! The `/api/` resources (docs/api.md; the OpenAPI document is generated from this file, see
//! [`ApiDoc`]). Request bodies are typed (unknown fields refused, the failing field's path in
//! the error); each handler runs on the hub thread and validates its whole input before it
//! changes anything, so a refused request leaves the Trust Center and the store as they were.

use super::state::{audit_view, now_ms, policy_view, HubState, Rotation};
use super::views::*;
use super::{App, BODY_TIMEOUT};
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{OpenApi, ToSchema};
use zigtrust_crypto::{InstallCodeError, InstallCodePayload};
use zigtrust_store::backup;
use zigtrust_tc::model::{
    InsecureRejoinPolicy, LegacyJoinPolicy, RemovalRotation, Severity, SpoofResponse,
};
use zigtrust_tc::{AdminCommand, AdminError};
use zigtrust_wire::ExtAddr;

/// The largest request body taken from an authenticated client.
pub const MAX_BODY: usize = 1024 * 1024;
/// The largest login body (read before the client is known).
pub const MAX_LOGIN_BODY: usize = 4 * 1024;

/// A refused request: status, message, and the request field at fault.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub field: Option<String>,
}

/// The JSON body of every 4xx/5xx answer.
#[derive(Debug, ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // a schema only: errors are built by `ApiError`
pub struct ErrorBody {
    /// What was wrong, for people.
    error: String,
    /// The request field at fault, when one was.
    field: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), field: None }
    }

    fn bad(message: impl Into<String>, field: &str) -> ApiError {
        ApiError { status: 400, message: message.into(), field: Some(field.to_string()) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut v = json!({"error": self.message});
        if let Some(f) = self.field {
            v["field"] = json!(f);
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (status, axum::Json(v)).into_response();
        if self.status == 401 {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"zigtrust\""),
            );
        }
        r
    }
}

type Res<T> = Result<(u16, T), ApiError>;

fn reply<T: Serialize>(r: Res<T>) -> Response {
    match r {
        Ok((status, v)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (status, axum::Json(v)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn admin_err(e: AdminError) -> ApiError {
    match e {
        AdminError::UnknownDevice(_) => ApiError::new(404, e.to_string()),
        AdminError::RotationInProgress => ApiError::new(409, e.to_string()),
        AdminError::NetworkNotFormed | AdminError::AlreadyFormed => {
            ApiError::new(409, e.to_string())
        }
        AdminError::InvalidChannel(_) => ApiError::new(400, e.to_string()),
    }
}

/// Parses an IEEE address: colon-separated display order or 16 hex digits, any separators.
pub fn parse_ieee(s: &str) -> Option<ExtAddr> {
    let bytes = zigtrust_crypto::decode_hex_loose(s.trim()).ok()?;
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(ExtAddr(u64::from_be_bytes(arr)))
}

// ---- typed request bodies -------------------------------------------------------------------

/// A JSON request body of type `T`, at most `LIMIT` bytes, read within [`BODY_TIMEOUT`] (the
/// guard has checked the client's credentials before any of it is read). An empty body is
/// `{}`; anything but an object, an unknown field or a bad value is a 400 naming the field.
pub struct ApiJson<T, const LIMIT: usize = MAX_BODY>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S> for ApiJson<T, LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > LIMIT as u64) {
            return Err(ApiError::new(
                413,
                format!("request body larger than {} KiB", LIMIT / 1024),
            ));
        }
        let read = axum::body::to_bytes(req.into_body(), LIMIT);
        let bytes = match tokio::time::timeout(BODY_TIMEOUT, read).await {
            Err(_) => {
                return Err(ApiError::new(
                    408,
                    format!("request body not received within {} s", BODY_TIMEOUT.as_secs()),
                ))
            }
            Ok(Err(e)) if e.to_string().contains("length limit") => {
                return Err(ApiError::new(
                    413,
                    format!("request body larger than {} KiB", LIMIT / 1024),
                ))
            }
            Ok(Err(_)) => return Err(ApiError::new(400, "request body cut short")),
            Ok(Ok(b)) => b,
        };
        parse_body(&bytes).map(ApiJson)
    }
}

/// Parses a request body as `T` (see [`ApiJson`]).
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let v: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::new(400, format!("malformed JSON body: {e}")))?
    };
    if !v.is_object() {
        return Err(ApiError::new(400, "the request body must be a JSON object"));
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        // serde names a missing field only in its message; the path is then the root.
        let field = if path != "." {
            Some(path)
        } else {
            msg.strip_prefix("missing field `").and_then(|r| r.split('`').next()).map(String::from)
        };
        ApiError { status: 400, message: msg, field }
    })
}

/// An IEEE address in a request body (any form [`parse_ieee`] reads).
#[derive(Debug, Clone, Copy)]
pub struct Ieee(pub ExtAddr);

impl<'de> Deserialize<'de> for Ieee {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ieee, D::Error> {
        let s = String::deserialize(d)?;
        parse_ieee(&s).map(Ieee).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "\"{s}\" is not an IEEE address (8 bytes as hex, e.g. 00:12:4b:00:01:02:03:04)"
            ))
        })
    }
}

/// `POST /api/permit-join`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermitJoinBody {
    /// 0-254 seconds (the Zigbee limit); 0 closes; default 180 (capped at 254).
    #[schema(minimum = 0, maximum = 254)]
    duration_s: Option<u64>,
    /// Admit only this device (its IEEE address).
    #[schema(value_type = Option<String>, example = "00:0d:6f:00:00:00:00:01")]
    ieee: Option<Ieee>,
}

/// `POST /api/rejoin-window`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejoinWindowBody {
    /// 0-600 seconds; 0 closes.
    #[schema(minimum = 0, maximum = 600)]
    duration_s: Option<u64>,
}

/// `POST /api/install-codes`: either `qr` (a label payload) or `install_code` (with `ieee`
/// unless the code's text carries it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallCodeBody {
    #[schema(value_type = Option<String>, example = "00:0d:6f:00:00:00:00:01")]
    ieee: Option<Ieee>,
    /// Hex, with or without separators, or any text form the install-code parser reads.
    #[schema(example = "83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5")]
    install_code: Option<String>,
    /// A QR or text label payload, e.g. `Z:000D6F0000000001$I:83FE…`.
    qr: Option<String>,
}

/// `legacy_join` values.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LegacyJoin {
    #[serde(alias = "legacy-allowed-while-permit-join")]
    AllowedWhilePermitJoin,
    InstallCodeRequired,
}

/// `insecure_rejoin` values.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InsecureRejoin {
    Allow,
    Deny,
    Adaptive,
}

/// `spoof_response` values.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SpoofAnswer {
    Deny,
    Ignore,
}

/// `rotate_after_removal` values.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RemovalAnswer {
    Never,
    Routers,
    Always,
}

/// `PUT /api/policy`: the fields to change; the others keep their values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    legacy_join: Option<LegacyJoin>,
    insecure_rejoin: Option<InsecureRejoin>,
    spoof_response: Option<SpoofAnswer>,
    rotate_after_legacy_window: Option<bool>,
    rotate_after_removal: Option<RemovalAnswer>,
}

/// `POST /api/network-key/rotate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// 5-86400 seconds until the switch; default 60.
    #[schema(minimum = 5, maximum = 86400)]
    deadline_s: Option<u64>,
}

/// `POST /api/sim/attacker`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttackerBody {
    enabled: bool,
}

/// `POST /api/session`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The admin token printed at first start.
    token: String,
}

// ---- handlers -------------------------------------------------------------------------------

/// Runs a read on the hub thread.
async fn read<T: Serialize + Send + 'static>(
    app: &App,
    f: impl FnOnce(&mut HubState) -> Res<T> + Send + 'static,
) -> Response {
    reply(app.hub.run(f).await.and_then(|r| r))
}

/// Runs a change on the hub thread. When the core took it but the store refused it, nothing
/// was sent and a restart would forget it: that is a 503, not a success.
async fn write<T: Serialize + Send + 'static>(
    app: &App,
    f: impl FnOnce(&mut HubState) -> Res<T> + Send + 'static,
) -> Response {
    let r = app.hub.run(move |st| {
        let r = f(st);
        match (r, st.store_error()) {
            (Ok(_), Some(e)) => {
                Err(ApiError::new(503, format!("the change could not be stored: {e}")))
            }
            (r, _) => r,
        }
    });
    reply(r.await.and_then(|r| r))
}

/// The network: keys and their exposure, the radio, windows, policy, rotation, alerts.
#[utoipa::path(get, path = "/api/network", tag = "network",
    responses((status = 200, description = "The network", body = NetworkView)))]
pub async fn network(State(app): State<App>) -> Response {
    read(&app, |st| Ok((200, st.network_view()))).await
}

/// Every device the Trust Center knows.
#[utoipa::path(get, path = "/api/devices", tag = "devices",
    responses((status = 200, description = "The devices", body = DeviceList)))]
pub async fn devices(State(app): State<App>) -> Response {
    read(&app, |st| Ok((200, DeviceList { devices: st.device_views() }))).await
}

fn device_of(st: &HubState, ieee_text: &str) -> Result<zigtrust_tc::model::DeviceRecord, ApiError> {
    let ieee = parse_ieee(ieee_text)
        .ok_or_else(|| ApiError::new(404, format!("\"{ieee_text}\" is not an IEEE address")))?;
    st.tc()
        .device(ieee)
        .cloned()
        .ok_or_else(|| ApiError::new(404, format!("unknown device {ieee}")))
}

/// One device.
#[utoipa::path(get, path = "/api/devices/{ieee}", tag = "devices",
    params(("ieee" = String, Path, description = "IEEE address")),
    responses((status = 200, description = "Device", body = DeviceView),
              (status = 404, description = "Unknown device", body = ErrorBody)))]
pub async fn device_get(State(app): State<App>, Path(ieee): Path<String>) -> Response {
    read(&app, move |st| device_of(st, &ieee).map(|rec| (200, st.device_view(&rec)))).await
}

/// Removes a device (and, by policy, rotates the key away from it).
#[utoipa::path(delete, path = "/api/devices/{ieee}", tag = "devices",
    params(("ieee" = String, Path, description = "IEEE address")),
    responses((status = 200, description = "Removed", body = Removed),
              (status = 404, description = "Unknown device", body = ErrorBody)))]
pub async fn device_delete(State(app): State<App>, Path(ieee): Path<String>) -> Response {
    write(&app, move |st| {
        let rec = device_of(st, &ieee)?;
        st.command(AdminCommand::RemoveDevice { ieee: rec.ieee }).map_err(admin_err)?;
        Ok((200, Removed { removed: rec.ieee.to_string() }))
    })
    .await
}

/// The permit-join window.
#[utoipa::path(get, path = "/api/permit-join", tag = "joining",
    responses((status = 200, description = "The window", body = PermitView)))]
pub async fn permit_get(State(app): State<App>) -> Response {
    read(&app, |st| Ok((200, st.permit_view()))).await
}

/// Opens (or with 0 closes) the permit-join window.
#[utoipa::path(post, path = "/api/permit-join", tag = "joining", request_body = PermitJoinBody,
    responses((status = 200, description = "The window", body = Object),
              (status = 400, description = "Bad value", body = ErrorBody)))]
pub async fn permit_set(State(app): State<App>, ApiJson(b): ApiJson<PermitJoinBody>) -> Response {
    write(&app, move |st| {
        let secs = b.duration_s.unwrap_or(180);
        if secs > 254 {
            return Err(ApiError::bad(
                "duration_s must be 0-254 seconds (Zigbee permit-join limit)",
                "duration_s",
            ));
        }
        let ieee = b.ieee.map(|i| i.0);
        st.command(AdminCommand::PermitJoin { duration_ms: secs * 1000, ieee })
            .map_err(admin_err)?;
        st.permit_ieee = if secs > 0 { ieee } else { None };
        st.touch();
        Ok((200, st.permit_view()))
    })
    .await
}

/// The user's rejoin window for legacy devices that lost the network key.
#[utoipa::path(get, path = "/api/rejoin-window", tag = "joining",
    responses((status = 200, description = "The window", body = RejoinWindowView)))]
pub async fn rejoin_get(State(app): State<App>) -> Response {
    read(&app, |st| Ok((200, st.rejoin_window_view()))).await
}

/// Opens a window in which legacy devices that lost their network key may rejoin with the
/// well-known key: their way back without a factory reset, at the price the window makes
/// explicit (the key goes out readable by any sniffer while it is open).
#[utoipa::path(post, path = "/api/rejoin-window", tag = "joining", request_body = RejoinWindowBody,
    responses((status = 200, description = "The window", body = Object),
              (status = 400, description = "Bad value", body = ErrorBody)))]
pub async fn rejoin_set(State(app): State<App>, ApiJson(b): ApiJson<RejoinWindowBody>) -> Response {
    write(&app, move |st| {
        let secs = b.duration_s.ok_or_else(|| {
            ApiError::bad("missing \"duration_s\" (0-600; 0 closes)", "duration_s")
        })?;
        if secs > 600 {
            return Err(ApiError::bad("duration_s must be 0-600 seconds", "duration_s"));
        }
        st.command(AdminCommand::OpenRejoinWindow { duration_ms: secs * 1000 })
            .map_err(admin_err)?;
        Ok((200, st.rejoin_window_view()))
    })
    .await
}

/// Stored install codes (never the codes themselves).
#[utoipa::path(get, path = "/api/install-codes", tag = "joining",
    responses((status = 200, description = "Stored codes", body = InstallCodeList)))]
pub async fn install_codes(State(app): State<App>) -> Response {
    read(&app, |st| {
        let snap = st.store().snapshot().map_err(|e| ApiError::new(503, e.to_string()))?;
        let tc = st.tc();
        let install_codes = snap
            .install_codes
            .iter()
            .map(|(i, _)| InstallCodeView {
                ieee: i.to_string(),
                joined: tc.device(*i).is_some_and(|d| !d.tombstoned),
            })
            .collect();
        Ok((200, InstallCodeList { install_codes }))
    })
    .await
}

fn ic_error(e: InstallCodeError, field: &str) -> ApiError {
    let f = if matches!(e, InstallCodeError::BadIeee(_)) && field != "qr" { "ieee" } else { field };
    ApiError::bad(e.to_string(), f)
}

/// Adds an install code (from a label's QR/text payload or typed with the IEEE address).
#[utoipa::path(post, path = "/api/install-codes", tag = "joining", request_body = InstallCodeBody,
    responses((status = 201, description = "Stored", body = InstallCodeAdded),
              (status = 400, description = "Bad code (CRC, length) or address", body = ErrorBody)))]
pub async fn install_code_add(
    State(app): State<App>,
    ApiJson(b): ApiJson<InstallCodeBody>,
) -> Response {
    write(&app, move |st| {
        let (payload, field) = match (&b.qr, &b.install_code) {
            (Some(_), Some(_)) => {
                return Err(ApiError::new(400, "send either \"qr\" or \"install_code\", not both"))
            }
            (Some(q), None) => (InstallCodePayload::parse(q).map_err(|e| ic_error(e, "qr"))?, "qr"),
            (None, Some(c)) => (
                InstallCodePayload::parse(c).map_err(|e| ic_error(e, "install_code"))?,
                "install_code",
            ),
            (None, None) => {
                return Err(ApiError::bad(
                    "missing \"install_code\" (with \"ieee\") or \"qr\"",
                    "install_code",
                ))
            }
        };
        let in_payload = payload.ieee.map(ExtAddr);
        let ieee = match (b.ieee.map(|i| i.0), in_payload) {
            (Some(a), Some(p)) if a != p => {
                return Err(ApiError::bad(
                    format!("\"ieee\" {a} differs from the address in the {field} payload ({p})"),
                    "ieee",
                ))
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => {
                return Err(ApiError::bad(
                    format!("missing \"ieee\": this {field} carries no device address"),
                    "ieee",
                ))
            }
        };
        let link_key = payload.code.link_key();
        st.command(AdminCommand::AddInstallCode { ieee, link_key }).map_err(admin_err)?;
        let v = InstallCodeAdded {
            ieee: ieee.to_string(),
            format: payload.format.name(),
            code_bytes: payload.code.secret_len(),
        };
        Ok((201, v))
    })
    .await
}

/// Forgets a stored install code.
#[utoipa::path(delete, path = "/api/install-codes/{ieee}", tag = "joining",
    params(("ieee" = String, Path, description = "IEEE address")),
    responses((status = 200, description = "Removed", body = Removed),
              (status = 404, description = "No code stored", body = ErrorBody)))]
pub async fn install_code_remove(
    State(app): State<App>,
    Path(ieee_text): Path<String>,
) -> Response {
    write(&app, move |st| {
        let ieee = parse_ieee(&ieee_text)
            .ok_or_else(|| ApiError::new(404, format!("\"{ieee_text}\" is not an IEEE address")))?;
        let snap = st.store().snapshot().map_err(|e| ApiError::new(503, e.to_string()))?;
        if !snap.install_codes.iter().any(|(i, _)| *i == ieee) {
            return Err(ApiError::new(404, format!("no install code stored for {ieee}")));
        }
        st.command(AdminCommand::RemoveInstallCode { ieee }).map_err(admin_err)?;
        Ok((200, Removed { removed: ieee.to_string() }))
    })
    .await
}

/// The security policy.
#[utoipa::path(get, path = "/api/policy", tag = "policy",
    responses((status = 200, description = "Policy", body = PolicyView)))]
pub async fn policy_get(State(app): State<App>) -> Response {
    read(&app, |st| Ok((200, policy_view(st.tc().policy())))).await
}

/// Changes the security policy (PUT and POST alike).
#[utoipa::path(put, path = "/api/policy", tag = "policy", request_body = PolicyBody,
    responses((status = 200, description = "Policy", body = PolicyView),
              (status = 400, description = "Bad value", body = ErrorBody)))]
pub async fn policy_set(State(app): State<App>, ApiJson(b): ApiJson<PolicyBody>) -> Response {
    write(&app, move |st| {
        let mut p = st.tc().policy().clone();
        if let Some(v) = b.legacy_join {
            p.legacy_join = match v {
                LegacyJoin::AllowedWhilePermitJoin => LegacyJoinPolicy::AllowedWhilePermitJoin,
                LegacyJoin::InstallCodeRequired => LegacyJoinPolicy::InstallCodeRequired,
            };
        }
        if let Some(v) = b.insecure_rejoin {
            p.insecure_rejoin = match v {
                InsecureRejoin::Allow => InsecureRejoinPolicy::AllowLeakingKey,
                InsecureRejoin::Deny => InsecureRejoinPolicy::Deny,
                InsecureRejoin::Adaptive => InsecureRejoinPolicy::Adaptive,
            };
        }
        if let Some(v) = b.spoof_response {
            p.spoof_response = match v {
                SpoofAnswer::Deny => SpoofResponse::Deny,
                SpoofAnswer::Ignore => SpoofResponse::Ignore,
            };
        }
        if let Some(v) = b.rotate_after_legacy_window {
            p.rotate_after_legacy_window = v;
        }
        if let Some(v) = b.rotate_after_removal {
            p.rotate_after_removal = match v {
                RemovalAnswer::Never => RemovalRotation::Never,
                RemovalAnswer::Routers => RemovalRotation::Routers,
                RemovalAnswer::Always => RemovalRotation::Always,
            };
        }
        st.command(AdminCommand::SetPolicy(p)).map_err(admin_err)?;
        Ok((200, policy_view(st.tc().policy())))
    })
    .await
}

/// The network-key rotation in progress, if any.
#[utoipa::path(get, path = "/api/network-key/rotate", tag = "network",
    responses((status = 200, description = "Rotation progress, or null", body = Option<RotationView>)))]
pub async fn rotate_get(State(app): State<App>) -> Response {
    read(&app, |st| Ok((200, st.rotation_view()))).await
}

/// Starts a network-key rotation.
#[utoipa::path(post, path = "/api/network-key/rotate", tag = "network", request_body = RotateBody,
    responses((status = 202, description = "Started: rotation progress", body = RotationView),
              (status = 409, description = "A rotation is already running", body = ErrorBody)))]
pub async fn rotate_start(State(app): State<App>, ApiJson(b): ApiJson<RotateBody>) -> Response {
    write(&app, move |st| {
        let deadline_s = b.deadline_s.unwrap_or(60);
        if !(5..=86_400).contains(&deadline_s) {
            return Err(ApiError::bad("deadline_s must be 5-86400 seconds", "deadline_s"));
        }
        let tc = st.tc();
        if tc.rotation_pending().is_some() {
            return Err(ApiError::new(409, "a key rotation is already in progress"));
        }
        let from = tc.active_key_seq();
        let devices: Vec<ExtAddr> =
            tc.devices().filter(|d| !d.tombstoned).map(|d| d.ieee).collect();
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
    })
    .await
}

fn query_u64(q: &Option<String>, name: &str) -> Result<Option<u64>, ApiError> {
    let q = q.as_deref().unwrap_or("");
    let v =
        q.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v);
    match v {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::new(400, format!("query parameter {name} must be a non-negative integer"))
        }),
    }
}

/// Alerts: the warning and alert lines of the audit log, newest first.
#[utoipa::path(get, path = "/api/alerts", tag = "audit",
    params(("limit" = Option<u64>, Query, description = "1-1000, default 100")),
    responses((status = 200, description = "Alerts", body = AlertList)))]
pub async fn alerts(State(app): State<App>, RawQuery(q): RawQuery) -> Response {
    read(&app, move |st| {
        let limit = query_u64(&q, "limit")?.unwrap_or(100).clamp(1, 1000) as usize;
        let store = st.store();
        let mut out = Vec::new();
        let mut before = None;
        // Scan at most 20 pages back.
        for _ in 0..20 {
            let page =
                store.audit_log(500, before).map_err(|e| ApiError::new(503, e.to_string()))?;
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
        Ok((200, AlertList { alerts: out }))
    })
    .await
}

/// The audit log, newest first, paged by id.
#[utoipa::path(get, path = "/api/audit-log", tag = "audit",
    params(("limit" = Option<u64>, Query, description = "1-1000, default 100"),
           ("before" = Option<u64>, Query, description = "only entries with a smaller id")),
    responses((status = 200, description = "Entries", body = AuditLog),
              (status = 400, description = "Bad query", body = ErrorBody)))]
pub async fn audit_log(State(app): State<App>, RawQuery(q): RawQuery) -> Response {
    read(&app, move |st| {
        let limit = query_u64(&q, "limit")?.unwrap_or(100).clamp(1, 1000) as usize;
        let before = query_u64(&q, "before")?.map(|b| b.min(i64::MAX as u64) as i64);
        let page =
            st.store().audit_log(limit, before).map_err(|e| ApiError::new(503, e.to_string()))?;
        let entries = page.iter().map(|(id, e)| audit_view(*id, e)).collect();
        Ok((200, AuditLog { entries }))
    })
    .await
}

/// The Open ZigBee Coordinator Backup, as an attachment.
#[utoipa::path(get, path = "/api/backup", tag = "network",
    responses((status = 200, description = "zigpy/open-coordinator-backup JSON", body = Object)))]
pub async fn backup(State(app): State<App>) -> Response {
    let r = app
        .hub
        .run(|st| {
            let snap = st.store().snapshot().map_err(|e| ApiError::new(503, e.to_string()))?;
            backup::export(&snap, now_ms(), env!("CARGO_PKG_VERSION"))
                .map_err(|e| ApiError::new(409, e.to_string()))
        })
        .await;
    match r.and_then(|r| r) {
        Ok(v) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"zigtrust-backup.json\""),
            ],
            serde_json::to_string_pretty(&v).unwrap_or_default(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn no_sim() -> ApiError {
    ApiError::new(404, "this daemon runs on a real radio (--radio zep:…), not the simulated home")
}

/// The simulated home (`--radio sim` only).
#[utoipa::path(get, path = "/api/sim", tag = "simulated home",
    responses((status = 200, description = "The simulated devices and attacker", body = SimView),
              (status = 404, description = "Not on the simulated home", body = ErrorBody)))]
pub async fn sim(State(app): State<App>) -> Response {
    read(&app, |st| st.sim_view().map(|v| (200, v)).ok_or_else(no_sim)).await
}

/// Switches the simulated attacker on or off.
#[utoipa::path(post, path = "/api/sim/attacker", tag = "simulated home", request_body = AttackerBody,
    responses((status = 200, description = "The simulated home", body = SimView),
              (status = 404, description = "Not on the simulated home", body = ErrorBody)))]
pub async fn sim_attacker(State(app): State<App>, ApiJson(b): ApiJson<AttackerBody>) -> Response {
    write(&app, move |st| {
        let home = st.home_mut().ok_or_else(no_sim)?;
        home.set_attacker(b.enabled);
        st.save_home(true);
        st.touch();
        st.sim_view().map(|v| (200, v)).ok_or_else(no_sim)
    })
    .await
}

/// Logs in: trades the admin token for a session cookie and its CSRF token.
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = LoginBody,
    responses((status = 200, description = "Logged in (and Set-Cookie)", body = SessionView),
              (status = 401, description = "Wrong token", body = ErrorBody)))]
pub async fn login(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    ApiJson(b): ApiJson<LoginBody, MAX_LOGIN_BODY>,
) -> Response {
    if let Err(e) = super::auth::check_origin(&headers) {
        return e.into_response();
    }
    match app.auth.login(&b.token).await {
        Ok((csrf, cookie)) => (
            [(header::SET_COOKIE, cookie)],
            axum::Json(SessionView { authenticated: true, csrf: Some(csrf) }),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Whether the request's session (cookie and `X-CSRF-Token`) or bearer token is valid.
#[utoipa::path(get, path = "/api/session", tag = "session",
    responses((status = 200, description = "Valid", body = SessionView),
              (status = 401, description = "No valid session", body = ErrorBody)))]
pub async fn session(State(app): State<App>, headers: axum::http::HeaderMap) -> Response {
    match app.auth.check(&headers).await {
        Ok(_) => axum::Json(SessionView { authenticated: true, csrf: None }).into_response(),
        Err(_) => super::auth::unauthorized("no valid session").into_response(),
    }
}

/// Logs out (always 200).
#[utoipa::path(delete, path = "/api/session", tag = "session",
    responses((status = 200, description = "Logged out", body = SessionView)))]
pub async fn logout(State(app): State<App>, headers: axum::http::HeaderMap) -> Response {
    let cookie = app.auth.logout(&headers);
    ([(header::SET_COOKIE, cookie)], axum::Json(SessionView { authenticated: false, csrf: None }))
        .into_response()
}

/// The OpenAPI document of this API, generated from the handlers above.
#[derive(OpenApi)]
#[openapi(
    info(title = "zigtrust serve", description = "The hub daemon's HTTP API: the Trust Center, its policy, keys and devices. See docs/api.md."),
    paths(
        network, devices, device_get, device_delete, permit_get, permit_set, rejoin_get,
        rejoin_set, install_codes, install_code_add, install_code_remove, policy_get, policy_set,
        rotate_get, rotate_start, alerts, audit_log, backup, sim, sim_attacker, login, session,
        logout, super::events
    ),
    components(schemas(ErrorBody, StateEvent, AuditEntryView)),
    modifiers(&Conventions)
)]
pub struct ApiDoc;

/// What every operation shares, added once instead of on each handler: the security schemes
/// (bearer token, or the session cookie with its CSRF header; the session endpoints are
/// public), the error answers each operation can give, and the events of the SSE stream.
struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "cookieAuth",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "zt_session_PORT",
                "set by POST /api/session; named after the daemon's port; never enough alone",
            ))),
        );
        c.add_security_scheme(
            "csrfToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "the csrf value of POST /api/session, on every cookie request",
            ))),
        );
        doc.security = Some(vec![
            SecurityRequirement::new("bearerAuth", Vec::<String>::new()),
            SecurityRequirement::new("cookieAuth", Vec::<String>::new())
                .add("csrfToken", Vec::<String>::new()),
        ]);
        let error = |what: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(what)
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build(),
                    )
                    .build(),
            )
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [("get", &mut item.get), ("put", &mut item.put), ("post", &mut item.post)];
            for (method, op) in ops.into_iter().chain([("delete", &mut item.delete)]) {
                let Some(op) = op.as_mut() else { continue };
                let r = &mut op.responses.responses;
                let mut add = |code: &str, what: &str| {
                    r.entry(code.to_string()).or_insert_with(|| error(what));
                };
                if path == "/api/session" && method != "get" {
                    // Logging in and out needs no credentials.
                    op.security = Some(vec![SecurityRequirement::default()]);
                    add("401", "Wrong token");
                } else {
                    add("401", "Not authenticated (no or wrong token, no session)");
                    add("403", "Session without its X-CSRF-Token, or a cross-origin request");
                    add("503", "The store is failing, or the hub did not answer in time");
                }
                add("400", "Missing Host header, or a bad request body or query");
                add("421", "A Host this daemon does not answer to");
                if op.request_body.is_some() {
                    add("408", "The request body did not arrive within 10 s");
                    add("413", "The request body is too large");
                }
                if path.contains("{ieee}") {
                    add("404", "Unknown device or unreadable IEEE address");
                }
            }
        }
        if let Some(get) = doc.paths.paths.get_mut("/api/events").and_then(|i| i.get.as_mut()) {
            if let Some(RefOr::T(ok)) = get.responses.responses.get_mut("200") {
                if let Some(content) = ok.content.get_mut("text/event-stream") {
                    let events = serde_json::json!({
                        "state": {"$ref": "#/components/schemas/StateEvent"},
                        "alert": {"$ref": "#/components/schemas/AuditEntryView"},
                    });
                    let ext = content.extensions.get_or_insert_with(Default::default);
                    ext.insert("x-sse-events".to_string(), events);
                }
            }
        }
    }
}

/// The OpenAPI document as JSON text.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use proptest::prelude::*;
    use tower::ServiceExt;

    struct Fixture {
        rt: tokio::runtime::Runtime,
        app: axum::Router,
        token: String,
    }

    thread_local! {
        static APP: Fixture = {
            let (app, token) = super::super::in_memory_app().unwrap();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            Fixture { rt, app, token }
        };
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
        /// Any authenticated request to any resource, through the whole router (guard,
        /// routing, typed bodies, hub thread), answers JSON with a sane status — an error
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
            APP.with(|f| {
                let uri = format!("/api/{path}?{query}");
                let req = axum::http::Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("host", "127.0.0.1:8080")
                    .header("authorization", format!("Bearer {}", f.token))
                    .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
                    .unwrap();
                let (status, bytes) = f.rt.block_on(async {
                    let r = f.app.clone().oneshot(req).await.unwrap();
                    let s = r.status().as_u16();
                    (s, axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap())
                });
                let v: Value = serde_json::from_slice(&bytes).unwrap();
                prop_assert!(v.is_object() || (status == 200 && v.is_null()), "{status} {path}: {v}");
                prop_assert!([200, 201, 202, 400, 404, 405, 409].contains(&status), "{status} {path}: {v}");
                if status >= 400 {
                    prop_assert!(v["error"].is_string(), "{v}");
                }
                Ok(())
            })?;
        }
    }

    #[test]
    fn body_errors_name_the_field_at_fault() {
        let e = parse_body::<PermitJoinBody>(br#"{"duration_s": -1}"#).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (400, Some("duration_s")), "{}", e.message);
        let e = parse_body::<PermitJoinBody>(br#"{"ieee": "00:0d:6f"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("ieee"));
        assert!(e.message.contains("not an IEEE address"), "{}", e.message);
        let e = parse_body::<AttackerBody>(b"{}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("enabled"), "{}", e.message);
        let e = parse_body::<RotateBody>(br#"{"deadline_s": 60, "extra": 1}"#).unwrap_err();
        assert!(e.message.contains("unknown field `extra`"), "{}", e.message);
        let e = parse_body::<PolicyBody>(br#"{"insecure_rejoin": "maybe"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("insecure_rejoin"));
        assert_eq!(parse_body::<RotateBody>(b"[1]").unwrap_err().status, 400);
        assert_eq!(parse_body::<RotateBody>(b"{").unwrap_err().status, 400);
        assert!(parse_body::<RotateBody>(b"  ").unwrap().deadline_s.is_none());
        let p = parse_body::<PolicyBody>(br#"{"legacy_join": "legacy-allowed-while-permit-join"}"#);
        assert!(matches!(p.unwrap().legacy_join, Some(LegacyJoin::AllowedWhilePermitJoin)));
    }
}
