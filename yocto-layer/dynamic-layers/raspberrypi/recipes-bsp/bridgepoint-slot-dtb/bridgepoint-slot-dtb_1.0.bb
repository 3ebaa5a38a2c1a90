SUMMARY = "The kernel's device trees and overlays inside the root file system slot"
DESCRIPTION = "Installs the device trees (.dtb) and overlays (.dtbo) the \
               kernel recipe deploys into /boot/dtb of the root file \
               system, with /boot/dtb/bridgepoint-dt.env naming the \
               overlays to apply. boot.scr loads them from the slot it \
               boots, so a RAUC bundle updates kernel, modules, device \
               tree and overlays together."
HOMEPAGE = "https://git.example.invalid/bridgepoint"
SECTION = "kernel"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# Everything comes from the kernel's deploy output: nothing to fetch.
SRC_URI = ""

COMPATIBLE_MACHINE = "^rpi$"
PACKAGE_ARCH = "${MACHINE_ARCH}"

# U-Boot names the board's device tree in ${fdtfile} with this directory
# (board/raspberrypi/rpi/rpi.c: "broadcom/" on 64-bit), so boot.scr loads
# boot/dtb/${fdtfile}: the right tree for a Pi 4 B, a Pi 400 or a CM4.
BRIDGEPOINT_DTB_DIR ?= "broadcom/"
# The overlays boot.scr applies, in order: what meta-raspberrypi's
# rpi-config writes as dtoverlay= lines into config.txt for this machine
# (the KMS display driver where the machine has vc4graphics). config.txt's
# dtparam= lines are the firmware's and are not carried over.
BRIDGEPOINT_DT_OVERLAYS ?= "${@bb.utils.contains('MACHINE_FEATURES', 'vc4graphics', d.getVar('VC4DTBO') or '', '', d)}"

# The deploy directory holds each KERNEL_DEVICETREE entry by its base name
# (as meta-raspberrypi's make_dtb_boot_files expects).
do_install[depends] += "virtual/kernel:do_deploy"

do_install() {
    install -d ${D}/boot/dtb/${BRIDGEPOINT_DTB_DIR} ${D}/boot/dtb/overlays
    for entry in ${KERNEL_DEVICETREE}; do
        base=$(basename "$entry")
        case "$base" in
            *.dtbo) install -m 0644 ${DEPLOY_DIR_IMAGE}/$base ${D}/boot/dtb/overlays/$base ;;
            *.dtb) install -m 0644 ${DEPLOY_DIR_IMAGE}/$base ${D}/boot/dtb/${BRIDGEPOINT_DTB_DIR}$base ;;
            *) bbfatal "KERNEL_DEVICETREE entry $entry is neither a .dtb nor a .dtbo" ;;
        esac
    done
    for overlay in ${BRIDGEPOINT_DT_OVERLAYS}; do
        [ -f ${D}/boot/dtb/overlays/$overlay.dtbo ] ||
            bbfatal "BRIDGEPOINT_DT_OVERLAYS names $overlay, which KERNEL_DEVICETREE does not build"
    done
    # Read by boot.scr with `env import -t`: one name=value per line.
    printf 'bp_overlays=%s\n' "${BRIDGEPOINT_DT_OVERLAYS}" >${D}/boot/dtb/bridgepoint-dt.env
    chmod 0644 ${D}/boot/dtb/bridgepoint-dt.env
}

FILES:${PN} += "/boot/dtb"
