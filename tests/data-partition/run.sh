#!/usr/bin/env bash
# The data partition's first-boot and repair script
# (yocto-layer/recipes-core/bridgepoint-data/files/data-prepare) against
# real ext4 images in files, with the real e2fsprogs: blank, healthy,
# damaged and foreign partitions. No root needed: the script and the checks
# read the images with blkid and debugfs, never mount them.
# One "ok - ..." / "not ok - ..." line per check; exits non-zero on a failure.
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
prepare="$root/yocto-layer/recipes-core/bridgepoint-data/files/data-prepare"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work" PATH="$PATH:/sbin:/usr/sbin"
failed=0
check() {
    local what="$1"
    shift
    if "$@"; then echo "ok - $what"; else echo "not ok - $what"; failed=$((failed + 1)); fi
}
fstype() { blkid -p -o value -s TYPE "$1" 2>/dev/null; }
label() { blkid -p -o value -s LABEL "$1" 2>/dev/null; }
cat_file() { debugfs -R "cat $2" "$1" 2>/dev/null; }
is_data_fs() { [ "$(fstype "$1")" = ext4 ] && [ "$(label "$1")" = data ]; }
# image NAME: a 64 MiB data partition holding a provisioned config, a key
# and a store file.
image() {
    local img="$work/$1.img" src="$work/$1.src"
    mkdir -p "$src/config" "$src/identity" "$src/bridgepoint"
    echo 'device_id = "lang-son-01"' >"$src/config/bridgepoint.toml"
    echo "PRIVATE KEY of $1" >"$src/config/box.key"
    echo "0123456789abcdef0123456789abcdef" >"$src/identity/machine-id"
    head -c 100000 /dev/urandom >"$src/bridgepoint/store.bin"
    truncate -s 64M "$img"
    mkfs.ext4 -q -F -L data -d "$src" "$img"
    echo "$img"
}
run() { "$prepare" "$1" >"$1.log" 2>&1; }
said() { grep -q "$2" "$1.log" || { sed 's/^/#   /' "$1.log"; false; }; }

# 1. A blank partition (zeroes): formatted, ext4 labelled data.
blank="$work/blank.img"
truncate -s 64M "$blank"
check "a blank partition: data-prepare succeeds" run "$blank"
check "a blank partition is formatted ext4 with label data" is_data_fs "$blank"
check "a blank partition: the log says it formatted it (first boot)" said "$blank" "formatting .*no file system on it (first boot)"

# 2. A healthy partition: checked, left as it is.
healthy="$(image healthy)"
check "a healthy partition: data-prepare succeeds" run "$healthy"
check "a healthy partition keeps its files (config and store)" \
    bash -c "[ \"\$(debugfs -R 'cat /config/box.key' '$healthy' 2>/dev/null)\" = 'PRIVATE KEY of healthy' ] && [ \"\$(debugfs -R 'stat /bridgepoint/store.bin' '$healthy' 2>/dev/null | grep -c 'Size: 100000')\" = 1 ]"
check "a healthy partition is not formatted" bash -c "! grep -q formatting '$healthy.log'"

# 3. A damaged superblock (a power cut mid-write, a flash page gone): e2fsck
#    repairs it from a backup superblock; everything is kept.
damaged="$(image damaged)"
dd if=/dev/zero of="$damaged" bs=1024 seek=1 count=1 conv=notrunc status=none
check "a damaged superblock: the image no longer reads as ext4 before" test -z "$(fstype "$damaged")"
run "$damaged"
check "a damaged superblock is repaired from a backup, not formatted, its files kept" bash -c "! grep -q 'formatting' '$damaged.log' && [ \"\$(debugfs -R 'cat /config/box.key' '$damaged' 2>/dev/null)\" = 'PRIVATE KEY of damaged' ]"
sed 's/^/#   /' "$damaged.log" | head -n 5

# 4. Another file system over it (a partition reformatted by mistake on a
#    PC: here a swap signature, which also wipes the ext4 superblock):
#    data-prepare keeps /config and /identity (read through a backup
#    superblock) and formats the partition with them on it.
foreign="$(image foreign)"
mkswap "$foreign" >/dev/null 2>&1
check "another file system: the image reads as swap before" test "$(fstype "$foreign")" = swap
check "another file system: data-prepare succeeds" run "$foreign"
check "...is formatted ext4 with label data" is_data_fs "$foreign"
check "...and the log says why" said "$foreign" "formatting .*it holds swap, not ext4"
check "...keeps /config and /identity on the new file system" \
    bash -c "[ \"\$(debugfs -R 'cat /config/box.key' '$foreign' 2>/dev/null)\" = 'PRIVATE KEY of foreign' ] && [ \"\$(debugfs -R 'cat /identity/machine-id' '$foreign' 2>/dev/null)\" = 0123456789abcdef0123456789abcdef ]"
check "...and says what it kept" said "$foreign" "kept what could be read: /config (2 files) /identity (1 files)"
check "...but not the store (state the daemon rebuilds)" \
    bash -c "! debugfs -R 'stat /bridgepoint/store.bin' '$foreign' 2>/dev/null | grep -q Size"

# 5. Random bytes over the whole start (nothing left to read): formatted,
#    the log says nothing could be kept.
garbage="$work/garbage.img"
truncate -s 64M "$garbage"
head -c 8M /dev/urandom | dd of="$garbage" conv=notrunc status=none
check "random bytes: data-prepare succeeds" run "$garbage"
check "random bytes: formatted ext4 with label data" is_data_fs "$garbage"

# 7. A missing device: a clear error, not a hang (the 60 s wait is cut
#    short by running it against a path that cannot appear).
check "a missing device: data-prepare fails" bash -c "! timeout 90 '$prepare' '$work/none' >'$work/none.log' 2>&1"
check "a missing device: the log names it" grep -q "did not appear within 60 s" "$work/none.log"

[ "$failed" -eq 0 ]
