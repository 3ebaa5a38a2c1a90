#!/usr/bin/env bash
# The A/B boot script under a real U-Boot in qemu (run.py says how).
# Installs what is missing: Debian's U-Boot for qemu, qemu-system-arm,
# mkimage, dtc, the vfat and partitioning tools.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../../scripts/lib/deps.sh
. "$root/scripts/lib/deps.sh"
ensure_apt u-boot-qemu qemu-system-arm u-boot-tools device-tree-compiler dosfstools mtools fdisk e2fsprogs
exec python3 "$root/tests/boot-script/run.py" "$@"
