/* The ldpatch1 writer: plan -> segments of control / diff / extra streams. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <lzma.h>

#include "lzrc_enc.h"

#include "libdelta/encode.h"
#include "diff/predict.h"
#include "patch/arch.h"
#include "plan.h"

/* Reference prediction variants the writer tries: THUMB2, and THUMB2_ABS32
 * when the source's load address is found. */
#define NVAR 2

typedef struct segbuf {
    delta_buf s[3];        /* raw ctrl (without preamble), diff, extra */
    delta_buf pdiff[NVAR]; /* the diff stream under each variant tried */
    delta_buf pctrl[NVAR]; /* the control stream with that variant's preamble */
    delta_buf zctrl;       /* the control stream with the preamble "none" */
    delta_buf pextra;      /* the extra stream as every variant stores it */
    uint64_t first_op;
    int var;               /* the variant the segment uses, -1: none */
} segbuf;

static delta_status put_varint(delta_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    return delta_buf_append(b, tmp, n);
}

static delta_status put_svarint(delta_buf *b, int64_t v)
{
    return put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

enum { STREAM_CTRL, STREAM_DIFF, STREAM_EXTRA };

/* Appends one raw stream, compressed as the header says, to out. The diff
 * stream (mostly zeros) compresses best with no position bits (lp=0 pb=0:
 * -1.9% payload on the Pybricks pairs) and with diff_lc literal-context bits,
 * chosen per patch by choose_diff_lc. LZMA2 chunks carry these properties, so
 * the decoder needs nothing more than the dictionary size. */
static delta_status compress_stream(const delta_patch_options *opt, int which, uint32_t diff_lc, uint32_t preset,
                                    const delta_buf *raw, delta_buf *out, uint32_t *stored)
{
    if (opt->compression == DELTA_COMPRESSION_NONE) {
        *stored = (uint32_t)raw->len;
        return delta_buf_append(out, raw->data, raw->len);
    }
    if (opt->compression == DELTA_COMPRESSION_LZRC)
        return dlt_lzrc_encode(raw->data ? raw->data : (const uint8_t *)"", raw->len, opt->dict_size, out, stored);
    lzma_options_lzma lz;
    lzma_lzma_preset(&lz, preset);
    uint32_t dict = opt->dict_size;
    if (raw->len < dict) dict = raw->len < 4096 ? 4096 : (uint32_t)raw->len;
    lz.dict_size = dict;
    if (which == STREAM_DIFF) {
        lz.lc = diff_lc;
        lz.lp = lz.pb = 0;
    }
    lzma_filter f[2] = {{LZMA_FILTER_LZMA2, &lz}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t bound = lzma_stream_buffer_bound(raw->len);
    delta_status st = delta_buf_reserve(out, bound);
    if (st) return st;
    size_t pos = 0;
    lzma_ret r = lzma_raw_buffer_encode(f, NULL, raw->data ? raw->data : (const uint8_t *)"", raw->len,
                                        out->data + out->len, &pos, bound);
    if (r != LZMA_OK) return dlt_fail(DELTA_ERR_INTERNAL, "encode: lzma failed (%d)", (int)r);
    if (pos > UINT32_MAX) return dlt_fail(DELTA_ERR_LIMIT, "encode: stream too large");
    out->len += pos;
    *stored = (uint32_t)pos;
    return DELTA_OK;
}

/* The preset of every stream the patch stores. */
#define PRESET_STORED (9 | LZMA_PRESET_EXTREME)

/* The compression jobs: one per raw stream, taken by worker threads. */
enum { JOB_FULL, JOB_ESTIMATE, JOB_SKIP };
typedef struct job {
    const delta_buf *raw;
    int which; /* STREAM_* */
    int mode;  /* JOB_*: what the next run_jobs does with it */
    int done;  /* out and stored hold the stored compression */
    uint64_t estimate; /* JOB_ESTIMATE: the size at PRESET_ESTIMATE */
    delta_buf out;
    uint32_t stored;
    delta_status status;
    char message[256]; /* the failure's words: recorded on the worker's thread, raised on the caller's */
} job;

typedef struct job_set {
    const delta_patch_options *opt;
    job *jobs;
    size_t count, next;
    uint32_t diff_lc;
    pthread_mutex_t lock;
} job_set;

/*
 * A cheap look at a diff stream: its size at preset 3, about 40 times faster
 * than the stored preset. Per segment, the diff streams of the variants
 * (no prediction, each transform) are estimated first, and a variant whose
 * estimate loses clearly is never compressed at the stored preset (see
 * prune_variants). On the bench's diff streams the stored size is 0.70-0.89
 * of this estimate, and the two variants of one segment differ in that
 * ratio by at most 4%.
 */
#define PRESET_ESTIMATE 3
/* Diff streams smaller than this are compressed in full (they cost little). */
#define ESTIMATE_MIN ((size_t)1 << 20)

static delta_status estimate_stream(const delta_patch_options *opt, int which, uint32_t diff_lc, const delta_buf *raw,
                                    uint64_t *size)
{
    delta_buf tmp = DELTA_BUF_INIT;
    uint32_t stored = 0;
    delta_status st = compress_stream(opt, which, diff_lc, PRESET_ESTIMATE, raw, &tmp, &stored);
    delta_buf_free(&tmp);
    *size = stored;
    return st;
}

static void *worker(void *arg)
{
    job_set *js = arg;
    for (;;) {
        pthread_mutex_lock(&js->lock);
        size_t j = js->next < js->count ? js->next++ : js->count;
        pthread_mutex_unlock(&js->lock);
        if (j == js->count) return NULL;
        job *jb = &js->jobs[j];
        if (jb->done || jb->mode == JOB_SKIP || jb->status) continue;
        if (jb->mode == JOB_ESTIMATE) {
            jb->status = estimate_stream(js->opt, jb->which, js->diff_lc, jb->raw, &jb->estimate);
            jb->mode = JOB_SKIP; /* until the choice says otherwise */
        } else {
            jb->status = compress_stream(js->opt, jb->which, js->diff_lc, PRESET_STORED, jb->raw, &jb->out, &jb->stored);
            jb->done = !jb->status;
        }
        if (jb->status) snprintf(jb->message, sizeof jb->message, "%s", delta_last_error());
    }
}

/*
 * Literal-context bits for the diff stream. The difference bytes of ARM
 * firmware compress best with none (lc=0), those of x86-64 binaries with two
 * (lc=2: -0.5% on esbuild, +0.6% on Pybricks). A 1 MiB sample of the first
 * segment's diff stream, compressed both ways at preset 6, decides (about
 * 0.2 s; on both corpora it picks what the full extreme compression prefers).
 * Below 2 MiB of diff stream the sampling would cost more time than its bytes
 * are worth (it doubled mkdelta's time on the Pybricks pairs): lc=0.
 */
static uint32_t choose_diff_lc(const delta_buf *diff)
{
    if (diff->len < (2u << 20)) return 0;
    size_t n = 1u << 20;
    size_t bound = lzma_stream_buffer_bound(n);
    uint8_t *tmp = malloc(bound);
    if (!tmp) return 0;
    size_t got[2] = {SIZE_MAX, SIZE_MAX};
    for (int i = 0; i < 2; i++) {
        lzma_options_lzma lz;
        lzma_lzma_preset(&lz, 6);
        lz.dict_size = 1u << 20;
        lz.lc = i ? 2 : 0;
        lz.lp = lz.pb = 0;
        lzma_filter f[2] = {{LZMA_FILTER_LZMA2, &lz}, {LZMA_VLI_UNKNOWN, NULL}};
        size_t pos = 0;
        if (lzma_raw_buffer_encode(f, NULL, diff->data, n, tmp, &pos, bound) == LZMA_OK) got[i] = pos;
    }
    free(tmp);
    return got[1] < got[0] ? 2 : 0;
}

/*
 * Whether variant w (ctrl and extra streams cw bytes stored, diff stream
 * estimated at dw) surely beats variant c (cc, dc): for every stored/estimate
 * ratio k in EST_K_MIN..EST_K_MAX, and the two ratios EST_SPREAD apart in w's
 * disfavour. Where neither surely wins, both are compressed in full and the
 * stored sizes decide, as without the estimate.
 */
#define EST_K_MIN 0.5
#define EST_K_MAX 1.0
#define EST_SPREAD 0.08
static int surely_beats(uint64_t cw, uint64_t dw, uint64_t cc, uint64_t dc)
{
    const double k[2] = {EST_K_MIN, EST_K_MAX};
    for (int i = 0; i < 2; i++)
        if (!((double)cw + k[i] * (1 + EST_SPREAD) * (double)dw < (double)cc + k[i] * (1 - EST_SPREAD) * (double)dc))
            return 0;
    return 1;
}

static delta_status run_jobs(job_set *js, int threads)
{
    js->next = 0;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)(n > 16 ? 16 : n) : 1;
    }
    if ((size_t)threads > js->count) threads = js->count ? (int)js->count : 1;
    pthread_t tid[16];
    int started = 0;
    for (; started < threads - 1; started++)
        if (pthread_create(&tid[started], NULL, worker, js) != 0) break;
    worker(js); /* this thread works too */
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    /* delta_last_error is per thread: a worker's message is raised again here. */
    for (size_t j = 0; j < js->count; j++)
        if (js->jobs[j].status)
            return dlt_fail(js->jobs[j].status, "%s", js->jobs[j].message[0] ? js->jobs[j].message : "encode failed");
    return DELTA_OK;
}

