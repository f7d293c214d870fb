//! docs/openapi.json is generated from the code (`ZIGTRUST_BLESS=1 cargo test -p zigtrust
//! --test openapi` rewrites it); a test keeps the committed copy equal to the generated one.
//! Conformance of that document with the running daemon: every documented GET answers a
//! documented status with the documented required fields, every documented operation refuses
//! anonymous callers as documented, and undocumented paths answer 404 with the Error shape.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

fn load_spec() -> Value {
    serde_json::from_str(&zigtrust::serve::api::openapi_json())
        .expect("the generated document is JSON")
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = zigtrust::serve::api::openapi_json() + "\n";
    if std::env::var_os("ZIGTRUST_BLESS").is_some() {
        std::fs::write(SPEC_PATH, &generated).unwrap();
    }
    let committed =
        std::fs::read_to_string(SPEC_PATH).unwrap_or_else(|e| panic!("{SPEC_PATH}: {e}"));
    assert!(
        committed == generated,
        "docs/openapi.json is not what the code generates: run ZIGTRUST_BLESS=1 cargo test -p zigtrust --test openapi"
    );
}

// ---- the daemon -----------------------------------------------------------------------------

mod common;
use common::daemon::{test_dir, Daemon};

fn start_daemon() -> Daemon {
    Daemon::start(&test_dir("openapi"), &[], None)
}

// ---- a tiny HTTP/1.1 client -----------------------------------------------------------------

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Headers,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

type Headers = Vec<(String, String)>;

/// Splits a raw answer at the end of its head: status, headers, where the body starts.
fn parse_head(raw: &[u8]) -> Option<(u16, Headers, usize)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).expect("UTF-8 head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    assert!(parts.next().unwrap().starts_with("HTTP/1."), "{status_line}");
    let status = parts.next().unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Some((status, headers, end + 4))
}

fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(25))).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).unwrap();
    s
}

fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let r = zigtrust_testkit::http::Client::new(addr, None)
        .request_with(method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    Resp { status: r.status, headers: r.headers, body: r.body }
}

/// `GET /api/events`: the head and the first event (its `event:` name and `data:`), then hangs up.
fn first_event(port: u16, auth: &str) -> (Resp, String, String) {
    let mut s = send(port, "GET", "/api/events", &[("Authorization", auth)], None);
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some((status, headers, start)) = parse_head(&raw) {
            let text = String::from_utf8_lossy(&raw[start..]).into_owned();
            if status != 200 {
                s.read_to_end(&mut raw).unwrap();
                let body = String::from_utf8_lossy(&raw[start..]).into_owned();
                return (Resp { status, headers, body }, String::new(), String::new());
            }
            if let Some(at) = text.find("event: ") {
                if let Some(len) = text[at..].find("\n\n") {
                    let block = &text[at..at + len];
                    let name = block.lines().next().unwrap()["event: ".len()..].to_string();
                    let data: Vec<&str> =
                        block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                    return (Resp { status, headers, body: text.clone() }, name, data.join("\n"));
                }
            }
        }
        let n = s.read(&mut buf).expect("reading the event stream");
        assert!(
            n > 0,
            "the event stream ended before its first event: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}

// ---- reading the spec -----------------------------------------------------------------------

/// Follows local `$ref`s (`#/…`).
fn resolve<'a>(spec: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..8 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else { return v };
        let ptr = r.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {r}"));
        v = spec.pointer(ptr).unwrap_or_else(|| panic!("dangling $ref {r}"));
    }
    panic!("$ref chain too long at {v}")
}

struct Op<'a> {
    path: &'a str,
    method: &'a str,
    op: &'a Value,
    params: Vec<&'a Value>,
}

fn operations(spec: &Value) -> Vec<Op<'_>> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let shared: Vec<&Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| resolve(spec, p))
            .collect();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let mut params = shared.clone();
            params.extend(
                op.get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|p| resolve(spec, p)),
            );
            out.push(Op { path, method, op, params });
        }
    }
    out
}

fn listed(op: &Value, status: u16) -> bool {
    let r = &op["responses"];
    let s = status.to_string();
    r.get(&s).is_some()
        || r.get(format!("{}XX", status / 100)).is_some()
        || r.get("default").is_some()
}

fn json_type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => false,
    }
}

