"""The evaluation package is a library: no module of it imports the command-line layer."""

import ast
from pathlib import Path

import tfjpegnet.evaluation

PACKAGE = Path(tfjpegnet.evaluation.__file__).parent


def imported_modules(path):
    """Every module name an ``import`` or ``from ... import`` in the file names (with ``from`` names joined)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_evaluation_module_imports_tfjpegnet_cli():
    found = {path.name: sorted(name for name in imported_modules(path)
                               if name == "tfjpegnet.cli" or name.startswith("tfjpegnet.cli."))
             for path in sorted(PACKAGE.glob("*.py"))}
    assert len(found) >= 8
    assert {name: cli for name, cli in found.items() if cli} == {}
