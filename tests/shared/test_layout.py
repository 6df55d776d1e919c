"""One wing per process: the gateway (bot/) never imports Rasa; what runs inside the Rasa
server (rasa_server/) takes of the gateway only its plain settings (bot/config.py)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _imports(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield path, [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield path, [node.module]


def test_the_gateway_never_imports_rasa():
    found = [f"{path.relative_to(ROOT)}: {name}" for path, names in _imports("bot") for name in names
             if name == "rasa" or name.startswith(("rasa.", "rasa_server"))]
    assert found == []


def test_the_rasa_side_takes_only_the_settings_of_the_gateway():
    found = {name for _, names in _imports("rasa_server") for name in names if name == "bot" or name.startswith("bot.")}
    assert found <= {"bot.config"}
