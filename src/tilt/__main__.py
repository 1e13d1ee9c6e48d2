from tilt.cli import main

raise SystemExit(main())
