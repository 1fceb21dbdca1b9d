"""report.html in headless Chromium: no console errors, every image loads, Persian reads right to left."""

import os
import shutil

import pytest

from reports.report import write_report

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = None if path else "chromium is not installed (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package is not installed (pip install playwright==1.63.0)"
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI is set but {missing}")
    if missing:
        pytest.skip(missing)
    return path


def test_report_renders_in_chromium(run_dir):
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    report = write_report(run_dir)
    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
            page.goto(report.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({alt: e.alt, ok: e.complete && e.naturalWidth > 0}))"
            )
            persian = page.eval_on_selector(
                '.sample[data-lang="fa"] dd.ref',
                """el => {
                    const range = document.createRange();
                    range.selectNodeContents(el);
                    const text = range.getBoundingClientRect(), box = el.getBoundingClientRect();
                    return {direction: getComputedStyle(el).direction,
                            gapRight: box.right - text.right, gapLeft: text.left - box.left};
                }""",
            )
        finally:
            browser.close()
    assert errors == []
    assert len(images) >= 9 and [i["alt"] for i in images if not i["ok"]] == []
    assert persian["direction"] == "rtl"
    # Right to left: the line hugs the right edge of its box and leaves the gap on the left.
    assert persian["gapRight"] < 2 < persian["gapLeft"]
