"""Fetch: the address guard, one HTTP fetch, the per-feed schedule, and the FetchFeeds step."""
