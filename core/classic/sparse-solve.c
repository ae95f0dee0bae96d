/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Preconditioned conjugate gradients for (I + L) u = f on the pixel grid.
 *
 * Precision.  The weights are stored as float (they are the matrix: a test
 * that builds the dense matrix from the same floats solves exactly the same
 * system), but the CG vectors and every dot product are double.  The systems
 * are badly conditioned — WLS puts weights of λ/ε = 10⁴ on flat regions, so
 * κ(A) reaches 10⁵–10⁶ — and in float the recursively updated residual drifts
 * away from the true one at about κ·2⁻²⁴ ≈ 10⁻², far above the 10⁻⁴ the
 * filters promise.  In double that drift is ~10⁻¹⁰.  The preconditioner also
 * runs in double: it costs little next to memory traffic and stays an exactly
 * symmetric operator.
 *
 * Determinism.  Parallel loops write each value from one thread, in a fixed
 * order, and read only values no other thread writes in the same loop (the
 * Gauss–Seidel sweeps relax one colour at a time).  Dot products store one
 * partial sum per grid row and add the rows serially afterwards.  So results
 * are bit-identical for every thread count.
 *
 * Preconditioners (measured in docs/classic-filters.md with
 * tools/bench/solver-bench.c):
 *  - JACOBI: z = r / diag(A).
 *  - IC0: incomplete Cholesky of the 5-point matrix, A ≈ (D+L) D⁻¹ (D+Lᵀ).
 *    Its triangular solves are sequential; to run them in parallel the grid
 *    is cut into strips of IC0_STRIP rows whose couplings are dropped (block
 *    Jacobi).  The strip height is fixed, not derived from the thread count,
 *    so the result is the same for all.
 *  - MULTIGRID (default): one V-cycle of aggregation-based algebraic
 *    multigrid.  Every level is "mass + weighted graph Laplacian": a node
 *    joins an aggregate with the neighbours it is strongly coupled to (weight
 *    ≥ θ × its strongest), and piecewise-constant interpolation makes the
 *    Galerkin operator Pᵀ A P of that same form — coarse mass = sum of the
 *    members' masses, coarse edge = sum of the fine edges between the two
 *    aggregates.  Aggregates grow only along strong couplings, so they do not
 *    reach across an image edge (a weak coupling) nor get confused by the
 *    pixel-to-pixel jumps of the weights in 8-bit photographs — what defeats
 *    geometric multigrid on these systems.  Memory: about 150 bytes per pixel
 *    in all, most of it the double CG vectors.  The grid level is smoothed by
 *    red–black Gauss–Seidel, graph levels by multicolour Gauss–Seidel (a
 *    greedy colouring); colours run in reverse after the coarse correction,
 *    so the cycle is symmetric positive definite as CG requires.  The
 *    coarsest level (≤ AMG_DENSE nodes) is solved by dense Cholesky.
 *
 *    Also tried, and dropped after measuring (docs/classic-filters.md):
 *    geometric 2×2 aggregation, black-box multigrid with operator-dependent
 *    interpolation (Dendy 1982), a red–black hierarchical factorisation with
 *    adaptive sparsification (after Krishnan & Szeliski 2011), W-cycles,
 *    modified IC. */
#include "sparse-solve.h"
#include "lisse-error.h"
#include "threads.h"

#include <math.h>
#include <string.h>

#define IC0_STRIP         64     /* rows per independent IC(0) strip */
#define MG_SWEEPS         2      /* grid smoothing sweeps before and after the coarse correction */
#define MG_COARSE_SWEEPS  1      /* the same on graph levels (2 gains no time) */
#define MG_STRENGTH       0.85   /* θ: strong coupling = weight ≥ θ × the node's largest
                                  * (measured best of 0.25–0.95) */
#define MG_NEGLIGIBLE     0.01   /* couplings all below this × mass: smoothing alone suffices */
#define MG_MIN_COARSENING 0.85   /* stop when a level keeps more than this fraction of nodes */
#define AMG_DENSE         384    /* solve the coarsest level directly at or below this size */
#define COARSEST_SWEEPS   4      /* sweeps that stand in for a solve when coarsening stalls */
#define PROGRESS_EVERY    8      /* PCG iterations between progress reports */
#define PAR_MIN_WORK      16384  /* below this many nodes threads cost more than they give */

/* ---- deterministic parallel helpers ------------------------------------- */

typedef struct
{
  int     n_threads;
  double *row_acc;   /* one partial sum per grid row */
} Par;

static inline int
par_threads (const Par *par, size_t n)
{
  return n >= PAR_MIN_WORK ? par->n_threads : 1;
}

static double
sum_rows (const double *acc, int h)
{
  double s = 0.0;
  for (int y = 0; y < h; y++)
    s += acc[y];
  return s;
}

/* ---- the grid matrix ----------------------------------------------------- */

typedef struct
{
  int          w, h;
  const float *wx, *wy;   /* the caller's weights */
  float       *zeros;     /* a row of zero weights, read at the border */
} Grid;

static inline double
grid_diag (const Grid *A, int x, int y)
{
  const size_t i = (size_t) y * A->w + x;
  double d = 1.0;
  if (x + 1 < A->w)
    d += A->wx[i];
  if (x > 0)
    d += A->wx[i - 1];
  if (y + 1 < A->h)
    d += A->wy[i];
  if (y > 0)
    d += A->wy[i - A->w];
  return d;
}

