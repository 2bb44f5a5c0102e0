"""A real ``storywatch serve`` and a headless Chromium on it, for the browser tests and
``tools/screenshots.py``.

    browser_programs() -> (chromium, chromedriver) paths, or raise MissingBrowser
    status_server(demo) context: ``storywatch serve --port 0`` over the demo, ``.url``
    chrome(chromium, chromedriver, width=…, height=…) -> selenium WebDriver (headless)

The system Chromium and its driver come from Debian (``chromium``, ``chromium-driver``;
``tools/install_test_system.sh`` installs both). The server is the console script in its own
process (``tests.serve.server_process``).
"""

from __future__ import annotations

import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.serve.demo_data import Demo
from tests.serve.server_process import ServeProcess

#: A watchlist draft for the preview page (entities of the shipped watchlists).
DRAFT = """\
storylines:
  - id: spacex-pentagon-preview
    title: SpaceX and the Pentagon (draft)
    rule:
      all_of:
        - [spacex, starlink]
        - [ukraine]
    threshold: 0.5
"""


class MissingBrowser(RuntimeError):
    pass


def browser_programs() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [
        name for name, path in (("chromium", chromium), ("chromium-driver", driver)) if not path
    ]
    if missing:
        raise MissingBrowser(
            f"the browser tests need {' and '.join(missing)} (Debian packages): run "
            "tools/install_test_system.sh (as root), or `apt-get install chromium chromium-driver`"
        )
    assert chromium and driver
    return chromium, driver


def chrome(chromium: str, chromedriver: str, *, width: int = 1280, height: int = 900):
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in containers/CI has no user namespace sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
        "--lang=en-US",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ):
        options.add_argument(arg)
    service = Service(executable_path=chromedriver)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver


def status_server(demo: Demo) -> ServeProcess:
    """``storywatch serve`` over the demo (a context manager)."""
    return ServeProcess(demo.serve_args(), env=demo.env())
