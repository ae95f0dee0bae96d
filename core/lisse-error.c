/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "lisse-error.h"

#include <stdarg.h>

G_DEFINE_QUARK (lisse-error-quark, lisse_error)

gboolean
lisse_fail (GError **error, LisseErrorCode code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, LISSE_ERROR, code, message);
  g_free (message);
  return FALSE;
}
