import sys

from credo.cli import main

sys.exit(main())
