/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The pool of large buffers (buffer-pool.h). */
#include "buffer-pool.h"

#include <stdlib.h>

typedef struct
{
  void  *data;
  size_t bytes;
} Block;

static GMutex pool_lock;
static Block  pool[LISSE_BUFFER_POOL_SLOTS];

static size_t
rounded (size_t bytes)
{
  return (bytes + LISSE_BUFFER_ALIGN - 1) / LISSE_BUFFER_ALIGN * LISSE_BUFFER_ALIGN;
}

void *
lisse_buffer_alloc (size_t bytes)
{
  bytes = rounded (bytes);
  if (bytes == 0)
    return NULL;
  if (bytes >= LISSE_BUFFER_POOL_MIN)
    {
      void *stale[LISSE_BUFFER_POOL_SLOTS] = { 0 };
      void *hit = NULL;
      g_mutex_lock (&pool_lock);
      for (int i = 0; i < LISSE_BUFFER_POOL_SLOTS && !hit; i++)
        if (pool[i].data && pool[i].bytes == bytes)
          {
            hit = pool[i].data;
            pool[i].data = NULL;
          }
      size_t idle = 0;
      for (int i = 0; i < LISSE_BUFFER_POOL_SLOTS; i++)
        idle += pool[i].data ? pool[i].bytes : 0;
      /* Nothing of this size: the waiting blocks go, unless all is small. */
      if (!hit && (bytes >= LISSE_BUFFER_POOL_IDLE_MAX || idle > LISSE_BUFFER_POOL_IDLE_MAX))
        for (int i = 0; i < LISSE_BUFFER_POOL_SLOTS; i++)
          {
            stale[i] = pool[i].data;
            pool[i].data = NULL;
          }
      g_mutex_unlock (&pool_lock);
      for (int i = 0; i < LISSE_BUFFER_POOL_SLOTS; i++)
        free (stale[i]);
      if (hit)
        return hit;
    }
  return aligned_alloc (LISSE_BUFFER_ALIGN, bytes);
}

void
lisse_buffer_free (void *data, size_t bytes)
{
  if (!data)
    return;
  bytes = rounded (bytes);
  if (bytes >= LISSE_BUFFER_POOL_MIN)
    {
      g_mutex_lock (&pool_lock);
      for (int i = 0; i < LISSE_BUFFER_POOL_SLOTS && data; i++)
        if (!pool[i].data)
          {
            pool[i] = (Block) { data, bytes };
            data = NULL;
          }
      g_mutex_unlock (&pool_lock);
    }
  free (data);   /* small, or the pool is full */
}

void
lisse_buffer_pool_trim (void)
{
  Block old[LISSE_BUFFER_POOL_SLOTS];
  g_mutex_lock (&pool_lock);
  for (int i = 0; i < LISSE_BUFFER_POOL_SLOTS; i++)
    {
      old[i] = pool[i];
      pool[i].data = NULL;
    }
  g_mutex_unlock (&pool_lock);
  for (int i = 0; i < LISSE_BUFFER_POOL_SLOTS; i++)
    free (old[i].data);
}
