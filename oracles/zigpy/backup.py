#!/usr/bin/env python3
"""Oracle for Open ZigBee Coordinator Backups: zigpy's own reader and writer (zigpy.backups).

Reads one JSON value from stdin: a command object or a list of them; writes the answer (or a
list of answers, in order) as JSON to stdout.

  {"load": <backup>}        zigpy.backups.NetworkBackup.from_dict(backup), reported as
                            {"node", "network", "devices", "is_complete", "backup_time", ...}
                            with addresses as zigpy prints them (str(EUI64): "00:12:4b:..."),
                            16-bit values as ints and keys as serialize().hex().
  {"make": {...}}           builds a NetworkBackup from zigpy types and prints zigpy's
                            as_open_coordinator_json(). Params: coordinator_ieee, pan_id (int),
                            extended_pan_id, channel, channel_mask, nwk_update_id, security_level,
                            network_key {key, seq, tx_counter}, tc_link_key_tx_counter, source,
                            devices [{ieee, nwk (int|null), is_child, link_key|null}].
  {"compatible": [a, b]}    {"compatible": A.is_compatible_with(B), "supersedes": A.supersedes(B)}

A backup zigpy cannot load is an error answer {"error": "..."} (so tests see zigpy's verdict)."""
import json
import sys
from datetime import datetime, timezone
from importlib.metadata import version

import zigpy.backups
import zigpy.state
import zigpy.types as t
import zigpy.zdo.types as zdo_t


def key_hex(k):
    return k.serialize().hex()


def load(obj):
    b = zigpy.backups.NetworkBackup.from_dict(obj)
    ni, node = b.network_info, b.node_info
    keys = {k.partner_ieee: k for k in ni.key_table}
    ieees = set(ni.children) | set(ni.nwk_addresses) | set(keys)
    devices = []
    for ieee in sorted(ieees, key=str):
        k = keys.get(ieee)
        nwk = ni.nwk_addresses.get(ieee)
        devices.append({
            "ieee": str(ieee),
            "nwk": None if nwk is None else int(nwk),
            "is_child": ieee in ni.children,
            "link_key": None if k is None else {
                "key": key_hex(k.key), "tx_counter": k.tx_counter,
                "rx_counter": k.rx_counter, "seq": k.seq,
            },
        })
    return {
        "zigpy": version("zigpy"),
        "is_complete": b.is_complete(),
        "backup_time": b.backup_time.isoformat(),
        "source": ni.source,
        "node": {
            "ieee": str(node.ieee),
            "nwk": int(node.nwk),
            "logical_type": zigpy.state.LOGICAL_TYPE_TO_JSON[node.logical_type],
        },
        "network": {
            "extended_pan_id": str(ni.extended_pan_id),
            "pan_id": int(ni.pan_id),
            "nwk_update_id": int(ni.nwk_update_id),
            "nwk_manager_id": int(ni.nwk_manager_id),
            "channel": int(ni.channel),
            "channel_mask": sorted(int(c) for c in ni.channel_mask),
            "security_level": int(ni.security_level),
            "network_key": {
                "key": key_hex(ni.network_key.key),
                "seq": ni.network_key.seq,
                "tx_counter": ni.network_key.tx_counter,
            },
            "tc_link_key": {
                "key": key_hex(ni.tc_link_key.key),
                "tx_counter": ni.tc_link_key.tx_counter,
                "partner_ieee": str(ni.tc_link_key.partner_ieee),
            },
            "metadata": ni.metadata,
        },
        "devices": devices,
    }


def make(p):
    coord = t.EUI64.convert(p["coordinator_ieee"])
    key_table, children, nwks = [], [], {}
    for d in p["devices"]:
        ieee = t.EUI64.convert(d["ieee"])
        if d.get("is_child"):
            children.append(ieee)
        if d.get("nwk") is not None:
            nwks[ieee] = t.NWK(d["nwk"])
        lk = d.get("link_key")
        if lk:
            key_table.append(zigpy.state.Key(
                key=t.KeyData.convert(lk["key"]), tx_counter=lk["tx_counter"],
                rx_counter=lk["rx_counter"], seq=lk.get("seq", 0), partner_ieee=ieee,
            ))
    nk = p["network_key"]
    ni = zigpy.state.NetworkInfo(
        extended_pan_id=t.ExtendedPanId.convert(p["extended_pan_id"]),
        pan_id=t.PanId(p["pan_id"]),
        nwk_update_id=p["nwk_update_id"],
        nwk_manager_id=t.NWK(0x0000),
        channel=p["channel"],
        channel_mask=t.Channels.from_channel_list(p["channel_mask"]),
        security_level=p["security_level"],
        network_key=zigpy.state.Key(
            key=t.KeyData.convert(nk["key"]), tx_counter=nk["tx_counter"], seq=nk["seq"],
        ),
        tc_link_key=zigpy.state.Key(
            key=t.KeyData(b"ZigBeeAlliance09"), tx_counter=p.get("tc_link_key_tx_counter", 0),
            partner_ieee=coord,
        ),
        key_table=key_table,
        children=children,
        nwk_addresses=nwks,
        source=p.get("source", "zigpy-oracle"),
    )
    node = zigpy.state.NodeInfo(nwk=t.NWK(0x0000), ieee=coord,
                                logical_type=zdo_t.LogicalType.Coordinator)
    b = zigpy.backups.NetworkBackup(
        backup_time=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
        network_info=ni, node_info=node,
    )
    return b.as_open_coordinator_json()


def compatible(pair):
    a, b = (zigpy.backups.NetworkBackup.from_dict(o) for o in pair)
    return {"compatible": a.is_compatible_with(b), "supersedes": a.supersedes(b)}


def answer(cmd):
    try:
        if "load" in cmd:
            return load(cmd["load"])
        if "make" in cmd:
            return make(cmd["make"])
        if "compatible" in cmd:
            return compatible(cmd["compatible"])
        return {"error": f"unknown command {sorted(cmd)}"}
    except Exception as e:  # noqa: BLE001 - zigpy's refusal is the oracle's answer
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    req = json.load(sys.stdin)
    out = [answer(c) for c in req] if isinstance(req, list) else answer(req)
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
