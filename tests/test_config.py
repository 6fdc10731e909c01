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
        ('coworking\n""\n', 2, "empty phrase"),
        ("OR\n", 1, "OR needs a term on each side"),
        ("coworking\n-\n", 2, "must be followed by a word"),
        ("*\n", 1, "'*' must follow a word"),
        ("cow**\n", 1, "only allowed at the end of a word"),
        ("a OR -b\n", 1, "cannot be an option of OR"),
        ("!!!\n", 1, "holds no word"),
        ("coworking ^x\n", 1, "not a weight"),
        ("[concurrents\nacme\n", 1, "group line"),
    ],
    ids=[
        "unbalanced quote",
        "dangling OR",
        "duplicate after normalisation",
        "only an exclusion",
        "empty query",
        "lone OR",
        "lone dash",
        "lone star",
        "star inside a word",
        "exclusion as an OR option",
        "no word at all",
        "weight that is not a number",
        "group without its closing bracket",
    ],
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
        ("feeds:\n\t- name: a\n", 2, "invalid YAML"),
        ('feeds:\n  - name: "a\n    kind: rss\n', 4, "invalid YAML"),
        ("- name: a\n", 1, "top level must be a mapping"),
        ("feeds:\n  name: a\n", 2, "must be a list"),
        ("feeds:\n  - https://example.org/feed\n", 2, "must be a mapping"),
        ("feeds:\n  - name: a\n    url: https://example.org/feed\n", 2, "has no `kind`"),
        (GOOD_FEED + "    url: https://example.org/other\n", 5, "`url` is given twice (first on line 4)"),
        (GOOD_FEED + "    intervall: 2h\n", 5, "unknown key 'intervall' (did you mean 'interval'?)"),
        ("feeds:\n  - name: a\n    kind: rss\n    url: https://exa mple.org/f\n", 4, "space"),
        (GOOD_FEED + "    interval: -5m\n", 5, "not a duration"),
        (GOOD_FEED + "    tags: {a: 1}\n", 5, "tags must be a list"),
        ("settings:\n  timout: 3\nfeeds: []\n", 2, "unknown setting 'timout' (did you mean 'timeout'?)"),
        ("settings:\n  timeout: -3\nfeeds: []\n", 2, "positive number of seconds"),
        ("settings:\n  - fr\nfeeds: []\n", 2, "`settings` must be a mapping"),
        ("feeds:\n  - name: m\n    kind: mastodon\n    base_url: mastodon.social\n", 4, "base_url"),
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
        "tab indentation",
        "unclosed quote",
        "top level a list",
        "feeds a mapping",
        "feed a bare url",
        "missing kind",
        "key given twice",
        "misspelt feed key",
        "url with a space",
        "negative interval",
        "tags a mapping",
        "misspelt setting",
        "negative timeout",
        "settings a list",
        "base_url without scheme",
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


@pytest.mark.parametrize(
    ("feeds", "keywords", "where"),
    [
        ("", "coworking\n", "feeds.yaml: the file is empty"),
        (GOOD_FEED, "coworking\n\xff\n", "keywords.txt: not UTF-8 text"),
        ("settings:\n  credentials_file: creds.env\n" + GOOD_FEED, "coworking\n", "creds.env:2: expected KEY=VALUE"),
    ],
    ids=["empty feeds.yaml", "keywords.txt not UTF-8", "bad credentials file line"],
)
def test_file_level_mistakes_name_the_file(tmp_path: Path, feeds: str, keywords: str, where: str) -> None:
    (tmp_path / "feeds.yaml").write_text(feeds)
    (tmp_path / "keywords.txt").write_bytes(keywords.encode("latin-1"))
    (tmp_path / "creds.env").write_text("# secrets\nnot a pair\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", env={})
    message = str(err.value)
    assert where in message.replace(str(tmp_path) + "/", "")
    assert "\n" not in message
