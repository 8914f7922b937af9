"""``python -m lipsdp ...``: the same command line as the ``lipsdp`` script (:mod:`lipsdp.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
