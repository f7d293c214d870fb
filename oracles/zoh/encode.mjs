#!/usr/bin/env node
// zigbee-on-host ENCODE oracle (TEST-ONLY; zigbee-on-host is GPL-3.0-or-later and runs here as a separate process).
//
// No input. Writes a deterministic set of JSON lines to stdout:
//   {"name": "...", "psdu": "<hex MAC frame WITHOUT FCS>", "network_keys": [...], "link_keys": [...],
//    "expect": {<decode.mjs / docs/decode-json.md schema, filled from the values passed to the encoders>}}
//
// Frames are built with zigbee-on-host's own encoders: mac.encodeMACFrameZigbee / mac.encodeMACFrame,
// nwk.encodeZigbeeNWKFrame, aps.encodeZigbeeAPSFrame (which call zigbee.encodeZigbeeSecurityHeader and
// zigbee.encryptZigbeePayload = its own CCM*; key ids 2/3 are hashed from the base link key by
// zigbee.makeKeyedHashByType inside the encoder). Command / ZDO / ZCL payload bytes (the part after the
// APS or NWK header) are assembled here with the layouts zigbee-on-host's senders use (aps-handler.js,
// nwk-handler.js send*), since zoh has no standalone command-payload encoder.
//
// FCS: both MAC encoders append a 2-byte CRC-16 (crc16CCITT, KERMIT variant) themselves; it is
// stripped here (psdu = frame without FCS), and the stripped value is checked to be the KERMIT CRC.
import { mac, nwk, aps, zb, hex16, hex8, ieee, ieeeToBig, keyHex, jsonLine, KEY_IDS } from "./lib.mjs";

// ---- fixed material ----
const NK = Buffer.from("01030507090b0d0f00020406080a0c0d", "hex"); // network key (Z2M default)
const TCLK = Buffer.from("5a6967426565416c6c69616e63653039", "hex"); // ZigBeeAlliance09
const ICK = Buffer.from("66b6900981e1ee3ca4206b6b861c02bb", "hex"); // install-code derived link key (notes §2)
const NEW_TCLK = Buffer.from("f0e1d2c3b4a5968778695a4b3c2d1e0f", "hex"); // a "unique" TCLK carried in Transport-Key
const NK2 = Buffer.from("00112233445566778899aabbccddeeff", "hex"); // next network key carried in Transport-Key
const WRONG = Buffer.from("ffeeddccbbaa99887766554433221100", "hex");

const PAN = 0x1a62;
const TC16 = 0x0000;
const TC64 = "00:12:4b:00:aa:bb:cc:dd";
const DEV16 = 0x1234;
const DEV64 = "00:12:4b:00:01:02:03:04";
const RTR16 = 0x5678;
const RTR64 = "00:12:4b:00:05:06:07:08";
const PARTNER64 = "00:12:4b:00:11:22:33:44";

const NWK_KEYS = [keyHex(NK)];
const LINK_KEYS = [keyHex(TCLK), keyHex(ICK)];

// ---- CRC-16/KERMIT (to check the FCS zoh appended before stripping it) ----
function kermit(buf) {
    let crc = 0;
    for (const b of buf) {
        crc ^= b;
        for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
    }
    return crc;
}
function stripFcs(frame) {
    const body = frame.subarray(0, frame.length - 2);
    const fcs = frame.readUInt16LE(frame.length - 2);
    if (fcs !== kermit(body)) throw new Error(`zoh FCS ${fcs.toString(16)} != KERMIT ${kermit(body).toString(16)}`);
    return Buffer.from(body);
}

// ---- builders: each returns [bytes, expectFragment] ----
let macSeq = 0x20;
function macData({ dst16, src16, ackReq = dst16 !== 0xffff, pending = false, pan = PAN }, payload) {
    const seq = macSeq++;
    const fcf = {
        frameType: 1, securityEnabled: false, framePending: pending, ackRequest: ackReq, panIdCompression: true,
        seqNumSuppress: false, iePresent: false, destAddrMode: 2, frameVersion: 0, sourceAddrMode: 2,
    };
    const f = mac.encodeMACFrameZigbee({ frameControl: fcf, sequenceNumber: seq, destinationPANId: pan, destination16: dst16, source16: src16, fcs: 0 }, payload);
    return [
        stripFcs(f),
        { type: "data", seq, dst_pan: hex16(pan), dst: hex16(dst16), src_pan: hex16(pan), src: hex16(src16), ack_request: ackReq, frame_pending: pending },
    ];
}

