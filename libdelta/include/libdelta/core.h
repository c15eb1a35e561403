/*
 * libdelta: the device half in one include.
 *
 *   #include <libdelta/core.h>
 *
 * and link libdelta_core (pkg-config libdelta-core, or libdelta::core with
 * CMake). These headers declare exactly what libdelta_core defines, and
 * include no host header (tests/sdk/test_sdk.sh checks both): status
 * codes and buffers, the I/O callback tables, reading, proving and applying
 * patches with their journal, and the device header check. It builds for a
 * bare-metal target (README "Porting to a device"). The host half (zip,
 * manifest, signatures, diff, making packages, the update session, files)
 * is libdelta/delta.h, whose library libdelta also holds all of this.
 */
#ifndef LIBDELTA_CORE_H
#define LIBDELTA_CORE_H

#include "libdelta/version.h"
#include "libdelta/common.h"
#include "libdelta/io.h"
#include "libdelta/patch.h"
#include "libdelta/devheader.h"

#endif
