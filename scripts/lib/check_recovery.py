"""Static checks of the image's self-recovery and management (issue "an
image that boots, updates and recovers on its own"), for scripts/check-yocto.

Each rule reads the layer's files and returns its errors; each also has a
mutation that reintroduces the defect it guards against, and the self-test
applies it to an in-memory copy and requires the rule to fail (one negative
case per rule). Prints {"name", "errors", "infos"} as JSON.

Usage: check_recovery.py REPO_ROOT
"""
import json
import re
import sys

ROOT = sys.argv[1]
L = "yocto-layer/"
UNIT = L + "recipes-bridgepoint/bridgepoint/files/bridgepointd.service"
REBOOT_PATH = L + "recipes-bridgepoint/bridgepoint/files/bridgepoint-reboot.path"
REBOOT_SERVICE = L + "recipes-bridgepoint/bridgepoint/files/bridgepoint-reboot.service"
RECIPE = L + "recipes-bridgepoint/bridgepoint/bridgepoint_git.bb"
REBOOT_RS = "firmware/src/reboot.rs"
WATCHDOG = L + "recipes-core/systemd/files/10-bridgepoint-watchdog.conf"
WATCHDOG_APPEND = L + "recipes-core/systemd/systemd-conf_%.bbappend"
BOOT_CMD = L + "dynamic-layers/raspberrypi/recipes-bsp/rpi-u-boot-scr/files/boot.cmd.in"
KAS_QEMU = L + "kas/qemux86-64.yml"
KAS_BASE = L + "kas/base.yml"
KAS_BENCH = L + "kas/rpi4-bench.yml"
RAUC_CFG = L + "dynamic-layers/raspberrypi/recipes-kernel/linux/files/rauc.cfg"
KERNEL_APPEND = L + "dynamic-layers/raspberrypi/recipes-kernel/linux/linux-raspberrypi_%.bbappend"
UBOOT_APPEND = L + "dynamic-layers/raspberrypi/recipes-bsp/u-boot/u-boot_%.bbappend"
FW_ENV = L + "dynamic-layers/raspberrypi/recipes-bsp/u-boot/files/fw_env.config"
BOOTENV = L + "dynamic-layers/raspberrypi/recipes-bsp/bridgepoint-bootenv/bridgepoint-bootenv_1.0.bb"
DATA = L + "recipes-core/bridgepoint-data/"
DATA_MOUNT = DATA + "files/data.mount"
DATA_PREPARE = DATA + "files/bridgepoint-data-prepare.service"
DATA_DIRS = DATA + "files/bridgepoint-data-dirs.service"
IDENTITY = DATA + "files/bridgepoint-identity.service"
DATA_RECIPE = DATA + "bridgepoint-data_1.0.bb"
WKS = L + "wic/bridgepoint-ab.wks"
LAYER_CONF = L + "conf/layer.conf"
BENCH_CONF = L + "recipes-core/bridgepoint-bench-access/files/dropbear-key-only.conf"
PROVISIONING = "docs/provisioning.md"
SLOT_DTB = L + "dynamic-layers/raspberrypi/recipes-bsp/bridgepoint-slot-dtb/bridgepoint-slot-dtb_1.0.bb"
FDT_OVERLAY_CFG = L + "dynamic-layers/raspberrypi/recipes-bsp/u-boot/files/bridgepoint-fdt-overlay.cfg"
IMAGE = L + "recipes-core/images/bridgepoint-image.bb"
FILES = [SLOT_DTB, FDT_OVERLAY_CFG, IMAGE, UNIT, REBOOT_PATH, REBOOT_SERVICE, RECIPE, REBOOT_RS, WATCHDOG, WATCHDOG_APPEND, BOOT_CMD,
         KAS_QEMU, KAS_BASE, KAS_BENCH, RAUC_CFG, KERNEL_APPEND, UBOOT_APPEND, FW_ENV, BOOTENV,
         DATA_MOUNT, DATA_PREPARE, DATA_DIRS, IDENTITY, DATA_RECIPE, WKS, LAYER_CONF, BENCH_CONF,
         PROVISIONING]


def load():
    files = {}
    for rel in FILES:
        try:
            files[rel] = open("%s/%s" % (ROOT, rel), encoding="utf-8").read()
        except OSError:
            files[rel] = None
    return files


