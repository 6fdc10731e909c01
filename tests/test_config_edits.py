"""Editing keywords.txt and feeds.yaml from the command line: through symbolic links, keeping the
file's mode, one clear line when the file cannot be written, and no update lost when two
commands edit the same file at once."""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import WAIT, cli_args, run_processes
from watcher.feeds_file import add_feed
from watcher.keywords_file import add_query

FEEDS = """# the sources
feeds:
  - name: presse
    kind: rss
    url: https://presse.example/feed
"""


def watcher(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", *cli_args(folder), *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )


def linked_config(tmp_path: Path) -> tuple[Path, Path]:
    """feeds.yaml and keywords.txt in `tmp_path` as symbolic links to files in another folder, mode 0640."""
    real = tmp_path / "etc"
    real.mkdir()
    (real / "keywords.txt").write_text("# veille\ncoworking\n", encoding="utf-8")
    (real / "feeds.yaml").write_text(FEEDS, encoding="utf-8")
    for name in ("keywords.txt", "feeds.yaml"):
        os.chmod(real / name, 0o640)
        (tmp_path / name).symlink_to(real / name)
    return real / "keywords.txt", real / "feeds.yaml"


def test_keywords_add_and_feeds_add_write_through_a_symlink_and_keep_the_link_and_the_mode(tmp_path: Path) -> None:
    keywords, feeds = linked_config(tmp_path)
    added = watcher(tmp_path, "keywords", "add", "fablab")
    assert added.returncode == 0, added.stderr
    added = watcher(tmp_path, "feeds", "add", "blog", "--url", "https://blog.example/feed")
    assert added.returncode == 0, added.stderr
    for link, target in ((tmp_path / "keywords.txt", keywords), (tmp_path / "feeds.yaml", feeds)):
        assert link.is_symlink() and link.resolve() == target
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert keywords.read_text(encoding="utf-8") == "# veille\ncoworking\nfablab\n"
    assert "https://blog.example/feed" in feeds.read_text(encoding="utf-8")
    assert sorted(p.name for p in keywords.parent.iterdir()) == ["feeds.yaml", "keywords.txt"]  # no temporary left
    listed = watcher(tmp_path, "keywords", "list")
    assert "fablab" in listed.stdout


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_file_that_cannot_be_written_is_one_line_exit_1_and_left_as_it_was(tmp_path: Path, full_disk: Path) -> None:
    (full_disk / "keywords.txt").write_text("coworking\n", encoding="utf-8")
    (full_disk / "feeds.yaml").write_text(FEEDS, encoding="utf-8")
    (tmp_path / "keywords.txt").symlink_to(full_disk / "keywords.txt")
    (tmp_path / "feeds.yaml").symlink_to(full_disk / "feeds.yaml")
    fd = os.open(full_disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (65536, 4096):  # then page by page: not a page left
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    for command in (
        ["keywords", "add", "fablab"],
        ["feeds", "add", "blog", "--url", "https://blog.example/feed"],
    ):
        result = watcher(tmp_path, *command)
        assert result.returncode == 1, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "cannot write" in line and "No space left on device" in line and "Traceback" not in result.stderr
    assert (full_disk / "keywords.txt").read_text(encoding="utf-8") == "coworking\n"
    assert (full_disk / "feeds.yaml").read_text(encoding="utf-8") == FEEDS
    assert sorted(p.name for p in full_disk.iterdir()) == ["feeds.yaml", "filler", "keywords.txt"]


def _add_keyword(path: Path, word: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait(WAIT)
    add_query(path, word)


def _add_feed(path: Path, name: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait(WAIT)
    add_feed(path, {"name": name, "kind": "rss", "url": f"https://{name}.example/feed"}, env={})


@pytest.mark.parametrize("what", ["keywords", "feeds"])
def test_edits_made_at_the_same_moment_by_several_processes_all_land(tmp_path: Path, what: str) -> None:
    (tmp_path / "keywords.txt").write_text("coworking\n", encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(FEEDS, encoding="utf-8")
    path, edit = (
        (tmp_path / "keywords.txt", _add_keyword) if what == "keywords" else (tmp_path / "feeds.yaml", _add_feed)
    )
    names = [f"mot{chr(ord('a') + i)}" for i in range(8)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(names))
    workers = [context.Process(target=edit, args=(path, name, barrier)) for name in names]
    assert run_processes(workers) == [0] * len(names)
    text = path.read_text(encoding="utf-8")
    assert all(name in text for name in names), text