/// Whether `v` has the (resolved) schema's type, as far as `type`/`const`/`properties` say.
fn type_matches(spec: &Value, schema: &Value, v: &Value) -> bool {
    let s = resolve(spec, schema);
    if let Some(c) = s.get("const") {
        return c == v;
    }
    match s.get("type") {
        Some(Value::String(t)) => json_type_ok(t, v),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(|t| json_type_ok(t, v)),
        _ if s.get("properties").is_some() || s.get("required").is_some() => v.is_object(),
        _ => true,
    }
}

/// Asserts every `required` property of the schema (through `$ref`, `allOf` and the matching
/// `oneOf`/`anyOf` alternative) is in `v`.
fn check_required(spec: &Value, schema: &Value, v: &Value, ctx: &str) {
    check_schema(spec, schema, v, ctx, true);
}

/// Every property of an object schema, its `allOf` parts' included.
fn properties_of<'a>(spec: &'a Value, schema: &'a Value, out: &mut serde_json::Map<String, Value>) {
    let s = resolve(spec, schema);
    if let Some(p) = s.get("properties").and_then(Value::as_object) {
        out.extend(p.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for sub in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        properties_of(spec, sub, out);
    }
}

/// `whole`: `v` is the whole value of this schema (not one `allOf` part of it), so a property
/// no part documents is an error.
fn check_schema(spec: &Value, schema: &Value, v: &Value, ctx: &str, whole: bool) {
    let s = resolve(spec, schema);
    for sub in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        check_schema(spec, sub, v, ctx, false);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            let alt = alts
                .iter()
                .find(|a| type_matches(spec, a, v))
                .unwrap_or_else(|| panic!("{ctx}: {v} matches no {key} alternative"));
            check_schema(spec, alt, v, ctx, whole);
        }
    }
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        let obj = v.as_object().unwrap_or_else(|| panic!("{ctx}: expected an object, got {v}"));
        for k in req.iter().filter_map(Value::as_str) {
            assert!(obj.contains_key(k), "{ctx}: required property {k:?} missing from {v}");
        }
    }
    // The schema is generated from the very types the daemon serializes: every property it
    // sends must be documented with its type, all the way down.
    assert!(type_matches(spec, s, v), "{ctx}: {v} is not of the documented type {s}");
    if let (true, Some(obj)) = (whole, v.as_object()) {
        let mut props = serde_json::Map::new();
        properties_of(spec, schema, &mut props);
        if !props.is_empty() {
            for (k, x) in obj {
                let p =
                    props.get(k).unwrap_or_else(|| panic!("{ctx}: undocumented property {k:?}"));
                check_schema(spec, p, x, &format!("{ctx}.{k}"), true);
            }
        }
    }
    if let (Some(items), Some(list)) = (s.get("items"), v.as_array()) {
        for (i, x) in list.iter().enumerate() {
            check_schema(spec, items, x, &format!("{ctx}[{i}]"), true);
        }
    }
}

fn check_error_shape(spec: &Value, r: &Resp, ctx: &str) {
    assert!(
        r.header("Content-Type").is_some_and(|c| c.starts_with("application/json")),
        "{ctx}: error answer is not JSON: {r:?}"
    );
    let v = r.json();
    check_required(spec, &spec["components"]["schemas"]["Error"], &v, ctx);
    assert!(v["error"].is_string(), "{ctx}: {v}");
    assert!(v.get("field").is_none_or(Value::is_string), "{ctx}: {v}");
    let extra: Vec<&String> =
        v.as_object().unwrap().keys().filter(|k| *k != "error" && *k != "field").collect();
    assert!(extra.is_empty(), "{ctx}: undocumented Error fields {extra:?}");
}

/// Whether the operation can be called without credentials (an empty security requirement).
fn is_public(spec: &Value, op: &Value) -> bool {
    let sec = op.get("security").unwrap_or(&spec["security"]);
    match sec.as_array() {
        None => true,
        Some(reqs) => {
            reqs.is_empty() || reqs.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty()))
        }
    }
}

fn json_schema_200(op: &Value) -> Option<&Value> {
    op["responses"].get("200")?.get("content")?.get("application/json")?.get("schema")
}

// ---- the test -------------------------------------------------------------------------------

