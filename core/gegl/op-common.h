/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the classical-filter ops (filter-ops.c) and the effect ops
 * (effect-ops.c) share: both work on the whole input at once, in
 * "R'G'B'A float", at GEGL's mipmap level, pass their input through with a
 * warning when the engine fails, and forward its progress to the node. */
#pragma once

#include <gegl-plugin.h>

#include "params.h"
#include "tensor.h"

G_BEGIN_DECLS

/* A parameter's property (set when the node is built, as gegl-op.h's
 * are): an int or a double by @spec->integer, @spec's range and default,
 * the slider over [@ui_min, @ui_max] with @ui_gamma, its steps a 100th and
 * a 10th of that, and decimals enough for the smallest likely value. */
GParamSpec *lisse_op_param_pspec (const LisseParamSpec *spec, const char *nick,
                                  const char *blurb, double ui_min, double ui_max,
                                  double ui_gamma);

/* A parameter property's value as a double, and back (rounded for an int). */
double lisse_op_value_get_number (const GValue *value);
void   lisse_op_value_set_number (GValue *value, double v);

/* Sets "input" and "output" to "Y'A float" when the input's source is gray
 * (one colour component) and to "R'G'B'A float" otherwise, in the input's
 * space: a gray layer then takes the engine's gray path, as the plug-in
 * and the command line run it, instead of R = G = B through a network. */
void lisse_op_set_formats (GeglOperation *operation);

/* Makes the class's regions the whole input: the bounding box is the
 * input's (a layer never grows, and an aux pad larger than the layer must
 * not grow it), and required-for-output (on every pad), the cached region
 * and the region invalidated by any change are that box, or the rectangle
 * asked for when the input is unbounded. */
void lisse_op_class_use_whole_input (GeglOperationClass *operation_class);

/* Runs the engine on @pixels (interleaved, @nc floats a pixel — Y'A or
 * R'G'B'A — over @rect, in mipmap @level's coordinates) in place; FALSE
 * with @error set when it fails, @pixels then unchanged. */
typedef gboolean (*LisseOpRunFunc) (GeglOperation *operation, float *pixels, int nc,
                                    const GeglRectangle *rect, int level,
                                    gpointer user_data, GError **error);

/* A process function's body: reads @input over @roi at @level, hands the
 * pixels to @run and writes them to @output.  When @run fails (or the
 * pixels do not fit in memory) it logs a g_warning naming @op_name and the
 * reason, and the input is passed through unchanged: GEGL has no way to
 * hand a GError to GIMP. */
gboolean lisse_op_process_pixels (GeglOperation *operation, const char *op_name,
                                  GeglBuffer *input, GeglBuffer *output,
                                  const GeglRectangle *roi, int level,
                                  LisseOpRunFunc run, gpointer user_data);

/* Whether the op can run on a @width × @height image of @nc channels (the
 * mipmap level already applied): FALSE with a one-line @error when the run
 * would not fit the memory budget (memory-budget.h). */
typedef gboolean (*LisseOpFitsFunc) (GeglOperation *operation, int width, int height, int nc,
                                     GError **error);

/* The parent's GeglOperationClass.process, which the body below chains up to. */
typedef gboolean (*LisseOpClassProcess) (GeglOperation *operation, GeglOperationContext *context,
                                         const gchar *output_pad, const GeglRectangle *roi,
                                         gint level);

/* A GeglOperationClass.process body: asks @fits with the size the run
 * would have, before anything image-sized is allocated or converted.  When
 * it says no, logs a g_warning naming @op_name and the reason and hands the
 * input buffer itself on as the output (nothing is copied: a 30000×30000
 * layer costs no second buffer), as GEGL's own ops pass through.  Else
 * chains up to @parent_process. */
gboolean lisse_op_process_if_fits (GeglOperation *operation, GeglOperationContext *context,
                                   const gchar *output_pad, const GeglRectangle *roi,
                                   gint level, const char *op_name, LisseOpFitsFunc fits,
                                   LisseOpClassProcess parent_process);

/* A LisseProgress callback's data: forwards the engine's progress to the
 * node's "progress" signal with @message, at most once per percent. */
typedef struct
{
  GeglOperation *operation;
  const char    *message;
  double         last;
} LisseOpProgress;

/* The LisseProgress callback for a LisseOpProgress.  GEGL has no way to
 * cancel a running process, so it never asks the engine to stop. */
gboolean lisse_op_progress (double fraction, gpointer user_data);

G_END_DECLS
