SUMMARY = "Bridgepoint box image"
DESCRIPTION = "Minimal read-only image of the Bridgepoint box: bridgepointd, \
               the GStreamer plugins of its pipeline, time synchronisation, \
               CA certificates and RAUC for signed A/B updates. Daemon and \
               RAUC state live on the writable data partition (/data)."
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

# The GStreamer plugins are also runtime dependencies of bridgepoint; they
# are listed here too so the image recipe states the whole pipeline.
# kernel-image puts the kernel into the root file system (/boot): boot.scr
# loads it from the booted slot, so a RAUC update replaces kernel and
# modules together.
IMAGE_INSTALL = "\
    packagegroup-core-boot \
    bridgepoint \
    bridgepoint-data \
    ca-certificates \
    chrony \
    gstreamer1.0-plugins-bad-srtp \
    gstreamer1.0-plugins-bad-videoparsersbad \
    gstreamer1.0-plugins-base-alsa \
    gstreamer1.0-plugins-base-app \
    gstreamer1.0-plugins-base-audioconvert \
    gstreamer1.0-plugins-base-audioresample \
    gstreamer1.0-plugins-base-audiotestsrc \
    gstreamer1.0-plugins-base-opus \
    gstreamer1.0-plugins-base-videoconvertscale \
    gstreamer1.0-plugins-base-videotestsrc \
    gstreamer1.0-plugins-good-autodetect \
    gstreamer1.0-plugins-good-rtp \
    gstreamer1.0-plugins-good-rtpmanager \
    gstreamer1.0-plugins-good-udp \
    gstreamer1.0-plugins-good-video4linux2 \
    gstreamer1.0-plugins-ugly-x264 \
    kernel-image \
    rauc \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"

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
