/* Output folders and atomic result files; see outdir.h for the guarantees. */
#define _DEFAULT_SOURCE     /* fsync, fileno */
#include "outdir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* mkdir -p; the last component may exist only if `may_exist`. */
static int make_dirs(const char *dir, int may_exist, struct e2_err *err)
{
    char path[OUT_PATH_MAX];
    if (!dir[0] || strlen(dir) >= sizeof path)
        return e2_fail(err, E2_BAD_INPUT, "bad output folder name '%s'", dir);
    strcpy(path, dir);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = 0;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return e2_fail(err, E2_FAILURE, "cannot create folder '%s': %s", path,
                           strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) == 0)
        return E2_OK;
    if (errno != EEXIST)
        return e2_fail(err, E2_FAILURE, "cannot create output folder '%s': %s", path,
                       strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return e2_fail(err, E2_BAD_INPUT, "output path '%s' exists and is not a folder", path);
    if (!may_exist)
        return e2_fail(err, E2_BAD_INPUT,
                       "output folder '%s' exists; pass --resume to continue it, or choose "
                       "another --out",
                       path);
    return E2_OK;
}

int out_prepare_dir(const char *dir, int resume, struct e2_err *err)
{
    return make_dirs(dir, resume, err);
}

int out_create_default_dir(const char *name, char *buf, size_t size, struct e2_err *err)
{
    char safe[128], stamp[32];
    size_t n = 0;
    if (!buf || size < 16)
        return e2_fail(err, E2_FAILURE, "no room for the output folder name");
    for (const char *p = name; *p && n + 1 < sizeof safe; p++, n++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 strchr("._-", *p);
        safe[n] = ok ? *p : '_';
    }
    safe[n] = 0;
    if (!n || strcmp(safe, ".") == 0 || strcmp(safe, "..") == 0)
        snprintf(safe, sizeof safe, "run");
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if (make_dirs("out", 1, err))
        return E2_FAILURE;
    for (int attempt = 1; attempt < 1000; attempt++) {
        int len = attempt == 1 ? snprintf(buf, size, "out/%s-%s", safe, stamp)
                               : snprintf(buf, size, "out/%s-%s-%d", safe, stamp, attempt);
        if (len < 0 || (size_t)len >= size)
            return e2_fail(err, E2_FAILURE, "output folder name too long");
        if (mkdir(buf, 0777) == 0)
            return E2_OK;
        if (errno != EEXIST)
            return e2_fail(err, E2_FAILURE, "cannot create output folder '%s': %s", buf,
                           strerror(errno));
    }
    return e2_fail(err, E2_FAILURE, "cannot find a free output folder name for '%s'", buf);
}

int out_join(char *buf, size_t size, const char *dir, const char *name, struct e2_err *err)
{
    size_t d = strlen(dir);
    int slash = d && dir[d - 1] == '/';
    int len = snprintf(buf, size, "%s%s%s", dir, slash ? "" : "/", name);
    if (len < 0 || (size_t)len >= size)
        return e2_fail(err, E2_FAILURE, "path too long: %s/%s", dir, name);
    return E2_OK;
}

/* fsync the folder holding path, so that a rename survives a power cut. */
static void sync_parent(const char *path)
{
    char dir[OUT_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);   /* best effort: some file systems refuse fsync on folders */
        close(fd);
    }
}

int out_open_tmp(const char *path, struct out_file *f, struct e2_err *err)
{
    memset(f, 0, sizeof *f);
    if (strlen(path) + 32 >= sizeof f->tmp)
        return e2_fail(err, E2_FAILURE, "path too long: %s", path);
    strcpy(f->path, path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp, "wb");
    if (!f->fp)
        return e2_fail(err, E2_FAILURE, "cannot write '%s': %s", f->tmp, strerror(errno));
    return E2_OK;
}

void out_abort(struct out_file *f)
{
    if (!f->fp)
        return;
    fclose(f->fp);
    f->fp = NULL;
    unlink(f->tmp);
}

int out_commit(struct out_file *f, struct e2_err *err)
{
    if (!f->fp)
        return e2_fail(err, E2_FAILURE, "%s: not open", f->path);
    int failed = fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0;
    int saved = errno;
    if (fclose(f->fp) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    f->fp = NULL;
    if (!failed && rename(f->tmp, f->path) != 0) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        unlink(f->tmp);
        return e2_fail(err, E2_FAILURE, "cannot write '%s': %s", f->path,
                       saved ? strerror(saved) : "write error");
    }
    sync_parent(f->path);
    return E2_OK;
}

int out_write_atomic(const char *path, const void *data, size_t len, struct e2_err *err)
{
    struct out_file f;
    if (out_open_tmp(path, &f, err))
        return E2_FAILURE;
    if (len && fwrite(data, 1, len, f.fp) != len) {
        int saved = errno;
        out_abort(&f);
        return e2_fail(err, E2_FAILURE, "cannot write '%s': %s", path, strerror(saved));
    }
    return out_commit(&f, err);
}

int out_append_line_atomic(const char *path, const char *line, struct e2_err *err)
{
    size_t len = strlen(line);
    int newline = !len || line[len - 1] != '\n';
    char *buf = malloc(len + 2);
    if (!buf)
        return e2_fail(err, E2_FAILURE, "out of memory");
    memcpy(buf, line, len);
    if (newline)
        buf[len++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
    if (fd < 0) {
        free(buf);
        return e2_fail(err, E2_FAILURE, "cannot append to '%s': %s", path, strerror(errno));
    }
    ssize_t written = write(fd, buf, len);
    int saved = errno;
    int synced = written == (ssize_t)len && fsync(fd) == 0;
    if (!synced && written == (ssize_t)len)
        saved = errno;
    close(fd);
    free(buf);
    if (written != (ssize_t)len)
        return e2_fail(err, E2_FAILURE, "cannot append to '%s': %s", path,
                       written < 0 ? strerror(saved) : "short write");
    if (!synced)
        return e2_fail(err, E2_FAILURE, "cannot sync '%s': %s", path, strerror(saved));
    return E2_OK;
}
