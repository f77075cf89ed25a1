"""`python -m knock` runs the `knock` command."""

import sys

from knock.cli import main

sys.exit(main())
