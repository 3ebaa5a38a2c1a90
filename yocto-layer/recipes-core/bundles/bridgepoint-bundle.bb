# nooelint: oelint.file.underscores
# (a bundle, like an image, has no upstream version of its own: the version
# written into the bundle is RAUC_BUNDLE_VERSION below)
SUMMARY = "Signed RAUC update bundle of the Bridgepoint image"
DESCRIPTION = "RAUC bundle (verity format) carrying the ext4 root file \
               system of bridgepoint-image, installed by the box into its \
               inactive A/B slot."
HOMEPAGE = "https://git.example.invalid/bridgepoint"
SECTION = "base"
LICENSE = "MIT"

# The bundle is assembled from bridgepoint-image's deploy output: nothing to
# fetch.
SRC_URI = ""

inherit bundle

# Must equal [system] compatible= of /etc/rauc/system.conf on the box
# (rauc-conf.bbappend substitutes the same variable), otherwise the box
# refuses the bundle. Set per machine in kas/*.yml.
BRIDGEPOINT_RAUC_COMPATIBLE ??= "bridgepoint-${MACHINE}"
RAUC_BUNDLE_COMPATIBLE = "${BRIDGEPOINT_RAUC_COMPATIBLE}"
RAUC_BUNDLE_VERSION = "${DISTRO_VERSION}"
RAUC_BUNDLE_DESCRIPTION = "Bridgepoint ${MACHINE} update"
RAUC_BUNDLE_FORMAT = "verity"

RAUC_BUNDLE_SLOTS = "rootfs"
RAUC_SLOT_rootfs = "bridgepoint-image"
RAUC_SLOT_rootfs[fstype] = "ext4"

# Signing key and certificate: NEVER committed. The builder points these at
# the files (or a PKCS#11 URI for the key) of the release signing
# infrastructure, from the environment (kas forwards RAUC_KEY_FILE and
# RAUC_CERT_FILE, see kas/base.yml) or in local.conf:
#   RAUC_KEY_FILE = "/secure/bridgepoint/release-1.key.pem"
#   RAUC_CERT_FILE = "/secure/bridgepoint/release-1.cert.pem"
# The certificate must chain to the CA installed on the box as its keyring
# (BRIDGEPOINT_RAUC_KEYRING_DIR, see rauc-conf.bbappend).
RAUC_KEY_FILE ??= ""
RAUC_CERT_FILE ??= ""

do_bundle:prepend() {
    if [ -z "${RAUC_KEY_FILE}" ] || [ -z "${RAUC_CERT_FILE}" ]; then
        bbfatal "RAUC_KEY_FILE and RAUC_CERT_FILE must point at the bundle signing key and certificate (environment or local.conf; see yocto-layer/README.md)"
    fi
}
