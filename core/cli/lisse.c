/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The `lisse` command: run a network, a classical filter or an effect on
 * an image file, list and inspect models.
 *
 * Failure contract: any error prints exactly one line "lisse: <message>" on
 * stderr, exits non-zero (1; 2 for a malformed command line) and leaves no
 * output file.  Progress is shown only when stderr is a terminal.
 */
#include "classic/filter.h"
#include "effects/effect.h"
#include "image-io.h"
#include "lisse-error.h"
#include "model.h"
#include "nets/net.h"
#include "params.h"
#include "progress.h"
#include "safetensors.h"
#include "threads.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LISSE_VERSION
#define LISSE_VERSION "unknown"
#endif

#define EXIT_USAGE 2

static const char *const usage_text =
  "Usage: lisse COMMAND [OPTION…]\n"
  "\n"
  "Learned and classical edge-preserving image smoothing.\n"
  "\n"
  "Commands:\n"
  "  run --model NAME|FILE [--set KEY=VALUE]… [--guide FILE] [--tile N] [--threads N] IN OUT\n"
  "                       smooth IN with a network, write OUT\n"
  "  filter METHOD [--set KEY=VALUE]… [--guide FILE] [--threads N] IN OUT\n"
  "                       smooth IN with a classical filter\n"
  "  filter --list        list the filters and their parameters\n"
  "  effect NAME [--set KEY=VALUE]… [--choice NICK] [--aux FILE] [--threads N] IN OUT\n"
  "                       apply an effect (smooth, magnify-detail, …)\n"
  "  effect --list        list the effects, their parameters and choices\n"
  "  models               list the models in the search path\n"
  "  info MODEL           describe a model file: metadata, tensors\n"
  "\n"
  "Images: PNG, JPEG and TIFF; 8 or 16 bits, TIFF also 32-bit float.  OUT\n"
  "gets IN's bit depth where its format allows (--depth 8|16|32 to choose),\n"
  "keeps alpha untouched, and its format follows its extension.\n"
  "Models: NAME.safetensors in $LISSE_MODEL_PATH (':'-separated), then\n"
  "  " LISSE_MODELDIR ", or a file path.\n"
  "Threads: --threads N, else $LISSE_THREADS, else all cores.\n"
  "\n"
  "  lisse --version      print the version\n"
  "  lisse COMMAND --help help for one command\n";

/* ---- errors ------------------------------------------------------------ */

/* One line: whatever a message holds (a file name with a newline, a
 * library's multi-line complaint), it is printed on one line. */
static void
print_error_line (const char *message)
{
  g_autofree char *line = g_strdup (message ? message : "unknown error");
  for (char *p = line; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  fflush (stdout);
  fprintf (stderr, "lisse: %s\n", line);
}

static int
report (GError *error)
{
  print_error_line (error ? error->message : NULL);
  g_clear_error (&error);
  return EXIT_FAILURE;
}

static int
usage_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  print_error_line (msg);
  return EXIT_USAGE;
}

/* ---- progress ---------------------------------------------------------- */

typedef struct
{
  gboolean shown;
  int      last;   /* last percentage printed */
} ProgressState;

static gboolean
progress_print (double fraction, gpointer data)
{
  ProgressState *s = data;
  int pct = (int) (fraction * 100.0);
  if (pct != s->last)
    {
      fprintf (stderr, "\rlisse: %3d%%", pct);
      fflush (stderr);
      s->last = pct;
      s->shown = TRUE;
    }
  return TRUE;
}

/* A terminal gets a percentage; pipes and logs get nothing. */
static LisseProgress
progress_make (ProgressState *state)
{
  *state = (ProgressState) { FALSE, -1 };
  if (!isatty (STDERR_FILENO))
    return (LisseProgress) { NULL, NULL, 0.0, 1.0 };
  return (LisseProgress) { progress_print, state, 0.0, 1.0 };
}

static void
progress_clear (ProgressState *state)
{
  if (state->shown)
    {
      fputs ("\r\033[K", stderr);
      fflush (stderr);
      state->shown = FALSE;
    }
}

/* ---- shared option handling -------------------------------------------- */

/* Parses with GOptionContext; its messages ("Unknown option --x") are
 * already one line. */
static gboolean
parse_options (GOptionContext *ctx, int *argc, char ***argv, int *status)
{
  GError *error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      *status = usage_error ("%s (try '%s --help')", error->message,
                             g_get_prgname () ? g_get_prgname () : "lisse");
      g_error_free (error);
      return FALSE;
    }
  return TRUE;
}

/* --threads not given: LISSE_THREADS or all cores (threads.h). */
#define THREADS_UNSET G_MININT

