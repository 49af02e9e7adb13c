"""``python -m wafermon run -- COMMAND``: the same as the ``wafermon`` console script."""

import sys

from .cli import main

sys.exit(main())
