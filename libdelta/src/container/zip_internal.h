/* The zip container's private layout: record sizes, signatures and the reader. */
#ifndef LIBDELTA_ZIP_INTERNAL_H
#define LIBDELTA_ZIP_INTERNAL_H

#include <zip.h>

#include "common/internal.h"
#include "libdelta/container.h"

/* Record signatures and fixed sizes (formats/container.md). */
#define ZIP_SIG_LOCAL 0x04034b50u
#define ZIP_SIG_CENTRAL 0x02014b50u
#define ZIP_SIG_EOCD 0x06054b50u
#define ZIP_SIG_ZIP64_LOCATOR 0x07064b50u
#define ZIP_LOCAL_LEN 30u
#define ZIP_CENTRAL_LEN 46u
#define ZIP_EOCD_LEN 22u
/* An end record plus the longest comment it can announce. */
#define ZIP_EOCD_SEARCH (ZIP_EOCD_LEN + 65535u)
/* The largest central directory the reader loads. */
#define ZIP_CD_MAX (UINT32_C(1) << 20)
/* The largest archive: every offset must fit 32 bits without ZIP64. */
#define ZIP_ARCHIVE_MAX UINT64_C(0xfffffffe)

/* What the writer puts in every record. */
#define ZIP_VERSION_MADE_BY 0x033fu /* UNIX, 6.3 (libzip's value) */
#define ZIP_VERSION_NEEDED 10u      /* 1.0: stored */
#define ZIP_DOS_TIME 0x0000u        /* 00:00:00 */
#define ZIP_DOS_DATE 0x0021u        /* 1980-01-01 */
#define ZIP_EXTERNAL_ATTR 0x81b60000u /* regular file, mode 0666 */

/* The ctx of a member's delta_source view. */
typedef struct zip_view {
    const delta_source *archive;
    uint64_t offset;
    uint64_t size;
} zip_view;

struct delta_zip {
    const delta_source *archive;
    zip_t *za; /* libzip's handle on the same source */
    unsigned read_failures; /* failed reads of the archive source through libzip */
    size_t count;
    delta_zip_member members[DELTA_ZIP_MAX_MEMBERS];   /* central directory order */
    uint64_t header_offset[DELTA_ZIP_MAX_MEMBERS];     /* local header of each member */
    zip_view views[DELTA_ZIP_MAX_MEMBERS];
};

/* The independent scan: end record, central directory, local headers and
 * layout. Fills count, members and header_offset, or refuses. */
delta_status dlt_zip_scan(const delta_source *archive, delta_zip *zip);

#endif
