#!/bin/bash
# The checks scripts/device-test runs in its qemu guest, against the guest
# kernel's vivid, vim2m, v4l2loopback, snd-aloop and HDA drivers (see
# `scripts/device-test --help` for the nodes and the environment).
#
# Output: one "ok - WHAT" or "not ok - WHAT" line per check (the harness
# counts them); "# ..." lines are what the devices said. Exits non-zero if a
# check failed.
set -u

failed=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }
# check WHAT COMMAND...: ok if COMMAND (a program or a function below) succeeds.
check() {
    local what="$1"
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# show TITLE COMMAND...: the command's output as diagnostics.
show() {
    local title="$1"
    shift
    echo "# --- $title"
    "$@" 2>&1 | sed 's/^/#   /'
}

scratch="${DEVICE_TEST_SCRATCH:-/tmp}"
out="${DEVICE_TEST_OUT:-$scratch}"
vivid="${DEVICE_TEST_VIVID:-/dev/video2}"
vivid_meta="${DEVICE_TEST_VIVID_META:-/dev/video3}"
m2m="${DEVICE_TEST_M2M:-/dev/video0}"
mjpeg="${DEVICE_TEST_MJPEG:-/dev/video20}"
h264="${DEVICE_TEST_H264:-/dev/video21}"
alsa_capture="${DEVICE_TEST_ALSA_CAPTURE:-hw:CARD=Loopback,DEV=1}"
alsa_loop_playback="${DEVICE_TEST_ALSA_LOOP_PLAYBACK:-hw:CARD=Loopback,DEV=0}"

# ---- helpers --------------------------------------------------------------

# caps DEV: the node's own capabilities (Device Caps), one a line.
caps() { v4l2-ctl -d "$1" -D 2>/dev/null | sed -n '/Device Caps/,/^\t[^\t]/s/^\t\t//p'; }
has_cap() { caps "$1" | grep -qx "$2"; }
# rates DEV FOURCC W H: the frame rates the node offers for that mode, one a line.
rates() {
    v4l2-ctl -d "$1" --list-frameintervals "width=$3,height=$4,pixelformat=$2" 2>/dev/null |
        sed -n 's/.*(\([0-9.]*\) fps).*/\1/p'
}
devices_listed() {
    local list name
    list="$(v4l2-ctl --list-devices 2>/dev/null)"
    for name in "vivid (platform:vivid-000)" "vim2m (platform:vim2m)" "Loopback MJPEG webcam" "Loopback H264 webcam"; do
        grep -qF "$name" <<<"$list" || return 1
    done
}
# raw_camera DEV FOURCC W H: a capture node offering that mode at 3 rates or more.
raw_camera() { has_cap "$1" "Video Capture" && [ "$(rates "$@" | wc -l)" -ge 3 ]; }
not_a_camera() { has_cap "$1" "$2" && ! has_cap "$1" "Video Capture"; }
# only_mode DEV FOURCC W H FPS: a capture node offering exactly one format, size and rate.
only_mode() {
    local list
    list="$(v4l2-ctl -d "$1" --list-formats-ext 2>/dev/null)"
    has_cap "$1" "Video Capture" &&
        [ "$(grep -c "\[[0-9]*\]: '" <<<"$list")" -eq 1 ] && grep -q "\]: '$2'" <<<"$list" &&
        [ "$(grep -c "Size:" <<<"$list")" -eq 1 ] && grep -q "Size: Discrete $3x$4\$" <<<"$list" &&
        [ "$(grep -c "Interval:" <<<"$list")" -eq 1 ] && grep -q "($5.000 fps)" <<<"$list"
}
# grab DEV COUNT FILE [FORMAT]: COUNT buffers of the node into FILE.
grab() {
    local fmt=()
    [ -n "${4:-}" ] && fmt=("--set-fmt-video=$4")
    v4l2-ctl -d "$1" "${fmt[@]}" --stream-mmap --stream-count="$2" --stream-to="$3" >/dev/null 2>&1
}
# quietly COMMAND...: its output into $scratch/last.log (shown if it fails).
quietly() { "$@" >"$scratch/last.log" 2>&1 || { tail -n 20 "$scratch/last.log" | sed 's/^/#   /'; return 1; }; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
# rms_db FILE CHANNEL(1-based): the channel's RMS level in dB ("-inf" for silence).
rms_db() { sox "$1" -n remix "$2" stats 2>&1 | sed -n 's/^RMS lev dB *//p'; }
loud() { awk -v r="$1" 'BEGIN { exit !(r != "-inf" && r + 0 > -20) }'; }
silent() { awk -v r="$1" 'BEGIN { exit !(r == "-inf" || r + 0 < -80) }'; }

# ---- V4L2 -----------------------------------------------------------------
echo "# ==== V4L2 nodes"
show "v4l2-ctl --list-devices" v4l2-ctl --list-devices
for dev in /dev/video*; do
    echo "# $dev: $(v4l2-ctl -d "$dev" -D 2>/dev/null | sed -n 's/^\tCard type *: //p'): $(caps "$dev" | grep -v -e Streaming -e 'Extended Pix' -e 'Read/Write' | paste -sd, -)"
done
check "v4l2-ctl --list-devices names vivid, vim2m and both loopback webcams" devices_listed

# vivid: the raw camera (webcam input).
echo "# vivid $vivid formats: $(v4l2-ctl -d "$vivid" --list-formats 2>/dev/null | sed -n "s/.*\]: '\([^']*\)'.*/\1/p" | paste -sd' ' -)"
show "vivid $vivid: YUYV sizes" v4l2-ctl -d "$vivid" --list-framesizes YUYV
for size in 1280x720 640x480; do
    w="${size%x*}" h="${size#*x}"
    offered="$(rates "$vivid" YUYV "$w" "$h" | paste -sd' ' -)"
    check "vivid $vivid: a capture node offering YUYV $size at several rates ($offered fps)" raw_camera "$vivid" YUYV "$w" "$h"
