/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The safetensors reader and model discovery: valid files read back exactly,
 * and every kind of broken file refused with LISSE_ERROR_BAD_MODEL and a
 * message that names the problem — never a crash.  Files are built in
 * memory here, so the test needs no fixtures. */
#include "safetensors.h"
#include "model.h"
#include "lisse-error.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Building files                                                           */

/* 8-byte little-endian length, @header, @data. */
static GBytes *
make_file (const char *header, gsize header_len, const void *data, gsize data_len)
{
  gsize size = 8 + header_len + data_len;
  guint8 *buf = g_malloc (size);
  guint64 len = GUINT64_TO_LE ((guint64) header_len);
  memcpy (buf, &len, 8);
  memcpy (buf + 8, header, header_len);
  if (data_len)
    memcpy (buf + 8 + header_len, data, data_len);
  return g_bytes_new_take (buf, size);
}

static GBytes *
make_file_str (const char *header, gsize data_len)
{
  guint8 *zeros = g_malloc0 (data_len + 1);
  GBytes *b = make_file (header, strlen (header), zeros, data_len);
  g_free (zeros);
  return b;
}

typedef struct
{
  const char *name;
  const char *dtype;
  int         rank;
  int         shape[8];
  const void *data;
  gsize       nbytes;
} TestTensor;

/* A valid file: tensors laid out back to back in the order given, the header
 * padded with spaces to @pad_to bytes (0: to a multiple of 8, which aligns
 * the data section). */
