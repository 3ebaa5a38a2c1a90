# RAUC's kernel requirements for the Pi's kernel (as meta-rauc-community's
# meta-rauc-raspberrypi does): SquashFS, loop, device-mapper verity and NBD
# built in (files/rauc.cfg, a configuration fragment merged into
# bcm2711_defconfig by the kernel class). Checked by scripts/check-yocto.
FILESEXTRAPATHS:prepend:bridgepoint := "${THISDIR}/files:"

SRC_URI:append:bridgepoint = " file://rauc.cfg"
