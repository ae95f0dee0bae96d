/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "model.h"
#include "lisse-error.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define fail(error, code, ...) lisse_fail ((error), (code), __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* Tensors                                                                  */

static gboolean
shape_matches (const LisseSafetensorsEntry *e, const LisseTensorSpec *spec)
{
  if (e->rank != spec->rank)
    return FALSE;
  for (int i = 0; i < spec->rank; i++)
    if (spec->dims[i] >= 0 && spec->dims[i] != e->shape[i])
      return FALSE;
  return TRUE;
}

gboolean
lisse_model_check_tensors (const LisseSafetensors *st, const LisseTensorSpec *specs,
                           int n_specs, GError **error)
{
  g_return_val_if_fail (st != NULL, FALSE);
  g_return_val_if_fail (n_specs == 0 || specs != NULL, FALSE);

  for (int i = 0; i < n_specs; i++)
    g_return_val_if_fail (specs[i].name && specs[i].rank >= 0 && specs[i].rank <= 4, FALSE);

  GHashTable *expected = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok = TRUE;
  for (int i = 0; i < n_specs && ok; i++)
    {
      const LisseTensorSpec *spec = &specs[i];
      g_hash_table_add (expected, (gpointer) spec->name);

      const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, spec->name);
      if (!e)
        {
          char *q = lisse_safetensors_quote_name (spec->name);
          fail (error, LISSE_ERROR_BAD_MODEL, "model file lacks tensor %s", q);
          g_free (q);
          ok = FALSE;
        }
      else if (!shape_matches (e, spec))
        {
          char *q = lisse_safetensors_quote_name (spec->name);
          char *have = lisse_safetensors_format_shape (e->shape, e->rank);
          char *want = lisse_safetensors_format_shape (spec->dims, spec->rank);
          fail (error, LISSE_ERROR_BAD_MODEL,
                "tensor %s has shape %s but the network expects %s", q, have, want);
          g_free (want);
          g_free (have);
          g_free (q);
          ok = FALSE;
        }
    }
  if (ok)
    for (const char * const *name = lisse_safetensors_get_names (st); *name; name++)
      if (!g_hash_table_contains (expected, *name))
        {
          char *q = lisse_safetensors_quote_name (*name);
          fail (error, LISSE_ERROR_BAD_MODEL, "unexpected tensor %s in model file", q);
          g_free (q);
          ok = FALSE;
          break;
        }
  g_hash_table_unref (expected);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Metadata                                                                 */

const char *
lisse_model_get_metadata_string (const LisseSafetensors *st, const char *key, GError **error)
{
  g_return_val_if_fail (st && key, NULL);
  const char *value = lisse_safetensors_get_metadata (st, key);
  if (!value)
    {
      char *q = lisse_safetensors_quote_name (key);
      fail (error, LISSE_ERROR_BAD_MODEL, "metadata %s is missing", q);
      g_free (q);
    }
  return value;
}

gboolean
lisse_model_get_metadata_int (const LisseSafetensors *st, const char *key, int *value,
                              GError **error)
{
  const char *s = lisse_model_get_metadata_string (st, key, error);
  if (!s)
    return FALSE;
  gint64 v;
  GError *parse_error = NULL;
  /* Strict: no spaces, no trailing characters, base 10 only. */
  if (!g_ascii_string_to_signed (s, 10, G_MININT, G_MAXINT, &v, &parse_error))
    {
      char *q = lisse_safetensors_quote_name (key);
      char *qv = lisse_safetensors_quote_name (s);
      gboolean range = g_error_matches (parse_error, G_NUMBER_PARSER_ERROR,
                                        G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS);
      fail (error, LISSE_ERROR_BAD_MODEL, "metadata %s is %s (%s)", q,
            range ? "out of range" : "not an integer", qv);
      g_free (qv);
      g_free (q);
      g_error_free (parse_error);
      return FALSE;
    }
  *value = (int) v;
  return TRUE;
}

