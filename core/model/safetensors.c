/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "safetensors.h"
#include "lisse-error.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A header of a million JSON values is a model of ~100 000 tensors; the cap
 * keeps a hostile 100 MB header of "[0,0,0,…]" from costing gigabytes of
 * json-glib nodes. */
#define MAX_JSON_VALUES 1000000
/* Names in messages are cut to this many characters to keep them one line. */
#define MAX_QUOTED_CHARS 80

struct _LisseSafetensors
{
  GBytes                *bytes;      /* the whole file */
  const guint8          *data;       /* the data section */
  gsize                  data_size;
  GHashTable            *metadata;   /* char * → char *, owned */
  const char           **metadata_keys;
  LisseSafetensorsEntry *entries;
  guint                  n_entries;
  GHashTable            *index;      /* name → entry */
  const char           **names;
};

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */

char *
lisse_safetensors_quote_name (const char *s)
{
  GString *out = g_string_new ("'");
  glong n = 0;
  for (const char *p = s; *p; p = g_utf8_next_char (p), n++)
    {
      if (n == MAX_QUOTED_CHARS)
        {
          g_string_append (out, "…");
          break;
        }
      guchar c = (guchar) *p;
      if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  g_string_append_c (out, '\'');
  return g_string_free (out, FALSE);
}

#define bad_model(error, ...) lisse_fail ((error), LISSE_ERROR_BAD_MODEL, __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* Strict JSON check                                                        */

/* json-glib 1.6 is lenient: it takes comments, single-quoted strings, hex
 * numbers, "{}{}", silently wraps integers beyond 64 bits, truncates keys at
 * "\u0000" and keeps the last of duplicate keys.  A file that json-glib reads
 * one way and another safetensors reader another way is a trap, so a strict
 * RFC 8259 pass runs first.  It also bounds nesting (json-glib's parser
 * recurses) and counts object members: json-glib drops duplicates, so fewer
 * members in its tree than in the text means a duplicate key. */

typedef struct
{
  const char *start, *p, *end;
  gsize       members;
  gsize       values;
  char       *error;
} JsonCheck;

static gboolean
check_fail (JsonCheck *c, const char *what)
{
  if (c->p >= c->end)
    c->error = g_strdup_printf ("%s at end of header", what);
  else
    {
      guchar b = (guchar) *c->p;
      if (b >= 0x20 && b < 0x7f)
        c->error = g_strdup_printf ("%s: '%c' at byte %" G_GSIZE_FORMAT,
                                    what, b, (gsize) (c->p - c->start));
      else
        c->error = g_strdup_printf ("%s: byte 0x%02x at byte %" G_GSIZE_FORMAT,
                                    what, b, (gsize) (c->p - c->start));
    }
  return FALSE;
}

static void
check_ws (JsonCheck *c)
{
  while (c->p < c->end
         && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static gboolean
check_literal (JsonCheck *c, const char *word)
{
  gsize len = strlen (word);
  if ((gsize) (c->end - c->p) < len || memcmp (c->p, word, len) != 0)
    return check_fail (c, "unexpected character");
  c->p += len;
  return TRUE;
}

static int
hex4 (const char *p)
{
  int v = 0;
  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value (p[i]);
      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  return v;
}

/* Reads a \uXXXX at c->p (pointing at the backslash); -1 on error. */
static int
check_u_escape (JsonCheck *c)
{
  if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u')
    return -1;
  int v = hex4 (c->p + 2);
  if (v >= 0)
    c->p += 6;
  return v;
}

static gboolean
check_string (JsonCheck *c)
{
  c->p++;                                        /* the opening quote */
  for (;;)
    {
      if (c->p >= c->end)
        return check_fail (c, "unterminated string");
      guchar b = (guchar) *c->p;
      if (b == '"')
        {
          c->p++;
          return TRUE;
        }
      if (b < 0x20)
        return check_fail (c, "control character in string");
      if (b != '\\')
        {
          c->p++;                                /* UTF-8 was validated before */
          continue;
        }
      if (c->end - c->p < 2)
        return check_fail (c, "unterminated string");
      switch (c->p[1])
        {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          c->p += 2;
          break;
        case 'u':
          {
            const char *at = c->p;
            int v = check_u_escape (c);
            if (v < 0)
              return check_fail (c, "bad \\u escape");
            if (v == 0)
              {
                c->p = at;
                return check_fail (c, "\\u0000 in string");
              }
            if (v >= 0xdc00 && v <= 0xdfff)
              {
                c->p = at;
                return check_fail (c, "unpaired surrogate in string");
              }
            if (v >= 0xd800 && v <= 0xdbff)
              {
                int lo = check_u_escape (c);
                if (lo < 0xdc00 || lo > 0xdfff)
                  {
                    c->p = at;
                    return check_fail (c, "unpaired surrogate in string");
                  }
              }
            break;
          }
        default:
          c->p++;
          return check_fail (c, "bad escape in string");
        }
    }
}

static gboolean
check_number (JsonCheck *c)
{
  const char *at = c->p;
  gboolean negative = FALSE, integer = TRUE;
  guint64 magnitude = 0;
  gboolean overflow = FALSE;

  if (*c->p == '-')
    {
      negative = TRUE;
      c->p++;
    }
  if (c->p >= c->end || !g_ascii_isdigit (*c->p))
    return check_fail (c, "bad number");
  if (*c->p == '0')
    {
      c->p++;
      if (c->p < c->end && g_ascii_isdigit (*c->p))
        return check_fail (c, "leading zero in number");
    }
  else
    while (c->p < c->end && g_ascii_isdigit (*c->p))
      {
        guint d = (guint) (*c->p - '0');
        if (magnitude > (G_MAXUINT64 - d) / 10)
          overflow = TRUE;
        else
          magnitude = magnitude * 10 + d;
        c->p++;
      }
  if (c->p < c->end && *c->p == '.')
    {
      integer = FALSE;
      c->p++;
      if (c->p >= c->end || !g_ascii_isdigit (*c->p))
        return check_fail (c, "bad number");
      while (c->p < c->end && g_ascii_isdigit (*c->p))
        c->p++;
    }
  if (c->p < c->end && (*c->p == 'e' || *c->p == 'E'))
    {
      integer = FALSE;
      c->p++;
      if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
        c->p++;
      if (c->p >= c->end || !g_ascii_isdigit (*c->p))
        return check_fail (c, "bad number");
      while (c->p < c->end && g_ascii_isdigit (*c->p))
        c->p++;
    }
  /* json-glib stores integers as gint64 and wraps larger ones around. */
  if (integer && (overflow || magnitude > (guint64) G_MAXINT64 + (negative ? 1 : 0)))
    {
      c->p = at;
      return check_fail (c, "integer out of 64-bit range");
    }
  return TRUE;
}

static gboolean check_value (JsonCheck *c, int depth);

static gboolean
check_container (JsonCheck *c, int depth, gboolean object)
{
  char close = object ? '}' : ']';
  if (depth >= LISSE_SAFETENSORS_MAX_DEPTH)
    {
      c->error = g_strdup_printf ("nesting deeper than %d levels",
                                  LISSE_SAFETENSORS_MAX_DEPTH);
      return FALSE;
    }
  c->p++;
  check_ws (c);
  if (c->p < c->end && *c->p == close)
    {
      c->p++;
      return TRUE;
    }
  for (;;)
    {
      if (object)
        {
          if (c->p >= c->end || *c->p != '"')
            return check_fail (c, "expected a string key");
          if (!check_string (c))
            return FALSE;
          check_ws (c);
          if (c->p >= c->end || *c->p != ':')
            return check_fail (c, "expected ':'");
          c->p++;
          c->members++;
        }
      if (!check_value (c, depth + 1))
        return FALSE;
      check_ws (c);
      if (c->p < c->end && *c->p == ',')
        {
          c->p++;
          check_ws (c);
          continue;
        }
      if (c->p < c->end && *c->p == close)
        {
          c->p++;
          return TRUE;
        }
      return check_fail (c, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static gboolean
check_value (JsonCheck *c, int depth)
{
  check_ws (c);
  if (++c->values > MAX_JSON_VALUES)
    {
      c->error = g_strdup_printf ("more than %d values", MAX_JSON_VALUES);
      return FALSE;
    }
  if (c->p >= c->end)
    return check_fail (c, "expected a value");
  switch (*c->p)
    {
    case '{': return check_container (c, depth, TRUE);
    case '[': return check_container (c, depth, FALSE);
    case '"': return check_string (c);
    case 't': return check_literal (c, "true");
    case 'f': return check_literal (c, "false");
    case 'n': return check_literal (c, "null");
    default:
      if (*c->p == '-' || g_ascii_isdigit (*c->p))
        return check_number (c);
      return check_fail (c, "expected a value");
    }
}

/* Object members in json-glib's tree (depth is bounded by the strict pass). */
static gsize
count_members (JsonNode *node)
{
  gsize n = 0;
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      JsonNode *member;
      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, NULL, &member))
        n += 1 + count_members (member);
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint len = json_array_get_length (array);
      for (guint i = 0; i < len; i++)
        n += count_members (json_array_get_element (array, i));
    }
  return n;
}

/* Parses the header into a JSON object, or fails with a message. */
static JsonParser *
parse_header (const char *header, gsize len, GError **error)
{
  if (!g_utf8_validate (header, (gssize) len, NULL))
    {
      /* g_utf8_validate() with a length also refuses NUL bytes. */
      bad_model (error, "header is not valid UTF-8");
      return NULL;
    }

  JsonCheck check = { header, header, header + len, 0, 0, NULL };
  if (check_value (&check, 0))
    {
      check_ws (&check);
      if (check.p < check.end)
        check_fail (&check, "trailing characters after the JSON value");
    }
  if (check.error)
    {
      bad_model (error, "header is not valid JSON: %s", check.error);
      g_free (check.error);
      return NULL;
    }
  /* The specification: the header MUST begin with '{' and MAY be padded
   * with trailing spaces. */
  gsize first = 0;
  while (first < len && (header[first] == ' ' || header[first] == '\t'
                         || header[first] == '\n' || header[first] == '\r'))
    first++;
  if (first == len || header[first] != '{')
    {
      bad_model (error, "header is not a JSON object");
      return NULL;
    }
  if (first != 0)
    {
      bad_model (error, "header does not begin with '{'");
      return NULL;
    }

  JsonParser *parser = json_parser_new_immutable ();
  GError *json_error = NULL;
  if (!json_parser_load_from_data (parser, header, (gssize) len, &json_error))
    {
      /* Should not happen after the strict pass; keep the message one line. */
      g_strdelimit (json_error->message, "\r\n", ' ');
      bad_model (error, "header is not valid JSON: %s", json_error->message);
      g_error_free (json_error);
      g_object_unref (parser);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    {
      bad_model (error, "header is not a JSON object");
      g_object_unref (parser);
      return NULL;
    }
  if (count_members (root) != check.members)
    {
      bad_model (error, "header has a duplicate key");
      g_object_unref (parser);
      return NULL;
    }
  return parser;
}

/* ------------------------------------------------------------------------ */
/* Entries                                                                  */

const char *
lisse_dtype_name (LisseDtype dtype)
{
  switch (dtype)
    {
    case LISSE_DTYPE_F32:  return "F32";
    case LISSE_DTYPE_F16:  return "F16";
    case LISSE_DTYPE_BF16: return "BF16";
    case LISSE_DTYPE_F64:  return "F64";
    }
  return "?";
}

gsize
lisse_dtype_size (LisseDtype dtype)
{
  switch (dtype)
    {
    case LISSE_DTYPE_F32:  return 4;
    case LISSE_DTYPE_F16:  return 2;
    case LISSE_DTYPE_BF16: return 2;
    case LISSE_DTYPE_F64:  return 8;
    }
  return 0;
}

char *
lisse_safetensors_format_shape (const int *shape, int rank)
{
  GString *s = g_string_new ("[");
  for (int i = 0; i < rank; i++)
    {
      if (i)
        g_string_append_c (s, ',');
      if (shape[i] < 0)
        g_string_append_c (s, '?');
      else
        g_string_append_printf (s, "%d", shape[i]);
    }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
json_is_int (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64;
}

/* Fills @e from the header entry @node; @qname is the quoted name. */
static gboolean
parse_entry (JsonNode *node, const char *qname, gsize data_size,
             LisseSafetensorsEntry *e, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      bad_model (error, "entry for tensor %s is not an object", qname);
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (node);

  JsonNode *dtype = json_object_get_member (obj, "dtype");
  if (!dtype)
    {
      bad_model (error, "tensor %s lacks \"dtype\"", qname);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (dtype) || json_node_get_value_type (dtype) != G_TYPE_STRING)
    {
      bad_model (error, "tensor %s: \"dtype\" is not a string", qname);
      return FALSE;
    }
  const char *dname = json_node_get_string (dtype);
  if (strcmp (dname, "F32") == 0)
    e->dtype = LISSE_DTYPE_F32;
  else if (strcmp (dname, "F16") == 0)
    e->dtype = LISSE_DTYPE_F16;
  else if (strcmp (dname, "BF16") == 0)
    e->dtype = LISSE_DTYPE_BF16;
  else if (strcmp (dname, "F64") == 0)
    e->dtype = LISSE_DTYPE_F64;
  else
    {
      char *qd = lisse_safetensors_quote_name (dname);
      bad_model (error, "unsupported dtype %s for tensor %s (Lisse reads F32, F16, BF16, F64)",
                 qd, qname);
      g_free (qd);
      return FALSE;
    }

  JsonNode *shape = json_object_get_member (obj, "shape");
  if (!shape)
    {
      bad_model (error, "tensor %s lacks \"shape\"", qname);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (shape))
    {
      bad_model (error, "tensor %s: \"shape\" is not an array", qname);
      return FALSE;
    }
  JsonArray *dims = json_node_get_array (shape);
  guint rank = json_array_get_length (dims);
  if (rank > LISSE_SAFETENSORS_MAX_RANK)
    {
      bad_model (error, "tensor %s has rank %u; at most %d is supported",
                 qname, rank, LISSE_SAFETENSORS_MAX_RANK);
      return FALSE;
    }
  e->rank = (int) rank;
  /* Every dimension is checked before the product, so that a 0 among them
   * does not let an absurd one through. */
  for (guint i = 0; i < rank; i++)
    {
      JsonNode *d = json_array_get_element (dims, i);
      if (!json_is_int (d))
        {
          bad_model (error, "tensor %s: shape dimension %u is not an integer", qname, i);
          return FALSE;
        }
      gint64 v = json_node_get_int (d);
      if (v < 0)
        {
          bad_model (error, "tensor %s: shape dimension %u is negative (%" G_GINT64_FORMAT ")",
                     qname, i, v);
          return FALSE;
        }
      if (v > G_MAXINT32)
        {
          bad_model (error, "tensor %s: shape dimension %u is too large (%" G_GINT64_FORMAT ")",
                     qname, i, v);
          return FALSE;
        }
      e->shape[i] = (int) v;
    }
  guint64 count = 1;
  for (guint i = 0; i < rank; i++)
    {
      guint64 d = (guint64) e->shape[i];
      if (d != 0 && count > LISSE_SAFETENSORS_MAX_ELEMENTS / d)
        {
          char *s = lisse_safetensors_format_shape (e->shape, e->rank);
          bad_model (error, "tensor %s has too many elements (shape %s; at most %d)",
                     qname, s, LISSE_SAFETENSORS_MAX_ELEMENTS);
          g_free (s);
          return FALSE;
        }
      count *= d;
    }
  e->n_elements = (gsize) count;

  JsonNode *offsets = json_object_get_member (obj, "data_offsets");
  if (!offsets)
    {
      bad_model (error, "tensor %s lacks \"data_offsets\"", qname);
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (offsets)
      || json_array_get_length (json_node_get_array (offsets)) != 2
      || !json_is_int (json_array_get_element (json_node_get_array (offsets), 0))
      || !json_is_int (json_array_get_element (json_node_get_array (offsets), 1)))
    {
      bad_model (error, "tensor %s: \"data_offsets\" is not an array of two integers", qname);
      return FALSE;
    }
  JsonArray *off = json_node_get_array (offsets);
  gint64 begin = json_array_get_int_element (off, 0);
  gint64 end = json_array_get_int_element (off, 1);
  if (begin < 0 || end < 0)
    {
      bad_model (error, "tensor %s has negative data_offsets [%" G_GINT64_FORMAT ", %"
                 G_GINT64_FORMAT "]", qname, begin, end);
      return FALSE;
    }
  if (begin > end)
    {
      bad_model (error, "tensor %s has data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                 "] that begin after they end", qname, begin, end);
      return FALSE;
    }
  if ((guint64) end > data_size)
    {
      bad_model (error, "tensor %s ends at byte %" G_GINT64_FORMAT " of a %" G_GSIZE_FORMAT
                 "-byte data section", qname, end, data_size);
      return FALSE;
    }
  /* count ≤ 2^31 and sizes ≤ 8: no overflow. */
  guint64 expected = count * lisse_dtype_size (e->dtype);
  if ((guint64) (end - begin) != expected)
    {
      char *s = lisse_safetensors_format_shape (e->shape, e->rank);
      bad_model (error, "tensor %s: shape %s of %s needs %" G_GUINT64_FORMAT
                 " bytes but data_offsets span %" G_GINT64_FORMAT,
                 qname, s, lisse_dtype_name (e->dtype), expected, end - begin);
      g_free (s);
      return FALSE;
    }
  e->begin = (guint64) begin;
  e->end = (guint64) end;
  return TRUE;
}

static gboolean
parse_metadata (JsonNode *node, GHashTable *metadata, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      bad_model (error, "__metadata__ is not an object");
      return FALSE;
    }
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &key, &value))
    {
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        {
          char *q = lisse_safetensors_quote_name (key);
          bad_model (error, "metadata %s is not a string", q);
          g_free (q);
          return FALSE;
        }
      g_hash_table_insert (metadata, g_strdup (key), g_strdup (json_node_get_string (value)));
    }
  return TRUE;
}

static int
compare_by_offset (const void *a, const void *b)
{
  const LisseSafetensorsEntry *x = *(const LisseSafetensorsEntry * const *) a;
  const LisseSafetensorsEntry *y = *(const LisseSafetensorsEntry * const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return strcmp (x->name, y->name);
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The specification requires the tensors to cover the data section exactly:
 * no overlap (two names for the same bytes would be a trap for a writer),
 * no holes, nothing after the last tensor. */
static gboolean
check_coverage (LisseSafetensors *st, GError **error)
{
  LisseSafetensorsEntry **sorted = g_new (LisseSafetensorsEntry *, st->n_entries + 1);
  for (guint i = 0; i < st->n_entries; i++)
    sorted[i] = &st->entries[i];
  qsort (sorted, st->n_entries, sizeof *sorted, compare_by_offset);

  gboolean ok = TRUE;
  guint64 covered = 0;
  const LisseSafetensorsEntry *prev = NULL;
  for (guint i = 0; i < st->n_entries && ok; i++)
    {
      const LisseSafetensorsEntry *e = sorted[i];
      char *q = lisse_safetensors_quote_name (e->name);
      if (e->begin < covered)
        {
          char *qp = lisse_safetensors_quote_name (prev->name);
          bad_model (error, "tensor %s overlaps tensor %s in the data section", q, qp);
          g_free (qp);
          ok = FALSE;
        }
      else if (e->begin > covered)
        {
          bad_model (error, "data section has a hole of %" G_GUINT64_FORMAT
                     " bytes before tensor %s", e->begin - covered, q);
          ok = FALSE;
        }
      g_free (q);
      covered = e->end;
      prev = e;
    }
  if (ok && covered != st->data_size)
    {
      bad_model (error, "data section has %" G_GUINT64_FORMAT
                 " bytes after the last tensor", (guint64) st->data_size - covered);
      ok = FALSE;
    }
  g_free (sorted);
  return ok;
}

static gboolean
parse (LisseSafetensors *st, GError **error)
{
  gsize size;
  const guint8 *file = g_bytes_get_data (st->bytes, &size);

  if (size < 8)
    {
      bad_model (error, "file is %" G_GSIZE_FORMAT " bytes, too short for a safetensors header",
                 size);
      return FALSE;
    }
  guint64 header_len;
  memcpy (&header_len, file, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > size - 8)
    {
      bad_model (error, "header length %" G_GUINT64_FORMAT " exceeds file size %" G_GSIZE_FORMAT,
                 header_len, size);
      return FALSE;
    }
  if (header_len > LISSE_SAFETENSORS_MAX_HEADER)
    {
      bad_model (error, "header length %" G_GUINT64_FORMAT " exceeds the limit of %d bytes",
                 header_len, LISSE_SAFETENSORS_MAX_HEADER);
      return FALSE;
    }
  st->data = file + 8 + header_len;
  st->data_size = size - 8 - (gsize) header_len;

  JsonParser *parser = parse_header ((const char *) file + 8, (gsize) header_len, error);
  if (!parser)
    return FALSE;
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));

  gboolean ok = TRUE;
  guint n_members = json_object_get_size (root);
  st->entries = g_new0 (LisseSafetensorsEntry, MAX (n_members, 1));
  /* In file order, so that the first bad entry of the file is the one
   * reported. */
  GList *members = json_object_get_members (root);
  for (GList *l = members; l && ok; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (root, name);
      if (strcmp (name, "__metadata__") == 0)
        {
          ok = parse_metadata (node, st->metadata, error);
          continue;
        }
      LisseSafetensorsEntry *e = &st->entries[st->n_entries];
      char *qname = lisse_safetensors_quote_name (name);
      ok = parse_entry (node, qname, st->data_size, e, error);
      g_free (qname);
      if (!ok)
        break;
      e->name = g_strdup (name);
      e->data = st->data + e->begin;
      st->n_entries++;
      g_hash_table_insert (st->index, (gpointer) e->name, e);
    }
  g_list_free (members);
  g_object_unref (parser);
  if (!ok || !check_coverage (st, error))
    return FALSE;

  st->names = g_new (const char *, st->n_entries + 1);
  for (guint i = 0; i < st->n_entries; i++)
    st->names[i] = st->entries[i].name;
  st->names[st->n_entries] = NULL;
  qsort (st->names, st->n_entries, sizeof *st->names, compare_strings);

  guint n_keys;
  st->metadata_keys = (const char **) g_hash_table_get_keys_as_array (st->metadata, &n_keys);
  qsort (st->metadata_keys, n_keys, sizeof *st->metadata_keys, compare_strings);
  return TRUE;
}

LisseSafetensors *
lisse_safetensors_open_bytes (GBytes *bytes, GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  LisseSafetensors *st = g_new0 (LisseSafetensors, 1);
  st->bytes = g_bytes_ref (bytes);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  st->index = g_hash_table_new (g_str_hash, g_str_equal);
  if (!parse (st, error))
    {
      lisse_safetensors_free (st);
      return NULL;
    }
  return st;
}

LisseSafetensors *
lisse_safetensors_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  GError *io_error = NULL;
  GMappedFile *mapped = g_mapped_file_new (path, FALSE, &io_error);
  if (!mapped)
    {
      g_set_error (error, LISSE_ERROR, LISSE_ERROR_IO,
                   "cannot read model file: %s", io_error->message);
      g_error_free (io_error);
      return NULL;
    }
  GBytes *bytes = g_mapped_file_get_bytes (mapped);
  g_mapped_file_unref (mapped);
  LisseSafetensors *st = lisse_safetensors_open_bytes (bytes, error);
  g_bytes_unref (bytes);
  if (!st)
    {
      char *display = g_filename_display_name (path);
      g_prefix_error (error, "%s: ", display);
      g_free (display);
    }
  return st;
}

void
lisse_safetensors_free (LisseSafetensors *st)
{
  if (!st)
    return;
  for (guint i = 0; i < st->n_entries; i++)
    g_free ((char *) st->entries[i].name);
  g_free (st->entries);
  g_free (st->names);
  g_free (st->metadata_keys);
  g_hash_table_unref (st->index);
  g_hash_table_unref (st->metadata);
  g_bytes_unref (st->bytes);
  g_free (st);
}

const char *
lisse_safetensors_get_metadata (const LisseSafetensors *st, const char *key)
{
  g_return_val_if_fail (st && key, NULL);
  return g_hash_table_lookup (st->metadata, key);
}

const char * const *
lisse_safetensors_get_metadata_keys (const LisseSafetensors *st)
{
  g_return_val_if_fail (st, NULL);
  return st->metadata_keys;
}

const char * const *
lisse_safetensors_get_names (const LisseSafetensors *st)
{
  g_return_val_if_fail (st, NULL);
  return st->names;
}

guint
lisse_safetensors_get_n_tensors (const LisseSafetensors *st)
{
  g_return_val_if_fail (st, 0);
  return st->n_entries;
}

const LisseSafetensorsEntry *
lisse_safetensors_lookup (const LisseSafetensors *st, const char *name)
{
  g_return_val_if_fail (st && name, NULL);
  return g_hash_table_lookup (st->index, name);
}

/* ------------------------------------------------------------------------ */
/* Conversion                                                               */

gboolean
lisse_safetensors_entry_nchw (const LisseSafetensorsEntry *e, int nchw[4])
{
  if (e->rank > 4 || e->n_elements == 0)
    return FALSE;
  for (int i = 0; i < 4; i++)
    nchw[i] = i < e->rank ? e->shape[i] : 1;
  return TRUE;
}

/* IEEE binary16 → binary32, exactly (every half is a float). */
static float
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f;
  guint32 mantissa = h & 0x3ff;
  guint32 bits;
  float f;

  if (exponent == 0)
    {
      /* zero or subnormal: mantissa × 2^-24, exact in float */
      f = ldexpf ((float) mantissa, -24);
      return sign ? -f : f;
    }
  if (exponent == 31)
    bits = sign | 0x7f800000u | (mantissa << 13);   /* inf, NaN (payload kept) */
  else
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  memcpy (&f, &bits, 4);
  return f;
}

