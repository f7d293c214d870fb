#!/usr/bin/env python3
"""pyspinel (PyPI, OpenThread's own Python Spinel tooling) as an independent oracle for the
zigtrust-spinel codecs. Test-only; run as a separate process by
crates/zigtrust-spinel/tests/oracle_pyspinel.rs.

Reads one JSON case per line on stdin, prints one JSON answer per line on stdout, in order.
The first output line names the oracle and its version. Cases ("op"):

  hdlc_encode   {"payload": hex}                 -> {"wire": hex}        spinel.hdlc.Hdlc.encode
  hdlc_decode   {"wire": hex}                    -> {"payload": hex|null, "eof": bool}
                                                    spinel.hdlc.Hdlc.collect (null = bad FCS)
  varint_encode {"value": int}                   -> {"hex": hex}         SpinelCodec.encode_i
  varint_decode {"hex": hex}                     -> {"value": int, "len": int}  parse_i
  pack          {"type": str, "values": [...]}   -> {"hex": hex}         encode_field per field
  unpack        {"type": str, "hex": hex}        -> {"fields": [...]}    parse_fields
  packet        {"cmd": int, "header": int, "prop": int, "type": str, "values": [...]}
                                                 -> {"hex": hex}  encode_packet(cmd,
                                                    encode_i(prop) + pack(type, values), header)

JSON values: bytes (types E, d, D) travel as hex strings, U as strings, tuples as lists.
Glue (not fixes): encode_c packs with 'B', so i8 values are passed as their unsigned byte;
encode_U returns str, so it is encoded as UTF-8 before concatenation.
"""
import json
import sys

try:
    from importlib.metadata import version
    import spinel.hdlc
    from spinel.codec import SpinelCodec
except Exception as exc:  # noqa: BLE001 - report any import failure clearly
    print(json.dumps({"error": "cannot import pyspinel (pip install pyspinel): %r" % (exc,)}))
    sys.exit(3)


class Bytes:
    """The minimal stream Hdlc.collect reads from: one byte per read()."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def read(self, _size=1):
        if self.pos >= len(self.data):
            raise EOFError
        b = self.data[self.pos]
        self.pos += 1
        return b

    def write(self, _data):
        raise NotImplementedError


def to_json(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, (tuple, list)):
        return [to_json(x) for x in v]
    return v


def pack(codec, fmt, values):
    out = b""
    for code, value in zip(fmt, values):
        if code in "EdD":
            value = bytes.fromhex(value)
        elif code == "c":
            value = value & 0xFF
        field = codec.encode_field(code, value)
        if isinstance(field, str):
            field = field.encode("utf-8")
        out += field
    return out


def answer(codec, case):
    op = case["op"]
    if op == "hdlc_encode":
        return {"wire": spinel.hdlc.Hdlc(None).encode(bytes.fromhex(case["payload"])).hex()}
    if op == "hdlc_decode":
        try:
            pkt = spinel.hdlc.Hdlc(Bytes(bytes.fromhex(case["wire"]))).collect()
        except EOFError:
            return {"payload": None, "eof": True}
        return {"payload": None if pkt is None else pkt.hex(), "eof": False}
    if op == "varint_encode":
        return {"hex": codec.encode_i(case["value"]).hex()}
    if op == "varint_decode":
        value, length = codec.parse_i(bytes.fromhex(case["hex"]))
        return {"value": value, "len": length}
    if op == "pack":
        return {"hex": pack(codec, case["type"], case["values"]).hex()}
    if op == "unpack":
        return {"fields": to_json(codec.parse_fields(bytes.fromhex(case["hex"]), case["type"]))}
    if op == "packet":
        payload = codec.encode_i(case["prop"]) + pack(codec, case["type"], case["values"])
        return {"hex": codec.encode_packet(case["cmd"], payload, tid=case["header"]).hex()}
    raise ValueError("unknown op %r" % (op,))


def main():
    codec = SpinelCodec()
    print(json.dumps({"oracle": "pyspinel", "version": version("pyspinel")}))
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            out = answer(codec, case)
        except Exception as exc:  # noqa: BLE001 - the Rust side reports it with the case
            out = {"exception": repr(exc)}
        print(json.dumps(out))


if __name__ == "__main__":
    main()