static gboolean
apply_threads (int threads, int *status)
{
  if (threads == THREADS_UNSET)
    return TRUE;
  if (threads < 1 || threads > 256)
    {
      *status = usage_error ("--threads must be between 1 and 256, not %d", threads);
      return FALSE;
    }
  lisse_threads_set (threads);
  return TRUE;
}

static gboolean
apply_sets (LisseParams *params, char **sets, int *status)
{
  for (int i = 0; sets && sets[i]; i++)
    {
      GError *error = NULL;
      if (!lisse_params_parse (params, sets[i], &error))
        {
          *status = report (error);
          return FALSE;
        }
    }
  return TRUE;
}

static void
print_param_specs (const LisseParamSpec *specs, int n, const char *indent)
{
  if (n == 0)
    printf ("%s(no parameters)\n", indent);
  for (int i = 0; i < n; i++)
    {
      const LisseParamSpec *s = &specs[i];
      /* The numbers exactly as the range check and its messages use them. */
      g_autofree char *lo = lisse_params_format_number (s->min);
      g_autofree char *hi = lisse_params_format_number (s->max);
      g_autofree char *def = lisse_params_format_number (s->def);
      printf ("%s%-18s %s in [%s, %s], default %s%s",
              indent, s->name, s->label, lo, hi, def,
              s->integer ? ", whole numbers" : "");
      if (s->blurb && *s->blurb)
        printf (" — %s", s->blurb);
      putchar ('\n');
    }
}

/* The start of `filter` and `effect`: --threads, then the parameters from
 * their specs and --set.  FALSE with *@status set on a bad option. */
static gboolean
params_from_options (int threads, char **sets, const LisseParamSpec *specs, int n_specs,
                     LisseParams *params, int *status)
{
  if (!apply_threads (threads, status))
    return FALSE;
  lisse_params_init (params, specs, n_specs);
  return apply_sets (params, sets, status);
}

/* Whether a method fits the memory budget for an image of this size
 * (lisse_filter_check_memory, lisse_effect_check_memory). */
typedef gboolean (*FitsFunc) (gconstpointer method, const LisseImageInfo *info,
                              GError **error);

/* IN as one tensor, and the writer of OUT, made before the long part so
 * that a wrong extension costs no run.  @fits is asked once IN's size is
 * known and before its pixels are converted to floats, so an image beyond
 * the memory budget is refused before the engine's copy of it exists.
 * NULL with @error set. */
static LisseTensor *
load_whole_image (const char *in, const char *out, int depth, FitsFunc fits,
                  gconstpointer method, LisseImageInfo *info, LisseImageWriter **writer,
                  GError **error)
{
  lisse_image_io_init ("lisse");
  g_autoptr (LisseImageReader) reader = lisse_image_reader_open (in, error);
  if (!reader)
    return NULL;
  *info = *lisse_image_reader_get_info (reader);
  if (!fits (method, info, error))
    return NULL;
  *writer = lisse_image_writer_new (out, info, depth, error);
  if (!*writer)
    return NULL;
  return lisse_image_reader_read_all (reader, error);
}

/* The end of `filter` and `effect`: @result (NULL when the run failed,
 * with @error) written whole and OUT committed, or the one-line error. */
static int
write_whole_image (const LisseTensor *result, LisseImageWriter *writer, GError *error)
{
  if (!result
      || !lisse_image_write_rect (0, 0, result, writer, &error)
      || !lisse_image_writer_commit (writer, &error))
    return report (error);
  return EXIT_SUCCESS;
}

/* ---- lisse run --------------------------------------------------------- */

typedef struct
{
  LisseImageReader *reader;
  LisseImageWriter *writer;
  LisseImageReader *guide;      /* NULL, or the guide (`--guide`) */
  int               channels;   /* the input's */
} Pipe;

/* The input's rectangle, then (with a guide) the guide's as three R'G'B'
 * planes after it: the network's parameter map (net.h, map_kind "guide"). */
static gboolean
pipe_read (int x, int y, LisseTensor *dst, gpointer data, GError **error)
{
  const Pipe *p = data;
  if (!lisse_image_read_rect (x, y, dst, p->reader, error))
    return FALSE;
  if (!p->guide)
    return TRUE;
  const int gc = lisse_image_reader_get_info (p->guide)->channels;
  g_autoptr (LisseTensor) g = lisse_tensor_try_new (1, gc, dst->h, dst->w, error);
  if (!g || !lisse_image_read_rect (x, y, g, p->guide, error))
    return FALSE;
  const size_t plane = (size_t) dst->h * dst->w;
  for (int c = 0; c < 3; c++)   /* gray (± alpha) repeated, alpha dropped */
    memcpy (lisse_tensor_channel (dst, 0, p->channels + c),
            lisse_tensor_channel (g, 0, gc <= 2 ? 0 : c), plane * sizeof (float));
  return TRUE;
}

