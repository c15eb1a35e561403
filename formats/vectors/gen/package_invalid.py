#!/usr/bin/env python3
# Generator of formats/vectors/invalid/pkg-*.zip and packages.tsv: hostile packages.
#
#   python3 formats/vectors/gen/package_invalid.py        (from the repository root)
#
# Starts from the valid packages made through the library by fuzz/make_seeds
# (formats/vectors/valid/package-{lzma2,none}.zip: 8 KiB of cityhub-7.27.0 ->
# 7.28.0, 1 KiB blocks, signed with tests/data/keys/ec-p256.pem) and edits them
# with nothing but the Python standard library; an edited manifest is re-signed
# with `openssl dgst -sha256 -sign` (ECDSA is randomised there, so re-running
# changes the signatures of the re-signed vectors, not their verdicts).
# tests/test_vectors.c opens every row with its device options and asserts the
# exact status and DFOTA code.
import json, os, struct, subprocess, sys, tempfile, zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
V = os.path.join(ROOT, "formats", "vectors")
KEY = os.path.join(ROOT, "tests", "data", "keys", "ec-p256.pem")
OTHER_KEY = os.path.join(ROOT, "tests", "data", "keys", "ec-p256-other.pem")

# ---- the container (formats/container.md): a reader for our layout, a writer of it ----

def read_zip(data):
    """Members (name, bytes) in central directory order of a valid package."""
    (sig, _, _, _, n, cd_size, cd_off, _) = struct.unpack_from("<IHHHHIIH", data, len(data) - 22)
    assert sig == 0x06054B50
    out, p = [], cd_off
    for _ in range(n):
        f = struct.unpack_from("<IHHHHHHIIIHHHHHII", data, p)
        size, nlen, lho = f[8], f[10], f[16]
        name = data[p + 46:p + 46 + nlen]
        lnlen = struct.unpack_from("<H", data, lho + 26)[0]
        out.append((name, data[lho + 30 + lnlen:lho + 30 + lnlen + size]))
        p += 46 + nlen
    return out

def local_header(name, data, crc=None, method=0, csize=None, usize=None):
    crc = zlib.crc32(data) if crc is None else crc
    csize = len(data) if csize is None else csize
    usize = len(data) if usize is None else usize
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 10, 0, method, 0, 0x21, crc, csize, usize, len(name), 0) + name

def central_entry(name, data, offset, crc=None, method=0, csize=None, usize=None):
    crc = zlib.crc32(data) if crc is None else crc
    csize = len(data) if csize is None else csize
    usize = len(data) if usize is None else usize
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x033F, 10, 0, method, 0, 0x21, crc, csize, usize,
                       len(name), 0, 0, 0, 0, 0x81B60000, offset) + name

def eocd(n, cd_size, cd_off, comment=b""):
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_off, len(comment)) + comment

def write_zip(members, comment=b""):
    """members: (name, data) or dicts with name, data and optional stored/crc/method/local_name."""
    body, cd = b"", b""
    for m in members:
        if isinstance(m, tuple):
            m = {"name": m[0], "data": m[1]}
        stored = m.get("stored", m["data"])
        kw = {k: m[k] for k in ("crc", "method", "usize") if k in m}
        if "method" in m:
            kw["csize"] = len(stored)
            kw.setdefault("crc", zlib.crc32(m["data"]))
            kw.setdefault("usize", len(m["data"]))
        off = len(body)
        body += local_header(m.get("local_name", m["name"]), stored, **kw) + stored
        cd += central_entry(m["name"], stored, off, **kw)
    return body + cd + eocd(len(members), len(cd), len(body), comment)

# ---- manifest, signature, patch ----

def sign(manifest, key=KEY):
    with tempfile.NamedTemporaryFile() as f:
        f.write(manifest)
        f.flush()
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, f.name], check=True,
                              stdout=subprocess.PIPE).stdout

