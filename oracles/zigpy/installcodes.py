#!/usr/bin/env python3
"""Oracle for install codes: zigpy (independent Python implementation) derives link keys.

Reads JSON from stdin: {"codes": ["<hex incl CRC>", ...], "qr": ["<payload>", ...]}
Writes JSON to stdout: {"codes": [{"code":..., "key": hex | null, "error": str | null}],
                        "qr": [{"qr":..., "ieee": "aa:bb:..", "key": hex | null, "error": ...}],
                        "zigpy": "<version>"}
Errors are reported per item (zigpy raises ValueError for bad CRC/length)."""
import json
import sys
from importlib.metadata import version

import zigpy.util as u


def main():
    req = json.load(sys.stdin)
    out = {"zigpy": version("zigpy"), "codes": [], "qr": []}
    for code in req.get("codes", []):
        try:
            key = u.convert_install_code(bytes.fromhex(code))
            out["codes"].append({"code": code, "key": bytes(key).hex(), "error": None})
        except Exception as e:  # noqa: BLE001 - the error text is the oracle's answer
            out["codes"].append({"code": code, "key": None, "error": str(e)})
    for qr in req.get("qr", []):
        try:
            ieee, key = u.parse_install_code_qr(qr)
            out["qr"].append({"qr": qr, "ieee": str(ieee), "key": bytes(key).hex(), "error": None})
        except Exception as e:  # noqa: BLE001
            out["qr"].append({"qr": qr, "ieee": None, "key": None, "error": str(e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