/* The preamble of a predicted segment: transform id, base, map entries (formats/patch.md). */
static delta_status put_preamble(delta_buf *b, uint32_t arch, uint32_t base, const arch_entry *e, uint32_t count)
{
    delta_status st = put_varint(b, arch);
    if (!st && arch == ARCH_THUMB2_ABS32) st = put_varint(b, base);
    if (!st) st = put_varint(b, count);
    int64_t old = 0, shift = 0;
    for (uint32_t k = 0; k < count && !st; k++) {
        st = put_varint(b, (uint64_t)(e[k].old - old));
        if (!st) st = put_svarint(b, e[k].shift - shift);
        old = e[k].old;
        shift = e[k].shift;
    }
    return st;
}

static delta_status check_options(const delta_patch_options *o)
{
    if (o->block_size < 512 || o->block_size > (1u << 20) || (o->block_size & (o->block_size - 1)))
        return dlt_fail(DELTA_ERR_ARG, "block size %u is not a power of two in 512..1048576", o->block_size);
    if (o->segment_size < o->block_size || o->segment_size > (32u << 20))
        return dlt_fail(DELTA_ERR_ARG, "segment size %u outside block size..32 MiB", o->segment_size);
    if (o->compression > DELTA_COMPRESSION_LZRC) return dlt_fail(DELTA_ERR_ARG, "unknown compression");
    if (o->compression == DELTA_COMPRESSION_LZRC &&
        (o->dict_size < DELTA_LZRC_MIN_WINDOW || o->dict_size > DELTA_LZRC_MAX_WINDOW || (o->dict_size & (o->dict_size - 1))))
        return dlt_fail(DELTA_ERR_ARG, "LZRC window %u is not a power of two in 256..65536", o->dict_size);
    if (o->compression == DELTA_COMPRESSION_LZMA2 && (o->dict_size < 4096 || o->dict_size > DELTA_PATCH_MAX_DICT))
        return dlt_fail(DELTA_ERR_ARG, "dictionary size %u outside 4096..8 MiB", o->dict_size);
    if (o->batch_blocks < 1 || o->batch_blocks > DELTA_PATCH_MAX_BATCH)
        return dlt_fail(DELTA_ERR_ARG, "batch of %u blocks outside 1..%u", o->batch_blocks, DELTA_PATCH_MAX_BATCH);
    if (o->max_stash > DELTA_PATCH_MAX_STASH) return dlt_fail(DELTA_ERR_ARG, "more than %u stash slots", DELTA_PATCH_MAX_STASH);
    if (o->arch != DELTA_ARCH_NONE && o->arch != DELTA_ARCH_THUMB2 && o->arch != DELTA_ARCH_X86_64 &&
        o->arch != DELTA_ARCH_AARCH64 && o->arch != DELTA_ARCH_AUTO)
        return dlt_fail(DELTA_ERR_ARG, "unknown arch %u", o->arch);
    return DELTA_OK;
}