def dump(doc):
    return (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode()

def sha(b):
    import hashlib
    return hashlib.sha256(b).hexdigest()

def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def svarint(d):
    return uvarint((d << 1) ^ (d >> 63) if d < 0 else d << 1)

def ldpatch(source_size, target_size, block, flags, stash, op_count, ctrl, diff, extra, segments=None):
    """An ldpatch1 patch with no compression and one segment (or the given segment entries)."""
    streams = ctrl + diff + extra
    seg = struct.pack("<QIIIIIII", 0, len(ctrl), len(diff), len(extra), len(ctrl), len(diff), len(extra),
                      zlib.crc32(streams)) if segments is None else segments
    nseg = len(seg) // 36
    max_stream = max(len(ctrl), len(diff), len(extra))
    head = b"LDPATCH1" + struct.pack("<QQIBBHIIIIQI", source_size, target_size, block, 0, flags, 0, 0, nseg, stash,
                                     max_stream, op_count, NONE_BATCH)
    return head + struct.pack("<I", zlib.crc32(head + seg)) + seg + streams

# ---- the bases ----

def load(name):
    return open(os.path.join(V, "valid", name), "rb").read()

BASE = load("package-lzma2.zip")
NONE = load("package-none.zip")
SOURCE = load("package-source.bin")
members = dict(read_zip(BASE))
MAN, SIG, LDP = members[b"manifest.json"], members[b"manifest.sig"], members[b"firmware.ldp"]
DOC = json.loads(MAN)
NONE_MEMBERS = dict(read_zip(NONE))
NONE_DOC = json.loads(NONE_MEMBERS[b"manifest.json"])
NONE_LDP = NONE_MEMBERS[b"firmware.ldp"]
assert NONE_LDP[:8] == b"LDPATCH1"
NONE_STASH = struct.unpack_from("<I", NONE_LDP, 40)[0]
NONE_BATCH = struct.unpack_from("<I", NONE_LDP, 56)[0]  # batch_blocks: the manifest's scratch/state follow it

DEV = "key=ec-p256.pub project=PYBRICKS-CITYHUB version=v7.27.0"
SRC = DEV + " source=valid/package-source.bin"

def pkg(manifest=MAN, sig=SIG, patch=LDP, key=KEY, resign=True, extra=()):
    if resign and (manifest is not MAN or key != KEY):
        sig = sign(manifest, key)
    ms = [(b"manifest.json", manifest)]
    if sig is not None:
        ms.append((b"manifest.sig", sig))
    ms.append((b"firmware.ldp", patch))
    return write_zip(ms + list(extra))

def edited(fn, doc=DOC):
    d = json.loads(json.dumps(doc))
    fn(d)
    return dump(d)

def space_needed(d):
    """The state area's size (formats/update.md): manifest copy, work area, patch copies, backups, journal."""
    up = lambda v, a: (v + a - 1) // a * a
    ims = d["images"]
    off = up(65536 + max(im["apply"]["scratch_bytes"] for im in ims), 4096)
    for im in ims:
        off += up(im["patch"]["size"], 4096)
    for im in ims:
        bs = im["apply"]["block_size"]
        tail = max(0, up(im["source"]["size"], bs) // bs - up(im["target"]["size"], bs) // bs)
        off += (tail + im["apply"]["blocks_written"]) * bs
    return off + max(im["apply"]["state_bytes"] for im in ims)

def with_patch(patch, doc=NONE_DOC, ops=None, stash=None, **changes):
    """A re-signed package whose patch member is `patch`, the manifest updated to match it."""
    def f(d):
        im = d["images"][0]
        im["patch"]["size"] = len(patch)
        im["patch"]["sha256"] = sha(patch)
        if ops is not None:
            im["apply"]["operations"] = ops
        for k, v in changes.items():
            im["apply"][k] = v
        d["space_needed"] = space_needed(d)
    m = edited(f, doc)
    return pkg(manifest=m, patch=patch)

assert write_zip(read_zip(BASE)) == BASE, "the writer here must reproduce the library's bytes"
assert space_needed(NONE_DOC) == NONE_DOC["space_needed"], "the layout here must be the library's"

rows = []
def add(name, data, status, code, options, what):
    if data is not None:
        open(os.path.join(V, "invalid", "pkg-%s.zip" % name), "wb").write(data)
        name = "pkg-%s.zip" % name
    rows.append((name, code, status, options, what))

E504 = 504
# ---- the control rows: the valid packages open (and their source checks) ----
add("../valid/package-lzma2.zip", None, "DELTA_OK", 0, SRC, "control: the valid LZMA2 package")
add("../valid/package-none.zip", None, "DELTA_OK", 0, SRC, "control: the valid package with no compression")

# ---- the container ----
add("empty", b"", "DELTA_ERR_ZIP", E504, DEV, "an empty file")
add("bad-magic", b"PK\x05\x05" + BASE[4:], "DELTA_ERR_ZIP", E504, DEV, "the first local header's signature is wrong")
add("not-zip", b"LDPATCH1" + bytes(100), "DELTA_ERR_ZIP", E504, DEV, "not a zip at all (a patch header)")
add("truncated", BASE[:len(BASE) // 2], "DELTA_ERR_ZIP", E504, DEV, "the first half of a valid package")
add("truncated-end", BASE[:-1], "DELTA_ERR_ZIP", E504, DEV, "the last byte of the end record is cut off")
add("no-eocd", BASE[:-22], "DELTA_ERR_ZIP", E504, DEV, "no end-of-central-directory record")
fake = eocd(3, 0, 0)
add("fake-eocd-in-comment", BASE[:-2] + struct.pack("<H", len(fake)) + fake, "DELTA_ERR_ZIP", E504, DEV,
    "the archive comment holds a second, fake end record")
add("trailing-data", BASE + b"\0" * 16, "DELTA_ERR_ZIP", E504, DEV, "16 bytes after the end record")
add("prepended-data", b"MZ" + b"\0" * 62 + BASE, "DELTA_ERR_ZIP", E504, DEV, "64 bytes before the first member (offsets not shifted)")
i = BASE.index(LDP) + 100
add("member-flipped", BASE[:i] + bytes([BASE[i] ^ 1]) + BASE[i + 1:], "DELTA_ERR_MEMBER_DATA", E504, DEV,
    "one bit of the patch member flipped (its CRC-32 no longer matches)")
changed = bytearray(LDP)
changed[100] ^= 1
add("member-changed-crc-fixed", pkg(patch=bytes(changed)), "DELTA_ERR_MEMBER_DATA", E504, DEV,
    "one bit of the patch member flipped and both CRC-32 fields fixed: the manifest's SHA-256 catches it")
add("manifest-edited", pkg(manifest=MAN.replace(b'"v7.27.0"', b'"v7.26.0"'), resign=False),
    "DELTA_ERR_SIGNATURE", E504, DEV.replace("v7.27.0", "v7.26.0"),
    "source_version edited after signing (CRCs fixed, old signature kept)")
add("signature-missing", pkg(sig=None), "DELTA_ERR_SIGNATURE", E504, DEV, "no manifest.sig, and the device has a key")
add("wrong-key", pkg(key=OTHER_KEY), "DELTA_ERR_SIGNATURE", E504, DEV,
    "signed with ec-p256-other, the device holds ec-p256")
add("signature-garbage", pkg(sig=b"\x30\x44" + bytes(68)), "DELTA_ERR_SIGNATURE", E504, DEV,
    "manifest.sig is a DER header over zeros")
add("signature-too-large", pkg(sig=SIG + bytes(1100)), "DELTA_ERR_SIGNATURE", E504, DEV,
    "manifest.sig of 1100+ bytes (limit 1024)")
# Strict DER (formats/signature.md): the package's own valid signature re-encoded with the same r and
# s, so no re-signing; mbedTLS alone verifies both.
assert SIG[0] == 0x30 and SIG[1] == len(SIG) - 2 < 128 and SIG[2] == 0x02
R = SIG[4:4 + SIG[3]]
assert SIG[4 + len(R)] == 0x02
S_ = SIG[6 + len(R):]
assert len(S_) == SIG[5 + len(R)]
add("signature-der-long-length", pkg(sig=b"\x30\x81" + SIG[1:]), "DELTA_ERR_SIGNATURE", E504, DEV,
    "manifest.sig's SEQUENCE length in long form (30 81 nn): not strict DER, same r and s")
def der_int(v):
    return b"\x02" + bytes([len(v)]) + v
def der_sig(r, s):
    body = der_int(r) + der_int(s)
    return b"\x30" + bytes([len(body)]) + body
if S_[0] == 0 or R[0] == 0:
    # An INTEGER without the 0x00 its top bit needs: negative, of the same magnitude.
    which = "s" if S_[0] == 0 else "r"
    bad = der_sig(R, S_[1:]) if which == "s" else der_sig(R[1:], S_)
    add("signature-der-negative", pkg(sig=bad), "DELTA_ERR_SIGNATURE", E504, DEV,
        "manifest.sig's %s without the 0x00 its top bit needs (a negative INTEGER of the same magnitude)" % which)
else:
    # Neither needs a pad: a needless leading 0x00 on r is not minimal.
    add("signature-der-negative", pkg(sig=der_sig(b"\x00" + R, S_)), "DELTA_ERR_SIGNATURE", E504, DEV,
        "manifest.sig's r with a needless leading 0x00 (not minimal; r's top bit is clear)")
add("duplicate-member", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG), (b"firmware.ldp", LDP),
                                   (b"manifest.json", MAN)]), "DELTA_ERR_MEMBERS", E504, DEV,
    "manifest.json twice")
add("local-central-mismatch", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG),
                                         {"name": b"firmware.ldp", "data": LDP, "local_name": b"firmware.ldq"}]),
    "DELTA_ERR_ZIP", E504, DEV, "the local header names firmware.ldq, the central directory firmware.ldp")