def lines(text):
    """Non-comment lines, stripped."""
    return [l.strip() for l in (text or "").splitlines() if l.strip() and not l.strip().startswith("#")]


def section(text, name):
    """The non-comment lines of an ini [name] section."""
    out, inside = [], False
    for l in lines(text):
        if l.startswith("["):
            inside = l == "[%s]" % name
        elif inside:
            out.append(l)
    return out


def missing(files, *rels):
    return ["%s is missing" % r for r in rels if files.get(r) is None]


def rule_reboot(f):
    e = missing(f, UNIT, REBOOT_PATH, REBOOT_SERVICE, RECIPE, REBOOT_RS)
    if e:
        return e
    if "RuntimeDirectory=bridgepoint" not in section(f[UNIT], "Service"):
        e.append("bridgepointd.service has no RuntimeDirectory=bridgepoint: the daemon has nowhere to ask for a reboot")
    if "CapabilityBoundingSet=" not in section(f[UNIT], "Service"):
        e.append("bridgepointd.service must keep CapabilityBoundingSet= empty (the reboot goes through the path unit)")
    if "PathExists=/run/bridgepoint/reboot" not in section(f[REBOOT_PATH], "Path"):
        e.append("bridgepoint-reboot.path does not watch PathExists=/run/bridgepoint/reboot")
    if "Unit=bridgepoint-reboot.service" not in section(f[REBOOT_PATH], "Path"):
        e.append("bridgepoint-reboot.path does not start bridgepoint-reboot.service")
    if not any(l.startswith("ExecStart=") and "systemctl" in l and "reboot" in l
               for l in section(f[REBOOT_SERVICE], "Service")):
        e.append("bridgepoint-reboot.service does not run systemctl reboot")
    if not re.search(r'SYSTEMD_SERVICE:\$\{PN\} = "[^"]*bridgepoint-reboot\.path', f[RECIPE]):
        e.append("bridgepoint_git.bb does not enable bridgepoint-reboot.path (SYSTEMD_SERVICE)")
    if 'REQUEST_FILE: &str = "reboot"' not in f[REBOOT_RS]:
        e.append("firmware/src/reboot.rs's request file is not \"reboot\" (the path unit watches /run/bridgepoint/reboot)")
    return e


def rule_start_limit(f):
    if f.get(UNIT) is None:
        return missing(f, UNIT)
    unit = section(f[UNIT], "Unit")
    e = []
    if "StartLimitAction=reboot" not in unit:
        e.append("bridgepointd.service [Unit] lacks StartLimitAction=reboot: a crash loop never reboots into the fallback slot")
    for key in ("StartLimitIntervalSec", "StartLimitBurst"):
        if not any(re.fullmatch(r"%s=[1-9][0-9]*" % key, l) for l in unit):
            e.append("bridgepointd.service [Unit] lacks %s=N" % key)
    return e


def rule_watchdog(f):
    e = missing(f, WATCHDOG, WATCHDOG_APPEND)
    if e:
        return e
    m = [re.fullmatch(r"RuntimeWatchdogSec=(\d+)s?", l) for l in section(f[WATCHDOG], "Manager")]
    m = [x for x in m if x]
    if not m:
        e.append("%s sets no RuntimeWatchdogSec=: nothing reboots a hung box" % WATCHDOG)
    elif not 0 < int(m[0].group(1)) <= 15:
        e.append("RuntimeWatchdogSec=%s: the Pi's bcm2835_wdt takes at most ~15 s" % m[0].group(1))
    if "file://10-bridgepoint-watchdog.conf" not in f[WATCHDOG_APPEND] or "system.conf.d" not in f[WATCHDOG_APPEND]:
        e.append("systemd-conf_%.bbappend does not install 10-bridgepoint-watchdog.conf into system.conf.d")
    return e


def rule_panic(f):
    e = missing(f, BOOT_CMD, KAS_QEMU)
    if e:
        return e
    if not any("setenv bootargs" in l and re.search(r"\bpanic=[1-9]", l) for l in lines(f[BOOT_CMD])):
        e.append("boot.cmd.in's bootargs lack panic=N: a kernel panic hangs the box")
    if not any(re.search(r"QB_KERNEL_CMDLINE_APPEND.*\bpanic=[1-9]", l) for l in lines(f[KAS_QEMU])):
        e.append("kas/qemux86-64.yml lacks panic=N on the kernel command line")
    return e


