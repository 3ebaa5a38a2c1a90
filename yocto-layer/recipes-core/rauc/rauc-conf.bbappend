# Bridgepoint RAUC system configuration and keyring (since scarthgap both
# live in meta-rauc's rauc-conf recipe, not in rauc). Active with the
# bridgepoint distro only.
#
# files/system.conf is the Raspberry Pi 4 A/B layout; machines with another
# layout have files/<MACHINE>/system.conf (picked through FILESOVERRIDES).
# @@BRIDGEPOINT_RAUC_COMPATIBLE@@ in it becomes BRIDGEPOINT_RAUC_COMPATIBLE,
# the same value bridgepoint-bundle writes into its bundles.
#
# The keyring is the CA certificate that update bundles must be signed
# under. The builder provides it (it is not committed): the file
# bridgepoint-ca.cert.pem in the directory named by
# BRIDGEPOINT_RAUC_KEYRING_DIR (environment, forwarded by kas/base.yml, or
# local.conf; defaults in conf/distro/bridgepoint.conf).

FILESEXTRAPATHS:prepend:bridgepoint := "${THISDIR}/files:${BRIDGEPOINT_RAUC_KEYRING_DIR}:"

RAUC_KEYRING_FILE:bridgepoint = "bridgepoint-ca.cert.pem"
# Without a keyring directory nothing is fetched, and do_install stops with
# an explanation instead of a bare "file not found".
RAUC_KEYRING_URI:bridgepoint = "${@'file://bridgepoint-ca.cert.pem' if d.getVar('BRIDGEPOINT_RAUC_KEYRING_DIR') else ''}"

do_install:prepend:bridgepoint() {
    if [ -z "${BRIDGEPOINT_RAUC_KEYRING_DIR}" ]; then
        bbfatal "BRIDGEPOINT_RAUC_KEYRING_DIR is not set: point it at the directory holding bridgepoint-ca.cert.pem, the CA of the bundle signing certificate (see yocto-layer/README.md)"
    fi
    sed -i -e "s/@@BRIDGEPOINT_RAUC_COMPATIBLE@@/${BRIDGEPOINT_RAUC_COMPATIBLE}/g" ${WORKDIR}/system.conf
}
