/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Convolution-family ops: conv2d, transposed conv2d, deformable sampling,
 * dense layers and batch-norm.  Every op has a fast version (OpenBLAS sgemm,
 * OpenMP) and a plain reference (`_ref`: nested loops, double accumulation)
 * that the op tests compare against.
 *
 * Conventions shared by all ops here:
 *  - Tensors are NCHW float32 (tensor.h).  Ops never modify their inputs and
 *    return a newly allocated tensor, or NULL with @error set
 *    (LISSE_ERROR_INVALID_ARGUMENT) when shapes or geometry are invalid.
 *  - Weights are tensors in PyTorch's layout, reusing the four dimensions:
 *      conv2d            [Cout, Cin/groups, kh, kw]  (n, c, h, w)
 *      conv_transpose2d  [Cin, Cout/groups, kh, kw]
 *      dense layers      [Cout, Cin]  as n = Cout and c·h·w = Cin
 *    The kernel size is taken from the weight tensor.
 *  - A bias, and every per-channel vector (batch-norm γ, β, μ, σ²), is a
 *    tensor holding exactly as many elements as there are channels; its shape
 *    is otherwise free (1×C×1×1 is the usual one).  A NULL bias means none.
 *  - Results do not depend on the thread count (threads.h): each output value
 *    is summed by one thread in a fixed order.
 */
#pragma once

#include "tensor.h"

#include <glib.h>

G_BEGIN_DECLS

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

/* TRUE when @v is NULL and @allow_null, or holds exactly @count values; else
 * FALSE with @error naming @what ("bias", "batch-norm mean"). */
gboolean lisse_ops_check_vector (const LisseTensor *v, int count, gboolean allow_null,
                                 const char *what, GError **error);

/* Row-major  C = op(A)·op(B) + beta·C  through OpenBLAS (alpha is 1), with
 * A [m, k] (stored [k, m] when @trans_a), B [k, n] (stored [n, k] when
 * @trans_b) and leading dimensions as in cblas_sgemm.  beta = 0 ignores what
 * C held.  Results do not depend on the thread count: OpenBLAS 0.3 cuts an
 * inner dimension between its block size GEMM_Q and 2·GEMM_Q at different
 * points when threaded and when not, which changes the rounding, so this
 * feeds it at most LISSE_SGEMM_K_BLOCK of the inner dimension per call (well
 * under GEMM_Q, which is 384 for the x86-64 kernels of Debian's 0.3.21) and
 * accumulates the blocks in order.  Blocking costs nothing measurable.  Every
 * op here calls sgemm through this; the op tests check 1 against 3 threads
 * bit for bit. */
#define LISSE_SGEMM_K_BLOCK 128
/* C is computed in panels of this many rows × columns, spread over the
 * engine's OpenMP threads, each one single-threaded sgemm call per K block. */
#define LISSE_SGEMM_M_PANEL 256
#define LISSE_SGEMM_N_PANEL 1024
void     lisse_sgemm (gboolean trans_a, gboolean trans_b, int m, int n, int k,
                      const float *a, int lda, const float *b, int ldb,
                      float beta, float *c, int ldc);

/* The fast convolutions (conv2d, conv_transpose2d, deform_conv2d) lower the
 * image to a column matrix for sgemm a chunk of pixels at a time, so that the
 * scratch memory stays under this many bytes whatever the image size (at
 * least one pixel's column is always allocated).  Default 32 MiB.  Tests set
 * it small to exercise the chunking; returns the previous value. */
#define LISSE_OPS_SCRATCH_BYTES_DEFAULT ((size_t) 32 << 20)
size_t   lisse_ops_set_scratch_bytes (size_t bytes);
size_t   lisse_ops_get_scratch_bytes (void);

/* ---------------------------------------------------------------------- */
/* conv2d                                                                 */

