/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The small ops the networks are built from besides convolution:
 * activations, element-wise arithmetic, normalisation, channel plumbing,
 * the Haar transform, pooling, bilinear resizing, pixel (un)shuffle and the
 * CBAM / RCAB attention blocks.
 *
 * Each op comes twice: lisse_xxx, the optimised one the engine runs (OpenMP
 * over planes or rows, loops the compiler vectorises), and lisse_xxx_ref, a
 * plain loop kept only as the oracle the op tests compare against.  Where the
 * two may differ (floating-point rounding), tests/op-cases-basic.c states by
 * how much and why.
 *
 * Conventions shared by every op here:
 *  - inputs are const and never modified, except by the _inplace ops;
 *  - the result is a newly allocated tensor, or NULL with @error set
 *    (LISSE_ERROR_INVALID_ARGUMENT for shapes or parameters that cannot
 *    work, LISSE_ERROR_OUT_OF_MEMORY when the result cannot be allocated);
 *  - semantics follow PyTorch's, so trained weights carry over unchanged;
 *    where PyTorch has several conventions the one chosen is stated below;
 *  - results do not depend on the thread count: every output value is
 *    computed by one thread, in an order fixed by the shapes alone.
 */
#pragma once

#include "tensor.h"

#include <glib.h>

G_BEGIN_DECLS

/* ---- Activations (activation.c) --------------------------------------- */

typedef enum
{
  LISSE_ACT_NONE,        /* identity */
  LISSE_ACT_RELU,
  LISSE_ACT_LEAKY_RELU,  /* param = negative slope (PyTorch default 0.01) */
  LISSE_ACT_GELU,        /* exact erf form, nn.GELU(approximate='none') */
  LISSE_ACT_SIGMOID,
  LISSE_ACT_TANH,
  LISSE_ACT_EXP,
} LisseActivation;

void lisse_relu_inplace       (LisseTensor *t);
void lisse_leaky_relu_inplace (LisseTensor *t, float slope);
void lisse_gelu_inplace       (LisseTensor *t);
void lisse_sigmoid_inplace    (LisseTensor *t);
void lisse_tanh_inplace       (LisseTensor *t);
/* bound·tanh(x / bound), bound > 0: values squashed into (−bound, bound)
 * (fang19's offsets), within a few ulp of bound (an absolute error: near 0
 * it is not tanh's relative accuracy); one pass. */
void lisse_bounded_tanh_inplace (LisseTensor *t, float bound);
void lisse_exp_inplace        (LisseTensor *t);
/* @param is used by LISSE_ACT_LEAKY_RELU only. */
void lisse_activation_inplace (LisseTensor *t, LisseActivation act, float param);
/* The same on a bare array, for ops that fuse an activation into their own
 * output loop (convolution epilogues, attention maps). */
void lisse_activation_array   (float *data, size_t count,
                               LisseActivation act, float param);

/* The transcendental activations use their own vectorisable approximations
 * (no libm call per element).  Measured against double libm over every
 * third float: exp within 1.4 ulp, sigmoid 2.5 ulp, tanh 1.4 ulp of the
 * exact value; GELU within 1.2 ulp of max(|GELU(x)|, 1) and 6.6 ulp of its
 * own value (the negative lobe keeps its relative accuracy).  Infinities
 * and NaN behave as in PyTorch (exp(−inf) = 0, GELU(−inf) = NaN). */

void lisse_relu_inplace_ref       (LisseTensor *t);
void lisse_leaky_relu_inplace_ref (LisseTensor *t, float slope);
void lisse_gelu_inplace_ref       (LisseTensor *t);
void lisse_sigmoid_inplace_ref    (LisseTensor *t);
void lisse_tanh_inplace_ref       (LisseTensor *t);
void lisse_exp_inplace_ref        (LisseTensor *t);
void lisse_activation_inplace_ref (LisseTensor *t, LisseActivation act, float param);

/* ---- Element-wise arithmetic (eltwise.c) ------------------------------ */

/* out = a + b, a · b, or alpha · a + beta · b.  The result has a's shape;
 * each dimension of @b must equal a's or be 1, in which case b is repeated
 * along it (broadcasting as in PyTorch, restricted to the second operand):
 * b = [N,C,1,1] scales channels, b = [N,1,H,W] scales pixels, b = [1,C,1,1]
 * adds a per-channel bias. */
