"""Presence: the organisation's own accounts against competitors' and a model's, per medium.

feeds.yaml `presence:`          -> Organisation, PresenceAccount        accounts
public APIs (Mastodon, Bluesky,
a website's feed)               -> Snapshot (figures, recent posts)    networks (pure) + snapshot (I/O)
`presence record` / `import`    -> figures by hand or by file          manual
Snapshot, figures               -> SQLite (one row per account, day)   storage
stored figures                  -> the comparative table               table (pure)
table, curves, posts            -> the quarterly report's section      indicators (pure)
"""