/* Geometry of a 2-D convolution.  Padding is zeros and may differ per side,
 * so that "same" convolutions with even kernels (2, 4) can be expressed
 * (PyTorch pads those with more at the bottom/right, TensorFlow likewise).
 * Output size:
 *   Hout = (H + pad_top + pad_bottom − dil_h·(kh − 1) − 1) / stride_h + 1
 *   Wout = (W + pad_left + pad_right − dil_w·(kw − 1) − 1) / stride_w + 1
 * stride, dil and groups must be ≥ 1; pads ≥ 0.  groups must divide Cin and
 * Cout; groups = Cin = Cout is a depthwise convolution. */
typedef struct
{
  int stride_h, stride_w;
  int pad_top, pad_bottom, pad_left, pad_right;
  int dil_h, dil_w;
  int groups;
  /* Allow bf16 products with float accumulation where the CPU has them
   * (the Winograd path on avx512_bf16; ignored elsewhere).  Off unless a
   * network's model file says its output stays within 1/255 of float's
   * (lisse_model_allows_bf16). */
  gboolean bf16;
} LisseConv2dGeom;

/* Symmetric geometry: PyTorch's Conv2d(stride, padding, dilation, groups). */
static inline LisseConv2dGeom
lisse_conv2d_geom (int stride, int pad, int dil, int groups)
{
  return (LisseConv2dGeom) { stride, stride, pad, pad, pad, pad, dil, dil, groups, FALSE };
}

/* Output size of a conv2d, or FALSE (with @error) when the geometry is
 * invalid or leaves no output. */
gboolean     lisse_conv2d_out_size (int h, int w, int kh, int kw,
                                    const LisseConv2dGeom *geom,
                                    int *out_h, int *out_w, GError **error);

/* x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw], bias Cout values or
 * NULL  ->  [N, Cout, Hout, Wout]. */
LisseTensor *lisse_conv2d     (const LisseTensor *x, const LisseTensor *weight,
                               const LisseTensor *bias, const LisseConv2dGeom *geom,
                               GError **error);
LisseTensor *lisse_conv2d_ref (const LisseTensor *x, const LisseTensor *weight,
                               const LisseTensor *bias, const LisseConv2dGeom *geom,
                               GError **error);
/* lisse_conv2d() followed by ReLU, fused into the Winograd path's output
 * (the networks' conv + ReLU layers). */
LisseTensor *lisse_conv2d_relu (const LisseTensor *x, const LisseTensor *weight,
                                const LisseTensor *bias, const LisseConv2dGeom *geom,
                                GError **error);
/* ReLU (lisse_conv2d() + @residual), @residual of the output's shape (a
 * residual block's end), in the output pass where Winograd runs. */
LisseTensor *lisse_conv2d_add_relu (const LisseTensor *x, const LisseTensor *weight,
                                    const LisseTensor *bias, const LisseConv2dGeom *geom,
                                    const LisseTensor *residual, GError **error);

/* Winograd F(4×4, 3×3) (conv2d-winograd.c): 3×3 kernels over one group,
 * stride 1, padding equal to the dilation on every side (any dilation, by
 * the polyphase split).  lisse_conv2d() takes this path by itself where it
 * applies and pays (both channel counts at least
 * LISSE_CONV_WINOGRAD_MIN_CHANNELS) unless the algorithm is set to
 * LISSE_CONV_IM2COL; calling it directly on a geometry it does not take is
 * an error.  Its float error is larger than im2col's (a few roundings of the
 * transformed sums rather than one of the direct sum): the bound is stated
 * and tested in tests/op-cases-conv.c. */
#define LISSE_CONV_WINOGRAD_MIN_CHANNELS 8
gboolean     lisse_conv2d_winograd_supported (const LisseTensor *x, const LisseTensor *weight,
                                              const LisseConv2dGeom *geom);
LisseTensor *lisse_conv2d_winograd (const LisseTensor *x, const LisseTensor *weight,
                                    const LisseTensor *bias, const LisseConv2dGeom *geom,
                                    GError **error);
/* The same with ReLU applied as the output is written (one pass over the
 * output less than lisse_relu_inplace() after it). */
LisseTensor *lisse_conv2d_winograd_relu (const LisseTensor *x, const LisseTensor *weight,
                                         const LisseTensor *bias, const LisseConv2dGeom *geom,
                                         GError **error);