def rule_rauc_kernel(f):
    e = missing(f, RAUC_CFG, KERNEL_APPEND)
    if e:
        return e
    have = set(lines(f[RAUC_CFG]))
    for opt in ("CONFIG_BLK_DEV_LOOP", "CONFIG_SQUASHFS", "CONFIG_BLK_DEV_DM", "CONFIG_DM_VERITY", "CONFIG_BLK_DEV_NBD"):
        if "%s=y" % opt not in have:
            e.append("rauc.cfg lacks %s=y (RAUC needs it built in; bcm2711_defconfig has it as a module or not at all)" % opt)
    if not re.search(r'SRC_URI:append(:bridgepoint)? = "[^"]*file://rauc\.cfg', f[KERNEL_APPEND]):
        e.append("linux-raspberrypi_%.bbappend does not add file://rauc.cfg")
    return e


def rule_uboot_env(f):
    e = missing(f, UBOOT_APPEND, FW_ENV, BOOTENV)
    if e:
        return e
    if not any(re.fullmatch(r'FILESEXTRAPATHS:prepend(:bridgepoint)? := "\$\{THISDIR\}/files:"', l) for l in lines(f[UBOOT_APPEND])):
        e.append("u-boot_%.bbappend does not put our files/ (fw_env.config) first")
    if "/boot/firmware/uboot.env" not in f[FW_ENV]:
        e.append("fw_env.config does not point at /boot/firmware/uboot.env")
    bootenv = "\n".join(lines(f[BOOTENV]))
    if re.search(r"file://fw_env\.config|install .*fw_env\.config", bootenv):
        e.append("bridgepoint-bootenv installs its own fw_env.config: it conflicts with u-boot-env's")
    if not re.search(r'RDEPENDS:\$\{PN\} = "[^"]*\bu-boot-env\b', bootenv):
        e.append("bridgepoint-bootenv does not pull in u-boot-env (/etc/u-boot-initial-env, the fallback for a torn environment)")
    return e


def rule_data_partition(f):
    e = missing(f, DATA_MOUNT, DATA_PREPARE, DATA_RECIPE, WKS, DATA_DIRS)
    if e:
        return e
    mount = section(f[DATA_MOUNT], "Mount")
    if "What=@DATA_DEVICE@" not in mount:
        e.append("data.mount's What= is not @DATA_DEVICE@ (the partition by number): %s"
                 % [l for l in mount if l.startswith("What=")])
    if not any(l.startswith("Requires=") and "bridgepoint-data-prepare.service" in l for l in section(f[DATA_MOUNT], "Unit")):
        e.append("data.mount does not require bridgepoint-data-prepare.service (a blank partition is never formatted)")
    if "ExecStart=/usr/libexec/bridgepoint/data-prepare @DATA_DEVICE@" not in section(f[DATA_PREPARE], "Service"):
        e.append("bridgepoint-data-prepare.service does not run data-prepare on @DATA_DEVICE@")
    parts = [l for l in lines(f[WKS]) if l.startswith("part ")]
    if len(parts) < 4 or not parts[3].startswith("part /data "):
        e.append("wic/bridgepoint-ab.wks: the 4th partition is not /data")
    if 'DATA_DEVICE ?= "/dev/mmcblk0p4"' not in f[DATA_RECIPE]:
        e.append('bridgepoint-data_1.0.bb lacks DATA_DEVICE ?= "/dev/mmcblk0p4" (the wks layout\'s 4th partition)')
    if "bridgepoint-data-prepare.service" not in f[DATA_RECIPE] or "@DATA_DEVICE@" not in f[DATA_RECIPE]:
        e.append("bridgepoint-data_1.0.bb does not install bridgepoint-data-prepare.service with @DATA_DEVICE@ filled in")
    if not any("/data/config" in l and "0640" in l for l in section(f[DATA_DIRS], "Service")):
        e.append("bridgepoint-data-dirs.service does not give /data/config's files mode 0640")
    return e


