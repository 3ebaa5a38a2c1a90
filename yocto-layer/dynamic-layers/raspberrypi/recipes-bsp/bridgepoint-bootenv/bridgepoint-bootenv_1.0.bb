SUMMARY = "U-Boot environment access for RAUC on the Raspberry Pi"
DESCRIPTION = "Mounts the Raspberry Pi boot partition at /boot/firmware, \
               where U-Boot's uboot.env lives, and pulls in u-boot-env: \
               /etc/fw_env.config (ours, through u-boot_%.bbappend) and \
               /etc/u-boot-initial-env, so that RAUC's uboot backend can \
               switch the A/B slots with fw_setenv, also after a torn \
               environment."
HOMEPAGE = "https://git.example.invalid/bridgepoint"
SECTION = "base"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

SRC_URI = "file://boot-firmware.mount"

S = "${WORKDIR}"

inherit systemd features_check

REQUIRED_DISTRO_FEATURES = "systemd"
COMPATIBLE_MACHINE = "^rpi$"

PACKAGE_ARCH = "${MACHINE_ARCH}"

SYSTEMD_SERVICE:${PN} = "boot-firmware.mount"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${WORKDIR}/boot-firmware.mount ${D}${systemd_system_unitdir}/
    # Mount point in the read-only root file system.
    install -d ${D}/boot/firmware
}

FILES:${PN} += "\
    /boot/firmware \
    ${systemd_system_unitdir}/boot-firmware.mount \
"
# fw_printenv / fw_setenv
RDEPENDS:${PN} = "libubootenv-bin u-boot-env"
