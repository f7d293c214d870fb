//! `TrustCenter::send_broadcast`: an application frame to a NWK broadcast address, NWK-secured
//! under the active key with the core's one NWK counter (leased before use), as a MAC broadcast.

use zigtrust_crypto::CcmStar;
use zigtrust_tc::model::{CounterKind, Snapshot};
use zigtrust_tc::{AdminCommand, MemStore, TrustCenter};
use zigtrust_wire::mac::{Address, MacBody, MacFrame};
use zigtrust_wire::nwk::NwkHeader;
use zigtrust_wire::security::{open, AuxHeader, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::{PanId, ShortAddr};

const APS: [u8; 11] = [0x08, 0x00, 0x36, 0x00, 0x00, 0x00, 0x00, 0x07, 0x01, 0x3c, 0x01];

#[test]
fn broadcasts_go_to_broadcast_addresses_only_secured_under_the_active_key() {
    let mut store = MemStore::default();
    let mut tc = TrustCenter::new(Snapshot::default(), [9; 32], 1_000);
    assert!(!tc.send_broadcast(1_000, ShortAddr::ROUTERS, &APS), "no network yet");
    let form = AdminCommand::FormNetwork {
        pan_id: PanId(0x1a62),
        extended_pan_id: 0xdddd_0000_0000_0001,
        channel: 15,
    };
    tc.command(1_000, form).unwrap();
    tc.take_batch().commit(&mut store).unwrap();
    for not_broadcast in [ShortAddr::COORDINATOR, ShortAddr(0x1234), ShortAddr(0xfffa)] {
        assert!(!tc.send_broadcast(2_000, not_broadcast, &APS), "{not_broadcast}");
    }
    assert!(!tc.send_broadcast(2_000, ShortAddr::ROUTERS, &[]), "an empty frame");
    assert!(tc.take_batch().commit(&mut store).unwrap().transmits.is_empty());

    let mut counters = Vec::new();
    for dst in [ShortAddr::ROUTERS, ShortAddr::RX_ON_WHEN_IDLE, ShortAddr::BROADCAST] {
        assert!(tc.send_broadcast(3_000, dst, &APS));
        let out = tc.take_batch().commit(&mut store).unwrap().transmits;
        assert_eq!(out.len(), 1);
        assert!(!out[0].indirect, "the radio does not queue broadcasts");
        let mac = MacFrame::parse(&out[0].psdu).unwrap();
        assert_eq!(mac.header.dst_addr, Address::Short(ShortAddr::BROADCAST));
        assert!(!mac.header.ack_request, "MAC broadcasts are not acknowledged");
        let MacBody::Data(nwk) = mac.body else { panic!("{mac:?}") };
        let (h, n) = NwkHeader::parse(nwk).unwrap();
        assert_eq!((h.dst, h.src, h.security), (dst, ShortAddr::COORDINATOR, true));
        assert_eq!(h.dst_ieee, None);
        let aux = AuxHeader::parse(&nwk[n..]).unwrap().0;
        assert_eq!(aux.key_seq, Some(tc.active_key_seq()));
        assert!(aux.frame_counter < store.lease(CounterKind::Nwk), "leased before use");
        counters.push(aux.frame_counter);
        let key = &tc.network_key(tc.active_key_seq()).unwrap().key;
        let o = open(&CcmStar::new(key), ZIGBEE_PRO_LEVEL, nwk, n, None).unwrap();
        assert_eq!(o.plaintext, APS);
    }
    assert!(counters.windows(2).all(|w| w[0] < w[1]), "one NWK counter: {counters:?}");
}
