SUMMARY = "Bench access to a Bridgepoint box: root's SSH key, key-only sshd"
DESCRIPTION = "For the bench variant of the image (kas/rpi4-bench.yml) only: \
               installs BRIDGEPOINT_BENCH_SSH_KEY as root's authorized key \
               and makes dropbear refuse password logins. The product image \
               never installs it."
HOMEPAGE = "https://git.example.invalid/bridgepoint"
SECTION = "base"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

SRC_URI = "file://dropbear-key-only.conf"

S = "${WORKDIR}"

# The key is the builder's, from the environment (kas forwards it).
BRIDGEPOINT_BENCH_SSH_KEY ??= ""

do_install() {
    if [ -z "${BRIDGEPOINT_BENCH_SSH_KEY}" ]; then
        bbfatal "BRIDGEPOINT_BENCH_SSH_KEY is not set: the bench image needs root's public SSH key (one authorized_keys line)"
    fi
    install -d -m 0700 ${D}${ROOT_HOME}/.ssh
    echo "${BRIDGEPOINT_BENCH_SSH_KEY}" > ${D}${ROOT_HOME}/.ssh/authorized_keys
    chmod 0600 ${D}${ROOT_HOME}/.ssh/authorized_keys
    install -d ${D}${systemd_system_unitdir}/dropbear@.service.d
    install -m 0644 ${WORKDIR}/dropbear-key-only.conf ${D}${systemd_system_unitdir}/dropbear@.service.d/
}

FILES:${PN} += "\
    ${ROOT_HOME}/.ssh \
    ${systemd_system_unitdir}/dropbear@.service.d \
"
RDEPENDS:${PN} = "dropbear"
