/* Schema rows for every non-hardware key: type, default, range, choices and the doc line that
 * --print-config and docs/config.md show. The defaults describe E2-Train's default run
 * (configs/zedboard.yaml): SMD + SLU + PSG with SWA, ResNet-8 on Fashion-MNIST.
 * Order matters: --print-config and docs/config.md list keys in this order.
 * Paths in values are relative to the working directory (only include: is relative to its file). */
#include <limits.h>
#include "config.h"

#define F(f) offsetof(struct e2_config, f)
#define ANY 1e300

/* The enums' names and choices, made from their lists in config.h. CHOICES(CFG_ARCHS) is
 * "resnet|mobilenetv2": "|resnet" "|mobilenetv2" without its first bar. */
#define NAME(value, name) [value] = name,
#define BAR_NAME(value, name) "|" name
#define CHOICES(list) (list(BAR_NAME) + 1)

const char *const cfg_mode_names[] = {CFG_MODES(NAME) NULL};
const char *const cfg_base_names[] = {CFG_BASES(NAME) NULL};
const char *const cfg_addon_names[] = {CFG_ADDONS(NAME) NULL};
const char *const cfg_rounding_names[] = {CFG_ROUNDINGS(NAME) NULL};
const char *const cfg_decision_names[] = {CFG_DECISIONS(NAME) NULL};
const char *const cfg_target_scope_names[] = {CFG_TARGET_SCOPES(NAME) NULL};
const char *const cfg_tau_mode_names[] = {CFG_TAU_MODES(NAME) NULL};
const char *const cfg_arch_names[] = {CFG_ARCHS(NAME) NULL};
const char *const cfg_dataset_names[] = {CFG_DATASETS(NAME) NULL};
const char *const cfg_progress_names[] = {CFG_PROGRESSES(NAME) NULL};
const char *const cfg_sweep_mode_names[] = {CFG_SWEEP_MODES(NAME) NULL};

/* A CFG_CHOICE field is read and written as an int. */
_Static_assert(sizeof(enum cfg_mode) == sizeof(int) && sizeof(enum cfg_dataset_name) == sizeof(int),
               "config enums are stored as int");

