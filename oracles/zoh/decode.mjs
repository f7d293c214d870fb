#!/usr/bin/env node
// zigbee-on-host decode oracle (TEST-ONLY; zigbee-on-host is GPL-3.0-or-later and runs here as a separate process).
//
// stdin : one JSON document
//   {"frames": [{"frame": 1, "psdu": "<hex MAC frame WITHOUT FCS>",
//                "network_keys": ["<32 hex>", ...], "link_keys": ["<32 hex>", ...]}, ...]}
//   link_keys are base (unhashed) link keys; for APS key ids 2/3 zigbee-on-host derives the
//   key-transport / key-load key itself (makeKeyedHashByType inside decryptZigbeePayload).
// stdout: one JSON line per input frame, field names/format as docs/decode-json.md
//   (only the fields zigbee-on-host actually decodes; see README.md).
// exit  : 0 (even if frames fail to decode/decrypt), 2 on unreadable input.
import { readFileSync } from "node:fs";
import {
    mac, nwk, aps, zb, APSHandler,
    hex16, hex8, ieee, keyHex, jsonLine,
    MAC_TYPES, NWK_TYPES, APS_TYPES, APS_DELIVERY, KEY_IDS,
} from "./lib.mjs";

// The APS handler continues asynchronously (sending replies through our absorbing mock) after the
// synchronous part that parses the command; failures there are irrelevant to decoding.
process.on("unhandledRejection", () => {});

// ---------------------------------------------------------------------------------------------
// Absorbing mock: every property is the mock, every call returns the mock, not a thenable.
function absorbing() {
    const target = function () {};
    const p = new Proxy(target, {
        get(_t, k) {
            if (k === "then") return undefined;
            if (k === Symbol.iterator) return function* () {};
            if (k === Symbol.toPrimitive) return () => 0;
            return p;
        },
        apply() {
            return p;
        },
        set() {
            return true;
        },
    });
    return p;
}
const MOCK = absorbing();
const apsHandler = new APSHandler(MOCK, MOCK, MOCK, MOCK);

/** A copy of `buf` whose read/subarray calls are recorded, to capture what zoh's handler code parses. */
function recording(buf) {
    const b = Buffer.from(buf);
    const log = [];
    for (const m of ["readUInt8", "readUInt16LE", "readUInt32LE", "readBigUInt64LE"]) {
        b[m] = function (off) {
            const v = Buffer.prototype[m].call(this, off);
            log.push({ m, off, v });
            return v;
        };
    }
    b.subarray = function (s, e) {
        const v = Buffer.prototype.subarray.call(this, s, e);
        log.push({ m: "subarray", off: s, v: Buffer.from(v) });
        return v;
    };
    return [b, log];
}

/** Run one of zoh's APSHandler.process* methods on `body` (payload after the cmd id) and return its reads. */
function zohReads(method, body, macHeader, nwkHeader, apsHeader) {
    const [b, log] = recording(body);
    try {
        const r = apsHandler[method](b, 0, macHeader, nwkHeader, apsHeader);
        if (r && typeof r.then === "function") r.catch(() => {});
    } catch {
        // side effects after parsing may fail against the mock; the reads are already recorded
    }
    return log;
}

// ---------------------------------------------------------------------------------------------
function securityObj(sh, mic, key) {
    return {
        key_id: KEY_IDS[sh.control.keyId],
        frame_counter: sh.frameCounter,
        // zoh fills source64 from the caller's fallback when the ext-nonce bit is clear; only report the aux field
        src64: sh.control.nonce ? ieee(sh.source64) : undefined,
        key_seq: sh.control.keyId === 1 ? sh.keySeqNum : undefined,
        mic,
        key: mic === "ok" ? keyHex(key) : undefined,
    };
}

/**
 * Try each candidate key with zoh's decrypt (decodeZigbeeNWKPayload / decodeZigbeeAPSPayload).
 * zoh signals a MIC failure by throwing Error("Auth tag mismatch while decrypting Zigbee payload"),
 * and throws "Unable to decrypt Zigbee payload" when no source IEEE is available for the nonce.
 * Returns {payload, security} ; payload undefined when no key verified.
 */
function decryptWith(decodeFn, data, off, fallback64, fcf, hdr, nwkKeys, linkKeys) {
    const [sh0] = zb.decodeZigbeeSecurityHeader(data, off, fallback64);
    const candidates = sh0.control.keyId === 1 ? nwkKeys : linkKeys;
    for (const k of candidates) {
        try {
            const payload = decodeFn(data, off, k, fallback64, fcf, hdr);
            return { payload, security: securityObj(hdr.securityHeader, "ok", k) };
        } catch (e) {
            if (!/Auth tag mismatch|Unable to decrypt/.test(String(e && e.message))) throw e;
        }
    }
    return { payload: undefined, security: securityObj(sh0, "failed") };
}

