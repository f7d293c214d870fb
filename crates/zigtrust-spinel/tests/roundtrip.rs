//! Property tests: `parse(emit(x)) == x` for packed integers, property values and whole
//! frames; HDLC-lite payloads survive any chunking of the stream; arbitrary bytes never
//! panic a parser, and whatever parses re-emits to something that parses the same.

use proptest::prelude::*;
use zigtrust_spinel::{
    hdlc, varint, Command, Error, Eui64, Frame, Header, PromiscuousMode, Prop, PropOp, PropValue,
    ResetType, RxFrame, RxMacData, RxPhyData, RxVendorData, Status, TransmitDone, TxMetadata,
    TxRequest, TxSecurity,
};

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![0u32..30, 100u32..130, any::<u32>()].prop_map(Status::from_code)
}

fn eui64() -> impl Strategy<Value = Eui64> {
    any::<[u8; 8]>().prop_map(Eui64)
}

fn psdu() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..130)
}

fn rx_frame() -> impl Strategy<Value = RxFrame> {
    (
        psdu(),
        any::<i8>(),
        any::<i8>(),
        any::<u16>(),
        (any::<u8>(), any::<u8>(), any::<u64>()),
        any::<u32>(),
        (any::<u8>(), any::<u32>()),
    )
        .prop_map(
            |(psdu, rssi, noise_floor, flags, (channel, lqi, timestamp_us), error, (k, c))| {
                RxFrame {
                    psdu,
                    rssi,
                    noise_floor,
                    flags,
                    phy: RxPhyData { channel, lqi, timestamp_us },
                    vendor: RxVendorData { error },
                    mac: RxMacData { ack_key_id: k, ack_frame_counter: c },
                }
            },
        )
}

fn tx_request() -> impl Strategy<Value = TxRequest> {
    (
        psdu(),
        (any::<u8>(), any::<u8>(), any::<u8>()),
        any::<[bool; 4]>(),
        (any::<u32>(), any::<u32>(), any::<u8>(), any::<i8>()),
    )
        .prop_map(|(psdu, (channel, backoffs, retries), b, (delay, base, rx_ch, power))| {
            TxRequest {
                psdu,
                meta: TxMetadata {
                    channel,
                    max_csma_backoffs: backoffs,
                    max_frame_retries: retries,
                    csma_ca_enabled: b[0],
                    header_updated: b[1],
                    is_retransmission: b[2],
                    security_processed: b[3],
                    tx_delay: delay,
                    tx_delay_base_time: base,
                    rx_channel_after_tx_done: rx_ch,
                    tx_power: power,
                },
            }
        })
}

