"""The web page: triage the week's hits, prepare the relay, manage keywords and sources, see the report.

settings.py   `settings: web:` of feeds.yaml (listen, public_url, enabled)
auth.py       who may use it: password hash, one-time login links, sessions, CSRF, rate limit,
              and the signed action links of the digest (secrets kept in the database)
app.py        the Flask application: pages and actions, each a few lines over the same library
              functions as the command line (store, triage, export, keywords_file, feeds_file, ...)
server.py     the HTTP server (waitress) in its own threads, beside the daemon or alone
cli.py        `watcher serve` and `watcher web password|link`
templates/    Jinja2, autoescaped; static/ one stylesheet and one small script, nothing remote
"""