static float
bf16_to_float (guint16 h)
{
  guint32 bits = (guint32) h << 16;
  float f;
  memcpy (&f, &bits, 4);
  return f;
}

static float
double_to_float (double d)
{
  /* Converting an out-of-range double is undefined in C; saturate to inf. */
  if (d > FLT_MAX)
    return INFINITY;
  if (d < -FLT_MAX)
    return -INFINITY;
  return (float) d;
}

LisseTensor *
lisse_safetensors_get_tensor (const LisseSafetensors *st, const char *name, GError **error)
{
  g_return_val_if_fail (st && name, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, name);
  if (!e)
    {
      char *q = lisse_safetensors_quote_name (name);
      bad_model (error, "model file lacks tensor %s", q);
      g_free (q);
      return NULL;
    }
  int d[4];
  if (!lisse_safetensors_entry_nchw (e, d))
    {
      char *q = lisse_safetensors_quote_name (name);
      char *s = lisse_safetensors_format_shape (e->shape, e->rank);
      if (e->rank > 4)
        bad_model (error, "tensor %s has shape %s; Lisse tensors have at most 4 dimensions",
                   q, s);
      else
        bad_model (error, "tensor %s has shape %s, which holds no elements", q, s);
      g_free (s);
      g_free (q);
      return NULL;
    }

  if (e->dtype == LISSE_DTYPE_F32 && G_BYTE_ORDER == G_LITTLE_ENDIAN
      && ((uintptr_t) e->data % sizeof (float)) == 0)
    return lisse_tensor_new_view ((float *) e->data, d[0], d[1], d[2], d[3]);

  LisseTensor *t = lisse_tensor_try_new (d[0], d[1], d[2], d[3], error);
  if (!t)
    return NULL;
  /* memcpy per element: the source may be unaligned. */
  const guint8 *src = e->data;
  float *dst = t->data;
  gsize n = e->n_elements;
  switch (e->dtype)
    {
    case LISSE_DTYPE_F32:
      for (gsize i = 0; i < n; i++)
        {
          guint32 v;
          memcpy (&v, src + 4 * i, 4);
          v = GUINT32_FROM_LE (v);
          memcpy (&dst[i], &v, 4);
        }
      break;
    case LISSE_DTYPE_F16:
      for (gsize i = 0; i < n; i++)
        {
          guint16 v;
          memcpy (&v, src + 2 * i, 2);
          dst[i] = half_to_float (GUINT16_FROM_LE (v));
        }
      break;
    case LISSE_DTYPE_BF16:
      for (gsize i = 0; i < n; i++)
        {
          guint16 v;
          memcpy (&v, src + 2 * i, 2);
          dst[i] = bf16_to_float (GUINT16_FROM_LE (v));
        }
      break;
    case LISSE_DTYPE_F64:
      for (gsize i = 0; i < n; i++)
        {
          guint64 v;
          double x;
          memcpy (&v, src + 8 * i, 8);
          v = GUINT64_FROM_LE (v);
          memcpy (&x, &v, 8);
          dst[i] = double_to_float (x);
        }
      break;
    }
  return t;
}
