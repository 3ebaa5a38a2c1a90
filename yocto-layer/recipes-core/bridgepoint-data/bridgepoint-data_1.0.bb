SUMMARY = "Mounts the Bridgepoint data partition"
DESCRIPTION = "Mounts the writable data partition (label data) at /data, \
               creates the state directories on it, bind-mounts \
               /data/bridgepoint on /var/lib/bridgepoint (the state directory \
               of bridgepointd) and the provisioned per-box configuration \
               /data/config/bridgepoint.toml over the default one. Both root \
               file system slots share this partition, so it survives RAUC \
               updates."
HOMEPAGE = "https://git.example.invalid/bridgepoint"
SECTION = "base"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

SRC_URI = "\
    file://bridgepoint-data-dirs.service \
    file://data.mount \
    file://etc-bridgepoint-bridgepoint.toml.mount \
    file://var-lib-bridgepoint.mount \
"

S = "${WORKDIR}"

inherit allarch systemd features_check

REQUIRED_DISTRO_FEATURES = "systemd"

SYSTEMD_SERVICE:${PN} = "data.mount bridgepoint-data-dirs.service var-lib-bridgepoint.mount \
                         etc-bridgepoint-bridgepoint.toml.mount"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${WORKDIR}/data.mount ${D}${systemd_system_unitdir}/
    install -m 0644 ${WORKDIR}/bridgepoint-data-dirs.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${WORKDIR}/var-lib-bridgepoint.mount ${D}${systemd_system_unitdir}/
    install -m 0644 ${WORKDIR}/etc-bridgepoint-bridgepoint.toml.mount ${D}${systemd_system_unitdir}/

    # Mount points in the read-only root file system.
    install -d ${D}/data
    install -d ${D}${localstatedir}/lib/bridgepoint
}

FILES:${PN} += "\
    /data \
    ${localstatedir}/lib/bridgepoint \
    ${systemd_system_unitdir} \
"