/* (A p) for row y, written to q_row; returns Σ p_i (A p)_i over the row.
 * Missing neighbours (grid border) read a zero weight and the centre value,
 * so the interior needs no branches and vectorises. */
static double
grid_apply_row (const Grid *A, int y, const double *p, double *q_row)
{
  const int w = A->w, h = A->h;
  const size_t o = (size_t) y * w;
  const float *ex = A->wx + o;
  const float *eyd = y + 1 < h ? A->wy + o : A->zeros;      /* edges to the row below */
  const float *eyu = y > 0 ? A->wy + o - w : A->zeros;      /* edges to the row above */
  const double *pc = p + o;
  const double *pd = y + 1 < h ? p + o + w : pc;
  const double *pu = y > 0 ? p + o - w : pc;

  if (w == 1)
    {
      double v = pc[0];
      q_row[0] = v + eyd[0] * (v - pd[0]) + eyu[0] * (v - pu[0]);
      return v * q_row[0];
    }
  {
    double v = pc[0];
    q_row[0] = v + ex[0] * (v - pc[1]) + eyd[0] * (v - pd[0]) + eyu[0] * (v - pu[0]);
  }
  for (int x = 1; x < w - 1; x++)
    {
      double v = pc[x];
      q_row[x] = v
                 + ex[x] * (v - pc[x + 1]) + ex[x - 1] * (v - pc[x - 1])
                 + eyd[x] * (v - pd[x]) + eyu[x] * (v - pu[x]);
    }
  {
    const int x = w - 1;
    double v = pc[x];
    q_row[x] = v + ex[x - 1] * (v - pc[x - 1]) + eyd[x] * (v - pd[x]) + eyu[x] * (v - pu[x]);
  }
  /* A separate, in-order loop: an FP reduction would stop the loop above
   * from vectorising, and reordering it would break determinism. */
  double acc = 0.0;
  for (int x = 0; x < w; x++)
    acc += pc[x] * q_row[x];
  return acc;
}

/* q = A p; returns pᵀ A p. */
static double
grid_apply (const Grid *A, const Par *par, const double *p, double *q)
{
  const int h = A->h;
#pragma omp parallel for schedule(static) num_threads(par_threads (par, (size_t) A->w * h))
  for (int y = 0; y < h; y++)
    par->row_acc[y] = grid_apply_row (A, y, p, q + (size_t) y * A->w);
  return sum_rows (par->row_acc, h);
}

/* One red–black Gauss–Seidel half-sweep: relax the points with
 * (x + y) % 2 == colour from their neighbours, which have the other colour.
 * (A branch-free interior measured no faster: the sweep is memory-bound.) */
static void
grid_half_sweep (const Grid *A, const Par *par, const double *b, double *xv, int colour)
{
  const int w = A->w, h = A->h;
  const float *wx = A->wx, *wy = A->wy;
#pragma omp parallel for schedule(static) num_threads(par_threads (par, (size_t) w * h))
  for (int y = 0; y < h; y++)
    {
      const size_t o = (size_t) y * w;
      for (int x = (y + colour) & 1; x < w; x += 2)
        {
          const size_t i = o + x;
          double d = 1.0, s = b[i];
          if (x + 1 < w)
            d += wx[i], s += wx[i] * xv[i + 1];
          if (x > 0)
            d += wx[i - 1], s += wx[i - 1] * xv[i - 1];
          if (y + 1 < h)
            d += wy[i], s += wy[i] * xv[i + w];
          if (y > 0)
            d += wy[i - w], s += wy[i - w] * xv[i - w];
          xv[i] = s / d;
        }
    }
}

/* r = b − A x. */
static void
grid_residual (const Grid *A, const Par *par, const double *b, const double *xv, double *r)
{
  const int w = A->w, h = A->h;
  grid_apply (A, par, xv, r);
#pragma omp parallel for schedule(static) num_threads(par_threads (par, (size_t) w * h))
  for (int y = 0; y < h; y++)
    for (size_t i = (size_t) y * w; i < (size_t) (y + 1) * w; i++)
      r[i] = b[i] - r[i];
}

/* ---- aggregation multigrid ---------------------------------------------- */

/* A graph level: "mass + graph Laplacian", (A x)_i = m_i x_i + Σ_j w_ij (x_i − x_j).
 * Level 0 is the grid; its graph form exists only while the hierarchy is
 * built (or as the coarsest level of a tiny image). */
typedef struct
{
  int     n;
  double *m;                   /* mass */
  int    *rp, *ci;             /* adjacency, CSR, no self loops */
  float  *cw;                  /* edge weights, ≥ 0, symmetric (float: halves the traffic) */
  double *d;                   /* diagonal: m + Σ weights */
  int     n_colours;
  int    *colour_ptr;          /* nodes are numbered colour by colour */
  int    *agg;                 /* aggregate of each node, −1: none (toward level + 1) */
  int    *mp, *mi;             /* members of each aggregate, CSR */
  double *x, *b, *r;           /* cycle work vectors */
  double *chol;                /* coarsest level: dense Cholesky factor, row-major */
} GLevel;

typedef struct
{
  int     n_levels;
  GLevel *g;                   /* g[0] describes the grid's aggregation */
  double *r0;                  /* grid residual */
  int     sweeps, coarse_sweeps;
} Amg;

static void
glevel_clear (GLevel *G)
{
  g_free (G->m);
  g_free (G->rp);
  g_free (G->ci);
  g_free (G->cw);
  g_free (G->d);
  g_free (G->colour_ptr);
  g_free (G->agg);
  g_free (G->mp);
  g_free (G->mi);
  g_free (G->x);
  g_free (G->b);
  g_free (G->r);
  g_free (G->chol);
}

