"""The documentation site stays true to the repository: the architecture page names only paths
that exist, the glossary explains every term the demo prints, the guides' code runs, every
citation of a docs page in the code points at a heading that exists, and the site builds with
warnings as errors (when MkDocs is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, subprocess_env

DOCS = ROOT / "docs"
CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _slug(heading: str) -> str:
    """Python-Markdown's toc slug (what MkDocs uses for heading anchors)."""
    text = re.sub(r"[^\w\s-]", "", heading).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(page: Path) -> set[str]:
    text = CODE_FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(m) for m in re.findall(r"^#+\s+(.+?)\s*$", text, re.M)}


CODE_FENCE = re.compile(r"```.*?```", re.S)


ARCH_PATH = re.compile(
    r"`((?:rust|python|tests|benches|examples|scripts|docs|fuzz|\.ci)/[^`\s]*|mkdocs\.yml|Makefile)`"
)
# A file named without its folder (`token.rs` in the row of `rust/credo-core/src/signals/`).
BARE_FILE = re.compile(r"`([A-Za-z0-9_.-]+\.(?:rs|py|pyi|toml|md|yml|sh|txt))`")


def _blocks(text: str) -> list[str]:
    """The page's table rows and paragraphs: a bare file name is looked up in the folders its
    own row or paragraph names."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        rows = [line for line in para.splitlines() if line.startswith("|")]
        out.extend(rows if rows else [para])
    return out


def test_architecture_names_only_paths_that_exist():
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    paths = set(ARCH_PATH.findall(text))
    assert len(paths) > 30, "the architecture page should map the tree"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
    # Every file named without its folder exists in a folder of the same row or paragraph.
    unresolved = []
    for block in _blocks(text):
        folders = {ROOT / p if (ROOT / p).is_dir() else (ROOT / p).parent for p in ARCH_PATH.findall(block)}
        for name in BARE_FILE.findall(block):
            if name in {p.rsplit("/", 1)[-1] for p in ARCH_PATH.findall(block)}:
                continue  # named with its folder too
            if not any((folder / name).exists() for folder in folders or {ROOT}):
                unresolved.append(f"{name} (looked in {sorted(str(f.relative_to(ROOT)) for f in folders)})")
    assert not unresolved, f"docs/architecture.md names files that do not exist: {unresolved}"


def test_every_top_level_package_part_is_on_the_architecture_page():
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "python" / "credo").iterdir()):
        if path.name.startswith("__") or path.suffix in {".so", ".pyi", ".typed"}:
            continue
        rel = path.relative_to(ROOT).as_posix() + ("/" if path.is_dir() else "")
        assert (f"`{rel}" if path.is_dir() else f"`{rel}`") in text, (
            f"{rel} is missing from docs/architecture.md: add a row for it"
        )


def test_glossary_explains_every_term_the_demo_prints():
    from credo import demo

    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    for term, meaning in demo.GLOSSARY.items():
        entry = f"**{term}**\n: {meaning[0].upper() + meaning[1:]}."
        assert entry in text, f"glossary entry for {term!r} is missing or differs from credo.demo.GLOSSARY"


@pytest.mark.parametrize("page", sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")))
def test_page_code_runs(page, tmp_path, monkeypatch):
    blocks = CODE_BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))
    if not blocks:
        return
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, code in enumerate(blocks, start=1):
        try:
            exec(compile(code, f"{page} block {i}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{page} block {i} raised {type(exc).__name__}: {exc}")


def _cited() -> list[tuple[str, str, str]]:
    out = []
    for folder in ("python", "rust", "tests", "benches"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in {".py", ".rs"} or "target" in path.parts:
                continue
            for page, anchor in re.findall(r"(docs/[\w/-]+\.md)(?:#([\w-]+))?", path.read_text(encoding="utf-8")):
                out.append((path.relative_to(ROOT).as_posix(), page, anchor))
    return out


def test_code_cites_docs_pages_and_headings_that_exist():
    cited = _cited()
    assert len(cited) > 20
    for source, page, anchor in cited:
        assert (ROOT / page).exists(), f"{source} cites {page}, which does not exist"
        if anchor:
            assert anchor in _anchors(ROOT / page), f"{source} cites {page}#{anchor}: no such heading"


# The maintainers' own notes, which users do not have (spelled in two parts so this file passes).
OUTSIDE = "REFERENCE" + ".md"


def test_no_code_points_users_at_files_outside_the_repository():
    for folder in ("python", "rust", "tests", "benches", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".rs", ".md"} and "target" not in path.parts:
                assert OUTSIDE not in path.read_text(encoding="utf-8"), path


def test_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("no mkdocs executable")
    env = subprocess_env() | {"NO_MKDOCS_2_WARNING": "1"}
    out = subprocess.run(
        [mkdocs, "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    page = (tmp_path / "site" / "api" / "conformal" / "index.html").read_text(encoding="utf-8")
    assert "ConformalSets" in page and "SelectiveThreshold" in page  # the API reference is generated
