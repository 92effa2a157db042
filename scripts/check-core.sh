#!/bin/sh
# The core relocates itself and must need nothing else: only R_X86_64_RELATIVE relocations.
set -e
bad=$(readelf -rW "$1" | awk '/R_X86_64_/ && $3 != "R_X86_64_RELATIVE" {print $3}' | sort -u)
if [ -n "$bad" ]; then
	echo "check-core: $1 has relocations the core cannot apply itself: $bad" >&2
	exit 1
fi
