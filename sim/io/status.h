/* How library code reports failure: it never prints and never exits. It returns one of these
 * and writes a one-line message (already prefixed with the file and place where one exists,
 * e.g. "zedboard.yaml:12:3: unknown key 'betta' in psg") into a caller-provided buffer.
 * Only sim/app/main.c turns them into what the user sees and the exit status. */
#ifndef E2_STATUS_H
#define E2_STATUS_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

enum e2_status {
    E2_OK = 0,
    E2_FAILURE = 1,     /* the run failed (I/O error, out of memory, interrupted...) */
    E2_BAD_INPUT = 2,   /* the user's input is wrong: usage, config, data file */
};

/* An error message buffer travels with its size. */
struct e2_err {
    char msg[1024];
};

/* Fill err (if non-NULL) and return code: `return e2_fail(err, E2_BAD_INPUT, "%s:%d: ...", ...);` */
static inline int e2_fail(struct e2_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int e2_fail(struct e2_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The status of a failed mkdir or create of a path the user named (--out, --trace): a path
 * that cannot be made there (no such folder, not a folder, no permission, read-only) is bad
 * input; anything else (a full disk, an I/O error) is a failure of the run. */
static inline int e2_path_status(int error)
{
    return error == ENOENT || error == ENOTDIR || error == EACCES || error == EPERM ||
                   error == EROFS || error == EISDIR || error == ENAMETOOLONG || error == ELOOP
               ? E2_BAD_INPUT
               : E2_FAILURE;
}

#endif