LisseTensor *lisse_add       (const LisseTensor *a, const LisseTensor *b,
                              GError **error);
LisseTensor *lisse_mul       (const LisseTensor *a, const LisseTensor *b,
                              GError **error);
LisseTensor *lisse_scale_add (float alpha, const LisseTensor *a,
                              float beta, const LisseTensor *b,
                              GError **error);
/* In-place forms (a ← a + b, a ← a · b) for residual connections and
 * attention scaling, where a fresh tensor would only be thrown away. */
gboolean     lisse_add_inplace (LisseTensor *a, const LisseTensor *b,
                                GError **error);
gboolean     lisse_mul_inplace (LisseTensor *a, const LisseTensor *b,
                                GError **error);

LisseTensor *lisse_add_ref       (const LisseTensor *a, const LisseTensor *b,
                                  GError **error);
LisseTensor *lisse_mul_ref       (const LisseTensor *a, const LisseTensor *b,
                                  GError **error);
LisseTensor *lisse_scale_add_ref (float alpha, const LisseTensor *a,
                                  float beta, const LisseTensor *b,
                                  GError **error);

/* ---- Normalisation (norm.c) ------------------------------------------- */

/* All use the biased variance (divide by the count), as PyTorch does, and
 * y = (x − mean) / sqrt(var + eps) · gamma + beta.  @gamma and @beta hold
 * one value per channel (C floats) and may each be NULL (gamma = 1,
 * beta = 0).  Statistics are accumulated in double, two passes (mean, then
 * the sum of squared deviations), so large flat images lose nothing to
 * cancellation. */

/* Per (n, c) over H·W: nn.InstanceNorm2d(C, affine=...). */
LisseTensor *lisse_instance_norm (const LisseTensor *x,
                                  const float *gamma, const float *beta,
                                  float eps, GError **error);
/* Per (n, y, x) over C: the channel LayerNorm of MAXIM, MGPNet, Restormer
 * (WithBias) and ConvNeXt's channels_first LayerNorm. */
LisseTensor *lisse_layer_norm_channels (const LisseTensor *x,
                                        const float *gamma, const float *beta,
                                        float eps, GError **error);
/* Per n over C·H·W with per-channel gamma, beta: nn.GroupNorm(1, C), the
 * usual "LayerNorm" of fully convolutional networks (nn.LayerNorm([C,H,W])
 * would tie the weights to one image size). */
LisseTensor *lisse_layer_norm_chw (const LisseTensor *x,
                                   const float *gamma, const float *beta,
                                   float eps, GError **error);
/* nn.GroupNorm(groups, C): the two above are groups = C and groups = 1. */
LisseTensor *lisse_group_norm (const LisseTensor *x, int groups,
                               const float *gamma, const float *beta,
                               float eps, GError **error);

LisseTensor *lisse_instance_norm_ref (const LisseTensor *x,
                                      const float *gamma, const float *beta,
                                      float eps, GError **error);
LisseTensor *lisse_layer_norm_channels_ref (const LisseTensor *x,
                                            const float *gamma, const float *beta,
                                            float eps, GError **error);
LisseTensor *lisse_layer_norm_chw_ref (const LisseTensor *x,
                                       const float *gamma, const float *beta,
                                       float eps, GError **error);
LisseTensor *lisse_group_norm_ref (const LisseTensor *x, int groups,
                                   const float *gamma, const float *beta,
                                   float eps, GError **error);

/* ---- Channel plumbing (channels.c) ------------------------------------ */

/* torch.cat(dim=1): all tensors must agree in N, H, W. */
LisseTensor *lisse_concat_channels (const LisseTensor *const *tensors,
                                    int n_tensors, GError **error);
/* torch.split(x, sizes, dim=1): the sizes must be >= 1 and add up to C.
 * On success fills out[0 .. n_parts-1] with new tensors; on failure leaves
 * @out all NULL. */
gboolean     lisse_split_channels  (const LisseTensor *x, const int *sizes,
                                    int n_parts, LisseTensor **out,
                                    GError **error);
/* x[:, start : start + count]. */
LisseTensor *lisse_channel_slice   (const LisseTensor *x, int start, int count,
                                    GError **error);

LisseTensor *lisse_concat_channels_ref (const LisseTensor *const *tensors,
                                        int n_tensors, GError **error);
gboolean     lisse_split_channels_ref  (const LisseTensor *x, const int *sizes,
                                        int n_parts, LisseTensor **out,
                                        GError **error);
