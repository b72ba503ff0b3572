"""Pages as people see them: render an HTML file in headless Chromium and read back what it shows.

``screenshot(page, png)`` draws the page into a PNG; ``dom(page)`` returns the DOM after the browser parsed
it (and ran any script), so a test can check what the reader gets rather than the bytes we wrote. Both skip the
calling test, with the reason, when no Chromium is installed (``.ci/run`` installs Debian's ``chromium``).
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium():
    """The path of a Chromium-like browser, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require():
    path = chromium()
    if path is None:
        pytest.skip("no headless Chromium here (looked for " + ", ".join(CANDIDATES) + "); "
                    ".ci/run installs Debian's chromium package")
    return path


def _run(args, timeout):
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run([require(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              timeout=timeout, env={**os.environ, "HOME": profile})
    return proc


def screenshot(page, png, width=1200, height=1600, timeout=120):
    """Draw ``page`` (an HTML file) into ``png``; returns the PNG's path."""
    png = Path(png)
    png.unlink(missing_ok=True)
    proc = _run([f"--screenshot={png}", f"--window-size={width},{height}", Path(page).resolve().as_uri()], timeout)
    assert png.exists() and png.stat().st_size > 0, proc.stderr.decode(errors="replace")[-2000:]
    return png


def dom(page, timeout=120):
    """The page's DOM as the browser serialises it after loading ``page``."""
    proc = _run(["--dump-dom", Path(page).resolve().as_uri()], timeout)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout.decode("utf-8", errors="replace")


def keep(png):
    """``png``, copied into $NF_SCREENSHOTS when it is set, so a person can look at what the test saw."""
    where = os.environ.get("NF_SCREENSHOTS")
    if where:
        os.makedirs(where, exist_ok=True)
        shutil.copy(png, os.path.join(where, os.path.basename(png)))
    return png


def png_size(png):
    """(width, height) of a PNG, from its header."""
    data = Path(png).read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def ink(png):
    """The share of pixels that are not the page's white background: 0 for an empty page."""
    import matplotlib.image
    pixels = matplotlib.image.imread(str(png))[..., :3]
    return float((pixels.min(axis=-1) < 0.95).mean())