DLT_DEFINE_INIT(delta_patch_options, DELTA_PATCH_OPTIONS_INIT, DELTA_PATCH_OPTIONS_VERSION)

delta_status delta_patch_make(const uint8_t *source, size_t source_len, const uint8_t *target, size_t target_len,
                              const delta_op *ops, size_t op_count, const delta_patch_options *opt_in,
                              delta_buf *out, delta_patch_stats *stats)
{
    delta_patch_options opt = DELTA_PATCH_OPTIONS_INIT;
    if (opt_in) opt = *opt_in;
    delta_status st = dlt_check_version("delta_patch_options", opt.version, DELTA_PATCH_OPTIONS_VERSION);
    if (!st) st = check_options(&opt);
    if (st) return st;
    if (source_len > DELTA_PATCH_MAX_IMAGE || target_len > DELTA_PATCH_MAX_IMAGE)
        return dlt_fail(DELTA_ERR_LIMIT, "images over 2 GiB are not supported");
    plan p;
    st = dlt_plan_build(source, source_len, target, target_len, ops, op_count, opt.block_size, opt.inplace,
                    opt.max_stash, opt.batch_blocks, &p);
    if (st) return st;

    delta_patch_stats sx;
    memset(&sx, 0, sizeof sx);
    sx.commands = p.cmd_count;
    sx.stashes = p.stashes;
    sx.literal_conversions = p.conversions;
    sx.converted_bytes = p.converted_bytes;
    size_t most = 1;
    for (uint64_t k = 0; k < p.blocks; k++)
        if (p.first[k + 1] - p.first[k] > most) most = p.first[k + 1] - p.first[k];
    plan_piece *pieces = malloc(3 * most * sizeof *pieces);
    if (!pieces) st = dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");

    /* Reference prediction: tried when asked for, or when the source looks
     * like Thumb-2 code (AUTO); kept per segment where it pays (below). */
    arch_entry *map_e[NVAR] = {NULL, NULL};
    arch_map map[NVAR];
    uint32_t var_arch[NVAR] = {ARCH_THUMB2, ARCH_THUMB2_ABS32};
    memset(map, 0, sizeof map);
    int nvar = 0;
    uint32_t base = 0;
    if (opt.arch == DELTA_ARCH_X86_64 || (opt.arch == DELTA_ARCH_AUTO && dlt_predict_looks_elf64(source, source_len, 62))) {
        var_arch[0] = ARCH_X86_64;
        nvar = 1;
    } else if (opt.arch == DELTA_ARCH_AARCH64 ||
               (opt.arch == DELTA_ARCH_AUTO && dlt_predict_looks_elf64(source, source_len, 183))) {
        var_arch[0] = ARCH_AARCH64;
        nvar = 1;
    } else if (opt.arch == DELTA_ARCH_THUMB2 ||
               (opt.arch == DELTA_ARCH_AUTO && dlt_predict_looks_thumb2(source, source_len))) {
        nvar = dlt_predict_find_base(source, source_len, &base) ? 2 : 1;
    }
    for (int v = 0; v < nvar && !st; v++) {
        st = dlt_predict_fit_map(source, source_len, target, target_len, ops, op_count, var_arch[v], base, &map_e[v],
                             &map[v].count);
        map[v].e = map_e[v];
        map[v].base = base;
        if (!st && map[v].count > ARCH_MAP_MAX) nvar = v; /* this one and the next are not tried */
    }
    /* Thumb-2 literals store their branches absolute: the extra stream differs too. */
    int lit_tf = nvar > 0 && (var_arch[0] == ARCH_THUMB2 || var_arch[0] == ARCH_THUMB2_ABS32);
    uint8_t *pred = nvar ? malloc(opt.block_size) : NULL;
    if (!st && nvar && !pred) st = dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");

    /* Cut the commands into segments of at most about segment_size target
     * bytes, all about the same size, so the cores finish together. */
    uint64_t written = 0;
    for (size_t i = 0; i < p.cmd_count; i++)
        if (p.cmds[i].type == PLAN_BLOCK) {
            uint64_t off = p.cmds[i].a * opt.block_size;
            written += target_len - off < opt.block_size ? target_len - off : opt.block_size;
        }
    /* The header declares the largest batch the plan uses (the scratch the
     * device needs), not the most it was allowed. */
    uint32_t batch_used = 1, in_batch = 0;
    for (size_t i = 0; i < p.cmd_count; i++) {
        if (p.cmds[i].type == PLAN_BLOCK && ++in_batch > batch_used) batch_used = in_batch;
        if (p.cmds[i].type == PLAN_COMMIT) in_batch = 0;
    }
    uint64_t parts = (written + opt.segment_size - 1) / opt.segment_size;
    uint64_t seg_limit = parts > 1 ? (written + parts - 1) / parts : opt.segment_size;
    segbuf *segs = NULL;
    size_t nseg = 0, segcap = 0;
    uint64_t seg_bytes = 0;
    int64_t shift = 0; /* src - dst of the previous COPY */
    for (size_t i = 0; i < p.cmd_count && !st; i++) {
        const plan_cmd *c = &p.cmds[i];
        if (nseg == 0 || (c->type == PLAN_BLOCK && seg_bytes >= seg_limit)) {
            if (nseg == segcap) {
                size_t nc = segcap ? segcap * 2 : 16;
                segbuf *ns = realloc(segs, nc * sizeof *ns);
                if (!ns) { st = dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory"); break; }
                segs = ns;
                segcap = nc;
            }
            memset(&segs[nseg], 0, sizeof segs[nseg]);
            segs[nseg].first_op = i;
            nseg++;
            seg_bytes = 0;
            shift = 0;
        }
        segbuf *sg = &segs[nseg - 1];
        uint8_t type = c->type;
        st = delta_buf_append(&sg->s[0], &type, 1);
        if (st) break;
        if (c->type == PLAN_STASH) {
            st = put_varint(&sg->s[0], c->a);
            if (!st) st = put_varint(&sg->s[0], c->b);
            continue;
        }
        if (c->type == PLAN_FREE) {
            st = put_varint(&sg->s[0], c->a);
            continue;
        }
        if (c->type == PLAN_COMMIT) continue; /* the command byte is all */
        uint64_t k = c->a;
        sx.blocks++;
        st = put_varint(&sg->s[0], k);
        size_t np = dlt_plan_block_pieces(&p, k, pieces);
        for (size_t pi = 0; pi < np && !st; pi++) {
            const plan_piece *q = &pieces[pi];
            st = put_varint(&sg->s[0], q->len << 1 | q->kind);
            if (st) break;
            seg_bytes += q->len;
            if (q->kind == 1) {
                sx.extra_bytes += q->len;
                st = delta_buf_append(&sg->s[2], target + q->dst, q->len);
                if (!st && lit_tf) {
                    size_t at = sg->pextra.len;
                    st = delta_buf_append(&sg->pextra, target + q->dst, q->len);
                    if (!st) dlt_arch_literal_store(var_arch[0], q->dst, sg->pextra.data + at, q->len);
                }
                continue;
            }
            sx.copy_bytes += q->len;
            /* Predict the source from the previous copy's alignment: pieces of one
             * match share it whatever order their blocks are written in. */
            int64_t here = (int64_t)q->src - (int64_t)q->dst;
            st = put_svarint(&sg->s[0], here - shift);
            shift = here;
            if (!st) st = delta_buf_reserve(&sg->s[1], q->len);
            if (st) break;
            uint8_t *d = sg->s[1].data + sg->s[1].len;
            for (uint64_t x = 0; x < q->len; x++) d[x] = (uint8_t)(target[q->dst + x] - source[q->src + x]);
            sg->s[1].len += q->len;
            /* The same piece as the decoder sees it: prediction from its source bytes. */
            for (int v = 0; v < nvar && !st; v++) {
                st = delta_buf_reserve(&sg->pdiff[v], q->len);
                if (st) break;
                memcpy(pred, source + q->src, q->len);
                dlt_arch_predict(var_arch[v], &map[v], source_len, q->dst, q->src, pred, q->len);
                d = sg->pdiff[v].data + sg->pdiff[v].len;
                for (uint64_t x = 0; x < q->len; x++) d[x] = (uint8_t)(target[q->dst + x] - pred[x]);
                sg->pdiff[v].len += q->len;
            }
        }
    }
    free(pieces);
    free(pred);
    delta_buf pre[NVAR] = {DELTA_BUF_INIT, DELTA_BUF_INIT};
    for (int v = 0; v < nvar && !st; v++) st = put_preamble(&pre[v], var_arch[v], base, map[v].e, map[v].count);
    for (size_t i = 0; i < nseg && !st; i++)
        for (int v = 0; v < nvar && !st; v++) {
            st = delta_buf_append(&segs[i].pctrl[v], pre[v].data, pre[v].len);
            if (!st) st = delta_buf_append(&segs[i].pctrl[v], segs[i].s[0].data, segs[i].s[0].len);
        }

    /*
     * Compress every stream independently, on all cores, then lay out header
     * + table + streams in order. Jobs per segment: ctrl, diff, extra, and
     * when prediction is tried the predicted ctrl and diff. A segment keeps
     * prediction when its two streams come out smaller that way (always, when
     * asked for THUMB2). Once one segment predicts, the header says PREDICT
     * and the others' control streams start with the preamble "0" (arch none):
     * those are compressed again.
     */
    size_t per = 3 + 2 * (size_t)nvar + (size_t)lit_tf, njobs = nseg * per;
    job_set js = {&opt, calloc(njobs ? njobs : 1, sizeof(job)), njobs, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    if (!st && !js.jobs) st = dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
    for (size_t i = 0; i < nseg && !st; i++)
        for (size_t k = 0; k < per; k++) {
            job *jb = &js.jobs[per * i + k];
            size_t v = (k - 3) / 2;
            if (k == per - 1 && lit_tf) { /* the predicted extra stream, last */
                jb->which = STREAM_EXTRA;
                jb->raw = &segs[i].pextra;
                continue;
            }
            jb->which = k < 3 ? (int)k : (k - 3) % 2 == 0 ? STREAM_CTRL : STREAM_DIFF;
            jb->raw = k < 3 ? &segs[i].s[k] : (k - 3) % 2 == 0 ? &segs[i].pctrl[v] : &segs[i].pdiff[v];
        }
    if (!st && nseg > 0 && opt.compression == DELTA_COMPRESSION_LZMA2) js.diff_lc = choose_diff_lc(&segs[0].s[1]);
    /*
     * The variants a segment may take, bit 0 no prediction, bit 1 + v
     * variant v. Asked for a transform, no prediction is no candidate: its
     * control and diff streams (and, for Thumb-2, its extra stream) are not
     * compressed. With more than one candidate and large diff streams, the
     * diff streams are first only estimated, and those of the candidates
     * that surely lose (surely_beats) are never compressed in full.
     */
#define CAND_ESTIMATED 0x80
    int plain_ok = !(opt.arch != DELTA_ARCH_AUTO && nvar);
    uint8_t *cand = calloc(nseg ? nseg : 1, 1);
    if (!st && !cand) st = dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
    int any_estimate = 0;
    for (size_t i = 0; i < nseg && !st; i++) {
        job *jb = &js.jobs[per * i];
        cand[i] = (uint8_t)((plain_ok ? 1u : 0u) | (((1u << nvar) - 1) << 1));
        if (!plain_ok) {
            jb[0].mode = jb[1].mode = JOB_SKIP;
            if (lit_tf) jb[2].mode = JOB_SKIP;
        }
        if (opt.compression != DELTA_COMPRESSION_LZMA2 || (plain_ok ? 1 : 0) + nvar < 2 ||
            segs[i].s[1].len < ESTIMATE_MIN)
            continue;
        if (plain_ok) jb[1].mode = JOB_ESTIMATE;
        for (int v = 0; v < nvar; v++) jb[4 + 2 * v].mode = JOB_ESTIMATE;
        cand[i] |= CAND_ESTIMATED;
        any_estimate = 1;
    }
    if (!st) st = run_jobs(&js, opt.threads);
    if (!st && any_estimate) {
        for (size_t i = 0; i < nseg; i++) {
            job *jb = &js.jobs[per * i];
            if (!(cand[i] & CAND_ESTIMATED)) continue;
            uint64_t c[1 + NVAR], d[1 + NVAR];
            c[0] = (uint64_t)jb[0].stored + jb[2].stored;
            d[0] = jb[1].estimate;
            for (int v = 0; v < nvar; v++) {
                c[1 + v] = (uint64_t)jb[3 + 2 * v].stored + jb[lit_tf ? per - 1 : 2].stored;
                d[1 + v] = jb[4 + 2 * v].estimate;
            }
            uint8_t keep = cand[i];
            for (int a = 0; a <= nvar; a++)
                for (int b = 0; b <= nvar; b++)
                    if (a != b && (cand[i] >> a & 1) && (cand[i] >> b & 1) && surely_beats(c[b], d[b], c[a], d[a]))
                        keep &= (uint8_t)~(1u << a);
            cand[i] = keep;
            if (keep & 1) jb[1].mode = JOB_FULL;
            for (int v = 0; v < nvar; v++)
                if (keep >> (1 + v) & 1) jb[4 + 2 * v].mode = JOB_FULL;
        }
        st = run_jobs(&js, opt.threads);
    }
    int any_predict = 0;
    uint32_t map_used = 0;
    for (size_t i = 0; i < nseg && !st; i++) {
        const job *jb = &js.jobs[per * i];
        uint64_t best = !(cand[i] & 1) ? UINT64_MAX : (uint64_t)jb[0].stored + jb[1].stored + jb[2].stored;
        segs[i].var = -1;
        for (int v = 0; v < nvar; v++) {
            if (!(cand[i] >> (1 + v) & 1)) continue;
            uint64_t size = (uint64_t)jb[3 + 2 * v].stored + jb[4 + 2 * v].stored + jb[lit_tf ? per - 1 : 2].stored;
            /* asked for THUMB2, a tie goes to the fuller model */
            if (size < best || (size == best && opt.arch != DELTA_ARCH_AUTO)) {
                best = size;
                segs[i].var = v;
            }
        }
        if (segs[i].var < 0) continue;
        any_predict = 1;
        if (map[segs[i].var].count > map_used) map_used = map[segs[i].var].count;
    }
    /* Which job's output each stream of each segment uses. */
    size_t *pick = calloc(nseg * 3 + 1, sizeof *pick);
    if (!st && !pick) st = dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
    const delta_buf **raw = calloc(nseg * 3 + 1, sizeof *raw);
    if (!st && !raw) st = dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
    job_set js2 = {&opt, NULL, 0, 0, js.diff_lc, PTHREAD_MUTEX_INITIALIZER};
    for (size_t i = 0; i < nseg && !st; i++) {
        int v = segs[i].var;
        pick[3 * i] = per * i + (v >= 0 ? 3 + 2 * (size_t)v : 0);
        pick[3 * i + 1] = per * i + (v >= 0 ? 4 + 2 * (size_t)v : 1);
        pick[3 * i + 2] = per * i + (v >= 0 && lit_tf ? per - 1 : 2);
        raw[3 * i] = v >= 0 ? &segs[i].pctrl[v] : &segs[i].s[0];
        raw[3 * i + 1] = v >= 0 ? &segs[i].pdiff[v] : &segs[i].s[1];
        raw[3 * i + 2] = v >= 0 && lit_tf ? &segs[i].pextra : &segs[i].s[2];
        if (any_predict && v < 0) { /* "0" + ctrl */
            uint8_t zero = ARCH_NONE;
            st = delta_buf_append(&segs[i].zctrl, &zero, 1);
            if (!st) st = delta_buf_append(&segs[i].zctrl, segs[i].s[0].data, segs[i].s[0].len);
            raw[3 * i] = &segs[i].zctrl;
            js2.count++;
        }
    }
    if (!st && js2.count) {
        js2.jobs = calloc(js2.count, sizeof(job));
        if (!js2.jobs) st = dlt_fail(DELTA_ERR_NOMEM, "encode: out of memory");
        for (size_t i = 0, n = 0; i < nseg && !st; i++)
            if (segs[i].var < 0) {
                js2.jobs[n].which = STREAM_CTRL;
                js2.jobs[n].raw = &segs[i].zctrl;
                n++;
            }
        if (!st) st = run_jobs(&js2, opt.threads);
    }
    delta_buf body = DELTA_BUF_INIT, table = DELTA_BUF_INIT;
    uint32_t max_stream = 0;
    for (size_t i = 0, n2 = 0; i < nseg && !st; i++) {
        uint8_t e[DELTA_PATCH_SEGMENT_ENTRY];
        size_t start = body.len;
        const job *out3[3];
        for (int s = 0; s < 3; s++) out3[s] = &js.jobs[pick[3 * i + s]];
        if (any_predict && segs[i].var < 0) out3[0] = &js2.jobs[n2++];
        for (int s = 0; s < 3 && !st; s++) {
            st = delta_buf_append(&body, out3[s]->out.data, out3[s]->out.len);
            if (raw[3 * i + s]->len > max_stream) max_stream = (uint32_t)raw[3 * i + s]->len;
        }
        if (st) break;
        sx.ctrl_bytes += out3[0]->stored;
        sx.diff_bytes += out3[1]->stored;
        sx.extra_stream_bytes += out3[2]->stored;
        sx.predicted_segments += (uint64_t)(segs[i].var >= 0);
        dlt_put64(e, segs[i].first_op);
        for (int s = 0; s < 3; s++) {
            dlt_put32(e + 8 + 4 * s, out3[s]->stored);
            dlt_put32(e + 20 + 4 * s, (uint32_t)raw[3 * i + s]->len);
        }
        dlt_put32(e + 32, dlt_crc32(0, body.data + start, body.len - start));
        st = delta_buf_append(&table, e, sizeof e);
    }
    sx.map_entries = map_used;
    for (size_t i = 0; js.jobs && i < njobs; i++) delta_buf_free(&js.jobs[i].out);
    for (size_t i = 0; js2.jobs && i < js2.count; i++) delta_buf_free(&js2.jobs[i].out);
    free(js.jobs);
    free(js2.jobs);
    free(cand);
    free(pick);
    free(raw);
    for (int v = 0; v < NVAR; v++) {
        free(map_e[v]);
        delta_buf_free(&pre[v]);
    }
    if (!st) {
        uint8_t h[DELTA_PATCH_HEADER_SIZE];
        memset(h, 0, sizeof h);
        memcpy(h, DELTA_PATCH_MAGIC, 8);
        dlt_put64(h + 8, source_len);
        dlt_put64(h + 16, target_len);
        dlt_put32(h + 24, opt.block_size);
        h[28] = (uint8_t)opt.compression;
        h[29] = (uint8_t)((opt.inplace ? DELTA_PATCH_INPLACE : 0) | (any_predict ? DELTA_PATCH_PREDICT : 0));
        dlt_put16(h + 30, (uint16_t)map_used);
        dlt_put32(h + 32, opt.compression != DELTA_COMPRESSION_NONE ? opt.dict_size : 0);
        dlt_put32(h + 36, (uint32_t)nseg);
        dlt_put32(h + 40, p.stash_slots);
        dlt_put32(h + 44, max_stream);
        dlt_put64(h + 48, p.cmd_count);
        dlt_put32(h + 56, batch_used);
        uint32_t crc = dlt_crc32(0, h, 60);
        crc = dlt_crc32(crc, table.data, table.len);
        dlt_put32(h + 60, crc);
        st = delta_buf_append(out, h, sizeof h);
        if (!st) st = delta_buf_append(out, table.data, table.len);
        if (!st) st = delta_buf_append(out, body.data, body.len);
    }
    for (size_t i = 0; i < nseg; i++) {
        for (int s = 0; s < 3; s++) delta_buf_free(&segs[i].s[s]);
        for (int v = 0; v < NVAR; v++) {
            delta_buf_free(&segs[i].pdiff[v]);
            delta_buf_free(&segs[i].pctrl[v]);
        }
        delta_buf_free(&segs[i].zctrl);
        delta_buf_free(&segs[i].pextra);
    }
    free(segs);
    delta_buf_free(&body);
    delta_buf_free(&table);
    dlt_plan_free(&p);
    if (!st && stats) *stats = sx;
    return st;
}
