/*
 * The patcher on a microcontroller: delta_core built bare-metal applies an
 * ldpatch1 patch IN PLACE on an emulated NOR flash, and the harness cuts the
 * power at every erase and every program of the update, then boots again and
 * resumes from what the flash durably holds, to the exact target.
 *
 * NOR (examples/mcu/mps2-an385.ld): erase sets a whole erase block to 0xFF,
 * program may only turn erased bytes (0xFF) into data; a cut leaves the
 * operation in progress half done (half the block erased, half the bytes
 * programmed). Layout, in erase blocks: the image slot, the scratch, two
 * journal sectors (written alternately; the newest whole one wins).
 *
 * No OS, no malloc, no printf: output through semihosting. scripts/mcu-demo
 * builds it, runs it under qemu-system-arm -M mps2-an385 and prints the line.
 */
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "libdelta/core.h" /* the device half only */

#define MCU_PROJECT "PYBRICKS-CITYHUB"
#define MCU_VERSION "v7.27.0" /* the firmware this device runs */

#ifndef MCU_WORKSPACE
#define MCU_WORKSPACE 11648
#endif
#define NOR_BLOCK 2048u
#define IMG_BLOCKS 96u
#define SCR_BLOCKS 16u
#define IMG_BASE 0u
#define SCR_BASE (IMG_BLOCKS * NOR_BLOCK)
#define JNL_BASE ((IMG_BLOCKS + SCR_BLOCKS) * NOR_BLOCK)
#define NOR_BYTES ((IMG_BLOCKS + SCR_BLOCKS + 2) * NOR_BLOCK)

/* The download (examples/mcu/payload.S): the patch and its signed device
 * header (formats/device-header.md), and (harness only) a pristine source to
 * reset the flash to. */
extern const uint8_t mcu_patch[], mcu_patch_end[], mcu_header[], mcu_header_end[], mcu_source[], mcu_source_end[];
static delta_device_header header; /* checked at every boot, before anything is written */
uint32_t mcu_stack_peak(void);
extern uint8_t __data_start[], __bss_end[];

static uint8_t nor[NOR_BYTES] __attribute__((section(".nor"), aligned(4)));
static uint8_t workspace[MCU_WORKSPACE] __attribute__((aligned(8)));
static delta_journal journal;

/* ------------------------------------------------------------ semihosting */

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void say(const char *s) { semihost(0x04, s); }

static void say_u(uint32_t v)
{
    char b[11], *p = b + sizeof b;
    *--p = 0;
    do *--p = (char)('0' + v % 10); while (v /= 10);
    say(p);
}

static __attribute__((noreturn)) void quit(int ok)
{
    semihost(0x18, (const void *)(uintptr_t)(ok ? 0x20026 : 0x20023)); /* ApplicationExit / RunTimeError */
    for (;;) {}
}

static __attribute__((noreturn)) void fail(const char *what, uint32_t v)
{
    say("mcu: FAILED: ");
    say(what);
    say(" ");
    say_u(v);
    say("\n");
    quit(0);
}

/* ------------------------------------------------------------ NOR with power cuts */

static uint32_t ops, cut_at; /* erase + program operations so far; the one that loses power (0: none) */
static jmp_buf power_cut;

static void nor_erase(uint32_t off)
{
    if (++ops == cut_at) {
        memset(nor + off, 0xFF, NOR_BLOCK / 2); /* half erased */
        longjmp(power_cut, 1);
    }
    memset(nor + off, 0xFF, NOR_BLOCK);
}

static void nor_program(uint32_t off, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (nor[off + i] != 0xFF) fail("program over unerased flash at", off + (uint32_t)i);
    if (++ops == cut_at) len /= 2; /* half programmed */
    for (size_t i = 0; i < len; i++) nor[off + i] &= buf[i];
    if (ops == cut_at) longjmp(power_cut, 1);
}

