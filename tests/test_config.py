"""feeds.yaml and keywords.txt: what is accepted, and a clear message with file and line for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.config import load_config, parse_duration, parse_feeds, parse_keywords
from watcher.errors import ConfigError

ROOT = Path(__file__).parent.parent


def test_bundled_configuration_is_valid_and_covers_the_organisations_themes() -> None:
    config = load_config(ROOT / "feeds.yaml", ROOT / "keywords.txt", env={})
    texts = [q.text for q in config.queries]
    for theme in ["coworking", "tiers-lieux", "fablab", "télétravail", '"équilibre de vie"', "maker"]:
        assert theme in texts
    assert any(f.kind == "google_news" for f in config.feeds)
    assert config.settings.language == "fr" and config.settings.region == "FR"


def test_keyword_weight_group_and_comments() -> None:
    queries = parse_keywords("# comment\n\n[concurrents]\nacme ^2.5\n  coworking\n")
    assert [(q.text, q.weight, q.group, q.line) for q in queries] == [
        ("acme", 2.5, "concurrents", 4),
        ("coworking", 1.0, "concurrents", 5),
    ]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('coworking\n"équilibre de vie\n', 2, "quote"),
        ("coworking\n\nfablab OR\n", 3, "OR"),
        ("coworking\nCoworkings\n", 2, "repeats the query of line 1"),
        ("-recrutement\n", 1, ""),
    ],
    ids=["unbalanced quote", "dangling OR", "duplicate after normalisation", "only an exclusion"],
)
def test_bad_keyword_line_names_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_keywords(text, "keywords.txt")
    assert err.value.line == line
    assert str(err.value).startswith(f"keywords.txt:{line}:")
    assert fragment in str(err.value)


GOOD_FEED = "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/feed\n"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("feeds:\n  - name: a\n    kind: rss\n    url: [unclosed\n", 5, "invalid YAML"),
        ("feeds:\n  - name: a\n    kind: telegraph\n", 3, "unknown kind 'telegraph'"),
        ("feeds:\n  - name: a\n    kind: rss\n", 2, "needs a `url`"),
        ("feeds:\n  - name: a\n    kind: rss\n    url: ftp://x\n", 4, "http"),
        (GOOD_FEED + "    interval: often\n", 5, "not a duration"),
        (GOOD_FEED + "    interval: 10s\n", 5, "minimum"),
        (
            GOOD_FEED + "  - name: a\n    kind: rss\n    url: https://example.org/2\n",
            5,
            "already used on line 2",
        ),
        (GOOD_FEED + "    weight: -1\n", 5, "weight"),
        (GOOD_FEED + "    enabled: maybe\n", 5, "true or false"),
        ("feeds:\n  - kind: rss\n", 2, "without a `name`"),
        ("feed:\n  - name: a\n", 1, "unknown top-level key 'feed'"),
        ("settings:\n  timezone: Mars/Olympus\nfeeds: []\n", 2, "unknown time zone"),
        (
            "feeds:\n  - name: b\n    kind: bluesky\n    handle: me.bsky.social\n"
            "    app_password: ${BSKY_TEST_PASSWORD}\n",
            5,
            "${BSKY_TEST_PASSWORD} is not set",
        ),
    ],
    ids=[
        "bad yaml",
        "unknown kind",
        "missing url",
        "url not http",
        "bad interval",
        "interval too short",
        "duplicate name",
        "negative weight",
        "enabled not a boolean",
        "missing name",
        "misspelt top-level key",
        "unknown time zone",
        "missing credential",
    ],
)
def test_bad_feeds_yaml_names_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_feeds(text, "feeds.yaml", env={})
    assert err.value.line == line, str(err.value)
    assert fragment in str(err.value)


def test_credentials_come_from_environment_or_credentials_file(tmp_path: Path) -> None:
    text = (
        "settings:\n  credentials_file: creds.env\n"
        "feeds:\n  - name: b\n    kind: bluesky\n    app_password: ${BSKY_PW}\n    handle: ${BSKY_HANDLE}\n"
    )
    (tmp_path / "creds.env").write_text("# secrets\nBSKY_PW='s3cret'\n")
    feeds, _ = parse_feeds(text, "feeds.yaml", env={"BSKY_HANDLE": "me.bsky.social"}, base=tmp_path)
    assert feeds[0].options == {"app_password": "s3cret", "handle": "me.bsky.social"}


def test_disabled_feed_needs_no_credential() -> None:
    text = "feeds:\n  - name: b\n    kind: bluesky\n    enabled: false\n    app_password: ${NOPE}\n"
    feeds, _ = parse_feeds(text, "feeds.yaml", env={})
    assert feeds[0].enabled is False


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30m", 1800), ("2h", 7200), ("7d", 604800), (45, 45)])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds
