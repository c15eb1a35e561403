/* Applying a package out of place. In place: the update session (update/). */
#include "package_internal.h"

delta_status delta_package_apply_out_of_place(const delta_package *pkg, size_t i, const delta_source *src,
                                              const delta_sink *out)
{
    delta_status st = dlt_check_sink(out, "the target image");
    if (!st) st = delta_package_check_source(pkg, i, src);
    if (st) return st;
    delta_source ps;
    delta_package_patch(pkg, i, &ps);
    return delta_apply_out_of_place(&ps, src, out, NULL, 0);
}
