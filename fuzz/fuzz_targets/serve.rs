//! The hub daemon's request path: arbitrary requests (method, path and query, body, with or
//! without credentials) through the whole router — the guard, routing, typed bodies and the
//! handlers of one long-lived in-memory hub (state carries over between inputs, as in a
//! running daemon). Nothing may panic; every API answer is JSON. (The HTTP/1.1 parsing itself
//! is hyper's, fuzzed upstream.)
#![no_main]

use axum::body::Body;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Fixture {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    token: String,
}

thread_local! {
    static APP: Fixture = {
        let (app, token) = zigtrust::serve::in_memory_app().expect("in-memory hub");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Fixture { rt, app, token }
    };
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let (target, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(target) = std::str::from_utf8(target) else { return };
    APP.with(|f| {
        let mut req = axum::http::Request::builder()
            .method(METHODS[usize::from(sel) % METHODS.len()])
            .uri(format!("/api/{target}"))
            .header("host", "127.0.0.1:8080");
        if sel & 0x80 == 0 {
            req = req.header("authorization", format!("Bearer {}", f.token));
        }
        let Ok(req) = req.body(Body::from(body.to_vec())) else { return };
        f.rt.block_on(async {
            let r = f.app.clone().oneshot(req).await.unwrap();
            let bytes = axum::body::to_bytes(r.into_body(), 1 << 24).await.unwrap();
            if !bytes.is_empty() && !target.starts_with("events") && !target.starts_with("backup") {
                assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
            }
        });
    });
});
