"""``python -m pipeline``: the storywatch command line."""

import sys

from pipeline.cli import main

sys.exit(main())
