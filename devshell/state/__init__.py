"""Per-user state beside the store: generations of each project, and trust."""
