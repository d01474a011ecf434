"""A Telegram channel as an ingest source (built-in plugin): Bot API polling or a webhook, MTProto backfill.

`config` checks what editors store, `posts` turns Bot API updates into compact posts (what `state` keeps between
runs), `items` groups posts into items (an album is one item), `botapi` talks to the Bot API through the safe
client, `webhook` is the route Telegram pushes updates to, `backfill` reads a channel's history with telethon, and
`plugin` puts them together as the `telegram` source. plugins/telegram/README.md is the operator's guide.
"""
