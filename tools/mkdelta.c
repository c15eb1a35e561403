/* mkdelta: makes a delta package (or a BSDIFF40 patch) from two firmware builds. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "libdelta/container.h"
#include "libdelta/sign.h"
#include "libdelta/fileio.h"
#include "libdelta/package.h"
#include "libdelta/sign.h"

enum {
    OPT_PROJECT = 1, OPT_FROM, OPT_TO, OPT_KEY, OPT_OUTPUT, OPT_IMAGE, OPT_FORMAT,
    OPT_BLOCK_SIZE, OPT_SEGMENT_SIZE, OPT_MAX_STASH,
    OPT_BATCH_BLOCKS, OPT_SLOT_SIZE, OPT_MAX_MEMORY,
    OPT_NO_INPLACE, OPT_COMPRESSION, OPT_WINDOW, OPT_DEVICE_RAM, OPT_DEVICE_HEADER, OPT_ARCH, OPT_JSON,
    OPT_FORCE, OPT_PROGRESS, OPT_SIGN, OPT_SIGN_COMMAND, OPT_PUBKEY
};

static const cli_option options[] = {
    {OPT_PROJECT, 0, "project", "ID", "project ID of the device (package format)"},
    {OPT_FROM, 0, "from", "VERSION", "source firmware version (package format)"},
    {OPT_TO, 0, "to", "VERSION", "target firmware version (package format)"},
    {OPT_KEY, 0, "key", "PEM", "sign with this private key (EC P-256 or RSA 2048..4096)"},
    {OPT_SIGN_COMMAND, 0, "sign-command", "CMD",
     "sign with CMD instead of --key: /bin/sh -c CMD gets the manifest on its stdin and prints "
     "the DER signature on its stdout"},
    {OPT_SIGN, 0, "sign", "PKG",
     "add a signature (--key or --sign-command) to the unsigned package PKG, changing nothing else"},
    {OPT_PUBKEY, 0, "pubkey", "PEM", "check the new signature with this public key before writing"},
    {OPT_OUTPUT, 'o', "output", "FILE", "write the package or patch here, - for stdout (required)"},
    {OPT_FORCE, 'f', "force", NULL, "overwrite an existing output; write a package to a terminal"},
    {OPT_IMAGE, 0, "image", "NAME=OLD:NEW", "an image of a multi-image package (repeat)"},
    {OPT_FORMAT, 0, "format", "FORMAT", "package (default) or bsdiff40 (a standard BSDIFF40 patch)"},
    {OPT_BLOCK_SIZE, 0, "block-size", "BYTES", "erase block of the device (4096)"},
    {OPT_SEGMENT_SIZE, 0, "segment-size", "BYTES", "target bytes per compressed segment (8M)"},
    {OPT_MAX_STASH, 0, "max-stash", "N", "stash slots the in-place plan may use (256; at most 1024)"},
    {OPT_BATCH_BLOCKS, 0, "batch-blocks", "N", "blocks the device commits at once in place (128; 1..256)"},
    {OPT_SLOT_SIZE, 0, "slot-size", "[NAME=]BYTES",
     "the device region of an image (default: max(old, new) rounded up to the block)"},
    {OPT_MAX_MEMORY, 0, "max-memory", "BYTES", "cap on the diff's working memory"},
    {OPT_NO_INPLACE, 0, "no-inplace", NULL,
     "target-order patch (benchmarks only: applies only out of place)"},
    {OPT_COMPRESSION, 0, "compression", "lzma2|lzrc|none",
     "patch compression (lzma2; lzrc: the device codec, decoded in a few KiB)"},
    {OPT_WINDOW, 0, "window", "BYTES", "lzrc window, a power of two in 256..64K (1K)"},
    {OPT_DEVICE_HEADER, 0, "device-header", "FILE",
     "also write the signed device header of a single-image package (formats/device-header.md; needs --key)"},
    {OPT_DEVICE_RAM, 0, "device-ram", "BYTES",
     "device profile: the patcher's workspace on the device; picks lzrc with the largest window that "
     "fits, batches of 4 blocks and 4 stash slots (unless given), and fails when a patch does not fit"},
    {OPT_ARCH, 0, "arch", "auto|thumb2|x86-64|aarch64|none",
     "predict the references of this machine code (auto: detected, kept where the patch gets smaller)"},
    {OPT_JSON, 0, "json", NULL, "print a JSON report on stdout (schema libdelta-mkdelta/1)"},
    {OPT_PROGRESS, 0, "progress", NULL, "report each step on stderr even when it is not a terminal"},
    CLI_COMMON_OPTIONS
};

static const char exit_help[] =
    "  0   the package was written\n"
    "  1   a failure (an input cannot be read, the output exists, a key or the\n"
    "      --sign-command cannot be used, ...)\n"
    "  2   out of memory (502)\n"
    "  4   504: the package to --sign is not valid, or the new signature does\n"
    "      not verify with --pubkey\n"
    "  64  usage error\n";

typedef struct args {
    cli *c;
    const char *project, *from, *to, *key, *output, *format, *sign, *sign_command, *pubkey;
    int force, progress;
    cli_named_list images;  /* NAME=OLD:NEW */
    cli_named_list slots;   /* [NAME=]BYTES */
    delta_patch_options patch;
    delta_diff_options diff;
    uint32_t window; /* --window (lzrc) */
    uint64_t device_ram; /* --device-ram: the workspace budget (0: none) */
    int batch_set, stash_set;
    const char *device_header; /* --device-header FILE */
} args;