# Overlap: the patch member's local header and data lie inside an extra member's data.
inner = local_header(b"firmware.ldp", LDP) + LDP
body = local_header(b"manifest.json", MAN) + MAN
body += local_header(b"manifest.sig", SIG) + SIG
outer_off = len(body)
body += local_header(b"outer.bin", inner) + inner
cd = central_entry(b"manifest.json", MAN, 0) + central_entry(b"manifest.sig", SIG, 30 + 13 + len(MAN))
cd += central_entry(b"outer.bin", inner, outer_off)
cd += central_entry(b"firmware.ldp", LDP, outer_off + 30 + 9)
add("overlap", body + cd + eocd(4, len(cd), len(body)), "DELTA_ERR_ZIP", E504, DEV,
    "firmware.ldp lies inside the data of another member (outer.bin)")
add("name-dotdot", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG), (b"firmware.ldp", LDP),
                              (b"../evil.sh", b"#!/bin/sh\n")]), "DELTA_ERR_MEMBER_NAME", E504, DEV,
    "an extra member named ../evil.sh")
add("name-absolute", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG), (b"firmware.ldp", LDP),
                                (b"/etc/passwd", b"root::0:0::/:/bin/sh\n")]), "DELTA_ERR_MEMBER_NAME", E504, DEV,
    "an extra member named /etc/passwd")
