# shellcheck shell=bash
# Shared by the scripts: install what is missing, skip what is there.
#
#   ensure_apt PKG...   apt-get install only the packages not installed yet
#   ensure_rust         fail with a clear message if cargo is missing
#   step MESSAGE        print a progress line

step() { printf '\n==> %s\n' "$*"; }

_apt_updated=""
ensure_apt() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
        exit 1
    fi
    echo "installing Debian packages: ${missing[*]}"
    # Another apt (a second script, unattended upgrades) may hold dpkg's
    # lock: wait for it instead of failing.
    local wait_lock=(-o DPkg::Lock::Timeout=600)
    if [ -z "$_apt_updated" ]; then
        apt-get "${wait_lock[@]}" update -qq
        _apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get "${wait_lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        for dir in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
            if [ -x "$dir/cargo" ]; then
                export PATH="$dir:$PATH"
                return 0
            fi
        done
        echo "error: cargo not found; install Rust with rustup first (https://rustup.rs)" >&2
        exit 1
    fi
}

# What the daemon and its tests need at build and run time.
MEDIA_PACKAGES=(
    pkg-config
    libgstreamer1.0-dev
    libgstreamer-plugins-base1.0-dev
    libgstreamer-plugins-bad1.0-dev
    gstreamer1.0-tools
    gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad
    gstreamer1.0-plugins-ugly
    gstreamer1.0-alsa
    gstreamer1.0-libav
    gstreamer1.0-x
    fonts-dejavu-core
    ffmpeg
)

# The system tests' room and network: the echo test's room (a PulseAudio
# server of its own, reached through ALSA's pulse plugin; speech made with
# espeak-ng, converted with sox) and the no-route test's network namespace.
ROOM_PACKAGES=(
    pulseaudio
    pulseaudio-utils
    libasound2-plugins
    espeak-ng
    sox
    iproute2
    util-linux
)

# The control plane's tests: a real broker and its clients (certificates are made with rcgen).
BROKER_PACKAGES=(
    mosquitto
    mosquitto-clients
    procps
)
