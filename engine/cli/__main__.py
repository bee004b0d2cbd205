"""`python -m engine.cli ...` is `sgv ...` (the app and torchrun start it this way)."""

import sys

from engine.cli import main

if __name__ == "__main__":  # spawned ranks re-import this module as __mp_main__: they must not run the CLI again
    sys.exit(main())
