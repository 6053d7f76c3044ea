import sys

from bizinfra.cli import main

sys.exit(main())
