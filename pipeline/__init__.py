"""storywatch: a streaming news monitor on Apache Beam."""

__version__ = "0.1.0"
