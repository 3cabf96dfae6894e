"""Corridor's benchmark (`make bench`, or `python -m bench --help`).

For each engine (SQLite, PostgreSQL) it prepares a database through the real
command line and API, then starts the real server (`corridor serve`) for each
worker count and drives it over HTTP from a separate process. Modules:

- `bench.run`      the orchestration, command-line flags and the order of things;
- `bench.prepare`  the databases and the test data (institutions, 1,000 funded accounts, a card network,
                   an RTGS payment network, a DEFERRED_NET network as settlement's scope);
- `bench.server`   the server under test, as a subprocess on a free port of 127.0.0.1;
- `bench.load`     the load generator (its own process): floor, batch, single, hot, card, card_fx,
                   payment (sendPayment), pacs008 (submitIso20022);
- `bench.client`   the minimal HTTP/1.1 keep-alive client the load generator uses;
- `bench.ceiling`  the in-process SQLAlchemy Core write path the batch path is held to;
- `bench.obligations` what recording obligations adds to a card payment, in-process (with and without);
- `bench.settlement` closing and settling a window of 100,000 obligations through the server;
- `bench.report`   machine details, the results table and the Markdown file in bench/results/.

Never part of `make test`.
"""
