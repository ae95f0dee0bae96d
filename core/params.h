/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Parameters declared once — name, label, range, default — and used by the
 * command line (--set name=value), the GEGL operations and the dialogs, as
 * darktable and GEGL declare theirs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LISSE_MAX_PARAMS 16

typedef struct
{
  const char *name;      /* "lambda-f": the command line / Script-Fu key */
  const char *label;     /* "λf": the papers' name, shown in dialogs */
  const char *blurb;     /* one sentence for --help and tooltips */
  double      min, max, def;
  gboolean    integer;   /* only whole values are valid */
} LisseParamSpec;

typedef struct
{
  const LisseParamSpec *specs;
  int                   n_specs;
  double                values[LISSE_MAX_PARAMS];
} LisseParams;

/* All values at their defaults. */
void     lisse_params_init   (LisseParams *params, const LisseParamSpec *specs, int n_specs);
/* Parse "name=value", check the name exists and the value is a number in range. */
gboolean lisse_params_parse  (LisseParams *params, const char *assignment, GError **error);
gboolean lisse_params_set    (LisseParams *params, const char *name, double value, GError **error);
/* Same, but a finite value outside the range is moved to its nearest end
 * (and rounded for integer parameters): for values one filter derives
 * from another's parameters, whose ranges are the callee's business. */
gboolean lisse_params_set_clamped (LisseParams *params, const char *name, double value,
                                   GError **error);
/* The value of a declared parameter; a name that is not declared is a
 * programming error (g_critical, returns NaN). */
double   lisse_params_get    (const LisseParams *params, const char *name);
const LisseParamSpec *lisse_params_find (const LisseParams *params, const char *name);

G_END_DECLS
