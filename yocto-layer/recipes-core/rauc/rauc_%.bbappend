# Bridgepoint additions to the RAUC service (the configuration itself is in
# rauc-conf.bbappend). Active with the bridgepoint distro only.
#
# A freshly installed slot is only marked good once bridgepointd has come up:
# rauc-mark-good.service waits for bridgepointd.service (Type=notify, so
# "after" means after the daemon reported READY=1). If the new release never
# gets there, the slot is not marked good, boot.scr counts its attempts down
# and falls back to the other slot after three tries.

FILESEXTRAPATHS:prepend:bridgepoint := "${THISDIR}/files:"

SRC_URI:append:bridgepoint = " file://rauc-mark-good-after-bridgepointd.conf"

do_install:append:bridgepoint() {
    install -d ${D}${systemd_system_unitdir}/rauc-mark-good.service.d
    install -m 0644 ${WORKDIR}/rauc-mark-good-after-bridgepointd.conf \
        ${D}${systemd_system_unitdir}/rauc-mark-good.service.d/50-bridgepointd.conf
}

FILES:${PN}-mark-good:append:bridgepoint = " ${systemd_system_unitdir}/rauc-mark-good.service.d"
