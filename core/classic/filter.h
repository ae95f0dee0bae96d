/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The classical edge-preserving filters (L0, RTV, WLS, guided, joint
 * bilateral, rolling guidance) behind one interface, so the command line,
 * the GEGL operations and the evaluation scripts treat them alike.
 *
 * Images are 1×C×H×W tensors of non-linear sRGB values in [0,1] (R'G'B'(A)),
 * C in 1..4.  The first @n_color channels are filtered; the rest (alpha) are
 * copied untouched.  A guide, where the method takes one, is 1×Cg×H×W with
 * the same H and W (Cg in 1..4; its alpha, if any, is the caller's to drop).
 * NaN and ±∞ in the colour channels and the guide are replaced before a
 * filter runs (finite.h); an image beyond the memory budget is refused
 * (memory-budget.h). */
#pragma once

#include "memory-budget.h"
#include "params.h"
#include "progress.h"
#include "tensor.h"

G_BEGIN_DECLS

typedef enum
{
  LISSE_GUIDE_NONE,      /* the method is self-guided only */
  LISSE_GUIDE_OPTIONAL,  /* self-guided unless a guide is given */
  LISSE_GUIDE_REQUIRED,
} LisseGuideUse;

typedef LisseTensor *(*LisseFilterRunFunc) (const LisseTensor   *input,
                                            int                  n_color,
                                            const LisseTensor   *guide,   /* NULL: self */
                                            const LisseParams   *params,
                                            const LisseProgress *progress,
                                            GError             **error);

typedef struct
{
  const char           *name;        /* "l0": the command-line METHOD */
  const char           *title;       /* "L0 gradient minimisation" */
  const char           *reference;   /* "Xu et al. 2011" */
  const LisseParamSpec *params;
  int                   n_params;
  LisseGuideUse         guide;
  LisseFilterRunFunc    run;
  /* Peak memory of a run, the input and result included (memory-budget.h);
   * all zero: a cautious default. */
  LisseMemoryCost       memory;
} LisseFilterInfo;

/* NULL-terminated list of every filter, in a stable order. */
const LisseFilterInfo *const *lisse_filters (void);
const LisseFilterInfo        *lisse_filter_find (const char *name);

/* Whether a run on a @width × @height image of @channels channels, with a
 * guide of @guide_channels (0: none), fits the memory budget
 * (memory-budget.h); FALSE with a one-line error when it does not.  Front
 * ends call this before they allocate the image; lisse_filter_run() checks
 * it again. */
gboolean lisse_filter_check_memory (const LisseFilterInfo *info, int width, int height,
                                    int channels, int guide_channels, GError **error);

/* Checks shared by every filter (channel counts, sizes, guide shape, params
 * belong to this filter), then calls info->run.  Always use this entry point. */
LisseTensor *lisse_filter_run (const LisseFilterInfo *info,
                               const LisseTensor     *input,
                               int                    n_color,
                               const LisseTensor     *guide,
                               const LisseParams     *params,
                               const LisseProgress   *progress,
                               GError               **error);

G_END_DECLS