static void
amg_free (Amg *a)
{
  if (!a)
    return;
  for (int l = 0; l < a->n_levels; l++)
    glevel_clear (&a->g[l]);
  g_free (a->g);
  g_free (a->r0);
  g_free (a);
}

static gboolean
graph_from_grid (const Grid *A, GLevel *G)
{
  const int w = A->w, h = A->h;
  const size_t n = (size_t) w * h;
  G->n = (int) n;
  G->m = g_try_new (double, n);
  G->rp = g_try_new (int, n + 1);
  G->ci = g_try_new (int, 4 * n);
  G->cw = g_try_new (float, 4 * n);
  if (!G->m || !G->rp || !G->ci || !G->cw)
    return FALSE;
  int k = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const int i = y * w + x;
        G->rp[i] = k;
        G->m[i] = 1.0;
        if (y > 0)
          G->ci[k] = i - w, G->cw[k++] = A->wy[i - w];
        if (x > 0)
          G->ci[k] = i - 1, G->cw[k++] = A->wx[i - 1];
        if (x + 1 < w)
          G->ci[k] = i + 1, G->cw[k++] = A->wx[i];
        if (y + 1 < h)
          G->ci[k] = i + w, G->cw[k++] = A->wy[i];
      }
  G->rp[n] = k;
  return TRUE;
}

/* Aggregates of strongly coupled nodes; returns how many.  j is a strong
 * neighbour of i when w_ij ≥ θ max_k w_ik.  A node whose couplings are all
 * negligible next to its mass is left out (smoothing alone solves for it;
 * on the coarse level its edges turn into mass).
 *  1. In index order, a node whose strong neighbours are all free starts an
 *     aggregate with them.
 *  2. A free node joins the aggregate (from step 1) of its strongest
 *     aggregated strong neighbour.
 *  3. A node still free starts an aggregate with its free strong neighbours.
 * Sequential and in a fixed order, hence deterministic. */
static int
aggregate (const GLevel *G, int *agg)
{
  const int n = G->n;
  g_autofree double *thr = g_new (double, n);
  for (int i = 0; i < n; i++)
    {
      double mx = 0.0;
      for (int k = G->rp[i]; k < G->rp[i + 1]; k++)
        mx = MAX (mx, G->cw[k]);
      thr[i] = mx <= MG_NEGLIGIBLE * G->m[i] ? G_MAXDOUBLE : MG_STRENGTH * mx;
      agg[i] = -1;
    }
#define STRONG(i, k) (G->cw[k] >= thr[i])
#define LEFT_OUT(i) (thr[i] == G_MAXDOUBLE)
  int na = 0;
  for (int i = 0; i < n; i++)
    {
      if (agg[i] >= 0 || LEFT_OUT (i))
        continue;
      gboolean free_nbrs = TRUE;
      for (int k = G->rp[i]; k < G->rp[i + 1] && free_nbrs; k++)
        if (STRONG (i, k) && agg[G->ci[k]] >= 0)
          free_nbrs = FALSE;
      if (!free_nbrs)
        continue;
      agg[i] = na;
      for (int k = G->rp[i]; k < G->rp[i + 1]; k++)
        if (STRONG (i, k))
          agg[G->ci[k]] = na;
      na++;
    }
  g_autofree int *first = g_memdup2 (agg, sizeof (int) * n);
  for (int i = 0; i < n; i++)
    {
      if (agg[i] >= 0 || LEFT_OUT (i))
        continue;
      double best = -1.0;
      for (int k = G->rp[i]; k < G->rp[i + 1]; k++)
        if (STRONG (i, k) && first[G->ci[k]] >= 0 && G->cw[k] > best)
          best = G->cw[k], agg[i] = first[G->ci[k]];
    }
  for (int i = 0; i < n; i++)
    {
      if (agg[i] >= 0 || LEFT_OUT (i))
        continue;
      agg[i] = na;
      for (int k = G->rp[i]; k < G->rp[i + 1]; k++)
        if (STRONG (i, k) && agg[G->ci[k]] < 0 && !LEFT_OUT (G->ci[k]))
          agg[G->ci[k]] = na;
      na++;
    }
#undef STRONG
#undef LEFT_OUT
  return na;
}

static void
aggregate_members (GLevel *F, int nc)
{
  F->mp = g_new0 (int, nc + 1);
  for (int i = 0; i < F->n; i++)
    if (F->agg[i] >= 0)
      F->mp[F->agg[i] + 1]++;
  for (int c = 0; c < nc; c++)
    F->mp[c + 1] += F->mp[c];
  F->mi = g_new (int, MAX (1, F->mp[nc]));
  g_autofree int *fill = g_memdup2 (F->mp, sizeof (int) * nc);
  for (int i = 0; i < F->n; i++)
    if (F->agg[i] >= 0)
      F->mi[fill[F->agg[i]]++] = i;
}

/* C = Pᵀ F P for piecewise-constant P.  Coarse mass = the members' masses
 * plus their edges to nodes left out of every aggregate; coarse edge = sum
 * of the fine edges between the two aggregates. */
