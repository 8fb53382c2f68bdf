"""Essay styles: each trained corpus is a style with its own service folder under MLBOT_HOME."""
from __future__ import annotations

from ml.errors import InputError
from ml.essay import DEFAULT_STYLE
from ml.home import ModelHome


def service_for_style(style: str) -> str:
    """Each style is its own service folder under MLBOT_HOME, so each keeps its own versions."""
    return "essay" if style == DEFAULT_STYLE else f"essay-{style}"


def known_styles(home: ModelHome) -> list[str]:
    """Styles with a published model (the default one first)."""
    styles = []
    models = home.root / "models"
    if home.current(service_for_style(DEFAULT_STYLE)):
        styles.append(DEFAULT_STYLE)
    if models.is_dir():
        for folder in sorted(models.glob("essay-*")):
            style = folder.name.removeprefix("essay-")
            if home.current(folder.name):
                styles.append(style)
    return styles


def unknown_style(home: ModelHome, style: str) -> InputError:
    """The one-line answer to a style that has no model (lists the ones that do)."""
    known = ", ".join(known_styles(home)) or "none yet"
    return InputError(f"unknown style {style!r}; known styles: {known}")