/* The workspace a device needs for an LZRC patch with these parameters
 * (the library's own formula, delta_apply_workspace_size). */
static uint64_t device_workspace(uint32_t block_size, uint32_t window, uint64_t map_entries)
{
    delta_patch_info info;
    memset(&info, 0, sizeof info);
    info.block_size = block_size;
    info.compression = DELTA_COMPRESSION_LZRC;
    info.dict_size = window;
    info.max_stream = DELTA_PATCH_MAX_SEGMENT;
    info.flags = map_entries ? DELTA_PATCH_PREDICT : 0;
    info.map_entries = (uint32_t)(map_entries > 65535 ? 65535 : map_entries);
    return delta_apply_workspace_size(&info);
}

/* Entries of reference map the profile leaves room for when it picks the window. */
#define DEVICE_MAP_RESERVE 64

/* --device-ram: LZRC with the largest window that fits beside the blocks,
 * the decoders and a map of DEVICE_MAP_RESERVE entries. */
static int device_profile(args *a)
{
    a->patch.compression = DELTA_COMPRESSION_LZRC;
    if (!a->batch_set) a->patch.batch_blocks = 4;
    if (!a->stash_set) a->patch.max_stash = 4;
    if (a->window) return 0;
    for (uint32_t w = DELTA_LZRC_MAX_WINDOW; w >= DELTA_LZRC_MIN_WINDOW; w >>= 1) {
        if (device_workspace(a->patch.block_size, w, DEVICE_MAP_RESERVE) <= a->device_ram) {
            a->window = w;
            return 0;
        }
    }
    cli_usage_error(a->c, "--device-ram: %llu bytes cannot hold two %u-byte blocks and the decoders (%llu at least)",
                    (unsigned long long)a->device_ram, a->patch.block_size,
                    (unsigned long long)device_workspace(a->patch.block_size, DELTA_LZRC_MIN_WINDOW, DEVICE_MAP_RESERVE));
    return -1;
}

