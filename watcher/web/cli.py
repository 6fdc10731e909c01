"""`watcher serve` and `watcher web password|link`: the web page from the command line."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import click

from watcher.cli import CONTEXT, Env, fail


def register(main: click.Group) -> None:
    main.add_command(serve)
    main.add_command(web)


def _settings(env: Env) -> Any:
    from watcher.config import setting_error
    from watcher.web.settings import web_settings

    config = env.config()
    try:
        return web_settings(config.settings.extra.get("web"))
    except ValueError as exc:
        fail(str(setting_error(env.feeds, config.settings, str(exc))), code=2)


def _base(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@click.command(context_settings=CONTEXT)
@click.option("--host", help="Address to listen on [default: settings.web.listen, else 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), help="Port [default: settings.web.listen, else 8321].")
@click.pass_obj
def serve(env: Env, host: str | None, port: int | None) -> None:
    """Serve the web page until stopped (Ctrl-C or SIGTERM), and print a one-time login link.

    The page lists the week's hits to triage, the hits to relay, the keywords, the sources and
    the report. It listens on 127.0.0.1 unless told otherwise: put an HTTPS proxy in front to
    reach it from elsewhere (see the README). `watcher run` serves it too when settings.web says
    `enabled: true`.
    """
    from watcher.web import auth
    from watcher.web.app import Site, create_app
    from watcher.web.server import WebServer

    settings = _settings(env)
    host = host or settings.host
    port = settings.port if port is None else port
    site = Site(env.feeds, env.keywords, env.db)
    try:
        server = WebServer(create_app(site), host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror} (choose another with --port)", code=1)
    with env.store() as store:
        token = auth.new_login_link(store, datetime.now(UTC))
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    server.start()
    click.echo(f"watcher web page at {server.url}/")
    click.echo(f"Log in within 15 minutes with this one-time link: {server.url}/login?token={token}")
    if host not in ("127.0.0.1", "::1", "localhost"):
        click.echo(f"Listening on {host}: put an HTTPS proxy in front (see the README).", err=True)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
        site.close()
    click.echo("Stopped.")


@click.group(context_settings=CONTEXT)
def web() -> None:
    """The web page's login: set the password, or get a one-time login link."""


@web.command("password", context_settings=CONTEXT)
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_obj
def web_password(env: Env, from_stdin: bool) -> None:
    """Set the web page's password (kept as a slow salted hash; open sessions are closed)."""
    from watcher.web import auth

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    problem = auth.password_problem(password)
    if problem:
        fail(problem, code=2)
    with env.store() as store:
        auth.set_password(store, password)
    click.echo("Password set; every open session of the web page was closed.")


@web.command("link", context_settings=CONTEXT)
@click.pass_obj
def web_link(env: Env) -> None:
    """Print a one-time login link for the web page (valid 15 minutes)."""
    from watcher.web import auth

    settings = _settings(env)
    with env.store() as store:
        token = auth.new_login_link(store, datetime.now(UTC))
    base = settings.public_url or _base(settings.host, settings.port)
    click.echo(f"{base}/login?token={token}")
