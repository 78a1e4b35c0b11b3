"""Demo data for a laptop: the accounts, employers, workers and sites `make run` loads, and the
current code of a demo account's authenticator. Installed only when DEBUG is on, so neither a
demo password nor a demo authenticator secret can be used in production."""
