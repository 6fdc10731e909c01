"""The web page in a real browser: Debian's Chromium driven by Selenium, against the real server.

Triage with the keyboard, pick by click, edit a draft and export, each checked in the database;
and a screenshot of every page at 360 px and 1280 px wide, saved in tests/.screenshots/ (not in
git) for a person to look at. Skipped, saying why, where Chromium or its driver is missing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer
from tests.webfix import WebWatch, web_watch
from watcher.store import Store
from watcher.web import auth

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENS = Path(__file__).parent / ".screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
WAIT = 20  # seconds at most for the page to show what it should (never a measure of speed)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def browser() -> Iterator[object]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="watcher-chromium-")
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900",
    ):  # fmt: skip
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(DRIVER)))
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"Chromium does not start here: {exc.msg}")
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def w(tmp_path: Path, server: LoopbackServer) -> Iterator[WebWatch]:
    with web_watch(tmp_path, server) as watch:
        yield watch


def until(driver: object, condition: Callable[[], bool]) -> None:
    WebDriverWait(driver, WAIT, poll_frequency=0.1).until(lambda _d: condition())


def log_in(driver: object, w: WebWatch) -> None:
    driver.get(f"{w.base}/login?token={w.login_link()}")  # type: ignore[attr-defined]
    until(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#stories"))  # type: ignore[attr-defined]


def state_of(w: WebWatch, hit_id: int) -> str:
    return {w.hit_id(url): state for url, state in w.states().items()}[hit_id]


def test_triage_with_the_keyboard_pick_by_click_and_export(browser: object, w: WebWatch) -> None:
    d = browser
    log_in(d, w)
    cards = d.find_elements(By.CSS_SELECTOR, "#stories .story")  # type: ignore[attr-defined]
    ids = [int(c.get_attribute("data-id")) for c in cards]
    assert len(ids) >= 4
    body = d.find_element(By.TAG_NAME, "body")  # type: ignore[attr-defined]

    def key(k: str, card: int, state: str) -> None:
        body.send_keys(k)
        until(d, lambda: state_of(w, ids[card]) == state)
        until(d, lambda: "triaged" in (cards[card].get_attribute("class") or ""))

    body.send_keys("j")  # the first story
    until(d, lambda: "current" in (cards[0].get_attribute("class") or ""))
    key("s", 0, "skipped")  # and the next one is selected
    key("n", 1, "noise")
    key("p", 2, "picked")
    body.send_keys("u")  # undo the last one: back to new, shown again
    until(d, lambda: state_of(w, ids[2]) == "new")
    until(d, lambda: "triaged" not in (cards[2].get_attribute("class") or ""))
    body.send_keys("p")
    until(d, lambda: state_of(w, ids[2]) == "picked")
    cards[3].find_element(By.CSS_SELECTOR, "button.pick").click()  # one by click
    until(d, lambda: state_of(w, ids[3]) == "picked")
    assert [state_of(w, i) for i in ids[:4]] == ["skipped", "noise", "picked", "picked"]

    d.get(f"{w.base}/relay")  # type: ignore[attr-defined]
    draft = d.find_element(By.CSS_SELECTOR, f"textarea[name='draft-{ids[2]}']")  # type: ignore[attr-defined]
    assert draft.get_attribute("value")  # the message as the export writes it
    draft.clear()
    draft.send_keys("Un message écrit à la main")
    d.find_element(By.CSS_SELECTOR, "#export button[type=submit]").click()  # type: ignore[attr-defined]
    until(d, lambda: state_of(w, ids[2]) == "exported" and state_of(w, ids[3]) == "exported")


def test_screenshots_of_every_page_at_phone_and_desktop_width(browser: object, w: WebWatch) -> None:
    d = browser
    SCREENS.mkdir(exist_ok=True)
    log_in(d, w)
    client = w.client()
    for url in ("https://news.example/fablab", "https://news.example/coworking-sceaux"):
        csrf = client.get("/").text.split('name="csrf" value="')[1].split('"')[0]
        client.post(f"/hits/{w.hit_id(url)}/pick", data={"csrf": csrf})
    with Store(w.db) as store:
        key = auth.link_key(store)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    link = auth.sign_action(key, w.hit_id("https://news.example/fablab-2"), "noise", tomorrow)
    pages = {
        "week": "/?state=all",
        "relay": "/relay",
        "keywords": "/keywords",
        "sources": "/sources",
        "report": "/report",
    }
    for width in (360, 1280):
        for name, path in pages.items():
            d.set_window_size(width, 1800)  # type: ignore[attr-defined]
            d.get(w.base + path)  # type: ignore[attr-defined]
            until(d, lambda: d.execute_script("return document.readyState") == "complete")  # type: ignore[attr-defined]
            overflow = d.execute_script(  # type: ignore[attr-defined]
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} is wider than {width} px by {overflow} px"
            shot = SCREENS / f"{name}-{width}.png"
            d.save_screenshot(str(shot))  # type: ignore[attr-defined]
            assert shot.stat().st_size > 1000
        d.delete_all_cookies()  # type: ignore[attr-defined]
        d.get(w.base + "/login")  # type: ignore[attr-defined]
        d.save_screenshot(str(SCREENS / f"login-{width}.png"))  # type: ignore[attr-defined]
        d.get(f"{w.base}/a/{link}")  # type: ignore[attr-defined]  (a digest's link, opened without a session)
        d.save_screenshot(str(SCREENS / f"confirm-{width}.png"))  # type: ignore[attr-defined]
        d.find_element(By.CSS_SELECTOR, "main form button").click()  # type: ignore[attr-defined]
        until(d, lambda: d.find_elements(By.CSS_SELECTOR, "p.notice"))  # type: ignore[attr-defined]
        d.save_screenshot(str(SCREENS / f"confirmed-{width}.png"))  # type: ignore[attr-defined]
        log_in(d, w)
    assert state_of(w, w.hit_id("https://news.example/fablab-2")) == "noise"
