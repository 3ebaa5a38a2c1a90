#!/usr/bin/env python3
"""The A/B boot script (boot.cmd.in) run by a real U-Boot.

Debian's U-Boot for qemu's 64-bit Arm "virt" machine (u-boot-qemu, 2023.01,
the same major version as the Pi's) boots under qemu-system-aarch64 with a
disk laid out as the box's SD card: p1 boot (vfat, boot.scr), p2 slot A and
p3 slot B (ext4, each with boot/Image and, where the case says, boot/dtb/
with a device tree and bridgepoint-dt.env). The script is the layer's
boot.cmd.in with the recipe's placeholders filled in, compiled by mkimage
as rpi-u-boot-scr does, with two changes for the machine: the disk is
`virtio 0` instead of `mmc 0` (U-Boot has no SD controller on "virt"), and
the kernel start (@@KERNEL_BOOTCMD@@) is a command that prints which slot,
device tree and boot arguments the kernel would get, then powers off.

Stand-ins, because no real thing runs here:
  - U-Boot's environment is not saved: qemu's flash refuses this U-Boot's
    buffered writes ("Flash buffer write timeout"). Between boots of one
    case the harness sets the variables the script saved (BOOT_ORDER,
    BOOT_A_LEFT, BOOT_B_LEFT), read from what the previous boot printed.
  - The Pi firmware's device tree is qemu's own (${fdt_addr}); U-Boot names
    the board's tree in ${fdtfile}, set here as the Pi's U-Boot sets it,
    and ${fdt_addr_r} (which this U-Boot lacks) 1 MiB below the ramdisk
    address, as on the Pi.
  - This U-Boot is built without `fdt apply` (OF_LIBFDT_OVERLAY): a slot
    that lists an overlay checks the fallback (the firmware's tree), not an
    applied overlay.

One "ok - ..." / "not ok - ..." line per check; exits non-zero on a failure.
"""

import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BOOT_CMD = os.path.join(
    ROOT, "yocto-layer/dynamic-layers/raspberrypi/recipes-bsp/rpi-u-boot-scr/files/boot.cmd.in")
UBOOT = "/usr/lib/u-boot/qemu_arm64/u-boot.bin"
FDTFILE = "broadcom/bcm2711-rpi-4-b.dtb"
FIRMWARE_CMDLINE = "console=ttyAMA0 bp.from-firmware=1"

# What the kernel start prints: the slot, the marker of the tree it would
# get (bp-marker in the slot trees; none in the firmware's), the counters.
TEST_BOOT = ("setenv bp_marker firmware; fdt addr ${bp_fdt}; "
             "fdt get value bp_marker / bp-marker; "
             "echo \"BPTEST booted slot=${raucslot} tree=${bp_marker} "
             "order=[${BOOT_ORDER}] A=${BOOT_A_LEFT} B=${BOOT_B_LEFT} "
             "args=${bootargs}\"; poweroff")

passed = 0
failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what + (": " + detail if detail else ""))


