"""credo.report.html on real data: one self-contained file with embedded plots and tables."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from credo import metrics as M

pytest.importorskip("matplotlib")


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.tables, self.links, self.cells = [], 0, [], []
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "table":
            self.tables += 1
        if tag in ("link", "script") or (tag == "a" and "href" in a):
            self.links.append(tag)
        self._in_td = tag == "td"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)


def _temperature(probs, t):
    z = np.log(np.clip(probs, 1e-12, 1)) / t
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def test_report_from_cifar_models(tmp_path, cifar_models):
    names = ["densenet121", "resnet18", "vgg16_bn"]
    probs = np.concatenate([cifar_models[n][0] for n in names])
    probs = probs / probs.sum(1, keepdims=True)
    labels = np.concatenate([cifar_models[n][1] for n in names])
    segments = np.repeat(names, len(cifar_models[names[0]][1]))
    path = tmp_path / "report.html"
    out = __import__("credo.report", fromlist=["html"]).html(
        path,
        labels,
        probs,
        calibrated={"temperature 1.5": _temperature(probs, 1.5)},
        segments=segments,
        provenance={"dataset": "CIFAR-10 test", "source": "Widmann et al. 2019"},
        n_resamples=50,
    )
    assert out == path and path.exists()
    text = path.read_text(encoding="utf-8")
    p = _Collect()
    p.feed(text)
    assert len(p.imgs) == 2 and not p.links  # self-contained: no external resources
    for src in p.imgs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert p.tables == 3  # provenance, metrics, per segment
    raw_ece = M.ece(labels, probs)
    assert f"{raw_ece:.4f}" in p.cells
    for n in names:
        assert n in p.cells
        m = segments == n
        assert f"{M.ece(labels[m], probs[m]):.4f}" in p.cells
    assert "Widmann et al. 2019" in text and "temperature 1.5" in text
    assert not list(tmp_path.glob(".report.html.*"))  # no temp file left behind


def test_report_from_mmlu_confidences(tmp_path, mmlu):
    from credo import report

    subjects = sorted(mmlu)[:4]
    conf = np.concatenate([M.top_label(mmlu[s][1], mmlu[s][0])[0] for s in subjects])
    correct = np.concatenate([M.top_label(mmlu[s][1], mmlu[s][0])[1] for s in subjects])
    seg = np.concatenate([[s] * len(mmlu[s][1]) for s in subjects])
    path = report.html(tmp_path / "mmlu.html", correct, conf, segments=seg, n_resamples=0, title="LLaMA-13B <MMLU>")
    text = path.read_text(encoding="utf-8")
    assert "LLaMA-13B &lt;MMLU&gt;" in text  # escaped
    assert len(re.findall(r"data:image/png;base64,", text)) == 2


def test_report_bad_input(tmp_path):
    from credo import report

    with pytest.raises(ValueError, match=r"^calibrated"):
        report.html(tmp_path / "x.html", [0, 1], [0.2, 0.7], calibrated={"a": [0.1]})
    with pytest.raises(ValueError, match=r"^path"):
        report.html(tmp_path / "missing" / "x.html", [0, 1], [0.2, 0.7], n_resamples=0)