function decodeApsCommandBody(out, payload, macHeader, nwkHeader, apsHeader) {
    // zoh APSHandler.processCommand: cmdId = data.readUInt8(0), then process*(data, 1, ...)
    const cmdId = payload.readUInt8(0);
    out.command_id = cmdId;
    const body = payload.subarray(1);
    const num = (l, i) => (l[i] && typeof l[i].v === "number" ? l[i].v : undefined);
    const big = (l, i) => (l[i] && typeof l[i].v === "bigint" ? l[i].v : undefined);
    switch (cmdId) {
        case 0x05: {
            // processTransportKey: u8 keyType, key(16), then per type
            const l = zohReads("processTransportKey", body, macHeader, nwkHeader, apsHeader);
            const t = num(l, 0);
            out.key_type_id = t;
            if (l[1] && l[1].m === "subarray") out.key = keyHex(l[1].v);
            if (t === 1 || t === 5) {
                out.key_seq = num(l, 2);
                out.dst64 = ieee(big(l, 3));
                out.src64 = ieee(big(l, 4));
            } else if (t === 0 || t === 4) {
                out.dst64 = ieee(big(l, 2));
                out.src64 = ieee(big(l, 3));
            } else if (t === 2 || t === 3) {
                out.partner64 = ieee(big(l, 2));
            }
            break;
        }
        case 0x06: {
            // processUpdateDevice: u64 device64, u16 device16, u8 status
            const l = zohReads("processUpdateDevice", body, macHeader, nwkHeader, apsHeader);
            out.device64 = ieee(big(l, 0));
            out.device = hex16(num(l, 1));
            out.status = num(l, 2);
            break;
        }
        case 0x07: {
            const l = zohReads("processRemoveDevice", body, macHeader, nwkHeader, apsHeader);
            out.device64 = ieee(big(l, 0));
            break;
        }
        case 0x08: {
            // processRequestKey: u8 keyType; partner64 only read for type 2 when APS-secured
            const l = zohReads("processRequestKey", body, macHeader, nwkHeader, apsHeader);
            out.key_type_id = num(l, 0);
            if (out.key_type_id === 2) out.partner64 = ieee(big(l, 1));
            break;
        }
        case 0x09: {
            const l = zohReads("processSwitchKey", body, macHeader, nwkHeader, apsHeader);
            out.key_seq = num(l, 0);
            break;
        }
        case 0x0e: {
            const l = zohReads("processTunnel", body, macHeader, nwkHeader, apsHeader);
            out.__tunnel_dst64 = ieee(big(l, 0));
            break;
        }
        case 0x0f: {
            // processVerifyKey: u8 keyType, u64 source, hash(16)
            const l = zohReads("processVerifyKey", body, macHeader, nwkHeader, apsHeader);
            out.key_type_id = num(l, 0);
            out.src64 = ieee(big(l, 1));
            break;
        }
        default:
            // 0x10 Confirm-Key etc.: zoh has no receive-side parser (TC never receives them) -> command_id only
            break;
    }
}

function decodeZdo(payload, macHeader, nwkHeader, apsHeader) {
    // zoh APSHandler.processFrame, profile 0 / cluster 0x0013: skips the ZDO seq (offset 0),
    // reads u16 nwk addr @1, u64 IEEE @3, u8 capability @11.
    const [b, log] = recording(payload);
    try {
        const r = apsHandler.processFrame(b, macHeader, nwkHeader, apsHeader, 0);
        if (r && typeof r.then === "function") r.catch(() => {});
    } catch {}
    const at = (off, m) => log.find((e) => e.off === off && e.m === m);
    const a16 = at(1, "readUInt16LE");
    const a64 = at(3, "readBigUInt64LE");
    const cap = at(11, "readUInt8");
    return {
        cluster: hex16(apsHeader.clusterId),
        nwk_addr: a16 ? hex16(a16.v) : undefined,
        ieee: a64 ? ieee(a64.v) : undefined,
        capability: cap ? hex8(cap.v) : undefined,
    };
}