fn transmit_done() -> impl Strategy<Value = TransmitDone> {
    (
        status(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(rx_frame()),
        prop::option::of((any::<u8>(), any::<u32>())),
    )
        .prop_map(|(status, frame_pending, header_updated, ack, sec)| TransmitDone {
            status,
            frame_pending,
            header_updated,
            ack,
            security: sec.map(|(key_id, frame_counter)| TxSecurity { key_id, frame_counter }),
        })
}

/// Values valid under every op.
fn common_value() -> impl Strategy<Value = PropValue> {
    prop_oneof![
        status().prop_map(PropValue::LastStatus),
        transmit_done().prop_map(PropValue::TransmitDone),
        (any::<u32>(), any::<u32>())
            .prop_map(|(major, minor)| PropValue::ProtocolVersion { major, minor }),
        "[^\u{0}]{0,40}".prop_map(PropValue::NcpVersion),
        any::<u32>().prop_map(PropValue::InterfaceType),
        prop::collection::vec(any::<u32>(), 0..8).prop_map(PropValue::Caps),
        eui64().prop_map(PropValue::HwAddr),
        any::<bool>().prop_map(PropValue::PhyEnabled),
        any::<u8>().prop_map(PropValue::PhyChan),
        eui64().prop_map(PropValue::MacLongAddr),
        any::<u16>().prop_map(PropValue::MacShortAddr),
        any::<u16>().prop_map(PropValue::MacPanId),
        any::<bool>().prop_map(PropValue::MacRawStreamEnabled),
        any::<u8>().prop_map(|v| PropValue::MacPromiscuousMode(PromiscuousMode::from_value(v))),
        any::<u32>().prop_map(PropValue::RcpApiVersion),
        any::<u32>().prop_map(PropValue::RadioCaps),
        any::<bool>().prop_map(PropValue::MacSrcMatchEnabled),
        (any::<u32>(), prop::collection::vec(any::<u8>(), 0..40)).prop_filter_map(
            "named property",
            |(prop, data)| {
                matches!(Prop::from_id(prop), Prop::Other(_))
                    .then_some(PropValue::Other { prop, data })
            }
        ),
    ]
}

fn op() -> impl Strategy<Value = PropOp> {
    prop::sample::select(PropOp::ALL.to_vec())
}

/// An op and a value that fits it.
fn op_and_value() -> impl Strategy<Value = (PropOp, PropValue)> {
    op().prop_flat_map(|op| {
        let entry =
            matches!(op, PropOp::Insert | PropOp::Remove | PropOp::Inserted | PropOp::Removed);
        let special: BoxedStrategy<PropValue> = match (op.is_from_host(), entry) {
            (true, true) => prop_oneof![
                tx_request().prop_map(PropValue::StreamRawTx),
                any::<u16>().prop_map(PropValue::MacSrcMatchShortEntry),
                eui64().prop_map(PropValue::MacSrcMatchExtendedEntry),
            ]
            .boxed(),
            (true, false) => prop_oneof![
                tx_request().prop_map(PropValue::StreamRawTx),
                prop::collection::vec(any::<u16>(), 0..10)
                    .prop_map(PropValue::MacSrcMatchShortAddresses),
                prop::collection::vec(eui64(), 0..5)
                    .prop_map(PropValue::MacSrcMatchExtendedAddresses),
            ]
            .boxed(),
            (false, true) => prop_oneof![
                rx_frame().prop_map(PropValue::StreamRawRx),
                any::<u16>().prop_map(PropValue::MacSrcMatchShortEntry),
                eui64().prop_map(PropValue::MacSrcMatchExtendedEntry),
            ]
            .boxed(),
            (false, false) => prop_oneof![
                rx_frame().prop_map(PropValue::StreamRawRx),
                prop::collection::vec(any::<u16>(), 0..10)
                    .prop_map(PropValue::MacSrcMatchShortAddresses),
                prop::collection::vec(eui64(), 0..5)
                    .prop_map(PropValue::MacSrcMatchExtendedAddresses),
            ]
            .boxed(),
        };
        (Just(op), prop_oneof![common_value(), special])
    })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        prop::option::of(any::<u8>().prop_map(ResetType::from_value)).prop_map(Command::Reset),
        any::<u32>().prop_map(|id| Command::PropValueGet(Prop::from_id(id))),
        op_and_value().prop_map(|(op, v)| Command::PropValue(op, v)),
        (any::<u32>(), prop::collection::vec(any::<u8>(), 0..20))
            .prop_filter("unnamed command", |(id, _)| *id == 0 || *id > 8)
            .prop_map(|(id, payload)| Command::Other { id, payload }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    (0u8..4, 0u8..16, command())
        .prop_map(|(iid, tid, command)| Frame { header: Header::new(iid, tid).unwrap(), command })
}

/// Cuts `bytes` into chunks at the given (sorted, deduplicated) points.
fn chunks(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
    cuts.iter_mut().for_each(|c| *c %= bytes.len() + 1);
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for c in cuts {
        out.push(&bytes[start..c]);
        start = c;
    }
    out.push(&bytes[start..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn varint_roundtrip(v in any::<u32>()) {
        let mut out = Vec::new();
        varint::encode(v, &mut out);
        prop_assert_eq!(out.len(), varint::len(v));
        prop_assert_eq!(varint::decode(&out), Ok((v, out.len())));
    }

    #[test]
    fn varint_decode_is_canonical(bytes in prop::collection::vec(any::<u8>(), 0..8)) {
        if let Ok((v, n)) = varint::decode(&bytes) {
            let mut out = Vec::new();
            varint::encode(v, &mut out);
            prop_assert_eq!(&out[..], &bytes[..n]);
        }
    }

    #[test]
    fn value_roundtrip((op, v) in op_and_value()) {
        prop_assert!(v.fits(op));
        let mut out = Vec::new();
        v.emit(&mut out);
        prop_assert_eq!(PropValue::parse(op, v.prop().id(), &out), Ok(v));
    }

    #[test]
    fn frame_roundtrip(f in frame()) {
        let bytes = f.to_vec();
        prop_assert_eq!(Frame::parse(&bytes), Ok(f.clone()));
        // And through HDLC-lite.
        let wire = hdlc::encode_to_vec(&bytes);
        prop_assert_eq!(hdlc::decode_one(&wire), Ok(bytes));
    }

    #[test]
    fn any_bytes_parse_or_error_and_reparse(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(f) = Frame::parse(&bytes) {
            prop_assert_eq!(Frame::parse(&f.to_vec()), Ok(f));
        }
    }

    #[test]
    fn any_value_bytes_parse_or_error_and_reparse(
        op in op(),
        prop in prop::sample::select(vec![0u32, 1, 2, 3, 5, 8, 0x20, 0x21, 0x34, 0x35, 0x36, 0x37, 0x38, 0x71, 0xb0, 0x120b, 0x1303, 0x1304, 0x1305, 0x802]),
        bytes in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        if let Ok(v) = PropValue::parse(op, prop, &bytes) {
            prop_assert!(v.fits(op));
            prop_assert_eq!(v.prop().id(), prop);
            let mut out = Vec::new();
            v.emit(&mut out);
            prop_assert_eq!(PropValue::parse(op, prop, &out), Ok(v));
        }
    }

    #[test]
    fn hdlc_any_payload_any_chunking(
        payloads in prop::collection::vec(
            prop::collection::vec(prop_oneof![any::<u8>(), prop::sample::select(hdlc::ESCAPED.to_vec())], 0..300),
            1..4,
        ),
        garbage in prop::collection::vec(any::<u8>().prop_filter("not a flag", |b| *b != hdlc::FLAG), 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut stream = garbage;
        for p in &payloads {
            hdlc::encode(p, &mut stream);
        }
        let mut d = hdlc::Decoder::new();
        let mut got = Vec::new();
        for chunk in chunks(&stream, cuts) {
            got.extend(d.feed(chunk));
        }
        let want: Vec<Result<Vec<u8>, Error>> = payloads.into_iter().map(Ok).collect();
        prop_assert_eq!(got, want);
        prop_assert!(!d.in_frame());
    }

    #[test]
    fn hdlc_encoding_has_no_raw_special_bytes(payload in prop::collection::vec(any::<u8>(), 0..200)) {
        let wire = hdlc::encode_to_vec(&payload);
        prop_assert_eq!(wire[0], hdlc::FLAG);
        prop_assert_eq!(wire[wire.len() - 1], hdlc::FLAG);
        // Between the flags: plain bytes outside the escape set, or 7D + (a member XOR 20).
        let inner = &wire[1..wire.len() - 1];
        let mut i = 0;
        while i < inner.len() {
            if inner[i] == hdlc::ESCAPE {
                prop_assert!(i + 1 < inner.len(), "dangling escape");
                prop_assert!(hdlc::needs_escape(inner[i + 1] ^ hdlc::ESCAPE_XOR));
                i += 2;
            } else {
                prop_assert!(!hdlc::needs_escape(inner[i]), "raw {:#04x} at {}", inner[i], i);
                i += 1;
            }
        }
    }

    #[test]
    fn hdlc_garbage_never_panics_and_frames_reencode(
        bytes in prop::collection::vec(prop_oneof![any::<u8>(), Just(hdlc::FLAG), Just(hdlc::ESCAPE)], 0..400),
        max in 0usize..64,
    ) {
        let mut d = hdlc::Decoder::with_max_len(max);
        for r in d.feed(&bytes) {
            match r {
                Ok(p) => {
                    prop_assert!(p.len() <= max);
                    prop_assert_eq!(hdlc::decode_one(&hdlc::encode_to_vec(&p)), Ok(p));
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }

    #[test]
    fn hdlc_single_corruption_is_detected(
        payload in prop::collection::vec(any::<u8>(), 1..100),
        pos in any::<usize>(),
        flip in 1u8..=255,
    ) {
        // Corrupt one payload byte but keep the original FCS: the decoder must report it.
        let fcs = hdlc::fcs(&payload);
        let mut bad = payload.clone();
        let i = pos % bad.len();
        bad[i] ^= flip;
        let mut wire = vec![hdlc::FLAG];
        for b in bad.iter().copied().chain(fcs.to_le_bytes()) {
            if hdlc::needs_escape(b) {
                wire.extend([hdlc::ESCAPE, b ^ hdlc::ESCAPE_XOR]);
            } else {
                wire.push(b);
            }
        }
        wire.push(hdlc::FLAG);
        let got = hdlc::decode_one(&wire);
        prop_assert!(matches!(got, Err(Error::BadFcs { received, .. }) if received == fcs), "{got:?}");
    }
}
