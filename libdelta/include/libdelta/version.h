/* libdelta: version of the library (the build reads these three lines). */
#ifndef LIBDELTA_VERSION_H
#define LIBDELTA_VERSION_H

#define DELTA_VERSION_MAJOR 0
#define DELTA_VERSION_MINOR 1
#define DELTA_VERSION_PATCH 0
#define DELTA_VERSION_STRING "0.1.0"
#define DELTA_VERSION_NUMBER \
    (DELTA_VERSION_MAJOR * 10000 + DELTA_VERSION_MINOR * 100 + DELTA_VERSION_PATCH)

#endif
