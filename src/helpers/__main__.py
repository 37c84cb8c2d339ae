"""`python -m helpers ...` is the same as the `fishpond` command."""

from helpers.cli import main

raise SystemExit(main())
