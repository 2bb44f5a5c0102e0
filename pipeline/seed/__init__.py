"""Seed: draft entities and storylines from one article (``storywatch seed``)."""
