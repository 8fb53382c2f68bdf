"""ml/ and storage/ never import bot/ or discord, so models work without a bot."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_ml_and_storage_do_not_import_bot_or_discord():
    offenders = []
    for package in ("ml", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            bad = imported_modules(path) & {"bot", "discord"}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, offenders


def test_the_check_itself_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import discord\nfrom bot.app import App\n")
    assert imported_modules(sample) == {"discord", "bot"}
