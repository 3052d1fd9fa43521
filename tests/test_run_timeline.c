/* report.timeline (sim/run/run_timeline.c): one iteration of a config simulated record by record. The
 * trace draws every record the iteration emits with no two events overlapping on a track, its
 * power counters integrate to the energy the ledger books for those records, and the
 * waveform's op signal (a string) ends at the sum of the cycles the pricing gives them, so the
 * picture and the ledger agree. */
#define _DEFAULT_SOURCE   /* mkdtemp */
#include "cunit_main.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "config.h"
#include "energy_only.h"
#include "hw.h"
#include "json.h"
#include "net.h"
#include "optim.h"
#include "run_timeline.h"
#include "train.h"

static struct e2_config *make_config(const char *method)
{
    const char *sets[] = {
        "name=tl", "network.depth=8", "network.width=4", "dataset.name=synthetic",
        "dataset.synthetic_size=12", "dataset.synthetic_channels=3", "dataset.synthetic_classes=4",
        "training.batch_size=8", "training.iterations=4", "training.mode=energy-only", method,
    };
    struct e2_config *cfg = calloc(1, sizeof *cfg);
    CU_ASSERT_FATAL(cfg != NULL);
    struct e2_err err = {""};
    cfg_defaults(cfg);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        CU_ASSERT_EQUAL_FATAL(cfg_set(cfg, sets[i], &err), E2_OK);
    return cfg;
}

struct records {
    struct oprec v[1024];
    int n;
};

static void keep(void *ctx, const struct oprec *r)
{
    struct records *l = ctx;
    if (l->n < 1024)
        l->v[l->n++] = *r;
}

/* The whole of a gzip file, NUL-terminated; NULL if it cannot be read. */
static char *read_gzip(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    int got = 0;
    while (s && (got = gzread(f, s + n, (unsigned)(cap - n - 1))) > 0) {
        n += (size_t)got;
        if (n + 1 == cap) {
            char *t = realloc(s, cap *= 2);
            if (!t)
                free(s);
            s = t;
        }
    }
    gzclose(f);
    if (!s || got < 0) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    *len = n;
    return s;
}

/* Microseconds as Perfetto keeps them: whole nanoseconds. */
static long long ns_of(const struct json_value *e, const char *key)
{
    return llround(json_get_number(e, key, -1.0) * 1e3);
}

struct slice {
    long long tid, t0, t1;
};

static int by_track_then_start(const void *a, const void *b)
{
    const struct slice *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return (x->t0 > y->t0) - (x->t0 < y->t0);
}

/* Perfetto drops a complete event that overlaps another on its track without nesting in it:
 * here no two events on one track overlap at all. Every record is drawn on an op track, and
 * the units and bus masters have their tracks. */
static void check_tracks(const struct json_value *ev, int records)
{
    const char *names[64] = {0};   /* by tid */
    struct slice *sl = calloc((size_t)ev->count, sizeof *sl);
    CU_ASSERT_FATAL(sl != NULL);
    int n = 0;
    for (int i = 0; i < ev->count; i++) {
        const struct json_value *e = &ev->items[i];
        const char *ph = json_get_string(e, "ph"), *name = json_get_string(e, "name");
        long long tid = (long long)json_get_number(e, "tid", -1);
        if (ph && !strcmp(ph, "M") && name && !strcmp(name, "thread_name") && tid >= 0 &&
            tid < 64)
            names[tid] = json_get_string(e, "args.name");
        if (ph && !strcmp(ph, "X"))
            sl[n++] = (struct slice){tid, ns_of(e, "ts"), ns_of(e, "ts") + ns_of(e, "dur")};
    }
    qsort(sl, (size_t)n, sizeof *sl, by_track_then_start);
    int overlaps = 0, on_op_tracks = 0;
    for (int i = 0; i < n; i++) {
        CU_ASSERT_FATAL(sl[i].tid >= 0 && sl[i].tid < 64 && names[sl[i].tid] != NULL);
        const char *track = names[sl[i].tid];
        on_op_tracks += !strcmp(track, "op") || !strcmp(track, "overlapped op");
        if (i > 0 && sl[i - 1].tid == sl[i].tid && sl[i].t0 < sl[i - 1].t1)
            overlaps++;
    }
    CU_ASSERT_EQUAL(overlaps, 0);
    CU_ASSERT_EQUAL(on_op_tracks, records);
    const char *units[] = {"op", "dma load", "dsp array", "dma store", "ddr"};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        int found = 0;
        for (int t = 0; t < 64; t++)
            found |= names[t] && !strcmp(names[t], units[u]);
        CU_ASSERT(found);
    }
    free(sl);
}

/* The power counters ("C" events, watts per component) integrate over time to the energy the
 * ledger books for the records, within the rounding of the printed watts and nanoseconds. */
