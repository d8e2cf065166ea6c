"""The HTML report in a real headless browser at phone size: it renders (a non-trivial screenshot, saved as a
test artifact under test-artifacts/) and its DOM holds the report. Skips when /usr/bin/chromium is absent."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from grader.report import render

from .sample_results import hostile, mixed

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = "412,900"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--hide-scrollbars", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def png_pixels(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and the unfiltered rows of an 8-bit RGB/RGBA PNG (no imaging library
    needed to judge whether a screenshot shows anything)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    offset, idat, width = 8, b"", 0
    height = channels = 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), f"unexpected PNG depth {depth} colour type {colour}"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1
    return width, height, channels, _unfilter(raw, stride, channels, height)


def _unfilter(raw: bytes, stride: int, bpp: int, height: int) -> list[bytes]:
    rows: list[bytes] = []
    previous = bytearray(stride - 1)
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for i in range(len(line)):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            upleft = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upleft)) & 255
        rows.append(bytes(line))
        previous = line
    return rows


def test_mixed_report_renders_on_a_phone(tmp_path: Path) -> None:
    page = tmp_path / "mixed.html"
    page.write_text(render(mixed(), "html"), encoding="utf-8")
    shot = tmp_path / "mixed.png"
    run = chromium(tmp_path / "profile", f"--screenshot={shot}", f"--window-size={PHONE}", page.as_uri())
    assert shot.exists(), f"chromium wrote no screenshot: {run.stderr[-2000:]}"
    data = shot.read_bytes()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "report-mixed-phone.png")
    assert len(data) > 20_000, f"screenshot is only {len(data)} bytes: probably blank"
    width, height, channels, rows = png_pixels(data)
    assert (width, height) == (412, 900)
    colours = {row[i:i + 3] for row in rows[::7] for i in range(0, len(row) - 3, channels * 5)}
    assert len(colours) > 50, f"only {len(colours)} distinct colours: the page looks empty"


def test_dom_holds_the_report_and_no_student_markup(tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(render(hostile(), "html"), encoding="utf-8")
    run = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    dom = run.stdout
    assert "Week 7 &amp; &lt;friends&gt;" in dom, run.stderr[-2000:]
    assert "<script" not in dom and "<img" not in dom
    assert 'class="card part' in dom


def test_mixed_report_dom_has_title_and_heatmaps(tmp_path: Path) -> None:
    page = tmp_path / "mixed.html"
    page.write_text(render(mixed(), "html"), encoding="utf-8")
    dom = chromium(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    assert "<title>Week 7: convolutional networks -- s100002</title>" in dom
    assert dom.count('<table class="heat">') >= 4