done
check "vivid's second node $vivid_meta is Metadata Capture, not Video Capture (as a UVC webcam's)" \
    not_a_camera "$vivid_meta" "Metadata Capture"

# vim2m: a memory-to-memory node, not a camera.
show "vim2m $m2m: capture-queue formats" v4l2-ctl -d "$m2m" --list-formats-ext
show "vim2m $m2m: output-queue formats" v4l2-ctl -d "$m2m" --list-formats-out
check "vim2m $m2m is Video Memory-to-Memory, not Video Capture (discovery must skip it)" \
    not_a_camera "$m2m" "Video Memory-to-Memory"

# The loopback webcams, fed by tests/devices/v4l2-feed.py.
show "loopback $mjpeg: formats" v4l2-ctl -d "$mjpeg" --list-formats-ext
check "loopback $mjpeg: a capture node offering only MJPG 1280x720 at 30 fps" only_mode "$mjpeg" MJPG 1280 720 30
show "loopback $h264: formats" v4l2-ctl -d "$h264" --list-formats-ext
check "loopback $h264: a capture node offering only H264 1280x720 at 30 fps" only_mode "$h264" H264 1280 720 30

# Frames flow: a second of each loopback node, and 10 vivid frames, checked
# by an independent parser.
grab "$mjpeg" 30 "$scratch/mjpeg.raw"
jpegs="$(LC_ALL=C grep -aob $'\xff\xd8\xff' "$scratch/mjpeg.raw" 2>/dev/null | wc -l)"
check "30 MJPEG frames captured from $mjpeg ($(size_of "$scratch/mjpeg.raw") bytes, ${jpegs:-0} JPEG starts)" \
    test "${jpegs:-0}" -ge 30
# 60 buffers: one access unit each; those before the first IDR (up to 29:
# an IDR a second) do not decode.
grab "$h264" 60 "$scratch/h264.raw"
probed="$(ffprobe -v error -f h264 -count_frames -count_packets -select_streams v:0 \
    -show_entries stream=profile,width,height,nb_read_frames,nb_read_packets -of default=nw=1 \
    "$scratch/h264.raw" 2>/dev/null | paste -sd' ' -)"
h264_stream() {
    [[ "$probed" =~ ^profile=High\ width=1280\ height=720\ nb_read_frames=([0-9]+)\ nb_read_packets=60$ ]] &&
        [ "${BASH_REMATCH[1]}" -ge 30 ]
}
check "60 buffers captured from $h264 are 60 H.264 access units, High 1280x720, decodable from the first IDR ($probed)" \
    h264_stream
