# SPDX-License-Identifier: GPL-3.0-or-later
"""Lisse training package: PyTorch twins of the C networks, the papers' losses,
corpus builders, training and export.

Modules are imported explicitly (``from lisse_train import fan18_energy``) so
that importing the package costs nothing and needs nothing beyond the module
asked for.
"""
