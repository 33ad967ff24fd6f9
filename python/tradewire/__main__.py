"""``python -m tradewire`` is the ``tradewire`` command."""

import sys

from .cli import main

sys.exit(main())
