"""Storylines: headlines, timing, the pure tracker, its Beam step, and eval-alerts."""