/* ReLU (conv + bias + @residual), @residual of the output's shape: a
 * residual block's end in the same pass. */
LisseTensor *lisse_conv2d_winograd_add_relu (const LisseTensor *x, const LisseTensor *weight,
                                             const LisseTensor *bias,
                                             const LisseConv2dGeom *geom,
                                             const LisseTensor *residual, GError **error);

/* Which algorithm lisse_conv2d() may use: AUTO picks Winograd where it
 * applies, IM2COL never does (benchmarks and tests compare the two).
 * Returns the previous setting; process-wide, not for use while ops run. */
typedef enum
{
  LISSE_CONV_AUTO,
  LISSE_CONV_IM2COL,
} LisseConvAlgorithm;
LisseConvAlgorithm lisse_ops_set_conv_algorithm (LisseConvAlgorithm algorithm);

/* ---------------------------------------------------------------------- */
/* conv_transpose2d                                                       */

/* PyTorch's ConvTranspose2d.  Input pixel (iy, ix) contributes through kernel
 * tap (ki, kj) to output pixel
 *   (iy·stride_h − pad_h + ki·dil_h,  ix·stride_w − pad_w + kj·dil_w),
 * so the output size is
 *   Hout = (H − 1)·stride_h − 2·pad_h + dil_h·(kh − 1) + out_pad_h + 1.
 * out_pad only adds rows/columns at the bottom/right and must be smaller than
 * stride or dilation (as PyTorch requires). */
typedef struct
{
  int stride_h, stride_w;
  int pad_h, pad_w;
  int out_pad_h, out_pad_w;
  int dil_h, dil_w;
  int groups;
} LisseConvTranspose2dGeom;

static inline LisseConvTranspose2dGeom
lisse_conv_transpose2d_geom (int stride, int pad, int out_pad, int dil, int groups)
{
  return (LisseConvTranspose2dGeom) { stride, stride, pad, pad, out_pad, out_pad,
                                      dil, dil, groups };
}

gboolean     lisse_conv_transpose2d_out_size (int h, int w, int kh, int kw,
                                              const LisseConvTranspose2dGeom *geom,
                                              int *out_h, int *out_w,
                                              GError **error);

/* x [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw], bias Cout values or
 * NULL  ->  [N, Cout, Hout, Wout]. */
LisseTensor *lisse_conv_transpose2d     (const LisseTensor *x, const LisseTensor *weight,
                                         const LisseTensor *bias,
                                         const LisseConvTranspose2dGeom *geom,
                                         GError **error);
LisseTensor *lisse_conv_transpose2d_ref (const LisseTensor *x, const LisseTensor *weight,
                                         const LisseTensor *bias,
                                         const LisseConvTranspose2dGeom *geom,
                                         GError **error);

/* ---------------------------------------------------------------------- */
/* Deformable sampling                                                    */

/* Both deformable ops keep the image size (stride 1) and sample a kh×kw grid
 * around every pixel p = (y, x).  Kernel point k = i·kw + j (row-major) sits
 * at
 *   p_k = (y + i·dil_h − pad_h,  x + j·dil_w − pad_w),
 *   pad_h = (dil_h·(kh − 1)) / 2,  pad_w = (dil_w·(kw − 1)) / 2  (rounded down),
 * which for odd kernels is the centred grid ((i − (kh−1)/2)·dil_h, …).  It is
 * then moved by the learned offset:
 *   offsets [N, 2K, H, W]: channel 2k holds Δy of point k, channel 2k + 1 Δx,
 * and x is read there with bilinear interpolation, zeros outside the image:
 * a position is 0 if it lies at or beyond −1 or H (W) in either axis, else
 * each of its four neighbours that falls inside the image contributes with
 * its bilinear weight.
 *
 * This is exactly torchvision.ops.deform_conv2d (one offset group, stride 1,
 * padding = (pad_h, pad_w), dilation = (dil_h, dil_w)): whenever dil·(k − 1)
 * is even (every odd kernel) the outputs agree in size and, up to float
 * rounding (positions are computed in double here), in value.  When
 * dil·(k − 1) is odd (an even kernel with odd dilation) torchvision's output
 * is one row/column smaller; its pixels equal ours at the same (y, x), ours
 * has one more row/column at the bottom/right. */

