"""Import every `api/ext/<capability>.py`; each registers its routes, components and
demo-seed steps. A new capability adds a module there and edits nothing here."""

from __future__ import annotations

import importlib
import pkgutil

import api.ext

for _info in sorted(pkgutil.iter_modules(api.ext.__path__), key=lambda i: i.name):
    importlib.import_module(f"api.ext.{_info.name}")