static int handle(void *ctx, int id, const char *value)
{
    args *a = ctx;
    uint64_t v;
    switch (id) {
    case OPT_PROJECT: a->project = value; return 0;
    case OPT_FROM: a->from = value; return 0;
    case OPT_TO: a->to = value; return 0;
    case OPT_KEY: a->key = value; return 0;
    case OPT_OUTPUT: a->output = value; return 0;
    case OPT_FORMAT:
        if (strcmp(value, "package") && strcmp(value, "bsdiff40")) {
            cli_usage_error(a->c, "--format: '%s' is not package or bsdiff40", value);
            return -1;
        }
        a->format = value;
        return 0;
    case OPT_IMAGE: {
        const char *eq = strchr(value, '=');
        const char *colon = eq ? strchr(eq + 1, ':') : NULL;
        if (!eq || !colon || colon == eq + 1 || !colon[1]) {
            cli_usage_error(a->c, "--image: '%s' is not NAME=OLD:NEW", value);
            return -1;
        }
        if (cli_named_add(&a->images, value) || !a->images.items[a->images.count - 1].name) {
            cli_usage_error(a->c, "--image: '%s': not a valid image name", value);
            return -1;
        }
        return 0;
    }
    case OPT_BLOCK_SIZE:
        if (cli_size_option(a->c, "block-size", value, UINT32_MAX, &v)) return -1;
        a->patch.block_size = (uint32_t)v;
        return 0;
    case OPT_SEGMENT_SIZE:
        if (cli_size_option(a->c, "segment-size", value, UINT32_MAX, &v)) return -1;
        a->patch.segment_size = (uint32_t)v;
        return 0;
    case OPT_MAX_STASH:
        if (cli_size_option(a->c, "max-stash", value, UINT32_MAX, &v)) return -1;
        a->patch.max_stash = (uint32_t)v;
        a->stash_set = 1;
        return 0;
    case OPT_BATCH_BLOCKS:
        if (cli_size_option(a->c, "batch-blocks", value, UINT32_MAX, &v)) return -1;
        a->patch.batch_blocks = (uint32_t)v;
        a->batch_set = 1;
        return 0;
    case OPT_MAX_MEMORY:
        if (cli_size_option(a->c, "max-memory", value, UINT64_MAX, &v)) return -1;
        a->diff.max_memory = v;
        return 0;
    case OPT_SLOT_SIZE: {
        if (cli_named_add(&a->slots, value)) return -1;
        if (cli_parse_size(a->slots.items[a->slots.count - 1].value, &v)) {
            cli_usage_error(a->c, "--slot-size: '%s' is not [NAME=]BYTES", value);
            return -1;
        }
        return 0;
    }
    case OPT_NO_INPLACE: a->patch.inplace = 0; return 0;
    case OPT_COMPRESSION:
        if (strcmp(value, "lzma2") == 0)
            a->patch.compression = DELTA_COMPRESSION_LZMA2;
        else if (strcmp(value, "none") == 0)
            a->patch.compression = DELTA_COMPRESSION_NONE;
        else if (strcmp(value, "lzrc") == 0)
            a->patch.compression = DELTA_COMPRESSION_LZRC;
        else {
            cli_usage_error(a->c, "--compression: '%s' is not lzma2, lzrc or none", value);
            return -1;
        }
        return 0;
    case OPT_WINDOW:
        if (cli_size_option(a->c, "window", value, DELTA_LZRC_MAX_WINDOW, &v)) return -1;
        if (v < DELTA_LZRC_MIN_WINDOW || (v & (v - 1))) {
            cli_usage_error(a->c, "--window: %s is not a power of two in 256..64K", value);
            return -1;
        }
        a->window = (uint32_t)v;
        return 0;
    case OPT_DEVICE_HEADER: a->device_header = value; return 0;
    case OPT_DEVICE_RAM:
        if (cli_size_option(a->c, "device-ram", value, UINT32_MAX, &v)) return -1;
        a->device_ram = v;
        return 0;
    case OPT_ARCH:
        if (strcmp(value, "auto") == 0)
            a->patch.arch = DELTA_ARCH_AUTO;
        else if (strcmp(value, "thumb2") == 0)
            a->patch.arch = DELTA_ARCH_THUMB2;
        else if (strcmp(value, "x86-64") == 0)
            a->patch.arch = DELTA_ARCH_X86_64;
        else if (strcmp(value, "aarch64") == 0)
            a->patch.arch = DELTA_ARCH_AARCH64;
        else if (strcmp(value, "none") == 0)
            a->patch.arch = DELTA_ARCH_NONE;
        else {
            cli_usage_error(a->c, "--arch: '%s' is not auto, thumb2, x86-64, aarch64 or none", value);
            return -1;
        }
        a->diff.arch = a->patch.arch; /* the matching models the same code */
        return 0;
    case OPT_JSON: a->c->json = 1; return 0;
    case OPT_FORCE: a->force = 1; return 0;
    case OPT_PROGRESS: a->progress = 1; return 0;
    case OPT_SIGN: a->sign = value; return 0;
    case OPT_SIGN_COMMAND: a->sign_command = value; return 0;
    case OPT_PUBKEY: a->pubkey = value; return 0;
    }
    return -1;
}

/* The inputs of one image, mapped. */
typedef struct input {
    char *name;
    const char *old_path, *new_path;
    delta_file *old_file, *new_file;
    const uint8_t *old_data, *new_data;
    size_t old_len, new_len;
} input;

/* "-" is stdin (read whole: it may be a pipe). */
static const char *input_path(const char *path) { return strcmp(path, "-") == 0 ? "/dev/stdin" : path; }

