"""hisguard: automation for the health-sector IT management rules."""

__version__ = "0.1.0"
