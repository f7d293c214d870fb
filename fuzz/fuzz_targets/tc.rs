//! The Trust Center core on arbitrary frames and admin actions: never panics. The first byte of
//! each chunk picks an action (frame, time step, permit join, policy, rotation).
#![no_main]
use libfuzzer_sys::fuzz_target;
use zigtrust_tc::model::{InsecureRejoinPolicy, Policy, Snapshot};
use zigtrust_tc::{AdminCommand, RxMeta, TrustCenter};
use zigtrust_wire::PanId;

fuzz_target!(|data: &[u8]| {
    let mut tc = TrustCenter::new(Snapshot::default(), [1; 32], 0);
    let _ = tc.command(0, AdminCommand::FormNetwork { pan_id: PanId(0x1a62), extended_pan_id: 1, channel: 15 });
    let mut store = zigtrust_tc::MemStore::default();
    let mut now = 0u64;
    for chunk in data.split(|b| *b == 0x7e) {
        let Some((&op, rest)) = chunk.split_first() else { continue };
        now += 1 + (op as u64 % 8) * 1000;
        match op % 8 {
            0 => {
                let _ = tc.command(now, AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None });
            }
            1 => {
                let p = Policy { insecure_rejoin: InsecureRejoinPolicy::AllowLeakingKey, ..Policy::default() };
                let _ = tc.command(now, AdminCommand::SetPolicy(p));
            }
            2 => {
                let _ = tc.command(now, AdminCommand::RotateNetworkKey { deadline_ms: 5_000 });
            }
            3 => tc.handle_timeout(now),
            _ => tc.handle_frame(now, rest, RxMeta::default()),
        }
        let _ = tc.take_batch().commit(&mut store);
    }
});
