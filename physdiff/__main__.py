"""``python -m physdiff`` runs the command line."""

from physdiff.cli import main

raise SystemExit(main())
