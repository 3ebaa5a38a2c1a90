SUMMARY = "Bridgepoint room streaming daemon (bridgepointd)"
DESCRIPTION = "bridgepointd captures the room's camera and microphone, \
               encodes them as H.264 and Opus and sends them over SRTP to the \
               central citizen reception hub. It drives the call button and \
               the status LED of the box."
HOMEPAGE = "https://git.example.invalid/bridgepoint"
SECTION = "multimedia"
# The workspace is Apache-2.0 (Cargo.toml `license`); the crates it links are
# listed in bridgepoint-crates.inc and carry their own (MIT/Apache-2.0)
# licenses. The repository has no LICENSE file yet, so the common license
# text is used; point this at the repository's LICENSE once it has one.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

# gstreamer-rs links libgstreamer-1.0 and libgstrtp-1.0, found via pkg-config.
DEPENDS = "gstreamer1.0 gstreamer1.0-plugins-base"

PV = "0.1.0+git"

# The project's own repository. The URL is a placeholder: set the real one
# (keep protocol and branch) where the layer is built.
# SRCREV pins the exact commit built into an image. For every release, set
# it to the release commit and regenerate bridgepoint-crates.inc from that
# commit's Cargo.lock (scripts/update-yocto-crates). AUTOREV is only for
# local development builds (and then the .inc must still match).
SRC_URI = "git://git.example.invalid/bridgepoint.git;protocol=https;branch=main \
           file://bridgepointd.service \
           file://bridgepoint-reboot.path \
           file://bridgepoint-reboot.service \
           file://bridgepoint.toml \
           file://60-bridgepoint-gpio.rules \
           "
SRCREV = "0000000000000000000000000000000000000000"

S = "${WORKDIR}/git"

# One crate:// entry per locked crates.io package, generated from Cargo.lock
# by scripts/update-yocto-crates (checked by scripts/check-yocto).
require bridgepoint-crates.inc

# openembedded-core's cargo class, compiling with the Rust toolchain of
# meta-lts-mixins (branch scarthgap/rust, a LAYERDEPENDS of this layer):
# scarthgap's own Rust 1.75 cannot build this workspace (resolver = "3"
# needs Cargo 1.84, the version 4 Cargo.lock 1.78, and the workspace and
# its locked crates declare their rust-version). The layer's RUSTVERSION
# selects its rust, cargo and libstd-rs recipes; the class is unchanged.
# The Rust version the pinned layer provides is in
# conf/rust-toolchain-version; scripts/check-yocto fails if the workspace
# or a locked crate needs a newer one.
inherit cargo cargo-update-recipe-crates pkgconfig systemd useradd

# Workspace build: the manifest is the workspace root (where Cargo.lock
# lives; --frozen and cargo_common_do_patch_paths expect it next to the
# manifest), and only the firmware member's daemon binary is built.
CARGO_SRC_DIR = ""
CARGO_BUILD_FLAGS += "--package bridgepoint-firmware --bin bridgepointd"

# Dedicated system user without login shell; its home is the state directory.
USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --no-create-home --home-dir ${localstatedir}/lib/bridgepoint \
                       --shell ${base_sbindir}/nologin --user-group \
                       --groups video,audio,gpio bridgepoint"
# The gpio group does not exist in a stock image: create it (system group).
GROUPADD_PARAM:${PN} = "--system gpio"

# bridgepoint-reboot.path: root reboots the box when the daemon (without
# capabilities) asks through /run/bridgepoint/reboot; the .service it
# starts is not enabled on its own.
SYSTEMD_SERVICE:${PN} = "bridgepointd.service bridgepoint-reboot.path"

# The board profile of the default config: the Pi's GPIO on the Pi, the
# simulated board (a socket, no GPIO) on the QEMU development image, where
# "rpi4" would fail to open GPIO and restart forever.
BRIDGEPOINT_BOARD ?= "rpi4"
BRIDGEPOINT_BOARD:qemux86-64 = "sim"
# The default config differs per machine.
PACKAGE_ARCH = "${MACHINE_ARCH}"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${WORKDIR}/bridgepointd.service ${D}${systemd_system_unitdir}/bridgepointd.service
    install -m 0644 ${WORKDIR}/bridgepoint-reboot.path ${D}${systemd_system_unitdir}/
    install -m 0644 ${WORKDIR}/bridgepoint-reboot.service ${D}${systemd_system_unitdir}/

    # Default configuration; provisioning replaces hub and key. The board
    # profile follows the machine (BRIDGEPOINT_BOARD).
    install -d ${D}${sysconfdir}/bridgepoint
    install -m 0644 ${WORKDIR}/bridgepoint.toml ${D}${sysconfdir}/bridgepoint/bridgepoint.toml
    sed -i -e 's/^board = .*/board = "${BRIDGEPOINT_BOARD}"/' ${D}${sysconfdir}/bridgepoint/bridgepoint.toml

    # GPIO character devices for the gpio group (button, LED).
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 ${WORKDIR}/60-bridgepoint-gpio.rules ${D}${nonarch_base_libdir}/udev/rules.d/
}

