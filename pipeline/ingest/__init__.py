"""Ingest: live polling or recorded replays, fetching, parsing, normalising and exact dedup."""
