"""The shell: the hot path, activation records, environments, their output
formats, the shells `enter` starts and the hooks' start-up files (rc/)."""