def run(*cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def slot_tree(work, name, marker):
    """A device tree for a slot: a root node carrying bp-marker."""
    dts = os.path.join(work, name + ".dts")
    with open(dts, "w") as f:
        f.write('/dts-v1/;\n/ {\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n'
                '\tbp-marker = "%s";\n\tchosen { };\n};\n' % marker)
    out = os.path.join(work, name + ".dtb")
    run("dtc", "-q", "-I", "dts", "-O", "dtb", "-o", out, dts)
    return out


def slot_image(work, name, tree=None, overlays=None):
    """An ext4 slot: boot/Image, and boot/dtb/ when tree is given."""
    src = os.path.join(work, name + ".src")
    os.makedirs(os.path.join(src, "boot"))
    with open(os.path.join(src, "boot/Image"), "wb") as f:
        f.write(b"not a kernel: the test's kernel start never runs it\n")
    if tree is not None:
        dtb_dir = os.path.join(src, "boot/dtb", os.path.dirname(FDTFILE))
        os.makedirs(dtb_dir)
        shutil.copy(tree, os.path.join(src, "boot/dtb", FDTFILE))
        os.makedirs(os.path.join(src, "boot/dtb/overlays"))
        with open(os.path.join(src, "boot/dtb/bridgepoint-dt.env"), "w") as f:
            f.write("bp_overlays=%s\n" % " ".join(overlays or []))
    img = os.path.join(work, name + ".ext4")
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    run("mkfs.ext4", "-q", "-F", "-d", src, img)
    return img


def boot_partition(work, script):
    img = os.path.join(work, "boot.vfat")
    with open(img, "wb") as f:
        f.truncate(4 << 20)
    run("mkfs.vfat", "-n", "boot", img)
    run("mcopy", "-i", img, script, "::boot.scr")
    return img


def disk(work, name, parts):
    """An MBR disk of the given partition images, as p1, p2, p3."""
    path = os.path.join(work, name + ".img")
    start = 2048
    layout = []
    for p in parts:
        sectors = os.path.getsize(p) // 512
        layout.append((start, sectors, p))
        start += sectors
    with open(path, "wb") as f:
        f.truncate((start + 2048) * 512)
    table = "label: dos\n" + "".join(
        "start=%d, size=%d, type=%s\n" % (s, n, "c" if i == 0 else "83")
        for i, (s, n, _) in enumerate(layout))
    run("sfdisk", "-q", path, input=table.encode())
    for s, _, p in layout:
        run("dd", "if=" + p, "of=" + path, "bs=512", "seek=%d" % s, "conv=notrunc", "status=none")
    return path


def compile_script(work):
    with open(BOOT_CMD) as f:
        text = f.read()
    text = text.replace("@@KERNEL_IMAGETYPE@@", "Image")
    text = text.replace("@@KERNEL_BOOTCMD@@", "run bp_test_boot; echo not reached")
    text = re.sub(r"\bmmc 0:", "virtio 0:", text)
    cmd = os.path.join(work, "boot.cmd")
    with open(cmd, "w") as f:
        f.write(text)
    scr = os.path.join(work, "boot.scr")
    run("mkimage", "-A", "arm64", "-T", "script", "-C", "none", "-d", cmd, scr)
    return scr


class UBoot:
    """One boot of U-Boot under qemu, driven over its serial console."""

    def __init__(self, work, disk_path):
        flash = os.path.join(work, "flash0.img")
        if not os.path.exists(flash):
            shutil.copy(UBOOT, flash)
            with open(flash, "r+b") as f:
                f.truncate(64 << 20)
        self.proc = subprocess.Popen(
            ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-m", "512",
             "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
             "-drive", "if=pflash,format=raw,readonly=on,file=" + flash,
             "-drive", "if=none,format=raw,id=d0,file=" + disk_path,
             "-device", "virtio-blk-device,drive=d0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = b""

    def read_until(self, pattern, timeout, since=0):
        """Reads until pattern appears in the output after offset since."""
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while pattern.encode() not in self.out[since:]:
            left = end - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return False
                self.out += chunk
        return True

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def command(self, line, timeout=20):
        """A line at the prompt; waits for the next prompt."""
        mark = len(self.out)
        self.send(line)
        return self.read_until("\n=> ", timeout, since=mark)

    def finish(self, timeout=60, since=None):
        """Reads until qemu ends (poweroff or reset with -no-reboot), or
        U-Boot's prompt comes back after offset since (the script ended
        without starting a kernel)."""
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        while since is None or b"\n=> " not in self.out[since:]:
            left = end - time.monotonic()
            if left <= 0:
                self.proc.kill()
                break
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                self.out += chunk
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        return self.out.decode(errors="replace").replace("\r", "")


def boot(work, disk_path, env):
    """Boots U-Boot, sets env, sources boot.scr; returns the console text."""
    u = UBoot(work, disk_path)
    if not u.read_until("Hit any key to stop autoboot", 60):
        return u.finish(5) + "\n[harness: no autoboot prompt]"
    u.send("")
    u.read_until("=> ", 10)
    u.command("virtio scan")
    u.command("setenv fdtfile " + FDTFILE)
    # The Pi's U-Boot has fdt_addr_r; this one has not: 1 MiB below
    # ramdisk_addr_r, as on the Pi.
    u.command("setexpr fdt_addr_r ${ramdisk_addr_r} - 0x100000")
    u.command("setenv bootargs '" + FIRMWARE_CMDLINE + "'")
    u.command("setenv bp_test_boot '" + TEST_BOOT + "'")
    for k, v in env.items():
        u.command("setenv %s '%s'" % (k, v))
    mark = len(u.out)
    u.send("load virtio 0:1 ${scriptaddr} boot.scr && source ${scriptaddr}")
    return u.finish(since=mark)


def booted(console):
    """The BPTEST line's fields, or None."""
    m = re.search(r"^BPTEST booted (.*)$", console, re.M)
    if not m:
        return None
    m = re.match(r"slot=(\S*) tree=(\S*) order=\[([^\]]*)\] A=(\S*) B=(\S*) args=(.*)$", m.group(1))
    if not m:
        return None
    fields = dict(zip(("slot", "tree", "order", "A", "B", "args"), m.groups()))
    return fields


def tail(console, n=12):
    return " | ".join(console.strip().splitlines()[-n:])


def main():
    for tool in ("qemu-system-aarch64", "mkimage", "dtc", "mkfs.vfat", "mcopy", "sfdisk", "mkfs.ext4"):
        if shutil.which(tool) is None and not os.path.exists("/sbin/" + tool) and not os.path.exists("/usr/sbin/" + tool):
            print("not ok - harness: %s is missing" % tool)
            return 1
    os.environ["PATH"] += ":/sbin:/usr/sbin"
    work = tempfile.mkdtemp(prefix="boot-script-test.")
    try:
        scr = compile_script(work)
        bootp = boot_partition(work, scr)
        tree_a = slot_tree(work, "tree-a", "slot-A")
        tree_b = slot_tree(work, "tree-b", "slot-B")
        a = slot_image(work, "a", tree_a)
        b = slot_image(work, "b", tree_b)
        b_old = slot_image(work, "b-old")
        b_overlay = slot_image(work, "b-overlay", tree_b, ["vc4-kms-v3d"])
        both = disk(work, "both", [bootp, a, b])
        old_b = disk(work, "old-b", [bootp, a, b_old])
        overlay_b = disk(work, "overlay-b", [bootp, a, b_overlay])

        # 1. A new box: no counters yet.
        c = boot(work, both, {})
        f = booted(c)
        check("a new box (no BOOT_ORDER yet) boots slot A and counts the attempt (A=2)",
              f is not None and f["slot"] == "A" and f["A"] == "2" and f["order"] == "A B", tail(c))
        check("slot A's kernel gets slot A's own device tree, not the firmware's",
              f is not None and f["tree"] == "slot-A", tail(c))
        want = FIRMWARE_CMDLINE + " root=/dev/mmcblk0p2 rootfstype=ext4 ro rootwait panic=10 rauc.slot=A"
        check("the boot arguments: the firmware's command line, then slot A's root, panic=10 and rauc.slot",
              f is not None and f["args"] == want, (f or {}).get("args", tail(c)))

        # 2. A fresh update in slot B that never gets marked good: three
        # attempts, then slot A on its own.
        env = {"BOOT_ORDER": "B A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "3"}
        seen = []
        for attempt in range(4):
            c = boot(work, both, env)
            f = booted(c)
            if f is None:
                seen.append("no boot (" + tail(c, 4) + ")")
                break
            seen.append("%s(tree %s, A=%s B=%s)" % (f["slot"], f["tree"], f["A"], f["B"]))
            env = {"BOOT_ORDER": f["order"], "BOOT_A_LEFT": f["A"], "BOOT_B_LEFT": f["B"]}
        check("an update in slot B boots B three times (B=2, 1, 0), each with B's device tree, then A",
              seen == ["B(tree slot-B, A=3 B=2)", "B(tree slot-B, A=3 B=1)",
                       "B(tree slot-B, A=3 B=0)", "A(tree slot-A, A=2 B=0)"], " → ".join(seen))
        c = boot(work, both, {"BOOT_ORDER": "B A"})
        f = booted(c)
        check("slot B boots with root=/dev/mmcblk0p3 and rauc.slot=B",
              f is not None and "root=/dev/mmcblk0p3 " in f["args"] and f["args"].endswith("rauc.slot=B"),
              (f or {}).get("args", tail(c)))

        # 3. Both slots out of attempts: counters reset, U-Boot resets.
        c = boot(work, both, {"BOOT_ORDER": "A B", "BOOT_A_LEFT": "0", "BOOT_B_LEFT": "0"})
        check("no slot with attempts left: both reset to 3 and the board resets (no dead box)",
              booted(c) is None and "resetting both to 3" in c and "resetting ..." in c, tail(c, 6))

        # 4. A slot written before slots carried device trees.
        c = boot(work, old_b, {"BOOT_ORDER": "B A"})
        f = booted(c)
        check("a slot without boot/dtb boots with the firmware's device tree, and says so",
              f is not None and f["slot"] == "B" and f["tree"] == "firmware"
              and "slot B carries no device tree: using the one of the firmware" in c, tail(c))

        # 5. An overlay that cannot be applied: never a half-applied tree.
        c = boot(work, overlay_b, {"BOOT_ORDER": "B A"})
        f = booted(c)
        check("an overlay that does not apply: the firmware's device tree, and the log names the overlay",
              f is not None and f["tree"] == "firmware"
              and "overlay vc4-kms-v3d of slot B not applied" in c, tail(c))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("boot script tests: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
