/*
 * libdelta: the whole public API in one include.
 *
 *   #include <libdelta/delta.h>
 *
 * and link libdelta (pkg-config libdelta, or libdelta::delta with CMake).
 * A device port that uses only the device half (the patch decoder, the proof
 * and the in-place applier of libdelta/patch.h) links libdelta_core instead
 * (libdelta-core, libdelta::core). Link one of the two, never both.
 */
#ifndef LIBDELTA_DELTA_H
#define LIBDELTA_DELTA_H

#include "libdelta/version.h"
#include "libdelta/common.h"
#include "libdelta/io.h"
#include "libdelta/container.h"
#include "libdelta/manifest.h"
#include "libdelta/sign.h"
#include "libdelta/devheader.h"
#include "libdelta/diff.h"
#include "libdelta/patch.h"
#include "libdelta/package.h"
#include "libdelta/update.h"
#include "libdelta/fileio.h"

#endif