/* Fang et al. 2019's deformable weighted-average layer:
 *   y[n, c, p] = Σ_k weights[n, k, p] · x[n, c](p_k + Δp_k)
 * x [N, C, H, W], offsets [N, 2K, H, W], weights [N, K, H, W]
 * (K = kh·kw)  ->  [N, C, H, W]. */
LisseTensor *lisse_deform_weighted_average     (const LisseTensor *x,
                                                const LisseTensor *offsets,
                                                const LisseTensor *weights,
                                                int kh, int kw, int dil_h, int dil_w,
                                                GError **error);
LisseTensor *lisse_deform_weighted_average_ref (const LisseTensor *x,
                                                const LisseTensor *offsets,
                                                const LisseTensor *weights,
                                                int kh, int kw, int dil_h, int dil_w,
                                                GError **error);

/* Fang et al. 2019's whole layer (eq. 5–7) in one pass: each of the K =
 * kh·kw moved points q_k of a pixel p is located once and read for both the
 * guide features and the image:
 *   w_k = softmax_k(−Σ_f (feat[f](p) − feat[f](q_k))²)
 *   y[c](p) = (Σ_k w_k x[c](q_k) + eps·x[c](p)) / (Σ_k w_k 1(q_k) + eps)
 * where 1(q) is the bilinear read of a plane of ones (1 inside, falling to 0
 * across the border): the weights of the points inside the image sum to one
 * again, and @eps ≥ 0 keeps the pixel's own value where no point is inside.
 * x [N, C, H, W], feat [N, F, H, W], offsets [N, 2K, H, W] -> [N, C, H, W].
 * It equals deform_conv2d reading feat at the points, the softmax, and
 * deform_weighted_average on [x, 1] followed by the division. */
LisseTensor *lisse_deform_affinity_average     (const LisseTensor *x, const LisseTensor *feat,
                                                const LisseTensor *offsets,
                                                int kh, int kw, int dil_h, int dil_w,
                                                float eps, GError **error);
/* The same on pixel-interleaved rows, for callers that run it band by band
 * and never hold whole images (fang19): each pixel is
 * lisse_affinity_pixel_floats (nf, nc) floats — its @nf features, then its
 * @nc image channels, then zeros up to a multiple of AFFINITY_LANES (one
 * vector); 1 ≤ @nf ≤ AFFINITY_MAX_FEATURES.  @src holds the rows
 * [@src_y0, @src_y0 + @src_rows) of an @h × @w image; @offsets (N = 1) its
 * rows [@off_y0, @off_y0 + offsets->h), which must cover the output rows
 * [@y_begin, @y_end); @dst (their first pixel, not overlapping @src)
 * receives those rows in the same layout: each pixel's own features, then
 * its averaged channels — the next layer's input.  Every corner a pixel
 * reads must lie in @src's rows or outside the image, else an error (a
 * caller that bounds the offsets by B gives the rows from
 * y_begin − pad − ceil(B) − 1 to y_end + pad + ceil(B) + 1).  Positions are
 * taken relative to each pixel in float, so a pixel reads the same wherever
 * it lies; the result is lisse_deform_affinity_average's to float rounding
 * (the same for every band and thread split, bit for bit). */
#define AFFINITY_LANES        8
#define AFFINITY_MAX_FEATURES 32   /* nf ≤ this; a multiple of AFFINITY_LANES */
int          lisse_affinity_pixel_floats        (int nf, int nc);
gboolean     lisse_deform_affinity_average_interleaved (const float *src, int src_y0,
                                                        int src_rows, int h, int w, int nf,
                                                        int nc, const LisseTensor *offsets,
                                                        int off_y0, int y_begin, int y_end,
                                                        int kh, int kw, int dil_h, int dil_w,
                                                        float eps, float *dst, GError **error);
/* Rows [@y_begin, @y_end) of image @ni of @x (whose row 0 is image row
 * @x_y0) into the interleaved rows at @dst (row y_begin's first pixel), its
 * channels at lanes @lane0 …, @stride floats a pixel; and back. */