static void
galerkin (const GLevel *F, GLevel *C, int nc)
{
  C->n = nc;
  C->m = g_new0 (double, nc);
  C->rp = g_new (int, nc + 1);
  g_autofree int *pos = g_new (int, nc);
  for (int c = 0; c < nc; c++)
    pos[c] = -1;
  GArray *ci = g_array_new (FALSE, FALSE, sizeof (int));
  GArray *cw = g_array_new (FALSE, FALSE, sizeof (double));   /* summed in double */
  for (int c = 0; c < nc; c++)
    {
      const guint row0 = ci->len;
      C->rp[c] = (int) row0;
      double mass = 0.0;
      for (int k = F->mp[c]; k < F->mp[c + 1]; k++)
        {
          const int i = F->mi[k];
          mass += F->m[i];
          for (int e = F->rp[i]; e < F->rp[i + 1]; e++)
            {
              const int J = F->agg[F->ci[e]];
              if (J == c)
                continue;
              if (J < 0)
                {
                  mass += F->cw[e];
                  continue;
                }
              if (pos[J] < 0)
                {
                  const double zero = 0.0;
                  pos[J] = (int) ci->len;
                  g_array_append_val (ci, J);
                  g_array_append_val (cw, zero);
                }
              g_array_index (cw, double, pos[J]) += F->cw[e];
            }
        }
      C->m[c] = mass;
      for (guint k = row0; k < ci->len; k++)
        pos[g_array_index (ci, int, k)] = -1;
    }
  C->rp[nc] = (int) ci->len;
  C->ci = (int *) g_array_free (ci, FALSE);
  C->cw = g_new (float, MAX (1u, cw->len));
  for (guint k = 0; k < cw->len; k++)
    C->cw[k] = (float) g_array_index (cw, double, k);
  g_array_free (cw, TRUE);
}

/* Colours coarse level @C greedily (neighbours never share a colour, so the
 * nodes of one colour can be relaxed in parallel) and renumbers its nodes
 * colour by colour, keeping their order within a colour: a colour's sweep
 * then streams through one contiguous block instead of touching the cache
 * lines of every node.  @F's aggregates are renumbered to match. */
static void
glevel_order_by_colour (GLevel *C, GLevel *F)
{
  const int n = C->n;
  g_autofree int *col = g_new (int, n);
  g_autofree int *seen = g_new (int, n + 1);
  for (int c = 0; c <= n; c++)
    seen[c] = -1;
  int nc = 0;
  for (int i = 0; i < n; i++)
    {
      for (int k = C->rp[i]; k < C->rp[i + 1]; k++)
        if (C->ci[k] < i)
          seen[col[C->ci[k]]] = i;
      int c = 0;
      while (seen[c] == i)
        c++;
      col[i] = c;
      nc = MAX (nc, c + 1);
    }
  C->n_colours = nc;
  C->colour_ptr = g_new0 (int, nc + 1);
  for (int i = 0; i < n; i++)
    C->colour_ptr[col[i] + 1]++;
  for (int c = 0; c < nc; c++)
    C->colour_ptr[c + 1] += C->colour_ptr[c];
  g_autofree int *fill = g_memdup2 (C->colour_ptr, sizeof (int) * nc);
  g_autofree int *order = g_new (int, n);     /* new → old */
  g_autofree int *inv = g_new (int, n);       /* old → new */
  for (int i = 0; i < n; i++)
    {
      inv[i] = fill[col[i]]++;
      order[inv[i]] = i;
    }

  double *m = g_new (double, n);
  int *rp = g_new (int, n + 1);
  int *ci = g_new (int, MAX (1, C->rp[n]));
  float *cw = g_new (float, MAX (1, C->rp[n]));
  int k = 0;
  for (int j = 0; j < n; j++)
    {
      const int i = order[j];
      m[j] = C->m[i];
      rp[j] = k;
      for (int e = C->rp[i]; e < C->rp[i + 1]; e++, k++)
        ci[k] = inv[C->ci[e]], cw[k] = C->cw[e];
    }
  rp[n] = k;
  g_free (C->m);
  g_free (C->rp);
  g_free (C->ci);
  g_free (C->cw);
  C->m = m, C->rp = rp, C->ci = ci, C->cw = cw;

  for (int i = 0; i < F->n; i++)
    if (F->agg[i] >= 0)
      F->agg[i] = inv[F->agg[i]];
  g_clear_pointer (&F->mp, g_free);
  g_clear_pointer (&F->mi, g_free);
  aggregate_members (F, n);
}

/* Diagonal and work vectors of a graph level. */
static void
glevel_finish (GLevel *G)
{
  const int n = G->n;
  G->d = g_new (double, n);
  for (int i = 0; i < n; i++)
    {
      double d = G->m[i];
      for (int k = G->rp[i]; k < G->rp[i + 1]; k++)
        d += G->cw[k];
      G->d[i] = d;
    }
  G->x = g_new0 (double, n);
  G->b = g_new0 (double, n);
  G->r = g_new0 (double, n);
}

static void
glevel_factor_dense (GLevel *G)
{
  const int n = G->n;
  double *L = G->chol = g_new0 (double, (size_t) n * n);
  for (int i = 0; i < n; i++)
    {
      L[(size_t) i * n + i] = G->d[i];
      for (int k = G->rp[i]; k < G->rp[i + 1]; k++)
        L[(size_t) i * n + G->ci[k]] = -G->cw[k];
    }
  for (int j = 0; j < n; j++)
    {
      double s = L[(size_t) j * n + j];
      for (int k = 0; k < j; k++)
        s -= L[(size_t) j * n + k] * L[(size_t) j * n + k];
      /* s ≥ the smallest mass > 0 in exact arithmetic (A is SPD). */
      const double ljj = sqrt (MAX (s, 1e-300));
      L[(size_t) j * n + j] = ljj;
      for (int i = j + 1; i < n; i++)
        {
          double t = L[(size_t) i * n + j];
          for (int k = 0; k < j; k++)
            t -= L[(size_t) i * n + k] * L[(size_t) j * n + k];
          L[(size_t) i * n + j] = t / ljj;
        }
    }
}