static GBytes *
make_valid (const char * const *metadata, const TestTensor *tensors, int n, gsize pad_to)
{
  GString *h = g_string_new ("{");
  if (metadata && metadata[0])
    {
      g_string_append (h, "\"__metadata__\":{");
      for (int i = 0; metadata[i]; i += 2)
        g_string_append_printf (h, "%s\"%s\":\"%s\"", i ? "," : "", metadata[i], metadata[i + 1]);
      g_string_append (h, "}");
    }
  GByteArray *data = g_byte_array_new ();
  for (int i = 0; i < n; i++)
    {
      const TestTensor *t = &tensors[i];
      if (h->len > 1)
        g_string_append_c (h, ',');
      g_string_append_printf (h, "\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
      for (int d = 0; d < t->rank; d++)
        g_string_append_printf (h, "%s%d", d ? "," : "", t->shape[d]);
      g_string_append_printf (h, "],\"data_offsets\":[%u,%u]}", data->len,
                              (guint) (data->len + t->nbytes));
      if (t->nbytes)
        g_byte_array_append (data, t->data, (guint) t->nbytes);
    }
  g_string_append_c (h, '}');
  if (!pad_to)
    pad_to = (h->len + 7) / 8 * 8;     /* as the reference writer does */
  while (h->len < pad_to)
    g_string_append_c (h, ' ');
  GBytes *b = make_file (h->str, h->len, data->data, data->len);
  g_string_free (h, TRUE);
  g_byte_array_unref (data);
  return b;
}

/* Opens @bytes, expecting a refusal with LISSE_ERROR_BAD_MODEL, a one-line
 * message and, when given, @substring in it. */
static void
expect_refused (GBytes *bytes, const char *substring)
{
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (bytes, &error);
  if (st)
    g_error ("accepted a file that should be refused (expected '%s')",
             substring ? substring : "");
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_null (strchr (error->message, '\n'));
  if (substring && !strstr (error->message, substring))
    g_error ("message \"%s\" lacks \"%s\"", error->message, substring);
  g_error_free (error);
}

static void
expect_refused_header (const char *header, gsize data_len, const char *substring)
{
  GBytes *b = make_file_str (header, data_len);
  expect_refused (b, substring);
  g_bytes_unref (b);
}

/* Reads every tensor and metadata value of @st (for garbage that happened to
 * be accepted): must not crash, whatever get_tensor() answers. */
static void
touch_everything (LisseSafetensors *st)
{
  for (const char * const *k = lisse_safetensors_get_metadata_keys (st); *k; k++)
    g_assert_nonnull (lisse_safetensors_get_metadata (st, *k));
  for (const char * const *name = lisse_safetensors_get_names (st); *name; name++)
    {
      GError *error = NULL;
      LisseTensor *t = lisse_safetensors_get_tensor (st, *name, &error);
      if (!t)
        {
          g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
          g_error_free (error);
          continue;
        }
      volatile double sum = 0;
      for (size_t i = 0; i < lisse_tensor_numel (t); i++)
        sum += t->data[i];
      (void) sum;
      lisse_tensor_free (t);
    }
}

/* Either accepted (then everything is readable) or refused properly. */
static void
open_any (GBytes *bytes)
{
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (bytes, &error);
  if (st)
    {
      g_assert_no_error (error);
      touch_everything (st);
      lisse_safetensors_free (st);
      return;
    }
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_null (strchr (error->message, '\n'));
  g_error_free (error);
}

static const float weight_values[6] = { 0.5f, -1.25f, 3.0f, 1e-30f, -0.0f, 65504.0f };
static const float bias_values[2] = { 0.125f, -7.0f };
static const float scalar_value = 42.0f;

static GBytes *
make_small_model (void)
{
  static const char *meta[] = { "arch", "dncnn", "receptive_radius", "8", "scale", "0.25", NULL };
  TestTensor t[] = {
    { "conv.weight", "F32", 4, { 2, 3, 1, 1 }, weight_values, sizeof weight_values },
    { "conv.bias", "F32", 1, { 2 }, bias_values, sizeof bias_values },
    { "gain", "F32", 0, { 0 }, &scalar_value, sizeof scalar_value },
  };
  return make_valid (meta, t, G_N_ELEMENTS (t), 0);
}

/* ------------------------------------------------------------------------ */
/* Valid files                                                              */

static void
test_valid (void)
{
  GBytes *b = make_small_model ();
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (b, &error);
  g_assert_no_error (error);
  g_assert_nonnull (st);
  g_bytes_unref (b);                   /* st keeps its own reference */

  g_assert_cmpuint (lisse_safetensors_get_n_tensors (st), ==, 3);
  const char * const *names = lisse_safetensors_get_names (st);
  g_assert_cmpstr (names[0], ==, "conv.bias");
  g_assert_cmpstr (names[1], ==, "conv.weight");
  g_assert_cmpstr (names[2], ==, "gain");
  g_assert_null (names[3]);

  const char * const *keys = lisse_safetensors_get_metadata_keys (st);
  g_assert_cmpstr (keys[0], ==, "arch");
  g_assert_cmpstr (keys[1], ==, "receptive_radius");
  g_assert_cmpstr (keys[2], ==, "scale");
  g_assert_null (keys[3]);
  g_assert_cmpstr (lisse_safetensors_get_metadata (st, "arch"), ==, "dncnn");
  g_assert_null (lisse_safetensors_get_metadata (st, "nope"));

  const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, "conv.weight");
  g_assert_nonnull (e);
  g_assert_cmpint (e->dtype, ==, LISSE_DTYPE_F32);
  g_assert_cmpint (e->rank, ==, 4);
  g_assert_cmpint (e->shape[0], ==, 2);
  g_assert_cmpint (e->shape[1], ==, 3);
  g_assert_cmpuint (e->n_elements, ==, 6);
  g_assert_cmpuint (e->begin, ==, 0);
  g_assert_cmpuint (e->end, ==, 24);
  g_assert_null (lisse_safetensors_lookup (st, "conv"));
  char *s = lisse_safetensors_format_shape (e->shape, e->rank);
  g_assert_cmpstr (s, ==, "[2,3,1,1]");
  g_free (s);

  LisseTensor *w = lisse_safetensors_get_tensor (st, "conv.weight", &error);
  g_assert_no_error (error);
  g_assert_cmpint (w->n, ==, 2);
  g_assert_cmpint (w->c, ==, 3);
  g_assert_cmpint (w->h, ==, 1);
  g_assert_cmpint (w->w, ==, 1);
  g_assert_cmpmem (w->data, 6 * sizeof (float), weight_values, sizeof weight_values);
  lisse_tensor_free (w);

  /* rank 1 [k] → k×1×1×1 */
  LisseTensor *bias = lisse_safetensors_get_tensor (st, "conv.bias", &error);
  g_assert_no_error (error);
  g_assert_cmpint (bias->n, ==, 2);
  g_assert_cmpint (bias->c * bias->h * bias->w, ==, 1);
  g_assert_cmpfloat (bias->data[1], ==, -7.0f);
  lisse_tensor_free (bias);

  /* rank 0 → 1×1×1×1 */
  LisseTensor *gain = lisse_safetensors_get_tensor (st, "gain", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lisse_tensor_numel (gain), ==, 1);
  g_assert_cmpfloat (gain->data[0], ==, 42.0f);
  lisse_tensor_free (gain);

  g_assert_null (lisse_safetensors_get_tensor (st, "missing", &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_nonnull (strstr (error->message, "lacks tensor 'missing'"));
  g_clear_error (&error);

  lisse_safetensors_free (st);
}

/* Aligned F32 is a view; unaligned F32 a correct copy. */
static void
test_alignment (void)
{
  static const float values[3] = { 1.5f, -2.5f, 1e10f };
  TestTensor t[] = { { "x", "F32", 2, { 3, 1 }, values, sizeof values } };
  /* The GBytes buffer is malloc'd (16-byte aligned): data starts at 8 + header
   * length, so a header of 64 bytes aligns the data and one of 65 does not. */
  for (gsize pad = 64; pad <= 67; pad++)
    {
      GBytes *b = make_valid (NULL, t, 1, pad);
      GError *error = NULL;
      LisseSafetensors *st = lisse_safetensors_open_bytes (b, &error);
      g_assert_no_error (error);
      LisseTensor *x = lisse_safetensors_get_tensor (st, "x", &error);
      g_assert_no_error (error);
      g_assert_cmpint (x->n, ==, 3);
      g_assert_cmpint (x->c, ==, 1);
      g_assert_cmpmem (x->data, sizeof values, values, sizeof values);
      if (G_BYTE_ORDER == G_LITTLE_ENDIAN)
        g_assert_cmpint (x->owns_data, ==, pad % 4 != 0);
      lisse_tensor_free (x);
      lisse_safetensors_free (st);
      g_bytes_unref (b);
    }
}

static void
test_dtypes (void)
{
  /* F16: 1, -2, max, smallest subnormal, -0, +inf, NaN, 1/3 rounded */
  static const guint16 f16[8] = { 0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00, 0x3555 };
  /* BF16: 1, -3, 3.140625, -inf */
  static const guint16 bf16[4] = { 0x3f80, 0xc040, 0x4049, 0xff80 };
  static const double f64[4] = { 0.1, -1e300, 1e300, 3.0 };
  guint16 f16le[8], bf16le[4];
  guint64 f64le[4];
  for (int i = 0; i < 8; i++)
    f16le[i] = GUINT16_TO_LE (f16[i]);
  for (int i = 0; i < 4; i++)
    bf16le[i] = GUINT16_TO_LE (bf16[i]);
  for (int i = 0; i < 4; i++)
    {
      guint64 v;
      memcpy (&v, &f64[i], 8);
      f64le[i] = GUINT64_TO_LE (v);
    }
  TestTensor t[] = {
    { "h", "F16", 1, { 8 }, f16le, sizeof f16le },
    { "b", "BF16", 2, { 2, 2 }, bf16le, sizeof bf16le },
    { "d", "F64", 3, { 1, 2, 2 }, f64le, sizeof f64le },
  };
  GBytes *bytes = make_valid (NULL, t, G_N_ELEMENTS (t), 0);
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (bytes, &error);
  g_assert_no_error (error);
  g_bytes_unref (bytes);

  g_assert_cmpint (lisse_safetensors_lookup (st, "h")->dtype, ==, LISSE_DTYPE_F16);
  LisseTensor *h = lisse_safetensors_get_tensor (st, "h", &error);
  g_assert_no_error (error);
  g_assert_true (h->owns_data);
  g_assert_cmpint (h->n, ==, 8);
  g_assert_cmpfloat (h->data[0], ==, 1.0f);
  g_assert_cmpfloat (h->data[1], ==, -2.0f);
  g_assert_cmpfloat (h->data[2], ==, 65504.0f);
  g_assert_cmpfloat (h->data[3], ==, ldexpf (1.0f, -24));
  g_assert_cmpfloat (h->data[4], ==, 0.0f);
  g_assert_true (signbit (h->data[4]));
  g_assert_true (isinf (h->data[5]) && h->data[5] > 0);
  g_assert_true (isnan (h->data[6]));
  g_assert_cmpfloat (h->data[7], ==, 0.333251953125f);
  lisse_tensor_free (h);

  LisseTensor *b = lisse_safetensors_get_tensor (st, "b", &error);
  g_assert_no_error (error);
  g_assert_cmpint (b->n, ==, 2);
  g_assert_cmpint (b->c, ==, 2);
  g_assert_cmpint (b->h, ==, 1);
  g_assert_cmpfloat (b->data[0], ==, 1.0f);
  g_assert_cmpfloat (b->data[1], ==, -3.0f);
  g_assert_cmpfloat (b->data[2], ==, 3.140625f);
  g_assert_true (isinf (b->data[3]) && b->data[3] < 0);
  lisse_tensor_free (b);

  /* rank 3 [a,b,c] → a×b×c×1 */
  LisseTensor *d = lisse_safetensors_get_tensor (st, "d", &error);
  g_assert_no_error (error);
  g_assert_cmpint (d->n, ==, 1);
  g_assert_cmpint (d->c, ==, 2);
  g_assert_cmpint (d->h, ==, 2);
  g_assert_cmpint (d->w, ==, 1);
  g_assert_cmpfloat (d->data[0], ==, 0.1f);
  g_assert_true (isinf (d->data[1]) && d->data[1] < 0);
  g_assert_true (isinf (d->data[2]) && d->data[2] > 0);
  g_assert_cmpfloat (d->data[3], ==, 3.0f);
  lisse_tensor_free (d);

  lisse_safetensors_free (st);
}

/* Files the reader accepts, whose tensors get_tensor() cannot give. */
static void
test_unusual_tensors (void)
{
  /* Only metadata: valid, empty data section. */
  GBytes *b = make_file_str ("{\"__metadata__\":{\"a\":\"b\"}}", 0);
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (b, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lisse_safetensors_get_n_tensors (st), ==, 0);
  g_assert_null (lisse_safetensors_get_names (st)[0]);
  lisse_safetensors_free (st);
  g_bytes_unref (b);

  /* Padding after: allowed by the specification. */
  b = make_file_str ("{}  \n  ", 0);
  st = lisse_safetensors_open_bytes (b, &error);
  g_assert_no_error (error);
  lisse_safetensors_free (st);
  g_bytes_unref (b);

  /* Zero elements, rank 5, plus an escaped name and extra keys (ignored). */
  b = make_file_str ("{\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                     "\"r5\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8],"
                     "\"extra\":[1,{\"x\":null},true,false,1e+5,-0.5E-2,0,\"\\/\\\\\\b\"]},"
                     "\"caf\\u00e9\\n\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]},"
                     "\"\\ud83d\\ude00\\/\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[10,12]}}",
                     12);
  st = lisse_safetensors_open_bytes (b, &error);
  g_assert_no_error (error);
  g_bytes_unref (b);
  g_assert_null (lisse_safetensors_get_tensor (st, "empty", &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_nonnull (strstr (error->message, "no elements"));
  g_clear_error (&error);
  g_assert_null (lisse_safetensors_get_tensor (st, "r5", &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_nonnull (strstr (error->message, "at most 4 dimensions"));
  g_clear_error (&error);
  const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, "café\n");
  g_assert_nonnull (e);
  g_assert_cmpint (e->dtype, ==, LISSE_DTYPE_BF16);
  LisseTensor *t = lisse_safetensors_get_tensor (st, "café\n", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (t->data[0], ==, 0.0f);
  lisse_tensor_free (t);
  g_assert_nonnull (lisse_safetensors_lookup (st, "\xf0\x9f\x98\x80/"));   /* U+1F600 */
  char *q = lisse_safetensors_quote_name ("café\n");
  g_assert_cmpstr (q, ==, "'café\\x0a'");
  g_free (q);
  lisse_safetensors_free (st);
}

static void
test_open_file (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("lisse-st-XXXXXX", &error);
  g_assert_no_error (error);
  char *path = g_build_filename (dir, "m.safetensors", NULL);
  GBytes *b = make_small_model ();
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (b, NULL),
                                      (gssize) g_bytes_get_size (b), &error));
  g_bytes_unref (b);

  LisseSafetensors *st = lisse_safetensors_open (path, &error);
  g_assert_no_error (error);
  LisseTensor *w = lisse_safetensors_get_tensor (st, "conv.weight", &error);
  g_assert_no_error (error);
  g_assert_false (w->owns_data);         /* a view into the mapping */
  g_assert_cmpmem (w->data, sizeof weight_values, weight_values, sizeof weight_values);
  lisse_tensor_free (w);
  lisse_safetensors_free (st);

  /* A broken file: the message starts with the file name. */
  g_assert_true (g_file_set_contents (path, "\x10\0\0\0\0\0\0\0{}", 10, &error));
  g_assert_null (lisse_safetensors_open (path, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, "header length 16 exceeds file size 10"));
  g_clear_error (&error);

  /* An empty file. */
  g_assert_true (g_file_set_contents (path, "", 0, &error));
  g_assert_null (lisse_safetensors_open (path, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_nonnull (strstr (error->message, "too short"));
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_null (lisse_safetensors_open (path, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_IO);
  g_clear_error (&error);
  g_assert_null (lisse_safetensors_open (dir, &error));   /* a directory */
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

/* ------------------------------------------------------------------------ */
/* Broken files                                                             */

/* Every proper prefix of a valid file is refused. */
static void
test_truncated (void)
{
  GBytes *full = make_small_model ();
  gsize size;
  const guint8 *data = g_bytes_get_data (full, &size);
  for (gsize len = 0; len < size; len++)
    {
      /* An exact-size copy, so that ASan catches any read past the end. */
      GBytes *b = g_bytes_new (data, len);
      expect_refused (b, len < 8 ? "too short" : NULL);
      g_bytes_unref (b);
    }
  /* and one byte more is trailing data */
  guint8 *longer = g_malloc0 (size + 1);
  memcpy (longer, data, size);
  GBytes *b = g_bytes_new_take (longer, size + 1);
  expect_refused (b, "1 bytes after the last tensor");
  g_bytes_unref (b);
  g_bytes_unref (full);
}

static void
test_header_length (void)
{
  GBytes *b = g_bytes_new_static ("\x08\0\0\0\0\0\0", 7);
  expect_refused (b, "file is 7 bytes, too short");
  g_bytes_unref (b);

  b = g_bytes_new_static ("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
  expect_refused (b, "header length 18446744073709551615 exceeds file size 10");
  g_bytes_unref (b);

  b = g_bytes_new_static ("\x03\0\0\0\0\0\0\0{}", 10);
  expect_refused (b, "header length 3 exceeds file size 10");
  g_bytes_unref (b);

  /* Beyond the 100 MB cap but within the file. */
  gsize header_len = LISSE_SAFETENSORS_MAX_HEADER + 1;
  guint8 *big = g_malloc0 (8 + header_len);
  guint64 len = GUINT64_TO_LE ((guint64) header_len);
  memcpy (big, &len, 8);
  b = g_bytes_new_take (big, 8 + header_len);
  expect_refused (b, "exceeds the limit of 100000000 bytes");
  g_bytes_unref (b);
}

typedef struct
{
  const char *header;
  gsize       data_len;
  const char *message;
} BrokenCase;

#define E(dtype, shape, offsets) \
  "{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offsets "}"
#define A(x) "{\"a\":" x "}"

static const BrokenCase broken[] = {
  /* not JSON, not strict JSON, not an object */
  { "", 0, "not valid JSON: expected a value at end of header" },
  { "    ", 0, "not valid JSON" },
  { "not json", 0, "not valid JSON" },
  { "{", 0, "not valid JSON" },
  { "{\"a\"", 0, "not valid JSON: expected ':'" },
  { "{\"a\":}", 0, "not valid JSON: expected a value" },
  { "{\"a\":1,}", 0, "not valid JSON: expected a string key" },
  { "  {}", 0, "header does not begin with '{'" },
  { "{}{}", 0, "trailing characters" },
  { "{} x", 0, "trailing characters" },
  { "/* c */ {}", 0, "not valid JSON" },
  { "{} // c", 0, "trailing characters" },
  { "{'a':1}", 0, "expected a string key" },
  { "{\"a\":0x10}", 0, "expected ',' or '}'" },
  { "{\"a\":010}", 0, "leading zero" },
  { "{\"a\":+1}", 0, "expected a value" },
  { "{\"a\":.5}", 0, "expected a value" },
  { "{\"a\":1.}", 0, "bad number" },
  { "{\"a\":1e}", 0, "bad number" },
  { "{\"a\":-}", 0, "bad number" },
  { "{\"a\":NaN}", 0, "expected a value" },
  { "{\"a\":tru}", 0, "unexpected character" },
  { "{\"a\":\"x}", 0, "unterminated string" },
  { "{\"a\":\"\\x\"}", 0, "bad escape" },
  { "{\"a\":\"\\u12\"}", 0, "bad \\u escape" },
  { "{\"a\":\"\\ud800\"}", 0, "unpaired surrogate" },
  { "{\"a\":\"\\udc00\"}", 0, "unpaired surrogate" },
  { "{\"a\":\"\\u0000\"}", 0, "\\u0000" },
  { "{\"a\\u0000b\":1}", 0, "\\u0000" },
  { "{\"a\":\"\t\"}", 0, "control character" },
  { "{\"a\":99999999999999999999}", 0, "64-bit range" },
  { "{\"a\":9223372036854775808}", 0, "64-bit range" },
  { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 0, "nesting deeper than 32" },
  { "{\"\xff\":1}", 0, "not valid UTF-8" },
  { "{\"\xc3\":1}", 0, "not valid UTF-8" },
  { "[1,2]", 0, "not a JSON object" },
  { "\"str\"", 0, "not a JSON object" },
  { "null", 0, "not a JSON object" },
  { "42", 0, "not a JSON object" },
  /* duplicate keys, at every level */
  { "{\"a\":" E("\"F32\"", "[1]", "[0,4]") ",\"a\":" E("\"F32\"", "[1]", "[0,4]") "}", 4,
    "duplicate key" },
  { "{\"a\":" E("\"F32\"", "[1]", "[0,4]") ",\"\\u0061\":" E("\"F32\"", "[1]", "[0,4]") "}", 4,
    "duplicate key" },
  { A("{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}"), 4,
    "duplicate key" },
  { "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate key" },
  /* entries */
  { A("5"), 4, "entry for tensor 'a' is not an object" },
  { A("[]"), 4, "entry for tensor 'a' is not an object" },
  { A("{\"shape\":[1],\"data_offsets\":[0,4]}"), 4, "tensor 'a' lacks \"dtype\"" },
  { A("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"), 4, "tensor 'a' lacks \"shape\"" },
  { A("{\"dtype\":\"F32\",\"shape\":[1]}"), 4, "tensor 'a' lacks \"data_offsets\"" },
  { A(E("5", "[1]", "[0,4]")), 4, "\"dtype\" is not a string" },
  { A(E("null", "[1]", "[0,4]")), 4, "\"dtype\" is not a string" },
  { A(E("\"I64\"", "[1]", "[0,8]")), 8, "unsupported dtype 'I64' for tensor 'a'" },
  { A(E("\"f32\"", "[1]", "[0,4]")), 4, "unsupported dtype 'f32'" },
  { A(E("\"F32\"", "\"1\"", "[0,4]")), 4, "\"shape\" is not an array" },
  { A(E("\"F32\"", "{}", "[0,4]")), 4, "\"shape\" is not an array" },
  { A(E("\"F32\"", "[1.5]", "[0,4]")), 4, "shape dimension 0 is not an integer" },
  { A(E("\"F32\"", "[1.0]", "[0,4]")), 4, "shape dimension 0 is not an integer" },
  { A(E("\"F32\"", "[1,\"1\"]", "[0,4]")), 4, "shape dimension 1 is not an integer" },
  { A(E("\"F32\"", "[true]", "[0,4]")), 4, "not an integer" },
  { A(E("\"F32\"", "[[1]]", "[0,4]")), 4, "not an integer" },
  { A(E("\"F32\"", "[-1]", "[0,4]")), 4, "shape dimension 0 is negative (-1)" },
  { A(E("\"F32\"", "[1,-4]", "[0,4]")), 4, "shape dimension 1 is negative" },
  { A(E("\"F32\"", "[4294967296]", "[0,4]")), 4, "shape dimension 0 is too large" },
  { A(E("\"F32\"", "[2147483648]", "[0,4]")), 4, "too large" },
  { A(E("\"F32\"", "[2147483647,2147483647,4]", "[0,4]")), 4, "too many elements" },
  { A(E("\"F32\"", "[65536,65536]", "[0,4]")), 4, "too many elements" },
  { A(E("\"F32\"", "[0,2147483647,2147483647]", "[0,0]")), 0, NULL }, /* valid: see below */
  { A(E("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]")), 4, "tensor 'a' has rank 9" },
  { A(E("\"F32\"", "[1]", "[0]")), 4, "not an array of two integers" },
  { A(E("\"F32\"", "[1]", "[0,4,8]")), 4, "not an array of two integers" },
  { A(E("\"F32\"", "[1]", "[\"0\",4]")), 4, "not an array of two integers" },
  { A(E("\"F32\"", "[1]", "[0,4.0]")), 4, "not an array of two integers" },
  { A(E("\"F32\"", "[1]", "{}")), 4, "not an array of two integers" },
  { A(E("\"F32\"", "[1]", "[-4,0]")), 4, "negative data_offsets [-4, 0]" },
  { A(E("\"F32\"", "[1]", "[4,0]")), 4, "data_offsets [4, 0] that begin after they end" },
  { A(E("\"F32\"", "[1]", "[4,8]")), 4, "ends at byte 8 of a 4-byte data section" },
  { A(E("\"F32\"", "[1]", "[0,9223372036854775807]")), 4, "ends at byte 9223372036854775807" },
  { A(E("\"F32\"", "[2]", "[0,4]")), 4, "shape [2] of F32 needs 8 bytes but data_offsets span 4" },
  { A(E("\"F16\"", "[3]", "[0,4]")), 4, "needs 6 bytes" },
  { A(E("\"F32\"", "[]", "[0,0]")), 0, "needs 4 bytes but data_offsets span 0" },
  /* the data section as a whole */
  { "{\"a\":" E("\"F32\"", "[1]", "[0,4]") ",\"b\":" E("\"F32\"", "[1]", "[2,6]") "}", 8,
    "tensor 'b' overlaps tensor 'a'" },
  { "{\"a\":" E("\"F32\"", "[1]", "[0,4]") ",\"b\":" E("\"F32\"", "[1]", "[0,4]") "}", 4,
    "overlaps" },
  { "{\"a\":" E("\"F32\"", "[2]", "[0,8]") ",\"b\":" E("\"F32\"", "[0]", "[4,4]") "}", 8,
    "tensor 'b' overlaps tensor 'a'" },
  { A(E("\"F32\"", "[1]", "[4,8]")), 8, "hole of 4 bytes before tensor 'a'" },
  { "{\"a\":" E("\"F32\"", "[1]", "[0,4]") ",\"b\":" E("\"F32\"", "[1]", "[6,10]") "}", 10,
    "hole of 2 bytes before tensor 'b'" },
  { A(E("\"F32\"", "[1]", "[0,4]")), 8, "4 bytes after the last tensor" },
  { "{}", 3, "3 bytes after the last tensor" },
  /* metadata */
  { "{\"__metadata__\":[1]}", 0, "__metadata__ is not an object" },
  { "{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object" },
  { "{\"__metadata__\":{\"k\":1}}", 0, "metadata 'k' is not a string" },
  { "{\"__metadata__\":{\"k\":null}}", 0, "metadata 'k' is not a string" },
  { "{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "metadata 'k' is not a string" },
  /* control characters in names are escaped in messages */
  { "{\"a\\nb\":5}", 0, "tensor 'a\\x0ab' is not an object" },
};

static void
test_broken (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (broken); i++)
    {
      const BrokenCase *c = &broken[i];
      if (!c->message)
        continue;
      expect_refused_header (c->header, c->data_len, c->message);
    }
  /* A 0 among huge dimensions holds no elements: accepted, as the spec says. */
  GBytes *b = make_file_str (A(E("\"F32\"", "[0,2147483647,2147483647]", "[0,0]")), 0);
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (b, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lisse_safetensors_lookup (st, "a")->n_elements, ==, 0);
  lisse_safetensors_free (st);
  g_bytes_unref (b);

  /* A header of more than a million JSON values */
  GString *many = g_string_new ("{\"a\":[0");
  for (int i = 0; i < 1000000; i++)
    g_string_append (many, ",0");
  g_string_append (many, "]}");
  GBytes *b2 = make_file_str (many->str, 0);
  expect_refused (b2, "more than 1000000 values");
  g_bytes_unref (b2);
  g_string_free (many, TRUE);

  /* A NUL inside the header */
  b = make_file ("{\"a\0\":1}", 8, NULL, 0);
  expect_refused (b, "not valid UTF-8");
  g_bytes_unref (b);
  /* A long name is cut in messages. */
  GString *name = g_string_new ("{\"");
  for (int i = 0; i < 500; i++)
    g_string_append_c (name, 'n');
  g_string_append (name, "\":1}");
  b = make_file_str (name->str, 0);
  expect_refused (b, "nnnn…' is not an object");
  g_bytes_unref (b);
  g_string_free (name, TRUE);
}

/* Garbage and mutated files: refused properly or read entirely, never a
 * crash (ASan/UBSan builds catch any out-of-bounds read). */
static void
test_random (void)
{
  GRand *rng = g_rand_new_with_seed (20240521);

  for (int trial = 0; trial < 3000; trial++)
    {
      gsize len = (gsize) g_rand_int_range (rng, 0, 200);
      guint8 *buf = g_malloc (len + 1);
      for (gsize i = 0; i < len; i++)
        buf[i] = (guint8) g_rand_int (rng);
      /* Half the time a plausible header length, to get past the first check. */
      if (len >= 8 && trial % 2)
        {
          guint64 hl = GUINT64_TO_LE ((guint64) g_rand_int_range (rng, 0, (gint32) len - 7));
          memcpy (buf, &hl, 8);
        }
      GBytes *b = g_bytes_new_take (buf, len);
      open_any (b);
      g_bytes_unref (b);
    }

  /* Mutations of a valid file: a few bytes replaced, header or data. */
  GBytes *model = make_small_model ();
  gsize size;
  const guint8 *orig = g_bytes_get_data (model, &size);
  static const char interesting[] = "{}[],:\"0123456789-.eE\\u \x00\xff";
  int accepted = 0;
  for (int trial = 0; trial < 3000; trial++)
    {
      guint8 *buf = g_memdup2 (orig, size);
      int n = g_rand_int_range (rng, 1, 4);
      for (int k = 0; k < n; k++)
        {
          gsize at = (gsize) g_rand_int_range (rng, 0, (gint32) size);
          buf[at] = g_rand_boolean (rng)
                  ? (guint8) g_rand_int (rng)
                  : (guint8) interesting[g_rand_int_range (rng, 0, sizeof interesting - 1)];
        }
      gsize len = g_rand_int_range (rng, 0, 8) == 0 ? (gsize) g_rand_int_range (rng, 0, (gint32) size)
                                                    : size;
      GBytes *b = g_bytes_new_take (buf, len);
      GError *error = NULL;
      LisseSafetensors *st = lisse_safetensors_open_bytes (b, &error);
      if (st)
        {
          accepted++;
          touch_everything (st);
          lisse_safetensors_free (st);
        }
      else
        {
          g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
          g_error_free (error);
        }
      g_bytes_unref (b);
    }
  g_test_message ("%d of 3000 mutated files accepted", accepted);
  g_bytes_unref (model);
  g_rand_free (rng);
}

/* ------------------------------------------------------------------------ */
/* Models                                                                   */

static void
test_check_tensors (void)
{
  GBytes *b = make_small_model ();
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (b, &error);
  g_assert_no_error (error);
  g_bytes_unref (b);

  const LisseTensorSpec ok[] = {
    { "conv.weight", 4, { 2, 3, 1, 1 } },
    { "conv.bias", 1, { 2 } },
    { "gain", 0, { 0 } },
  };
  g_assert_true (lisse_model_check_tensors (st, ok, G_N_ELEMENTS (ok), &error));
  g_assert_no_error (error);

  const LisseTensorSpec any[] = {
    { "conv.weight", 4, { -1, 3, -1, -1 } },
    { "conv.bias", 1, { -1 } },
    { "gain", 0, { 0 } },
  };
  g_assert_true (lisse_model_check_tensors (st, any, G_N_ELEMENTS (any), &error));

  const LisseTensorSpec missing[] = {
    { "conv.weight", 4, { 2, 3, 1, 1 } },
    { "conv.bias", 1, { 2 } },
    { "gain", 0, { 0 } },
    { "x.weight", 4, { 1, 1, 1, 1 } },
  };
  g_assert_false (lisse_model_check_tensors (st, missing, G_N_ELEMENTS (missing), &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_cmpstr (error->message, ==, "model file lacks tensor 'x.weight'");
  g_clear_error (&error);

  const LisseTensorSpec extra[] = {
    { "conv.weight", 4, { 2, 3, 1, 1 } },
    { "gain", 0, { 0 } },
  };
  g_assert_false (lisse_model_check_tensors (st, extra, G_N_ELEMENTS (extra), &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_cmpstr (error->message, ==, "unexpected tensor 'conv.bias' in model file");
  g_clear_error (&error);

  const LisseTensorSpec wrong[] = {
    { "conv.weight", 4, { 64, 3, 3, 3 } },
    { "conv.bias", 1, { 2 } },
    { "gain", 0, { 0 } },
  };
  g_assert_false (lisse_model_check_tensors (st, wrong, G_N_ELEMENTS (wrong), &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_cmpstr (error->message, ==,
                   "tensor 'conv.weight' has shape [2,3,1,1] but the network expects [64,3,3,3]");
  g_clear_error (&error);

  const LisseTensorSpec rank[] = {
    { "conv.weight", 4, { 2, 3, 1, 1 } },
    { "conv.bias", 2, { 2, -1 } },
    { "gain", 0, { 0 } },
  };
  g_assert_false (lisse_model_check_tensors (st, rank, G_N_ELEMENTS (rank), &error));
  g_assert_cmpstr (error->message, ==,
                   "tensor 'conv.bias' has shape [2] but the network expects [2,?]");
  g_clear_error (&error);

  lisse_safetensors_free (st);
}

static void
test_metadata (void)
{
  static const char *meta[] = {
    "radius", "8", "neg", "-3", "big", "99999999999", "float", "2.5", "word", "abc",
    "space", " 4", "trail", "4x", "exp", "1e-3", "inf", "1e999", "nan", "nan", "empty", "",
    NULL
  };
  GBytes *b = make_valid (meta, NULL, 0, 0);
  GError *error = NULL;
  LisseSafetensors *st = lisse_safetensors_open_bytes (b, &error);
  g_assert_no_error (error);
  g_bytes_unref (b);

  int i = 0;
  double d = 0;
  g_assert_true (lisse_model_get_metadata_int (st, "radius", &i, &error));
  g_assert_cmpint (i, ==, 8);
  g_assert_true (lisse_model_get_metadata_int (st, "neg", &i, &error));
  g_assert_cmpint (i, ==, -3);
  g_assert_true (lisse_model_get_metadata_double (st, "float", &d, &error));
  g_assert_cmpfloat (d, ==, 2.5);
  g_assert_true (lisse_model_get_metadata_double (st, "radius", &d, &error));
  g_assert_cmpfloat (d, ==, 8.0);
  g_assert_true (lisse_model_get_metadata_double (st, "exp", &d, &error));
  g_assert_cmpfloat (d, ==, 1e-3);
  g_assert_cmpstr (lisse_model_get_metadata_string (st, "word", &error), ==, "abc");
  g_assert_no_error (error);

  static const struct { const char *key; gboolean is_int; const char *message; } bad[] = {
    { "receptive_radius", TRUE, "metadata 'receptive_radius' is missing" },
    { "receptive_radius", FALSE, "metadata 'receptive_radius' is missing" },
    { "big", TRUE, "metadata 'big' is out of range ('99999999999')" },
    { "float", TRUE, "metadata 'float' is not an integer ('2.5')" },
    { "word", TRUE, "metadata 'word' is not an integer ('abc')" },
    { "space", TRUE, "not an integer" },
    { "trail", TRUE, "not an integer" },
    { "empty", TRUE, "not an integer" },
    { "word", FALSE, "metadata 'word' is not a number ('abc')" },
    { "space", FALSE, "not a number" },
    { "trail", FALSE, "not a number" },
    { "empty", FALSE, "not a number" },
    { "nan", FALSE, "not a number" },
    { "inf", FALSE, "metadata 'inf' is out of range" },
  };
  for (gsize k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      gboolean ok = bad[k].is_int ? lisse_model_get_metadata_int (st, bad[k].key, &i, &error)
                                  : lisse_model_get_metadata_double (st, bad[k].key, &d, &error);
      g_assert_false (ok);
      g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
      if (!strstr (error->message, bad[k].message))
        g_error ("message \"%s\" lacks \"%s\"", error->message, bad[k].message);
      g_clear_error (&error);
    }
  g_assert_null (lisse_model_get_metadata_string (st, "nope", &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_clear_error (&error);
  lisse_safetensors_free (st);
}

static void
write_model (const char *dir, const char *file)
{
  char *path = g_build_filename (dir, file, NULL);
  GBytes *b = make_small_model ();
  GError *error = NULL;
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (b, NULL),
                                      (gssize) g_bytes_get_size (b), &error));
  g_bytes_unref (b);
  g_free (path);
}

static void
remove_tree (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *entry;
  while (d && (entry = g_dir_read_name (d)))
    {
      char *path = g_build_filename (dir, entry, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_tree (path);
      else
        g_unlink (path);
      g_free (path);
    }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

static const LisseModelInfo *
find_info (GPtrArray *list, const char *name)
{
  for (guint i = 0; i < list->len; i++)
    {
      const LisseModelInfo *info = list->pdata[i];
      if (strcmp (info->name, name) == 0)
        return info;
    }
  return NULL;
}

static void
test_discovery (void)
{
  GError *error = NULL;
  char *a = g_dir_make_tmp ("lisse-models-a-XXXXXX", &error);
  char *b = g_dir_make_tmp ("lisse-models-b-XXXXXX", &error);
  g_assert_no_error (error);
  write_model (a, "lisse-test-one.safetensors");
  write_model (a, "lisse-test-two.safetensors");
  write_model (a, "README.txt");
  write_model (b, "lisse-test-two.safetensors");
  write_model (b, "lisse-test-three.safetensors");
  write_model (b, ".safetensors");                    /* no name: skipped */
  char *subdir = g_build_filename (b, "lisse-test-dir.safetensors", NULL);
  g_mkdir (subdir, 0700);                             /* not a file: skipped */

  char *env = g_strjoin (G_SEARCHPATH_SEPARATOR_S, "", a, "", b, "/nonexistent-lisse-dir", NULL);
  g_setenv ("LISSE_MODEL_PATH", env, TRUE);

  char **path = lisse_model_search_path ();
  g_assert_cmpuint (g_strv_length (path), ==, 4);
  g_assert_cmpstr (path[0], ==, a);
  g_assert_cmpstr (path[1], ==, b);
  g_assert_cmpstr (path[2], ==, "/nonexistent-lisse-dir");
  g_assert_cmpstr (path[3], ==, LISSE_MODELDIR);
  g_strfreev (path);

  char *p = lisse_model_resolve ("lisse-test-two", &error);
  g_assert_no_error (error);
  char *expect = g_build_filename (a, "lisse-test-two.safetensors", NULL);
  g_assert_cmpstr (p, ==, expect);
  g_free (expect);
  g_free (p);

  p = lisse_model_resolve ("lisse-test-three.safetensors", &error);
  g_assert_no_error (error);
  expect = g_build_filename (b, "lisse-test-three.safetensors", NULL);
  g_assert_cmpstr (p, ==, expect);

  /* An existing path is taken as is. */
  char *q = lisse_model_resolve (expect, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (q, ==, expect);
  g_free (q);
  g_free (expect);
  g_free (p);

  /* In the current directory: a bare word is still a model name, a
   * file name ending in .safetensors is that file. */
  char *cwd = g_get_current_dir ();
  write_model (b, "lisse-test-one");
  g_assert_cmpint (g_chdir (b), ==, 0);
  p = lisse_model_resolve ("lisse-test-one", &error);
  g_assert_no_error (error);
  expect = g_build_filename (a, "lisse-test-one.safetensors", NULL);
  g_assert_cmpstr (p, ==, expect);
  g_free (expect);
  g_free (p);
  p = lisse_model_resolve ("lisse-test-two.safetensors", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p, ==, "lisse-test-two.safetensors");
  g_free (p);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_free (cwd);

  g_assert_null (lisse_model_resolve ("lisse-test-none", &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_assert_true (g_str_has_prefix (error->message, "no model named 'lisse-test-none' (searched: "));
  g_assert_nonnull (strstr (error->message, b));
  g_clear_error (&error);

  g_assert_null (lisse_model_resolve ("/nonexistent-lisse-dir/x.safetensors", &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_assert_nonnull (strstr (error->message, "does not exist"));
  g_clear_error (&error);

  g_assert_null (lisse_model_resolve ("lisse-test-dir", &error));   /* a directory */
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_clear_error (&error);
  g_assert_null (lisse_model_resolve ("", &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_clear_error (&error);

  GPtrArray *list = lisse_model_list ();
  const LisseModelInfo *one = find_info (list, "lisse-test-one");
  const LisseModelInfo *two = find_info (list, "lisse-test-two");
  const LisseModelInfo *three = find_info (list, "lisse-test-three");
  g_assert_nonnull (one);
  g_assert_nonnull (two);
  g_assert_nonnull (three);
  g_assert_true (g_str_has_prefix (two->path, a));      /* the first wins */
  g_assert_true (g_str_has_prefix (three->path, b));
  g_assert_null (find_info (list, ""));
  g_assert_null (find_info (list, "README"));
  g_assert_null (find_info (list, "lisse-test-dir"));
  for (guint i = 1; i < list->len; i++)
    g_assert_cmpint (strcmp (((LisseModelInfo *) list->pdata[i - 1])->name,
                             ((LisseModelInfo *) list->pdata[i])->name), <, 0);
  g_ptr_array_unref (list);

  /* lisse_model_open: resolve + open + check */
  const LisseTensorSpec specs[] = {
    { "conv.weight", 4, { 2, 3, 1, 1 } },
    { "conv.bias", 1, { 2 } },
    { "gain", 0, { 0 } },
  };
  LisseModel *m = lisse_model_open ("lisse-test-one", specs, G_N_ELEMENTS (specs), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->name, ==, "lisse-test-one");
  g_assert_nonnull (lisse_safetensors_lookup (m->st, "gain"));
  lisse_model_free (m);
  g_assert_null (lisse_model_open ("lisse-test-one", specs, 2, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_BAD_MODEL);
  g_assert_nonnull (strstr (error->message, "unexpected tensor 'gain' in model file"));
  g_clear_error (&error);
  g_assert_null (lisse_model_open ("lisse-test-none", specs, 3, &error));
  g_assert_error (error, LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME);
  g_clear_error (&error);

  g_unsetenv ("LISSE_MODEL_PATH");
  path = lisse_model_search_path ();
  g_assert_cmpuint (g_strv_length (path), ==, 1);
  g_strfreev (path);

  remove_tree (a);
  remove_tree (b);
  g_free (subdir);
  g_free (env);
  g_free (a);
  g_free (b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/valid", test_valid);
  g_test_add_func ("/safetensors/alignment", test_alignment);
  g_test_add_func ("/safetensors/dtypes", test_dtypes);
  g_test_add_func ("/safetensors/unusual-tensors", test_unusual_tensors);
  g_test_add_func ("/safetensors/open-file", test_open_file);
  g_test_add_func ("/safetensors/truncated", test_truncated);
  g_test_add_func ("/safetensors/header-length", test_header_length);
  g_test_add_func ("/safetensors/broken", test_broken);
  g_test_add_func ("/safetensors/random", test_random);
  g_test_add_func ("/model/check-tensors", test_check_tensors);
  g_test_add_func ("/model/metadata", test_metadata);
  g_test_add_func ("/model/discovery", test_discovery);
  return g_test_run ();
}
