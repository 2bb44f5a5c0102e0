"""The real ``storywatch serve`` in its own process, for the browser tests, the screenshots
and ``bench/serve_pages.py``.

    with ServeProcess([--ledger=…, …], env=…) as server: server.url   # http://127.0.0.1:PORT

``--port 0``: the server picks a free 127.0.0.1 port and names it on its first line. On
exit its process group gets SIGINT, then SIGKILL after a bounded wait.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading

from tests.cli_support import STORYWATCH
from tests.paths import ROOT

START_TIMEOUT_SECONDS = 60.0


class ServeProcess:
    """``storywatch serve ARGS`` in a subprocess on a free loopback port."""

    def __init__(self, args: list[str], *, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.env = env
        self.url = ""
        self.output: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServeProcess:
        self._process = subprocess.Popen(
            [STORYWATCH, "serve", "--host=127.0.0.1", "--port=0", *self.args],
            cwd=ROOT,
            env=self.env,
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
