# SPDX-License-Identifier: GPL-3.0-or-later
from .addon.addon import register, unregister  # noqa: F401