export function decodeFrame(item) {
    const out = { frame: item.frame };
    const nwkKeys = (item.network_keys || []).map((k) => Buffer.from(k, "hex"));
    const linkKeys = (item.link_keys || []).map((k) => Buffer.from(k, "hex"));
    // zoh's decodeMACPayload expects a trailing 2-byte FCS (it does not verify it): append a dummy one.
    const psdu = Buffer.concat([Buffer.from(item.psdu, "hex"), Buffer.alloc(2)]);
    let layer = "MAC";
    try {
        const [mfc, o1] = mac.decodeMACFrameControl(psdu, 0);
        const [mh, o2] = mac.decodeMACHeader(psdu, o1, mfc);
        const srcPresent = mfc.sourceAddrMode !== 0;
        out.mac = {
            type: MAC_TYPES[mfc.frameType] ?? "other",
            seq: mh.sequenceNumber,
            dst_pan: hex16(mh.destinationPANId),
            dst: mh.destination64 !== undefined ? ieee(mh.destination64) : hex16(mh.destination16),
            // zoh synthesises sourcePANId (= dst PAN, or 0xffff) when no source address is present: report it only with a source
            src_pan: srcPresent ? hex16(mh.sourcePANId) : undefined,
            src: mh.source64 !== undefined ? ieee(mh.source64) : hex16(mh.source16),
            ack_request: mfc.ackRequest,
            frame_pending: mfc.framePending,
            command_id: mfc.frameType === 3 ? mh.commandId : undefined,
        };
        if (mfc.frameType !== 1) return out; // beacon / ack / MAC command: nothing above MAC
        const macPayload = mac.decodeMACPayload(psdu, o2, mfc, mh);

        layer = "NWK";
        const [nfc, o3] = nwk.decodeZigbeeNWKFrameControl(macPayload, 0);
        if (nfc.protocolVersion === 3) {
            out.nwk = { type: "other" }; // Green Power: zoh has a separate codec, not used here
            return out;
        }
        const [nh, o4] = nwk.decodeZigbeeNWKHeader(macPayload, o3, nfc);
        out.nwk = {
            type: NWK_TYPES[nfc.frameType] ?? "other",
            dst: hex16(nh.destination16),
            src: hex16(nh.source16),
            radius: nh.radius,
            seq: nh.seqNum,
            dst64: ieee(nh.destination64),
            src64: ieee(nh.source64),
        };
        let nwkPayload;
        if (nfc.security) {
            const r = decryptWith(nwk.decodeZigbeeNWKPayload, macPayload, o4, nh.source64 ?? mh.source64, nfc, nh, nwkKeys, linkKeys);
            out.nwk.security = r.security;
            nwkPayload = r.payload;
            if (!nwkPayload) return out;
        } else {
            nwkPayload = nwk.decodeZigbeeNWKPayload(macPayload, o4, undefined, undefined, nfc, nh);
        }
        if (nfc.frameType === 1) {
            // zoh NWKHandler.processCommand: cmdId = data.readUInt8(0)
            out.nwk.command_id = nwkPayload.readUInt8(0);
            return out;
        }
        if (nfc.frameType !== 0) return out;

        layer = "APS";
        const [afc, o5] = aps.decodeZigbeeAPSFrameControl(nwkPayload, 0);
        const [ah, o6] = aps.decodeZigbeeAPSHeader(nwkPayload, o5, afc);
        out.aps = {
            type: APS_TYPES[afc.frameType] ?? "other",
            delivery: APS_DELIVERY[afc.deliveryMode],
            dst_ep: ah.destEndpoint,
            src_ep: ah.sourceEndpoint,
            group: hex16(ah.group),
            cluster: hex16(ah.clusterId),
            profile: hex16(ah.profileId),
            counter: ah.counter,
        };
        if (afc.frameType === 2) return out; // APS ack: no payload
        let apsPayload;
        if (afc.security) {
            const nwkAux64 = nh.securityHeader && nh.securityHeader.control.nonce ? nh.securityHeader.source64 : undefined;
            const r = decryptWith(aps.decodeZigbeeAPSPayload, nwkPayload, o6, nh.source64 ?? nwkAux64 ?? mh.source64, afc, ah, nwkKeys, linkKeys);
            out.aps.security = r.security;
            apsPayload = r.payload;
            if (!apsPayload) return out;
        } else {
            apsPayload = aps.decodeZigbeeAPSPayload(nwkPayload, o6, undefined, undefined, afc, ah);
        }
        layer = "APS payload";
        if (afc.frameType === 1) {
            decodeApsCommandBody(out.aps, apsPayload, mh, nh, ah);
            if (out.aps.__tunnel_dst64 !== undefined) {
                out.tunnel = { dst64: out.aps.__tunnel_dst64 };
            }
            delete out.aps.__tunnel_dst64;
        } else if (afc.frameType === 0 && ah.profileId === 0 && ah.clusterId === 0x0013) {
            layer = "ZDO";
            out.zdo = decodeZdo(apsPayload, mh, nh, ah);
        }
    } catch (e) {
        out.error = `${layer}: ${e && e.message ? e.message : String(e)}`;
    }
    return out;
}

async function main() {
    let doc;
    try {
        doc = JSON.parse(readFileSync(0, "utf8"));
        if (!doc || !Array.isArray(doc.frames)) throw new Error("missing 'frames' array");
    } catch (e) {
        process.stderr.write(`decode.mjs: bad input: ${e.message}\n`);
        process.exit(2);
    }
    const lines = [];
    for (const item of doc.frames) lines.push(jsonLine(decodeFrame(item)));
    // let the (irrelevant) async tails of zoh's handlers settle, then exit explicitly
    await new Promise((r) => setImmediate(r));
    process.stdout.write(lines.length ? lines.join("\n") + "\n" : "", () => process.exit(0));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