/* --device-header: the record of the package's one image, signed with --key. */
static delta_status write_device_header(const args *a, const input *in, const delta_buf *pkg, const delta_buf *key)
{
    delta_device_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.project, sizeof h.project, "%s", a->project);
    snprintf(h.from, sizeof h.from, "%s", a->from);
    snprintf(h.to, sizeof h.to, "%s", a->to);
    delta_sha256(in->old_data, in->old_len, h.source_sha256);
    delta_sha256(in->new_data, in->new_len, h.target_sha256);
    h.target_size = in->new_len;
    delta_source zs;
    delta_source_from_memory(&zs, pkg->data, pkg->len);
    delta_zip *zip = NULL;
    char member[DELTA_MAX_STRING + 8];
    snprintf(member, sizeof member, "%s.ldp", in->name);
    delta_status st = delta_zip_open(&zs, &zip);
    const delta_zip_member *m = st ? NULL : delta_zip_find(zip, member);
    delta_buf patch = DELTA_BUF_INIT, out = DELTA_BUF_INIT;
    if (!st && !m) st = DELTA_ERR_MEMBERS;
    if (!st) {
        delta_source ps;
        delta_zip_member_source(zip, m, &ps);
        st = delta_buf_reserve(&patch, (size_t)ps.size);
        if (!st) st = ps.read(ps.ctx, 0, patch.data, (size_t)ps.size) ? DELTA_ERR_INPUT : DELTA_OK;
        if (!st) patch.len = (size_t)ps.size;
    }
    if (!st) {
        h.patch_size = patch.len;
        delta_sha256(patch.data, patch.len, h.patch_sha256);
        st = delta_device_header_make(&h, (const char *)key->data, key->len, &out);
    }
    delta_zip_free(zip);
    delta_buf_free(&patch);
    if (st) {
        delta_buf_free(&out);
        cli_fail(a->c, st, "cannot make the device header");
        return st;
    }
    st = cli_write_file_atomic(a->c, a->device_header, out.data, out.len) ? DELTA_ERR_OUTPUT : DELTA_OK;
    delta_buf_free(&out);
    return st;
}

/* Maps one image's inputs; a failure is reported. */
static delta_status map_input(cli *c, input *in)
{
    delta_status st = delta_file_map(input_path(in->old_path), &in->old_data, &in->old_len, &in->old_file);
    if (!st) st = delta_file_map(input_path(in->new_path), &in->new_data, &in->new_len, &in->new_file);
    if (st) cli_fail(c, st, "cannot read an image");
    return st;
}

/* Writes the finished bytes to -o: a file atomically, or stdout for "-". */
static int write_output(cli *c, const args *a, const delta_buf *out)
{
    if (strcmp(a->output, "-") == 0) return cli_write_stdout(c, out->data, out->len, a->force) ? CLI_EXIT_FAILURE : 0;
    return cli_write_file_new(c, a->output, out->data, out->len, a->force) ? CLI_EXIT_FAILURE : 0;
}

/* --json: prints the report of r, the run's facts, with -o and --format; 0 or 1. */
static int json_print(cli *c, const args *a, delta_mkdelta_report *r)
{
    r->output = a->output;
    r->format = strcmp(a->format, "bsdiff40") == 0 ? DELTA_REPORT_FORMAT_BSDIFF40 : DELTA_REPORT_FORMAT_PACKAGE;
    if (r->status) r->message = cli_last_message();
    delta_buf json = DELTA_BUF_INIT;
    return cli_report_print(c, delta_mkdelta_report_write(r, &json), &json) ? CLI_EXIT_FAILURE : 0;
}

/* --json on a failure: the output, the format and the status st; returns
 * rc, the exit status of st. */
static int json_failure(cli *c, const args *a, delta_status st, int rc)
{
    if (!c->json) return rc;
    delta_mkdelta_report r = DELTA_MKDELTA_REPORT_INIT;
    r.status = st;
    json_print(c, a, &r);
    return rc;
}

static int make_bsdiff40(cli *c, const args *a, input *in, cli_progress *bar)
{
    delta_op *ops = NULL;
    size_t count = 0;
    delta_buf out = DELTA_BUF_INIT;
    cli_progress_step(bar, "diffing", 1, 4);
    delta_status st = delta_diff(in->old_data, in->old_len, in->new_data, in->new_len, &a->diff,
                                 &ops, &count);
    if (st) return json_failure(c, a, st, cli_fail(c, st, "diff failed"));
    cli_progress_step(bar, "encoding", 2, 4);
    st = delta_bsdiff40_write(in->old_data, in->old_len, in->new_data, in->new_len, ops, count,
                              &out);
    delta_ops_free(ops);
    if (st) {
        delta_buf_free(&out);
        return json_failure(c, a, st, cli_fail(c, st, "cannot encode the BSDIFF40 patch"));
    }
    cli_progress_step(bar, "writing", 3, 4);
    int rc = write_output(c, a, &out);
    cli_progress_step(bar, NULL, 4, 4);
    cli_progress_end(bar);
    if (rc) {
        delta_buf_free(&out);
        return json_failure(c, a, DELTA_ERR_OUTPUT, rc);
    }
    if (c->json) {
        delta_mkdelta_report r = DELTA_MKDELTA_REPORT_INIT;
        r.source_size = in->old_len;
        r.target_size = in->new_len;
        r.patch_bytes = out.len;
        rc = json_print(c, a, &r);
    } else if (!c->quiet && strcmp(a->output, "-") != 0) {
        printf("%s: BSDIFF40 patch of %zu bytes (%zu -> %zu bytes)\n", a->output, out.len,
               in->old_len, in->new_len);
    }
    delta_buf_free(&out);
    return rc;
}