def rule_identity(f):
    e = missing(f, IDENTITY, DATA_RECIPE)
    if e:
        return e
    if "ExecStart=/usr/libexec/bridgepoint/identity" not in section(f[IDENTITY], "Service"):
        e.append("bridgepoint-identity.service does not run the identity script")
    if not re.search(r'SYSTEMD_SERVICE:\$\{PN\} = "[^"]*bridgepoint-identity\.service', f[DATA_RECIPE].replace("\\\n", " ")):
        e.append("bridgepoint-data_1.0.bb does not enable bridgepoint-identity.service: every box keeps the same hostname and a new machine id every boot")
    return e


def rule_layerdepends(f):
    e = missing(f, LAYER_CONF, KAS_BASE)
    if e:
        return e
    deps = re.search(r'^LAYERDEPENDS_bridgepoint = "([^"]*)"', f[LAYER_CONF], re.M)
    if not deps or "multimedia-layer" not in deps.group(1).split():
        e.append("LAYERDEPENDS_bridgepoint lacks multimedia-layer (libsrtp, for srtpenc, is in meta-multimedia)")
    if "meta-multimedia:" not in f[KAS_BASE]:
        e.append("kas/base.yml does not add meta-multimedia")
    return e


def rule_qemu_board(f):
    if f.get(RECIPE) is None:
        return missing(f, RECIPE)
    e = []
    if 'BRIDGEPOINT_BOARD:qemux86-64 = "sim"' not in f[RECIPE]:
        e.append('bridgepoint_git.bb lacks BRIDGEPOINT_BOARD:qemux86-64 = "sim": the QEMU image runs board = "rpi4" and restarts forever')
    if 'board = "${BRIDGEPOINT_BOARD}"' not in f[RECIPE]:
        e.append("bridgepoint_git.bb does not write BRIDGEPOINT_BOARD into the default config")
    return e


def rule_bench(f):
    e = missing(f, KAS_BENCH, BENCH_CONF)
    if e:
        return e
    for want in ("yocto-layer/kas/rpi4.yml", "ssh-server-dropbear", "serial-autologin-root",
                 "bridgepoint-bench-access", 'BRIDGEPOINT_RAUC_COMPATIBLE = "bridgepoint-rpi4-bench"'):
        if want not in f[KAS_BENCH]:
            e.append("kas/rpi4-bench.yml lacks %s" % want)
    if "Environment=DROPBEAR_EXTRA_ARGS=-s" not in section(f[BENCH_CONF], "Service"):
        e.append("the bench image's dropbear accepts passwords (no -s)")
    return e


def rule_provisioning_docs(f):
    if f.get(PROVISIONING) is None:
        return missing(f, PROVISIONING)
    e = []
    ro = re.findall(r"/etc/bridgepoint/[\w.-]+\.(?:crt|key|pem)", f[PROVISIONING])
    if ro:
        e.append("docs/provisioning.md puts per-box files on the read-only root: %s (they belong in /data/config/)" % sorted(set(ro)))
    if "/data/config/" not in f[PROVISIONING]:
        e.append("docs/provisioning.md does not say to write the box's files into /data/config/")
    return e


