/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The descriptors each filter file defines; only filter.c's registry and
 * tests include this. */
#pragma once

#include "filter.h"

extern const LisseFilterInfo lisse_filter_l0;
extern const LisseFilterInfo lisse_filter_rtv;
extern const LisseFilterInfo lisse_filter_wls;
extern const LisseFilterInfo lisse_filter_guided;
extern const LisseFilterInfo lisse_filter_joint_bilateral;
extern const LisseFilterInfo lisse_filter_rolling_guidance;
