/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Large buffers reused within a network run.  A forward pass frees a layer's
 * input as it allocates the next layer's output, mostly of the same size
 * (64 channels × the tile); from the system allocator every such block is a
 * fresh mmap whose pages fault in on first touch and are unmapped on free —
 * a fifth of fan18's time at 1280×720 went to the kernel (perf).  Freed
 * blocks of at least LISSE_BUFFER_POOL_MIN bytes wait here, at most
 * LISSE_BUFFER_POOL_SLOTS of them, for an allocation of exactly their size.
 * An allocation that finds none releases them (they would not fit) unless
 * it is small and they are too: below LISSE_BUFFER_POOL_IDLE_MAX in all.
 * So idle blocks add at most that much to a run's peak, and nothing while
 * large blocks are allocated; and a network that cycles through a few band
 * sizes (fang19's streamed back end: at 12 MP it ran 10 % faster with
 * glibc's mmap threshold raised, docs/fang19-eval.md) keeps them.  Thread-safe.
 * Tensors (tensor.c) and the convolutions' scratch planes use it; the
 * network runs (net.c) trim it when they finish, so nothing stays held
 * between runs (GIMP's process keeps the plug-in's GEGL ops loaded). */
#pragma once

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

#define LISSE_BUFFER_POOL_MIN      (1u << 20)
#define LISSE_BUFFER_POOL_SLOTS    16
#define LISSE_BUFFER_POOL_IDLE_MAX (64u << 20)
#define LISSE_BUFFER_ALIGN         64

/* @bytes (> 0, rounded up to LISSE_BUFFER_ALIGN here), 64-byte aligned,
 * contents undefined; NULL when out of memory. */
void *lisse_buffer_alloc      (size_t bytes);
/* Gives back a block from lisse_buffer_alloc() of the same @bytes. */
void  lisse_buffer_free       (void *data, size_t bytes);
/* Frees the blocks waiting for reuse. */
void  lisse_buffer_pool_trim  (void);

G_END_DECLS