add("name-nul", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG), (b"firmware.ldp", LDP),
                           (b"firmware.ldp\0.txt", b"x")]), "DELTA_ERR_MEMBER_NAME", E504, DEV,
    "an extra member whose name holds a NUL byte")
bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
bomb_data = bomb.compress(bytes(64 << 20)) + bomb.flush()
add("deflate-bomb", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG), (b"firmware.ldp", LDP),
                               {"name": b"bomb.bin", "data": b"", "stored": bomb_data, "method": 8,
                                "crc": zlib.crc32(bytes(64 << 20)), "usize": 64 << 20}]),
    "DELTA_ERR_ZIP", E504, DEV, "an extra deflated member that inflates %d bytes to 64 MiB" % len(bomb_data))
add("deflate-member", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG),
                                 {"name": b"firmware.ldp", "data": LDP,
                                  "stored": zlib.compress(LDP)[2:-4], "method": 8}]),
    "DELTA_ERR_ZIP", E504, DEV, "the patch member deflated (only stored members are allowed)")
add("unlisted-member", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG), (b"firmware.ldp", LDP),
                                  (b"README.txt", b"hello\n")]), "DELTA_ERR_MEMBERS", E504, DEV,
    "a member the manifest does not list (README.txt)")
add("listed-member-missing", write_zip([(b"manifest.json", MAN), (b"manifest.sig", SIG)]), "DELTA_ERR_MEMBERS",
    E504, DEV, "firmware.ldp, named by the manifest, is missing")
