#!/usr/bin/env node
// Self-test of the zigbee-on-host oracle scripts (run: node oracles/zoh/selftest.mjs; exits non-zero on failure).
//  (a) decode.mjs on real / published frames (shared zigbee-notes §5.6 a–g, §5.8, §6.1 MAC commands, §10 golden
//      vectors) gives the documented fields;
//  (b) encode.mjs output fed to decode.mjs: decoded == expect for every frame.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const NK = "01030507090b0d0f00020406080a0c0d";
const TCLK = "5a6967426565416c6c69616e63653039";
const ICK = "66b6900981e1ee3ca4206b6b861c02bb";
const NK10 = "00112233445566778899aabbccddeeff";

function run(script, input) {
    const r = spawnSync(process.execPath, [join(here, script)], { input, encoding: "utf8", maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`${script} exited ${r.status}: ${r.stderr}`);
    return r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
const decode = (frames) => run("decode.mjs", JSON.stringify({ frames }));

// CRC-16/KERMIT: used to strip a real FCS from the §10 vectors that carry one (linktype 195)
function kermit(buf) {
    let crc = 0;
    for (const b of buf) {
        crc ^= b;
        for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
    }
    return crc;
}
function noFcs(hex) {
    const b = Buffer.from(hex, "hex");
    const body = b.subarray(0, -2);
    return b.readUInt16LE(b.length - 2) === kermit(body) ? body.toString("hex") : hex;
}

let failures = 0;
let passes = 0;
function check(name, fn) {
    try {
        fn();
        passes++;
        console.log(`ok   ${name}`);
    } catch (e) {
        failures++;
        console.log(`FAIL ${name}\n${e.message}`);
    }
}

// ------------------------------------------------------------------------------------------------
// (a) real frames
const macS = (seq, pan, dst, src, ack = true) => ({ type: "data", seq, dst_pan: pan, dst, src_pan: pan, src, ack_request: ack, frame_pending: false });
const nsec = (fc, src64, key = NK) => ({ key_id: "network", frame_counter: fc, src64, key_seq: 0, mic: "ok", key });
const TC2 = "80:4b:50:ff:fe:05:99:f9"; // NET2 TC
const DEV2 = "a4:c1:38:6d:9b:28:0f:df"; // NET2 device

const real = [
    {
        name: "5.6(a) NWK-secured APS ack",
        in: { psdu: "6188bf621a0000ba9648020000ba961e9728ed82b30273b9a4feff504b8000249091d59cff06da74295ed5", network_keys: [NK], link_keys: [TCLK] },
        want: {
            mac: macS(0xbf, "0x1a62", "0x0000", "0x96ba"),
            nwk: { type: "data", dst: "0x0000", src: "0x96ba", radius: 30, seq: 0x97, security: nsec(45318893, "80:4b:50:ff:fe:a4:b9:73") },
            aps: { type: "ack", delivery: "unicast", dst_ep: 1, src_ep: 1, cluster: "0xef00", profile: "0x0104", counter: 0x33 },
        },
    },
    {
        name: "5.6(b) Transport-Key NWK key, APS key-transport key, NWK unsecured",
        in: { psdu: "6188bd641a8fa1000008008fa100001ea1216a3006500100f99905feff504b80de473c64b569cac62c72ac2ffd682f57590baa2b6f1e0306f824a5a90358b26c8e68e6e8a75aff", network_keys: [NK], link_keys: [TCLK] },
        want: {
            mac: macS(0xbd, "0x1a64", "0xa18f", "0x0000"),
            nwk: { type: "data", dst: "0xa18f", src: "0x0000", radius: 30, seq: 0xa1 },
            aps: {
                type: "command", delivery: "unicast", counter: 0x6a,
                security: { key_id: "key-transport", frame_counter: 86022, src64: TC2, mic: "ok", key: TCLK },
                command_id: 5, key_type_id: 1, key: NK, key_seq: 0, dst64: DEV2, src64: TC2,
            },
        },
    },
    {
        name: "5.6(c) Device_annce broadcast",
        in: { psdu: "418876641affff8fa10802fdff8fa11e1b28cc820000df0f289b6d38c1a40064f9f0b0bbdc55e02482917e903855baba56d579337383aa", network_keys: [NK], link_keys: [] },
        want: {
            mac: macS(0x76, "0x1a64", "0xffff", "0xa18f", false),
            nwk: { type: "data", dst: "0xfffd", src: "0xa18f", radius: 30, seq: 0x1b, security: nsec(33484, DEV2) },
            aps: { type: "data", delivery: "broadcast", dst_ep: 0, src_ep: 0, cluster: "0x0013", profile: "0x0000", counter: 0x7b },
            zdo: { cluster: "0x0013", nwk_addr: "0xa18f", ieee: DEV2, capability: "0x8e" },
        },
    },
    {
        name: "5.6(d) Request-Key TCLK, NWK + APS key id 0",
        in: { psdu: "618882641a00008fa1480200008fa11e2728d9820000df0f289b6d38c1a4001b039492f4e4ec13a5a35b0878af468e70a8e97dfe61efed10", network_keys: [NK], link_keys: [TCLK] },
        want: {
            mac: macS(0x82, "0x1a64", "0x0000", "0xa18f"),
            nwk: { type: "data", dst: "0x0000", src: "0xa18f", radius: 30, seq: 0x27, security: nsec(33497, DEV2) },
            aps: {
                type: "command", delivery: "unicast", counter: 0x83,
                security: { key_id: "data", frame_counter: 33496, src64: DEV2, mic: "ok", key: TCLK },
                command_id: 8, key_type_id: 4,
            },
        },
    },
    {
        name: "5.6(e) Transport-Key TCLK, NWK + APS key-load key",
        in: { psdu: "6188cf641a8fa1000008028fa100001eb9287e700600f99905feff504b8000a3093b4f0492e2a147b808b8dd9749a8c9e0b6f2572f2e7eafa37f1d6592ee3371338fd72a7512f69254612cd0d62c2b500e90c9dcc1559100", network_keys: [NK], link_keys: [TCLK] },
        want: {
            mac: macS(0xcf, "0x1a64", "0xa18f", "0x0000"),
            nwk: { type: "data", dst: "0xa18f", src: "0x0000", radius: 30, seq: 0xb9, security: nsec(0x0006707e, TC2) },
            aps: {
                type: "command", delivery: "unicast", counter: 0x72,
                security: { key_id: "key-load", frame_counter: 0x00015007, src64: TC2, mic: "ok", key: TCLK },
                command_id: 5, key_type_id: 4, key: TCLK, dst64: DEV2, src64: TC2,
            },
        },
    },
    {
        name: "5.6(f) Verify-Key, NWK-secured, APS unsecured",
        in: { psdu: "618883641a00008fa1480200008fa11e2828da820000df0f289b6d38c1a40099cdde0f0db679046e6eabc0f5ba56d5d1bf8f61e3d6577d9a8879cb8290b7ec", network_keys: [NK], link_keys: [TCLK] },
        want: {
            mac: macS(0x83, "0x1a64", "0x0000", "0xa18f"),
            nwk: { type: "data", dst: "0x0000", src: "0xa18f", radius: 30, seq: 0x28, security: nsec(33498, DEV2) },
            aps: { type: "command", delivery: "unicast", counter: 0x84, command_id: 0x0f, key_type_id: 4, src64: DEV2 },
        },
    },
    {
        name: "5.6(g) Confirm-Key, NWK + APS key id 0 (zoh: command_id only)",
        in: { psdu: "6188d0641a8fa1000008028fa100001eba287f700600f99905feff504b80005ae332c590616c71b6b23cb93f0f04f57320dfe1e988b675b5597053cca8e466e305", network_keys: [NK], link_keys: [TCLK] },
        want: {
            mac: macS(0xd0, "0x1a64", "0xa18f", "0x0000"),
            nwk: { type: "data", dst: "0xa18f", src: "0x0000", radius: 30, seq: 0xba, security: nsec(0x0006707f, TC2) },
            aps: { type: "command", delivery: "unicast", counter: "CHECKED-BELOW", security: { key_id: "data", frame_counter: 86024, src64: TC2, mic: "ok", key: TCLK }, command_id: 0x10 },
        },
    },
    {
        name: "5.8 synthetic NWK unicast (FCS e034 stripped), wrong key first",
        in: { psdu: noFcs("618801621a000034124802000034121e42280100000004030201004b120000cbac548854610a91480429573efb97e034"), network_keys: [NK10, NK], link_keys: [] },
        want: {
            mac: macS(1, "0x1a62", "0x0000", "0x1234"),
            nwk: { type: "data", dst: "0x0000", src: "0x1234", radius: 30, seq: 0x42, security: nsec(1, "00:12:4b:00:01:02:03:04") },
            aps: { type: "data", delivery: "unicast", dst_ep: 1, src_ep: 1, cluster: "0x0006", profile: "0x0104", counter: 0x10 },
        },
    },
    {
        name: "6.1 beacon request",
        in: { psdu: "030864ffffffff07" },
        want: { mac: { type: "command", seq: 0x64, dst_pan: "0xffff", dst: "0xffff", ack_request: false, frame_pending: false, command_id: 7 } },
    },
    {
        name: "6.1 association request",
        in: { psdu: "23c874641a0000ffffdf0f289b6d38c1a4018e" },
        want: { mac: { type: "command", seq: 0x74, dst_pan: "0x1a64", dst: "0x0000", src_pan: "0xffff", src: DEV2, ack_request: true, frame_pending: false, command_id: 1 } },
    },
    {
        name: "6.1 association response",
        in: { psdu: "63ccbb641adf0f289b6d38c1a4f99905feff504b80028fa100" },
        want: { mac: { type: "command", seq: 0xbb, dst_pan: "0x1a64", dst: DEV2, src_pan: "0x1a64", src: TC2, ack_request: true, frame_pending: false, command_id: 2 } },
    },
    {
        name: "6.1 data request",
        in: { psdu: "63c875641a0000df0f289b6d38c1a404" },
        want: { mac: { type: "command", seq: 0x75, dst_pan: "0x1a64", dst: "0x0000", src_pan: "0x1a64", src: DEV2, ack_request: true, frame_pending: false, command_id: 4 } },
    },
];

// §10 golden vectors
const G = "00:12:4b:00:01:02:03:04";
const G_TC = "00:12:4b:00:0a:0b:0c:0d";
const g10mac = (seq, dst, src) => macS(seq, "0x1a62", dst, src);
const gNwk = (fc, mic, key) => ({
    type: "data", dst: "0x0000", src: "0x1234", radius: 30, seq: 0x17,
    security: mic === "ok" ? { key_id: "network", frame_counter: fc, src64: G, key_seq: 0, mic, key } : { key_id: "network", frame_counter: fc, src64: G, key_seq: 0, mic },
});
const gAps = { type: "data", delivery: "unicast", dst_ep: 1, src_ep: 1, cluster: "0x0006", profile: "0x0104", counter: 0x55 };
const gTk = (key) => ({
    mac: g10mac(0x43, "0x5678", "0x0000"),
    nwk: { type: "data", dst: "0x5678", src: "0x0000", radius: 30, seq: 0x20 },
    aps: {
        type: "command", delivery: "unicast", counter: 0x66,
        security: { key_id: "key-transport", frame_counter: 1, src64: G_TC, mic: "ok", key },
        command_id: 5, key_type_id: 1, key: NK10, key_seq: 0, dst64: "00:12:4b:00:11:22:33:44", src64: G_TC,
    },
});
real.push(
    {
        name: "10 nwk_fcs (FCS stripped)",
        in: { psdu: noFcs("618842621a000034124802000034121e17280b0a000004030201004b12000068128eed8b9d1816e6c266576324919649"), network_keys: [NK10] },
        want: { mac: g10mac(0x42, "0x0000", "0x1234"), nwk: gNwk(2571, "ok", NK10), aps: gAps },
    },
    {
        name: "10 nwk_nofcs",
        in: { psdu: "618842621a000034124802000034121e17280b0a000004030201004b12000068128eed8b9d1816e6c26657632491", network_keys: [NK, NK10] },
        want: { mac: g10mac(0x42, "0x0000", "0x1234"), nwk: gNwk(2571, "ok", NK10), aps: gAps },
    },
    {
        name: "10 nwk_badmic -> mic failed, no APS",
        in: { psdu: noFcs("618842621a000034124802000034121e17280b0a000004030201004b12000068128eed8b9d1816e6c2665763246eee46"), network_keys: [NK10] },
        want: { mac: g10mac(0x42, "0x0000", "0x1234"), nwk: gNwk(2571, "failed") },
    },
    {
        name: "10 nwk_nofcs without any key -> mic failed",
        in: { psdu: "618842621a000034124802000034121e17280b0a000004030201004b12000068128eed8b9d1816e6c26657632491", network_keys: [] },
        want: { mac: g10mac(0x42, "0x0000", "0x1234"), nwk: gNwk(2571, "failed") },
    },
    {
        name: "10 aps_tk (ZigBeeAlliance09 key-transport key)",
        in: { psdu: noFcs("618843621a785600004800785600001e20216630010000000d0c0b0a004b12004a26652db3b032b086b378e64037d9645f8a8d1101ad669236b762e645877b1d99a0ba441ba30a75eb"), link_keys: [TCLK] },
        want: gTk(TCLK),
    },
    {
        name: "10 aps_tk_installcode (install-code key, tried after ZigBeeAlliance09)",
        in: { psdu: noFcs("618843621a785600004800785600001e20216630010000000d0c0b0a004b1200d5e8bcdc85b150bbb6445a297428640bfa08b350756ab50971e136daf020c1bbd6c7ac5673ca5b3759"), link_keys: [TCLK, ICK] },
        want: gTk(ICK),
    },
    {
        name: "10 nwk_aps_datakey (NWK + APS key id 0)",
        in: { psdu: noFcs("618844621a000034124802000034121e18280c0a000004030201004b120000153cb9baabfefdbfafbf2a6abb130fc832a85a66844648a9b06ebf3d01fae23bc82b"), network_keys: [NK10], link_keys: [TCLK] },
        want: {
            mac: g10mac(0x44, "0x0000", "0x1234"),
            nwk: { type: "data", dst: "0x0000", src: "0x1234", radius: 30, seq: 0x18, security: { key_id: "network", frame_counter: 0x0a0c, src64: G, key_seq: 0, mic: "ok", key: NK10 } },
            aps: { type: "data", delivery: "unicast", dst_ep: 1, src_ep: 1, cluster: "0x0006", profile: "0x0104", counter: 0x56, security: { key_id: "data", frame_counter: "CHECKED-BELOW", src64: G, mic: "ok", key: TCLK } },
        },
    },
);

const realOut = decode(real.map((r, i) => ({ frame: i + 1, ...r.in })));
check("(a) decode.mjs returns one line per frame", () => assert.equal(realOut.length, real.length));
real.forEach((r, i) => {
    check(`(a) ${r.name}`, () => {
        const got = realOut[i];
        assert.equal(got.frame, i + 1);
        assert.equal(got.error, undefined, `unexpected error: ${got.error}`);
        const want = structuredClone({ frame: i + 1, ...r.want });
        // values the notes do not state exactly: check type only, then copy
        for (const [path, obj, gotObj] of [
            ["aps.counter", want.aps, got.aps],
            ["aps.security.frame_counter", want.aps?.security, got.aps?.security],
        ]) {
            const k = path.split(".").pop();
            if (obj && obj[k] === "CHECKED-BELOW") {
                assert.equal(typeof gotObj[k], "number", path);
                obj[k] = gotObj[k];
            }
        }
        assert.deepStrictEqual(got, want);
    });
});

// ------------------------------------------------------------------------------------------------
// (b) encode.mjs -> decode.mjs round trip
const encoded = run("encode.mjs", "");
check("(b) encode.mjs produced >= 20 frames", () => assert.ok(encoded.length >= 20, `${encoded.length}`));
check("(b) encode.mjs names are unique", () => assert.equal(new Set(encoded.map((e) => e.name)).size, encoded.length));
const encOut = decode(encoded.map((e, i) => ({ frame: i + 1, psdu: e.psdu, network_keys: e.network_keys, link_keys: e.link_keys })));
encoded.forEach((e, i) => {
    check(`(b) ${e.name}`, () => assert.deepStrictEqual(encOut[i], { frame: i + 1, ...e.expect }));
});
// encode.mjs must be deterministic
check("(b) encode.mjs is deterministic", () => assert.deepStrictEqual(run("encode.mjs", ""), encoded));

// zoh's ENCODERS reproduce the independently computed §5.8 vector byte for byte (incl. the FCS zoh appends)
{
    const { mac, nwk } = await import("./lib.mjs");
    check("(b) zoh encoders reproduce notes §5.8 PSDU+FCS exactly", () => {
        const apsBytes = Buffer.from("0001060004010110010502", "hex");
        const n = nwk.encodeZigbeeNWKFrame(
            { frameControl: { frameType: 0, protocolVersion: 2, discoverRoute: 1, multicast: false, security: true, sourceRoute: false, extendedDestination: false, extendedSource: false, endDeviceInitiator: false },
              destination16: 0x0000, source16: 0x1234, radius: 30, seqNum: 0x42 },
            apsBytes,
            { control: { level: 0, keyId: 1, nonce: true, reqVerifiedFc: false }, frameCounter: 1, source64: 0x00124b0001020304n, keySeqNum: 0, micLen: 4 },
            Buffer.from(NK, "hex"),
        );
        const m = mac.encodeMACFrameZigbee(
            { frameControl: { frameType: 1, securityEnabled: false, framePending: false, ackRequest: true, panIdCompression: true, seqNumSuppress: false, iePresent: false, destAddrMode: 2, frameVersion: 0, sourceAddrMode: 2 },
              sequenceNumber: 1, destinationPANId: 0x1a62, destination16: 0x0000, source16: 0x1234, fcs: 0 },
            n,
        );
        assert.equal(Buffer.from(m).toString("hex"), "618801621a000034124802000034121e42280100000004030201004b120000cbac548854610a91480429573efb97e034");
    });
}

// decode.mjs contract details
check("decode.mjs: bad input exits 2", () => {
    const r = spawnSync(process.execPath, [join(here, "decode.mjs")], { input: "not json", encoding: "utf8" });
    assert.equal(r.status, 2);
});
check("decode.mjs: truncated NWK header -> error, MAC kept", () => {
    const [o] = decode([{ frame: 9, psdu: "618801621a000034124802" }]);
    assert.equal(o.mac.type, "data");
    assert.equal(typeof o.error, "string");
});

console.log(`\n${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
