"""A real ``storywatch serve`` and a headless Chromium on it, for the browser tests and
``tools/screenshots.py``.

    browser_programs() -> (chromium, chromedriver) paths, or raise MissingBrowser
    StatusServer(demo, …) context: ``storywatch serve --port 0`` over the demo, ``.url``
    chrome(chromium, chromedriver, width=…, height=…) -> selenium WebDriver (headless)

The system Chromium and its driver come from Debian (``chromium``, ``chromium-driver``;
``tools/install_test_system.sh`` installs both). The server is the console script in its own
process, on a free 127.0.0.1 port it names on its first line; it is stopped (its process
group) on exit, with a bounded wait.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.cli_support import STORYWATCH
from tests.paths import ROOT
from tests.serve.demo_data import Demo

START_TIMEOUT_SECONDS = 60.0
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


class StatusServer:
    """``storywatch serve`` over ``demo`` in a subprocess on a free loopback port."""

    def __init__(self, demo: Demo, *, extra_args: list[str] | None = None) -> None:
        self.demo = demo
        self.extra_args = extra_args or []
        self.url = ""
        self.output: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> StatusServer:
        self._process = subprocess.Popen(
            [STORYWATCH, "serve", "--host=127.0.0.1", "--port=0", *self.demo.serve_args()]
            + self.extra_args,
            cwd=ROOT,
            env=self.demo.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()
        stdout = self._process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                self.output.append(line.rstrip("\n"))
                if "status page on http://" in line and not self.url:
                    self.url = line.split("status page on ", 1)[1].split("/", 3)[2]
                    self.url = f"http://{self.url}"
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(START_TIMEOUT_SECONDS) or not self.url:
            self.__exit__(None, None, None)
            raise RuntimeError("storywatch serve did not start:\n" + "\n".join(self.output))
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
