"""The network: one HTTP session, cached index documents, verified downloads."""
