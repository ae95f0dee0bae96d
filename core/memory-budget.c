/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The memory budget (memory-budget.h). */
#include "memory-budget.h"

#include "lisse-error.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

guint64
lisse_memory_cost_bytes (const LisseMemoryCost *cost, int width, int height, int channels)
{
  /* In double: a hostile size must not wrap around to a small number. */
  double pixels = (double) MAX (width, 0) * MAX (height, 0);
  double bytes = cost->fixed_mib * 1048576.0
                 + 4.0 * pixels * (cost->planes + cost->planes_per_channel * MAX (channels, 1));
  return bytes >= 1.8e19 ? G_MAXUINT64 : (guint64) bytes;
}

/* "4G", "512M", "1048576"; 0 when it is not a size. */
static guint64
parse_size (const char *s)
{
  char *end = NULL;
  errno = 0;
  double v = g_ascii_strtod (s, &end);
  if (errno || end == s || !(v > 0))
    return 0;
  switch (g_ascii_toupper (*end))
    {
    case 'T': v *= 1024.0; /* fall through */
    case 'G': v *= 1024.0; /* fall through */
    case 'M': v *= 1024.0; /* fall through */
    case 'K': v *= 1024.0; end++; break;
    case '\0': break;
    default: return 0;
    }
  if (*end == 'B' || *end == 'b')
    end++;
  return *end || v >= 1.8e19 ? 0 : (guint64) v;
}

static guint64
physical_memory (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);
  if (pages <= 0 || page <= 0)
    return (guint64) 4 << 30;   /* unknown: assume a small machine */
  return (guint64) pages * (guint64) page;
}

guint64
lisse_memory_budget (void)
{
  const char *env = g_getenv ("LISSE_MEMORY_BUDGET");
  guint64 v = env ? parse_size (env) : 0;
  if (v)
    return v;
  if (env)
    g_warning ("LISSE_MEMORY_BUDGET=%s is not a size such as 4G or 512M; "
               "using half the physical memory", env);
  return physical_memory () / 2;
}

static char *
gib (guint64 bytes)
{
  return g_strdup_printf (bytes >= ((guint64) 1 << 30) ? "%.1f GiB" : "%.0f MiB",
                          bytes >= ((guint64) 1 << 30) ? bytes / 1073741824.0
                                                       : bytes / 1048576.0);
}

gboolean
lisse_memory_check (guint64 bytes, const char *what, int width, int height, GError **error)
{
  guint64 budget = lisse_memory_budget ();
  if (bytes <= budget)
    return TRUE;
  g_autofree char *need = gib (bytes), *have = gib (budget);
  const char *source = g_getenv ("LISSE_MEMORY_BUDGET")
                       && parse_size (g_getenv ("LISSE_MEMORY_BUDGET"))
                         ? "set by LISSE_MEMORY_BUDGET"
                         : "half the physical memory; LISSE_MEMORY_BUDGET changes it";
  return lisse_fail (error, LISSE_ERROR_OUT_OF_MEMORY,
                     "%s: a %d×%d image needs about %s, more than the memory budget of %s (%s)",
                     what, width, height, need, have, source);
}