static gboolean
pipe_write (int x, int y, const LisseTensor *src, gpointer data, GError **error)
{
  return lisse_image_write_rect (x, y, src, ((Pipe *) data)->writer, error);
}

typedef struct
{
  char  *model;
  char  *guide;
  char **sets;
  int    tile, threads, depth;
} RunOptions;

/* Separate from option parsing so that every early return releases what it
 * made (g_autoptr), with no goto jumping over an initialisation. */
static int
do_run (const RunOptions *o, const char *in, const char *out)
{
  int status = EXIT_SUCCESS;
  if (o->tile < 0)
    return usage_error ("--tile must be 0 (automatic) or a positive size, not %d", o->tile);
  if (!apply_threads (o->threads, &status))
    return status;

  GError *error = NULL;
  g_autoptr (LisseNet) net = lisse_net_open (o->model, &error);
  if (!net)
    return report (error);
  LisseParams params;
  lisse_net_params_init (net, &params);
  if (!apply_sets (&params, o->sets, &status))
    return status;

  lisse_image_io_init ("lisse");
  g_autoptr (LisseImageReader) reader = lisse_image_reader_open (in, &error);
  if (!reader)
    return report (error);
  const LisseImageInfo *info = lisse_image_reader_get_info (reader);
  /* The output is checked before the long part: a wrong extension must not
   * cost a network run. */
  g_autoptr (LisseImageWriter) writer = lisse_image_writer_new (out, info, o->depth, &error);
  if (!writer)
    return report (error);

  g_autoptr (LisseImageReader) guide = NULL;
  int map_channels = 0;
  if (o->guide)
    {
      if (g_strcmp0 (net->info->map_kind, "guide") != 0)
        {
          g_set_error (&error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                       "the %s network takes no guide image (--guide is for joint "
                       "filtering with a fang19 model)", net->info->architecture);
          return report (error);
        }
      if (!(guide = lisse_image_reader_open (o->guide, &error)))
        return report (error);
      const LisseImageInfo *gi = lisse_image_reader_get_info (guide);
      if (gi->width != info->width || gi->height != info->height)
        {
          g_set_error (&error, LISSE_ERROR, LISSE_ERROR_INVALID_ARGUMENT,
                       "%s: the guide is %d×%d but %s is %d×%d", o->guide, gi->width,
                       gi->height, in, info->width, info->height);
          return report (error);
        }
      map_channels = net->info->n_map_channels;
    }

  ProgressState ps;
  LisseProgress progress = progress_make (&ps);
  Pipe pipe = { reader, writer, guide, info->channels };
  gboolean ok = lisse_net_run_stream (net, info->width, info->height, info->channels,
                                      map_channels, &params, o->tile, pipe_read, pipe_write,
                                      &pipe, &progress, &error);
  progress_clear (&ps);
  if (!ok || !lisse_image_writer_commit (writer, &error))
    return report (error);
  return EXIT_SUCCESS;
}

