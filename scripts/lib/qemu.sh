# shellcheck shell=bash
# Shared by the scripts that boot Debian 12's kernel under qemu (TCG: KVM
# does not work on these machines) with a busybox-static initramfs:
# scripts/gpio-sim-test, scripts/store-powercut and scripts/device-test.
# Source scripts/lib/deps.sh first. The caller sets:
#   QEMU_CACHE  where downloads and unpacked kernels are kept across runs
#               (the scripts use $BRIDGEPOINT_DEV_CACHE)
#   QEMU_WORK   this run's scratch directory
#
#   qemu_kernel_abi                 the kernel ABI Debian 12 ships now
#                                   (6.1.0-N-amd64, linux-image-amd64's dependency)
#   qemu_kernel_package_version KVER  the version of linux-image-KVER apt would fetch
#   qemu_cached_deb PKG VERSION     the cached .deb's path, if there is one
#   qemu_download_deb PKG VERSION   the .deb into the cache (once); prints its path
#   qemu_guest_kernel KVER KPKG [MODULE...]
#                                   the kernel image and the named modules (with
#                                   the modules they depend on), unpacked once from
#                                   linux-image-KVER KPKG into
#                                   $QEMU_CACHE/kernel/KVER-KPKG; sets QEMU_KDIR
#   qemu_uncompressed_kernel        $QEMU_KDIR/vmlinux, the kernel ELF inside
#                                   vmlinuz, made once; prints its path. qemu boots
#                                   it directly (PVH entry), skipping the BIOS's
#                                   kernel loader and the decompression, which
#                                   under TCG take about 10 s of every boot
#   qemu_initramfs_root DIR         DIR with busybox-static and the usual mount points
#   qemu_module_depends KO          the modules a .ko file needs, by name
#   qemu_add_modules DIR MODULE...  the modules and their dependencies into
#                                   DIR/modules, and DIR/modules/load-order: one
#                                   name a line, dependencies first (for insmod).
#                                   A MODULE ending in .ko is a module built out of
#                                   tree, taken from that file; its dependencies
#                                   are the other such files or the kernel's
#                                   (unpacked by qemu_guest_kernel). Also writes
#                                   DIR/modules/load, a busybox sh script that
#                                   insmods them all in that order with their
#                                   parameters, says "guest: insmod NAME failed"
#                                   for each failure and exits with their count
#   qemu_module_params DIR MODULE PARAM...
#                                   the parameters the load script gives MODULE:
#                                   shell words, e.g. 'card_label="A b,C d"' (the
#                                   kernel takes a quoted value with spaces)
#   qemu_kernel_source_files KPKG DEST PATH...
#                                   files of the kernel's source tree (paths as
#                                   drivers/media/..., from linux-source-6.1 KPKG)
#                                   copied flat into DEST, once: the download and
#                                   the xz pass over the whole tree take ~20 s
#   qemu_share PATH TAG [ro]        adds to the array QEMU_SHARES the qemu
#                                   arguments that share host PATH with the guest
#                                   over virtio-9p as TAG (read-only with ro); in
#                                   the guest (modules QEMU_9P_MODULES) mount it
#                                   with `mount -t 9p -o trans=virtio,version=9p2000.L TAG DIR`
#   qemu_add_binary DIR BIN [DEST]  BIN at DEST (default /BASENAME) and the shared
#                                   libraries it needs (ldd), loader included
#   qemu_pack_initramfs DIR OUT     DIR as a gzipped newc cpio archive
#   QEMU_TCG                        the arguments every boot starts with (array)
#
# Functions return non-zero with a message on stderr when they fail; the
# callers turn that into their own failure report.

# shellcheck disable=SC2034 # used by the scripts that source this file
QEMU_TCG=(qemu-system-x86_64 -accel tcg -m 512 -no-reboot)
# The guest modules a virtio-9p share needs (with their dependencies).
# shellcheck disable=SC2034
QEMU_9P_MODULES=(virtio_pci 9pnet_virtio 9p)

qemu_kernel_abi() {
    local kver
    kver="$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/.*Depends: linux-image-\(6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' | sort -V | tail -n1)"
    if [ -z "$kver" ] && [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq >&2 || true
        kver="$(apt-cache depends linux-image-amd64 2>/dev/null |
            sed -n 's/.*Depends: linux-image-\(6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' | sort -V | tail -n1)"
    fi
    if [ -z "$kver" ]; then
        echo "cannot tell the Debian 12 kernel version from apt-cache (run apt-get update?)" >&2
        return 1
    fi
    echo "$kver"
}

qemu_kernel_package_version() {
    local version
    version="$(apt-cache policy "linux-image-$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')"
    if [ -z "$version" ] || [ "$version" = "(none)" ]; then
        echo "apt has no linux-image-$1" >&2
        return 1
    fi
    echo "$version"
}