/** generic MAC frame through mac.encodeMACFrame (commands, beacon, ack) */
function macGeneric({ type, cmd, dstMode = 0, dst, dstPan, srcMode = 0, src, srcPan, panComp = false, ackReq = false, pending = false, extra = {} }, payload) {
    const seq = macSeq++;
    const fcf = {
        frameType: type, securityEnabled: false, framePending: pending, ackRequest: ackReq, panIdCompression: panComp,
        seqNumSuppress: false, iePresent: false, destAddrMode: dstMode, frameVersion: 0, sourceAddrMode: srcMode,
    };
    const hdr = {
        frameControl: fcf, sequenceNumber: seq, destinationPANId: dstPan,
        destination16: dstMode === 2 ? dst : undefined, destination64: dstMode === 3 ? ieeeToBig(dst) : undefined,
        sourcePANId: srcPan, source16: srcMode === 2 ? src : undefined, source64: srcMode === 3 ? ieeeToBig(src) : undefined,
        commandId: cmd, fcs: 0, ...extra,
    };
    const f = mac.encodeMACFrame(hdr, payload);
    const exp = {
        type: { 0: "beacon", 1: "data", 2: "ack", 3: "command" }[type],
        seq,
        dst_pan: dstMode ? hex16(dstPan) : undefined,
        dst: dstMode === 2 ? hex16(dst) : dstMode === 3 ? dst : undefined,
        src_pan: srcMode ? hex16(panComp ? dstPan : srcPan) : undefined,
        src: srcMode === 2 ? hex16(src) : srcMode === 3 ? src : undefined,
        ack_request: ackReq,
        frame_pending: pending,
        command_id: type === 3 ? cmd : undefined,
    };
    return [stripFcs(f), exp];
}

let nwkSeq = 0x40;
let nwkFc = 0x1000;
function nwkFrame({ type = 0, dst16, src16, radius = 30, discover = 1, dst64, src64, sec = true, keySeq = 0, secSrc64, relays, key = NK, eDI = false }, payload) {
    const seq = nwkSeq++;
    const fcf = {
        frameType: type, protocolVersion: 2, discoverRoute: discover, multicast: false, security: sec,
        sourceRoute: relays !== undefined, extendedDestination: dst64 !== undefined, extendedSource: src64 !== undefined, endDeviceInitiator: eDI,
    };
    const hdr = {
        frameControl: fcf, destination16: dst16, source16: src16, radius, seqNum: seq,
        destination64: dst64 !== undefined ? ieeeToBig(dst64) : undefined, source64: src64 !== undefined ? ieeeToBig(src64) : undefined,
        relayIndex: relays ? relays.length - 1 : undefined, relayAddresses: relays,
    };
    const exp = {
        type: type === 0 ? "data" : "command", dst: hex16(dst16), src: hex16(src16), radius, seq, dst64, src64,
    };
    let sh;
    if (sec) {
        const fc = nwkFc++;
        sh = { control: { level: 0, keyId: 1, nonce: true, reqVerifiedFc: false }, frameCounter: fc, source64: ieeeToBig(secSrc64), keySeqNum: keySeq, micLen: 4 };
        exp.security = { key_id: "network", frame_counter: fc, src64: secSrc64, key_seq: keySeq, mic: "ok", key: keyHex(key) };
    }
    if (type === 1) exp.command_id = payload[0];
    return [Buffer.from(nwk.encodeZigbeeNWKFrame(hdr, payload, sh, key)), exp];
}

let apsCounter = 0x60;
let apsFc = 0x2000;
/**
 * sec: undefined (APS unsecured) or {keyId 0|2|3, key (base link key), src64 (aux ext nonce) | undefined, mic, keyReported}
 */
