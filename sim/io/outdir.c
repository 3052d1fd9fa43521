/* Output folders and atomic result files; see outdir.h for the guarantees. */
#define _DEFAULT_SOURCE     /* fsync, fileno, flock */
#include "outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Folders this process holds the lock of (a second out_prepare_dir of one is not a conflict). */
static struct held_lock {
    dev_t dev;
    ino_t ino;
} *held;
static int nheld;

/* One process owns an output folder at a time: an exclusive flock on the folder itself. The
 * descriptor stays open until the process ends, and without O_CLOEXEC it passes to the sweep's
 * workers, so the folder stays locked until the last process writing there is gone (a resume
 * never races the workers of a killed sweep). File systems without flock (some NFS setups)
 * go unlocked. */
static int lock_dir(const char *dir, struct e2_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return e2_fail(err, E2_FAILURE, "cannot open output folder '%s': %s", dir,
                       strerror(saved));
    }
    for (int i = 0; i < nheld; i++) {
        if (held[i].dev == st.st_dev && held[i].ino == st.st_ino) {
            close(fd);
            return E2_OK;
        }
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;
        close(fd);
        if (saved == EWOULDBLOCK)
            return e2_fail(err, E2_BAD_INPUT, "output folder '%s' is in use by another e2sim "
                           "process (a run or sweep writing there, or its workers); wait for it "
                           "to end or choose another --out", dir);
        return E2_OK;
    }
    struct held_lock *grown = realloc(held, ((size_t)nheld + 1) * sizeof *held);
    if (!grown) {
        close(fd);
        return e2_fail(err, E2_FAILURE, "out of memory");
    }
    held = grown;
    held[nheld].dev = st.st_dev;
    held[nheld].ino = st.st_ino;
    nheld++;
    return E2_OK;   /* fd stays open: it is the lock */
}

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
            return e2_fail(err, e2_path_status(errno), "cannot create folder '%s': %s", path,
                           strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) == 0)
        return E2_OK;
    if (errno != EEXIST)
        return e2_fail(err, e2_path_status(errno), "cannot create output folder '%s': %s", path,
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
    int rc = make_dirs(dir, resume, err);
    return rc == E2_OK ? lock_dir(dir, err) : rc;
}

static int holds(const char *dir, const char *name)
{
    char path[OUT_PATH_MAX];
    return snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path &&
           access(path, F_OK) == 0;
}

int out_check_resume(const char *dir, enum out_kind kind, struct e2_err *err)
{
    static const char *const resumed[] = {
        [OUT_KIND_TRAIN] = "a training run",
        [OUT_KIND_RERUN] = "an energy-only run or a replay",
        [OUT_KIND_SWEEP] = "a sweep",
    };
    const char *file = NULL, *what = NULL;
    int ckpt = holds(dir, "checkpoint.e2ck");
    if (kind != OUT_KIND_SWEEP && holds(dir, "sweep.jsonl"))
        file = "sweep.jsonl", what = "a sweep's results";
    else if (kind != OUT_KIND_SWEEP && holds(dir, "points"))
        file = "points", what = "a sweep's points";
    else if (kind != OUT_KIND_TRAIN && ckpt)
        file = "checkpoint.e2ck", what = "a training run's checkpoint";
    else if (kind == OUT_KIND_SWEEP && holds(dir, "report.json"))
        file = "report.json", what = "a run's report";
    else if (kind == OUT_KIND_TRAIN && !ckpt && holds(dir, "report.json"))
        file = "report.json", what = "the report of a run without a checkpoint to continue "
                                     "(energy-only, a replay)";
    if (!file)
        return E2_OK;
    return e2_fail(err, E2_BAD_INPUT, "%s/%s: --resume of %s in a folder that holds %s; resume "
                   "it with the config that made it, or choose another --out", dir, file,
                   resumed[kind], what);
}

void out_discard_unstarted(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    int others = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        others += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                  strcmp(e->d_name, "config.yaml");
    closedir(d);
    char path[OUT_PATH_MAX];
    if (others || snprintf(path, sizeof path, "%s/config.yaml", dir) >= (int)sizeof path)
        return;
    unlink(path);
    rmdir(dir);
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
            return lock_dir(buf, err);
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

/* Remove "path.tmp.PID" files of processes that no longer run: what a run killed while writing
 * path left behind (a resumed run has another PID, so nobody else would ever remove them). */
static void remove_stale_temps(const char *path)
{
    char dir[OUT_PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *tail = e->d_name + blen;
        if (strncmp(e->d_name, base, blen) != 0 || strncmp(tail, ".tmp.", 5) != 0 ||
            !tail[5] || strspn(tail + 5, "0123456789") != strlen(tail + 5))
            continue;
        long pid = strtol(tail + 5, NULL, 10);
        if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char stale[OUT_PATH_MAX + 256];
            snprintf(stale, sizeof stale, "%s%s", slash ? dir : "", e->d_name);
            unlink(stale);
        }
    }
    if (d)
        closedir(d);
}

int out_check_target(const char *path, struct e2_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return e2_fail(err, E2_BAD_INPUT, "%s: exists and is not a regular file; name a file",
                       path);
    return E2_OK;
}

/* The files a run or a sweep writes into its output folder (docs/outputs.md). */
static const char *const result_names[] = {
    "report.json", "report.md", "report.html", "breakdown.csv", "layers.csv", "curve.csv",
    "psg_layers.csv", "config.yaml", "checkpoint.e2ck", "timeline.json.gz", "timeline.vcd",
    "sweep.jsonl", "sweep.csv", "sweep.md", "sweep.html", NULL,
};

int out_check_not_result(const char *dir, const char *path, const char *label,
                         struct e2_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char parent[OUT_PATH_MAX] = ".";
    if (slash)
        snprintf(parent, sizeof parent, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int i = 0;
    while (result_names[i] && strcmp(result_names[i], base) != 0)
        i++;
    struct stat a, b;   /* one folder however it is spelled (relative, symlinks, "a/./b") */
    if (!result_names[i] || stat(parent, &a) != 0 || stat(dir, &b) != 0 ||
        a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return E2_OK;
    return e2_fail(err, E2_BAD_INPUT, "%s %s: %s is a file the run writes into its output folder "
                   "%s; name another file", label, path, base, dir);
}

int out_open_tmp(const char *path, struct out_file *f, struct e2_err *err)
{
    memset(f, 0, sizeof *f);
    if (strlen(path) + 32 >= sizeof f->tmp)
        return e2_fail(err, E2_FAILURE, "path too long: %s", path);
    strcpy(f->path, path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld", path, (long)getpid());
    remove_stale_temps(path);
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
    int rc = out_open_tmp(path, &f, err);
    if (rc != E2_OK)
        return rc;
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
