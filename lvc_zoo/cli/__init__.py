"""Command-line entry points: `lvc-zoo` (see lvc_zoo.cli.main)."""
