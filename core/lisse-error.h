/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One error domain for the engine; messages are written for the user
 * ("model file is truncated: …"), codes for programs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LISSE_ERROR (lisse_error_quark ())
GQuark lisse_error_quark (void);

typedef enum
{
  LISSE_ERROR_INVALID_ARGUMENT,   /* a parameter out of range, shapes that disagree */
  LISSE_ERROR_BAD_MODEL,          /* a model file that is malformed or not for this network */
  LISSE_ERROR_BAD_IMAGE,          /* an image the engine cannot take */
  LISSE_ERROR_IO,                 /* reading or writing a file failed */
  LISSE_ERROR_OUT_OF_MEMORY,
  LISSE_ERROR_CANCELLED,
  LISSE_ERROR_UNKNOWN_NAME,       /* no such model, filter or parameter */
} LisseErrorCode;

/* Sets @error (domain LISSE_ERROR) from a printf format and returns FALSE,
 * so a check reads `return lisse_fail (error, CODE, "…", …);`. */
gboolean lisse_fail (GError **error, LisseErrorCode code, const char *format, ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