static void check_power(const struct json_value *ev, const double *booked)
{
    double joules[HW_COMPONENT_COUNT] = {0}, total = 0;
    const struct json_value *prev = NULL;
    int samples = 0;
    for (int i = 0; i < ev->count; i++) {
        const struct json_value *e = &ev->items[i];
        const char *ph = json_get_string(e, "ph");
        if (!ph || strcmp(ph, "C"))
            continue;
        CU_ASSERT_STRING_EQUAL(json_get_string(e, "name"), "power (W)");
        if (prev) {
            double dt = (double)(ns_of(e, "ts") - ns_of(prev, "ts")) * 1e-9;
            CU_ASSERT(dt > 0);
            for (int c = 0; c < HW_COMPONENT_COUNT; c++) {
                const struct json_value *w = json_get(json_get(prev, "args"),
                                                      hw_component_name(c));
                CU_ASSERT_FATAL(w != NULL && w->type == JSON_NUMBER);
                joules[c] += w->number * dt;
            }
        }
        prev = e;
        samples++;
    }
    CU_ASSERT_FATAL(samples > 2);
    for (int c = 0; c < HW_COMPONENT_COUNT; c++) {   /* nothing runs after the last change */
        char key[64];
        snprintf(key, sizeof key, "args.%s", hw_component_name(c));
        CU_ASSERT_EQUAL(json_get_number(prev, key, -1), 0.0);
        total += booked[c];
    }
    for (int c = 0; c < HW_COMPONENT_COUNT; c++)
        CU_ASSERT(fabs(joules[c] - booked[c]) <= 1e-7 * total);
}

/* The op signal is a string: the running record's label, "-" once the last has ended, which
 * is at the priced cycles of the iteration. Time stamps only go forward. */
static void check_vcd(char *s, uint64_t cycles, double mhz)
{
    CU_ASSERT(strstr(s, "$var string 1 ! op $end") != NULL);
    CU_ASSERT(strstr(s, "\nsb0.u0.conv_forward !\n") != NULL);
    CU_ASSERT(strstr(s, "$var integer") == NULL);
    long long now = 0, idle_at = -1;
    int ordered = 1;
    for (char *line = strtok(strstr(s, "$enddefinitions"), "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] == '#') {
            ordered &= atoll(line + 1) > now || now == 0;
            now = atoll(line + 1);
        } else if (!strcmp(line, "s- !")) {
            idle_at = now;
        }
    CU_ASSERT(ordered);
    CU_ASSERT_EQUAL(idle_at, llround((double)cycles * 1e6 / mhz));
}

static void check_method(const char *method)
{
    struct e2_config *cfg = make_config(method);
    struct e2_err err = {""};
    struct hw_model *m = NULL;
    char msg[256];
    CU_ASSERT_FATAL(hw_create(&cfg->hw, &m, msg, sizeof msg) == 0);
    struct net *net = NULL;
    CU_ASSERT_EQUAL_FATAL(energy_only_net(cfg, 0, &net, &err), E2_OK);
    CU_ASSERT_EQUAL_FATAL(timeline_write_iteration(net, &cfg->training, m, tmpdir, &err), E2_OK);

    /* the same iteration's records, and their cycles as the pricing counts them */
    struct optim_config oc = {train_rule(&cfg->training), 0.9f, 1e-4f};
    struct records *l = calloc(1, sizeof *l);
    struct op_sink sink = {keep, l};
    CU_ASSERT_EQUAL_FATAL(net_emit_iteration(net, 8, NULL, 0.0f, &oc, &sink), 0);
    CU_ASSERT_FATAL(l->n > 20 && l->n < 1024);
    uint64_t cycles = 0;
    for (int i = 0; i < l->n; i++) {
        uint64_t c = 0;
        struct oprec r = l->v[i];
        r.psg_full_q16 = 0;   /* the timeline draws PSG's predictor pass only */
        CU_ASSERT_FATAL(hw_op_cost(m, &r, &c, NULL, msg, sizeof msg) == 0);
        cycles += c;
    }

    char path[512];
    path_of(path, sizeof path, "timeline.vcd");
    char *s = read_text(path);
    CU_ASSERT_FATAL(s != NULL);
    check_vcd(s, cycles, cfg->hw.pl_clock_mhz);
    free(s);

    path_of(path, sizeof path, "timeline.json.gz");
    size_t len = 0;
    s = read_gzip(path, &len);
    CU_ASSERT_FATAL(s != NULL);
    struct json_value *trace = NULL;
    CU_ASSERT_EQUAL_FATAL(json_parse(s, len, "timeline.json.gz", &trace, &err), E2_OK);
    free(s);
    const struct json_value *ev = json_get(trace, "traceEvents");
    CU_ASSERT_FATAL(ev != NULL && ev->type == JSON_ARRAY);
    check_tracks(ev, l->n);

    /* the energy the ledger books for the same records, per component */
    struct hw_ledger *ledger = hw_ledger_new();
    for (int i = 0; i < l->n; i++)
        CU_ASSERT_FATAL(hw_account(m, ledger, &l->v[i], 1, msg, sizeof msg) == 0);
    double booked[HW_COMPONENT_COUNT], total = 0;
    for (int c = 0; c < HW_COMPONENT_COUNT; c++) {
        struct hw_filter f = hw_filter_all();
        f.component = c;
        booked[c] = hw_fj_to_joules(hw_ledger_fj(ledger, &f));
        total += booked[c];
    }
    CU_ASSERT(total > 0);
    check_power(ev, booked);
    hw_ledger_free(ledger);
    json_free(trace);
    free(l);
    net_free(net);
    hw_free(m);
    free(cfg);
}

static void test_fixed_iteration(void)
{
    check_method("training.method=[fixed]");
}

static void test_e2train_iteration(void)
{
    check_method("training.method=[smd, slu, psg, swa]");
}

int main(void)
{
    CU_TestInfo tests[] = {
        { "fixed point: every record, and the priced cycles", test_fixed_iteration },
        { "E2-Train (gates on the A9, PSG predictor)", test_e2train_iteration },
        CU_TEST_INFO_NULL,
    };
    if (tmpdir_create("run_timeline") != 0)
        return 1;
    int failed = cunit_run("run_timeline", NULL, NULL, tests);
    tmpdir_remove();
    return failed ? 1 : 0;
}
