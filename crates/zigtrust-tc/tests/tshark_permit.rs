//! Oracle test: the permit-join announcements the hub sends with the core's broadcast API —
//! Mgmt_Permit_Joining_req to all routers when the window opens and closes, and to a router that
//! joined during it — are read by tshark as NWK-secured ZDO requests with the duration and
//! TC_Significance we meant, with no malformed frame or expert error. Fails (never skips) when
//! tshark is missing.

mod common;

use common::*;
use zigtrust_tc::AdminCommand;
use zigtrust_testkit::tshark::Tshark;

#[test]
fn tshark_reads_the_permit_join_announcements() {
    let mut h = Harness::new();
    h.admin(AdminCommand::PermitJoin { duration_ms: 60_000, ieee: None });
    let mut router = Device::new(0x00124b00000a0001, None);
    let f = router.association_request();
    h.exchange(&mut router, f);
    assert!(router.active_seq.is_some(), "the router joined");
    // Told about the window once it can read it (5 s after its join).
    let told = h.advance(5_000);
    assert_eq!(sent_what(&told, "application"), 1, "{told:?}");
    h.admin(AdminCommand::PermitJoin { duration_ms: 0, ieee: None });

    h.tshark_check("permit-join");
    let pcap = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tc-permit-join.pcap");
    let key = h.tc().network_key(h.tc().active_key_seq()).unwrap().key.to_hex();
    let rows = Tshark::new().keys([key]).filter("zbee_zdp.duration").fields(
        &pcap,
        &[
            "wpan.dst16",
            "zbee_nwk.dst",
            "zbee_aps.zdp_cluster",
            "zbee_zdp.duration",
            "zbee_zdp.significance",
        ],
    );
    let got: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| {
            [
                "wpan.dst16",
                "zbee_nwk.dst",
                "zbee_aps.zdp_cluster",
                "zbee_zdp.duration",
                "zbee_zdp.significance",
            ]
            .iter()
            .map(|f| r[*f].as_str())
            .collect()
        })
        .collect();
    let short = format!("0x{:04x}", router.short.0);
    assert_eq!(
        got,
        [
            vec!["0xffff", "0xfffc", "0x0036", "60", "1"],
            vec![short.as_str(), short.as_str(), "0x0036", "54", "1"],
            vec!["0xffff", "0xfffc", "0x0036", "0", "1"],
        ],
        "open to all routers, the router that joined, closed"
    );
}
