"""docs/api.md is generated from the docstrings (scripts/gen_api_docs.py) and must be current."""

import importlib
import importlib.util

from tests.helpers import ROOT


def _generator():
    spec = importlib.util.spec_from_file_location("gen_api_docs", ROOT / "scripts" / "gen_api_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_page_is_up_to_date():
    current = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert current == _generator().render(), "docs/api.md is out of date: run python scripts/gen_api_docs.py"


def test_api_page_covers_every_exported_name():
    gen = _generator()
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for module_name in gen.PACKAGES:
        for name in importlib.import_module(module_name).__all__:
            assert f"`{name}" in text, f"{module_name}.{name} missing from docs/api.md"
    assert "`.process` (property)" in text  # LoadedRun.process is documented