/* The signing key, read and checked to be a private key (DELTA_OK without --key). */
static delta_status read_signing_key(cli *c, const args *a, delta_buf *key)
{
    if (!a->key) return DELTA_OK;
    delta_status st = delta_file_read_all(a->key, 64 * 1024, key);
    if (st) {
        cli_fail(c, st, "cannot read the key");
        return st;
    }
    return cli_key_kind(c, "key", a->key, key, 1);
}

/*
 * Signs the package in pkg (unsigned) with --key or --sign-command and puts
 * the signed package's bytes in out. 0 or an exit status (reported).
 */
static int add_signature(cli *c, const args *a, const delta_buf *key, const delta_package *pkg,
                         delta_buf *out, delta_status *failed)
{
    const uint8_t *manifest;
    size_t len;
    delta_package_manifest_bytes(pkg, &manifest, &len);
    delta_buf sig = DELTA_BUF_INIT;
    delta_status st;
    if (a->sign_command) {
        st = cli_sign_command(c, a->sign_command, manifest, len, &sig);
        *failed = st;
        if (st) return CLI_EXIT_FAILURE;
    } else {
        st = delta_sign((const char *)key->data, key->len, manifest, len, &sig);
        *failed = st;
        if (st) return cli_fail(c, st, "cannot sign");
    }
    st = delta_package_add_signature(pkg, sig.data, sig.len, out);
    delta_buf_free(&sig);
    *failed = st;
    if (st) return cli_fail(c, st, "cannot add the signature");
    return 0;
}

/*
 * Opens the finished package from memory as a device would (with --pubkey
 * the signature must verify): the report's figures come from it.
 */
static int reopen(cli *c, const args *a, const delta_buf *bytes, delta_source *src, delta_package **pkg,
                  delta_status *failed)
{
    delta_check_options opt = DELTA_CHECK_OPTIONS_INIT;
    delta_buf pub = DELTA_BUF_INIT;
    delta_status st = DELTA_OK;
    if (a->pubkey) {
        st = delta_file_read_all(a->pubkey, 64 * 1024, &pub);
        if (st) {
            *failed = st;
            delta_buf_free(&pub);
            return cli_fail(c, st, "cannot read the public key");
        }
        st = cli_key_kind(c, "pubkey", a->pubkey, &pub, 0);
        opt.pubkey_pem = (const char *)pub.data;
        opt.pubkey_len = pub.len;
        if (st) { /* reported */
            *failed = st;
            delta_buf_free(&pub);
            return CLI_EXIT_FAILURE;
        }
    }
    delta_source_from_memory(src, bytes->data, bytes->len);
    st = delta_package_open(src, &opt, pkg);
    delta_buf_free(&pub);
    *failed = st;
    if (st) return cli_fail(c, st, a->pubkey ? "the new signature does not verify" : "the new package fails its checks");
    return 0;
}

static void print_report(const cli *c, const args *a, const delta_package *pkg, const input *in,
                         const delta_make_report *r, uint64_t bytes)
{
    if (c->quiet || strcmp(a->output, "-") == 0) return;
    const delta_manifest *m = delta_package_manifest(pkg);
    printf("%s: %llu bytes, %s %s -> %s, %s\n", a->output, (unsigned long long)bytes, m->project,
           m->source_version, m->target_version,
           cli_signature_word(delta_package_signature_state(pkg)));
    for (size_t i = 0; i < m->image_count; i++) {
        const delta_manifest_image *im = &m->images[i];
        printf("  %s: %llu -> %llu bytes, patch %llu bytes, %llu blocks", im->name,
               (unsigned long long)im->source_size, (unsigned long long)im->target_size,
               (unsigned long long)im->patch_size, (unsigned long long)delta_package_report(pkg, i)->blocks_written);
        if (r && in) printf(", %llu stashes", (unsigned long long)r->stats[i].stashes);
        putchar('\n');
    }
}

/* --json on success: the package written (bytes long) and, when mkdelta made
 * its patches, the maker's statistics r. */
static int json_report(cli *c, const args *a, const delta_package *pkg, const delta_make_report *r,
                       uint64_t bytes)
{
    delta_mkdelta_report rep = DELTA_MKDELTA_REPORT_INIT;
    rep.package = pkg;
    rep.package_bytes = bytes;
    rep.make = r;
    return json_print(c, a, &rep);
}

