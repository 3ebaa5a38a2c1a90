# Bridgepoint changes to meta-rauc's rauc recipe (the configuration itself
# is in rauc-conf.bbappend). Active with the bridgepoint distro only.
#
# Only bridgepointd's health gate marks a booted slot good (rauc status
# mark-good once the daemon is healthy, mark-bad and a reboot if it is not;
# see docs/updates.md). meta-rauc's rauc-mark-good.service would mark every
# slot good as soon as boot-complete.target is reached, healthy or not, so
# it must not be in the image. meta-rauc ships it in its own package,
# ${PN}-mark-good, which rauc only pulls in through
# RRECOMMENDS:${PN} (rauc-target.inc); removing that recommendation keeps
# the package out. bridgepoint-image also lists rauc-mark-good in
# PACKAGE_EXCLUDE, so anything else that would install it fails the image
# build. scripts/check-yocto fails if any recipe or unit of this layer
# would mark a slot good.
RRECOMMENDS:${PN}:remove:bridgepoint = "${PN}-mark-good"