function apsFrame({ type, delivery = 0, dstEp, srcEp, group, cluster, profile, ackReq = false, sec }, payload) {
    const counter = apsCounter++;
    const fcf = { frameType: type, deliveryMode: delivery, ackFormat: false, security: sec !== undefined, ackRequest: ackReq, extendedHeader: false };
    const hdr = { frameControl: fcf, destEndpoint: dstEp, group, clusterId: cluster, profileId: profile, sourceEndpoint: srcEp, counter };
    const exp = {
        type: { 0: "data", 1: "command", 2: "ack" }[type],
        delivery: { 0: "unicast", 2: "broadcast", 3: "group" }[delivery],
        dst_ep: dstEp, src_ep: srcEp, group: hex16(group), cluster: hex16(cluster), profile: hex16(profile), counter,
    };
    let sh;
    if (sec) {
        const fc = apsFc++;
        sh = { control: { level: 0, keyId: sec.keyId, nonce: sec.src64 !== undefined, reqVerifiedFc: false }, frameCounter: fc, source64: ieeeToBig(sec.nonce64 ?? sec.src64), micLen: 4 };
        const ok = sec.mic !== "failed";
        exp.security = { key_id: KEY_IDS[sec.keyId], frame_counter: fc, src64: sec.src64, mic: ok ? "ok" : "failed", key: ok ? keyHex(sec.key) : undefined };
    }
    return [Buffer.from(aps.encodeZigbeeAPSFrame(hdr, payload, sh, sec ? sec.key : undefined)), exp];
}

// ---- payload helpers (layouts as in zigbee-on-host's aps-handler/nwk-handler senders) ----
const u16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const e64 = (s) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(ieeeToBig(s)); return b; };
const B = (...parts) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(Array.isArray(p) ? p : [p]))));

const out = [];
function emit(name, macPart, nwkPart, apsPart, extra = {}, keys = {}) {
    const expect = { mac: macPart[1] };
    if (nwkPart) expect.nwk = nwkPart[1];
    if (apsPart) expect.aps = { ...apsPart[1], ...(extra.aps || {}) };
    if (extra.zdo) expect.zdo = extra.zdo;
    if (extra.tunnel) expect.tunnel = extra.tunnel;
    out.push({
        name,
        psdu: macPart[0].toString("hex"),
        network_keys: keys.network_keys ?? NWK_KEYS,
        link_keys: keys.link_keys ?? LINK_KEYS,
        expect,
    });
}

/** APS-in-NWK-in-MAC data path */
function dataPath(name, { mac: m, nwk: n, aps: a, payload, extra, keys }) {
    const ap = apsFrame(a, payload);
    const np = nwkFrame({ type: 0, ...n }, ap[0]);
    const mp = macData(m, np[0]);
    emit(name, mp, np, ap, extra, keys);
}
function nwkCmdPath(name, { mac: m, nwk: n, payload, keys }) {
    const np = nwkFrame({ type: 1, discover: 0, ...n }, payload);
    const mp = macData(m, np[0]);
    emit(name, mp, np, undefined, {}, keys);
}

// ================= frames =================
const devToTc = { mac: { dst16: TC16, src16: DEV16 }, nwk: { dst16: TC16, src16: DEV16, secSrc64: DEV64 } };
const tcToDev = { mac: { dst16: DEV16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, secSrc64: TC64 } };

