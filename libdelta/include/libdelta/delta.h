/*
 * libdelta: the whole public API in one include.
 *
 *   #include <libdelta/delta.h>
 *
 * and link libdelta (pkg-config libdelta, or libdelta::delta with CMake).
 * A device port that uses only the device half (libdelta/core.h: the patch
 * decoder, the proof, the in-place applier and the device header check)
 * links libdelta_core instead (libdelta-core, libdelta::core). Link one of
 * the two, never both.
 *
 * Device half:  version.h common.h io.h patch.h devheader.h   (core.h)
 * Host half:    container.h manifest.h sign.h diff.h encode.h package.h
 *               update.h fileio.h report.h
 */
#ifndef LIBDELTA_DELTA_H
#define LIBDELTA_DELTA_H

#include "libdelta/core.h"
#include "libdelta/container.h"
#include "libdelta/manifest.h"
#include "libdelta/sign.h"
#include "libdelta/diff.h"
#include "libdelta/encode.h"
#include "libdelta/package.h"
#include "libdelta/update.h"
#include "libdelta/fileio.h"
#include "libdelta/report.h"

#endif
