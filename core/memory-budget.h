/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The memory budget (docs/reliability.md): how much memory one run of an
 * effect or a filter may take, decided from the image's size BEFORE
 * anything image-sized is allocated.  An image beyond it is refused with
 * one line ("smooth: a 30000×30000 image needs about 61.4 GiB, more than
 * the memory budget of 11.7 GiB …") instead of ending in g_malloc's abort,
 * the kernel's OOM killer, or a GIMP plug-in that dies half-way.
 *
 * The budget is LISSE_MEMORY_BUDGET when set (a byte count with an
 * optional K, M, G or T suffix, powers of 1024: "4G", "512M"), else half
 * of the machine's physical memory.
 *
 * What a run needs is declared beside each method (LisseEffectInfo.memory,
 * LisseFilterInfo.memory) as a LisseMemoryCost: whole-image float planes
 * (the input and result included) plus a part that does not grow with the
 * image (a network's activations for one tile).  The numbers are peak
 * resident sizes measured through `lisse` (docs/reliability.md gives the
 * commands), rounded up.
 *
 * Methods that stream (`lisse run`: one tile at a time between GEGL
 * buffers, which spill to GEGL's swap file) are not held to the budget. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  double fixed_mib;           /* MiB whatever the image size */
  double planes;              /* float planes (4 bytes a pixel) whatever the channels */
  double planes_per_channel;  /* float planes for each channel of the image and of
                                 its mask or guide */
} LisseMemoryCost;

/* Bytes @cost comes to for a @width × @height image of @channels channels
 * (the mask's or guide's included). */
guint64  lisse_memory_cost_bytes (const LisseMemoryCost *cost, int width, int height,
                                  int channels);

/* The budget in bytes (see above); read from the environment each time. */
guint64  lisse_memory_budget     (void);

/* TRUE when @bytes fit the budget; else FALSE with one line in @error
 * (LISSE_ERROR_OUT_OF_MEMORY) naming @what, the image size, both amounts
 * and how to change the budget. */
gboolean lisse_memory_check      (guint64 bytes, const char *what, int width, int height,
                                  GError **error);

G_END_DECLS