// --- NWK-secured APS data (ZCL) ---
dataPath("zcl_onoff_toggle_unicast_nwk", {
    ...devToTc, aps: { type: 0, delivery: 0, dstEp: 1, srcEp: 1, cluster: 0x0006, profile: 0x0104, ackReq: true }, payload: B(0x01, 0x10, 0x02),
});
dataPath("zcl_onoff_on_broadcast_nwk", {
    mac: { dst16: 0xffff, src16: TC16 }, nwk: { dst16: 0xfffd, src16: TC16, secSrc64: TC64, radius: 30 },
    aps: { type: 0, delivery: 2, dstEp: 0xff, srcEp: 1, cluster: 0x0006, profile: 0x0104 }, payload: B(0x01, 0x11, 0x01),
});
dataPath("zcl_level_group_nwk", {
    mac: { dst16: 0xffff, src16: TC16 }, nwk: { dst16: 0xfffd, src16: TC16, secSrc64: TC64 },
    aps: { type: 0, delivery: 3, group: 0x0001, srcEp: 1, cluster: 0x0008, profile: 0x0104 }, payload: B(0x01, 0x12, 0x04, 0x80, 0x0a, 0x00),
});
dataPath("zcl_report_keyseq1_ext_src", {
    mac: { dst16: TC16, src16: DEV16 }, nwk: { dst16: TC16, src16: DEV16, src64: DEV64, secSrc64: DEV64, keySeq: 1 },
    aps: { type: 0, delivery: 0, dstEp: 1, srcEp: 2, cluster: 0x0402, profile: 0x0104 }, payload: B(0x18, 0x13, 0x0a, 0x00, 0x00, 0x29, 0xd2, 0x04),
});
dataPath("zcl_source_routed_nwk", {
    mac: { dst16: RTR16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, secSrc64: TC64, dst64: DEV64, relays: [RTR16] },
    aps: { type: 0, delivery: 0, dstEp: 1, srcEp: 1, cluster: 0x0006, profile: 0x0104, ackReq: true }, payload: B(0x01, 0x14, 0x00),
});
dataPath("zcl_nwk_plus_aps_datakey", {
    ...devToTc, aps: { type: 0, delivery: 0, dstEp: 1, srcEp: 1, cluster: 0x0006, profile: 0x0104, sec: { keyId: 0, key: TCLK, src64: DEV64 } }, payload: B(0x01, 0x15, 0x00),
});
dataPath("aps_ack_nwk", {
    ...tcToDev, aps: { type: 2, delivery: 0, dstEp: 1, srcEp: 1, cluster: 0x0006, profile: 0x0104 }, payload: Buffer.alloc(0),
});

// --- NWK commands (NWK-secured unless stated) ---
nwkCmdPath("nwk_leave_broadcast", {
    mac: { dst16: 0xffff, src16: DEV16 }, nwk: { dst16: 0xfffd, src16: DEV16, src64: DEV64, secSrc64: DEV64, radius: 1 }, payload: B(0x04, 0x00),
});
nwkCmdPath("nwk_leave_request_rejoin", {
    mac: { dst16: DEV16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, dst64: DEV64, src64: TC64, secSrc64: TC64, radius: 1 }, payload: B(0x04, 0x60),
});
nwkCmdPath("nwk_rejoin_request_secured", {
    mac: { dst16: TC16, src16: DEV16 }, nwk: { dst16: TC16, src16: DEV16, dst64: TC64, src64: DEV64, secSrc64: DEV64, radius: 1 }, payload: B(0x06, 0x80),
});
nwkCmdPath("nwk_rejoin_request_unsecured", {
    mac: { dst16: TC16, src16: DEV16 }, nwk: { dst16: TC16, src16: DEV16, dst64: TC64, src64: DEV64, sec: false, radius: 1 }, payload: B(0x06, 0x8e),
});
nwkCmdPath("nwk_rejoin_response", {
    mac: { dst16: DEV16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, dst64: DEV64, src64: TC64, secSrc64: TC64, radius: 1 }, payload: B(0x07, u16(DEV16), 0x00),
});
nwkCmdPath("nwk_link_status", {
    mac: { dst16: 0xffff, src16: TC16 }, nwk: { dst16: 0xfffc, src16: TC16, src64: TC64, secSrc64: TC64, radius: 1 },
    payload: B(0x08, 0x62, u16(DEV16), 0x11, u16(RTR16), 0x33),
});
nwkCmdPath("nwk_route_record", {
    mac: { dst16: TC16, src16: RTR16 }, nwk: { dst16: TC16, src16: DEV16, src64: DEV64, secSrc64: RTR64 }, payload: B(0x05, 0x01, u16(RTR16)),
});
nwkCmdPath("nwk_route_request_many_to_one", {
    mac: { dst16: 0xffff, src16: TC16 }, nwk: { dst16: 0xfffc, src16: TC16, secSrc64: TC64 }, payload: B(0x01, 0x08, 0x07, u16(0xfffc), 0x00),
});
nwkCmdPath("nwk_status_address_conflict", {
    mac: { dst16: DEV16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, secSrc64: TC64 }, payload: B(0x03, 0x0d, u16(DEV16)),
});
nwkCmdPath("nwk_ed_timeout_request", {
    mac: { dst16: TC16, src16: DEV16 }, nwk: { dst16: TC16, src16: DEV16, secSrc64: DEV64, radius: 1, eDI: true }, payload: B(0x0b, 0x08, 0x00),
});
nwkCmdPath("nwk_ed_timeout_response", {
    mac: { dst16: DEV16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, secSrc64: TC64, radius: 1 }, payload: B(0x0c, 0x00, 0x03),
});

