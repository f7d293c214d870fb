// Shared helpers for the zigbee-on-host (zoh) oracle scripts.
// zigbee-on-host is GPL-3.0-or-later; it is used here TEST-ONLY, in a separate node process.
// Nothing from it is linked into zigtrust.
import * as mac from "zigbee-on-host/dist/zigbee/mac.js";
import * as nwk from "zigbee-on-host/dist/zigbee/zigbee-nwk.js";
import * as aps from "zigbee-on-host/dist/zigbee/zigbee-aps.js";
import * as zb from "zigbee-on-host/dist/zigbee/zigbee.js";
import * as zlog from "zigbee-on-host/dist/utils/logger.js";
import { APSHandler } from "zigbee-on-host/dist/zigbee-stack/aps-handler.js";

export { mac, nwk, aps, zb, APSHandler };

// zoh's default logger writes debug/info to stdout; silence it so stdout stays pure JSON Lines.
const noop = () => {};
zlog.setLogger({ debug: noop, info: noop, warning: noop, error: noop });

// ---- formatting (docs/decode-json.md conventions) ----
export const hex16 = (v) => (v === undefined || v === null ? undefined : "0x" + v.toString(16).padStart(4, "0"));
export const hex8 = (v) => (v === undefined || v === null ? undefined : "0x" + v.toString(16).padStart(2, "0"));
/** zoh reads IEEE addresses with readBigUInt64LE, so the bigint's big-endian hex IS display order. */
export const ieee = (v) => {
    if (v === undefined || v === null) return undefined;
    const h = BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, "0");
    return h.match(/../g).join(":");
};
/** inverse of ieee(): "a4:c1:...:df" -> bigint (for feeding zoh encoders) */
export const ieeeToBig = (s) => BigInt("0x" + s.replace(/:/g, ""));
export const keyHex = (b) => Buffer.from(b).toString("hex");

export const MAC_TYPES = { 0: "beacon", 1: "data", 2: "ack", 3: "command" };
export const NWK_TYPES = { 0: "data", 1: "command", 3: "inter-pan" };
export const APS_TYPES = { 0: "data", 1: "command", 2: "ack", 3: "inter-pan" };
export const APS_DELIVERY = { 0: "unicast", 1: "indirect", 2: "broadcast", 3: "group" };
export const KEY_IDS = { 0: "data", 1: "network", 2: "key-transport", 3: "key-load" };

/** Remove keys whose value is undefined (recursively for plain objects), so "omitted" means "zoh did not provide it". */
export function prune(o) {
    if (Array.isArray(o)) return o.map(prune);
    if (o && typeof o === "object" && !Buffer.isBuffer(o)) {
        const r = {};
        for (const [k, v] of Object.entries(o)) {
            if (v === undefined) continue;
            r[k] = prune(v);
        }
        return r;
    }
    return o;
}

export const jsonLine = (o) => JSON.stringify(prune(o), (_k, v) => (typeof v === "bigint" ? v.toString() : v));
