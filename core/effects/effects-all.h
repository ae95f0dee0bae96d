/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The descriptors each effect file defines; only effect.c's registry and
 * tests include this. */
#pragma once

#include "effect.h"

extern const LisseEffectInfo lisse_effect_smooth;
extern const LisseEffectInfo lisse_effect_magnify_detail;
extern const LisseEffectInfo lisse_effect_remove_texture;
extern const LisseEffectInfo lisse_effect_content_aware;
extern const LisseEffectInfo lisse_effect_joint_filter;
extern const LisseEffectInfo lisse_effect_abstraction;
extern const LisseEffectInfo lisse_effect_pencil_sketch;
extern const LisseEffectInfo lisse_effect_fast_filter;
