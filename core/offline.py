"""Offline defaults for the model libraries: every model ships inside a package, so nothing may
reach for a model hub at run time (build, test and many customers' hosts have no network).

Set before ``huggingface_hub`` is imported (it reads them once, at import): the packages whose
adapters import hub-aware libraries (``voice``, ``rag``) call ``use_offline_defaults()`` in their
``__init__``. An operator's own value of a variable wins.
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def use_offline_defaults() -> None:
    for name, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(name, value)