add("manifest-missing", write_zip([(b"manifest.sig", SIG), (b"firmware.ldp", LDP)]), "DELTA_ERR_MEMBERS", E504, DEV,
    "no manifest.json")

# ---- the manifest, re-signed ----
add("manifest-not-json", pkg(manifest=b"this is not json\n"), "DELTA_ERR_MANIFEST", E504, DEV,
    "manifest.json is not JSON (validly signed)")
big = edited(lambda d: d.update(created_by="x" * 64)).replace(b"{", b"{" + b" " * 70000, 1)
add("manifest-too-large", pkg(manifest=big), "DELTA_ERR_MANIFEST", E504, DEV,
    "manifest.json of over 64 KiB (whitespace), validly signed")
add("size-over-2g", pkg(manifest=edited(lambda d: d["images"][0]["target"].update(size=(1 << 31) + 1))),
    "DELTA_ERR_MANIFEST", E504, DEV, "target.size 2^31 + 1, re-signed")
add("patch-size-4g", pkg(manifest=edited(lambda d: d["images"][0]["patch"].update(size=(1 << 32) + len(LDP)))),
    "DELTA_ERR_MANIFEST", E504, DEV, "patch.size 2^32 + the real size (a 32-bit truncation would match), re-signed")
add("version-too-long", pkg(manifest=edited(lambda d: d.update(target_version="v" * 65))),
    "DELTA_ERR_MANIFEST", E504, DEV, "target_version of 65 bytes, re-signed")
add("project-too-long", pkg(manifest=edited(lambda d: d.update(project="P" * 4096))),
    "DELTA_ERR_MANIFEST", E504, DEV.replace("PYBRICKS-CITYHUB", "P" * 8), "project of 4096 bytes, re-signed")
add("format-version-2", pkg(manifest=edited(lambda d: d.update(format_version=2))),
    "DELTA_ERR_FORMAT_VERSION", E504, DEV, "format_version 2, re-signed")
add("manifest-apply-mismatch", pkg(manifest=edited(lambda d: d["images"][0]["apply"].update(
    operations=d["images"][0]["apply"]["operations"] + 1))), "DELTA_ERR_MANIFEST", E504, DEV,
    "apply.operations one more than the patch header's, re-signed")
add("space-needed-mismatch", pkg(manifest=edited(lambda d: d.update(space_needed=d["space_needed"] - 1))),
    "DELTA_ERR_MANIFEST", E504, DEV, "space_needed one less than the patches need, re-signed")

# ---- the device (505, 511, 510, 550) ----
add("wrong-project", pkg(manifest=edited(lambda d: d.update(project="EC25EFAR06A"))), "DELTA_ERR_PROJECT", 505, DEV,
    "made for project EC25EFAR06A, the device is PYBRICKS-CITYHUB (re-signed)")
add("wrong-version", pkg(manifest=edited(lambda d: d.update(source_version="v7.26.0"))), "DELTA_ERR_VERSION", 505,
    DEV, "updates v7.26.0, the device runs v7.27.0 (re-signed)")
add("source-mismatch", pkg(manifest=edited(lambda d: d["images"][0]["source"].update(sha256="0" * 64))),
    "DELTA_ERR_SOURCE", 510, SRC, "source.sha256 is not the device's image (re-signed); needs the source file")
