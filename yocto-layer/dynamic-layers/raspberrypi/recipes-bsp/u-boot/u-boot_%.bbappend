# Our /etc/fw_env.config (uboot.env on the boot partition, for RAUC's uboot
# backend and fw_printenv) replaces meta-raspberrypi's: its u-boot_%.bbappend
# installs ${WORKDIR}/fw_env.config into the u-boot-env package, and this
# layer's files/ comes first in FILESPATH (higher layer priority), so the
# file it installs is ours. u-boot-env also carries /etc/u-boot-initial-env,
# the built-in environment libubootenv falls back to when uboot.env is torn
# (a power cut during saveenv): fw_printenv and `rauc status` keep working.
# Checked by scripts/check-yocto.
FILESEXTRAPATHS:prepend:bridgepoint := "${THISDIR}/files:"

# `fdt apply` for the overlays boot.scr loads from the booted slot
# (files/bridgepoint-fdt-overlay.cfg, a configuration fragment merged into
# rpi_arm64_defconfig by the U-Boot recipe).
SRC_URI:append:bridgepoint = " file://bridgepoint-fdt-overlay.cfg"
