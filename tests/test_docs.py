"""Every code name the docs cite exists (issue 9: the implementation details page named
functions that no longer existed)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import rlhp
from rlhp.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "docs" / "implementation_details.md"]
CITED = re.compile(r"`([A-Za-z_][\w/]*(?:\.[A-Za-z_]\w*)*)`")
FILE_SUFFIXES = {"py", "md", "json", "jsonl", "sqlite", "pt", "png", "csv", "npz", "txt", "mp4"}


def _modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.walk_packages(rlhp.__path__, "rlhp."):
        if info.name.endswith("__main__"):
            continue  # running it is the CLI
        try:
            found[info.name] = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
    return found


def _classes(modules: dict[str, ModuleType]) -> dict[str, object]:
    classes: dict[str, object] = {}
    for module in modules.values():
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                classes[name] = value
    return classes


SOURCE = "\n".join(p.read_text() for p in (ROOT / "src" / "rlhp").rglob("*.py"))


def _resolve(token: str, modules: dict[str, ModuleType], classes: dict[str, object]) -> bool:
    """True if ``token`` names rlhp code (``pkg/module.Name.attr``, ``Class.attr``), a
    config key (``queries.ask_ahead``), a metric the code writes (``reward/val_accuracy``)
    or a library function (``torch.baddbmm``)."""
    if f'"{token}"' in SOURCE:
        return True  # a metric name or other string the code writes
    head, *rest = token.split(".")
    starts: list[object] = []
    if "rlhp." + head.replace("/", ".") in modules:
        starts.append(modules["rlhp." + head.replace("/", ".")])
    if head in classes:
        starts.append(classes[head])
    if head in TrainConfig.__dataclass_fields__:
        starts.append(type(getattr(TrainConfig("x"), head)))  # a config section
    if not starts and "/" not in head:
        try:
            starts.append(importlib.import_module(head))  # torch, os
        except ImportError:
            return False
    return any(_walk(start, rest, modules) for start in starts)


def _walk(target: object, parts: list[str], modules: dict[str, ModuleType]) -> bool:
    for part in parts:
        if isinstance(target, ModuleType) and f"{target.__name__}.{part}" in modules:
            target = modules[f"{target.__name__}.{part}"]
            continue
        if inspect.isclass(target) and part in getattr(target, "__dataclass_fields__", {}):
            return True  # a dataclass field without a class-level default
        if inspect.isclass(target) and not hasattr(target, part):
            return f"self.{part} =" in inspect.getsource(target)  # set in __init__
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


def _cited(text: str) -> list[str]:
    names = []
    for token in CITED.findall(text):
        if token.rsplit(".", 1)[-1] in FILE_SUFFIXES:
            continue  # a file name
        head = token.split(".")[0]
        if "/" in head or "." in token:
            names.append(token)
    return names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_cited_name_exists(page: Path) -> None:
    modules = _modules()
    classes = _classes(modules)
    cited = _cited(page.read_text())
    assert len(cited) > 40  # the page cites code throughout
    missing = [name for name in cited if not _resolve(name, modules, classes)]
    assert not missing, f"{page.name} cites names that do not exist: {missing}"


def test_the_check_catches_a_name_that_is_gone() -> None:
    modules = _modules()
    classes = _classes(modules)
    assert _resolve("loop/updating.RewardUpdater.install_finished", modules, classes)
    assert not _resolve("loop/trainer.PreferenceLoop._ask", modules, classes)
    assert not _resolve("RewardUpdater.install", modules, classes)
    assert _resolve("RewardModelConfig.holdout_fraction", modules, classes)
