/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * N_(): marks a registry string (an effect's or filter's title, a
 * parameter's label and blurb, a choice's label) for xgettext without
 * translating it.  The core stays free of gettext: the GIMP plug-in and the
 * GEGL operations translate these strings at run time in the "lisse" domain
 * (po/).  The spelling matches <glib/gi18n-lib.h>, so a file including both
 * sees one identical definition. */
#pragma once

#ifndef N_
#define N_(String) (String)
#endif
