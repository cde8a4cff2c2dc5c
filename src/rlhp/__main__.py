import sys

from rlhp.cli import main

sys.exit(main())