qemu_cached_deb() {
    local f
    for f in "$QEMU_CACHE/debs/${1}_${2//:/%3a}_"*.deb; do
        if [ -f "$f" ]; then echo "$f"; return 0; fi
    done
    return 1
}

qemu_download_deb() {
    mkdir -p "$QEMU_CACHE/debs"
    if ! qemu_cached_deb "$1" "$2"; then
        echo "downloading $1 $2" >&2
        (cd "$QEMU_CACHE/debs" && apt-get download -q "$1=$2" >&2) || return 1
        qemu_cached_deb "$1" "$2"
    fi
}

# A module's name as the kernel spells it in `depends=`: dashes as underscores.
_qemu_module_name() { local name="${1##*/}"; name="${name%%.ko*}"; echo "${name//-/_}"; }

# The modules a .ko file depends on (its `depends=` field), as module names.
_qemu_module_depends() {
    tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n1 | tr ',-' ' _'
}
qemu_module_depends() { _qemu_module_depends "$1"; }

qemu_guest_kernel() {
    local kver="$1" kpkg="$2"
    shift 2
    QEMU_KDIR="$QEMU_CACHE/kernel/$kver-$kpkg"
    local missing="" module
    [ -f "$QEMU_KDIR/vmlinuz" ] || missing=1
    # Cached if every wanted module and everything it depends on is there.
    local -A seen=()
    local queue=("$@") dep
    while [ -z "$missing" ] && [ ${#queue[@]} -gt 0 ]; do
        module="${queue[0]}"
        queue=("${queue[@]:1}")
        [ -n "${seen[$module]:-}" ] && continue
        seen[$module]=1
        if [ ! -f "$QEMU_KDIR/modules/$module.ko" ] || [ ! -f "$QEMU_KDIR/modules/$module.deps" ]; then
            missing=1
            break
        fi
        for dep in $(tr '-' '_' <"$QEMU_KDIR/modules/$module.deps"); do queue+=("$dep"); done
    done
    if [ -z "$missing" ]; then
        echo "cached: kernel $kver ($QEMU_KDIR)"
        return 0
    fi
    step "unpacking the Debian kernel $kver ($kpkg)"
    local deb x
    deb="$(qemu_download_deb "linux-image-$kver" "$kpkg")" || {
        echo "cannot download linux-image-$kver $kpkg" >&2
        return 1
    }
    x="$QEMU_WORK/kimage"
    rm -rf "$x"
    dpkg-deb -x "$deb" "$x" || return 1
    mkdir -p "$QEMU_KDIR/modules"
    cp "$x/boot/vmlinuz-$kver" "$QEMU_KDIR/vmlinuz" || return 1
    # Every module of the package by name, then the wanted ones and what
    # they depend on (the package has no modules.dep: depmod makes it at
    # install time), each uncompressed, with its dependencies in NAME.deps.
    local -A path_of=()
    local ko
    while IFS= read -r ko; do
        path_of["$(_qemu_module_name "$ko")"]="$ko"
    done < <(find "$x/lib/modules/$kver/kernel" -name '*.ko*')
    local deps
    local -A visited=()
    queue=("$@")
    while [ ${#queue[@]} -gt 0 ]; do
        module="${queue[0]}"
        queue=("${queue[@]:1}")
        [ -n "${visited[$module]:-}" ] && continue
        visited[$module]=1
        if [ -f "$QEMU_KDIR/modules/$module.deps" ] && [ -f "$QEMU_KDIR/modules/$module.ko" ]; then
            for dep in $(tr '-' '_' <"$QEMU_KDIR/modules/$module.deps"); do queue+=("$dep"); done
            continue
        fi
        ko="${path_of[$module]:-}"
        if [ -z "$ko" ]; then
            echo "module $module is not in linux-image-$kver" >&2
            return 1
        fi
        case "$ko" in
            *.xz) xz -dc "$ko" >"$QEMU_KDIR/modules/$module.ko" ;;
            *.zst) zstd -qdc "$ko" >"$QEMU_KDIR/modules/$module.ko" ;;
            *) cp "$ko" "$QEMU_KDIR/modules/$module.ko" ;;
        esac
        deps="$(_qemu_module_depends "$QEMU_KDIR/modules/$module.ko")"
        echo "$deps" >"$QEMU_KDIR/modules/$module.deps"
        for dep in $deps; do queue+=("$dep"); done
    done
    rm -rf "$x" "$deb"
}

qemu_uncompressed_kernel() {
    local vmlinux="$QEMU_KDIR/vmlinux" magic tool offset
    if [ ! -f "$vmlinux" ]; then
        # As the kernel's scripts/extract-vmlinux: the first compressed
        # stream in vmlinuz that unpacks to an ELF file.
        for magic in 'xz:\xFD7zXZ\x00' 'gzip:\x1F\x8B\x08' 'zstd:\x28\xB5\x2F\xFD'; do
            tool="${magic%%:*}"
            offset="$(LC_ALL=C grep -aboP "${magic#*:}" "$QEMU_KDIR/vmlinuz" | head -n1 | cut -d: -f1)"
            [ -n "$offset" ] || continue
            tail -c +"$((offset + 1))" "$QEMU_KDIR/vmlinuz" | "$tool" -dcq >"$vmlinux.new" 2>/dev/null
            if [ "$(head -c 4 "$vmlinux.new" | od -An -c | tr -d ' ')" = '177ELF' ]; then
                mv "$vmlinux.new" "$vmlinux"
                break
            fi
        done
        rm -f "$vmlinux.new"
        if [ ! -f "$vmlinux" ]; then
            echo "no kernel ELF found inside $QEMU_KDIR/vmlinuz" >&2
            return 1
        fi
    fi
    echo "$vmlinux"
}

qemu_initramfs_root() {
    mkdir -p "$1"/{bin,proc,sys,dev,tmp,modules} || return 1
    cp /bin/busybox "$1/bin/busybox"
}

qemu_add_modules() {
    local root="$1"
    shift
    local -A placed=() file_of=()
    local order=() arg
    for arg in "$@"; do
        case "$arg" in *.ko) file_of["$(_qemu_module_name "$arg")"]="$arg" ;; esac
    done
    # Depth first: a module after everything it depends on.
    _qemu_place_module() {
        local module="$1" dep deps ko
        [ -n "${placed[$module]:-}" ] && return 0
        placed[$module]=1
        ko="${file_of[$module]:-}"
        if [ -n "$ko" ]; then
            [ -f "$ko" ] || { echo "module file $ko not found" >&2; return 1; }
            deps="$(_qemu_module_depends "$ko")"
        elif [ -f "$QEMU_KDIR/modules/$module.ko" ]; then
            ko="$QEMU_KDIR/modules/$module.ko"
            deps="$(tr '-' '_' <"$QEMU_KDIR/modules/$module.deps")"
        else
            echo "module $module was not unpacked (list it in qemu_guest_kernel)" >&2
            return 1
        fi
        for dep in $deps; do
            _qemu_place_module "$dep" || return 1
        done
        cp "$ko" "$root/modules/$module.ko"
        order+=("$module")
    }
    local module
    mkdir -p "$root/modules"
    for arg in "$@"; do
        module="$arg"
        case "$arg" in *.ko) module="$(_qemu_module_name "$arg")" ;; esac
        _qemu_place_module "$module" || return 1
    done
    printf '%s\n' "${order[@]}" >"$root/modules/load-order"
    cat >"$root/modules/load" <<'LOAD'
#!/bin/busybox sh
# Every module of /modules/load-order, with the parameters of /modules/NAME.params.
failed=0
for module in $(cat /modules/load-order); do
    params=""
    [ -f /modules/$module.params ] && params="$(cat /modules/$module.params)"
    if ! eval "insmod /modules/$module.ko $params"; then
        echo "guest: insmod $module $params failed"
        failed=$((failed + 1))
    fi
done
exit $failed
LOAD
    chmod +x "$root/modules/load"
}