// --- APS security commands ---
// Transport-Key(NWK key), NWK unsecured, APS key-transport key (id 2) from ZigBeeAlliance09
dataPath("aps_transport_key_nwk_ktk", {
    mac: { dst16: DEV16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, dst64: DEV64, sec: false, discover: 0 },
    aps: { type: 1, delivery: 0, sec: { keyId: 2, key: TCLK, src64: TC64 } },
    payload: B(0x05, 0x01, NK, 0x00, e64(DEV64), e64(TC64)),
    extra: { aps: { command_id: 5, key_type_id: 1, key: keyHex(NK), key_seq: 0, dst64: DEV64, src64: TC64 } },
});
// same, key-transport key derived from the install-code key (decoder has to try the 2nd link key)
dataPath("aps_transport_key_nwk_ktk_installcode", {
    mac: { dst16: DEV16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, dst64: DEV64, sec: false, discover: 0 },
    aps: { type: 1, delivery: 0, sec: { keyId: 2, key: ICK, src64: TC64 } },
    payload: B(0x05, 0x01, NK, 0x00, e64(DEV64), e64(TC64)),
    extra: { aps: { command_id: 5, key_type_id: 1, key: keyHex(NK), key_seq: 0, dst64: DEV64, src64: TC64 } },
});
// negative: install-code TK but only the well-known key given -> APS MIC "failed", no command fields
dataPath("aps_transport_key_nwk_ktk_wrong_key", {
    mac: { dst16: DEV16, src16: TC16 }, nwk: { dst16: DEV16, src16: TC16, dst64: DEV64, sec: false, discover: 0 },
    aps: { type: 1, delivery: 0, sec: { keyId: 2, key: ICK, src64: TC64, mic: "failed" } },
    payload: B(0x05, 0x01, NK, 0x00, e64(DEV64), e64(TC64)),
    keys: { network_keys: NWK_KEYS, link_keys: [keyHex(TCLK), keyHex(WRONG)] },
});
// Transport-Key(next NWK key, seq 1) broadcast, NWK-secured, APS key-transport key
dataPath("aps_transport_key_nwk_broadcast", {
    mac: { dst16: 0xffff, src16: TC16 }, nwk: { dst16: 0xfffd, src16: TC16, secSrc64: TC64, discover: 0 },
    aps: { type: 1, delivery: 2, sec: { keyId: 2, key: TCLK, src64: TC64 } },
    payload: B(0x05, 0x01, NK2, 0x01, Buffer.alloc(8), e64(TC64)),
    extra: { aps: { command_id: 5, key_type_id: 1, key: keyHex(NK2), key_seq: 1, dst64: "00:00:00:00:00:00:00:00", src64: TC64 } },
});
// Transport-Key(TC link key) NWK-secured + APS key-load key (id 3)
dataPath("aps_transport_key_tclk_keyload", {
    ...tcToDev, nwk: { ...tcToDev.nwk, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true, sec: { keyId: 3, key: TCLK, src64: TC64 } },
    payload: B(0x05, 0x04, NEW_TCLK, e64(DEV64), e64(TC64)),
    extra: { aps: { command_id: 5, key_type_id: 4, key: keyHex(NEW_TCLK), dst64: DEV64, src64: TC64 } },
});
dataPath("aps_transport_key_tclk_keyload_installcode", {
    ...tcToDev, nwk: { ...tcToDev.nwk, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true, sec: { keyId: 3, key: ICK, src64: TC64 } },
    payload: B(0x05, 0x04, NEW_TCLK, e64(DEV64), e64(TC64)),
    extra: { aps: { command_id: 5, key_type_id: 4, key: keyHex(NEW_TCLK), dst64: DEV64, src64: TC64 } },
});
// Transport-Key(application link key) NWK-secured + APS key-load key
dataPath("aps_transport_key_app_link_keyload", {
    ...tcToDev, nwk: { ...tcToDev.nwk, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true, sec: { keyId: 3, key: TCLK, src64: TC64 } },
    payload: B(0x05, 0x03, NEW_TCLK, e64(PARTNER64), 0x01),
    extra: { aps: { command_id: 5, key_type_id: 3, key: keyHex(NEW_TCLK), partner64: PARTNER64 } },
});
// Request-Key (TC link key), APS key id 0 (data key = current link key)
dataPath("aps_request_key_tclk", {
    ...devToTc, nwk: { ...devToTc.nwk, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true, sec: { keyId: 0, key: TCLK, src64: DEV64 } },
    payload: B(0x08, 0x04),
    extra: { aps: { command_id: 8, key_type_id: 4 } },
});
// Request-Key (application link key with partner), APS key id 0 with the install-code key
dataPath("aps_request_key_app_partner", {
    ...devToTc, nwk: { ...devToTc.nwk, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true, sec: { keyId: 0, key: ICK, src64: DEV64 } },
    payload: B(0x08, 0x02, e64(PARTNER64)),
    extra: { aps: { command_id: 8, key_type_id: 2, partner64: PARTNER64 } },
});
// Verify-Key, NWK-secured, APS unsecured; hash = HMAC-MMO(TCLK, 0x03) via zoh makeKeyedHash
dataPath("aps_verify_key", {
    ...devToTc, nwk: { ...devToTc.nwk, discover: 0 },
    aps: { type: 1, delivery: 0 },
    payload: B(0x0f, 0x04, e64(DEV64), zb.makeKeyedHash(TCLK, 0x03)),
    extra: { aps: { command_id: 0x0f, key_type_id: 4, src64: DEV64 } },
});
// Confirm-Key, NWK-secured + APS key id 0 (zoh has no receive-side parser: only command_id is decoded)
dataPath("aps_confirm_key", {
    ...tcToDev, nwk: { ...tcToDev.nwk, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true, sec: { keyId: 0, key: TCLK, src64: TC64 } },
    payload: B(0x10, 0x00, 0x04, e64(DEV64)),
    extra: { aps: { command_id: 0x10 } },
});
// Switch-Key unicast and broadcast, NWK-secured, APS unsecured
dataPath("aps_switch_key_unicast", {
    ...tcToDev, nwk: { ...tcToDev.nwk, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true }, payload: B(0x09, 0x01),
    extra: { aps: { command_id: 9, key_seq: 1 } },
});
dataPath("aps_switch_key_broadcast", {
    mac: { dst16: 0xffff, src16: TC16 }, nwk: { dst16: 0xfffd, src16: TC16, secSrc64: TC64, discover: 0 },
    aps: { type: 1, delivery: 2 }, payload: B(0x09, 0x01),
    extra: { aps: { command_id: 9, key_seq: 1 } },
});
// Update-Device from router: APS unsecured (as zoh sends it) and APS key id 0 with the router's link key
dataPath("aps_update_device_unsecured_join", {
    mac: { dst16: TC16, src16: RTR16 }, nwk: { dst16: TC16, src16: RTR16, secSrc64: RTR64, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true }, payload: B(0x06, e64(DEV64), u16(DEV16), 0x01),
    extra: { aps: { command_id: 6, device64: DEV64, device: hex16(DEV16), status: 1 } },
});
dataPath("aps_update_device_secured_rejoin_apskey", {
    mac: { dst16: TC16, src16: RTR16 }, nwk: { dst16: TC16, src16: RTR16, secSrc64: RTR64, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true, sec: { keyId: 0, key: TCLK, src64: RTR64 } }, payload: B(0x06, e64(DEV64), u16(DEV16), 0x00),
    extra: { aps: { command_id: 6, device64: DEV64, device: hex16(DEV16), status: 0 } },
});
// Remove-Device to a router
dataPath("aps_remove_device", {
    mac: { dst16: RTR16, src16: TC16 }, nwk: { dst16: RTR16, src16: TC16, secSrc64: TC64, discover: 0 },
    aps: { type: 1, delivery: 0, ackReq: true, sec: { keyId: 0, key: TCLK, src64: TC64 } }, payload: B(0x07, e64(DEV64)),
    extra: { aps: { command_id: 7, device64: DEV64 } },
});
// Tunnel(Transport-Key) to a router: inner APS frame built with zoh's encodeZigbeeAPSFrame (key id 2)
{
    const inner = aps.encodeZigbeeAPSFrame(
        { frameControl: { frameType: 1, deliveryMode: 0, ackFormat: false, security: true, ackRequest: false, extendedHeader: false }, counter: 0x55 },
        B(0x05, 0x01, NK, 0x00, e64(DEV64), e64(TC64)),
        { control: { level: 0, keyId: 2, nonce: true, reqVerifiedFc: false }, frameCounter: 0x3000, source64: ieeeToBig(TC64), micLen: 4 },
        TCLK,
    );
    dataPath("aps_tunnel_transport_key", {
        mac: { dst16: RTR16, src16: TC16 }, nwk: { dst16: RTR16, src16: TC16, secSrc64: TC64, discover: 0 },
        aps: { type: 1, delivery: 0 }, payload: B(0x0e, e64(DEV64), Buffer.from(inner)),
        extra: { aps: { command_id: 0x0e }, tunnel: { dst64: DEV64 } },
    });
}
// Device_annce (ZDO 0x0013) broadcast, NWK-secured (zoh skips the ZDO seq byte: not in expect)
dataPath("zdo_device_annce", {
    mac: { dst16: 0xffff, src16: DEV16 }, nwk: { dst16: 0xfffd, src16: DEV16, secSrc64: DEV64 },
    aps: { type: 0, delivery: 2, dstEp: 0, srcEp: 0, cluster: 0x0013, profile: 0x0000 }, payload: B(0x81, u16(DEV16), e64(DEV64), 0x80),
    extra: { zdo: { cluster: "0x0013", nwk_addr: hex16(DEV16), ieee: DEV64, capability: hex8(0x80) } },
});

