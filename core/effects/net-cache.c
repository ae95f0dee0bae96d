/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The process-wide cache of loaded networks behind the effects.  A GIMP
 * preview re-runs an effect on every slider move, and loading a model
 * (parsing, checking, mapping the weights) is not free, so each model file
 * is loaded once per process.  Entries are keyed by the resolved file path
 * and remember the file's modification time and size: a model replaced on
 * disk (a new training export) is reloaded on its next use.
 *
 * Networks are reference-counted here, not in net.h: a thread still running
 * an old network keeps it alive while the cache swaps in a new one or is
 * cleared; the last release frees it. */
#include "effect-private.h"

#include "lisse-error.h"
#include "model.h"

#include <gio/gio.h>
#include <string.h>

typedef struct
{
  LisseNet *net;
  int       refs;      /* the cache's own reference + one per acquirer */
  gint64    mtime;     /* of the file when it was loaded, µs */
  goffset   size;
} CachedNet;

static GMutex      cache_lock;
static GHashTable *cache;        /* resolved path → CachedNet* (cache holds one ref) */
static GHashTable *by_net;       /* LisseNet* → CachedNet*, for release */

static void
unref_locked (CachedNet *e)
{
  if (--e->refs > 0)
    return;
  g_hash_table_remove (by_net, e->net);
  lisse_net_free (e->net);
  g_free (e);
}

static void
cache_entry_drop (gpointer data)
{
  unref_locked (data);
}

static void
ensure_tables_locked (void)
{
  if (cache)
    return;
  cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, cache_entry_drop);
  by_net = g_hash_table_new (g_direct_hash, g_direct_equal);
}

/* The cached network for @model, loaded when needed; no check of what it
 * is (the callers below check, after the cache: one file may serve
 * effects with different needs). */
static LisseNet *
acquire (const char *model, GError **error)
{
  g_autofree char *path = lisse_model_resolve (model, error);
  if (!path)
    return NULL;
  /* Microseconds, not seconds: an export rewritten within the same second
   * must still be seen as new. */
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInfo) fi = g_file_query_info (file,
                                                G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                                                G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC ","
                                                G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                                G_FILE_QUERY_INFO_NONE, NULL, NULL);
  if (!fi)
    {
      lisse_fail (error, LISSE_ERROR_IO, "%s: cannot read the model file", path);
      return NULL;
    }
  const gint64 mtime =
    (gint64) g_file_info_get_attribute_uint64 (fi, G_FILE_ATTRIBUTE_TIME_MODIFIED) * G_USEC_PER_SEC
    + g_file_info_get_attribute_uint32 (fi, G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC);
  const goffset size = g_file_info_get_size (fi);

  g_mutex_lock (&cache_lock);
  ensure_tables_locked ();
  CachedNet *e = g_hash_table_lookup (cache, path);
  if (!e || e->mtime != mtime || e->size != size)
    {
      /* Loaded under the lock so that concurrent first uses load it once. */
      LisseNet *net = lisse_net_open (path, error);
      if (!net)
        {
          g_mutex_unlock (&cache_lock);
          return NULL;
        }
      e = g_new0 (CachedNet, 1);
      e->net = net;
      e->refs = 1;
      e->mtime = mtime;
      e->size = size;
      g_hash_table_insert (by_net, net, e);
      g_hash_table_replace (cache, g_strdup (path), e);   /* drops the old entry's ref */
    }
  e->refs++;
  LisseNet *net = e->net;
  g_mutex_unlock (&cache_lock);
  return net;
}

LisseNet *
lisse_effect_net_acquire (const char *model, GError **error)
{
  LisseNet *net = acquire (model, error);
  if (!net)
    return NULL;
  for (int i = 0; i < net->n_params; i++)
    if (strcmp (net->params[i].name, "lambda-f") == 0)
      return net;
  lisse_fail (error, LISSE_ERROR_BAD_MODEL,
              "model '%s' has architecture '%s', which has no λf "
              "(lambda-f) parameter: the effects need a smoothing network such as fan18",
              model, net->info->architecture);
  lisse_effect_net_release (net);
  return NULL;
}

LisseNet *
lisse_effect_net_acquire_arch (const char *model, const char *architecture, GError **error)
{
  LisseNet *net = acquire (model, error);
  if (!net || strcmp (net->info->architecture, architecture) == 0)
    return net;
  lisse_fail (error, LISSE_ERROR_BAD_MODEL, "model '%s' has architecture '%s'; this needs '%s'",
              model, net->info->architecture, architecture);
  lisse_effect_net_release (net);
  return NULL;
}

void
lisse_effect_net_release (LisseNet *net)
{
  if (!net)
    return;
  g_mutex_lock (&cache_lock);
  CachedNet *e = by_net ? g_hash_table_lookup (by_net, net) : NULL;
  if (e)
    unref_locked (e);
  else
    g_critical ("lisse_effect_net_release: network %p was not acquired", (void *) net);
  g_mutex_unlock (&cache_lock);
}

void
lisse_effect_cache_clear (void)
{
  g_mutex_lock (&cache_lock);
  if (cache)
    g_hash_table_remove_all (cache);
  g_mutex_unlock (&cache_lock);
}