qemu_module_params() {
    local root="$1" module="$2"
    shift 2
    mkdir -p "$root/modules"
    echo "$*" >"$root/modules/${module//-/_}.params"
}

qemu_kernel_source_files() {
    local kpkg="$1" dest="$2"
    shift 2
    local path missing=""
    for path in "$@"; do
        [ -f "$dest/${path##*/}" ] || missing=1
    done
    if [ -z "$missing" ]; then
        echo "cached: kernel sources ($dest)"
        return 0
    fi
    step "extracting ${*##*/} from linux-source-6.1 $kpkg (once)"
    local deb x="$QEMU_WORK/ksrc"
    deb="$(qemu_download_deb linux-source-6.1 "$kpkg")" || return 1
    rm -rf "$x"
    mkdir -p "$x" "$dest"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-6.1.tar.xz |
        tar -xJ -C "$x" "${@/#/linux-source-6.1/}" || {
        echo "cannot extract $* from $deb" >&2
        return 1
    }
    for path in "$@"; do
        cp "$x/linux-source-6.1/$path" "$dest/" || return 1
    done
    rm -rf "$x" "$deb"
}

qemu_share() {
    local path="$1" tag="$2" mode="${3:-}" ro=""
    [ "$mode" = ro ] && ro=",readonly=on"
    # multidevs=remap: the share spans several host file systems, whose
    # inode numbers would otherwise collide in the guest. A comma in an
    # option value is written twice.
    QEMU_SHARES+=(-virtfs "local,path=${path//,/,,},mount_tag=$tag,security_model=none,multidevs=remap$ro")
}

qemu_add_binary() {
    local root="$1" bin="$2" dest="${3:-/$(basename "$2")}" lib
    mkdir -p "$root$(dirname "$dest")"
    cp "$bin" "$root$dest" || return 1
    # The shared libraries it needs, at their paths (the loader included).
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib" || return 1
    done
}

qemu_pack_initramfs() {
    (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}
