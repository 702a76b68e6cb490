"""Streaming delivery: profile rows to HTTP requests, sent per destination in lanes of their own.

`lanes` (the engine: `deliver`), `sending` (one destination's connections, pace, circuit breaker and
tries), `deadletters` (what was never accepted, and its replay), `service` (lanes kept open for
`accord serve`), `auth` (credentials added as requests leave), and declared HTTP destinations:
`documents` (the document, checked whole), `templates` (the Jinja2 sandbox), `declared` (a document
at work). The public names are those of `accord.destinations`."""