static int
cmd_run (int argc, char **argv)
{
  RunOptions o = { .threads = THREADS_UNSET };
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model,
      "Model name (from the search path) or file", "NAME|FILE" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &o.sets,
      "Set a network parameter (repeatable)", "KEY=VALUE" },
    { "guide", 'g', 0, G_OPTION_ARG_FILENAME, &o.guide,
      "Filter IN under the guidance of this image, of IN's size (joint filtering; fang19 "
      "models)", "FILE" },
    { "tile", 't', 0, G_OPTION_ARG_INT, &o.tile,
      "Tile edge in pixels (0: automatic; global networks run whole up to their size, "
      "then tile with context)", "N" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &o.threads, "Number of threads", "N" },
    { "depth", 'd', 0, G_OPTION_ARG_INT, &o.depth,
      "Output bits per channel: 8, 16 or 32 (float, TIFF only)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("IN OUT");
  g_option_context_set_summary (ctx, "Smooth IN with a network and write OUT.\n"
                                "'lisse info MODEL' lists the network's parameters.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_set_prgname ("lisse run");
  int status;
  if (!parse_options (ctx, &argc, &argv, &status))
    ;
  else if (!o.model)
    status = usage_error ("run needs --model NAME|FILE");
  else if (argc != 3)
    status = usage_error ("run needs an input and an output file, e.g. "
                          "'lisse run --model M in.png out.png'");
  else
    status = do_run (&o, argv[1], argv[2]);
  g_free (o.model);
  g_free (o.guide);
  g_strfreev (o.sets);
  return status;
}

/* ---- lisse filter ------------------------------------------------------ */

static const char *
guide_use_name (LisseGuideUse use)
{
  switch (use)
    {
    case LISSE_GUIDE_NONE: return "self-guided";
    case LISSE_GUIDE_OPTIONAL: return "optional --guide";
    case LISSE_GUIDE_REQUIRED: return "needs --guide";
    }
  return "";
}

static void
list_filters (void)
{
  for (const LisseFilterInfo *const *f = lisse_filters (); *f; f++)
    {
      printf ("%-18s %s (%s; %s)\n", (*f)->name, (*f)->title, (*f)->reference,
              guide_use_name ((*f)->guide));
      print_param_specs ((*f)->params, (*f)->n_params, "    ");
    }
}

static char *
filter_names (void)
{
  GString *s = g_string_new (NULL);
  for (const LisseFilterInfo *const *f = lisse_filters (); *f; f++)
    g_string_append_printf (s, "%s%s", s->len ? ", " : "", (*f)->name);
  return g_string_free (s, FALSE);
}

typedef struct
{
  char   **sets;
  char    *guide;
  int      threads, depth;
  gboolean list;
} FilterOptions;

/* A FitsFunc.  A guide, when given, is counted as three more channels. */
static gboolean
filter_fits (gconstpointer method, const LisseImageInfo *info, GError **error)
{
  const LisseFilterInfo *f = method;
  return lisse_filter_check_memory (f, info->width, info->height, info->channels,
                                    f->guide == LISSE_GUIDE_NONE ? 0 : 3, error);
}

static int
do_filter (const FilterOptions *o, const LisseFilterInfo *info, const char *in,
           const char *out)
{
  int status = EXIT_SUCCESS;
  LisseParams params;
  if (!params_from_options (o->threads, o->sets, info->params, info->n_params, &params,
                            &status))
    return status;
  if (o->guide && info->guide == LISSE_GUIDE_NONE)
    return usage_error ("%s does not take a guide image", info->name);
  if (!o->guide && info->guide == LISSE_GUIDE_REQUIRED)
    return usage_error ("%s needs a guide image (--guide FILE)", info->name);

  GError *error = NULL;
  LisseImageInfo image_info;
  g_autoptr (LisseImageWriter) writer = NULL;
  g_autoptr (LisseTensor) image = load_whole_image (in, out, o->depth, filter_fits, info,
                                                    &image_info, &writer, &error);
  if (!image)
    return report (error);
  g_autoptr (LisseTensor) guide = NULL;
  LisseTensor guide_view;
  if (o->guide)
    {
      LisseImageInfo guide_info;
      guide = lisse_image_load (o->guide, &guide_info, &error);
      if (!guide)
        return report (error);
      /* The filters take the guide's colour only; its colour channels lead,
       * so a view of them drops the alpha without a copy. */
      guide_view = *guide;
      guide_view.c = guide->c - (guide_info.has_alpha ? 1 : 0);
      guide_view.owns_data = FALSE;
    }

  ProgressState ps;
  LisseProgress progress = progress_make (&ps);
  int n_color = image_info.channels - (image_info.has_alpha ? 1 : 0);
  g_autoptr (LisseTensor) result = lisse_filter_run (info, image, n_color,
                                                     guide ? &guide_view : NULL,
                                                     &params, &progress, &error);
  progress_clear (&ps);
  return write_whole_image (result, writer, error);
}

static int
cmd_filter (int argc, char **argv)
{
  FilterOptions o = { .threads = THREADS_UNSET };
  GOptionEntry entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &o.sets,
      "Set a filter parameter (repeatable)", "KEY=VALUE" },
    { "guide", 'g', 0, G_OPTION_ARG_FILENAME, &o.guide,
      "Guide image for joint filtering (its alpha is ignored)", "FILE" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &o.threads, "Number of threads", "N" },
    { "depth", 'd', 0, G_OPTION_ARG_INT, &o.depth,
      "Output bits per channel: 8, 16 or 32 (float, TIFF only)", "N" },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &o.list,
      "List the filters and their parameters", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("METHOD IN OUT");
  g_autofree char *names = filter_names ();
  g_autofree char *summary = g_strdup_printf ("Smooth IN with a classical filter and "
                                              "write OUT.\nMethods: %s "
                                              "('lisse filter --list' for parameters).",
                                              names);
  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_set_prgname ("lisse filter");
  int status = EXIT_SUCCESS;
  const LisseFilterInfo *info = NULL;
  if (!parse_options (ctx, &argc, &argv, &status))
    ;
  else if (o.list || argc == 1)
    list_filters ();
  else if (!(info = lisse_filter_find (argv[1])))
    status = report (g_error_new (LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME,
                                  "unknown filter '%s' (known: %s)", argv[1], names));
  else if (argc != 4)
    status = usage_error ("filter needs a method, an input and an output file, e.g. "
                          "'lisse filter %s in.png out.png'", info->name);
  else
    status = do_filter (&o, info, argv[2], argv[3]);
  g_strfreev (o.sets);
  g_free (o.guide);
  return status;
}

