import sys

from bench.bloctel.run import main

sys.exit(main())
