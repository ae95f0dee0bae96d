/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A model: a safetensors file checked against what a network expects, and
 * where model files are found.
 *
 * Search path: the directories of $LISSE_MODEL_PATH (separated by ':', ';'
 * on Windows — G_SEARCHPATH_SEPARATOR), in order, then LISSE_MODELDIR, set
 * at build time.  A model "NAME" is the file NAME.safetensors in the first
 * directory that has one.
 */
#pragma once

#include "params.h"
#include "safetensors.h"

#include <glib.h>

G_BEGIN_DECLS

#ifndef LISSE_MODELDIR
#define LISSE_MODELDIR "/usr/local/share/lisse/models"
#endif

#define LISSE_MODEL_SUFFIX ".safetensors"

/* One tensor a network expects.  The file's tensor must have exactly @rank
 * dimensions (0 … 4, in the file's own terms, before the NCHW mapping of
 * lisse_safetensors_get_tensor()); dims[i] == -1 takes any size. */
typedef struct
{
  const char *name;
  int         rank;
  int         dims[4];
} LisseTensorSpec;

/* TRUE when @st holds exactly the tensors of @specs with matching shapes.
 * Otherwise LISSE_ERROR_BAD_MODEL with the first problem, specs in order
 * first, then extra tensors in name order:
 *   "model file lacks tensor 'x.weight'"
 *   "tensor 'x' has shape [3,3] but the network expects [64,3,3,3]"
 *   "unexpected tensor 'foo' in model file" */
gboolean    lisse_model_check_tensors       (const LisseSafetensors *st,
                                             const LisseTensorSpec  *specs,
                                             int                     n_specs,
                                             GError                **error);

/* Metadata values, strictly parsed (no surrounding spaces, the whole string
 * a number).  LISSE_ERROR_BAD_MODEL: "metadata 'k' is missing",
 * "metadata 'k' is not an integer ('abc')", "… is not a number …",
 * "… is out of range …". */
const char *lisse_model_get_metadata_string (const LisseSafetensors *st,
                                             const char *key, GError **error);
gboolean    lisse_model_get_metadata_int    (const LisseSafetensors *st,
                                             const char *key, int *value,
                                             GError **error);
/* Finite values only. */
gboolean    lisse_model_get_metadata_double (const LisseSafetensors *st,
                                             const char *key, double *value,
                                             GError **error);

/* A required whole-number metadata entry within [lo, hi]; errors are one
 * line prefixed "OWNER: " ("OWNER: metadata 'k' = 7 is out of range [1, 4]"). */
gboolean    lisse_model_get_metadata_int_in (const LisseSafetensors *st, const char *owner,
                                             const char *key, int lo, int hi, int *value,
                                             GError **error);
/* A metadata entry that, when present, must say exactly @expected: a file
 * made for another variant (other conditioning, colour encoding, depth)
 * must not run as if it were this one.  LISSE_ERROR_BAD_MODEL:
 * "OWNER: metadata 'k' is 'v'; this network needs 'expected'" (the value
 * shown cut to 40 printable characters). */
gboolean    lisse_model_check_metadata_value (const LisseSafetensors *st, const char *owner,
                                              const char *key, const char *expected,
                                              GError **error);
/* A "params" metadata text: a JSON list of exactly @n_specs entries
 * {"name", "min", "max", "default"}, named as @specs in order, each with
 * 0 < min ≤ default ≤ max ≤ @limit; unknown members are ignored.  Sets the
 * ranges and defaults of @specs.  LISSE_ERROR_BAD_MODEL with one line,
 * prefixed "OWNER: metadata 'params'". */
gboolean    lisse_model_parse_param_ranges  (const char *text, const char *owner,
                                             LisseParamSpec *specs, int n_specs,
                                             double limit, GError **error);

/* The directories searched, in order; g_strfreev() it. */
char      **lisse_model_search_path         (void);

/* A path for @name_or_path:
 *  - with a directory separator ("./m", "/usr/…/m.safetensors"): that file,
 *    which must exist;
 *  - ending in ".safetensors" and naming an existing file: that file;
 *  - otherwise a model name: NAME.safetensors (NAME as given if it already
 *    ends in .safetensors) from the first search-path directory that has it.
 *    A bare word never picks up a stray file of that name in the current
 *    directory.
 * LISSE_ERROR_UNKNOWN_NAME otherwise:
 *   "no model named 'x' (searched: /a:/b)", "model file '/p/x' does not exist".
 * g_free() it. */
char       *lisse_model_resolve             (const char *name_or_path,
                                             GError **error);

typedef struct
{
  char *name;   /* file name less ".safetensors" */
  char *path;
} LisseModelInfo;

void        lisse_model_info_free           (LisseModelInfo *info);
/* Every *.safetensors in the search path, the first of each name only,
 * sorted by name; a GPtrArray of LisseModelInfo, g_ptr_array_unref() it. */
GPtrArray  *lisse_model_list                (void);

/* A resolved, opened and (when @specs is not NULL) checked model file. */
typedef struct
{
  char             *name;   /* display name: the file's base name less .safetensors */
  char             *path;
  LisseSafetensors *st;
} LisseModel;

LisseModel *lisse_model_open                (const char             *name_or_path,
                                             const LisseTensorSpec  *specs,
                                             int                     n_specs,
                                             GError                **error);
void        lisse_model_free                (LisseModel *model);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LisseModel, lisse_model_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LisseModelInfo, lisse_model_info_free)

G_END_DECLS
