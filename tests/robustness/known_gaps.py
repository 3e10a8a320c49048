"""The matrix cases that still fail: the one place they are listed (see test_matrix.py).

Each entry is marked xfail(strict=True): when a fix makes its case pass, the run fails
(XPASS) until the entry is removed here. Grouped by the area that owns the fix; the value
is what the case does today. When a fix lands, delete the entries its XPASSes name;
``python -m tests.robustness._matrix [entry-prefix]`` lists the "other" cases with details.
"""

from __future__ import annotations

KNOWN_GAPS: dict[str, str] = {}

# Cases that failed in some runs and passed in others (a timeout near the limit on a loaded
# machine): xfail(strict=False) until their cause is fixed; same owners as above.
FLAKY_GAPS: dict[str, str] = {}
