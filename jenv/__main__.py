from jenv.fastpath import main

raise SystemExit(main())