/* The progress of delta_package_make, as steps of the bar. */
typedef struct make_progress {
    cli_progress *bar;
    const input *in;
    uint64_t total; /* steps: reading, 3 per image, signing, zip, writing */
} make_progress;

static int on_stage(void *ctx, delta_make_stage stage, size_t image, size_t count)
{
    make_progress *mp = ctx;
    static const char *const names[] = {"diffing", "encoding", "proving", "signing", "zipping"};
    char what[96];
    uint64_t done;
    if (stage <= DELTA_MAKE_PROVE) {
        snprintf(what, sizeof what, "%s %s", names[stage], mp->in[image].name);
        done = 1 + 3 * (uint64_t)image + (uint64_t)stage;
    } else {
        snprintf(what, sizeof what, "%s", names[stage]);
        done = 1 + 3 * (uint64_t)count + (stage == DELTA_MAKE_ZIP);
    }
    cli_progress_step(mp->bar, what, done, mp->total);
    return 0;
}

static int make_package(cli *c, args *a, input *in, size_t n, cli_progress *bar)
{
    delta_make_options opt = DELTA_MAKE_OPTIONS_INIT;
    opt.project = a->project;
    opt.source_version = a->from;
    opt.target_version = a->to;
    opt.patch = a->patch;
    opt.diff = a->diff;
    make_progress mp = {bar, in, 1 + 3 * (uint64_t)n + 3};
    opt.progress = on_stage;
    opt.progress_ctx = &mp;
    if (a->device_header && (!a->key || n != 1))
        return cli_usage_error(c, "--device-header needs --key and a single-image package");
    delta_buf key = DELTA_BUF_INIT;
    delta_status st = read_signing_key(c, a, &key);
    if (st) {
        delta_buf_free(&key);
        return json_failure(c, a, st, cli_exit_status(st));
    }
    if (a->key) {
        opt.key_pem = (const char *)key.data;
        opt.key_len = key.len;
    } else if (!a->sign_command) {
        cli_note(c, "warning: no --key or --sign-command given: the package is unsigned");
    }

    delta_make_image images[DELTA_MANIFEST_MAX_IMAGES];
    const char *names[DELTA_MANIFEST_MAX_IMAGES];
    for (size_t i = 0; i < n; i++) {
        names[i] = in[i].name;
        images[i] = (delta_make_image){in[i].name, in[i].old_data, in[i].old_len,
                                       in[i].new_data, in[i].new_len, 0};
        const char *slot = cli_named_find(&a->slots, in[i].name, n);
        if (slot) cli_parse_size(slot, &images[i].slot_size);
    }
    const cli_named *bad = cli_named_unknown(&a->slots, names, n);
    if (bad) {
        delta_buf_free(&key);
        return cli_usage_error(c, "--slot-size: %s%s is not an image of this package",
                               bad->name ? bad->name : "a bare size",
                               bad->name ? "" : " (name the image)");
    }

    delta_buf made = DELTA_BUF_INIT, signed_pkg = DELTA_BUF_INIT;
    delta_make_report report;
    memset(&report, 0, sizeof report);
    st = delta_package_make(&opt, images, n, &made, &report);
    int rc = st ? cli_fail(c, st, "cannot make the package") : 0;
    for (size_t i = 0; !rc && a->device_ram && i < n; i++) {
        uint64_t need = device_workspace(a->patch.block_size, a->patch.dict_size, report.stats[i].map_entries);
        if (need > a->device_ram) {
            char what[160];
            snprintf(what, sizeof what, "image %s needs %llu bytes of workspace, over --device-ram %llu", in[i].name,
                     (unsigned long long)need, (unsigned long long)a->device_ram);
            st = DELTA_ERR_LIMIT;
            rc = cli_fail(c, st, what);
        }
    }
    if (!rc && a->device_header) {
        st = write_device_header(a, in, &made, &key);
        rc = cli_exit_status(st);
    }
    delta_buf *out = &made;
    delta_source src;
    delta_package *pkg = NULL;
    if (!rc && a->sign_command) {
        /* Unsigned first, then signed outside: the bytes --sign would give. */
        cli_progress_step(bar, "signing", 1 + 3 * (uint64_t)n, mp.total);
        rc = reopen(c, &(args){.c = c}, &made, &src, &pkg, &st);
        if (!rc) rc = add_signature(c, a, &key, pkg, &signed_pkg, &st);
        delta_package_free(pkg);
        pkg = NULL;
        out = &signed_pkg;
    }
    if (!rc) rc = reopen(c, a, out, &src, &pkg, &st);
    if (!rc) {
        cli_progress_step(bar, "writing", mp.total - 1, mp.total);
        rc = write_output(c, a, out);
        if (rc) st = DELTA_ERR_OUTPUT;
    }
    cli_progress_step(bar, NULL, mp.total, mp.total);
    cli_progress_end(bar);
    if (!rc && c->json) rc = json_report(c, a, pkg, &report, out->len);
    else if (!rc) print_report(c, a, pkg, in, &report, out->len);
    else rc = json_failure(c, a, st, rc);
    delta_package_free(pkg);
    delta_buf_free(&made);
    delta_buf_free(&signed_pkg);
    delta_buf_free(&key);
    return rc;
}