/* ---- lisse effect ------------------------------------------------------ */

static const char *
aux_use_name (const LisseEffectInfo *e)
{
  if (e->aux == LISSE_EFFECT_AUX_NONE)
    return "one input";
  if (e->aux == LISSE_EFFECT_AUX_MASK)
    return e->aux_required ? "needs --aux MASK" : "optional --aux MASK";
  return e->aux_required ? "needs --aux GUIDE" : "optional --aux GUIDE";
}

static void
list_effects (void)
{
  for (const LisseEffectInfo *const *e = lisse_effects (); *e; e++)
    {
      printf ("%-18s %s (%s; %s)\n", (*e)->name, (*e)->title, (*e)->reference,
              aux_use_name (*e));
      printf ("    %s\n", (*e)->blurb);
      print_param_specs ((*e)->params, (*e)->n_params, "    ");
      const LisseEffectChoice *c = &(*e)->choice;
      if (c->name)
        {
          printf ("    --choice (%s):\n", c->name);
          for (int i = 0; i < LISSE_EFFECT_MAX_CHOICES && c->values[i].nick; i++)
            printf ("      %-18s %s%s\n", c->values[i].nick, c->values[i].label,
                    i == c->def ? " (default)" : "");
        }
    }
}

static char *
effect_names (void)
{
  GString *s = g_string_new (NULL);
  for (const LisseEffectInfo *const *e = lisse_effects (); *e; e++)
    g_string_append_printf (s, "%s%s", s->len ? ", " : "", (*e)->name);
  return g_string_free (s, FALSE);
}

/* A mask file as one channel: the luma of its colour (a gray file as it
 * is), times its alpha when it has one, so transparent means "not in the
 * mask". */
static LisseTensor *
load_mask (const char *path, int width, int height, GError **error)
{
  LisseImageInfo info;
  g_autoptr (LisseTensor) image = lisse_image_load (path, &info, error);
  if (!image)
    return NULL;
  if (info.width != width || info.height != height)
    {
      lisse_fail (error, LISSE_ERROR_BAD_IMAGE, "%s: the mask is %d×%d but the image is %d×%d",
                  path, info.width, info.height, width, height);
      return NULL;
    }
  LisseTensor *mask = lisse_tensor_try_new (1, 1, height, width, error);
  if (!mask)
    return NULL;
  const size_t plane = lisse_tensor_plane (image);
  const int n_color = image->c - (info.has_alpha ? 1 : 0);
  float *m = lisse_tensor_channel (mask, 0, 0);
  for (size_t i = 0; i < plane; i++)
    {
      float v = n_color == 1 ? lisse_tensor_channel (image, 0, 0)[i]
              : 0.2126f * lisse_tensor_channel (image, 0, 0)[i]
                + 0.7152f * lisse_tensor_channel (image, 0, 1)[i]
                + 0.0722f * lisse_tensor_channel (image, 0, 2)[i];
      if (info.has_alpha)
        v *= lisse_tensor_channel (image, 0, image->c - 1)[i];
      m[i] = CLAMP (v, 0.0f, 1.0f);
    }
  return mask;
}

typedef struct
{
  char   **sets;
  char    *choice;
  char    *aux;
  int      threads, depth;
  gboolean list;
} EffectOptions;

/* What effect_fits() checks: the effect and its choice. */
typedef struct
{
  const LisseEffectInfo *info;
  const char            *choice;
} EffectMethod;

/* A FitsFunc.  A mask counts as one more channel, a guide as three. */
static gboolean
effect_fits (gconstpointer method, const LisseImageInfo *info, GError **error)
{
  const EffectMethod *m = method;
  const LisseEffectInfo *e = m->info;
  int aux = e->aux == LISSE_EFFECT_AUX_MASK ? 1 : e->aux == LISSE_EFFECT_AUX_GUIDE ? 3 : 0;
  return lisse_effect_check_memory (e, m->choice, info->width, info->height, info->channels,
                                    aux, error);
}