void         lisse_affinity_interleave          (float *dst, int stride, int lane0,
                                                 const LisseTensor *x, int ni, int x_y0,
                                                 int y_begin, int y_end);
void         lisse_affinity_deinterleave        (const float *src, int stride, int lane0,
                                                 LisseTensor *x, int ni, int x_y0,
                                                 int y_begin, int y_end);
LisseTensor *lisse_deform_affinity_average_ref (const LisseTensor *x, const LisseTensor *feat,
                                                const LisseTensor *offsets,
                                                int kh, int kw, int dil_h, int dil_w,
                                                float eps, GError **error);

/* Deformable convolution (DCNv1; DCNv2 when @mask is given):
 *   y[n, o, p] = b[o] + Σ_{c, k} weight[o, c, k] · mask[n, k, p] · x[n, c](p_k + Δp_k)
 * x [N, Cin, H, W], offsets [N, 2K, H, W], weight [Cout, Cin/groups, kh, kw],
 * bias Cout values or NULL, mask [N, K, H, W] or NULL  ->  [N, Cout, H, W].
 * As in torchvision the group count is Cin / weight->c (it must divide Cout
 * too); all channels share the one set of offsets. */
LisseTensor *lisse_deform_conv2d     (const LisseTensor *x, const LisseTensor *offsets,
                                      const LisseTensor *weight, const LisseTensor *bias,
                                      const LisseTensor *mask, int dil_h, int dil_w,
                                      GError **error);
LisseTensor *lisse_deform_conv2d_ref (const LisseTensor *x, const LisseTensor *offsets,
                                      const LisseTensor *weight, const LisseTensor *bias,
                                      const LisseTensor *mask, int dil_h, int dil_w,
                                      GError **error);

/* ---------------------------------------------------------------------- */
/* Dense layers                                                           */

/* C = op(A) · op(B) on plain row-major arrays, C [M, N] overwritten.
 * op(A) is [M, K]: A is stored [M, K], or [K, M] when @trans_a.
 * op(B) is [K, N]: B is stored [K, N], or [N, K] when @trans_b.
 * M, N, K ≥ 0 (K = 0 zeroes C).  C must not overlap A or B. */
void lisse_matmul     (int m, int n, int k,
                       const float *a, gboolean trans_a,
                       const float *b, gboolean trans_b,
                       float *c);
void lisse_matmul_ref (int m, int n, int k,
                       const float *a, gboolean trans_a,
                       const float *b, gboolean trans_b,
                       float *c);

/* Per-pixel dense layer over channels (a 1×1 convolution):
 *   y[n, o, y, x] = b[o] + Σ_i W[o, i] · x[n, i, y, x]
 * x [N, Cin, H, W], weight n = Cout, c·h·w = Cin, bias Cout values or NULL
 *   ->  [N, Cout, H, W]. */
LisseTensor *lisse_linear_channels     (const LisseTensor *x, const LisseTensor *weight,
                                        const LisseTensor *bias, GError **error);
LisseTensor *lisse_linear_channels_ref (const LisseTensor *x, const LisseTensor *weight,
                                        const LisseTensor *bias, GError **error);

/* Dense layer over the last (W) axis, as PyTorch's nn.Linear on a tensor
 * whose last dimension is the feature axis:
 *   y[n, c, h, o] = b[o] + Σ_i x[n, c, h, i] · W[o, i]
 * x [N, C, H, Win], weight n = Wout, c·h·w = Win, bias Wout values or NULL
 *   ->  [N, C, H, Wout]. */
LisseTensor *lisse_linear_lastdim     (const LisseTensor *x, const LisseTensor *weight,
                                       const LisseTensor *bias, GError **error);
LisseTensor *lisse_linear_lastdim_ref (const LisseTensor *x, const LisseTensor *weight,
                                       const LisseTensor *bias, GError **error);