add("source-size-mismatch", pkg(manifest=edited(lambda d: d["images"][0]["source"].update(size=8191))),
    "DELTA_ERR_MANIFEST", E504, SRC,
    "source.size one less, re-signed: the patch header disagrees, 504 before the device's 510")
add("../valid/package-lzma2.zip", None, "DELTA_ERR_SOURCE", 510, DEV + " source=valid/package-target.bin",
    "the valid package against another image of the same size")
add("slot-too-small", pkg(manifest=edited(lambda d: d["images"][0].update(slot_size=4096))), "DELTA_ERR_SLOT", 511,
    DEV, "slot_size 4096 for an 8192-byte target (re-signed)")
add("../valid/package-lzma2.zip", None, "DELTA_ERR_SPACE", 511, DEV + " free=4096",
    "the valid package on a device with 4096 bytes free")
add("../valid/package-lzma2.zip", None, "DELTA_ERR_TOO_LARGE", 550, DEV + " max=1024",
    "the valid package on a device that takes at most 1024 bytes")

# ---- crafted ldpatch1 patches, no compression (formats/patch.md), manifests re-signed ----
S, B = 8192, 1024
def block_cmd(k, pieces):
    return b"\x01" + uvarint(k) + pieces
def copy(length, d):
    return uvarint(length << 1) + svarint(d)
def literal(length):
    return uvarint(length << 1 | 1)
# The control: BLOCK 0 copies source block 0 with a zero diff; it proves and opens.
ctrl = block_cmd(0, copy(B, 0))
add("crafted-control", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, ctrl, bytes(B), b""), ops=1, blocks_written=1),
    "DELTA_OK", 0, DEV, "control for the crafted rows: one BLOCK copying source block 0 (opens; 510 if applied)")
add("copy-past-source", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, block_cmd(0, copy(B, S - B + 1)), bytes(B), b""),
                                   ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "a COPY of 1024 bytes from source offset 7169 runs past the 8192-byte source")
add("copy-before-source", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, block_cmd(0, copy(B, -1)), bytes(B), b""),
                                     ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "a COPY from source offset -1")
add("block-past-target", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, block_cmd(8, literal(B)), b"", bytes(B)),
                                    ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "BLOCK 8 of an 8-block target")
add("piece-past-block", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, block_cmd(7, literal(B + 1)), b"", bytes(B + 1)),
                                   ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "a LITERAL of 1025 bytes in a 1024-byte block (past the end of the target)")
add("stream-short", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, block_cmd(0, literal(B)), b"", bytes(B - 1)),
                               ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "the extra stream holds 1023 of the 1024 bytes a LITERAL takes")
add("varint-10-bytes", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, b"\x01" + b"\x80" * 9 + b"\x00" + literal(B),
                                          b"", bytes(B)), ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "BLOCK's operand is a 10-byte varint (0 padded with continuation bytes)")
add("varint-unterminated", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, b"\x01" + b"\xff" * 12, b"", b""),
                                      ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "BLOCK's operand: 12 bytes with the continuation bit set")
add("svarint-huge", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, block_cmd(0, copy(B, (1 << 61))), bytes(B), b""),
                               ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "a COPY delta of 2^61 (a 9-byte svarint)")
add("svarint-10-bytes", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, block_cmd(0, copy(B, (1 << 62))), bytes(B), b""),
                                   ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "a COPY delta of 2^62: its zigzag code 2^63 needs a 10-byte varint")
add("svarint-wrap", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 2,
                                       block_cmd(0, copy(B, 0)) + block_cmd(1, copy(B, -(1 << 62))), bytes(2 * B), b""),
                               ops=2, blocks_written=2),
    "DELTA_ERR_PATCH", E504, DEV, "a COPY delta of -2^62 after a copy ending at 1024 (would wrap)")
add("tag-huge", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, b"\x01\x00" + uvarint((1 << 62) | 1), b"", b""),
                           ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "a piece of 2^61 bytes")
add("unknown-command", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, b"\x07\x00", b"", b""), ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "command byte 0x07")
add("stash-slot-out-of-range", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 2, b"\x02\x00" + uvarint(NONE_STASH)
                                                  + block_cmd(0, copy(B, 0)), bytes(B), b""), ops=2, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "STASH into slot %d of %d" % (NONE_STASH, NONE_STASH))
