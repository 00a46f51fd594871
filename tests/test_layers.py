"""What the design says about who depends on whom, and where front-end code comes from.

rooms never imports billing (billing receives its signal and reads rooms), and
billing never imports closings (closings builds on billing). Chart.js and
Bootstrap are served from static/vendor/, copied from npm at the versions
package.json pins: nothing comes from a CDN.
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imported(app: str) -> set[str]:
    """Every top-level package that app's code (its tests too) imports."""
    names = set()
    for path in (ROOT / app).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("app", "never"), [("rooms", {"billing", "closings"}), ("billing", {"closings"})]
)
def test_an_app_never_imports_the_ones_built_on_it(app, never):
    assert not _imported(app) & never


@pytest.mark.parametrize(
    ("package", "file", "banner"),
    [
        ("chart.js", "chart.js/chart.umd.min.js", r"Chart\.js v(\S+)"),
        ("bootstrap", "bootstrap/bootstrap.min.css", r"Bootstrap\s+v(\S+)"),
        ("bootstrap", "bootstrap/bootstrap.bundle.min.js", r"Bootstrap v(\S+)"),
    ],
)
def test_vendored_files_are_the_versions_package_json_pins(package, file, banner):
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"][package]
    head = (ROOT / "static" / "vendor" / file).read_text(encoding="utf-8")[:500]

    assert re.search(banner, head).group(1) == pinned