FILES:${PN} += "\
    ${nonarch_base_libdir}/udev/rules.d/60-bridgepoint-gpio.rules \
    ${systemd_system_unitdir}/bridgepointd.service \
    ${systemd_system_unitdir}/bridgepoint-reboot.path \
    ${systemd_system_unitdir}/bridgepoint-reboot.service \
"
CONFFILES:${PN} = "${sysconfdir}/bridgepoint/bridgepoint.toml"

# GStreamer elements the daemon builds its pipelines from. They are plugins
# loaded at run time, so nothing links them and no build notices a missing
# one: every package is listed here, and this is the one place the image
# gets them from (bridgepoint-image installs bridgepoint).
# The list is the Yocto column of the element table in the code,
# firmware/src/media/elements.rs (factory -> Debian package -> Yocto
# package). scripts/check-yocto fails if a package of that table is
# missing here, if a package here is needed by no factory of the table, or
# if the code creates a factory the table does not have.
# openembedded-core splits every plugin library libgst<name>.so of the
# plugin recipes into its own package <recipe>-<name>
# (gstreamer1.0-plugins-packaging.inc), so the package is named after the
# library, not the element:
#  - gstreamer1.0 (core, libgstcoreelements.so in the main package): queue,
#    capsfilter, valve
#  - base: alsa (alsasrc), audioconvert, audioresample, audiotestsrc,
#    opus (opusenc), videoconvertscale (videoconvert and videoscale),
#    videorate, videotestsrc (test sources)
#  - good: jpeg (jpegdec), rtp (rtph264pay, rtpopuspay), rtpmanager
#    (rtpbin), udp (udpsink, udpsrc), video4linux2 (v4l2src and, on the Pi,
#    the V4L2 memory-to-memory codec's v4l2h264enc and v4l2jpegdec)
#  - bad: srtp (srtpenc, srtpdec), videoparsersbad (h264parse), inter
#    (intervideosink/src: central's picture and the self-view to the screen)
#  - the screen's card: compositor and pango (textoverlay, clockoverlay) of
#    -base, png (pngenc, `bridgepointd card`) of -good, and ttf-dejavu-sans
#    (meta-oe), a font with every Vietnamese letter
#  - ugly: x264 (x264enc), the software H.264 encoder used when there is no
#    hardware encoder. gstreamer1.0-plugins-ugly and x264 carry
#    LICENSE_FLAGS = "commercial": the build must set
#    LICENSE_FLAGS_ACCEPTED += "commercial" (kas/base.yml does) and the
#    "x264" PACKAGECONFIG of gstreamer1.0-plugins-ugly (the bridgepoint
#    distro does). If that license flag cannot be accepted, replace it with
#    gstreamer1.0-plugins-bad-openh264 (Cisco's openh264 from
#    meta-multimedia, PACKAGECONFIG "openh264" of gstreamer1.0-plugins-bad),
#    mark openh264enc "Everywhere" and x264enc "NotInImage" in
#    elements.rs, and set [video] encoder = "openh264".
# The plugins that exist only with a PACKAGECONFIG (alsa, opus, jpeg,
# video4linux2, srtp, x264) are enabled in conf/distro/bridgepoint.conf.
RDEPENDS:${PN} += "\
    gstreamer1.0 \
    gstreamer1.0-libav \
    gstreamer1.0-plugins-bad-inter \
    gstreamer1.0-plugins-bad-kms \
    gstreamer1.0-plugins-bad-srtp \
    gstreamer1.0-plugins-bad-videoparsersbad \
    gstreamer1.0-plugins-bad-webrtcdsp \
    gstreamer1.0-plugins-base-alsa \
    gstreamer1.0-plugins-base-audioconvert \
    gstreamer1.0-plugins-base-audioresample \
    gstreamer1.0-plugins-base-audiotestsrc \
    gstreamer1.0-plugins-base-compositor \
    gstreamer1.0-plugins-base-opus \
    gstreamer1.0-plugins-base-pango \
    gstreamer1.0-plugins-base-videoconvertscale \
    gstreamer1.0-plugins-base-videorate \
    gstreamer1.0-plugins-base-videotestsrc \
    gstreamer1.0-plugins-good-jpeg \
    gstreamer1.0-plugins-good-png \
    gstreamer1.0-plugins-good-rtp \
    gstreamer1.0-plugins-good-rtpmanager \
    gstreamer1.0-plugins-good-udp \
    gstreamer1.0-plugins-good-video4linux2 \
    gstreamer1.0-plugins-ugly-x264 \
    ttf-dejavu-sans \
"
# /var/lib/bridgepoint on the data partition (mount units, mount points).
RRECOMMENDS:${PN} += "bridgepoint-data"
