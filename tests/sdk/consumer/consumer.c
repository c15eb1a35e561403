/*
 * A program that uses libdelta as installed (tests/sdk/test_sdk.sh builds it
 * against an install prefix with find_package and with pkg-config).
 *
 *   consumer [PKG.zip]
 *
 * Prints the library's version, the SHA-256 of "abc" and, given a package,
 * its project, versions, images, signature state and the schema of the
 * verifydelta report the library writes for it (libdelta/report.h). Exits 0,
 * or with the package's DFOTA code - 500 when it cannot be opened.
 */
#include <libdelta/delta.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (strcmp(delta_version(), DELTA_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: headers %s, library %s\n", DELTA_VERSION_STRING, delta_version());
        return 1;
    }
    uint8_t digest[DELTA_SHA256_LEN];
    char hex[2 * DELTA_SHA256_LEN + 1];
    delta_sha256("abc", 3, digest);
    delta_hex(digest, sizeof digest, hex);
    printf("libdelta %s\nsha256(abc) %s\n", delta_version(), hex);
    if (argc < 2)
        return 0;

    delta_source src;
    delta_file *file = NULL;
    delta_package *pkg = NULL;
    delta_check_options opt = DELTA_CHECK_OPTIONS_INIT;
    delta_status st = delta_file_source_open(argv[1], &src, &file);
    if (!st)
        st = delta_package_open(&src, &opt, &pkg);
    if (st) {
        fprintf(stderr, "consumer: %s: %s\n", argv[1], delta_last_error());
        delta_file_close(file);
        int code = delta_dfota_code(st);
        return code > 500 ? code - 500 : 1;
    }
    const delta_manifest *m = delta_package_manifest(pkg);
    printf("project %s\nfrom %s\nto %s\nimages %zu\n", m->project, m->source_version,
           m->target_version, m->image_count);
    for (size_t i = 0; i < m->image_count; i++)
        printf("image %s %llu -> %llu\n", m->images[i].name,
               (unsigned long long)m->images[i].source_size,
               (unsigned long long)m->images[i].target_size);
    printf("signature %d\n", delta_package_signature_state(pkg));

    delta_verifydelta_report report = DELTA_VERIFYDELTA_REPORT_INIT;
    report.path = argv[1];
    report.package = pkg;
    report.package_bytes = src.size;
    report.source_checked = 0;
    delta_buf json = DELTA_BUF_INIT;
    st = delta_verifydelta_report_write(&report, &json);
    const char *schema = st ? NULL : strstr((const char *)json.data, "\"schema\": \"");
    if (schema) {
        schema += strlen("\"schema\": \"");
        printf("report %.*s\n", (int)strcspn(schema, "\""), schema);
    } else {
        fprintf(stderr, "consumer: no report: %s\n", delta_last_error());
    }
    delta_buf_free(&json);
    delta_package_free(pkg);
    delta_file_close(file);
    return schema ? 0 : 1;
}
