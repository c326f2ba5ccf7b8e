"""The program's entry point: ``python -m convcalc`` and the ``convcalc`` command."""

import gc

# A run collects no garbage (see convcalc.cli.main); turned off here, before the imports
# too, which make many objects and none of them garbage (about 1 ms of collections).
gc.disable()

from convcalc.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
