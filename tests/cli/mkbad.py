#!/usr/bin/env python3
"""Makes hostile variants of a good package for tests/cli/test_hostile.sh.

usage: mkbad.py CASE GOOD.zip OUT.zip [KEY.pem]

The variants are written with the container's exact layout (formats/container.md:
stored members back to back, fixed DOS time, no extra fields), so each one is
refused for the fault it carries and not for a cosmetic difference. Cases that
need a valid signature on an edited manifest re-sign it with
`openssl dgst -sha256 -sign KEY.pem`. Only the Python standard library is used.
"""
import hashlib
import json
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


def read_members(path):
    """The members of a zip as a list of [name, data, method], in order."""
    with zipfile.ZipFile(path) as z:
        return [[i.filename, z.read(i), 0] for i in z.infolist()]


def write_zip(path, members):
    """Writes members ([name, data, method]) in the container's layout; method 8 deflates."""
    out = bytearray()
    central = bytearray()
    for name, data, method in members:
        raw = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        if method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            stored = c.compress(data) + c.flush()
            need = 20
        else:
            stored = data
            need = 10
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, need, 0, method, 0, 0x21, crc,
                           len(stored), len(data), len(raw), 0) + raw + stored
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x033F, need, 0, method, 0,
                               0x21, crc, len(stored), len(data), len(raw), 0, 0, 0, 0,
                               0x81B60000, offset) + raw
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                       cd_offset, 0)
    with open(path, "wb") as f:
        f.write(out)


def member(members, name):
    for m in members:
        if m[0] == name:
            return m
    raise SystemExit("mkbad: no member " + name)


def manifest_of(members):
    return json.loads(member(members, MANIFEST)[1])


def patch_name(members):
    return manifest_of(members)["images"][0]["patch"]["member"]


def set_manifest(members, doc, key):
    """Replaces the manifest (canonical form) and re-signs it with key."""
    data = (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode()
    member(members, MANIFEST)[1] = data
    if key is None:
        raise SystemExit("mkbad: this case needs KEY.pem to re-sign")
    with tempfile.NamedTemporaryFile() as msg:
        msg.write(data)
        msg.flush()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, msg.name],
                             check=True, stdout=subprocess.PIPE).stdout
    member(members, SIGNATURE)[1] = sig


def fix_patch_header_crc(patch):
    """Recomputes the ldpatch1 header CRC (formats/patch.md: bytes 0..59 + segment table)."""
    segments = struct.unpack_from("<I", patch, 36)[0]
    table = patch[64:64 + 36 * segments]
    crc = zlib.crc32(bytes(patch[:60]) + bytes(table)) & 0xFFFFFFFF
    struct.pack_into("<I", patch, 60, crc)


def main():
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    case, good, out = sys.argv[1:4]
    key = sys.argv[4] if len(sys.argv) == 5 else None
    raw = open(good, "rb").read()

    if case == "notzip":
        open(out, "wb").write(b"this is not a zip archive\n" * 64)
        return
    if case == "empty":
        open(out, "wb").write(b"")
        return
    if case == "truncated":
        open(out, "wb").write(raw[: len(raw) // 2])
        return

    members = read_members(good)
    pname = patch_name(members)
    if case == "identity":
        pass
    elif case == "flip":
        p = bytearray(member(members, pname)[1])
        p[len(p) // 2] ^= 0x01
        member(members, pname)[1] = bytes(p)
        # keep the zip's CRC consistent with the flipped data: only the manifest's SHA-256 catches it
    elif case == "edit-manifest":
        m = member(members, MANIFEST)
        m[1] = m[1].replace(b'"target_version": "', b'"target_version": "X', 1)
    elif case == "nosig":
        members = [m for m in members if m[0] != SIGNATURE]
    elif case == "cut-sig":
        s = member(members, SIGNATURE)
        s[1] = s[1][:-1]
    elif case == "extra":
        members.append(["extra.bin", b"not in the manifest\n", 0])
    elif case == "missing-patch":
        members = [m for m in members if m[0] != pname]
    elif case == "duplicate":
        members.append([pname, member(members, pname)[1], 0])
    elif case == "evil-name":
        members.append(["../evil", b"#!/bin/sh\n", 0])
    elif case == "deflated":
        member(members, pname)[2] = 8
    elif case == "source-size":
        p = bytearray(member(members, pname)[1])
        size = struct.unpack_from("<Q", p, 8)[0]
        struct.pack_into("<Q", p, 8, size + 4096)
        fix_patch_header_crc(p)
        member(members, pname)[1] = bytes(p)
        doc = manifest_of(members)
        doc["images"][0]["patch"]["sha256"] = hashlib.sha256(p).hexdigest()
        doc["images"][0]["patch"]["size"] = len(p)
        set_manifest(members, doc, key)
    elif case == "format-version":
        doc = manifest_of(members)
        doc["format_version"] = 2
        set_manifest(members, doc, key)
    else:
        raise SystemExit("mkbad: unknown case " + case)
    write_zip(out, members)


if __name__ == "__main__":
    main()