# The pass-through path's first elements on the H.264 webcam: h264parse
# fails on a buffer that claims more bytes than its frame has.
check "GStreamer: v4l2src ! h264parse takes 30 access units from $h264" \
    quietly timeout 60 gst-launch-1.0 -q v4l2src device="$h264" num-buffers=30 ! h264parse ! \
    video/x-h264,stream-format=avc,alignment=au ! fakesink
grab "$vivid" 10 "$scratch/vivid.raw" width=640,height=480,pixelformat=YUYV
check "10 YUYV 640x480 frames captured from vivid $vivid ($(size_of "$scratch/vivid.raw") bytes)" \
    test "$(size_of "$scratch/vivid.raw")" -eq $((10 * 640 * 480 * 2))

# ---- ALSA -----------------------------------------------------------------
echo "# ==== ALSA"
show "arecord -l" arecord -l
show "aplay -l" aplay -l
check "arecord -l lists the Loopback card's capture device 1" grep -q '^card [0-9]*: Loopback \[Loopback\], device 1' <<<"$(arecord -l 2>&1)"
check "the HDA card (Intel) is playback only: in aplay -l, not in arecord -l" \
    bash -c 'aplay -l | grep -q "^card [0-9]*: Intel" && ! arecord -l | grep -q "^card [0-9]*: Intel"'

# 6 channels through the loopback: a 1 kHz tone on channel index 3
# (0-based, as the ReSpeaker's ch0-ch5; sox's channel 4), silence on the
# other five, played to one side while arecord captures the other.
tone_channel=3
remix=""
for c in 0 1 2 3 4 5; do
    if [ "$c" -eq "$tone_channel" ]; then remix="$remix 1"; else remix="$remix 0"; fi
done
sox -n -r 48000 -b 16 -c 1 "$scratch/tone.wav" synth 3 sine 1000 vol 0.5
# shellcheck disable=SC2086
sox "$scratch/tone.wav" "$scratch/six.wav" remix $remix
arecord -q -D "$alsa_capture" -c 6 -r 48000 -f S16_LE -d 2 "$scratch/captured.wav" &
recorder=$!
sleep 0.5
aplay -q -D "$alsa_loop_playback" "$scratch/six.wav"
wait "$recorder"
levels="" tone_only=1
for c in 0 1 2 3 4 5; do
    rms="$(rms_db "$scratch/captured.wav" $((c + 1)))"
    levels="$levels ch$c=${rms:-?}"
    if [ "$c" -eq "$tone_channel" ]; then loud "$rms" || tone_only=""; else silent "$rms" || tone_only=""; fi
done
freq="$(sox "$scratch/captured.wav" -n remix $((tone_channel + 1)) stat 2>&1 | sed -n 's/^Rough *frequency: *//p')"
echo "# $alsa_loop_playback -> $alsa_capture, 6 channels, RMS dB:$levels; channel $tone_channel: ~${freq:-?} Hz"
check "6-channel capture from $alsa_capture: the 1 kHz tone on channel $tone_channel only" \
    test -n "$tone_only" -a "${freq:-0}" -gt 950 -a "${freq:-0}" -lt 1050
cp "$scratch/captured.wav" "$out/six-channels-captured.wav" 2>/dev/null

# ---- bridgepointd ---------------------------------------------------------
echo "# ==== bridgepointd"
# >>> The daemon's own discovery goes here (issue 9): `bridgepointd probe`
# >>> and `probe --json` against these nodes and cards: vivid and both
# >>> loopback webcams found with their modes, vim2m and vivid's metadata
# >>> node skipped, the Loopback capture device chosen over the
# >>> playback-only Intel card, `audio.channel` on the 6-channel input, a
# >>> short low-resolution capture.
bridgepointd="${BRIDGEPOINT_TARGET_DIR:-/work/main/target}/debug/bridgepointd"
if [ -x "$bridgepointd" ]; then
    started="$EPOCHREALTIME"
    check "bridgepointd starts in the guest ($bridgepointd --help)" quietly "$bridgepointd" --help
    echo "# bridgepointd --help took $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s (the first start reads its libraries over 9p)"
else
    echo "ok - bridgepointd starts in the guest # SKIP not built: $bridgepointd"
fi
# <<< end of the daemon's checks

[ "$failed" -eq 0 ]
