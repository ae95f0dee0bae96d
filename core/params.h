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
/* Parse "name=value", check the name exists and the value is a number in range.
 * Every refusal is one line naming the parameter and its range ("parameter
 * 'lambda-f' = 11 is out of range [0.1, 10]"), whatever was wrong: an empty
 * or non-numeric value, NaN, an infinity, a fraction for a whole number. */
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

/* Checks every value of @params against its spec (for values filled in by
 * hand rather than through lisse_params_set); @owner ("smooth") leads the
 * message. */
gboolean lisse_params_check  (const LisseParams *params, const char *owner, GError **error);

/* @value as %g prints it, with more digits where six do not read back
 * (g_ascii_strtod) as the same double, whatever the locale: "0.1", "10",
 * "1e-05", "1e+08", "0.09999999999999999", "nan".  What listings and
 * messages print, so that a range shown is exactly the range checked and
 * a value just outside it does not print as its end. */
char    *lisse_params_format_number (double value);
/* "[0.1, 10]", or "[0, 32] (whole numbers)" for an integer parameter. */
char    *lisse_param_spec_format_range (const LisseParamSpec *spec);

G_END_DECLS
