"""Test fixtures that are not part of Knock: never installed with it, nor copied into its image.

- ``knock_testing.synapse``: a throwaway Synapse homeserver on loopback.
- ``knock_testing.postgres``: a throwaway PostgreSQL cluster on loopback.
- ``knock_testing.signing``: signing webhook deliveries the way Tally, Typeform and Standard
  Webhooks senders do (Knock itself only verifies).
- ``knock_testing.demo``: ``make demo``, Knock against a throwaway homeserver.

They serve the test suite, the benchmarks and ``make demo``, which all run from the repository
root (``python -m pytest``, ``python -m bench``, ``python -m knock_testing.demo``); that is what
makes this package importable, since the wheel holds only ``knock`` and ``mknock``.
"""