/* mkdelta --sign PKG: adds manifest.sig to an unsigned package. */
static int sign_package(cli *c, args *a, cli_progress *bar)
{
    delta_buf bytes = DELTA_BUF_INIT, key = DELTA_BUF_INIT, out = DELTA_BUF_INIT;
    delta_source src, osrc;
    delta_package *pkg = NULL, *opkg = NULL;
    cli_progress_step(bar, "reading", 0, 4);
    delta_status st = read_signing_key(c, a, &key);
    int rc = st ? cli_exit_status(st) : 0;
    if (!rc) {
        st = strcmp(a->sign, "-") == 0 ? cli_read_stdin(c, DELTA_MAX_IMAGE_SIZE, "--sign -", &bytes)
                                       : delta_file_read_all(a->sign, DELTA_MAX_IMAGE_SIZE, &bytes);
        if (st && strcmp(a->sign, "-") != 0) rc = cli_fail(c, st, "cannot read the package");
        else if (st) rc = cli_exit_status(st);
    }
    if (!rc) {
        delta_source_from_memory(&src, bytes.data, bytes.len);
        st = delta_package_open(&src, NULL, &pkg);
        if (st) rc = cli_fail(c, st, "cannot open the package");
    }
    if (!rc && delta_package_signature_state(pkg) != 0) {
        cli_error(c, "%s is signed already: --sign takes an unsigned package (mkdelta without --key)", a->sign);
        st = DELTA_ERR_ARG;
        rc = CLI_EXIT_FAILURE;
    }
    if (!rc) {
        cli_progress_step(bar, "signing", 1, 4);
        rc = add_signature(c, a, &key, pkg, &out, &st);
    }
    if (!rc) rc = reopen(c, a, &out, &osrc, &opkg, &st);
    if (!rc) {
        cli_progress_step(bar, "writing", 3, 4);
        rc = write_output(c, a, &out);
        if (rc) st = DELTA_ERR_OUTPUT;
    }
    cli_progress_step(bar, NULL, 4, 4);
    cli_progress_end(bar);
    if (!rc && c->json) rc = json_report(c, a, opkg, NULL, out.len);
    else if (!rc) print_report(c, a, opkg, NULL, NULL, out.len);
    else rc = json_failure(c, a, st, rc);
    delta_package_free(opkg);
    delta_package_free(pkg);
    delta_buf_free(&out);
    delta_buf_free(&key);
    delta_buf_free(&bytes);
    return rc;
}

