# With the bridgepoint distro, replace meta-raspberrypi's single-rootfs boot
# script by the Bridgepoint A/B script (files/boot.cmd.in): boot-attempt
# counting for RAUC and the kernel loaded from the booted root file system
# slot. The recipe's own do_compile fills in @@KERNEL_IMAGETYPE@@ and
# @@KERNEL_BOOTCMD@@.
FILESEXTRAPATHS:prepend:bridgepoint := "${THISDIR}/files:"
