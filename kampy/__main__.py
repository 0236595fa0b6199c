import sys

from kampy.cli import main

sys.exit(main())
