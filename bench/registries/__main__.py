import sys

from bench.registries.run import main

sys.exit(main())
