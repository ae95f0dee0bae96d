/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Inference-time batch-norm, and folding it into the preceding convolution
 * at model load time (so that most networks never run a BN op at all).  The
 * per-channel scale and shift are worked out in double: γ/√(σ²+ε) with a tiny
 * σ² is where float would lose the most. */
#include "ops-conv.h"
#include "tensor.h"
#include "threads.h"
#include "lisse-error.h"

#include <math.h>

static gboolean
check_bn (const char *op, int channels, const LisseTensor *gamma, const LisseTensor *beta,
          const LisseTensor *mean, const LisseTensor *var, float eps, GError **error)
{
  if (!(eps >= 0.f))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "%s: epsilon %g must not be negative", op, eps);
      return FALSE;
    }
  return lisse_ops_check_vector (gamma, channels, TRUE, "batch-norm weight (γ)", error)
         && lisse_ops_check_vector (beta, channels, TRUE, "batch-norm bias (β)", error)
         && lisse_ops_check_vector (mean, channels, FALSE, "batch-norm running mean", error)
         && lisse_ops_check_vector (var, channels, FALSE, "batch-norm running variance", error);
}

/* y = scale·x + shift for channel @ci. */
static inline void
bn_affine (int ci, const LisseTensor *gamma, const LisseTensor *beta,
           const LisseTensor *mean, const LisseTensor *var, float eps,
           double *scale, double *shift)
{
  const double g = gamma ? gamma->data[ci] : 1.0;
  const double b = beta ? beta->data[ci] : 0.0;
  *scale = g / sqrt ((double) var->data[ci] + eps);
  *shift = b - *scale * mean->data[ci];
}

LisseTensor *
lisse_batchnorm_inference (const LisseTensor *x, const LisseTensor *gamma,
                           const LisseTensor *beta, const LisseTensor *mean,
                           const LisseTensor *var, float eps, GError **error)
{
  g_return_val_if_fail (x, NULL);
  if (!check_bn ("batchnorm", x->c, gamma, beta, mean, var, eps, error))
    return NULL;
  LisseTensor *out = lisse_tensor_try_new (x->n, x->c, x->h, x->w, error);
  if (!out)
    return NULL;

  const int nc = x->n * x->c;
  const size_t plane = lisse_tensor_plane (x);
#pragma omp parallel for num_threads (lisse_threads_get ()) schedule (static)
  for (int i = 0; i < nc; i++)
    {
      double scale, shift;
      bn_affine (i % x->c, gamma, beta, mean, var, eps, &scale, &shift);
      const float s = (float) scale, t = (float) shift;
      const float *src = x->data + (size_t) i * plane;
      float *dst = out->data + (size_t) i * plane;
      for (size_t j = 0; j < plane; j++)
        dst[j] = s * src[j] + t;
    }
  return out;
}

gboolean
lisse_fold_batchnorm (LisseTensor *weight, LisseTensor **bias, LisseWeightLayout layout,
                      int groups, const LisseTensor *gamma, const LisseTensor *beta,
                      const LisseTensor *mean, const LisseTensor *var, float eps,
                      GError **error)
{
  g_return_val_if_fail (weight && bias, FALSE);

  int cout;
  if (layout == LISSE_WEIGHT_CONV2D)
    cout = weight->n;
  else if (layout == LISSE_WEIGHT_CONV_TRANSPOSE2D)
    {
      if (groups < 1 || weight->n % groups || (gint64) weight->c * groups > G_MAXINT)
        {
          g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                       "fold_batchnorm: %d groups do not divide the %d input "
                       "channels of a transposed-convolution weight",
                       groups, weight->n);
          return FALSE;
        }
      cout = weight->c * groups;
    }
  else
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "fold_batchnorm: unknown weight layout %d", (int) layout);
      return FALSE;
    }
  if (!check_bn ("fold_batchnorm", cout, gamma, beta, mean, var, eps, error)
      || !lisse_ops_check_vector (*bias, cout, TRUE, "convolution bias", error))
    return FALSE;

  double *scale = g_new (double, cout);
  if (!*bias)
    *bias = lisse_tensor_new (1, cout, 1, 1);
  for (int o = 0; o < cout; o++)
    {
      double shift;
      bn_affine (o, gamma, beta, mean, var, eps, &scale[o], &shift);
      (*bias)->data[o] = (float) (scale[o] * (*bias)->data[o] + shift);
    }

  const size_t taps = (size_t) weight->h * weight->w;
  if (layout == LISSE_WEIGHT_CONV2D)
    {
      const size_t per_out = (size_t) weight->c * taps;
      for (int o = 0; o < cout; o++)
        for (size_t j = 0; j < per_out; j++)
          weight->data[o * per_out + j] = (float) (scale[o] * weight->data[o * per_out + j]);
    }
  else
    {
      /* [Cin, Cout/groups, kh, kw]: input channel ci belongs to group
       * ci / (Cin/groups), whose outputs start at group · Cout/groups. */
      const int cin_g = weight->n / groups, cout_g = weight->c;
      for (int ci = 0; ci < weight->n; ci++)
        for (int oc = 0; oc < cout_g; oc++)
          {
            const double s = scale[(ci / cin_g) * cout_g + oc];
            float *p = weight->data + ((size_t) ci * cout_g + oc) * taps;
            for (size_t j = 0; j < taps; j++)
              p[j] = (float) (s * p[j]);
          }
    }
  g_free (scale);
  return TRUE;
}