/* Writes inside a region start at an erase block and stay in it. */
static int region_write(uint32_t base, uint32_t size, uint64_t off, const void *buf, size_t len)
{
    if (off % NOR_BLOCK || len > NOR_BLOCK || off + len > size) return DELTA_IO_ERROR;
    nor_erase(base + (uint32_t)off);
    nor_program(base + (uint32_t)off, buf, len);
    return DELTA_IO_OK;
}

static int region_read(uint32_t base, uint32_t size, uint64_t off, void *buf, size_t len)
{
    if (off > size || len > size - off) return DELTA_IO_ERROR;
    memcpy(buf, nor + base + off, len);
    return DELTA_IO_OK;
}

static int img_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    (void)ctx;
    return region_read(IMG_BASE, IMG_BLOCKS * NOR_BLOCK, off, buf, len);
}
static int img_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    (void)ctx;
    return region_write(IMG_BASE, IMG_BLOCKS * NOR_BLOCK, off, buf, len);
}
static int no_sync(void *ctx)
{
    (void)ctx;
    return DELTA_IO_OK; /* NOR: a programmed byte is durable */
}
static int scr_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    (void)ctx;
    return region_read(SCR_BASE, SCR_BLOCKS * NOR_BLOCK, off, buf, len);
}
static int scr_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    (void)ctx;
    return region_write(SCR_BASE, SCR_BLOCKS * NOR_BLOCK, off, buf, len);
}

/* Journal sectors: "MJNL", sequence, length, CRC-32 of those 12 bytes and the record, the record. */
#define JHDR 16u

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }

static uint32_t jcrc(const uint8_t *sector, uint32_t len)
{
    /* CRC-32 of header bytes 0..12 then the record: through the core's built-in. */
    uint8_t h[12];
    memcpy(h, sector, 12);
    extern uint32_t dlt_crc32(uint32_t, const void *, size_t);
    return dlt_crc32(dlt_crc32(0, h, 12), sector + JHDR, len);
}

/* The newest whole sector: its index, or -1. */
static int jnl_newest(uint32_t *seq)
{
    int best = -1;
    for (int s = 0; s < 2; s++) {
        const uint8_t *p = nor + JNL_BASE + (uint32_t)s * NOR_BLOCK;
        uint32_t len = le32(p + 8);
        if (memcmp(p, "MJNL", 4) != 0 || len > NOR_BLOCK - JHDR || jcrc(p, len) != le32(p + 12)) continue;
        if (best < 0 || le32(p + 4) - *seq < 0x80000000u) {
            best = s;
            *seq = le32(p + 4);
        }
    }
    return best;
}

static int jnl_read(void *ctx, void *buf, size_t cap, size_t *len)
{
    (void)ctx;
    uint32_t seq = 0;
    int s = jnl_newest(&seq);
    *len = 0;
    if (s < 0) return DELTA_IO_OK;
    const uint8_t *p = nor + JNL_BASE + (uint32_t)s * NOR_BLOCK;
    if (le32(p + 8) > cap) return DELTA_IO_ERROR;
    *len = le32(p + 8);
    memcpy(buf, p + JHDR, *len);
    return DELTA_IO_OK;
}

static uint8_t jsector[JHDR + DELTA_JOURNAL_CAP_SIZE];

static int jnl_write(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    uint32_t seq = 0;
    int s = jnl_newest(&seq);
    if (len > sizeof jsector - JHDR) return DELTA_IO_ERROR;
    int t = s < 0 ? 0 : !s;
    memcpy(jsector, "MJNL", 4);
    put32(jsector + 4, s < 0 ? 1 : seq + 1);
    put32(jsector + 8, (uint32_t)len);
    memcpy(jsector + JHDR, buf, len);
    put32(jsector + 12, jcrc(jsector, (uint32_t)len));
    uint32_t off = JNL_BASE + (uint32_t)t * NOR_BLOCK;
    nor_erase(off);
    nor_program(off, jsector, JHDR + len);
    return DELTA_IO_OK;
}

