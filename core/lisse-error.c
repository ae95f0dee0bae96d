/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "lisse-error.h"

G_DEFINE_QUARK (lisse-error-quark, lisse_error)
