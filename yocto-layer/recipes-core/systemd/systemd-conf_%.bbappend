# The box's systemd manager settings: the hardware watchdog
# (files/10-bridgepoint-watchdog.conf), so that a hung kernel or PID 1
# reboots the box without a person.
FILESEXTRAPATHS:prepend:bridgepoint := "${THISDIR}/files:"

SRC_URI:append:bridgepoint = " file://10-bridgepoint-watchdog.conf"

do_install:append:bridgepoint() {
    install -d ${D}${systemd_unitdir}/system.conf.d
    install -m 0644 ${WORKDIR}/10-bridgepoint-watchdog.conf ${D}${systemd_unitdir}/system.conf.d/
}

FILES:${PN}:append:bridgepoint = " ${systemd_unitdir}/system.conf.d/10-bridgepoint-watchdog.conf"