static int jnl_remove(void *ctx)
{
    (void)ctx;
    nor_erase(JNL_BASE);
    nor_erase(JNL_BASE + NOR_BLOCK);
    return DELTA_IO_OK;
}

/* ------------------------------------------------------------ one boot */

/*
 * The signature check of the device header. This board has no ECDSA engine
 * and the demo links no ECDSA code: the callback only checks that the
 * signature is a DER SEQUENCE of two INTEGERs, and says so. The signature
 * itself is verified with mbedTLS on the host (tests/test_devheader.c); a
 * real device puts its engine (or micro-ecc, or mbedTLS) here.
 */
static int verify_shape_only(void *ctx, const uint8_t *msg, size_t msg_len, const uint8_t digest[32],
                             const uint8_t *sig, size_t sig_len)
{
    (void)ctx, (void)msg, (void)msg_len, (void)digest;
    if (sig_len < 8 || sig[0] != 0x30 || sig[1] != sig_len - 2 || sig[2] != 0x02) return 1;
    size_t r = sig[3];
    return 4 + r + 2 <= sig_len && sig[4 + r] == 0x02 && 4 + r + 2 + sig[5 + r] == sig_len ? 0 : 1;
}

static delta_status boot(uint32_t *peak_check)
{
    delta_source patch;
    delta_source_from_memory(&patch, mcu_patch, (size_t)(mcu_patch_end - mcu_patch));
    delta_patch_info info;
    /* Before anything: the patch belongs to a signed package for this project and version. */
    delta_status st = delta_device_header_check(mcu_header, (size_t)(mcu_header_end - mcu_header), MCU_PROJECT, MCU_VERSION,
                                                &patch, verify_shape_only, NULL, workspace, sizeof workspace, &header);
    if (st) return st;
    st = delta_patch_read_info(&patch, &info);
    if (st) return st;
    if (info.target_size != header.target_size) return DELTA_ERR_MANIFEST;
    if (info.block_size != NOR_BLOCK) fail("patch block size is not the erase block:", info.block_size);
    if (delta_apply_workspace_size(&info) > sizeof workspace) fail("workspace needed:", (uint32_t)delta_apply_workspace_size(&info));
    if (delta_prove_workspace_size(&info) > sizeof workspace) fail("prover workspace needed:", (uint32_t)delta_prove_workspace_size(&info));
    *peak_check = (uint32_t)delta_apply_workspace_size(&info);

    /* Raw flash: no resize; the image "holds" the whole slot. */
    delta_flash flash = DELTA_FLASH_INIT;
    flash.size = flash.capacity = IMG_BLOCKS * NOR_BLOCK;
    flash.erase_size = NOR_BLOCK; /* the library refuses a patch whose blocks this NOR cannot erase alone */
    flash.read = img_read;
    flash.write = img_write;
    flash.sync = no_sync;
    delta_store store = DELTA_STORE_INIT;
    store.free_bytes = SCR_BLOCKS * NOR_BLOCK;
    store.journal_read = jnl_read;
    store.journal_write = jnl_write;
    store.journal_remove = jnl_remove;
    store.scratch_read = scr_read;
    store.scratch_write = scr_write;
    store.scratch_sync = no_sync;
    /* Before any write, and at every boot: the plan is proved where the patch lies. */
    delta_plan_report rep;
    st = delta_patch_prove_static(&patch, &rep, workspace, sizeof workspace);
    if (st) return st;
    if (info.scratch_bytes > SCR_BLOCKS * NOR_BLOCK) return DELTA_ERR_SPACE;

    size_t jl = 0;
    if (store.journal_read(NULL, jsector, sizeof jsector, &jl)) return DELTA_ERR_STATE_CORRUPT;
    if (jl == 0) {
        /* A fresh start: the image must be the source. */
        uint8_t sha[32];
        delta_sha256(nor + IMG_BASE, (size_t)info.source_size, sha);
        if (memcmp(sha, header.source_sha256, 32) != 0) return DELTA_ERR_SOURCE;
        memset(&journal, 0, sizeof journal);
        journal.state = DELTA_JOURNAL_APPLYING;
        memcpy(journal.package_id, header.target_sha256, 32);
    } else {
        st = delta_journal_decode(jsector, jl, &journal);
        if (st) return st;
        if (journal.flags & DELTA_JOURNAL_IMAGE_DONE) return DELTA_OK;
    }
    delta_apply_params p = DELTA_APPLY_PARAMS_INIT;
    p.patch = &patch;
    p.flash = &flash;
    p.store = &store;
    p.journal = &journal;
    p.target_sha256 = header.target_sha256;
    p.workspace = workspace;
    p.workspace_size = sizeof workspace;
    return delta_apply_in_place(&p);
}