def rule_slot_device_tree(f):
    e = missing(f, BOOT_CMD, SLOT_DTB, FDT_OVERLAY_CFG, UBOOT_APPEND, IMAGE)
    if e:
        return e
    boot = lines(f[BOOT_CMD])
    if not any(re.match(r"if load mmc 0:\$\{rootpart\} \$\{fdt_addr_r\} boot/dtb/\$\{fdtfile\}", l) for l in boot):
        e.append("boot.cmd.in does not load the device tree from the booted slot (boot/dtb/${fdtfile}): "
                 "a kernel from a bundle boots against the boot partition's old tree")
    if not any(l.startswith("@@KERNEL_BOOTCMD@@") and l.endswith("${bp_fdt}") for l in boot):
        e.append("boot.cmd.in does not start the kernel with the tree it chose (${bp_fdt})")
    if not any("fdt apply" in l for l in boot):
        e.append("boot.cmd.in applies no overlays from the slot")
    # U-Boot's hush ends the script at an apostrophe inside a double-quoted
    # string (tests/boot-script found it): every Pi would stop in U-Boot.
    if any("'" in q for l in boot for q in re.findall(r'"[^"]*"', l)):
        e.append("boot.cmd.in has an apostrophe inside a double-quoted string: U-Boot's hush stops with a syntax error")
    if not re.search(r"install -m 0644 \$\{DEPLOY_DIR_IMAGE\}/\$base \$\{D\}/boot/dtb/", f[SLOT_DTB]):
        e.append("bridgepoint-slot-dtb does not install the kernel's device trees into /boot/dtb")
    if "CONFIG_OF_LIBFDT_OVERLAY=y" not in lines(f[FDT_OVERLAY_CFG]):
        e.append("%s does not enable CONFIG_OF_LIBFDT_OVERLAY: U-Boot has no fdt apply" % FDT_OVERLAY_CFG)
    if "file://bridgepoint-fdt-overlay.cfg" not in f[UBOOT_APPEND]:
        e.append("u-boot_%.bbappend does not add bridgepoint-fdt-overlay.cfg")
    if not re.search(r'^IMAGE_INSTALL:append:rpi = "[^"]*\bbridgepoint-slot-dtb\b', f[IMAGE], re.M):
        e.append("bridgepoint-image does not install bridgepoint-slot-dtb on the Pi")
    return e


def drop(rel, pattern):
    return lambda f: dict(f, **{rel: re.sub(pattern, "", f[rel], flags=re.M)})


def sub(rel, old, new):
    return lambda f: dict(f, **{rel: f[rel].replace(old, new)})


RULES = [
    ("reboot through the path unit", rule_reboot, drop(UNIT, r"^RuntimeDirectory=.*$")),
    ("crash loop reboots (start limit)", rule_start_limit, drop(UNIT, r"^StartLimitAction=.*$")),
    ("hardware watchdog", rule_watchdog, drop(WATCHDOG, r"^RuntimeWatchdogSec=.*$")),
    ("kernel panic reboots", rule_panic, sub(BOOT_CMD, "panic=10 ", "")),
    ("RAUC kernel config", rule_rauc_kernel, drop(RAUC_CFG, r"^CONFIG_DM_VERITY=y$")),
    ("U-Boot environment", rule_uboot_env, sub(BOOTENV, 'SRC_URI = "file://boot-firmware.mount"',
                                               'SRC_URI = "file://boot-firmware.mount file://fw_env.config"')),
    ("data partition by number, prepared", rule_data_partition,
     sub(DATA_MOUNT, "What=@DATA_DEVICE@", "What=/dev/disk/by-label/data")),
    ("identity", rule_identity, sub(DATA_RECIPE, "bridgepoint-identity.service\"", "\"")),
    ("layer dependencies", rule_layerdepends, sub(LAYER_CONF, " multimedia-layer", "")),
    ("QEMU image's board", rule_qemu_board, drop(RECIPE, r"^BRIDGEPOINT_BOARD:qemux86-64 = .*$")),
    ("bench image", rule_bench, sub(BENCH_CONF, "DROPBEAR_EXTRA_ARGS=-s", "DROPBEAR_EXTRA_ARGS=")),
    ("device trees in the slot", rule_slot_device_tree,
     sub(BOOT_CMD, "@@KERNEL_BOOTCMD@@ ${kernel_addr_r} - ${bp_fdt}", "@@KERNEL_BOOTCMD@@ ${kernel_addr_r} - ${fdt_addr}")),
    ("provisioning docs", rule_provisioning_docs,
     lambda f: dict(f, **{PROVISIONING: f[PROVISIONING] + '\ncert_file = "/etc/bridgepoint/box.crt"\n'})),
]


def main():
    files = load()
    errs, infos = [], []
    for name, rule, mutate in RULES:
        found = rule(files)
        errs.extend("%s: %s" % (name, x) for x in found)
        if found:
            continue
        infos.append("%s: ok" % name)
        if rule(mutate(files)):
            infos.append("self-test: %s: the reintroduced defect is caught" % name)
        else:
            errs.append("self-test: %s: the reintroduced defect was not caught" % name)
    print(json.dumps({"name": "recovery-and-management", "errors": errs, "infos": infos}))


main()
