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

gboolean
lisse_params_set (LisseParams *params, const char *name, double value, GError **error)
{
  int i = find_index (params, name);
  if (i < 0)
    {
      g_autofree char *names = known_names (params);
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME,
                   "unknown parameter '%s' (known: %s)", name, names);
      return FALSE;
    }
  const LisseParamSpec *spec = &params->specs[i];
  if (!isfinite (value) || value < spec->min || value > spec->max)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "parameter '%s' = %g is out of range [%g, %g]",
                   name, value, spec->min, spec->max);
      return FALSE;
    }
  if (spec->integer && value != floor (value))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "parameter '%s' must be a whole number, not %g", name, value);
      return FALSE;
    }
  params->values[i] = value;
  return TRUE;
}

gboolean
lisse_params_parse (LisseParams *params, const char *assignment, GError **error)
{
  const char *eq = strchr (assignment, '=');
  if (!eq || eq == assignment || eq[1] == '\0')
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "expected name=value, got '%s'", assignment);
      return FALSE;
    }
  g_autofree char *name = g_strndup (assignment, eq - assignment);
  char *end = NULL;
  double value = g_ascii_strtod (eq + 1, &end);
  if (!end || *end != '\0')
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "parameter '%s': '%s' is not a number", name, eq + 1);
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
