import sys

from facemoji.apps.cli import main

sys.exit(main())