LisseTensor *lisse_channel_slice_ref   (const LisseTensor *x, int start,
                                        int count, GError **error);

/* ---- 2-D Haar transform (haar.c) -------------------------------------- */

/* Forward: [N,C,H,W] (H, W even; odd sizes are refused, callers pad) →
 * [N,4C,H/2,W/2].  With a = x[2i,2j], b = x[2i,2j+1], c = x[2i+1,2j],
 * d = x[2i+1,2j+1] of input channel k, the four bands are
 *     band 0 (LL)  a + b + c + d    (local mean)
 *     band 1       a − b + c − d    (left minus right: vertical edges)
 *     band 2       a + b − c − d    (top minus bottom: horizontal edges)
 *     band 3       a − b − c + d    (diagonal)
 * times the scale, and band s of channel k goes to output channel s·C + k:
 * band-major grouping [all LL | all band 1 | all band 2 | all band 3],
 * exactly as the HaarDownsampling of the Invertible Rescaling Net (IRN)
 * orders them, so out[:, :C] is the low-pass image. */
typedef enum
{
  /* Forward and inverse both × 1/2: the orthonormal transform, which keeps
   * the energy of the image. */
  LISSE_HAAR_ORTHONORMAL,
  /* Forward × 1/4, inverse × 1: IRN's scaling (LL is then the plain 2×2
   * mean); needed for weights trained with IRN-style layers. */
  LISSE_HAAR_IRN,
} LisseHaarScale;

LisseTensor *lisse_haar_forward (const LisseTensor *x, LisseHaarScale scale,
                                 GError **error);
/* Exact inverse of lisse_haar_forward with the same @scale: C divisible
 * by 4, output [N,C/4,2H,2W]. */
LisseTensor *lisse_haar_inverse (const LisseTensor *x, LisseHaarScale scale,
                                 GError **error);

LisseTensor *lisse_haar_forward_ref (const LisseTensor *x, LisseHaarScale scale,
                                     GError **error);
LisseTensor *lisse_haar_inverse_ref (const LisseTensor *x, LisseHaarScale scale,
                                     GError **error);

/* ---- Pooling (pool.c) ------------------------------------------------- */

/* Square windows of @kernel, @stride and @pad zero-padding each side, as
 * nn.AvgPool2d / nn.MaxPool2d with ceil_mode=False: output size
 * floor((H + 2·pad − kernel) / stride) + 1.  Requires kernel >= 1,
 * stride >= 1, 0 <= pad <= kernel/2 (PyTorch's rule, which guarantees every
 * window overlaps the image) and H + 2·pad >= kernel (same for W).
 * Max pooling never takes a padded position.  Average pooling divides by
 * the number of window positions inside the image when count_include_pad
 * is FALSE (the border is not darkened), by kernel² when TRUE (PyTorch's
 * default, the padding counts as zeros). */
LisseTensor *lisse_avg_pool2d (const LisseTensor *x, int kernel, int stride,
                               int pad, gboolean count_include_pad,
                               GError **error);
LisseTensor *lisse_max_pool2d (const LisseTensor *x, int kernel, int stride,
                               int pad, GError **error);
/* [N,C,H,W] → [N,C,1,1]: adaptive_avg_pool2d(x, 1), adaptive_max_pool2d(x, 1). */
LisseTensor *lisse_global_avg_pool (const LisseTensor *x, GError **error);
LisseTensor *lisse_global_max_pool (const LisseTensor *x, GError **error);
/* [N,C,H,W] → [N,1,H,W]: x.mean(1, keepdim=True), x.amax(1, keepdim=True),
 * the two maps of CBAM's spatial attention. */
LisseTensor *lisse_channel_mean (const LisseTensor *x, GError **error);
LisseTensor *lisse_channel_max  (const LisseTensor *x, GError **error);

LisseTensor *lisse_avg_pool2d_ref (const LisseTensor *x, int kernel, int stride,
                                   int pad, gboolean count_include_pad,
                                   GError **error);
LisseTensor *lisse_max_pool2d_ref (const LisseTensor *x, int kernel, int stride,
                                   int pad, GError **error);
LisseTensor *lisse_global_avg_pool_ref (const LisseTensor *x, GError **error);
LisseTensor *lisse_global_max_pool_ref (const LisseTensor *x, GError **error);
LisseTensor *lisse_channel_mean_ref (const LisseTensor *x, GError **error);
LisseTensor *lisse_channel_max_ref  (const LisseTensor *x, GError **error);