static void nor_reset(void)
{
    memset(nor, 0xFF, sizeof nor);
    memcpy(nor + IMG_BASE, mcu_source, (size_t)(mcu_source_end - mcu_source));
}

static void check_target(uint32_t cut)
{
    delta_patch_info info;
    delta_source patch;
    delta_source_from_memory(&patch, mcu_patch, (size_t)(mcu_patch_end - mcu_patch));
    delta_patch_read_info(&patch, &info);
    uint8_t sha[32];
    delta_sha256(nor + IMG_BASE, (size_t)info.target_size, sha);
    if (memcmp(sha, header.target_sha256, 32) != 0) fail("not the target after the cut at operation", cut);
}

int main(void)
{
    static volatile uint32_t cut, cuts, total;
    static uint32_t ws_used;
    {
        /* A package for another device is refused before anything is written. */
        delta_source patch;
        delta_source_from_memory(&patch, mcu_patch, (size_t)(mcu_patch_end - mcu_patch));
        delta_status st = delta_device_header_check(mcu_header, (size_t)(mcu_header_end - mcu_header), "OTHER-PROJECT",
                                                    MCU_VERSION, &patch, verify_shape_only, NULL, workspace,
                                                    sizeof workspace, &header);
        if (st != DELTA_ERR_PROJECT) fail("a package for another project was not refused:", st);
        st = delta_device_header_check(mcu_header, (size_t)(mcu_header_end - mcu_header), MCU_PROJECT, "v7.26.0",
                                       &patch, verify_shape_only, NULL, workspace, sizeof workspace, &header);
        if (st != DELTA_ERR_VERSION) fail("a package for another version was not refused:", st);
    }
    for (cut = 1;; cut++) {
        nor_reset();
        ops = 0;
        cut_at = cut;
        if (!setjmp(power_cut)) {
            delta_status st = boot(&ws_used);
            if (st) fail("update failed with status", st);
            if (ops < cut) { /* this run met no cut: every operation has been cut once */
                total = ops;
                check_target(0);
                break;
            }
            fail("the cut was not reached:", cut);
        }
        /* Power came back: boot again, no more cuts, to the end. */
        cut_at = 0;
        delta_status st = boot(&ws_used);
        if (st) fail("resume failed with status", st);
        check_target(cut);
        cuts++;
    }
    delta_patch_info info;
    delta_source patch;
    delta_source_from_memory(&patch, mcu_patch, (size_t)(mcu_patch_end - mcu_patch));
    delta_patch_read_info(&patch, &info);
    uint8_t sha[32];
    delta_sha256(nor + IMG_BASE, (size_t)info.target_size, sha);
    char hex[65];
    delta_hex(sha, 32, hex);
    uint32_t stat = (uint32_t)(__bss_end - __data_start);
    say("mcu: ram_peak=");
    say_u(stat + mcu_stack_peak());
    say(" static=");
    say_u(stat);
    say(" stack=");
    say_u(mcu_stack_peak());
    say(" workspace=");
    say_u(ws_used);
    say(" ops=");
    say_u(total);
    say(" cuts=");
    say_u(cuts);
    say(" result=");
    say(hex);
    say("\n");
    quit(1);
}
