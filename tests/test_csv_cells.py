"""CSV and JSON exports of hits: what a spreadsheet or a scheduler receives, cell by cell."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from watcher.export import CSV_COLUMNS, render_csv, render_json


def hit(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c: "" for c in CSV_COLUMNS}
    row.update(id=1, score=50, keywords=["coworking"], sources=["masto"], state="new", text="")
    row.update(fields)
    return row


def test_a_post_without_a_title_is_titled_with_the_start_of_its_text() -> None:
    post = "Notre coworking ouvre un deuxième espace à Lille, avec une salle de réunion et un atelier partagé " * 2
    rows = [hit(title="", text=post, url="https://mastodon.example/@ana/1", author="@ana@mastodon.example")]
    [header, cells] = list(csv.reader(io.StringIO(render_csv(rows))))
    title = cells[header.index("title")]
    assert title.startswith("Notre coworking ouvre un deuxième espace") and title.endswith("…")
    assert len(title) <= 101
    [exported] = json.loads(render_json(rows))
    assert exported["title"] == title and "text" not in exported


def test_a_cell_that_a_semicolon_would_split_holds_no_formula_and_every_cell_is_quoted() -> None:
    text = render_csv([hit(title="Nouveau coworking;=cmd|' /C calc'!A0", url="https://news.example/a")])
    line = text.splitlines()[1]
    assert line.startswith('"') and '"Nouveau coworking;\'=cmd|\' /C calc\'!A0"' in line
    assert all(not part.lstrip('" ').startswith("=") for part in line.split(";"))


def test_a_script_link_never_reaches_a_csv() -> None:
    rows = [hit(title="Coworking", url=url) for url in ("javascript:alert(1)", " DATA:text/html,x", "vbscript:x")]
    for cells in list(csv.reader(io.StringIO(render_csv(rows))))[1:]:
        assert cells[CSV_COLUMNS.index("url")] == ""
