"""The HTML report as a reader sees it: rendered by headless Chromium, its images must decode
and its screenshot must show the plots (coloured, non-blank regions of the expected size).
Skips when no Chromium is installed (CI installs Debian's ``chromium``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("matplotlib")

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no headless Chromium on this machine")
WIDTH = 1300

# Reports every image's decoded size into the page title once the page has loaded.
PROBE = """<script>window.addEventListener('load', () => { document.title = 'IMAGES ' + JSON.stringify(
  Array.from(document.images, i => [i.complete, i.naturalWidth, i.naturalHeight, i.width])); });</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from credo import report

    rng = np.random.default_rng(7)
    n, k = 1500, 10
    logits = 4 * rng.standard_normal((n, k))
    truth = np.exp(logits / 2.5)
    truth /= truth.sum(1, keepdims=True)
    labels = (truth.cumsum(1) < rng.random((n, 1))).sum(1).clip(max=k - 1)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    soft = truth  # the truth's own probabilities: a calibrated version
    sections = [report.Section("Findings", ("A paragraph.",), header=("a", "b"), rows=((1, 0.5),))]
    return report.html(
        tmp_path_factory.mktemp("browser") / "report.html",
        labels,
        probs,
        calibrated={"calibrated": soft},
        sections=sections,
        n_resamples=20,
    )


def test_images_decode_in_the_browser(report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri()).stdout
    title = re.search(r"<title>IMAGES (.*?)</title>", dom, re.S)
    assert title, "the page never finished loading (no probe title in the DOM)"
    images = json.loads(title.group(1))
    assert len(images) == 2  # the reliability grid and the risk-coverage plot
    for complete, natural_w, natural_h, shown_w in images:
        assert complete and natural_w > 600 and natural_h > 300 and shown_w > 600


def test_screenshot_shows_the_plots(report, tmp_path):
    import matplotlib.image as mpimg

    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", f"--window-size={WIDTH},5000", report.as_uri())
    px = mpimg.imread(shot)[..., :3]
    assert px.shape[1] == WIDTH
    # Plot colours (matplotlib's tab10 lines, bars and histograms) are saturated; the page's text,
    # tables and background are grey. Rows holding many saturated pixels are the plots.
    saturation = px.max(axis=2) - px.min(axis=2)
    colourful_rows = np.flatnonzero((saturation > 0.25).sum(axis=1) > 5)
    assert colourful_rows.size > 400, "no plots visible in the rendered page"
    # Two blocks of plots (the grid, then the risk-coverage curves), each several hundred pixels tall.
    gaps = np.flatnonzero(np.diff(colourful_rows) > 40)
    blocks = np.split(colourful_rows, gaps + 1)
    tall = [b for b in blocks if b[-1] - b[0] > 250]
    assert len(tall) >= 2, [(b[0], b[-1]) for b in blocks]
    # Each plot spans a wide region of the page, not a thumbnail.
    cols = np.flatnonzero((saturation[colourful_rows] > 0.25).any(axis=0))
    assert cols[-1] - cols[0] > 0.5 * WIDTH