int main(int argc, char **argv)
{
    cli c = {.tool = "mkdelta",
             .usage = "--project ID --from V1 --to V2 [--key PEM | --sign-command CMD] [options] -o PKG.zip OLD NEW\n"
                      "--project ID --from V1 --to V2 --image NAME=OLD:NEW... [options] -o PKG.zip\n"
                      "--sign UNSIGNED.zip (--key PEM | --sign-command CMD) [--pubkey PEM] -o PKG.zip\n"
                      "--format bsdiff40 -o OUT.patch OLD NEW",
             .description = "Makes a delta package: a zip holding a signed manifest and one in-place\n"
                            "patch per image (a single-image package names its image \"firmware\").\n"
                            "With --format bsdiff40, writes a standard BSDIFF40 patch instead.\n"
                            "The output is written atomically (temporary file + rename), mode 0644,\n"
                            "and never over an existing file without -f; -o - writes to stdout, and\n"
                            "OLD or NEW may be - for stdin. --sign-command CMD signs outside this\n"
                            "machine (e.g. 'openssl dgst -sha256 -sign key.pem'); --sign adds the\n"
                            "signature to a package made without a key, changing no other byte.",
             .exit_help = exit_help,
             .options = options};
    args a = {.c = &c, .format = "package"};
    a.patch = (delta_patch_options)DELTA_PATCH_OPTIONS_INIT;
    a.diff = (delta_diff_options)DELTA_DIFF_OPTIONS_INIT;
    cli_progress bar;
    int rc = cli_parse(&c, argc, argv, handle, &a);
    if (rc < 0 && a.device_ram && device_profile(&a)) rc = CLI_EXIT_USAGE;
    if (a.patch.compression == DELTA_COMPRESSION_LZRC) a.patch.dict_size = a.window ? a.window : 1024;
    if (rc >= 0) goto out;
    rc = CLI_EXIT_USAGE;

    int bsdiff = strcmp(a.format, "bsdiff40") == 0;
    if (!a.output) {
        cli_usage_error(&c, "no output file (-o FILE, or -o - for stdout)");
        goto out;
    }
    if (c.json && strcmp(a.output, "-") == 0) {
        cli_usage_error(&c, "--json and -o - both write to stdout: give -o FILE");
        goto out;
    }
    if (a.key && a.sign_command) {
        cli_usage_error(&c, "give --key or --sign-command, not both");
        goto out;
    }
    if (a.sign) {
        if (c.npos || a.images.count || a.project || a.from || a.to || bsdiff) {
            cli_usage_error(&c, "--sign PKG takes no images, --project, --from, --to or --format");
            goto out;
        }
        if (!a.key && !a.sign_command) {
            cli_usage_error(&c, "--sign needs --key PEM or --sign-command CMD");
            goto out;
        }
    }
    if (a.pubkey && !a.key && !a.sign_command) {
        cli_usage_error(&c, "--pubkey checks a new signature: give --key or --sign-command");
        goto out;
    }
    cli_progress_init(&bar, &c, NULL, a.progress);
    if (strcmp(a.output, "-") != 0 && cli_may_overwrite(&c, a.output, a.force)) {
        rc = json_failure(&c, &a, DELTA_ERR_OUTPUT, CLI_EXIT_FAILURE);
        goto out;
    }
    if (a.sign) {
        rc = sign_package(&c, &a, &bar);
        goto out;
    }
    input in[DELTA_MANIFEST_MAX_IMAGES];
    memset(in, 0, sizeof in);
    size_t n = 0;
    if (a.images.count) {
        if (c.npos) {
            cli_usage_error(&c, "give either OLD NEW or --image, not both");
            goto out;
        }
        if (bsdiff) {
            cli_usage_error(&c, "--format bsdiff40 takes OLD NEW, not --image");
            goto out;
        }
        if (a.images.count > DELTA_MANIFEST_MAX_IMAGES) {
            cli_usage_error(&c, "at most %d images", DELTA_MANIFEST_MAX_IMAGES);
            goto out;
        }
        for (size_t i = 0; i < a.images.count; i++, n++) {
            cli_named *e = &a.images.items[i];
            char *colon = strchr(e->value, ':');
            *colon = '\0';
            in[n].name = e->name;
            in[n].old_path = e->value;
            in[n].new_path = colon + 1;
        }
    } else {
        if (c.npos != 2) {
            cli_usage_error(&c, "expected OLD NEW, got %d file%s", c.npos, c.npos == 1 ? "" : "s");
            goto out;
        }
        in[0].name = "firmware";
        in[0].old_path = c.pos[0];
        in[0].new_path = c.pos[1];
        n = 1;
    }
    size_t dashes = 0;
    for (size_t i = 0; i < n; i++) dashes += !strcmp(in[i].old_path, "-") + !strcmp(in[i].new_path, "-");
    if (dashes > 1) {
        cli_usage_error(&c, "only one input can be - (stdin)");
        goto out;
    }
    if (bsdiff) {
        if (a.key || a.sign_command || a.pubkey) {
            cli_usage_error(&c, "--key: a BSDIFF40 patch cannot be signed");
            goto out;
        }
    } else if (!a.project || !a.from || !a.to) {
        cli_usage_error(&c, "a package needs --project, --from and --to");
        goto out;
    }

    rc = 0;
    cli_progress_step(&bar, "reading", 0, bsdiff ? 4 : 1 + 3 * (uint64_t)n + 3);
    delta_status st = DELTA_OK;
    for (size_t i = 0; i < n && !st; i++) st = map_input(&c, &in[i]);
    if (st) rc = json_failure(&c, &a, st, cli_exit_status(st));
    else rc = bsdiff ? make_bsdiff40(&c, &a, &in[0], &bar) : make_package(&c, &a, in, n, &bar);
    cli_progress_end(&bar);
    for (size_t i = 0; i < n; i++) {
        delta_file_close(in[i].old_file);
        delta_file_close(in[i].new_file);
    }
out:
    cli_named_free(&a.images);
    cli_named_free(&a.slots);
    free(c.pos);
    return rc;
}