/* ---- Bilinear resizing (resize.c) ------------------------------------- */

/* F.interpolate(x, size=(out_h, out_w), mode='bilinear',
 * align_corners=..., antialias=False).  With align_corners FALSE, output
 * pixel i samples input position (i + 0.5) · in/out − 0.5 (clamped at 0);
 * with TRUE, i · (in − 1)/(out − 1), so the corner pixels coincide.
 * Positions and weights are computed in double (PyTorch uses float, which
 * shifts its weights by up to about in · 2⁻²⁴).  Calls that pass
 * scale_factor= to PyTorch without recompute_scale_factor use
 * 1/scale_factor instead of in/out; they agree whenever out = in · factor
 * exactly. */
LisseTensor *lisse_resize_bilinear     (const LisseTensor *x, int out_h, int out_w,
                                        gboolean align_corners, GError **error);
LisseTensor *lisse_resize_bilinear_ref (const LisseTensor *x, int out_h, int out_w,
                                        gboolean align_corners, GError **error);

/* ---- Pixel shuffle (shuffle.c) ---------------------------------------- */

/* nn.PixelShuffle(r): [N, C·r², H, W] → [N, C, H·r, W·r] with
 * out[n, c, y·r + i, x·r + j] = in[n, c·r² + i·r + j, y, x].
 * nn.PixelUnshuffle(r) is its inverse (H, W divisible by r). */
LisseTensor *lisse_pixel_shuffle       (const LisseTensor *x, int r, GError **error);
LisseTensor *lisse_pixel_unshuffle     (const LisseTensor *x, int r, GError **error);
LisseTensor *lisse_pixel_shuffle_ref   (const LisseTensor *x, int r, GError **error);
LisseTensor *lisse_pixel_unshuffle_ref (const LisseTensor *x, int r, GError **error);

/* ---- Attention blocks (attention.c) ----------------------------------- */

/* The two-layer bottleneck both channel attentions share:
 * channels → hidden (+ b1) → ReLU → channels (+ b2).  Weights in PyTorch's
 * layout for nn.Linear or a 1×1 nn.Conv2d (identical in memory):
 * w1[hidden][channels], w2[channels][hidden].  Biases may be NULL. */
typedef struct
{
  int          channels;
  int          hidden;
  const float *w1;
  const float *b1;
  const float *w2;
  const float *b2;
} LisseChannelMlp;

/* CBAM channel attention: x · sigmoid(mlp(avgpool(x)) + mlp(maxpool(x))).
 * (With biases, b2 is thus counted twice, as in PyTorch.) */
LisseTensor *lisse_cbam_channel_attention (const LisseTensor *x,
                                           const LisseChannelMlp *mlp,
                                           GError **error);
/* CBAM spatial attention:
 * x · sigmoid(conv([mean_c(x), max_c(x)]) + bias), a 2 → 1 channel
 * convolution of odd size @ksize (7 in CBAM) with zero padding ksize/2.
 * @weight is [1][2][ksize][ksize] (PyTorch layout), input channel 0 the
 * channel MEAN and 1 the channel MAX; checkpoints that concatenate
 * [max, mean] (the original CBAM code's ChannelPool) must swap the two
 * halves of the weight when converted.  @bias: one float, or NULL
 * (fold a BatchNorm that follows the conv into weight and bias). */
LisseTensor *lisse_cbam_spatial_attention (const LisseTensor *x,
                                           const float *weight,
                                           const float *bias, int ksize,
                                           GError **error);
/* RCAN's CALayer (RCAB): x · sigmoid(mlp(avgpool(x))). */
LisseTensor *lisse_rcab_channel_attention (const LisseTensor *x,
                                           const LisseChannelMlp *mlp,
                                           GError **error);

LisseTensor *lisse_cbam_channel_attention_ref (const LisseTensor *x,
                                               const LisseChannelMlp *mlp,
                                               GError **error);
LisseTensor *lisse_cbam_spatial_attention_ref (const LisseTensor *x,
                                               const float *weight,
                                               const float *bias, int ksize,
                                               GError **error);
LisseTensor *lisse_rcab_channel_attention_ref (const LisseTensor *x,
                                               const LisseChannelMlp *mlp,
                                               GError **error);

G_END_DECLS
