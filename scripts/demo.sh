#!/usr/bin/env bash
# make demo: not available yet. The daemon arrives with issue 5.
echo "make demo needs the rosenpass daemon, which is not built yet (see README.md)." >&2
exit 1
