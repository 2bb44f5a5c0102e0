"""Flex Template entry point (FLEX_TEMPLATE_PYTHON_PY_FILE): submit the storywatch streaming job.

The launcher runs ``python main.py --name=value ...`` with the template parameters; the
package is installed in the image, so this file only hands over to it (the shape of
Google's pipeline_with_dependencies sample: main.py -> my_package.launcher.run()).
"""

import logging
import sys

from pipeline.run.dataflow import main

if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    sys.exit(main(["launch", *sys.argv[1:]]))
