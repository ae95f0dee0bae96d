/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Element-wise add, multiply and alpha·a + beta·b, the second operand
 * broadcast over any dimension where it has size 1.  Work is split by rows
 * (n, c, y): a row of b is then either a row to walk along or one value to
 * repeat, so the inner loop stays a plain SIMD loop in both cases.
 */
#include "ops-basic.h"
#include "lisse-error.h"
#include "threads.h"

#define PARALLEL_MIN 32768

typedef enum { OP_ADD, OP_MUL, OP_AXPBY } BinaryOp;

static gboolean
check_broadcast (const LisseTensor *a, const LisseTensor *b, const char *what,
                 GError **error)
{
  if ((b->n == a->n || b->n == 1) && (b->c == a->c || b->c == 1)
      && (b->h == a->h || b->h == 1) && (b->w == a->w || b->w == 1))
    return TRUE;
  g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
               "%s: cannot broadcast a %d×%d×%d×%d tensor onto %d×%d×%d×%d "
               "(each size must match or be 1)", what,
               b->n, b->c, b->h, b->w, a->n, a->c, a->h, a->w);
  return FALSE;
}

/* @out may be @a (in-place). */
static void
binary (LisseTensor *out, const LisseTensor *a, const LisseTensor *b,
        BinaryOp op, float alpha, float beta)
{
  const int n = a->n, c = a->c, h = a->h, w = a->w;
  const long rows = (long) n * c * h;
  const gboolean b_row = b->w != 1 || w == 1;
  int nt = lisse_tensor_numel (a) < PARALLEL_MIN ? 1 : lisse_threads_get ();

#pragma omp parallel for num_threads(nt) schedule(static)
  for (long r = 0; r < rows; r++)
    {
      const int y = (int) (r % h);
      const int ci = (int) (r / h % c);
      const int ni = (int) (r / h / c);
      const float *pa = a->data + (size_t) r * w;
      float *po = out->data + (size_t) r * w;
      const float *pb = b->data
        + (((size_t) (b->n == 1 ? 0 : ni) * b->c + (b->c == 1 ? 0 : ci)) * b->h
           + (b->h == 1 ? 0 : y)) * b->w;

      if (b_row)
        switch (op)
          {
          case OP_ADD:
#pragma omp simd
            for (int x = 0; x < w; x++)
              po[x] = pa[x] + pb[x];
            break;
          case OP_MUL:
#pragma omp simd
            for (int x = 0; x < w; x++)
              po[x] = pa[x] * pb[x];
            break;
          case OP_AXPBY:
#pragma omp simd
            for (int x = 0; x < w; x++)
              po[x] = alpha * pa[x] + beta * pb[x];
            break;
          }
      else
        {
          const float v = pb[0];
          const float bv = beta * v;
          switch (op)
            {
            case OP_ADD:
#pragma omp simd
              for (int x = 0; x < w; x++)
                po[x] = pa[x] + v;
              break;
            case OP_MUL:
#pragma omp simd
              for (int x = 0; x < w; x++)
                po[x] = pa[x] * v;
              break;
            case OP_AXPBY:
#pragma omp simd
              for (int x = 0; x < w; x++)
                po[x] = alpha * pa[x] + bv;
              break;
            }
        }
    }
}

static LisseTensor *
binary_new (const LisseTensor *a, const LisseTensor *b, BinaryOp op,
            float alpha, float beta, const char *what, GError **error)
{
  if (!check_broadcast (a, b, what, error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (a->n, a->c, a->h, a->w, error);
  if (out)
    binary (out, a, b, op, alpha, beta);
  return out;
}

LisseTensor *
lisse_add (const LisseTensor *a, const LisseTensor *b, GError **error)
{
  return binary_new (a, b, OP_ADD, 1.0f, 1.0f, "add", error);
}

LisseTensor *
lisse_mul (const LisseTensor *a, const LisseTensor *b, GError **error)
{
  return binary_new (a, b, OP_MUL, 1.0f, 1.0f, "mul", error);
}

LisseTensor *
lisse_scale_add (float alpha, const LisseTensor *a, float beta,
                 const LisseTensor *b, GError **error)
{
  return binary_new (a, b, OP_AXPBY, alpha, beta, "scale_add", error);
}

gboolean
lisse_add_inplace (LisseTensor *a, const LisseTensor *b, GError **error)
{
  if (!check_broadcast (a, b, "add", error))
    return FALSE;
  binary (a, a, b, OP_ADD, 1.0f, 1.0f);
  return TRUE;
}

gboolean
lisse_mul_inplace (LisseTensor *a, const LisseTensor *b, GError **error)
{
  if (!check_broadcast (a, b, "mul", error))
    return FALSE;
  binary (a, a, b, OP_MUL, 1.0f, 1.0f);
  return TRUE;
}
