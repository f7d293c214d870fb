//! Oracle test: the permit-join announcements the hub sends with the core's broadcast API —
//! Mgmt_Permit_Joining_req to all routers when the window opens and closes, and to the routers
//! that joined during it — are read by tshark as NWK-secured ZDO requests with the duration and
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
    // A router that says nothing after its join is told 5 s later, once it can read it …
    let mut quiet = Device::new(0x00124b00000a0001, None);
    let f = quiet.association_request();
    h.exchange(&mut quiet, f);
    assert!(quiet.active_seq.is_some(), "the router joined");
    assert_eq!(sent_what(&h.advance(4_900), "application"), 0, "not before");
    // … one that speaks under the network key at once.
    let mut talker = Device::new(0x00124b00000a0002, None);
    let f = talker.association_request();
    h.exchange(&mut talker, f);
    let f = talker.data();
    let told = h.rx(f);
    assert_eq!(sent_what(&told, "application"), 1, "told as soon as it spoke: {told:?}");
    let told = h.advance(100);
    assert_eq!(sent_what(&told, "application"), 1, "the quiet one, 5 s after its join");
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
    let (quiet, talker) = (format!("0x{:04x}", quiet.short.0), format!("0x{:04x}", talker.short.0));
    assert_eq!(
        got,
        [
            vec!["0xffff", "0xfffc", "0x0036", "60", "1"],
            vec![talker.as_str(), talker.as_str(), "0x0036", "55", "1"],
            vec![quiet.as_str(), quiet.as_str(), "0x0036", "54", "1"],
            vec!["0xffff", "0xfffc", "0x0036", "0", "1"],
        ],
        "open to all routers, the routers that joined (what the others have left), closed"
    );
}
