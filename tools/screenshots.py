"""Screenshots of every status page over the bundled demo data, for docs/ and the README.

    .venv/bin/python -m tools.screenshots [--out docs/screenshots] [--width 1200]

Makes the demo data with the real commands (``tests/serve/demo_data.build_demo``: replay of
``seeds/feeds``, deliver to a local Slack stand-in, a short live run over local feeds) in
``build/screenshots-demo/``, starts ``storywatch serve`` on it and photographs each page in
the system headless Chromium, the same driver as the browser tests
(``tests/serve/browser``). The preview page is shot with a draft submitted. Each PNG is cut
to ``--max-height`` and saved as a 128-colour palette image (a few tens of kB). Rerunning
gives the same pages; only the clock, the "ago" times and the local feed ports differ.
Needs chromium and chromium-driver (``tools/install_test_system.sh``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.deliver_support import Reply, SlackStandIn
from tests.paths import ROOT
from tests.serve.browser import DRAFT, MissingBrowser, browser_programs, chrome, status_server
from tests.serve.demo_data import build_demo

#: (file name, path on the page)
PAGES = [
    ("storylines.png", "/"),
    ("storyline.png", "/storylines/starlink-ukraine-war"),
    ("feeds.png", "/feeds"),
    ("deliveries.png", "/deliveries"),
    ("preview.png", "/preview"),
]
PALETTE_COLOURS = 128


def shrink(path: Path) -> None:
    """Rewrite ``path`` as a palette PNG: screenshots of text have few colours. Pillow comes
    with apache-beam (a runtime dependency, so not declared again in the dev extra); without
    it the full-colour PNG is kept."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(
            colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    small.save(path, optimize=True)


def shoot(driver, out: Path, *, width: int, max_height: int) -> None:
    """The page from its top, as tall as its content up to ``max_height`` CSS pixels."""
    # the content's bottom (scrollHeight is at least the window's, blank below a short page)
    height = driver.execute_script(
        "const r = document.body.getBoundingClientRect();"
        "return Math.ceil(r.bottom + window.scrollY + 16);"
    )
    # The viewport itself, not the window (whose frame takes part of a window size).
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": min(int(height), max_height),
            "deviceScaleFactor": 1,
            "mobile": False,
        },
    )
    driver.save_screenshot(str(out))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    shrink(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--max-height", type=int, default=1200)
    args = parser.parse_args(argv)
    try:
        programs = browser_programs()
    except MissingBrowser as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.chdir(ROOT)  # relative paths in the pages' footers, the same on every machine
    folder = Path("build/screenshots-demo")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out = args.out if args.out.is_absolute() else ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    with SlackStandIn(Reply(200, "ok")) as slack:
        print("making the demo data (replay, deliver, a short live run)...", flush=True)
        demo = build_demo(folder, slack)
        with status_server(demo) as server:
            driver = chrome(*programs, width=args.width, height=800)
            try:
                for name, path in PAGES:
                    driver.get(server.url + path)
                    if path == "/preview":
                        driver.find_element(By.NAME, "draft").send_keys(DRAFT)
                        driver.find_element(
                            By.XPATH, "//form[@action='/preview']//button[text()='Preview']"
                        ).click()
                        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "result"))
                    target = out / name
                    shoot(driver, target, width=args.width, max_height=args.max_height)
                    print(
                        f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} kB",
                        flush=True,
                    )
            finally:
                driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
