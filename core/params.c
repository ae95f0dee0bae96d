/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "params.h"
#include "lisse-error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
lisse_params_init (LisseParams *params, const LisseParamSpec *specs, int n_specs)
{
  g_return_if_fail (n_specs >= 0 && n_specs <= LISSE_MAX_PARAMS);
  params->specs = specs;
  params->n_specs = n_specs;
  for (int i = 0; i < n_specs; i++)
    params->values[i] = specs[i].def;
}

static int
find_index (const LisseParams *params, const char *name)
{
  for (int i = 0; i < params->n_specs; i++)
    if (strcmp (params->specs[i].name, name) == 0)
      return i;
  return -1;
}

const LisseParamSpec *
lisse_params_find (const LisseParams *params, const char *name)
{
  int i = find_index (params, name);
  return i < 0 ? NULL : &params->specs[i];
}

static char *
known_names (const LisseParams *params)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < params->n_specs; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", params->specs[i].name);
  if (params->n_specs == 0)
    g_string_append (s, "none");
  return g_string_free (s, FALSE);
}

gboolean
lisse_params_set_clamped (LisseParams *params, const char *name, double value, GError **error)
{
  const LisseParamSpec *spec = lisse_params_find (params, name);
  if (spec && isfinite (value))
    {
      value = CLAMP (value, spec->min, spec->max);
      if (spec->integer)
        value = CLAMP (round (value), ceil (spec->min), floor (spec->max));
    }
  return lisse_params_set (params, name, value, error);
}

char *
lisse_params_format_number (double value)
{
  if (isnan (value))
    return g_strdup ("nan");
  if (isinf (value))
    return g_strdup (value > 0 ? "inf" : "-inf");
  /* The fewest significant digits that read back exactly, but at least
   * %g's six, so that 10 prints as "10" (not "1e+01") and every value that
   * %g shows exactly looks as it always has.  g_ascii_formatd: a German
   * locale must not turn 0.1 into "0,1", which `--set` would then refuse. */
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  for (int digits = 6; digits <= 17; digits++)
    {
      char format[8];
      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (buf, sizeof buf, format, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }
  return g_strdup (buf);
}

static char *
format_interval (const LisseParamSpec *spec)
{
  g_autofree char *lo = lisse_params_format_number (spec->min);
  g_autofree char *hi = lisse_params_format_number (spec->max);
  return g_strdup_printf ("[%s, %s]", lo, hi);
}

char *
lisse_param_spec_format_range (const LisseParamSpec *spec)
{
  g_autofree char *interval = format_interval (spec);
  return g_strdup_printf ("%s%s", interval, spec->integer ? " (whole numbers)" : "");
}

/* One line naming the parameter, the value and the range, as the command
 * line, the plug-in's errors and the GEGL ops' warnings report it; @owner
 * may be NULL. */
static gboolean
check_value (const LisseParamSpec *spec, const char *owner, double value, GError **error)
{
  const gboolean in_range = value >= spec->min && value <= spec->max;  /* NaN: FALSE */
  if (in_range && (!spec->integer || value == floor (value)))
    return TRUE;
  g_autofree char *shown = lisse_params_format_number (value);
  g_autofree char *range = in_range ? format_interval (spec)
                                    : lisse_param_spec_format_range (spec);
  const char *problem = isnan (value) ? "is not a number in"
                      : !in_range ? "is out of range"
                      : "is not a whole number in";
  return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT, "%s%sparameter '%s' = %s %s %s",
                     owner ? owner : "", owner ? ": " : "", spec->name, shown, problem, range);
}

gboolean
lisse_params_check (const LisseParams *params, const char *owner, GError **error)
{
  for (int i = 0; i < params->n_specs; i++)
    if (!check_value (&params->specs[i], owner, params->values[i], error))
      return FALSE;
  return TRUE;
}

static gboolean
fail_unknown (const LisseParams *params, const char *name, GError **error)
{
  g_autofree char *names = known_names (params);
  return lisse_fail (error, LISSE_ERROR_UNKNOWN_NAME, "unknown parameter '%s' (known: %s)",
                     name, names);
}

gboolean
lisse_params_set (LisseParams *params, const char *name, double value, GError **error)
{
  int i = find_index (params, name);
  if (i < 0)
    return fail_unknown (params, name, error);
  if (!check_value (&params->specs[i], NULL, value, error))
    return FALSE;
  /* -0 passes a range that starts at 0; adding +0 makes it +0, so that no
   * filter sees a negative zero (1/x, copysign, log) where 0 is declared. */
  params->values[i] = value + 0.0;
  return TRUE;
}

gboolean
lisse_params_parse (LisseParams *params, const char *assignment, GError **error)
{
  const char *eq = strchr (assignment, '=');
  const LisseParamSpec *named = eq ? NULL : lisse_params_find (params, assignment);
  if (named)
    {
      g_autofree char *range = lisse_param_spec_format_range (named);
      return lisse_fail (error, LISSE_ERROR_INVALID_ARGUMENT,
                         "parameter '%s' has no value (expected %s=VALUE, VALUE in %s)",
                         named->name, named->name, range);
    }
  if (!eq || eq == assignment)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "expected name=value, got '%s'", assignment);
      return FALSE;
    }
  g_autofree char *name = g_strndup (assignment, eq - assignment);
  const char *text = eq + 1;
  char *end = NULL;
  double value = g_ascii_strtod (text, &end);
  if (*text == '\0' || !end || *end != '\0')
    {
      /* An unknown name is the first thing to say; a known one gets its
       * range, so the user learns what to type instead. */
      const LisseParamSpec *spec = lisse_params_find (params, name);
      if (!spec)
        return fail_unknown (params, name, error);
      g_autofree char *range = lisse_param_spec_format_range (spec);
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "parameter '%s' = '%s' is not a number in %s", name, text, range);
      return FALSE;
    }
  return lisse_params_set (params, name, value, error);
}

double
lisse_params_get (const LisseParams *params, const char *name)
{
  int i = find_index (params, name);
  if (i < 0)
    {
      g_critical ("parameter '%s' is not declared", name);
      return NAN;
    }
  return params->values[i];
}