gboolean
lisse_model_get_metadata_double (const LisseSafetensors *st, const char *key, double *value,
                                 GError **error)
{
  const char *s = lisse_model_get_metadata_string (st, key, error);
  if (!s)
    return FALSE;
  char *end = NULL;
  errno = 0;
  double v = *s && !g_ascii_isspace (*s) ? g_ascii_strtod (s, &end) : NAN;
  gboolean number = end && end != s && *end == '\0' && !isnan (v);
  if (!number || !isfinite (v))
    {
      char *q = lisse_safetensors_quote_name (key);
      char *qv = lisse_safetensors_quote_name (s);
      fail (error, LISSE_ERROR_BAD_MODEL, "metadata %s is %s (%s)", q,
            number ? "out of range" : "not a number", qv);
      g_free (qv);
      g_free (q);
      return FALSE;
    }
  *value = v;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Discovery                                                                */

char **
lisse_model_search_path (void)
{
  GPtrArray *dirs = g_ptr_array_new ();
  const char *env = g_getenv ("LISSE_MODEL_PATH");
  if (env)
    {
      char **parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (char **p = parts; *p; p++)
        if (**p)                      /* "a::b" and a trailing ':' add nothing */
          g_ptr_array_add (dirs, g_strdup (*p));
      g_strfreev (parts);
    }
  g_ptr_array_add (dirs, g_strdup (LISSE_MODELDIR));
  g_ptr_array_add (dirs, NULL);
  return (char **) g_ptr_array_free (dirs, FALSE);
}

static gboolean
has_dir_separator (const char *s)
{
  /* '/' is a separator on Windows too. */
  return strchr (s, '/') != NULL || strchr (s, G_DIR_SEPARATOR) != NULL;
}

char *
lisse_model_resolve (const char *name_or_path, GError **error)
{
  g_return_val_if_fail (name_or_path != NULL, NULL);

  if (!*name_or_path)
    {
      fail (error, LISSE_ERROR_UNKNOWN_NAME, "empty model name");
      return NULL;
    }
  /* A bare word is a model name even when a file of that name happens to
   * be in the current directory (a build output called "dncnn", say): only
   * something that looks like a path is taken as one. */
  gboolean has_suffix = g_str_has_suffix (name_or_path, LISSE_MODEL_SUFFIX);
  if ((has_dir_separator (name_or_path) || has_suffix)
      && g_file_test (name_or_path, G_FILE_TEST_IS_REGULAR))
    return g_strdup (name_or_path);
  if (has_dir_separator (name_or_path))
    {
      char *display = g_filename_display_name (name_or_path);
      fail (error, LISSE_ERROR_UNKNOWN_NAME, "model file '%s' does not exist", display);
      g_free (display);
      return NULL;
    }

  char *file = has_suffix
             ? g_strdup (name_or_path)
             : g_strconcat (name_or_path, LISSE_MODEL_SUFFIX, NULL);
  char **dirs = lisse_model_search_path ();
  char *found = NULL;
  for (char **d = dirs; *d && !found; d++)
    {
      char *path = g_build_filename (*d, file, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        found = path;
      else
        g_free (path);
    }
  if (!found)
    {
      char *searched = g_strjoinv (G_SEARCHPATH_SEPARATOR_S, dirs);
      char *display = g_filename_display_name (name_or_path);
      fail (error, LISSE_ERROR_UNKNOWN_NAME, "no model named '%s' (searched: %s)",
            display, searched);
      g_free (display);
      g_free (searched);
    }
  g_strfreev (dirs);
  g_free (file);
  return found;
}

void
lisse_model_info_free (LisseModelInfo *info)
{
  if (!info)
    return;
  g_free (info->name);
  g_free (info->path);
  g_free (info);
}

static int
compare_strptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static int
compare_info (gconstpointer a, gconstpointer b)
{
  const LisseModelInfo *x = *(const LisseModelInfo * const *) a;
  const LisseModelInfo *y = *(const LisseModelInfo * const *) b;
  return strcmp (x->name, y->name);
}

GPtrArray *
lisse_model_list (void)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) lisse_model_info_free);
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  char **dirs = lisse_model_search_path ();
  for (char **d = dirs; *d; d++)
    {
      GDir *dir = g_dir_open (*d, 0, NULL);   /* a missing directory is no error */
      if (!dir)
        continue;
      /* GDir's order is the file system's: sort each directory so that
       * duplicates within one resolve the same way everywhere. */
      GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
      const char *entry;
      while ((entry = g_dir_read_name (dir)))
        if (g_str_has_suffix (entry, LISSE_MODEL_SUFFIX)
            && strlen (entry) > strlen (LISSE_MODEL_SUFFIX))
          g_ptr_array_add (files, g_strdup (entry));
      g_dir_close (dir);
      g_ptr_array_sort (files, compare_strptr);
      for (guint i = 0; i < files->len; i++)
        {
          const char *base = files->pdata[i];
          char *name = g_strndup (base, strlen (base) - strlen (LISSE_MODEL_SUFFIX));
          char *path = g_build_filename (*d, base, NULL);
          if (g_hash_table_contains (seen, name) || !g_file_test (path, G_FILE_TEST_IS_REGULAR))
            {
              g_free (name);
              g_free (path);
              continue;
            }
          LisseModelInfo *info = g_new (LisseModelInfo, 1);
          info->name = name;
          info->path = path;
          g_hash_table_add (seen, info->name);
          g_ptr_array_add (list, info);
        }
      g_ptr_array_unref (files);
    }
  g_strfreev (dirs);
  g_hash_table_unref (seen);
  g_ptr_array_sort (list, compare_info);
  return list;
}

/* ------------------------------------------------------------------------ */
/* Models                                                                   */

