import sys

from rlhp.cli.main import main

sys.exit(main())
