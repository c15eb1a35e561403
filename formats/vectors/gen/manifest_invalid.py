# Generator of formats/vectors/invalid/manifest-*.json and manifest-README.md from
# valid/manifest-1.json. Run: python3 formats/vectors/gen/manifest_invalid.py formats/vectors
import copy, json, sys
V = sys.argv[1]
base_text = open(V + "/valid/manifest-1.json", "rb").read()
base = json.loads(base_text)

def dump(doc):
    return (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode()

def mut(f):
    d = copy.deepcopy(base); f(d); return dump(d)

def sub(old, new, count=1):
    assert base_text.count(old.encode()) >= 1, old
    return base_text.replace(old.encode(), new.encode(), count)

M, FV = "DELTA_ERR_MANIFEST", "DELTA_ERR_FORMAT_VERSION"
img = lambda d: d["images"][0]
cases = []
def add(name, data, status, what): cases.append((name, data, status, what))

add("empty", b"", M, "empty file")
add("not-json", b"manifest\n", M, "not JSON at all")
add("top-array", b"[]\n", M, "top level is an array, not an object")
add("top-string", b"\"libdelta-package\"\n", M, "top level is a string (jansson refuses it without JSON_DECODE_ANY)")
add("duplicate-key", sub('"project": "EC25EFAR06A",', '"project": "EC25EFAR06A",\n  "project": "EG91EXGAR08A",'), M, "the key \"project\" appears twice")
add("duplicate-key-nested", sub('"size": 40960', '"size": 40960,\n        "size": 1'), M, "images[0].patch.size appears twice")
add("unknown-key", mut(lambda d: d.update(comment="hello")), M, "top-level key \"comment\" is not in the format")
add("unknown-key-nested", mut(lambda d: img(d)["patch"].update(level=9)), M, "images[0].patch.level is not in the format")
add("format-version-2", mut(lambda d: d.update(format_version=2, signature_scheme="x")), FV, "format_version 2 (with a field version 1 does not know: the version error wins)")
add("format-version-0", mut(lambda d: d.update(format_version=0)), FV, "format_version 0")
add("format-version-real", sub('"format_version": 1', '"format_version": 1.0'), M, "format_version 1.0 is a real, not an integer")
add("format-version-string", sub('"format_version": 1', '"format_version": "1"'), M, "format_version is a string")
add("format-wrong", mut(lambda d: d.update(format="libdelta-pkg")), M, "format is not \"libdelta-package\"")
add("format-missing", mut(lambda d: d.pop("format")), M, "no format key")
add("size-real", sub('"size": 1048576', '"size": 1048576.0'), M, "images[0].source.size is a real")
add("size-exponent", sub('"size": 1048576', '"size": 1e6'), M, "images[0].source.size written with an exponent (a real for JSON parsers)")
add("size-negative", sub('"size": 1048576', '"size": -1'), M, "images[0].source.size is negative")
add("size-over-2g", sub('"size": 1050000', '"size": 2147483649'), M, "images[0].target.size is 2^31 + 1")
add("size-huge", sub('"size": 1048576', '"size": 99999999999999999999999'), M, "an integer beyond 64 bits (jansson refuses it)")
add("slot-over-2g", sub('"slot_size": 2097152', '"slot_size": 4294967296'), M, "images[0].slot_size is 2^32")
add("operations-over", sub('"operations": 1234', '"operations": 1099511627777'), M, "images[0].apply.operations is 2^40 + 1")
add("version-too-long", mut(lambda d: d.update(target_version="v" * 65)), M, "target_version has 65 bytes")
add("version-space", mut(lambda d: d.update(source_version="v 12")), M, "source_version contains a space")
add("version-empty", mut(lambda d: d.update(source_version="")), M, "source_version is empty")
add("project-quote", mut(lambda d: d.update(project="EC25\"x")), M, "project contains a double quote")
add("project-nul", sub('"project": "EC25EFAR06A"', '"project": "EC25\\u0000EFAR06A"'), M, "project contains an escaped NUL (jansson refuses it)")
add("project-utf8", sub('"project": "EC25EFAR06A"', '"project": "EC25\u00e9FAR06A"'), M, "project contains a non-ASCII (valid UTF-8) character")
add("bad-utf8", base_text.replace(b'"EC25EFAR06A"', b'"EC25\xff\xfeFAR06A"', 1), M, "project holds bytes that are not UTF-8")
add("bom", b"\xef\xbb\xbf" + base_text, M, "a UTF-8 byte order mark before the document")
add("bad-hex-upper", mut(lambda d: img(d)["source"].update(sha256=img(d)["source"]["sha256"].upper())), M, "images[0].source.sha256 in uppercase")
add("bad-hex-short", mut(lambda d: img(d)["target"].update(sha256=img(d)["target"]["sha256"][:63])), M, "images[0].target.sha256 has 63 digits")
add("bad-hex-char", mut(lambda d: img(d)["patch"].update(sha256="g" + img(d)["patch"]["sha256"][1:])), M, "images[0].patch.sha256 has a 'g'")
add("missing-field", mut(lambda d: img(d).pop("slot_size")), M, "images[0].slot_size is missing")
add("missing-apply-field", mut(lambda d: img(d)["apply"].pop("state_bytes")), M, "images[0].apply.state_bytes is missing")
add("wrong-type", mut(lambda d: d.update(project=25)), M, "project is a number")
add("wrong-type-images", mut(lambda d: d.update(images={"firmware": img(d)})), M, "images is an object, not an array")
add("wrong-type-patch", mut(lambda d: img(d).update(patch="firmware.ldp")), M, "images[0].patch is a string, not an object")
add("wrong-type-bool", mut(lambda d: d.update(space_needed=True)), M, "space_needed is a boolean")
add("wrong-type-null", mut(lambda d: img(d).update(name=None)), M, "images[0].name is null")
add("image-not-object", mut(lambda d: d.update(images=[1])), M, "images[0] is a number")
def seventeen(d):
    ims = []
    for i in range(17):
        im = copy.deepcopy(img(d)); im["name"] = "img%d" % i; im["patch"]["member"] = "img%d.ldp" % i; ims.append(im)
    d["images"] = ims
add("17-images", mut(seventeen), M, "17 images (the limit is 16)")
add("no-images", mut(lambda d: d.update(images=[])), M, "an empty images array")
def dup(field):
    def f(d):
        im = copy.deepcopy(img(d))
        if field == "name": im["patch"]["member"] = "other.ldp"
        else: im["name"] = "other"
        d["images"].append(im)
    return f
add("duplicate-image-name", mut(dup("name")), M, "two images named \"firmware\"")
add("duplicate-member", mut(dup("member")), M, "two images with the patch member \"firmware.ldp\"")
add("image-name-slash", mut(lambda d: img(d).update(name="a/b")), M, "images[0].name contains '/'")
add("image-name-dotdot", mut(lambda d: img(d).update(name="..")), M, "images[0].name is \"..\"")
add("member-dotdot", mut(lambda d: img(d)["patch"].update(member="../firmware.ldp")), M, "patch member with a \"..\" component")
add("member-absolute", mut(lambda d: img(d)["patch"].update(member="/firmware.ldp")), M, "patch member with a leading '/'")
add("member-double-slash", mut(lambda d: img(d)["patch"].update(member="patches//firmware.ldp")), M, "patch member with \"//\"")
add("member-reserved", mut(lambda d: img(d)["patch"].update(member="manifest.sig")), M, "patch member named manifest.sig")
add("member-too-long", mut(lambda d: img(d)["patch"].update(member="p" * 129)), M, "patch member of 129 bytes")
add("block-size-not-pow2", sub('"block_size": 4096', '"block_size": 3000'), M, "images[0].apply.block_size is not a power of two")
add("block-size-small", sub('"block_size": 4096', '"block_size": 256'), M, "images[0].apply.block_size 256 < 512")
add("block-size-large", sub('"block_size": 4096', '"block_size": 2097152'), M, "images[0].apply.block_size 2 MiB > 1 MiB")
add("space-zero", sub('"space_needed": 12288', '"space_needed": 0'), M, "space_needed is 0")
add("patch-format", mut(lambda d: img(d)["patch"].update(format="ldpatch2")), M, "patch.format is not \"ldpatch1\"")
add("compression", mut(lambda d: img(d)["patch"].update(compression="zstd")), M, "patch.compression is not lzma2 or none")
add("trailing-garbage", base_text + b"x", M, "a byte after the document")
add("two-documents", base_text + b"{}\n", M, "a second JSON value after the document")
add("truncated", base_text[:len(base_text) // 2], M, "the document cut in half")
add("nesting", sub('"project": "EC25EFAR06A"', '"project": ' + "[" * 5000 + "]" * 5000), M, "5000 nested arrays (over jansson's depth limit of 2048)")
add("nesting-shallow", sub('"project": "EC25EFAR06A"', '"project": ' + "[" * 100 + "]" * 100), M, "100 nested arrays where a string belongs")
add("too-large", base_text[:-2] + b" " * 65536 + b"}\n", M, "a valid document padded with spaces past 65536 bytes")

rows = []
for name, data, status, what in cases:
    fn = "manifest-%s.json" % name
    open(V + "/invalid/" + fn, "wb").write(data)
    rows.append("| `%s` | %s | %s |" % (fn, status, what))
readme = """# Invalid manifest vectors

Each file must be refused by `delta_manifest_parse` with exactly the status given
(`tests/test_manifest.c` reads this table and checks every row, and checks that every
`manifest-*.json` file in this folder has a row). `DELTA_ERR_MANIFEST` is 15,
`DELTA_ERR_FORMAT_VERSION` is 16; both are DFOTA 504. The rules are in `formats/manifest.md`.
Unless said otherwise a file is `valid/manifest-1.json` with one change.

| file | status | fault |
|---|---|---|
""" + "\n".join(rows) + "\n"
open(V + "/invalid/manifest-README.md", "w").write(readme)
print(len(cases), "cases")