swap = block_cmd(0, copy(B, B)) + b"\x04" + block_cmd(1, copy(B, -2 * B))
add("read-after-overwrite", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 3, swap, bytes(2 * B), b""), ops=3,
                                       blocks_written=2),
    "DELTA_ERR_PLAN", E504, DEV, "a swap split by a COMMIT: BLOCK 1 reads source block 0, which BLOCK 0 overwrote "
    "in the batch before, with no stash")
add("double-block", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 2, block_cmd(2, literal(B)) + block_cmd(2, literal(B)),
                                       b"", bytes(2 * B)), ops=2, blocks_written=2),
    "DELTA_ERR_PLAN", E504, DEV, "block 2 produced twice")
add("op-count-huge", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1 << 40, ctrl, bytes(B), b""), ops=1 << 40,
                                blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "op_count 2^40 in the header and the manifest (re-signed)")
# The op_count cap (formats/patch.md): at most 4 commands per target block. At the limit, the
# writer's worst case: each of the 8 blocks in its own batch with a stash, STASH k 0, BLOCK k,
# FREE 0, COMMIT (one stash slot: the manifest's scratch and space follow). One more command (an
# empty COMMIT, which the proof alone lets through) is refused by the header check.
four = b"".join(b"\x02" + uvarint(k) + b"\x00" + block_cmd(k, copy(B, 0)) + b"\x03\x00\x04" for k in range(8))
STASH_DOC = json.loads(json.dumps(NONE_DOC))
STASH_DOC["space_needed"] = (NONE_BATCH + 1) * B + 4096
def stashed(ctrl, ops):
    return with_patch(ldpatch(S, S, B, 1, 1, ops, ctrl, bytes(8 * B), b""), doc=STASH_DOC, ops=ops,
                      blocks_written=8, scratch_bytes=(2 * NONE_BATCH + 1) * B, state_bytes=4096)
add("op-count-limit", stashed(four, 32), "DELTA_OK", 0, DEV,
    "control: op_count 32 for 8 blocks (the limit, 4 per block): STASH, BLOCK, FREE, COMMIT per block; opens")
add("op-count-over", stashed(four + b"\x04", 33), "DELTA_ERR_PATCH", E504, DEV,
    "op_count 33 for 8 blocks (limit 32): the same plan and one empty COMMIT")
bad_magic = bytearray(NONE_LDP)
bad_magic[7:8] = b"2"
add("patch-bad-magic", with_patch(bytes(bad_magic)), "DELTA_ERR_PATCH", E504, DEV,
    "patch magic LDPATCH2 (manifest hash updated, re-signed)")
bad_crc = bytearray(NONE_LDP)
bad_crc[60] ^= 1
add("patch-header-crc", with_patch(bytes(bad_crc)), "DELTA_ERR_PATCH", E504, DEV,
    "patch header CRC-32 off by one bit (manifest hash updated, re-signed)")
add("patch-truncated", with_patch(NONE_LDP[:-1]), "DELTA_ERR_PATCH", E504, DEV,
    "the patch's last byte cut off (manifest hash and size updated, re-signed)")
add("patch-segments-huge", with_patch(ldpatch(S, S, B, 1, NONE_STASH, 1, ctrl, bytes(B), b"",
                                              segments=struct.pack("<QIIIIIII", 0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
                                                                   0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)),
                                      ops=1, blocks_written=1),
    "DELTA_ERR_PATCH", E504, DEV, "a segment declaring 4 GiB streams")

with open(os.path.join(V, "invalid", "packages.tsv"), "w") as f:
    f.write("file\tdfota\tstatus\toptions\tdescription\n")
    for r in rows:
        f.write("%s\t%d\t%s\t%s\t%s\n" % r)
print("%d rows, %d hostile package files" % (len(rows), sum(1 for r in rows if r[0].startswith("pkg-"))))
