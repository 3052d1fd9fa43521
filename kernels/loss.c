/* Softmax cross-entropy and top-k counts. */
#include "loss.h"

#include <math.h>

static void emit(const struct op_sink *sink, int n, int classes, enum op_phase phase, struct op_tag tag)
{
    struct nchw s = { n, classes, 1, 1 };
    op_emit_elem(sink, OP_LOSS, phase, tag, &s);
}

static int valid(int label, int classes) { return label >= 0 && label < classes; }

double loss_xent_forward(int n, int classes, const float *logits, const int *labels, float *prob,
                         const struct op_sink *sink, struct op_tag tag)
{
    double total = 0.0;
    int counted = 0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (long)i * classes;
        float *p = prob + (long)i * classes;
        float mx = l[0];
        for (int c = 1; c < classes; c++)
            if (l[c] > mx)
                mx = l[c];
        double sum = 0.0;
        for (int c = 0; c < classes; c++)
            sum += exp((double)l[c] - (double)mx);
        for (int c = 0; c < classes; c++)
            p[c] = (float)(exp((double)l[c] - (double)mx) / sum);
        if (valid(labels[i], classes)) {
            total += log(sum) - ((double)l[labels[i]] - (double)mx);
            counted++;
        }
    }
    emit(sink, n, classes, OP_PHASE_FWD, tag);
    return counted ? total / counted : 0.0;
}

void loss_xent_backward(int n, int classes, const float *prob, const int *labels, float grad_scale,
                        float *glogits, const struct op_sink *sink, struct op_tag tag)
{
    int counted = 0;
    for (int i = 0; i < n; i++)
        counted += valid(labels[i], classes);
    float k = counted ? (float)((double)grad_scale / counted) : 0.0f;
    for (int i = 0; i < n; i++) {
        const float *p = prob + (long)i * classes;
        float *g = glogits + (long)i * classes;
        if (!valid(labels[i], classes)) {
            for (int c = 0; c < classes; c++)
                g[c] = 0.0f;
            continue;
        }
        for (int c = 0; c < classes; c++)
            g[c] = (p[c] - (c == labels[i] ? 1.0f : 0.0f)) * k;
    }
    emit(sink, n, classes, OP_PHASE_BWD_DATA, tag);
}

int loss_topk_hits(int n, int classes, const float *logits, const int *labels, int k)
{
    int hits = 0;
    for (int i = 0; i < n; i++) {
        int y = labels[i];
        if (!valid(y, classes))
            continue;
        const float *l = logits + (long)i * classes;
        int rank = 0;
        for (int j = 0; j < classes; j++)
            rank += l[j] > l[y] || (j < y && l[j] == l[y]);
        hits += rank < k;
    }
    return hits;
}