static void
glevel_solve_dense (const GLevel *G, const double *b, double *x)
{
  const int n = G->n;
  const double *L = G->chol;
  for (int i = 0; i < n; i++)
    {
      double s = b[i];
      for (int k = 0; k < i; k++)
        s -= L[(size_t) i * n + k] * x[k];
      x[i] = s / L[(size_t) i * n + i];
    }
  for (int i = n - 1; i >= 0; i--)
    {
      double s = x[i];
      for (int k = i + 1; k < n; k++)
        s -= L[(size_t) k * n + i] * x[k];
      x[i] = s / L[(size_t) i * n + i];
    }
}

static void
glevel_colour_sweep (const GLevel *G, const Par *par, const double *b, double *x, int c)
{
  const int lo = G->colour_ptr[c], hi = G->colour_ptr[c + 1];
#pragma omp parallel for schedule(static) num_threads(par_threads (par, (size_t) (hi - lo)))
  for (int i = lo; i < hi; i++)
    {
      double s = b[i];
      for (int e = G->rp[i]; e < G->rp[i + 1]; e++)
        s += G->cw[e] * x[G->ci[e]];
      x[i] = s / G->d[i];
    }
}

static void
glevel_residual (const GLevel *G, const Par *par, const double *b, const double *x, double *r)
{
#pragma omp parallel for schedule(static) num_threads(par_threads (par, (size_t) G->n))
  for (int i = 0; i < G->n; i++)
    {
      double s = b[i] - G->d[i] * x[i];
      for (int e = G->rp[i]; e < G->rp[i + 1]; e++)
        s += G->cw[e] * x[G->ci[e]];
      r[i] = s;
    }
}

/* One symmetric smoothing pass on level @l: forward colour order before the
 * coarse correction, reverse after it. */
static void
amg_smooth (const Amg *a, const Grid *A0, const Par *par, int l,
            const double *b, double *x, gboolean reverse)
{
  if (l == 0)
    {
      grid_half_sweep (A0, par, b, x, reverse ? 1 : 0);
      grid_half_sweep (A0, par, b, x, reverse ? 0 : 1);
      return;
    }
  const GLevel *G = &a->g[l];
  for (int k = 0; k < G->n_colours; k++)
    glevel_colour_sweep (G, par, b, x, reverse ? G->n_colours - 1 - k : k);
}

/* x = cycle(b) on level @l, from x = 0. */
static void
amg_cycle (const Amg *a, const Grid *A0, const Par *par, int l, const double *b, double *x)
{
  const GLevel *G = &a->g[l];
  const size_t n = l == 0 ? (size_t) A0->w * A0->h : (size_t) G->n;
  if (l == a->n_levels - 1)
    {
      if (G->chol)
        glevel_solve_dense (G, b, x);
      else
        {
          /* Coarsening stalled: the level is dominated by its diagonal
           * (mass), so a few symmetric sweeps stand in for a solve. */
          memset (x, 0, sizeof (double) * n);
          for (int s = 0; s < COARSEST_SWEEPS; s++)
            {
              amg_smooth (a, A0, par, l, b, x, FALSE);
              amg_smooth (a, A0, par, l, b, x, TRUE);
            }
        }
      return;
    }
  const GLevel *C = &a->g[l + 1];
  double *r = l == 0 ? a->r0 : G->r;
  memset (x, 0, sizeof (double) * n);
  const int sweeps = l == 0 ? a->sweeps : a->coarse_sweeps;
  for (int s = 0; s < sweeps; s++)
    amg_smooth (a, A0, par, l, b, x, FALSE);
  if (l == 0)
    grid_residual (A0, par, b, x, r);
  else
    glevel_residual (G, par, b, x, r);

  /* bc = Pᵀ r (gathered per aggregate), then x += P xc. */
#pragma omp parallel for schedule(static) num_threads(par_threads (par, n))
  for (int c = 0; c < C->n; c++)
    {
      double s = 0.0;
      for (int k = G->mp[c]; k < G->mp[c + 1]; k++)
        s += r[G->mi[k]];
      C->b[c] = s;
    }
  amg_cycle (a, A0, par, l + 1, C->b, C->x);
#pragma omp parallel for schedule(static) num_threads(par_threads (par, n))
  for (size_t i = 0; i < n; i++)
    if (G->agg[i] >= 0)
      x[i] += C->x[G->agg[i]];

  for (int s = 0; s < sweeps; s++)
    amg_smooth (a, A0, par, l, b, x, TRUE);
}

