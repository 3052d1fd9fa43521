/* report.timeline (see run_timeline.h): the records and their labels; sim/report/timeline.c
 * writes the files. */
#include "run_timeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "energy.h"
#include "net.h"
#include "optim.h"
#include "report.h"
#include "trace.h"
#include "train.h"

/* The records one iteration emits, in order. */
struct record_list {
    struct oprec *v;
    size_t n, cap;
    int oom;
};

static void record(void *ctx, const struct oprec *r)
{
    struct record_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct oprec *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *r;
}

/* "b1.u0.conv forward" for each record: layer and phase names as the reports give them. */
static char **label_records(struct net *net, const struct record_list *l)
{
    struct energy_acc acc;
    if (energy_init(&acc, NULL, NULL) != 0)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        energy_add(&acc, &l->v[i], 1);
    struct net_param *p;
    int np = net_params(net, &p), nlayers = 0;
    struct trace_layer *layers = NULL;
    char **labels = calloc(l->n ? l->n : 1, sizeof *labels);
    int ok = labels && !acc.oom && energy_describe_layers(p, np, &acc, &layers, &nlayers) == 0;
    for (size_t i = 0; ok && i < l->n; i++) {
        const struct oprec *r = &l->v[i];
        const char *name = r->layer < nlayers ? layers[r->layer].name : "";
        const char *phase = oprec_phase_name(r->phase);
        size_t size = strlen(name) + strlen(phase) + 2;
        ok = (labels[i] = malloc(size)) != NULL;
        if (ok)
            snprintf(labels[i], size, "%s %s", name, phase);
    }
    free(layers);
    energy_free(&acc);
    if (!ok && labels) {
        for (size_t i = 0; i < l->n; i++)
            free(labels[i]);
        free(labels);
        labels = NULL;
    }
    return labels;
}

int timeline_write_iteration(struct net *net, const struct cfg_training *tr, struct hw_model *m,
                             const char *dir, struct e2_err *err)
{
    int rc = E2_OK;
    struct optim_config oc = {train_rule(tr), (float)tr->momentum, (float)tr->weight_decay};
    struct record_list l = {0};
    struct op_sink sink = {record, &l};
    char **labels = NULL;
    if (net_emit_iteration(net, tr->batch_size, NULL, 0.0f, &oc, &sink) != 0 || l.oom ||
        !(labels = label_records(net, &l)))
        rc = e2_fail(err, E2_FAILURE, "timeline: out of memory");
    if (rc == E2_OK)
        rc = report_write_timeline(dir, m, l.v, l.n, (const char *const *)labels, err);
    for (size_t i = 0; labels && i < l.n; i++)
        free(labels[i]);
    free(labels);
    free(l.v);
    return rc;
}
