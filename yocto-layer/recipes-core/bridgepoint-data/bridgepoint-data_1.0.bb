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
    file://bridgepoint-data-prepare.service \
    file://data-prepare \
    file://bridgepoint-identity.service \
    file://identity \
    file://bridgepoint-data-dirs.service \
    file://data.mount \
    file://etc-bridgepoint-bridgepoint.toml.mount \
    file://var-lib-bridgepoint.mount \
"

S = "${WORKDIR}"

inherit systemd features_check

REQUIRED_DISTRO_FEATURES = "systemd"

SYSTEMD_SERVICE:${PN} = "bridgepoint-data-prepare.service data.mount bridgepoint-data-dirs.service \
                         var-lib-bridgepoint.mount etc-bridgepoint-bridgepoint.toml.mount \
                         bridgepoint-identity.service"

# The data partition by number on the boot disk (wic/bridgepoint-ab.wks:
# p4), as RAUC's slots are in system.conf; never by label, which a USB
# stick could carry. The QEMU image takes a second virtio disk (runqemu
# ... qemuparams="-drive file=data.img,if=virtio,format=raw"), formatted
# on first boot.
DATA_DEVICE ?= "/dev/mmcblk0p4"
DATA_DEVICE:qemux86-64 = "/dev/vdb"
PACKAGE_ARCH = "${MACHINE_ARCH}"

SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${WORKDIR}/bridgepoint-data-prepare.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${WORKDIR}/bridgepoint-identity.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${WORKDIR}/data.mount ${D}${systemd_system_unitdir}/
    sed -i -e 's#@DATA_DEVICE@#${DATA_DEVICE}#g' \
        ${D}${systemd_system_unitdir}/data.mount \
        ${D}${systemd_system_unitdir}/bridgepoint-data-prepare.service
    install -d ${D}${libexecdir}/bridgepoint
    install -m 0755 ${WORKDIR}/data-prepare ${WORKDIR}/identity ${D}${libexecdir}/bridgepoint/
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
    ${libexecdir}/bridgepoint \
"

# data-prepare: blkid, e2fsck, mkfs.ext4 (-d), debugfs; identity: mount,
# hostname (busybox or util-linux).
RDEPENDS:${PN} = "e2fsprogs e2fsprogs-e2fsck e2fsprogs-mke2fs util-linux-blkid util-linux-mount"