static int
do_effect (const EffectOptions *o, const LisseEffectInfo *info, const char *in,
           const char *out)
{
  int status = EXIT_SUCCESS;
  /* `--set method=csgis` is `--choice csgis`: the choice's name, as
   * Script-Fu (#:method) and the GEGL op (method=) spell it, works here
   * too.  The other --set entries are parameters. */
  const char *choice = o->choice;
  const guint n_sets = o->sets ? g_strv_length (o->sets) : 0;
  g_autofree char **param_sets = g_new0 (char *, n_sets + 1);
  for (guint i = 0, n = 0; i < n_sets; i++)
    {
      const char *set = o->sets[i];
      const size_t len = info->choice.name ? strlen (info->choice.name) : 0;
      if (len && strncmp (set, info->choice.name, len) == 0 && set[len] == '=')
        {
          if (choice && strcmp (choice, set + len + 1) != 0)
            return usage_error ("%s: %s is given twice ('%s' and '%s')", info->name,
                                info->choice.name, choice, set + len + 1);
          choice = set + len + 1;
        }
      else
        param_sets[n++] = o->sets[i];
    }
  LisseParams params;
  if (!params_from_options (o->threads, param_sets, info->params, info->n_params, &params,
                            &status))
    return status;
  if (choice && !info->choice.name)
    return usage_error ("%s takes no --choice", info->name);
  if (choice && lisse_effect_choice_index (info, choice) < 0)
    {
      GString *known = g_string_new (NULL);
      for (int i = 0; i < LISSE_EFFECT_MAX_CHOICES && info->choice.values[i].nick; i++)
        g_string_append_printf (known, "%s%s", i ? ", " : "", info->choice.values[i].nick);
      status = report (g_error_new (LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME,
                                    "%s: unknown %s '%s' (known: %s)", info->name,
                                    info->choice.name, choice, known->str));
      g_string_free (known, TRUE);
      return status;
    }
  if (o->aux && info->aux == LISSE_EFFECT_AUX_NONE)
    return usage_error ("%s takes no --aux image", info->name);
  if (!o->aux && info->aux_required)
    return usage_error ("%s needs a %s image (--aux FILE)", info->name,
                        info->aux == LISSE_EFFECT_AUX_MASK ? "mask" : "guide");

  GError *error = NULL;
  LisseImageInfo image_info;
  g_autoptr (LisseImageWriter) writer = NULL;
  const EffectMethod method = { info, choice };
  g_autoptr (LisseTensor) image = load_whole_image (in, out, o->depth, effect_fits, &method,
                                                    &image_info, &writer, &error);
  if (!image)
    return report (error);
  g_autoptr (LisseTensor) aux = NULL;
  if (o->aux && info->aux == LISSE_EFFECT_AUX_MASK)
    aux = load_mask (o->aux, image_info.width, image_info.height, &error);
  else if (o->aux)
    {
      LisseImageInfo aux_info;
      aux = lisse_image_load (o->aux, &aux_info, &error);
      if (aux && (aux_info.width != image_info.width || aux_info.height != image_info.height))
        {
          g_clear_pointer (&aux, lisse_tensor_free);
          lisse_fail (&error, LISSE_ERROR_BAD_IMAGE,
                      "%s: the guide is %d×%d but the image is %d×%d", o->aux,
                      aux_info.width, aux_info.height, image_info.width, image_info.height);
        }
    }
  if (o->aux && !aux)
    return report (error);

  ProgressState ps;
  LisseProgress progress = progress_make (&ps);
  g_autoptr (LisseTensor) result = lisse_effect_run (info, image, aux, &params, choice,
                                                     1.0, &progress, &error);
  progress_clear (&ps);
  return write_whole_image (result, writer, error);
}

static int
cmd_effect (int argc, char **argv)
{
  EffectOptions o = { .threads = THREADS_UNSET };
  GOptionEntry entries[] = {
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &o.sets,
      "Set an effect parameter (repeatable)", "KEY=VALUE" },
    { "choice", 'c', 0, G_OPTION_ARG_STRING, &o.choice,
      "The effect's model, method or mode ('--list' shows them; also --set NAME=NICK)",
      "NICK" },
    { "aux", 'a', 0, G_OPTION_ARG_FILENAME, &o.aux,
      "Mask (read as gray) or guide image, for the effects that take one", "FILE" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &o.threads, "Number of threads", "N" },
    { "depth", 'd', 0, G_OPTION_ARG_INT, &o.depth,
      "Output bits per channel: 8, 16 or 32 (float, TIFF only)", "N" },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &o.list,
      "List the effects, their parameters and choices", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("NAME IN OUT");
  g_autofree char *names = effect_names ();
  g_autofree char *summary = g_strdup_printf ("Apply an effect to IN and write OUT.\n"
                                              "Effects: %s ('lisse effect --list' for "
                                              "parameters and choices).", names);
  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_set_prgname ("lisse effect");
  int status = EXIT_SUCCESS;
  const LisseEffectInfo *info = NULL;
  if (!parse_options (ctx, &argc, &argv, &status))
    ;
  else if (o.list || argc == 1)
    list_effects ();
  else if (!(info = lisse_effect_find (argv[1])))
    status = report (g_error_new (LISSE_ERROR, LISSE_ERROR_UNKNOWN_NAME,
                                  "unknown effect '%s' (known: %s)", argv[1], names));
  else if (argc != 4)
    status = usage_error ("effect needs a name, an input and an output file, e.g. "
                          "'lisse effect %s in.png out.png'", info->name);
  else
    status = do_effect (&o, info, argv[2], argv[3]);
  g_strfreev (o.sets);
  g_free (o.choice);
  g_free (o.aux);
  lisse_effect_cache_clear ();
  return status;
}

