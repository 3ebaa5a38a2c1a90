SUMMARY = "Bridgepoint box image"
DESCRIPTION = "Minimal read-only image of the Bridgepoint box: bridgepointd, \
               the GStreamer plugins of its pipeline, the kernel's modules, \
               time synchronisation, CA certificates and RAUC for signed A/B \
               updates. Daemon and RAUC state live on the writable data \
               partition (/data)."
HOMEPAGE = "https://git.example.invalid/bridgepoint"
SECTION = "image"
LICENSE = "MIT"

# Distro expectations (conf/distro/bridgepoint.conf sets them; kas/base.yml
# selects DISTRO = "bridgepoint"):
#  - DISTRO_FEATURES has "systemd" (INIT_MANAGER = "systemd"): bridgepointd
#    is a Type=notify service with a watchdog, and the data partition is
#    mounted by systemd units (bridgepoint-data).
#  - DISTRO_FEATURES has "rauc": meta-rauc's bbappends are inactive without.
#  - LICENSE_FLAGS_ACCEPTED has "commercial" for x264 (kas/base.yml; see the
#    bridgepoint recipe for the openh264 alternative).
# Machine specifics (wic layout, U-Boot environment access) are added by
# kas/rpi4.yml through WKS_FILE and CORE_IMAGE_EXTRA_INSTALL.
inherit core-image features_check

REQUIRED_DISTRO_FEATURES = "systemd rauc"

# No package manager, no debug tweaks: the root file system is mounted
# read-only and only changes through signed RAUC bundles.
IMAGE_FEATURES += "read-only-rootfs"

# The GStreamer plugins of the pipeline come with bridgepoint: they are its
# RDEPENDS (bridgepoint_git.bb), the one list, which scripts/check-yocto
# derives from the element table in firmware/src/media/elements.rs.
# kernel-image puts the kernel into the root file system (/boot): boot.scr
# loads it from the booted slot, so a RAUC update replaces kernel and
# modules together (and, on the Pi, the device trees: bridgepoint-slot-dtb
# below).
# kernel-modules: every module the kernel builds. meta-raspberrypi only
# recommends it through MACHINE_EXTRA_RRECOMMENDS, which reaches images
# built on packagegroup-base, not this one (packagegroup-core-boot takes
# only MACHINE_ESSENTIAL_EXTRA_RRECOMMENDS). The Pi kernel
# (bcm2711_defconfig) builds as modules what the box needs: uvcvideo
# (USB cameras), snd and snd-usb-audio (USB microphones), the bcm2835
# codec and ISP (v4l2h264enc, v4l2jpegdec) and the gpiomem driver
# (/dev/gpiomem for the rpi board backend). The whole set rather than a
# list: a camera or microphone of any make finds its driver, and a list of
# kernel-module-* names breaks the build as soon as the kernel
# configuration builds one of them in.
# v4l-utils (v4l2-ctl) and alsa-utils-aplay/-amixer (arecord, amixer) are
# for the bench: to check on the serial console what a camera and a
# microphone offer, next to `bridgepointd probe`. No other alsa-utils
# package: alsactl cannot store mixer state on the read-only root.
IMAGE_INSTALL = "\
    packagegroup-core-boot \
    alsa-utils-amixer \
    alsa-utils-aplay \
    bridgepoint \
    bridgepoint-data \
    ca-certificates \
    chrony \
    kernel-image \
    kernel-modules \
    rauc \
    v4l-utils \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"
# meta-raspberrypi's udev rules (recipes-core/udev/udev-rules-rpi.bb,
# Raspberry Pi OS's 99-com.rules): groups for the Pi's own device nodes
# (vcsm-cma to video, gpiomem to gpio, ...) and the serial0/serial1 links.
# Also only a MACHINE_EXTRA_RRECOMMENDS of meta-raspberrypi (rpi-base.inc).
IMAGE_INSTALL:append:rpi = " udev-rules-rpi"
# The device trees and overlays in the slot (/boot/dtb), loaded by boot.scr
# from the slot it boots: a bundle updates them with the kernel.
IMAGE_INSTALL:append:rpi = " bridgepoint-slot-dtb"

# Only bridgepointd's health gate marks a booted slot good: meta-rauc's
# rauc-mark-good (rauc status mark-good at boot-complete.target, healthy or
# not) must never be installed. The rauc bbappend drops rauc's
# recommendation of it; excluding it here makes any other way in a build
# error instead of a silently installed unit.
PACKAGE_EXCLUDE += "rauc-mark-good"

# The RAUC bundle carries the ext4 image (RAUC_SLOT_rootfs[fstype]).
IMAGE_FSTYPES += "ext4"

# Headroom inside the fixed-size rootfs slots of wic/bridgepoint-ab.wks
# (1536 MiB) for later releases; in KiB.
IMAGE_ROOTFS_EXTRA_SPACE = "65536"
