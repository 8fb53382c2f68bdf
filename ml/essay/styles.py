"""Essay styles: each trained corpus is a style with its own service folder under MLBOT_HOME."""
from __future__ import annotations

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
