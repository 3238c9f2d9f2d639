# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Filters shared by the hardening roles; the logic is plugins/module_utils/compliance.py."""

from __future__ import annotations

from ansible_collections.hisguard.infosec.plugins.module_utils import compliance


class FilterModule:
    def filters(self):
        return {
            "selected_controls": compliance.selected_controls,
            "failed_checks": compliance.failed_checks,
        }
