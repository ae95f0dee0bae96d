/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The engine owns its threads: OpenMP loops in the ops; sgemm runs as
 * single-threaded OpenBLAS calls inside those loops (see lisse_sgemm), so
 * there is one thread pool and one setting.  Every parallel loop splits work so that
 * each output value is computed by exactly one thread in a fixed order, so
 * results do not depend on the thread count.
 *
 * Default: the LISSE_THREADS environment variable if set, else the number of
 * cores. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LISSE_THREADS_ENV "LISSE_THREADS"

/* n >= 1; values above 256 are clamped. */
void lisse_threads_set (int n);
int  lisse_threads_get (void);

G_END_DECLS
