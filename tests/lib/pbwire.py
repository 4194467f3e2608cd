"""pbwire - a schema-less protobuf wire decoder for tests.

Decodes bytes into {field_number: [values...]} where values are ints (varint,
fixed) or bytes (length-delimited). Tests use it to read proto answers by the
field numbers of reference/pyroscope-api.md, independently of our C codec.
"""


def _varint(b, i):
    shift = v = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def decode(b):
    out = {}
    i = 0
    while i < len(b):
        tag, i = _varint(b, i)
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v = int.from_bytes(b[i:i + 8], "little")
            i += 8
        elif wt == 2:
            n, i = _varint(b, i)
            v = bytes(b[i:i + n])
            i += n
        elif wt == 5:
            v = int.from_bytes(b[i:i + 4], "little")
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def packed_varints(b):
    vals, i = [], 0
    while i < len(b):
        v, i = _varint(b, i)
        vals.append(v)
    return vals


def signed64(v):
    return v - (1 << 64) if v >= (1 << 63) else v


def encode_varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num, value):
    """Encodes one field: int -> varint, bytes/str -> length-delimited."""
    if isinstance(value, int):
        return encode_varint(num << 3) + encode_varint(value)
    if isinstance(value, str):
        value = value.encode()
    return encode_varint(num << 3 | 2) + encode_varint(len(value)) + value


def flamegraph_from_proto(b):
    """querier.v1.FlameGraph (names=1, levels=2{values=1 packed}, total=3, max_self=4)."""
    m = decode(b)
    names = [x.decode() for x in m.get(1, [])]
    levels = []
    for lv in m.get(2, []):
        lm = decode(lv)
        vals = []
        for chunk in lm.get(1, []):
            if isinstance(chunk, bytes):
                vals.extend(signed64(x) for x in packed_varints(chunk))
            else:
                vals.append(signed64(chunk))
        levels.append(vals)
    return {"names": names, "levels": levels,
            "total": signed64(m.get(3, [0])[0]), "maxSelf": signed64(m.get(4, [0])[0])}
