"""The Debian archive: its signed indexes, dependency closures, and turning
.debs into a relocated tree that runs from the store."""
