"""CLI command areas, one module each (see hisguard.cli)."""
