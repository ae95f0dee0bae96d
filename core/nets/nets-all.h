/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The descriptors each network file defines; only net.c's registry and
 * tests include this. */
#pragma once

#include "net.h"

extern const LisseNetInfo lisse_net_plain_cnn;
extern const LisseNetInfo lisse_net_fan18;
extern const LisseNetInfo lisse_net_csgis;
extern const LisseNetInfo lisse_net_fang19;
extern const LisseNetInfo lisse_net_sasnet;
extern const LisseNetInfo lisse_net_mgpnet;
