/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One harness checks every optimised op against its plain reference, as
 * ggml's test-backend-ops and ncnn's layer tests do: random shapes (odd
 * sizes, 1×1 images, channel counts that divide nothing), random values,
 * a stated error bound per op.
 *
 * An op file of tests (op-cases-*.c) exports a NULL-terminated table of
 * OpCase; each case function draws its own random configuration from
 * @check's generator, runs fast and reference, and calls op_check_compare().
 * The harness calls each case OP_TRIALS times with different seeds. */
#pragma once

#include "tensor.h"

#include <glib.h>

#define OP_TRIALS 24

typedef struct OpCheck OpCheck;

typedef struct
{
  const char *name;                   /* "conv2d" */
  void      (*run) (OpCheck *check);  /* one random trial */
} OpCase;

/* The trial's generator; deterministic per (case, trial). */
GRand       *op_check_rng       (OpCheck *check);
/* The trial number (0 ≤ trial < OP_TRIALS): cases use the first trials for
 * edge shapes (1×1 images, one channel) and random shapes after. */
int          op_check_trial     (OpCheck *check);
/* Uniform integer in [lo, hi]. */
int          op_rand_int        (OpCheck *check, int lo, int hi);
/* Tensor of uniform values in [lo, hi). */
LisseTensor *op_rand_tensor     (OpCheck *check, int n, int c, int h, int w,
                                 float lo, float hi);
/* Compare @fast against @ref: passes when shapes agree and
 * max |fast − ref| ≤ abs_tol + rel_tol · max |ref|.
 * @what describes the configuration (printed on failure). */
void         op_check_compare   (OpCheck *check, const char *what,
                                 const LisseTensor *fast, const LisseTensor *ref,
                                 double abs_tol, double rel_tol);
/* Record a failure that is not a tensor mismatch (an op refused valid input). */
void         op_check_fail      (OpCheck *check, const char *what, const char *message);
/* The case cannot run on this machine (a CPU feature it tests is absent):
 * reported as a TAP skip with @reason instead of a case that compared
 * nothing, which fails. */
void         op_check_skip      (OpCheck *check, const char *reason);
