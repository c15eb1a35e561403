/* Status texts, the DFOTA code map and the per-thread last error. */
#include <string.h>

#include "internal.h"

#if DELTA_ERROR_MESSAGES
#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];
/* A callback's own words for the failure it is returning (delta_error_set). */
static _Thread_local char callback_error[256];

delta_status dlt_fail(delta_status status, const char *fmt, ...)
{
    /* Formatted apart first: callers may pass delta_last_error() as an argument. */
    char msg[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (callback_error[0] && n >= 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", callback_error);
    callback_error[0] = '\0';
    memcpy(last_error, msg, sizeof msg);
    return status;
}

void delta_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(callback_error, sizeof callback_error, fmt, ap);
    va_end(ap);
}

delta_status dlt_check_version(const char *type, unsigned int version, unsigned int current)
{
    if (version == 0)
        return dlt_fail(DELTA_ERR_ARG, "%s: version 0: not initialised (start from its _INIT macro or _init())",
                          type);
    if (version > current)
        return dlt_fail(DELTA_ERR_ARG, "%s: version %u is newer than this library's (%u): libdelta %s", type,
                          version, current, DELTA_VERSION_STRING);
    return DELTA_OK;
}

const char *delta_last_error(void)
{
    return last_error;
}

void delta_clear_error(void)
{
    last_error[0] = '\0';
    callback_error[0] = '\0';
}
#else
/* No messages (DELTA_ERROR_MESSAGES 0): dlt_fail only returns the status. */
const char *delta_last_error(void)
{
    return "";
}

void delta_clear_error(void)
{
}

void delta_error_set(const char *fmt, ...)
{
    (void)fmt;
}

delta_status dlt_check_version(const char *type, unsigned int version, unsigned int current)
{
    (void)type;
    return version == 0 || version > current ? DELTA_ERR_ARG : DELTA_OK;
}
#endif

const char *delta_version(void)
{
    return DELTA_VERSION_STRING;
}

/* No default case: a status without a text is a compiler warning. */
const char *delta_strerror(delta_status status)
{
    switch (status) {
    case DELTA_OK: return "success";
    case DELTA_ERR_ARG: return "invalid argument";
    case DELTA_ERR_INPUT: return "input cannot be read";
    case DELTA_ERR_OUTPUT: return "output cannot be written";
    case DELTA_ERR_LIMIT: return "input exceeds a limit";
    case DELTA_ERR_KEY: return "key cannot be used";
    case DELTA_ERR_CANCELLED: return "stopped by a callback";
    case DELTA_ERR_ZIP: return "bad zip structure";
    case DELTA_ERR_MEMBER_NAME: return "bad member name";
    case DELTA_ERR_MEMBERS: return "members do not match the manifest";
    case DELTA_ERR_MEMBER_DATA: return "member data corrupt";
    case DELTA_ERR_SIGNATURE: return "signature missing or invalid";
    case DELTA_ERR_MANIFEST: return "manifest malformed";
    case DELTA_ERR_FORMAT_VERSION: return "format version not supported";
    case DELTA_ERR_PATCH: return "patch malformed";
    case DELTA_ERR_PLAN: return "in-place plan is unsafe";
    case DELTA_ERR_PROJECT: return "package is for another project";
    case DELTA_ERR_VERSION: return "package is for another version";
    case DELTA_ERR_SOURCE: return "delta does not match the source";
    case DELTA_ERR_OTHER_UPDATE: return "another update is in progress";
    case DELTA_ERR_SPACE: return "not enough space";
    case DELTA_ERR_SLOT: return "target does not fit its region";
    case DELTA_ERR_TOO_LARGE: return "package too large";
    case DELTA_ERR_NOMEM: return "out of memory";
    case DELTA_ERR_INTERNAL: return "internal error";
    case DELTA_ERR_WRITE: return "writing the image failed";
    case DELTA_ERR_WRITE_NOSPACE: return "image medium full";
    case DELTA_ERR_SYNC: return "syncing the image failed";
    case DELTA_ERR_IMAGE_READ: return "reading the image failed";
    case DELTA_ERR_STATE_WRITE: return "writing the update state failed";
    case DELTA_ERR_TARGET: return "written image does not match the target";
    case DELTA_ERR_PACKAGE_READ: return "package unreadable while applying";
    case DELTA_ERR_STATE_CORRUPT: return "update state corrupt";
    case DELTA_ERR_ABANDONED: return "update abandoned after five failed tries";
    case DELTA_ERR_UNRECOVERABLE: return "update abandoned; image cannot be restored";
    }
    return "unknown status";
}

int delta_dfota_code(delta_status status)
{
    switch (status) {
    case DELTA_OK: return 0;
    case DELTA_ERR_ARG:
    case DELTA_ERR_INPUT:
    case DELTA_ERR_OUTPUT:
    case DELTA_ERR_LIMIT:
    case DELTA_ERR_KEY:
    case DELTA_ERR_CANCELLED: return -1;
    case DELTA_ERR_ZIP:
    case DELTA_ERR_MEMBER_NAME:
    case DELTA_ERR_MEMBERS:
    case DELTA_ERR_MEMBER_DATA:
    case DELTA_ERR_SIGNATURE:
    case DELTA_ERR_MANIFEST:
    case DELTA_ERR_FORMAT_VERSION:
    case DELTA_ERR_PATCH:
    case DELTA_ERR_PLAN: return 504;
    case DELTA_ERR_PROJECT:
    case DELTA_ERR_VERSION: return 505;
    case DELTA_ERR_SOURCE:
    case DELTA_ERR_OTHER_UPDATE: return 510;
    case DELTA_ERR_SPACE:
    case DELTA_ERR_SLOT: return 511;
    case DELTA_ERR_TOO_LARGE: return 550;
    case DELTA_ERR_NOMEM:
    case DELTA_ERR_INTERNAL: return 502;
    case DELTA_ERR_WRITE: return 520;
    case DELTA_ERR_WRITE_NOSPACE: return 521;
    case DELTA_ERR_SYNC: return 522;
    case DELTA_ERR_IMAGE_READ: return 523;
    case DELTA_ERR_STATE_WRITE: return 524;
    case DELTA_ERR_TARGET: return 525;
    case DELTA_ERR_PACKAGE_READ: return 526;
    case DELTA_ERR_STATE_CORRUPT: return 540;
    case DELTA_ERR_ABANDONED: return 545;
    case DELTA_ERR_UNRECOVERABLE: return 546;
    }
    return 502;
}

int delta_status_is_write_failure(delta_status status)
{
    int code = delta_dfota_code(status);
    return code == 502 || (code >= 520 && code <= 530) || (code >= 540 && code <= 546);
}
