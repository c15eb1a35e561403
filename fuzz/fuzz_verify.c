/* Fuzz target: the whole verify path. The input is a package file, opened
 * with delta_package_open twice: with the device's checks and the committed
 * test public key (tests/data/keys/ec-p256.pub.pem, loaded once), and with
 * no key and no device options. When a package opens, each image's source is
 * checked against the fixed source (the first 32 KiB of cityhub-7.27.0). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_images(const delta_package *p)
{
    const delta_manifest *m = delta_package_manifest(p);
    if (!m || m->image_count == 0 || m->image_count > DELTA_MANIFEST_MAX_IMAGES) abort();
    delta_source src;
    delta_source_from_memory(&src, fz_source(), FZ_SOURCE_LEN);
    for (size_t i = 0; i < m->image_count; i++) {
        delta_status st = delta_package_check_source(p, i, &src);
        if (st != DELTA_OK && st != DELTA_ERR_SOURCE) abort(); /* memory source: only match or 510 */
        if (delta_package_report(p, i)->blocks_written != m->images[i].blocks_written) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *pub;
    static size_t pub_len;
    if (!pub) pub = fz_read_file(DELTA_FUZZ_DATA "/keys/ec-p256.pub.pem", &pub_len);
    if (size > FZ_MAX_INPUT) return 0;
    delta_source file;
    delta_source_from_memory(&file, data, size);

    delta_check_options dev = DELTA_CHECK_OPTIONS_INIT;
    dev.pubkey_pem = (const char *)pub;
    dev.pubkey_len = pub_len;
    dev.project = FZ_PROJECT;
    dev.firmware_version = FZ_SOURCE_VERSION;
    dev.free_space = 1u << 20;
    dev.max_package = FZ_MAX_INPUT;
    delta_package *p = NULL;
    delta_status keyed = delta_package_open(&file, &dev, &p);
    if (keyed == DELTA_OK) {
        if (delta_package_signature_state(p) != 2) abort();
        check_images(p);
        delta_package_free(p);
    } else if (p || delta_dfota_code(keyed) < 0) {
        abort(); /* a refused package is always a contract code, never a local error */
    }

    p = NULL;
    delta_status open = delta_package_open(&file, NULL, &p);
    if (open == DELTA_OK) {
        check_images(p);
        delta_package_free(p);
    } else if (p || (delta_dfota_code(open) != 504 && open != DELTA_ERR_SLOT)) {
        abort(); /* without device options: the package itself, or its own slot_size (511) */
    }
    if (keyed == DELTA_OK && open != DELTA_OK) abort(); /* the key only adds checks */
    return 0;
}
