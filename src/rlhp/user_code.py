"""Importing the user's own modules (``module:EnvId-v0`` environments, ``module:function``
rules) from the working directory, as ``python -m`` would find them: a console script's
import path does not hold the directory it was started from."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType


def add_working_directory() -> None:
    """Put the working directory on the import path unless it is there already."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def import_user_module(name: str) -> ModuleType:
    """``importlib.import_module(name)``, the working directory searched too."""
    add_working_directory()
    return importlib.import_module(name)
