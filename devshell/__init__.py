"""devshell: reproducible development shells from a declared spec and a lock."""

__version__ = "0.1.0"