/* Dense layer over the positions of pixel groups (group-mix.c): the
 * spatial projection of a multi-axis gMLP (MAXIM; MGPNet's global
 * processing block).  The H×W plane of each (n, c) splits into groups of
 * n = s² pixels (s = @size, which must divide H and W); position j = a·s + b
 * (0 ≤ a, b < s) of group g is the pixel
 *   LISSE_GROUP_BLOCK:  (wy·s + a, wx·s + b)      g = wy·(W/s) + wx:
 *                       the s×s window (wy, wx), the local axis;
 *   LISSE_GROUP_GRID:   (a·H/s + oy, b·W/s + ox)  g = oy·(W/s) + ox:
 *                       the pixels at offset (oy, ox) within the cells of an
 *                       s×s grid over the whole plane, the global axis;
 * and, as nn.Linear(n, n) on the positions,
 *   y[g, j] = bias[j] + Σ_i weight[j, i] · x[g, i].
 * weight: n = s² outputs and c·h·w = s² inputs (a file's [n, n] reads as
 * n×n×1×1); bias s² values or NULL.  x [N, C, H, W] -> [N, C, H, W]. */
typedef enum
{
  LISSE_GROUP_BLOCK,
  LISSE_GROUP_GRID,
} LisseGroupKind;
#define LISSE_GROUP_MIX_MAX_SIZE 256
/* TRUE when the arguments suit lisse_group_mix, else FALSE with @error. */
gboolean     lisse_group_mix_check (const LisseTensor *x, LisseGroupKind kind, int size,
                                    const LisseTensor *weight, const LisseTensor *bias,
                                    GError **error);
LisseTensor *lisse_group_mix       (const LisseTensor *x, LisseGroupKind kind, int size,
                                    const LisseTensor *weight, const LisseTensor *bias,
                                    GError **error);
LisseTensor *lisse_group_mix_ref   (const LisseTensor *x, LisseGroupKind kind, int size,
                                    const LisseTensor *weight, const LisseTensor *bias,
                                    GError **error);

/* ---------------------------------------------------------------------- */
/* Batch-norm                                                             */

/* Inference-time batch-norm, per channel c:
 *   y = γ_c · (x − μ_c) / √(σ²_c + ε) + β_c
 * @gamma NULL means γ = 1 and @beta NULL means β = 0 (affine=False).
 * @mean and @var are required; all hold C values. */
LisseTensor *lisse_batchnorm_inference     (const LisseTensor *x,
                                            const LisseTensor *gamma, const LisseTensor *beta,
                                            const LisseTensor *mean, const LisseTensor *var,
                                            float eps, GError **error);
LisseTensor *lisse_batchnorm_inference_ref (const LisseTensor *x,
                                            const LisseTensor *gamma, const LisseTensor *beta,
                                            const LisseTensor *mean, const LisseTensor *var,
                                            float eps, GError **error);

/* Which dimension of a weight tensor holds the output channels. */
typedef enum
{
  LISSE_WEIGHT_CONV2D,            /* [Cout, Cin/groups, kh, kw]: n */
  LISSE_WEIGHT_CONV_TRANSPOSE2D,  /* [Cin, Cout/groups, kh, kw]: c within each group */
} LisseWeightLayout;

/* Folds a batch-norm that follows a convolution into the convolution, so
 * that conv(x; W', b') = BN(conv(x; W, b)):
 *   s_o = γ_o / √(σ²_o + ε),  W'[o, …] = s_o · W[o, …],  b'_o = s_o·(b_o − μ_o) + β_o.
 * @weight is rewritten in place (it must own writable memory, not view a
 * read-only mapped model file).  *@bias is rewritten in place, or created as
 * a 1×Cout×1×1 tensor when NULL.  @groups is the convolution's group count;
 * only the transposed layout needs it (Cout = groups · weight->c).
 * γ, β may be NULL as in lisse_batchnorm_inference().  Returns FALSE with
 * @error set, changing nothing, when the shapes disagree. */
gboolean lisse_fold_batchnorm (LisseTensor *weight, LisseTensor **bias,
                               LisseWeightLayout layout, int groups,
                               const LisseTensor *gamma, const LisseTensor *beta,
                               const LisseTensor *mean, const LisseTensor *var,
                               float eps, GError **error);

G_END_DECLS