static Amg *
amg_new (const Grid *A0, int sweeps)
{
  Amg *a = g_new0 (Amg, 1);
  a->sweeps = sweeps;
  a->coarse_sweeps = MG_COARSE_SWEEPS;
  GArray *levels = g_array_new (FALSE, TRUE, sizeof (GLevel));
  GLevel g0 = { 0 };
  gboolean ok = graph_from_grid (A0, &g0);
  g_array_append_val (levels, g0);
  const size_t n0 = (size_t) A0->w * A0->h;
  ok = ok && (a->r0 = g_try_new (double, n0)) != NULL;
  while (ok)
    {
      GLevel *F = &g_array_index (levels, GLevel, levels->len - 1);
      if (F->n <= AMG_DENSE)
        break;
      F->agg = g_new (int, F->n);
      const int nc = aggregate (F, F->agg);
      if (nc == 0 || nc > MG_MIN_COARSENING * F->n)
        {
          g_clear_pointer (&F->agg, g_free);
          break;
        }
      aggregate_members (F, nc);
      GLevel C = { 0 };
      galerkin (F, &C, nc);
      glevel_order_by_colour (&C, F);
      g_array_append_val (levels, C);
    }
  a->n_levels = (int) levels->len;
  a->g = (GLevel *) g_array_free (levels, FALSE);
  if (!ok)
    {
      amg_free (a);
      return NULL;
    }
  for (int l = 1; l < a->n_levels; l++)
    glevel_finish (&a->g[l]);

  GLevel *last = &a->g[a->n_levels - 1];
  if (last->n <= AMG_DENSE)
    {
      if (a->n_levels == 1)
        glevel_finish (last);   /* a tiny image: the grid itself is solved directly */
      glevel_factor_dense (last);
    }
  /* The grid's graph form is not needed by the cycle, unless it is the
   * coarsest level and solved directly. */
  if (a->n_levels > 1 || !last->chol)
    {
      g_clear_pointer (&a->g[0].m, g_free);
      g_clear_pointer (&a->g[0].rp, g_free);
      g_clear_pointer (&a->g[0].ci, g_free);
      g_clear_pointer (&a->g[0].cw, g_free);
    }
  return a;
}

/* ---- incomplete Cholesky ------------------------------------------------ */

/* IC(0) pivots, strip by strip.  Inside a strip the matrix is A without the
 * couplings to other strips (its diagonal stays A's):
 *   d_i = a_ii − wx_l² / d_{i−1} − wy_u² / d_{i−W}.
 * Stored as 1 / d_i. */
static void
ic0_factor (const Grid *A, const Par *par, double *inv_pivot)
{
  const int w = A->w, h = A->h;
  const int n_strips = (h + IC0_STRIP - 1) / IC0_STRIP;
#pragma omp parallel for schedule(static) num_threads(par_threads (par, (size_t) w * h))
  for (int k = 0; k < n_strips; k++)
    {
      const int y0 = k * IC0_STRIP, y1 = MIN (h, y0 + IC0_STRIP);
      for (int y = y0; y < y1; y++)
        for (int x = 0; x < w; x++)
          {
            const size_t i = (size_t) y * w + x;
            const double diag = grid_diag (A, x, y);
            double d = diag;
            if (x > 0)
              d -= (double) A->wx[i - 1] * A->wx[i - 1] * inv_pivot[i - 1];
            if (y > y0)
              d -= (double) A->wy[i - w] * A->wy[i - w] * inv_pivot[i - w];
            /* IC(0) of this M-matrix keeps d_i ≥ 1; guard against rounding. */
            if (!(d > 1e-3 * diag))
              d = diag;
            inv_pivot[i] = 1.0 / d;
          }
    }
}

/* z = M⁻¹ r for M = (D + L) D⁻¹ (D + Lᵀ), strip by strip. */
static void
ic0_apply (const Grid *A, const Par *par, const double *inv_pivot, const double *r, double *z)
{
  const int w = A->w, h = A->h;
  const int n_strips = (h + IC0_STRIP - 1) / IC0_STRIP;
#pragma omp parallel for schedule(static) num_threads(par_threads (par, (size_t) w * h))
  for (int k = 0; k < n_strips; k++)
    {
      const int y0 = k * IC0_STRIP, y1 = MIN (h, y0 + IC0_STRIP);
      /* Forward: (D + L) t = r. */
      for (int y = y0; y < y1; y++)
        for (int x = 0; x < w; x++)
          {
            const size_t i = (size_t) y * w + x;
            double v = r[i];
            if (x > 0)
              v += A->wx[i - 1] * z[i - 1];
            if (y > y0)
              v += A->wy[i - w] * z[i - w];
            z[i] = v * inv_pivot[i];
          }
      /* Backward: (I + D⁻¹ Lᵀ) z = t. */
      for (int y = y1 - 1; y >= y0; y--)
        for (int x = w - 1; x >= 0; x--)
          {
            const size_t i = (size_t) y * w + x;
            double v = 0.0;
            if (x + 1 < w)
              v += A->wx[i] * z[i + 1];
            if (y + 1 < y1)
              v += A->wy[i] * z[i + w];
            z[i] += v * inv_pivot[i];
          }
    }
}

/* ---- the solver --------------------------------------------------------- */

struct _LisseSparseSolver
{
  LisseSolveOptions options;
  Par               par;
  Grid              grid;
  double           *diag_data;  /* JACOBI: 1 / a_ii;  IC0: 1 / d_i */
  Amg              *amg;        /* MULTIGRID */
  double           *x, *r, *z, *p, *q;
};

void
lisse_solve_options_init (LisseSolveOptions *options)
{
  options->tolerance = 1e-5;
  options->max_iterations = 2000;
  options->precond = LISSE_PRECOND_MULTIGRID;
}

void
lisse_sparse_solver_free (LisseSparseSolver *s)
{
  if (!s)
    return;
  amg_free (s->amg);
  g_free (s->diag_data);
  g_free (s->grid.zeros);
  g_free (s->x);
  g_free (s->r);
  g_free (s->z);
  g_free (s->p);
  g_free (s->q);
  g_free (s->par.row_acc);
  g_free (s);
}

