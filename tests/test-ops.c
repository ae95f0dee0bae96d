/* Lisse — learned edge-preserving smoothing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every engine op against its reference (see op-harness.h).  Runs at the
 * thread count given by LISSE_THREADS, so meson runs it at 1 and at 2. */
#include "op-harness.h"

#include <stdlib.h>

extern const OpCase op_cases_conv[];
extern const OpCase op_cases_basic[];
extern const OpCase op_cases_gemm[];
int op_harness_run (const OpCase *const *tables, int n_tables, int *n_ops_out);

int
main (void)
{
  const OpCase *const tables[] = { op_cases_conv, op_cases_basic, op_cases_gemm };
  int n_ops = 0;
  int n_bad = op_harness_run (tables, G_N_ELEMENTS (tables), &n_ops);
  return n_bad == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
