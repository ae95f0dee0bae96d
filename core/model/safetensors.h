/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A reader for safetensors files, the format Lisse's model weights ship in.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON,
 * then the data section.  The JSON object maps each tensor name to
 *   {"dtype": "F32", "shape": [64, 3, 3, 3], "data_offsets": [begin, end]}
 * (offsets relative to the start of the data section) and may hold one
 * "__metadata__" object of string → string.
 *
 * Model files are untrusted input (downloaded, shared, hand-edited), so
 * opening one checks everything before anything is read through it, and
 * refuses what it cannot vouch for with a LISSE_ERROR_BAD_MODEL GError whose
 * message is one line naming the problem:
 *   - the header: a file shorter than 8 bytes, a header length beyond the
 *     file or beyond LISSE_SAFETENSORS_MAX_HEADER, a header that is not
 *     UTF-8, not strict RFC 8259 JSON (json-glib alone also takes comments,
 *     single quotes, hex and wrapped-around integers, "{}{}"; a strict pass
 *     runs first so that we read files exactly as other readers do), nests
 *     deeper than LISSE_SAFETENSORS_MAX_DEPTH, holds a "\u0000" escape, a
 *     duplicate key anywhere, or whose top level is not an object;
 *   - each entry: not an object, lacking or mistyping "dtype", "shape" or
 *     "data_offsets" (unknown extra keys are ignored, as other readers do),
 *     a dtype other than F32, F16, BF16 and F64, a rank above
 *     LISSE_SAFETENSORS_MAX_RANK, a dimension that is negative, not an
 *     integer or above G_MAXINT32, more than LISSE_SAFETENSORS_MAX_ELEMENTS
 *     elements, offsets that are reversed, that end beyond the data section,
 *     or that span other than elements × dtype size bytes;
 *   - the data section as a whole: the safetensors specification requires
 *     the tensors to cover it exactly, so overlapping tensors, holes between
 *     tensors and trailing bytes after the last one are all refused;
 *   - "__metadata__" that is not an object of strings.
 * Nothing outside the file's bytes is ever read, whatever the input.  (As
 * with any memory-mapped file, truncating the file on disk while it is open
 * makes later reads of the lost pages fault; model files are not expected
 * to change under a running filter.)
 *
 * F64 is accepted (numpy's default dtype) and rounded to float32; values
 * beyond float range become ±infinity.  Non-finite weights are not this
 * reader's business: it reports what the file holds.
 */
#pragma once

#include "tensor.h"

#include <glib.h>

G_BEGIN_DECLS

/* The reference implementation's cap; real headers are a few kilobytes. */
#define LISSE_SAFETENSORS_MAX_HEADER   100000000
/* A valid header nests three deep ({ name: { shape: [ ] } }). */
#define LISSE_SAFETENSORS_MAX_DEPTH    32
#define LISSE_SAFETENSORS_MAX_RANK     8
/* Largest element count of one tensor: LisseTensor sizes are ints. */
#define LISSE_SAFETENSORS_MAX_ELEMENTS G_MAXINT32

typedef enum
{
  LISSE_DTYPE_F32,
  LISSE_DTYPE_F16,
  LISSE_DTYPE_BF16,
  LISSE_DTYPE_F64,
} LisseDtype;

typedef struct _LisseSafetensors LisseSafetensors;

typedef struct
{
  const char    *name;
  LisseDtype     dtype;
  int            rank;                               /* 0 … MAX_RANK */
  int            shape[LISSE_SAFETENSORS_MAX_RANK];  /* shape[0 … rank-1] */
  gsize          n_elements;                         /* product of shape (1 for rank 0) */
  guint64        begin, end;                         /* byte offsets in the data section */
  const guint8  *data;                               /* first byte, inside the file */
} LisseSafetensorsEntry;

/* Maps @path read-only.  I/O failures are LISSE_ERROR_IO; malformed files
 * LISSE_ERROR_BAD_MODEL.  Messages start with the file's name. */
LisseSafetensors *lisse_safetensors_open       (const char *path, GError **error);
/* Parses @bytes (a reference is kept; the bytes must stay unmodified). */
LisseSafetensors *lisse_safetensors_open_bytes (GBytes *bytes, GError **error);
void              lisse_safetensors_free       (LisseSafetensors *st);

/* NULL if absent. */
const char               *lisse_safetensors_get_metadata      (const LisseSafetensors *st,
                                                               const char *key);
/* Sorted (strcmp), NULL-terminated, owned by @st. */
const char * const       *lisse_safetensors_get_metadata_keys (const LisseSafetensors *st);
const char * const       *lisse_safetensors_get_names         (const LisseSafetensors *st);
guint                     lisse_safetensors_get_n_tensors     (const LisseSafetensors *st);
/* NULL if absent; owned by @st. */
const LisseSafetensorsEntry *lisse_safetensors_lookup         (const LisseSafetensors *st,
                                                               const char *name);

/* The tensor @name as NCHW float32.
 *
 * Shape rule: the file's shape is a prefix of NCHW, padded on the RIGHT
 * with 1s — rank 4 [a,b,c,d] → a×b×c×d (a conv weight OIHW: n = out, c = in);
 * rank 3 [a,b,c] → a×b×c×1; rank 2 [a,b] → a×b×1×1 (a linear weight
 * [out,in] reads as a 1×1 conv weight); rank 1 [k] → k×1×1×1 (a bias or
 * batch-norm vector lines up with the n of its layer's weight);
 * rank 0 (a scalar) → 1×1×1×1.  Padding on the right leaves the row-major
 * byte layout unchanged, so the data is used as it lies.  Ranks above 4 and
 * tensors with no elements are refused (LISSE_ERROR_BAD_MODEL).
 *
 * F32 data that is 4-byte aligned (on a little-endian host) is returned as a
 * view into the file (owns_data == FALSE): zero copies, but READ-ONLY — the
 * mapping is read-only, writing through it faults — and valid only while
 * @st lives.  Anything else (F16, BF16, F64, unaligned F32) is converted into
 * a fresh tensor the caller owns.  Copy with lisse_tensor_copy() to modify.
 * An unknown @name is LISSE_ERROR_BAD_MODEL ("model file lacks tensor …"). */
LisseTensor *lisse_safetensors_get_tensor (const LisseSafetensors *st,
                                           const char *name, GError **error);
/* The NCHW sizes get_tensor() would give, or FALSE for rank > 4 / empty. */
gboolean     lisse_safetensors_entry_nchw (const LisseSafetensorsEntry *entry,
                                           int nchw[4]);

const char  *lisse_dtype_name             (LisseDtype dtype);   /* "F32" */
gsize        lisse_dtype_size             (LisseDtype dtype);   /* bytes */
/* @name in single quotes for a one-line message: control characters as
 * \xNN, cut after 80 characters.  @name must be valid UTF-8 (names from an
 * opened file are).  g_free() it. */
char        *lisse_safetensors_quote_name (const char *name);
/* "[64,3,3,3]" ("[]" for a scalar, "?" for a negative size); g_free() it. */
char        *lisse_safetensors_format_shape (const int *shape, int rank);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LisseSafetensors, lisse_safetensors_free)

G_END_DECLS
