/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config-params.h"

gboolean
lisse_config_read_params (GimpProcedureConfig *config, const LisseEffectInfo *effect,
                          LisseParams *params, const char **choice, GError **error)
{
  lisse_params_init (params, effect->params, effect->n_params);
  *choice = NULL;

  for (int i = 0; i < effect->n_params; i++)
    {
      const LisseParamSpec *spec = &effect->params[i];
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (config), spec->name);
      g_return_val_if_fail (pspec != NULL, FALSE);  /* procedure.c declared every one */
      /* Integer and double arguments alike, through GValue's transform. */
      GValue value = G_VALUE_INIT, as_double = G_VALUE_INIT;
      g_value_init (&value, pspec->value_type);
      g_value_init (&as_double, G_TYPE_DOUBLE);
      g_object_get_property (G_OBJECT (config), spec->name, &value);
      gboolean ok = g_value_transform (&value, &as_double)
                    && lisse_params_set (params, spec->name, g_value_get_double (&as_double),
                                         error);
      g_value_unset (&value);
      g_value_unset (&as_double);
      if (!ok)
        return FALSE;
    }

  if (effect->choice.name)
    {
      /* GimpChoice ids are the registry's indices (procedure.c), so the id
       * maps straight back to the engine's nick. */
      int id = gimp_procedure_config_get_choice_id (config, effect->choice.name);
      if (id >= 0 && id < LISSE_EFFECT_MAX_CHOICES && effect->choice.values[id].nick)
        *choice = effect->choice.values[id].nick;
    }
  return TRUE;
}