static void
precond_apply (LisseSparseSolver *s, const double *r, double *z)
{
  const Grid *A = &s->grid;
  const size_t n = (size_t) A->w * A->h;
  switch (s->options.precond)
    {
    case LISSE_PRECOND_NONE:
      memcpy (z, r, sizeof (double) * n);
      break;
    case LISSE_PRECOND_JACOBI:
#pragma omp parallel for schedule(static) num_threads(par_threads (&s->par, n))
      for (int y = 0; y < A->h; y++)
        for (size_t i = (size_t) y * A->w; i < (size_t) (y + 1) * A->w; i++)
          z[i] = r[i] * s->diag_data[i];
      break;
    case LISSE_PRECOND_IC0:
      ic0_apply (A, &s->par, s->diag_data, r, z);
      break;
    case LISSE_PRECOND_MULTIGRID:
      amg_cycle (s->amg, A, &s->par, 0, r, z);
      break;
    }
}

static gboolean
weight_ok (float v)
{
  return v >= 0.0f && v <= G_MAXFLOAT;   /* false for NaN and ±inf */
}

LisseSparseSolver *
lisse_sparse_solver_new (int                      w,
                         int                      h,
                         const float             *wx,
                         const float             *wy,
                         const LisseSolveOptions *options,
                         GError                 **error)
{
  /* Node indices are int in the multigrid hierarchy. */
  if (w < 1 || h < 1 || (gint64) w * h > G_MAXINT / 4)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "sparse solver: grid size %d×%d is not supported", w, h);
      return NULL;
    }
  if (options && (!(options->tolerance > 0.0) || options->max_iterations < 0
                  || options->precond < LISSE_PRECOND_NONE
                  || options->precond > LISSE_PRECOND_MULTIGRID))
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                   "sparse solver: bad options (tolerance %g, %d iterations, preconditioner %d)",
                   options->tolerance, options->max_iterations, (int) options->precond);
      return NULL;
    }
  /* Only edges that exist matter; the unused column and row may hold anything. */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const size_t i = (size_t) y * w + x;
        gboolean bad_x = x + 1 < w && !weight_ok (wx[i]);
        gboolean bad_y = y + 1 < h && !weight_ok (wy[i]);
        if (bad_x || bad_y)
          {
            g_set_error (error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                         "sparse solver: edge weight at (%d, %d) is %g; weights must be finite and ≥ 0",
                         x, y, (double) (bad_x ? wx[i] : wy[i]));
            return NULL;
          }
      }

  const size_t n = (size_t) w * h;
  LisseSparseSolver *s = g_new0 (LisseSparseSolver, 1);
  if (options)
    s->options = *options;
  else
    lisse_solve_options_init (&s->options);
  s->par.n_threads = lisse_threads_get ();
  s->par.row_acc = g_try_new0 (double, h);
  s->grid = (Grid) { .w = w, .h = h, .wx = wx, .wy = wy, .zeros = g_try_new0 (float, w) };
  s->x = g_try_new (double, n);
  s->r = g_try_new (double, n);
  s->z = g_try_new (double, n);
  s->p = g_try_new (double, n);
  s->q = g_try_new (double, n);
  gboolean ok = s->par.row_acc && s->grid.zeros && s->x && s->r && s->z && s->p && s->q;

  if (ok && s->options.precond == LISSE_PRECOND_JACOBI)
    {
      ok = (s->diag_data = g_try_new (double, n)) != NULL;
      for (int y = 0; ok && y < h; y++)
        for (int x = 0; x < w; x++)
          s->diag_data[(size_t) y * w + x] = 1.0 / grid_diag (&s->grid, x, y);
    }
  if (ok && s->options.precond == LISSE_PRECOND_IC0)
    {
      ok = (s->diag_data = g_try_new (double, n)) != NULL;
      if (ok)
        ic0_factor (&s->grid, &s->par, s->diag_data);
    }
  if (ok && s->options.precond == LISSE_PRECOND_MULTIGRID)
    ok = (s->amg = amg_new (&s->grid, MG_SWEEPS)) != NULL;
  if (!ok)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_OUT_OF_MEMORY,
                   "sparse solver: out of memory for a %d×%d system", w, h);
      lisse_sparse_solver_free (s);
      return NULL;
    }
  return s;
}

/* ‖f − A v‖₂, using the solver's q as scratch. */
static double
residual_norm (LisseSparseSolver *s, const float *f, const double *v)
{
  const Grid *A = &s->grid;
  const int w = A->w, h = A->h;
  double *q = s->q, *acc = s->par.row_acc;
  grid_apply (A, &s->par, v, q);
#pragma omp parallel for schedule(static) num_threads(par_threads (&s->par, (size_t) w * h))
  for (int y = 0; y < h; y++)
    {
      double rr = 0.0;
      for (size_t i = (size_t) y * w; i < (size_t) (y + 1) * w; i++)
        rr += (f[i] - q[i]) * (f[i] - q[i]);
      acc[y] = rr;
    }
  return sqrt (sum_rows (acc, h));
}

/* Rough fraction done from the residual: log(r₀/r) / log(r₀/target). */
static double
solve_fraction (double rnorm, double r0, double target)
{
  if (rnorm <= target || r0 <= target)
    return 1.0;
  return CLAMP (log (r0 / rnorm) / log (r0 / target), 0.0, 1.0);
}

