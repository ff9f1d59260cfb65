"""Any npm package with programs as a `node_modules` tree on the spec's pinned node.

A package with dependencies (eslint, markdownlint-cli2, typescript, pnpm…) is
locked as one artifact per platform of format `npmtree`: the package's
tarball, and in its `closure` every other package of the tree npm's own
resolver chose, each with the registry's integrity and the path it has in the
tree. Optional packages built for other platforms are left out of each
platform's closure. Realising unpacks exactly those tarballs into the tree's
layout, with no registry and no install scripts; the package's programs run
on the pinned node.

`resolver` runs the pinned node's npm and reads its package-lock, `install`
fills an output.
"""
