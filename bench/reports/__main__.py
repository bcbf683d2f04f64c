import sys

from bench.reports import main

sys.exit(main())
