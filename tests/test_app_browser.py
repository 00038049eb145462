"""In a real browser: headless Chromium opens the app `bricksml app` started, a sentence gets its label.

Chromium is Debian's package, driven over the Chrome DevTools protocol with a small client (one
websocket, JSON messages); the network stays closed (no first-run, sync, component or background
requests). The screenshot it takes is the README's ``docs/app.png``.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from websockets.sync.client import connect

from bricksml.data import sample
from bricksml.jobs.train_models import train_models
from bricksml.params import TrainParams
from bricksml.tracking import modelstore, registry, setup
from bricksml.tracking.registry import CHAMPION
from tests.helpers import SENTIMENT, make_version

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("app_browser")]

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "app.png"
CHROMIUM = "/usr/bin/chromium"
MODEL = "main.bricksml.financial_sentiment"
SENTENCE = "Operating profit rose sharply and the company raised its outlook for the full year"
#: Flags that keep a headless Chromium from reaching any network on its own.
QUIET = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WAIT_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not answer {url} within {WAIT_SECONDS} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # both stop at once on SIGTERM: nothing of theirs is kept
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class DevTools:
    """The Chrome DevTools protocol on one page: send a command, wait for its answer."""

    def __init__(self, websocket_url: str) -> None:
        self.socket = connect(websocket_url, max_size=None, open_timeout=10)
        self.ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=WAIT_SECONDS))
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression: str, what: str) -> Any:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"the page never showed {what}: {self.evaluate('document.body?.innerText')!r}")

    def close(self) -> None:
        self.socket.close()


@pytest.fixture(scope="module")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's package")
        pytest.skip(f"{CHROMIUM} is missing: `make chromium` installs Debian's package")
    return CHROMIUM


@pytest.fixture(scope="module")
def page(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    """One headless Chromium with a new, empty profile, and the DevTools client of its page."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    browser = subprocess.Popen(
        [
            chromium,
            *QUIET,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,1000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + WAIT_SECONDS
        while not (port_file.is_file() and port_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
            target = next(t for t in json.load(answer) if t["type"] == "page")
        tools = DevTools(target["webSocketDebuggerUrl"])
        tools.send(
            "Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False
        )
        yield tools
        tools.close()
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def app_url(workspace: Path, page: DevTools) -> Iterator[str]:
    """`bricksml app` as a process, on a champion trained meanwhile.

    The browser opens the app as soon as it answers (no model yet: the page says so), so the app
    loads its libraries while the model trains.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    app = subprocess.Popen(
        [sys.executable, "-m", "bricksml.cli.main", "app", "--port", str(port), "--model-name", MODEL],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(f"{url}_stcore/health", app, "bricksml app")
        page.send("Page.navigate", url=url)
        make_version(workspace, "financial_sentiment", sample.sentiment(600, 5), SENTIMENT)
        params = TrainParams.parse({"data_name": "financial_sentiment", "data_version": "v1"})
        registry.set_alias(MODEL, CHAMPION, train_models(params).model_version)
        yield url
    finally:
        _stop(app)


def test_a_sentence_typed_in_the_browser_gets_the_champion_s_label(app_url: str, page: DevTools) -> None:
    page.send("Page.navigate", url=app_url)
    page.wait_until("!!document.querySelector('textarea')", "the text box")
    page.evaluate("document.querySelector('textarea').focus()")
    page.send("Input.insertText", text=SENTENCE)
    page.evaluate(
        "[...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Predict').click()"
    )
    shown = page.wait_until(
        "document.querySelector('[data-testid=\"stMetricValue\"]')?.innerText", "a prediction"
    )
    setup.configure()
    expected = modelstore.load(f"models:/{MODEL}@champion").predict(pd.DataFrame({"Sentence": [SENTENCE]}))[0]
    assert shown == expected
    text = page.wait_until(
        "document.body.innerText.includes('What drove it') && document.body.innerText", "what drove it"
    )
    assert f"Answered by {MODEL} v1, loaded by the app" in text
    assert "Internal error" not in text and "Traceback" not in text
    page.wait_until(
        'document.querySelectorAll(\'[data-testid="stVegaLiteChart"] canvas, '
        '[data-testid="stVegaLiteChart"] svg\').length >= 2',
        "the two charts",
    )
    page.evaluate("document.activeElement?.blur()")  # no caret or focus ring in the picture
    time.sleep(0.5)  # the charts' last frame of animation
    shot = page.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
    data = base64.b64decode(shot["data"])
    assert data.startswith(b"\x89PNG")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(data)
