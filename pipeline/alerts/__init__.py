"""Alerts: which storyline events become an Alert, with a stable id recorded in the ledger."""
