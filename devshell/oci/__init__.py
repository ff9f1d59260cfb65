"""OCI: images of a project's shell, a binary cache on a registry, offline bundles.

`layout` writes and reads OCI image layouts (generic, no image logic); `image`
and its helpers build images of a shell from a lock; the registry client, the
cache and the bundles build on `layout`.
"""
