"""`python -m obra_monitor` is the `obra-monitor` command."""

from obra_monitor.cli import main

raise SystemExit(main())
