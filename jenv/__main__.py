from jenv.cli import main

raise SystemExit(main())