/* ---- lisse models ------------------------------------------------------ */

/* Metadata text from a model file, fit for one line of a listing. */
static char *
one_line (const char *s, int max_chars)
{
  if (!s)
    return g_strdup ("");
  g_autofree char *valid = g_utf8_make_valid (s, -1);
  GString *out = g_string_new (NULL);
  int n = 0;
  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      if (max_chars > 0 && n == max_chars)
        {
          g_string_append (out, "…");
          break;
        }
      gunichar ch = g_utf8_get_char (p);
      g_string_append_unichar (out, g_unichar_iscntrl (ch) ? ' ' : ch);
      n++;
    }
  return g_string_free (out, FALSE);
}

static int
cmd_models (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_set_summary (ctx, "List the models in the search path: name, "
                                "architecture, title, file.");
  int status = EXIT_SUCCESS;
  g_set_prgname ("lisse models");
  if (!parse_options (ctx, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return usage_error ("models takes no arguments");

  g_autoptr (GPtrArray) list = lisse_model_list ();
  if (list->len == 0)
    {
      g_auto (GStrv) dirs = lisse_model_search_path ();
      g_autofree char *joined = g_strjoinv (":", dirs);
      fprintf (stderr, "lisse: no models found (searched: %s)\n", joined);
      return EXIT_SUCCESS;
    }
  for (guint i = 0; i < list->len; i++)
    {
      const LisseModelInfo *m = g_ptr_array_index (list, i);
      GError *error = NULL;
      g_autoptr (LisseSafetensors) st = lisse_safetensors_open (m->path, &error);
      g_autofree char *path = g_filename_display_name (m->path);
      if (!st)
        {
          /* One broken file must not hide the others: list it as such. */
          printf ("%-20s %-14s (unreadable: %s)  %s\n", m->name, "?",
                  "see 'lisse info'", path);
          g_clear_error (&error);
          continue;
        }
      const char *arch = lisse_safetensors_get_metadata (st, "architecture");
      const char *title = lisse_safetensors_get_metadata (st, "title");
      if (!title)
        title = lisse_safetensors_get_metadata (st, "description");
      const LisseNetInfo *net = lisse_net_find (arch);
      if (!title && net)
        title = net->title;
      g_autofree char *arch_s = one_line (arch ? arch : "?", 24);
      g_autofree char *title_s = one_line (title ? title : "", 60);
      printf ("%-20s %-14s %s%s  %s\n", m->name, arch_s, title_s,
              arch && !net ? " (unknown architecture)" : "", path);
    }
  return EXIT_SUCCESS;
}

/* ---- lisse info -------------------------------------------------------- */

static int
cmd_info (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL");
  g_option_context_set_summary (ctx, "Describe a model: its architecture, metadata, "
                                "tensors and parameter count.");
  int status = EXIT_SUCCESS;
  g_set_prgname ("lisse info");
  if (!parse_options (ctx, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return usage_error ("info needs one model name or file");

  GError *error = NULL;
  g_autoptr (LisseModel) model = lisse_model_open (argv[1], NULL, 0, &error);
  if (!model)
    return report (error);
  LisseSafetensors *st = model->st;
  g_autofree char *path = g_filename_display_name (model->path);
  const char *arch = lisse_safetensors_get_metadata (st, "architecture");
  const LisseNetInfo *net_info = lisse_net_find (arch);
  g_autofree char *arch_s = one_line (arch, 0);

  printf ("model: %s\n", model->name);
  printf ("file: %s\n", path);
  if (!arch)
    printf ("architecture: none declared\n");
  else if (!net_info)
    printf ("architecture: %s (unknown to this Lisse)\n", arch_s);
  else
    {
      printf ("architecture: %s — %s\n", net_info->architecture, net_info->title);
      printf ("  %s\n", net_info->reference);
    }

  /* Loading checks everything the network needs; say whether it would run. */
  if (net_info)
    {
      GError *load_error = NULL;
      g_autoptr (LisseNet) net = lisse_net_open (model->path, &load_error);
      if (net)
        {
          if (net->receptive_radius == LISSE_NET_GLOBAL && net->whole_max_pixels > 0)
            printf ("receptive field: global (runs on the whole image up to %.2f MP; larger "
                    "images in tiles with %d px of context)\n",
                    net->whole_max_pixels / 1e6, LISSE_NET_GLOBAL_CONTEXT);
          else if (net->receptive_radius == LISSE_NET_GLOBAL)
            printf ("receptive field: global (runs on the whole image)\n");
          else
            printf ("receptive radius: %d px\n", net->receptive_radius);
          printf ("parameters:\n");
          print_param_specs (net->params, net->n_params, "  ");
        }
      else
        {
          g_autofree char *msg = one_line (load_error->message, 0);
          printf ("loads: no — %s\n", msg);
          g_clear_error (&load_error);
        }
    }

  printf ("metadata:\n");
  const char *const *keys = lisse_safetensors_get_metadata_keys (st);
  if (!keys || !keys[0])
    printf ("  (none)\n");
  for (int i = 0; keys && keys[i]; i++)
    {
      g_autofree char *k = one_line (keys[i], 0);
      g_autofree char *v = one_line (lisse_safetensors_get_metadata (st, keys[i]), 0);
      printf ("  %s: %s\n", k, v);
    }

  printf ("tensors:\n");
  const char *const *names = lisse_safetensors_get_names (st);
  guint64 total = 0;
  for (int i = 0; names && names[i]; i++)
    {
      const LisseSafetensorsEntry *e = lisse_safetensors_lookup (st, names[i]);
      g_autofree char *n = one_line (names[i], 0);
      g_autofree char *shape = lisse_safetensors_format_shape (e->shape, e->rank);
      printf ("  %-32s %-5s %-18s %" G_GSIZE_FORMAT "\n", n, lisse_dtype_name (e->dtype),
              shape, e->n_elements);
      total += e->n_elements;
    }
  printf ("total parameters: %" G_GUINT64_FORMAT "\n", total);
  return EXIT_SUCCESS;
}

/* ---- main -------------------------------------------------------------- */

/* OpenMP's default is to spin after each parallel region; on a machine
 * whose cores are busy with other work that costs the engine several times
 * its run time (measured: 2 threads 1.3–2.9× slower than 1 on a loaded 2-core
 * host, 0.5–0.7× with passive waiting).  libgomp reads the policy once, when
 * it loads, so the command re-executes itself with it set unless the user
 * chose a policy. */
static void
ensure_passive_openmp (char **argv)
{
  if (getenv ("OMP_WAIT_POLICY") || getenv ("LISSE_NO_REEXEC"))
    return;
  setenv ("OMP_WAIT_POLICY", "passive", 0);
  setenv ("LISSE_NO_REEXEC", "1", 1);
  execv ("/proc/self/exe", argv);
  /* No /proc: run on with the default policy. */
}

int
main (int argc, char **argv)
{
  ensure_passive_openmp (argv);
  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      fputs (usage_text, stderr);
      return EXIT_USAGE;
    }
  const char *cmd = argv[1];
  if (strcmp (cmd, "--version") == 0 || strcmp (cmd, "-V") == 0)
    {
      printf ("lisse %s\n", LISSE_VERSION);
      return EXIT_SUCCESS;
    }
  if (strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0 || strcmp (cmd, "help") == 0)
    {
      fputs (usage_text, stdout);
      return EXIT_SUCCESS;
    }

  int status;
  if (strcmp (cmd, "run") == 0)
    status = cmd_run (argc - 1, argv + 1);
  else if (strcmp (cmd, "filter") == 0)
    status = cmd_filter (argc - 1, argv + 1);
  else if (strcmp (cmd, "effect") == 0)
    status = cmd_effect (argc - 1, argv + 1);
  else if (strcmp (cmd, "models") == 0)
    status = cmd_models (argc - 1, argv + 1);
  else if (strcmp (cmd, "info") == 0)
    status = cmd_info (argc - 1, argv + 1);
  else
    status = usage_error ("unknown command '%s' (try 'lisse --help')", cmd);

  lisse_image_io_exit ();
  fflush (stdout);
  if (ferror (stdout))
    {
      print_error_line ("cannot write to standard output");
      return EXIT_FAILURE;
    }
  return status;
}
