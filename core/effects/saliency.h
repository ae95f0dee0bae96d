/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Frequency-tuned saliency (Achanta, Hemami, Estrada, Süsstrunk, CVPR
 * 2009): how far each pixel's slightly blurred CIELAB colour is from the
 * image's mean colour.  Cheap, deterministic and good enough as the
 * automatic mask of Content-Aware Smoothing and the GIMP dialog's mask
 * suggestion. */
#pragma once

#include "tensor.h"

#include <glib.h>

G_BEGIN_DECLS

/* @image: 1×C×H×W, C = 1..4, non-linear sRGB in [0,1] (alpha ignored; gray
 * is taken as R'=G'=B').  Returns a new 1×1×H×W map in [0,1] (divided by
 * its maximum; all zeros for a uniform image), or NULL with @error set. */
LisseTensor *lisse_saliency_frequency_tuned (const LisseTensor *image, GError **error);

/* The soft foreground mask Content-Aware Smoothing uses when it is given
 * none: the frequency-tuned saliency S through a smooth step around
 * Achanta et al.'s adaptive threshold t = 2·mean(S),
 *   m = smoothstep(t/2, 3t/2, S)   (t capped at 2/3, so the step ends by 1),
 * 1×1×H×W in [0,1]; a uniform image gives all zeros. */
LisseTensor *lisse_saliency_auto_mask       (const LisseTensor *image, GError **error);

G_END_DECLS