const struct cfg_field cfg_run_fields[] = {
    {"name", CFG_STRING, F(name), "e2sim", 0, 0, NULL,
     "name of the run (required, not empty); the default output folder is out/<name>-<timestamp>"},
    {"seed", CFG_INT, F(seed), "1", 0, INT_MAX, NULL,
     "seed of every random stream: initialization, data order, rounding, SMD, SLU, SD"},

    {"network.arch", CFG_CHOICE, F(network.arch), "resnet", 0, 0, CHOICES(CFG_ARCHS),
     "network: CIFAR-style ResNet with basic blocks, or MobileNetV2 for 32x32 inputs"},
    {"network.depth", CFG_INT, F(network.depth), "8", 8, 1202, NULL,
     "ResNet depth 6n+2 (8, 14, 20, 38, 74, 110); ignored by mobilenetv2"},
    {"network.width", CFG_INT, F(network.width), "16", 1, 1024, NULL,
     "channels of the first stage (ResNet 16; MobileNetV2's first conv 32)"},
    {"network.skip_stage_entry", CFG_BOOL, F(network.skip_stage_entry), "true", 0, 0, NULL,
     "ResNet: SLU gates and stochastic depth may skip the first block of stages 2 and 3 (stride "
     "2, projection shortcut); false keeps it always on (see docs/training.md)"},

    {"dataset.name", CFG_CHOICE, F(dataset.name), "fashion-mnist", 0, 0, CHOICES(CFG_DATASETS),
     "data set; synthetic is a seeded random set for tests and quick runs"},
    {"dataset.path", CFG_STRING, F(dataset.path), "", 0, 0, NULL,
     "folder with the data set's files (idx or idx.gz; CIFAR binary batches); empty: the data "
     "set's own default folder (docs/datasets.md)"},
    {"dataset.train_subset", CFG_INT, F(dataset.train_subset), "0", 0, INT_MAX, NULL,
     "use only the first N training images (0 = all)"},
    {"dataset.test_subset", CFG_INT, F(dataset.test_subset), "0", 0, INT_MAX, NULL,
     "use only the first N test images (0 = all)"},
    {"dataset.augment", CFG_BOOL, F(dataset.augment), "false", 0, 0, NULL,
     "random crop from 4-pixel padding and horizontal flip (CIFAR's standard augmentation)"},
    {"dataset.normalize", CFG_BOOL, F(dataset.normalize), "true", 0, 0, NULL,
     "normalize each channel to zero mean and unit variance (training-set statistics)"},
    {"dataset.synthetic_train", CFG_INT, F(dataset.synthetic_train), "2048", 1, 1000000, NULL,
     "synthetic: training images"},
    {"dataset.synthetic_test", CFG_INT, F(dataset.synthetic_test), "512", 1, 1000000, NULL,
     "synthetic: test images"},
    {"dataset.synthetic_classes", CFG_INT, F(dataset.synthetic_classes), "10", 2, 256, NULL,
     "synthetic: number of classes"},
    {"dataset.synthetic_size", CFG_INT, F(dataset.synthetic_size), "28", 4, 256, NULL,
     "synthetic: image height and width (pixels)"},
    {"dataset.synthetic_channels", CFG_INT, F(dataset.synthetic_channels), "1", 1, 16, NULL,
     "synthetic: image channels"},

    {"training.mode", CFG_CHOICE, F(training.mode), "train", 0, 0, CHOICES(CFG_MODES),
     "train for real, or generate the op stream from training.energy_only statistics"},
    {"training.method", CFG_STRING_LIST, F(training.method), "[smd, slu, psg, swa]", 0, 0,
     (CFG_BASES(BAR_NAME) CFG_ADDONS(BAR_NAME) + 1),
     "required: one base (fp32, fixed8, fixed, signsgd, psg) plus any of smd, slu or sd, swa"},
    {"training.iterations", CFG_INT, F(training.iterations), "1000", 1, INT_MAX, NULL,
     "length of the run in iterations (SMD-skipped minibatches count)"},
    {"training.epochs", CFG_DOUBLE, F(training.epochs), "0", 0, 100000, NULL,
     "if > 0, the run length in epochs instead: ceil(epochs * train images / batch_size)"},
    {"training.batch_size", CFG_INT, F(training.batch_size), "128", 1, 65536, NULL,
     "minibatch size"},
    {"training.lr", CFG_DOUBLE, F(training.lr), "0.1", 0, 100, NULL,
     "initial learning rate (the paper: 0.1; 0.03 whenever PSG is used)"},
    {"training.sign_lr", CFG_DOUBLE, F(training.sign_lr), "0", 0, 100, NULL,
     "initial learning rate of the conv weights signsgd and psg update by sign (0 = training.lr); "
     "it follows lr's schedule (steps, SWA) in proportion"},
    {"training.lr_decay", CFG_DOUBLE, F(training.lr_decay), "0.1", 0, 1, NULL,
     "factor applied to the learning rate at each step"},
    {"training.lr_steps", CFG_INT_LIST, F(training.lr_steps), "[]", 1, INT_MAX, NULL,
     "iterations at which lr *= lr_decay; when empty, lr_step_fractions apply"},
    {"training.lr_step_fractions", CFG_DOUBLE_LIST, F(training.lr_step_fractions), "[0.5, 0.75]",
     0, 1, NULL, "fractions of the run at which lr *= lr_decay (used when lr_steps is empty)"},
    {"training.momentum", CFG_DOUBLE, F(training.momentum), "0.9", 0, 1, NULL,
     "SGD momentum (applied after taking signs for signsgd and psg)"},
    {"training.weight_decay", CFG_DOUBLE, F(training.weight_decay), "1e-4", 0, 1, NULL,
     "L2 weight decay"},
    {"training.eval_every", CFG_INT, F(training.eval_every), "200", 0, INT_MAX, NULL,
     "evaluate on the test set every N iterations (0 = only at the end)"},
    {"training.checkpoint_every", CFG_INT, F(training.checkpoint_every), "500", 0, INT_MAX, NULL,
     "write a checkpoint every N iterations (0 = only at the end)"},
    {"training.finetune_from", CFG_STRING, F(training.finetune_from), "", 0, 0, NULL,
     "checkpoint file to start from (\"\" = train from scratch)"},
    {"training.finetune_last_fc_only", CFG_BOOL, F(training.finetune_last_fc_only), "false", 0, 0,
     NULL, "with finetune_from: update only the final fully connected layer"},

    {"training.precision.activations", CFG_INT, F(training.precision.activations), "8", 2, 32,
     NULL, "bits of activations (32 = float) for the fixed and psg bases"},
    {"training.precision.weights", CFG_INT, F(training.precision.weights), "8", 2, 32, NULL,
     "bits of weights (32 = float)"},
    {"training.precision.grad_output", CFG_INT, F(training.precision.grad_output), "16", 2, 32,
     NULL, "bits of output gradients g_y (32 = float)"},
    {"training.precision.grad_weight", CFG_INT, F(training.precision.grad_weight), "16", 2, 32,
     NULL, "bits of weight gradients g_w (32 = float)"},
    {"training.precision.accumulator", CFG_INT, F(training.precision.accumulator), "48", 16, 64,
     NULL, "accumulator bits (the DSP48E1 post-adder has 48); overflow is counted"},
    {"training.precision.rounding", CFG_CHOICE, F(training.precision.rounding), "nearest", 0, 0,
     CHOICES(CFG_ROUNDINGS), "rounding when quantizing (stochastic draws are keyed by the seed)"},

    {"training.smd.p", CFG_DOUBLE, F(training.smd.p), "0.5", 0, 1, NULL,
     "SMD: probability of skipping each minibatch (below 1)"},
    {"training.smd.momentum_on_skip", CFG_BOOL, F(training.smd.momentum_on_skip), "false", 0, 0,
     NULL, "SMD: a skipped minibatch still applies a momentum step (as the authors' code did)"},

    {"training.slu.alpha", CFG_DOUBLE, F(training.slu.alpha), "1", 0, 100, NULL,
     "SLU: weight of the computation-cost term alpha*C(W,G) in the loss"},
    {"training.slu.target_skip", CFG_DOUBLE, F(training.slu.target_skip), "0.4", 0, 1, NULL,
     "SLU: target skip ratio; alpha's sign pushes the achieved ratio towards it (below 1)"},
    {"training.slu.decision", CFG_CHOICE, F(training.slu.decision), "bernoulli", 0, 0,
     CHOICES(CFG_DECISIONS),
     "SLU: execute a block by Bernoulli(p) with a straight-through gradient, or if p > 0.5; "
     "mixed: Bernoulli, but every sample is computed and mixed (the authors' code; saves nothing)"},
    {"training.slu.target_scope", CFG_CHOICE, F(training.slu.target_scope), "network", 0, 0,
     CHOICES(CFG_TARGET_SCOPES),
     "SLU: hold target_skip over the gated blocks together (network, the paper's C(W,G)), "
     "or in each gated block (block: no block can be dropped for every input)"},

    {"training.sd.skip_ratio", CFG_DOUBLE, F(training.sd.skip_ratio), "0.4", 0, 1, NULL,
     "stochastic depth: average fraction of blocks dropped (linearly decaying survival)"},

    {"training.psg.msb_x", CFG_INT, F(training.psg.msb_x), "4", 1, 32, NULL,
     "PSG: predictor bits of activations, taken from their codes"},
    {"training.psg.msb_g", CFG_INT, F(training.psg.msb_g), "10", 1, 32, NULL,
     "PSG: predictor bits of output gradients"},
    {"training.psg.beta", CFG_DOUBLE, F(training.psg.beta), "0.05", 0, 1, NULL,
     "PSG: adaptive threshold ratio, tau = beta * max (see tau_mode)"},
    {"training.psg.tau_mode", CFG_CHOICE, F(training.psg.tau_mode), "gw", 0, 0,
     CHOICES(CFG_TAU_MODES),
     "PSG: tau from max|g_w^msb| per layer (authors' code), max g_y^msb (paper text), or fixed"},
    {"training.psg.tau", CFG_DOUBLE, F(training.psg.tau), "0", 0, ANY, NULL,
     "PSG: the threshold when tau_mode is fixed"},

    {"training.swa.start", CFG_DOUBLE, F(training.swa.start), "0.75", 0, 1, NULL,
     "SWA: fraction of the run after which weights are averaged (below 1)"},
    {"training.swa.every", CFG_INT, F(training.swa.every), "50", 1, INT_MAX, NULL,
     "SWA: iterations between two averaged snapshots"},
    {"training.swa.lr", CFG_DOUBLE, F(training.swa.lr), "0.01", 0, 100, NULL,
     "SWA: constant learning rate during the averaging phase (0 = the schedule's goes on)"},

    {"training.energy_only.slu_skip", CFG_DOUBLE_LIST, F(training.energy_only.slu_skip), "[0.4]",
     0, 1, NULL, "energy-only: SLU skip ratio, one for all gated blocks or one per block"},
    {"training.energy_only.psg_predictor_ratio", CFG_DOUBLE,
     F(training.energy_only.psg_predictor_ratio), "0.6", 0, 1, NULL,
     "energy-only: fraction of weights updated from the PSG predictor"},

    {"report.top_layers", CFG_INT, F(report.top_layers), "10", 0, 100000, NULL,
     "layers listed by energy in report.md (0 = all)"},
    {"report.progress", CFG_CHOICE, F(report.progress), "auto", 0, 0, CHOICES(CFG_PROGRESSES),
     "progress display: a live line on a terminal (auto), plain lines, or none"},
    {"report.trace", CFG_STRING, F(report.trace), "", 0, 0, NULL,
     "record the op trace to this file (\"\" = none); same as --trace. In a sweep each point "
     "records its own, points/NNNN.e2t, and the sweep cannot vary it"},
    {"report.timeline", CFG_BOOL, F(report.timeline), "false", 0, 0, NULL,
     "write timeline.json.gz (Chrome trace events) and timeline.vcd (waveform) of what the "
     "hardware does in one training iteration (training and energy-only runs)"},

    {"calibration.measurements", CFG_STRING_LIST, F(calibration.measurements), "[]", 0, 0, NULL,
     "calibrate: measurement files the fit uses"},
    {"calibration.holdout", CFG_STRING_LIST, F(calibration.holdout), "[]", 0, 0, NULL,
     "calibrate: measurement files only checked against, never fitted"},
    {"calibration.free", CFG_STRING_LIST, F(calibration.free), "[]", 0, 0, NULL,
     "calibrate: energy:/hardware: number keys the fit may change (at most 3)"},
    {"calibration.lower", CFG_DOUBLE_LIST, F(calibration.lower), "[]", -ANY, ANY, NULL,
     "calibrate: lower bound of each free key"},
    {"calibration.upper", CFG_DOUBLE_LIST, F(calibration.upper), "[]", -ANY, ANY, NULL,
     "calibrate: upper bound of each free key"},
    {"calibration.output", CFG_STRING, F(calibration.output), "calibrated-hw.yaml", 0, 0, NULL,
     "calibrate: file name (no folder) of the calibrated hardware YAML, written in the output "
     "folder only"},

    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};
