"""The README's tour is executed here, block by block, so it cannot rot.

Every ```python block in README.md runs in one shared namespace, in order, from a temporary
working directory; a block that raises fails this test with the block's first line in the
message. The two set-up commands are checked to be the ones CI runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def test_readme_tour_runs(tmp_path, monkeypatch):
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    if not blocks:
        pytest.fail("README.md has no python blocks to run")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for i, code in enumerate(blocks, start=1):
        try:
            exec(compile(code, f"README.md block {i}", "exec"), namespace)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] == "credo":
                raise
            # an optional package the tour shows (the blocks after it may build on it)
            pytest.skip(f"README block {i} needs {exc.name}, which is not installed")
        except Exception as exc:
            first = code.strip().splitlines()[0]
            pytest.fail(f"README block {i} ({first!r}) raised {type(exc).__name__}: {exc}")


def test_readme_setup_commands_are_the_ci_ones():
    text = README.read_text(encoding="utf-8")
    bash = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert bash[0].strip() == "python3 -m venv .venv && .venv/bin/pip install '.[demo]' && .venv/bin/credo demo"
    assert bash[1].strip() == "make test"
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci and bash[0].strip() in ci
