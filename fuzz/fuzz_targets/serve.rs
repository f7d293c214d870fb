//! The hub daemon's request path: arbitrary bytes through the HTTP/1.1 parser, and every
//! request it yields through the API handlers of one long-lived in-memory hub (state carries
//! over between inputs, as in a running daemon). Nothing may panic; every answer is JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use zigtrust::serve::state::HubState;
use zigtrust::serve::{api, http, in_memory_hub};

thread_local! {
    static HUB: RefCell<HubState> = RefCell::new(in_memory_hub().expect("in-memory hub"));
}

fuzz_target!(|data: &[u8]| {
    let mut r = std::io::Cursor::new(data);
    for _ in 0..4 {
        let Ok(Some(req)) = http::read_request(&mut r) else { return };
        let Some(path) = req.path.strip_prefix("/api/") else { continue };
        let body = serde_json::from_slice(&req.body).ok();
        HUB.with(|h| {
            let mut st = h.borrow_mut();
            let resp = api::handle(&mut st, &req.method, path, &req.query, body);
            assert!(serde_json::from_slice::<serde_json::Value>(&resp.body).is_ok());
        });
    }
});