gboolean
lisse_sparse_solver_solve (LisseSparseSolver   *s,
                           const float         *f,
                           float               *u,
                           const LisseProgress *progress,
                           LisseSolveStats     *stats,
                           GError             **error)
{
  const Grid *A = &s->grid;
  const int w = A->w, h = A->h;
  const size_t n = (size_t) w * h;
  const int nt = par_threads (&s->par, n);
  double *x = s->x, *r = s->r, *z = s->z, *p = s->p, *q = s->q;
  double *acc = s->par.row_acc;
  LisseSolveStats st = { .iterations = 0, .converged = TRUE };

  /* x = u and ‖f‖². */
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int y = 0; y < h; y++)
    {
      double ff = 0.0;
      for (size_t i = (size_t) y * w; i < (size_t) (y + 1) * w; i++)
        {
          x[i] = u[i];
          ff += (double) f[i] * f[i];
        }
      acc[y] = ff;
    }
  const double fnorm = sqrt (sum_rows (acc, h));
  if (fnorm == 0.0)
    {
      /* A is non-singular, so f = 0 has the solution 0. */
      memset (u, 0, sizeof (float) * n);
      if (stats)
        *stats = st;
      return TRUE;
    }
  const double target = s->options.tolerance * fnorm;

  /* r = f − A x. */
  grid_apply (A, &s->par, x, q);
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int y = 0; y < h; y++)
    {
      double rr = 0.0;
      for (size_t i = (size_t) y * w; i < (size_t) (y + 1) * w; i++)
        {
          r[i] = f[i] - q[i];
          rr += r[i] * r[i];
        }
      acc[y] = rr;
    }
  double rnorm = sqrt (sum_rows (acc, h));
  const double r0 = rnorm;
  double done = 0.0;

  if (rnorm > target)
    {
      st.converged = FALSE;
      precond_apply (s, r, z);
#pragma omp parallel for schedule(static) num_threads(nt)
      for (int y = 0; y < h; y++)
        {
          double a = 0.0;
          for (size_t i = (size_t) y * w; i < (size_t) (y + 1) * w; i++)
            {
              p[i] = z[i];
              a += r[i] * z[i];
            }
          acc[y] = a;
        }
      double rz = sum_rows (acc, h);

      for (int k = 1; k <= s->options.max_iterations; k++)
        {
          const double pq = grid_apply (A, &s->par, p, q);
          if (!(pq > 0.0) || !isfinite (pq) || !(rz > 0.0))
            break;   /* breakdown: only from rounding, at a residual already ~0 */
          const double alpha = rz / pq;
#pragma omp parallel for schedule(static) num_threads(nt)
          for (int y = 0; y < h; y++)
            {
              double rr = 0.0;
              for (size_t i = (size_t) y * w; i < (size_t) (y + 1) * w; i++)
                {
                  x[i] += alpha * p[i];
                  r[i] -= alpha * q[i];
                  rr += r[i] * r[i];
                }
              acc[y] = rr;
            }
          rnorm = sqrt (sum_rows (acc, h));
          st.iterations = k;
          if (rnorm <= target)
            {
              st.converged = TRUE;
              break;
            }
          /* CG's residual is not monotone; the reported fraction is. */
          done = MAX (done, solve_fraction (rnorm, r0, target));
          if (k % PROGRESS_EVERY == 0 && !lisse_progress_report (progress, done, error))
            return FALSE;

          precond_apply (s, r, z);
#pragma omp parallel for schedule(static) num_threads(nt)
          for (int y = 0; y < h; y++)
            {
              double a = 0.0;
              for (size_t i = (size_t) y * w; i < (size_t) (y + 1) * w; i++)
                a += r[i] * z[i];
              acc[y] = a;
            }
          const double rz_new = sum_rows (acc, h);
          const double beta = rz_new / rz;
          rz = rz_new;
#pragma omp parallel for schedule(static) num_threads(nt)
          for (int y = 0; y < h; y++)
            for (size_t i = (size_t) y * w; i < (size_t) (y + 1) * w; i++)
              p[i] = z[i] + beta * p[i];
        }
    }

  if (stats)   /* the true residual of the double iterate, not the recursive one */
    st.rel_residual_double = residual_norm (s, f, x) / fnorm;
  for (size_t i = 0; i < n; i++)
    u[i] = (float) x[i];
  if (stats)
    {
      /* ... and of the float answer (x is free now). */
      for (size_t i = 0; i < n; i++)
        x[i] = u[i];
      st.rel_residual = residual_norm (s, f, x) / fnorm;
      *stats = st;
    }
  return TRUE;
}

void
lisse_sparse_apply (int w, int h, const float *wx, const float *wy,
                    const double *x, double *y)
{
  g_autofree float *zeros = g_new0 (float, w);
  const Grid A = { .w = w, .h = h, .wx = wx, .wy = wy, .zeros = zeros };
  for (int row = 0; row < h; row++)
    grid_apply_row (&A, row, x, y + (size_t) row * w);
}

double
lisse_sparse_relative_residual (int          w,
                                int          h,
                                const float *wx,
                                const float *wy,
                                const float *f,
                                const float *u)
{
  const size_t n = (size_t) w * h;
  g_autofree double *x = g_new (double, n);
  g_autofree double *y = g_new (double, n);
  for (size_t i = 0; i < n; i++)
    x[i] = u[i];
  lisse_sparse_apply (w, h, wx, wy, x, y);
  double rr = 0.0, ff = 0.0;
  for (size_t i = 0; i < n; i++)
    {
      double d = f[i] - y[i];
      rr += d * d;
      ff += (double) f[i] * f[i];
    }
  return ff > 0.0 ? sqrt (rr / ff) : sqrt (rr);
}
