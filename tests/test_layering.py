"""ml/ and storage/ never import bot/ or discord, so models work without a bot."""
import ast
import json
import subprocess
import sys
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


def offenders() -> list[str]:
    found = []
    for package in ("ml", "storage"):
        for path in (ROOT / package).rglob("*.py"):
            bad = imported_modules(path) & {"bot", "discord"}
            if bad:
                found.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    return found


def test_ml_and_storage_do_not_import_bot_or_discord():
    # In a fresh interpreter: deep inside a long test session CPython 3.11.7's ast.parse once
    # failed with "AST constructor recursion depth mismatch" (an interpreter bug, not the code).
    script = "import json, sys; sys.path.insert(0, 'tests'); import test_layering; print(json.dumps(test_layering.offenders()))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_check_itself_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import discord\nfrom bot.app import App\n")
    assert imported_modules(sample) == {"discord", "bot"}
