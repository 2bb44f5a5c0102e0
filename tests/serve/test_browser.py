"""The status page in a real headless Chromium, over the real ``storywatch serve``.

The demo data is made by the real commands (``tests/serve/demo_data``: replay of the bundled
snapshots, deliver to a local Slack stand-in, a short live run over local feeds), plus one
alert whose headline is hostile markup. Each page is loaded and read as a person sees it
(visible text, not the HTML), a retry is clicked, a draft is previewed. Without Chromium
and chromedriver the tests skip locally and fail in CI (``CI=true``), naming the fix.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from pipeline.alert_json import alert_to_json
from pipeline.ledger.postgres import PostgresLedger
from tests.deliver_support import Reply, SlackStandIn, make_alert
from tests.serve.browser import (
    DRAFT,
    MissingBrowser,
    browser_programs,
    chrome,
    status_server,
)
from tests.serve.demo_data import build_demo
from tests.serve.server_process import ServeProcess
from tests.serve.support import fill_ledger

pytestmark = pytest.mark.slow

WAIT_SECONDS = 20
#: Markup that would set a marker on <body> (and show a broken image) if it ran.
HOSTILE_TITLE = (
    '<img src="x" onerror="document.body.dataset.pwned=1">'
    "<script>document.body.dataset.pwned=1</script> Starlink over Taiwan, a hostile headline"
)


@pytest.fixture(scope="module")
def programs():
    try:
        return browser_programs()
    except MissingBrowser as exc:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with SlackStandIn(Reply(200, "ok")) as slack:
        made = build_demo(tmp_path_factory.mktemp("serve-demo"), slack)
        hostile = make_alert(
            90, storyline="starlink-taiwan", title=HOSTILE_TITLE, outlet="<b>Evil outlet</b>"
        )
        with made.alerts.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(alert_to_json(hostile)) + "\n")
        yield made


@pytest.fixture(scope="module")
def server(programs, demo):
    with status_server(demo) as running:
        yield running


@pytest.fixture(scope="module")
def browser(programs):
    driver = chrome(*programs)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_replay_and_the_run_name_the_command_that_opens_the_page(demo):
    dead = demo.alerts.with_name("alerts.dead-letters.jsonl")
    assert (
        f"status page: storywatch serve --ledger {demo.ledger} --alerts {demo.alerts} "
        f"--dead-letters {dead}  (then open http://127.0.0.1:8080/)"
    ) in demo.replay_output.splitlines()
    live = demo.folder
    assert (
        f"storywatch: status page: storywatch serve --ledger {live / 'live-ledger.sqlite'} "
        f"--alerts {live / 'live-alerts.jsonl'} --feed-health {demo.feed_health} "
        f"--dead-letters {demo.dead_letters}"
    ) in demo.run_output.splitlines()


def _open(browser, server, path: str) -> str:
    browser.get(server.url + path)
    _no_dialog(browser)
    return browser.find_element(By.TAG_NAME, "body").text


def _no_dialog(browser) -> None:
    try:
        text = browser.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"a script from the data ran: dialog {text!r}")


def test_the_storylines_index_lists_each_storyline_and_links_to_it(browser, server):
    text = _open(browser, server, "/")
    assert "Starlink and Musk in the Russia-Ukraine war" in text
    assert "Starlink and Taiwan" in text
    links = {
        a.text: a.get_attribute("href")
        for a in browser.find_elements(
            By.CSS_SELECTOR, "a[href^='/storylines/'], a[href*='/storylines/']"
        )
    }
    assert any(href.endswith("/storylines/starlink-ukraine-war") for href in links.values()), links
    browser.find_element(By.LINK_TEXT, "Starlink and Musk in the Russia-Ukraine war").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: "/storylines/" in d.current_url)
    assert (
        browser.find_element(By.TAG_NAME, "h1").text
        == "Starlink and Musk in the Russia-Ukraine war"
    )


@pytest.mark.parametrize("storyline", ["starlink-ukraine-war", "starlink-taiwan"])
def test_each_storyline_page_plots_its_developments_on_an_svg_timeline(browser, server, storyline):
    text = _open(browser, server, f"/storylines/{storyline}")
    shown = int(re.search(r"(\d+) shown", text).group(1))
    assert shown >= 1
    svg = browser.find_element(By.CSS_SELECTOR, "svg.timeline")
    assert svg.is_displayed() and svg.size["width"] > 300 and svg.size["height"] > 30
    dots = svg.find_elements(By.TAG_NAME, "circle")
    assert len(dots) == shown
    assert all(dot.size["width"] > 0 for dot in dots)
    # each development: its lead headline, outlets, why, and where its alert went
    assert "Outlets" in text and "Why" in text
    assert re.search(r"(desk|analyst)/slack: (sent|dead)", text), text[:2000]
    if storyline == "starlink-ukraine-war":
        assert "Musk cut internet to Ukraine’s military as it was attacking Russian fleet" in text
        assert "analyst/slack: dead" in text and "desk/slack: sent" in text


def test_a_hostile_headline_is_shown_as_text_and_never_runs(browser, server):
    text = _open(browser, server, "/storylines/starlink-taiwan")
    assert HOSTILE_TITLE in text  # the markup, as characters a person reads
    assert "<b>Evil outlet</b>" in text
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main script, main b") == []
    assert browser.execute_script("return document.body.dataset.pwned") is None
    _open(browser, server, "/")
    assert browser.execute_script("return document.body.dataset.pwned") is None


def test_the_feeds_page_puts_the_failing_feeds_on_top_with_the_error_in_words(browser, server):
    text = _open(browser, server, "/feeds")
    assert "5 feeds, 3 failing" in text
    rows = browser.find_elements(By.CSS_SELECTOR, "#feeds tbody tr")
    statuses = [row.find_element(By.CSS_SELECTOR, ".pill").text for row in rows]
    assert statuses == ["failing"] * 3 + ["ok"] * 2, statuses
    failing = "\n".join(row.text for row in rows[:3])
    assert "An outlet that moved its feed" in failing
    assert "the server says the feed is not there (404/410): check its URL" in failing
    assert "nothing answers at that address" in failing
    assert "the server is failing (5xx)" in failing
    assert "The Kyiv Independent" in rows[3].text + rows[4].text


def test_retry_on_the_deliveries_page_sends_a_dead_delivery_again(browser, server, demo):
    text = _open(browser, server, "/deliveries")
    assert "HTTP 404: no_service" in text and "analyst / slack" in text
    buttons = browser.find_elements(By.XPATH, "//table[@id='dead']//button[text()='Retry']")
    dead_before = len(buttons)
    assert dead_before >= 1
    assert "Pipeline failures" in text and "HTTP 503" in text  # the live run's dead letters
    demo.slack.script["/analyst"] = [Reply(200, "ok")]  # the analyst's hook works again
    posted_before = sum(path == "/analyst" for path, *_ in demo.slack.requests)
    buttons[0].click()
    result = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#dead tr.retried")
    )
    assert result[0].text == "retried: sent to analyst/slack"
    assert sum(path == "/analyst" for path, *_ in demo.slack.requests) == posted_before + 1
    text = _open(browser, server, "/deliveries")
    after = browser.find_elements(By.XPATH, "//table[@id='dead']//button[text()='Retry']")
    assert len(after) == dead_before - 1
    assert "retried" not in text


def test_a_pasted_draft_is_previewed_with_its_matches_and_evidence(browser, server):
    _open(browser, server, "/preview")
    area = browser.find_element(By.NAME, "draft")
    area.clear()
    area.send_keys(DRAFT)
    browser.find_element(By.XPATH, "//form[@action='/preview']//button[text()='Preview']").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "result"))
    result = browser.find_element(By.ID, "result").text
    assert "SpaceX and the Pentagon (draft)" in result, result[:2000]
    recorded = int(re.search(r"(\d+) recorded items", result).group(1))
    assert recorded >= 1
    assert browser.find_elements(By.CSS_SELECTOR, "#result .evidence .ev")
    # the draft stays in the form to be edited
    assert "spacex-pentagon-preview" in browser.find_element(By.NAME, "draft").get_attribute(
        "value"
    )


def test_a_broken_draft_is_reported_in_words(browser, server):
    _open(browser, server, "/preview")
    area = browser.find_element(By.NAME, "draft")
    area.clear()
    area.send_keys("storylines:\n  - id: broken\n    rule: {all_of: [[no-such-entity]]}\n")
    browser.find_element(By.XPATH, "//form[@action='/preview']//button[text()='Preview']").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_elements(By.ID, "result"))
    problems = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#result .problem")]
    assert problems and all(p.startswith("zz-seed-draft.yaml:") for p in problems), problems
    assert any("'title'" in p for p in problems), problems
    assert not any("storywatch-seed-" in p for p in problems), problems  # the server's temp dir


def test_the_page_on_a_postgresql_ledger_shows_its_delivery_rows_and_mutes(
    browser, postgres_url, tmp_path
):
    """The real ``storywatch serve`` on a real PostgreSQL ledger and no alerts file: the
    storylines, deliveries and mutes all come through the ledger (before, this page showed
    no delivery row and no mute on PostgreSQL)."""
    now = dt.datetime.now(dt.UTC)
    alerts = [
        make_alert(1, at=now - dt.timedelta(hours=3)),
        make_alert(2, at=now - dt.timedelta(hours=2)),
    ]
    ledger = PostgresLedger(postgres_url)
    try:
        fill_ledger(
            ledger,
            alerts,
            {
                (alerts[0].alert_id, "desk", "slack"): ("sent", ""),
                (alerts[1].alert_id, "analyst", "slack"): ("dead", "HTTP 404: no_service"),
            },
        )
        ledger.add_mute("musk-kremlin-contacts", now + dt.timedelta(days=1))
        ledger.add_mute(alerts[1].development_id, None)
    finally:
        ledger.close()
    password = postgres_url.split(":")[2].split("@")[0]
    args = [f"--ledger={postgres_url}"] + [
        f"--{flag}={tmp_path / name}"
        for flag, name in (
            ("alerts", "no-alerts.jsonl"),
            ("feed-health", "no-health.jsonl"),
            ("dead-letters", "no-dead-letters.jsonl"),
            ("feeds-file", "no-feeds.yaml"),
        )
    ]
    with ServeProcess(args) as server:
        index = _open(browser, server, "/")
        until = (now + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M UTC")
        assert f"muted until {until}" in index, index[:2000]
        assert "1 sent" in index and "1 dead" in index
        page = _open(browser, server, "/storylines/musk-kremlin-contacts")
        assert "desk/slack: sent" in page and "analyst/slack: dead" in page, page[:3000]
        muted = browser.find_elements(By.CSS_SELECTOR, "article.development:has(.pill.muted)")
        assert [a.get_attribute("id") for a in muted] == [f"dev-{alerts[1].development_id}"]
        assert f"muted until {until}" in page  # the storyline's own mute
        deliveries = _open(browser, server, "/deliveries")
        assert "HTTP 404: no_service" in deliveries and "analyst / slack" in deliveries
        buttons = browser.find_elements(By.XPATH, "//table[@id='dead']//button[text()='Retry']")
        assert len(buttons) == 1
        for text in (index, page, deliveries, "\n".join(server.output)):
            assert password not in text
        assert "postgresql://storywatch:***@127.0.0.1:" in index  # the footer names the ledger
