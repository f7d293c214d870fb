//! High-level secure/unsecure operations on real sniffed frames (zigbee-on-host test data, as
//! decrypted and MIC-verified in ../shared/zigbee-notes.md §5.6) and round trips through our own
//! emitters.

use zigtrust_crypto::{decode_hex_loose, hex, Key, SecurityLevel};
use zigtrust_wire::aps::{ApsCommand, ApsHeader, KeyType, TransportKey};
use zigtrust_wire::nwk::{NwkFrameType, NwkHeader};
use zigtrust_wire::security::{
    secure_aps, secure_nwk, unsecure_aps, unsecure_nwk, AuxHeader, KeyId, ZIGBEE_PRO_LEVEL,
};
use zigtrust_wire::{Error, ExtAddr, ShortAddr};

fn h(s: &str) -> Vec<u8> {
    decode_hex_loose(s).unwrap()
}

const Z2M_NWK_KEY: &str = "01030507090b0d0f00020406080a0c0d";

// §5.6(a): NWK-secured APS ack from a device; the MAC header is 9 bytes.
#[test]
fn unsecure_real_nwk_frame() {
    let psdu =
        h("6188bf621a0000ba9648020000ba961e9728ed82b30273b9a4feff504b8000249091d59cff06da74295ed5");
    let key = Key::from_hex(Z2M_NWK_KEY).unwrap();
    let u = unsecure_nwk(&psdu[9..], &key, ZIGBEE_PRO_LEVEL, None).unwrap();
    assert_eq!(hex(&u.payload), "020100ef04010133");
    assert_eq!(u.aux.frame_counter, 45318893);
    assert_eq!(u.aux.source, Some("80:4b:50:ff:fe:a4:b9:73".parse().unwrap()));
    assert_eq!((u.header.src, u.header.dst), (ShortAddr(0x96ba), ShortAddr(0)));
    let wrong = Key::from_bytes([0; 16]);
    assert_eq!(
        unsecure_nwk(&psdu[9..], &wrong, ZIGBEE_PRO_LEVEL, None).unwrap_err(),
        Error::MicMismatch
    );
    // Re-securing the plaintext with the same header and aux header gives the same bytes.
    let again = secure_nwk(&u.header, &u.aux, &u.payload, &key, ZIGBEE_PRO_LEVEL).unwrap();
    assert_eq!(again, &psdu[9..]);
}

// §5.6(b): Transport-Key of the network key under the key-transport key of ZigBeeAlliance09,
// NWK unsecured (the NWK header is 8 bytes after the 9-byte MAC header).
#[test]
fn unsecure_real_transport_key() {
    let psdu = h("6188bd641a8fa1000008008fa100001ea1216a3006500100f99905feff504b80de473c64b569cac62c72ac2ffd682f57590baa2b6f1e0306f824a5a90358b26c8e68e6e8a75aff");
    let aps = &psdu[17..];
    let u = unsecure_aps(aps, &Key::well_known_tc_link_key(), ZIGBEE_PRO_LEVEL, None).unwrap();
    assert_eq!(u.aux.key_id, KeyId::KeyTransport);
    match ApsCommand::parse(&u.payload).unwrap() {
        ApsCommand::TransportKey(tk) => {
            assert_eq!(tk.key_type, KeyType::StandardNetworkKey);
            assert_eq!(tk.key.to_hex(), Z2M_NWK_KEY);
            assert_eq!(tk.dst(), Some("a4:c1:38:6d:9b:28:0f:df".parse().unwrap()));
        }
        other => panic!("{other:?}"),
    }
    let ic_key = Key::from_hex("66B6900981E1EE3CA4206B6B861C02BB").unwrap();
    assert_eq!(unsecure_aps(aps, &ic_key, ZIGBEE_PRO_LEVEL, None).unwrap_err(), Error::MicMismatch);
}

// Our own emitters: NWK security with every MIC level, APS security with every key id; the
// APS frame without an extended nonce needs the NWK source's IEEE.
#[test]
fn secure_unsecure_round_trips() {
    let nwk_key = Key::from_bytes([0x42; 16]);
    let link = Key::well_known_tc_link_key();
    let dev = ExtAddr(0x0012_4b00_0102_0304);
    let hdr = NwkHeader::new(NwkFrameType::Data, ShortAddr(0), ShortAddr(0x1234), 30, 7);
    for level in SecurityLevel::ALL.into_iter().filter(|l| l.mic_len() > 0) {
        let f = secure_nwk(&hdr, &AuxHeader::nwk(99, dev, 3), b"payload", &nwk_key, level).unwrap();
        let u = unsecure_nwk(&f, &nwk_key, level, None).unwrap();
        assert_eq!(u.payload, b"payload");
        assert_eq!(u.aux.key_seq, Some(3));
        assert!(unsecure_nwk(&f, &link, level, None).is_err());
    }
    let tk = ApsCommand::TransportKey(TransportKey::network(nwk_key.clone(), 0, dev, ExtAddr(1)));
    let mut body = Vec::new();
    tk.emit(&mut body);
    for key_id in [KeyId::Data, KeyId::KeyTransport, KeyId::KeyLoad] {
        for ext in [true, false] {
            let aux = AuxHeader::aps(key_id, 5, ext.then_some(dev));
            let f = secure_aps(
                &ApsHeader::command(1, true),
                &aux,
                &body,
                &link,
                ZIGBEE_PRO_LEVEL,
                Some(dev),
            )
            .unwrap();
            let src = if ext { None } else { Some(dev) };
            let u = unsecure_aps(&f, &link, ZIGBEE_PRO_LEVEL, src).unwrap();
            assert_eq!(u.payload, body, "{key_id:?} ext {ext}");
            if !ext {
                assert_eq!(
                    unsecure_aps(&f, &link, ZIGBEE_PRO_LEVEL, None).unwrap_err(),
                    Error::NoSourceAddress
                );
            }
        }
    }
}