#[test]
fn openapi_matches_the_daemon() {
    let t0 = Instant::now();
    let spec = load_spec();

    // 1. The document itself.
    let version = spec["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "not OpenAPI 3.1: {version}");
    let error = &spec["components"]["schemas"]["Error"];
    assert!(error.is_object(), "components/schemas/Error missing");
    assert!(error["required"].as_array().is_some_and(|r| r.contains(&"error".into())), "{error}");
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(
        (schemes["cookieAuth"]["in"].as_str(), schemes["cookieAuth"]["name"].as_str()),
        (Some("cookie"), Some("zt_session_PORT"))
    );
    assert_eq!(
        (schemes["csrfToken"]["in"].as_str(), schemes["csrfToken"]["name"].as_str()),
        (Some("header"), Some("X-CSRF-Token"))
    );
    let ops = operations(&spec);
    for must in ["/api/session", "/api/events", "/api/backup", "/api/devices/{ieee}"] {
        assert!(ops.iter().any(|o| o.path == must), "{must} is not documented");
    }

    // 2. The daemon.
    let d = start_daemon();
    let bearer = format!("Bearer {}", d.token);
    let auth: [(&str, &str); 1] = [("Authorization", &bearer)];

    // The simulated home pairs its starter devices in its first seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ieee = loop {
        let r = request(d.port, "GET", "/api/devices", &auth, None);
        assert_eq!(r.status, 200, "{r:?}");
        let v = r.json();
        let first =
            v["devices"].as_array().and_then(|l| l.iter().find(|x| x["removed"] == false).cloned());
        if let Some(dev) = first {
            break dev["ieee"].as_str().expect("device ieee").to_string();
        }
        assert!(Instant::now() < deadline, "no device paired within 30 s");
        std::thread::sleep(Duration::from_millis(500));
    };
    let concrete = |path: &str| path.replace("{ieee}", &ieee);

    // 3. Every documented GET, with the bearer token.
    let mut checked = 0;
    for o in ops.iter().filter(|o| o.method == "get") {
        let ctx = format!("GET {}", o.path);
        let required: Vec<&Value> =
            o.params.iter().copied().filter(|p| p["required"] == true).collect();
        let only_ieee = required.iter().all(|p| p["in"] == "path" && p["name"] == "ieee");
        if !only_ieee {
            continue;
        }
        let path = concrete(o.path);
        if o.path == "/api/events" {
            let (r, name, data) = first_event(d.port, &bearer);
            assert!(listed(o.op, r.status), "{ctx}: status {} not documented", r.status);
            assert_eq!(r.status, 200, "{ctx}: {r:?}");
            let content = &o.op["responses"]["200"]["content"];
            assert!(
                content.get("text/event-stream").is_some(),
                "{ctx}: 200 is not documented as text/event-stream"
            );
            assert!(
                r.header("Content-Type").is_some_and(|c| c.starts_with("text/event-stream")),
                "{ctx}: {r:?}"
            );
            assert_eq!(name, "state", "{ctx}: the first event");
            let state: Value = serde_json::from_str(&data)
                .unwrap_or_else(|e| panic!("{ctx}: data not JSON ({e}): {data}"));
            let schema = content["text/event-stream"]["x-sse-events"]["state"].clone();
            assert!(schema.is_object(), "{ctx}: the state event's schema is not documented");
            check_required(&spec, &schema, &state, &ctx);
            checked += 1;
            continue;
        }
        let r = request(d.port, "GET", &path, &auth, None);
        assert!(listed(o.op, r.status), "{ctx}: status {} not documented: {r:?}", r.status);
        if o.path.contains("{ieee}") {
            assert_eq!(r.status, 200, "{ctx} with {ieee}: {r:?}");
        }
        let is_json = r.header("Content-Type").is_some_and(|c| c.starts_with("application/json"));
        if r.status == 200 && is_json {
            if let Some(schema) = json_schema_200(o.op) {
                check_required(&spec, schema, &r.json(), &ctx);
            }
        }
        if r.status >= 400 {
            check_error_shape(&spec, &r, &ctx);
        }
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} GET operations checked");
    assert_eq!(
        request(d.port, "GET", "/api/backup", &auth, None).header("Content-Disposition"),
        Some("attachment; filename=\"zigtrust-backup.json\"")
    );

    // 4. Without credentials every documented operation answers 401, except the public ones.
    for o in &ops {
        let method = o.method.to_uppercase();
        let ctx = format!("{method} {} without credentials", o.path);
        let r = request(d.port, &method, &concrete(o.path), &[], None);
        assert!(listed(o.op, r.status), "{ctx}: status {} not documented: {r:?}", r.status);
        if !is_public(&spec, o.op) {
            assert_eq!(r.status, 401, "{ctx}: {r:?}");
            assert!(
                r.header("WWW-Authenticate").is_some_and(|h| h.starts_with("Bearer")),
                "{ctx}: {r:?}"
            );
            check_error_shape(&spec, &r, &ctx);
        } else if o.path == "/api/session" && o.method == "post" {
            assert_eq!(r.status, 400, "{ctx}: {r:?}");
            check_error_shape(&spec, &r, &ctx);
        } else {
            assert_ne!(r.status, 401, "{ctx}: documented as public: {r:?}");
        }
    }
    let wrong =
        request(d.port, "GET", "/api/network", &[("Authorization", "Bearer zt_wrong")], None);
    assert_eq!(wrong.status, 401, "{wrong:?}");
    check_error_shape(&spec, &wrong, "GET /api/network with a wrong token");

    // Undocumented paths.
    assert!(spec["paths"].get("/api/nope").is_none());
    let r = request(d.port, "GET", "/api/nope", &auth, None);
    assert_eq!(r.status, 404, "{r:?}");
    check_error_shape(&spec, &r, "GET /api/nope");
    let r = request(d.port, "GET", "/api/nope", &[], None);
    assert_eq!(r.status, 401, "authentication comes before routing: {r:?}");
    let r = request(d.port, "GET", "/nope", &[], None);
    assert_eq!(r.status, 404, "{r:?}");
    check_error_shape(&spec, &r, "GET /nope");
    let r = request(d.port, "PATCH", "/api/network", &auth, None);
    assert_eq!(r.status, 405, "{r:?}");
    check_error_shape(&spec, &r, "PATCH /api/network");

    // The cookie session and its CSRF header, as the security schemes describe them.
    let session = &spec["paths"]["/api/session"];
    let login = request(
        d.port,
        "POST",
        "/api/session",
        &[],
        Some(&format!("{{\"token\":\"{}\"}}", d.token)),
    );
    assert_eq!(login.status, 200, "{login:?}");
    check_required(
        &spec,
        json_schema_200(&session["post"]).unwrap(),
        &login.json(),
        "POST /api/session",
    );
    let csrf = login.json()["csrf"].as_str().unwrap().to_string();
    let set_cookie = login.header("Set-Cookie").expect("Set-Cookie").to_string();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    assert!(cookie.starts_with(&format!("zt_session_{}=", d.port)), "{set_cookie}");
    let with_cookie: [(&str, &str); 1] = [("Cookie", &cookie)];
    let with_csrf: [(&str, &str); 2] = [("Cookie", &cookie), ("X-CSRF-Token", &csrf)];
    let r = request(d.port, "GET", "/api/session", &with_cookie, None);
    assert_eq!(r.status, 401, "a cookie alone is no session: {r:?}");
    let r = request(d.port, "GET", "/api/session", &with_csrf, None);
    assert_eq!(r.status, 200, "{r:?}");
    check_required(&spec, json_schema_200(&session["get"]).unwrap(), &r.json(), "GET /api/session");
    let r = request(d.port, "GET", "/api/policy", &with_cookie, None);
    assert_eq!(r.status, 403, "cookie GET without X-CSRF-Token: {r:?}");
    assert!(listed(&spec["paths"]["/api/policy"]["get"], 403));
    check_error_shape(&spec, &r, "GET /api/policy without CSRF");
    let policy_put = &spec["paths"]["/api/policy"]["put"];
    let r = request(d.port, "PUT", "/api/policy", &with_cookie, Some("{}"));
    assert_eq!(r.status, 403, "cookie PUT without X-CSRF-Token: {r:?}");
    assert!(listed(policy_put, 403));
    check_error_shape(&spec, &r, "PUT /api/policy without CSRF");
    let r = request(
        d.port,
        "PUT",
        "/api/policy",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        Some("{}"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    check_required(&spec, json_schema_200(policy_put).unwrap(), &r.json(), "PUT /api/policy");
    let r = request(d.port, "DELETE", "/api/session", &with_cookie, None);
    assert_eq!(r.status, 200, "{r:?}");
    check_required(
        &spec,
        json_schema_200(&session["delete"]).unwrap(),
        &r.json(),
        "DELETE /api/session",
    );
    let r = request(d.port, "GET", "/api/session", &with_csrf, None);
    assert_eq!(r.status, 401, "the session ended: {r:?}");

    drop(d);
    assert!(t0.elapsed() < Duration::from_secs(60), "took {:?}", t0.elapsed());
}
