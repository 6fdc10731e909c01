"""The quarterly report's indicators section, as `watcher report` writes it: the followers' curve,
the comparative table, our most engaging posts, visits per month and the relay loop, in HTML
and Markdown, with every piece of text from a network made inert."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.presence_fakes import BLUESKY_HANDLE, FakeBlueskyAppView, FakeMastodonAccount
from tests.test_cli import write_config
from watcher.cli import main

HOSTILE = "<script>alert(1)</script> [click](javascript:alert(2)) **loud** <img src=x onerror=alert(3)>"
ORG = "<b onclick=x>Nous & [co](javascript:x)"


def run(args: list[str], *command: str) -> str:
    result = CliRunner().invoke(main, [*args, *command])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_indicators_section_renders_in_html_and_markdown_with_network_text_escaped(tmp_path: Path) -> None:
    with LoopbackServer() as news, LoopbackServer() as mastodon, LoopbackServer() as bluesky:
        story = "https://news.example/1"
        news.route(
            "/feed",
            Response(
                200,
                {"Content-Type": "application/rss+xml"},
                rss(
                    [
                        Entry(
                            "A new coworking space opens in Sceaux for freelancers and small firms", story, hours_ago=30
                        )
                    ]
                ),
            ),
        )
        FakeMastodonAccount(mastodon)
        fake = FakeBlueskyAppView(bluesky)
        # our two newest recorded posts, dated today; the first one shares the story we relayed
        now = datetime.now(UTC).replace(microsecond=0)
        for n, entry in enumerate(fake.feed[:2]):
            record = entry["post"]["record"]
            record["createdAt"] = (now - timedelta(hours=2 + n)).isoformat().replace("+00:00", "Z")
        first = fake.feed[0]["post"]["record"]
        first["text"] = HOSTILE + " " + story
        first["facets"] = [{"features": [{"$type": "app.bsky.richtext.facet#link", "uri": story}]}]
        fake.feed[0]["post"]["likeCount"] = 41
        feeds = f"""settings:
  language: en
feeds:
  - name: news
    kind: rss
    url: {news.url("/feed")}
presence:
  - name: "{ORG}"
    role: self
    accounts:
      bluesky: {{handle: {BLUESKY_HANDLE}, base_url: {bluesky.base}}}
      website: {news.url("/feed")}
  - name: Le concurrent
    role: competitor
    accounts:
      mastodon: {{handle: mastodonpy_test, base_url: {mastodon.base}}}
"""
        args = write_config(tmp_path, feeds, "coworking\n")
        run(args, "poll", "--all")
        ids = [h["id"] for h in json.loads(run(args, "hits", "--json"))]
        run(args, "relay", "pick", str(ids[0]))
        run(args, "export", "--out", str(tmp_path / "relay.csv"))
        run(args, "relay", "done", str(ids[0]))
        run(args, "presence", "snapshot")
        month_ago = (now - timedelta(days=20)).date().isoformat()
        run(args, "presence", "record", f"{ORG}/bluesky", "followers", "500", "--date", month_ago)
        visits = tmp_path / "visits.csv"
        visits.write_text(f"date,account,metric,value\n{month_ago},{ORG}/website,visits,1234\n", encoding="utf-8")
        run(args, "presence", "import", str(visits))
        run(args, "report", "--since", "30d", "--out", str(tmp_path / "r"))
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    section = page[page.index('<section class="presence">') :]
    # the curve: an SVG with our line from 500 to the 554 the profile answered
    assert "<svg" in section and "<polyline" in section
    # the table, with the answer's figures (554 followers, 54 more than the reading by hand)
    bluesky_table = section[section.index("<h3>Bluesky</h3>") :]
    assert "554" in bluesky_table and "+54" in bluesky_table
    assert "<b>&lt;b onclick=x&gt;Nous &amp; [co](javascript:x)</b>" in bluesky_table  # `self` in bold
    # our most engaging post, escaped, linked to bsky.app
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert f'<a href="https://bsky.app/profile/{BLUESKY_HANDLE}/post/' in section
    # visits per month, and the relay loop closed on the story we relayed
    assert "1\u202f234" in section
    relay = section[section.index("Relay loop") :]
    assert f'<a href="{story}">' in relay and "Bluesky" in relay
    # nothing from a network is live markup
    assert "<script" not in page and "<img src=x" not in page and "<b onclick" not in page
    assert 'href="javascript' not in page
    markdown = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    md_section = markdown[markdown.index("## Presence and indicators") :]
    assert r"\<script\>alert\(1\)\</script\>" in md_section
    assert r"\[click\]\(javascript:alert\(2\)\)" in md_section and r"\*\*loud\*\*" in md_section
    assert r"\<b onclick=x\>Nous & \[co\]\(javascript:x\)" in md_section
    assert not re.search(r"(?<!\\)\[[^\]]*\]\(javascript", md_section)