// --- MAC-only frames (mac.encodeMACFrame) ---
{
    const mp = macGeneric({ type: 3, cmd: 7, dstMode: 2, dst: 0xffff, dstPan: 0xffff }, Buffer.alloc(0));
    emit("mac_beacon_request", mp);
}
{
    const mp = macGeneric({ type: 3, cmd: 1, dstMode: 2, dst: TC16, dstPan: PAN, srcMode: 3, src: DEV64, srcPan: 0xffff, ackReq: true }, B(0x8e));
    emit("mac_association_request", mp);
}
{
    const mp = macGeneric({ type: 3, cmd: 2, dstMode: 3, dst: DEV64, dstPan: PAN, srcMode: 3, src: TC64, panComp: true, ackReq: true }, B(u16(DEV16), 0x00));
    emit("mac_association_response", mp);
}
{
    const mp = macGeneric({ type: 3, cmd: 4, dstMode: 2, dst: TC16, dstPan: PAN, srcMode: 3, src: DEV64, panComp: true, ackReq: true }, Buffer.alloc(0));
    emit("mac_data_request", mp);
}
{
    const beaconPayload = mac.encodeMACZigbeeBeacon({
        protocolId: 0, profile: 2, version: 2, routerCapacity: true, deviceDepth: 0, endDeviceCapacity: true,
        extendedPANId: 0xddddddddddddddddn, txOffset: 0xffffff, updateId: 0,
    });
    const mp = macGeneric({
        type: 0, srcMode: 2, src: TC16, srcPan: PAN,
        extra: {
            superframeSpec: { beaconOrder: 15, superframeOrder: 15, finalCAPSlot: 15, batteryExtension: false, panCoordinator: true, associationPermit: true },
            gtsInfo: { permit: false }, pendAddr: {},
        },
    }, beaconPayload);
    emit("mac_beacon", mp);
}
{
    const mp = macGeneric({ type: 2 }, Buffer.alloc(0));
    emit("mac_ack", mp);
}

process.stdout.write(out.map(jsonLine).join("\n") + "\n");
