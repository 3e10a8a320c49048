"""MkDocs hooks for the API reference: credo's docstrings use Sphinx roles (``:func:`x```),
which mkdocstrings leaves as text, and cite the definitions as repository paths
(``docs/definitions/metrics.md#smooth-ece``), which become links to the built pages here."""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj|ref):(?=<code>)")
_TILDE = re.compile(r"<code>~(?:[\w]+\.)*([\w]+)</code>")
_CITE = re.compile(r"(?<![\w/\"'])docs/((?:definitions|guides)/[\w-]+|glossary|architecture)\.md(#[\w-]+)?")


def on_page_content(html: str, page, config, files) -> str:  # MkDocs passes all four
    html = _ROLE.sub("", html)
    html = _TILDE.sub(r"<code>\1</code>", html)
    up = "../" * page.url.count("/")
    return _CITE.sub(lambda m: f'<a href="{up}{m.group(1)}/{m.group(2) or ""}">{m.group(0)}</a>', html)