LisseModel *
lisse_model_open (const char *name_or_path, const LisseTensorSpec *specs, int n_specs,
                  GError **error)
{
  char *path = lisse_model_resolve (name_or_path, error);
  if (!path)
    return NULL;
  LisseSafetensors *st = lisse_safetensors_open (path, error);
  if (!st)
    {
      g_free (path);
      return NULL;
    }
  if (specs && !lisse_model_check_tensors (st, specs, n_specs, error))
    {
      char *display = g_filename_display_name (path);
      g_prefix_error (error, "%s: ", display);
      g_free (display);
      lisse_safetensors_free (st);
      g_free (path);
      return NULL;
    }
  LisseModel *model = g_new (LisseModel, 1);
  char *base = g_path_get_basename (path);
  if (g_str_has_suffix (base, LISSE_MODEL_SUFFIX) && strlen (base) > strlen (LISSE_MODEL_SUFFIX))
    base[strlen (base) - strlen (LISSE_MODEL_SUFFIX)] = '\0';
  model->name = base;
  model->path = path;
  model->st = st;
  return model;
}

void
lisse_model_free (LisseModel *model)
{
  if (!model)
    return;
  lisse_safetensors_free (model->st);
  g_free (model->path);
  g_free (model->name);
  g_free (model);
}

/* ---- metadata checks shared by the networks ------------------------------ */

gboolean
lisse_model_get_metadata_int_in (const LisseSafetensors *st, const char *owner, const char *key,
                                 int lo, int hi, int *value, GError **error)
{
  GError *local = NULL;
  if (!lisse_model_get_metadata_int (st, key, value, &local))
    {
      lisse_fail (error, LISSE_ERROR_BAD_MODEL, "%s: %s", owner, local->message);
      g_error_free (local);
      return FALSE;
    }
  if (*value < lo || *value > hi)
    return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "%s: metadata '%s' = %d is out of range [%d, %d]",
                       owner, key, *value, lo, hi);
  return TRUE;
}

gboolean
lisse_model_check_metadata_value (const LisseSafetensors *st, const char *owner,
                                  const char *key, const char *expected, GError **error)
{
  const char *v = lisse_safetensors_get_metadata (st, key);
  if (!v || strcmp (v, expected) == 0)
    return TRUE;
  /* One line of at most 40 characters, whatever the file holds. */
  g_autofree char *valid = g_utf8_make_valid (v, -1);
  g_autofree char *shown = g_utf8_substring (valid, 0, MIN (g_utf8_strlen (valid, -1), 40));
  for (char *c = shown; *c; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      *c = '?';
  return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "%s: metadata '%s' is '%s'; this network needs '%s'",
                     owner, key, shown, expected);
}

static gboolean
json_number (JsonObject *o, const char *member, double *out)
{
  JsonNode *n = json_object_get_member (o, member);
  if (!n || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (n);
  else if (t == G_TYPE_INT64)
    *out = (double) json_node_get_int (n);
  else
    return FALSE;
  return isfinite (*out);
}

gboolean
lisse_model_parse_param_ranges (const char *text, const char *owner, LisseParamSpec *specs,
                                int n_specs, double limit, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *local = NULL;
  if (!json_parser_load_from_data (parser, text, -1, &local))
    {
      g_clear_error (&local);
      return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "%s: metadata 'params' is not valid JSON", owner);
    }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_ARRAY (root)
      || json_array_get_length (json_node_get_array (root)) != (guint) n_specs)
    {
      g_autoptr (GString) names = g_string_new (NULL);
      for (int i = 0; i < n_specs; i++)
        g_string_append_printf (names, "%s%s", i ? ", " : "", specs[i].name);
      return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "%s: metadata 'params' must be a list of %d %s (%s)",
                         owner, n_specs, n_specs == 1 ? "entry" : "entries", names->str);
    }
  JsonArray *a = json_node_get_array (root);
  for (int i = 0; i < n_specs; i++)
    {
      JsonNode *n = json_array_get_element (a, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      JsonNode *name = o ? json_object_get_member (o, "name") : NULL;
      if (!name || json_node_get_value_type (name) != G_TYPE_STRING
          || strcmp (json_node_get_string (name), specs[i].name) != 0)
        return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "%s: metadata 'params' entry %d must be named '%s'",
                           owner, i + 1, specs[i].name);
      double lo, hi, def;
      if (!json_number (o, "min", &lo) || !json_number (o, "max", &hi)
          || !json_number (o, "default", &def))
        return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "%s: metadata 'params': '%s' needs numbers 'min', "
                           "'max' and 'default'", owner, specs[i].name);
      if (!(lo > 0 && lo <= def && def <= hi && hi <= limit))
        return lisse_fail (error, LISSE_ERROR_BAD_MODEL, "%s: metadata 'params': '%s' range [%g, %g] with "
                           "default %g is invalid (need 0 < min ≤ default ≤ max ≤ %g)",
                           owner, specs[i].name, lo, hi, def, limit);
      specs[i].min = lo;
      specs[i].max = hi;
      specs[i].def = def;
    }
  return TRUE;
}
