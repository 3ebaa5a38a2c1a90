"""The two-way media benchmarks of scripts/bench: what the box adds to the
hub's return stream, and what the two-way daemon costs against a bare
gst-launch-1.0 pipeline with the same elements.

Usage:
  two_way_bench.py latency --bin BRIDGEPOINTD --seconds N --work DIR
  two_way_bench.py cpu     --bin BRIDGEPOINTD --seconds N --work DIR

The hub is a stock gst-launch-1.0, as in tests/support/hub_sender.rs and
docs/configuration.md ("What comes back"): a moving test picture 640x360 at
25 fps (x264 zerolatency, H.264 PT 96) and a 440 Hz tone (Opus, PT 111),
each through srtpenc with the box's receive key. The box runs the
benchmarks' config (720p30 x264 test picture and a tone to the hub, as
bridgepoint-bench media) with a receive key, fixed local ports and fake
display and speaker sinks ([display] sink = "fake", [speaker] sink =
"fake"), session.mode = "always".

latency: the daemon runs under GStreamer's latency tracer
(GST_TRACERS="latency(flags=pipeline+element)", GST_DEBUG="GST_TRACER:7")
with basesink's debug log in the same file. For each `latency` record from
the box's udpsrc (video-rtp-source / audio-rtp-source) to its display
(video-return-display-*) or speaker (speaker-sink) the tracer gives the time
from the udpsrc pushing a packet to the sink receiving the buffer it became.
A sink that plays in time (sync) then waits for the clock; basesink logs
"clock returned" when that wait ends and the buffer is rendered, so
"played" = that line's time minus the packet's time at the udpsrc (both on
GStreamer's monotonic clock since start).

cpu: the daemon and the bare pipeline run side by side, fed by one hub
(multiudpsink: the very same SRTP packets to both); every second the
helper reads utime+stime (/proc/PID/stat) and VmRSS (/proc/PID/status) of
each and prints the medians and their ratio. GStreamer's `factories`
tracer (one record per element created, at creation only) runs in both
processes, and the element factories only one of them used are printed
(1.22's tracer misses a few, compositor among them), so
that the bare pipeline visibly stops mirroring the daemon when
firmware/src/media changes.

Standard library only. Prints figures; passes or fails nothing (exit 1 only
when a figure could not be taken at all).
"""

import argparse
import base64
import json
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

# The box's own key and the hub's (receive) key: 30 bytes each, different.
KEY = bytes(range(30))
RECEIVE_KEY = bytes(range(100, 130))
HUB_FPS = 25
HUB_SIZE = (640, 360)
# Fixed SSRCs of the hub's two streams: the bare pipeline's srtpdec takes its
# key from caps, which must name the SSRC.
HUB_VIDEO_SSRC = 1_111_111_111
HUB_AUDIO_SSRC = 2_222_222_222
LATENCY_MS = 100
# The start of each return stream left out of the latency figures.
WARM_UP_NS = 1_000_000_000
SRTP = "rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-80 rtcp-cipher=aes-128-icm rtcp-auth=hmac-sha1-80"


def screen_constants(repo):
    """The room's screen's size and rates, read from firmware/src/media/
    screen.rs (the binary is built from it), so that the bare pipeline
    follows them; the values of the first screen where it cannot be read."""
    values = {"SCREEN_WIDTH": 1280, "SCREEN_HEIGHT": 720, "SCREEN_FPS": 25, "NO_SCREEN_FPS": 25,
              "SELF_VIEW_WIDTH": 320, "SELF_VIEW_HEIGHT": 180}
    try:
        text = (Path(repo) / "firmware/src/media/screen.rs").read_text()
    except OSError:
        return values
    for name in values:
        m = re.search(r"pub const %s: i32 = (\d+);" % name, text)
        if m:
            values[name] = int(m.group(1))
    if "NO_SCREEN_FPS" not in text:
        values["NO_SCREEN_FPS"] = values["SCREEN_FPS"]
    return values


SCREEN = screen_constants(Path(__file__).resolve().parents[2])


def hexkey(key):
    return key.hex()


def b64(key):
    return base64.b64encode(key).decode()


def percentile(sorted_values, p):
    """The p-th percentile (0-100) of sorted values, by the nearest rank
    (firmware/src/media/latency.rs's rule)."""
    if not sorted_values:
        return float("nan")
    rank = round(p / 100.0 * (len(sorted_values) - 1))
    return sorted_values[min(rank, len(sorted_values) - 1)]


def summary_ms(values):
    v = sorted(values)
    return "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (percentile(v, 50), percentile(v, 99), v[-1])


# ---------------------------------------------------------------- ports


def free_block(count):
    """Binds `count` consecutive free UDP ports on 127.0.0.1 (the first one
    even) and returns the bound sockets."""
    for _ in range(200):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1] & ~1
        probe.close()
        if not 1024 <= base <= 65535 - count:
            continue
        sockets = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(s)
                s.bind(("127.0.0.1", base + i))
            return sockets
        except OSError:
            for s in sockets:
                s.close()
    sys.exit("error: no %d consecutive free UDP ports on 127.0.0.1" % count)


def drain(sockets):
    """Receives and drops whatever arrives: the hub's receiving ports."""
    for s in sockets:
        def loop(s=s):
            try:
                while True:
                    s.recv(65536)
            except OSError:
                pass
        threading.Thread(target=loop, daemon=True).start()


def udp_bound(port):
    needle = ":%04X " % port
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                if any(needle in line for line in f):
                    return True
        except OSError:
            pass
    return False


def wait_bound(ports, proc, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("error: %s exited (%s) before it opened its ports %s" % (what, proc.returncode, ports))
        if all(udp_bound(p) for p in ports):
            return
        time.sleep(0.1)
    sys.exit("error: %s did not open its ports %s within %d s" % (what, ports, timeout))


# ---------------------------------------------------------------- processes


def config_text(data_dir, hub_video, hub_audio, local_video, local_audio):
    """The benchmarks' box (bridgepoint-bench media's config) with the
    return path: a receive key, its own ports, fake display and speaker."""
    return f'''device_id = "bench-box"
data_dir = "{data_dir}"
board = "sim"
[hub]
host = "127.0.0.1"
video_port = {hub_video}
audio_port = {hub_audio}
local_video_port = {local_video}
local_audio_port = {local_audio}
[srtp]
key = "{b64(KEY)}"
receive_key = "{b64(RECEIVE_KEY)}"
[video]
source = "test"
encoder = "x264"
width = 1280
height = 720
fps = 30
bitrate_kbps = 2000
keyframe_interval_s = 2
[audio]
source = "test"
bitrate_kbps = 32
[session]
mode = "always"
[return]
latency_ms = {LATENCY_MS}
[display]
sink = "fake"
[speaker]
sink = "fake"
'''


def hub_description(video_clients, audio_clients, video_frames=None, audio_buffers=None):
    """The hub's sender: gst-launch-1.0 arguments. Clients are (host, port)
    lists; every client gets the very same SRTP packets."""
    key = hexkey(RECEIVE_KEY)
    w, h = HUB_SIZE
    vn = "" if video_frames is None else " num-buffers=%d" % video_frames
    an = "" if audio_buffers is None else " num-buffers=%d" % audio_buffers
    vc = ",".join("%s:%d" % c for c in video_clients)
    ac = ",".join("%s:%d" % c for c in audio_clients)
    return (
        f"videotestsrc is-live=true pattern=ball{vn} ! video/x-raw,width={w},height={h},framerate={HUB_FPS}/1 "
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={HUB_FPS} "
        f"! rtph264pay pt=96 config-interval=-1 ssrc={HUB_VIDEO_SSRC} ! srtpenc key={key} "
        f"! multiudpsink clients={vc} sync=false async=false "
        f"audiotestsrc is-live=true freq=440 samplesperbuffer=960{an} ! audioconvert ! audioresample "
        f"! opusenc ! rtpopuspay pt=111 ssrc={HUB_AUDIO_SSRC} ! srtpenc key={key} "
        f"! multiudpsink clients={ac} sync=false async=false"
    ).split()


def bare_description(hub_video, hub_audio, local_video, local_audio, screen=False, self_view=False):
    """What firmware/src/media/pipeline.rs and return_path.rs build for the
    config above, as gst-launch-1.0 arguments: the sending pipeline of
    bridgepoint-bench media's bare pipeline, plus the receive side (the
    box's own ports, srtpdec with the receive key, rtpbin's jitter buffer,
    per sender a depayloader, decoder and sink; the speaker chain's funnel
    and echo probe).

    screen: the daemon also runs the room's screen (firmware/src/media/
    screen.rs): a card (solid colour, three text overlays and the clock) and
    central's picture (an intervideosink/intervideosrc pair instead of the
    display's fake sink) mixed by a compositor at 1280x720@25 into a fake
    sink; self_view: the camera is also teed, rate-limited to 10 fps and
    scaled to 320x180, to the screen. Both are in this one gst-launch
    pipeline (the daemon runs the screen as a second pipeline)."""
    key = hexkey(KEY)
    rkey = hexkey(RECEIVE_KEY)

    def udp(port):
        return f"udpsink host=127.0.0.1 port={port} sync=false async=false"

    def srtp_caps(media, rate, name, pt, ssrc):
        return (
            f"caps=application/x-srtp,media=(string){media},clock-rate=(int){rate},"
            f"encoding-name=(string){name},payload=(int){pt},ssrc=(uint){ssrc},"
            f"srtp-key=(buffer){rkey},srtp-cipher=(string)aes-128-icm,srtp-auth=(string)hmac-sha1-80,"
            f"srtcp-cipher=(string)aes-128-icm,srtcp-auth=(string)hmac-sha1-80"
        )

    # The screen's queues before its mixer (screen.rs: mixer_queue).
    mixer_queue = "queue max-size-buffers=3 max-size-bytes=0 max-size-time=0 leaky=downstream"
    display = (
        "intervideosink channel=bench-central sync=true async=false" if screen
        else "fakesink sync=true async=false")
    tee = "! tee name=video-tee " if self_view else ""
    parts = [
        # With a receive key: the SAVPF profile (keyframe requests as RTCP
        # PLI) and the hub's capture time on every packet (lip sync).
        f"rtpbin name=r latency={LATENCY_MS} do-lost=true rtcp-sync-send-time=false ntp-time-source=clock-time "
        "rtp-profile=savpf add-reference-timestamp-meta=true",
        f"srtpenc name=vs key={key} {SRTP} srtpenc name=as key={key} {SRTP}",
        # The box's video, as bridgepoint-bench media's bare pipeline.
        "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
        f"! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 {tee}"
        "! queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 bitrate=2000 "
        "! video/x-h264,stream-format=byte-stream,alignment=au,profile=constrained-baseline "
        "! h264parse config-interval=-1 ! rtph264pay pt=96 config-interval=0 aggregate-mode=zero-latency "
        "! r.send_rtp_sink_0",
        f"r.send_rtp_src_0 ! vs.rtp_sink_0 vs.rtp_src_0 ! {udp(hub_video)}",
        f"r.send_rtcp_src_0 ! vs.rtcp_sink_0 vs.rtcp_src_0 ! {udp(hub_video + 1)}",
        # The box's audio.
        "audiotestsrc is-live=true volume=0.2 samplesperbuffer=960 ! audioconvert ! audioresample "
        "! audio/x-raw,format=S16LE,rate=48000,channels=1 "
        "! queue max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 "
        "! opusenc bitrate=32000 audio-type=voice ! rtpopuspay pt=111 "
        "! r.send_rtp_sink_1",
        f"r.send_rtp_src_1 ! as.rtp_sink_0 as.rtp_src_0 ! {udp(hub_audio)}",
        f"r.send_rtcp_src_1 ! as.rtcp_sink_0 as.rtcp_src_0 ! {udp(hub_audio + 1)}",
        # What the hub sends back: one srtpdec per session (RTP and RTCP).
        f"udpsrc name=video-rtp-source port={local_video} reuse=false "
        f"{srtp_caps('video', 90000, 'H264', 96, HUB_VIDEO_SSRC)} "
        "! vd.rtp_sink srtpdec name=vd vd.rtp_src ! r.recv_rtp_sink_0",
        f"udpsrc port={local_video + 1} reuse=false caps=application/x-srtcp "
        "! vd.rtcp_sink vd.rtcp_src ! r.recv_rtcp_sink_0",
        f"udpsrc name=audio-rtp-source port={local_audio} reuse=false "
        f"{srtp_caps('audio', 48000, 'OPUS', 111, HUB_AUDIO_SSRC)} "
        "! ad.rtp_sink srtpdec name=ad ad.rtp_src ! r.recv_rtp_sink_1",
        f"udpsrc port={local_audio + 1} reuse=false caps=application/x-srtcp "
        "! ad.rtcp_sink ad.rtcp_src ! r.recv_rtcp_sink_1",
        # The speaker chain, built before the hub's audio arrives.
        "funnel name=speaker-input ! webrtcechoprobe name=speaker-echo-probe "
        "! fakesink name=speaker-sink sync=true async=false",
    ]
    if self_view:
        parts.append(
            "video-tee. ! queue max-size-buffers=1 max-size-bytes=0 max-size-time=0 leaky=downstream "
            "! videorate drop-only=true max-rate=10 ! videoscale ! videoconvert "
            f"! video/x-raw,width={SCREEN['SELF_VIEW_WIDTH']},height={SCREEN['SELF_VIEW_HEIGHT']} "
            "! intervideosink channel=bench-self-view sync=false async=false")
    if screen:
        # The bench's box has no display ([display] sink = "fake"): the
        # screen runs at NO_SCREEN_FPS.
        w, h, fps = SCREEN["SCREEN_WIDTH"], SCREEN["SCREEN_HEIGHT"], SCREEN["NO_SCREEN_FPS"]
        sw, sh = SCREEN["SELF_VIEW_WIDTH"], SCREEN["SELF_VIEW_HEIGHT"]

        def scale(points):
            return max(points * h // 720, 6)

        def text(size, ypad, words):
            return (f'textoverlay font-desc="DejaVu Sans {scale(size)}" valignment=top halignment=center '
                    f"wrap-mode=wordchar ypad={ypad} shaded-background=false draw-shadow=false silent=false "
                    f'auto-resize=false text="{words}"')
        parts += [
            f"compositor name=screen-mixer background=black sink_0::zorder=0 sink_1::zorder=1 "
            f"sink_1::width={w} sink_1::height={h} sink_1::alpha=1 "
            f"sink_2::zorder=2 sink_2::width={sw} sink_2::height={sh} sink_2::xpos={w - sw - 24} "
            f"sink_2::ypos={h - sh - 24} sink_2::alpha=1 "
            f"! video/x-raw,width={w},height={h},framerate={fps}/1 ! videoconvert "
            "! fakesink name=screen-sink sync=true",
            "videotestsrc is-live=true pattern=solid-color foreground-color=0xff0b5d2a "
            f"! video/x-raw,format=BGRx,width={w},height={h},framerate={fps}/1 "
            f"! {text(28, h // 10, 'bench-box')} ! {text(48, h * 30 // 100, 'Đang phát')} "
            f"! {text(28, h * 56 // 100, 'Trung ương đang nghe và thấy phòng tiếp dân')} "
            f'! clockoverlay font-desc="DejaVu Sans {scale(24)}" auto-resize=false '
            f'time-format="%H:%M   %d/%m/%Y" valignment=bottom halignment=center ypad={h // 14} '
            "shaded-background=false "
            f"! {mixer_queue} ! screen-mixer.sink_0",
            f"intervideosrc channel=bench-central ! videoconvert ! {mixer_queue} ! screen-mixer.sink_1",
            f"intervideosrc channel=bench-self-view ! videoconvert ! {mixer_queue} ! screen-mixer.sink_2",
        ]
    # Per sender, linked when rtpbin adds its pad (named by session, SSRC
    # and payload type: linking by caps alone raced between the two pads).
    parts += [
        f"r.recv_rtp_src_0_{HUB_VIDEO_SSRC}_96 ! rtph264depay request-keyframe=true wait-for-keyframe=true "
        f"! avdec_h264 name=video-return-decoder ! {display}",
        f"r.recv_rtp_src_1_{HUB_AUDIO_SSRC}_111 ! rtpopusdepay ! opusdec plc=true name=audio-return-decoder "
        "! audioconvert ! audioresample "
        "! audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved ! speaker-input.",
    ]
    return shlex.split(" ".join(parts))


def spawn(argv, log_path, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    log = open(log_path, "wb")
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)


def stop(proc, timeout=10.0):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def interrupt(proc, timeout=10.0):
    """gst-launch-1.0 ends on SIGINT (EOS is not needed here)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def board_state(data_dir):
    """The simulated board's `state` answer, as JSON (None if it fails)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(Path(data_dir) / "board.sock"))
            s.sendall(b"state\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return json.loads(data.decode())
    except (OSError, ValueError):
        return None


def wait_streaming(data_dir, proc, timeout=30.0):
    """Waits until the box's pipeline runs (its `state` says streaming)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("error: bridgepointd exited (%s)" % proc.returncode)
        state = board_state(data_dir)
        if state and state.get("stream") == "streaming":
            return
        time.sleep(0.2)
    sys.exit("error: the box did not stream within %d s" % timeout)


def played_text(state):
    r = (state or {}).get("return") or {}
    if not r:
        return "state unavailable"
    return "%s frames, %.2f s of audio, %s packets lost" % (
        r.get("video_frames"), (r.get("audio_ms") or 0) / 1000.0, r.get("lost_packets"))


def gst_env(log_file, debug):
    return {"GST_DEBUG": debug, "GST_DEBUG_FILE": str(log_file), "GST_DEBUG_NO_COLOR": "1"}


# ---------------------------------------------------------------- latency

TIME_RE = re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d{9}) ")
LATENCY_RE = re.compile(
    r" latency, .*?src-element=\(string\)([^,]+), src=\(string\)[^,]+, .*?"
    r"sink-element=\(string\)([^,]+), sink=\(string\)[^,]+, time=\(guint64\)(\d+), ts=\(guint64\)(\d+)"
)
# Older GStreamer: src=(string)ELEMENT_PAD, sink=(string)ELEMENT_PAD.
LATENCY_OLD_RE = re.compile(r" latency, src=\(string\)([^,]+), sink=\(string\)([^,]+), time=\(guint64\)(\d+), ts=\(guint64\)(\d+)")
ELEMENT_RE = re.compile(r" element-latency, .*?element=\(string\)([^,]+), src=\(string\)([^,]+), time=\(guint64\)(\d+)")
SYNC_RE = re.compile(r"gst_base_sink_do_sync:<([^>]+)> clock returned")
TIMES_RE = re.compile(r"gst_base_sink_get_sync_times:<screen-sink> got times start: (\d+):(\d\d):(\d\d)\.(\d{9}), "
                      r"stop: (\d+):(\d\d):(\d\d)\.(\d{9})")
LATENCY_SET_RE = re.compile(r"gst_base_sink_send_event:<([^>]+)> latency set to (\d+):(\d\d):(\d\d)\.(\d{9})")


def line_time(line):
    m = TIME_RE.match(line)
    if not m:
        return None
    h, mi, s, ns = (int(x) for x in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1_000_000_000 + ns


def kind_of(sink):
    if sink.startswith("video-return-display"):
        return "video"
    if sink.startswith("speaker-sink"):
        return "audio"
    return None


def parse_trace(path):
    """The return path's figures from one GST_DEBUG_FILE: per kind, the
    tracer's udpsrc→sink times and the udpsrc→played times (ms), the
    sinks' configured latency, and the return path's element latencies."""
    tracer = {"video": [], "audio": []}
    played = {"video": [], "audio": []}
    pending = {}
    sink_latency = {}
    first = {}
    skipped = {"video": 0, "audio": 0}
    sinks = set()
    elements = {}
    return_element = re.compile(r"^(video-return-|audio-return-|video-srtp-dec|audio-srtp-dec|rtpjitterbuffer|speaker-)")
    with open(path, errors="replace") as f:
        for line in f:
            if " latency, " in line:
                m = LATENCY_RE.search(line)
                if m:
                    src, sink, t, ts = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
                else:
                    m = LATENCY_OLD_RE.search(line)
                    if not m:
                        continue
                    src, sink = m.group(1).rsplit("_", 1)[0], m.group(2).rsplit("_", 1)[0]
                    t, ts = int(m.group(3)), int(m.group(4))
                kind = kind_of(sink)
                if kind is None or src != "%s-rtp-source" % kind:
                    continue
                sinks.add(sink)
                # The first second of each stream is its start (the
                # decoder's first picture, the chain being built): left out.
                first.setdefault(kind, ts)
                if ts - first[kind] < WARM_UP_NS:
                    skipped[kind] += 1
                    pending.pop(sink, None)
                    continue
                tracer[kind].append(t / 1e6)
                pending[sink] = (kind, ts - t)
            elif "clock returned" in line:
                m = SYNC_RE.search(line)
                if m and m.group(1) in pending:
                    kind, src_ts = pending.pop(m.group(1))
                    at = line_time(line)
                    if at is not None:
                        played[kind].append((at - src_ts) / 1e6)
            elif " element-latency, " in line:
                m = ELEMENT_RE.search(line)
                if m and return_element.match(m.group(1)):
                    name = re.sub(r"-\d{4,}$", "", m.group(1))
                    elements.setdefault(name, []).append(int(m.group(3)) / 1e6)
            elif "screen-sink> got times" in line and "screen_frame" not in sink_latency:
                m = TIMES_RE.search(line)
                if m:
                    v = [int(x) for x in m.groups()]
                    start = ((v[0] * 60 + v[1]) * 60 + v[2]) * 1e9 + v[3]
                    stop = ((v[4] * 60 + v[5]) * 60 + v[6]) * 1e9 + v[7]
                    if stop > start:
                        sink_latency["screen_frame"] = (stop - start) / 1e6
            elif "latency set to" in line:
                m = LATENCY_SET_RE.search(line)
                if m:
                    h, mi, s, ns = (int(x) for x in m.groups()[1:])
                    sink_latency[m.group(1)] = (((h * 60 + mi) * 60 + s) * 1e9 + ns) / 1e6
    # Which jitter buffer is which session's: the one that passed as many
    # buffers as that session's srtpdec.
    for kind in ("video", "audio"):
        count = len(elements.get("%s-srtp-dec" % kind, []))
        for name in [n for n in elements if n.startswith("rtpjitterbuffer")]:
            if count and len(elements[name]) == count:
                elements["%s (%s)" % (name, kind)] = elements.pop(name)
    return tracer, played, sink_latency, sinks, elements, skipped


def run_latency(args):
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "latency-data"
    data.mkdir(exist_ok=True)
    sockets = free_block(8)
    hub_video, hub_audio = sockets[0].getsockname()[1], sockets[2].getsockname()[1]
    local_video, local_audio = sockets[4].getsockname()[1], sockets[6].getsockname()[1]
    drain(sockets[:4])
    for s in sockets[4:]:
        s.close()
    config = work / "latency.toml"
    config.write_text(config_text(data, hub_video, hub_audio, local_video, local_audio))
    trace = work / "latency-gst.log"
    env = gst_env(trace, "GST_TRACER:7,basesink:5")
    env.update({"GST_TRACERS": "latency(flags=pipeline+element)", "RUST_LOG": "warn", "NO_COLOR": "1"})
    daemon = spawn([args.bin, "--config", str(config)], work / "latency-daemon.log", env)
    hub = None
    try:
        wait_bound([local_video, local_audio], daemon, "bridgepointd")
        wait_streaming(data, daemon)
        frames, buffers = args.seconds * HUB_FPS, args.seconds * 50
        hub = spawn(["gst-launch-1.0", "-q"] + hub_description(
            [("127.0.0.1", local_video)], [("127.0.0.1", local_audio)], frames, buffers),
            work / "latency-hub.log")
        try:
            hub.wait(args.seconds + 30)
        except subprocess.TimeoutExpired:
            interrupt(hub)
        time.sleep(1.0)
        state = board_state(data)
    finally:
        if hub is not None:
            interrupt(hub)
        stop(daemon)
    tracer, played, sink_latency, sinks, elements, skipped = parse_trace(trace)
    target = LATENCY_MS + 20
    w, h = HUB_SIZE
    print(f"the hub sent {args.seconds} s: {w}x{h}@{HUB_FPS} H.264 ({frames} frames) and Opus ({buffers} x 20 ms), "
          f"SRTP, gst-launch-1.0; [return] latency_ms = {LATENCY_MS}")
    print("the box played: %s (simulated board's state)" % played_text(state))
    print("left out: the first second of each stream (%d frames, %d audio buffers: the chains' start)" % (
        skipped["video"], skipped["audio"]))
    if not tracer["video"] and not tracer["audio"]:
        print("error: no latency record from the box's udpsrc to its display or speaker sink "
              "(is the latency tracer installed? see %s)" % trace)
        sys.exit(1)
    # With the room's screen (firmware/src/media/screen.rs), the display
    # sink only hands the picture to the screen's own pipeline, which takes
    # the latest picture at each of its frames (25 fps) and shows it after
    # its own latency: estimated from that sink's latency, not traced (the
    # tracer does not follow a picture across pipelines).
    screen = None
    if "screen-sink" in sink_latency and any(k.startswith("video-return-display") for k in sinks):
        screen = sink_latency["screen-sink"]
    frame = sink_latency.pop("screen_frame", 1000.0 / SCREEN["SCREEN_FPS"])
    shown = {}
    for kind, sink in (("video", "display sink (video-return-display-*)"), ("audio", "speaker (speaker-sink)")):
        n = "frames" if kind == "video" else "buffers"
        if tracer[kind]:
            print(f"return {kind}: udpsrc → {sink}, latency tracer: {len(tracer[kind])} {n}, {summary_ms(tracer[kind])}")
        else:
            print(f"return {kind}: udpsrc → {sink}, latency tracer: no record")
        if not played[kind]:
            continue
        p = sorted(played[kind])
        what = "played" if kind == "audio" else ("handed to the screen" if screen is not None else "shown")
        line = f"return {kind}: udpsrc → {what} (after the sink's clock wait): {len(p)} {n}, {summary_ms(p)}"
        if kind == "video" and screen is not None:
            print(line)
            lo50, lo99 = percentile(p, 50) + screen, percentile(p, 99) + screen
            shown[kind] = lo50 + frame / 2
            verdict = "met" if lo99 + frame <= target else ("NOT met" if lo99 > target else "met or not (the estimate spans the target)")
            print(f"return video: udpsrc → shown on the screen (estimated: + the screen's latency {screen:.0f} ms "
                  f"+ 0 to {frame:.0f} ms until its next frame, {1000 / frame:.0f} fps here): p50 {lo50:.0f} to "
                  f"{lo50 + frame:.0f} ms, p99 {lo99:.0f} to {lo99 + frame:.0f} ms; "
                  f"target p99 ≤ {target} ms (latency_ms + 20): {verdict}")
        else:
            shown[kind] = statistics.median(p)
            verdict = "met" if percentile(p, 99) <= target else "NOT met"
            print(f"{line}; target p99 ≤ {target} ms (latency_ms + 20): {verdict}")
    if screen is not None and abs(frame - 1000.0 / SCREEN["SCREEN_FPS"]) > 1:
        print("note: this box has no display ([display] sink = \"fake\"), so its screen runs at %.0f fps instead of "
              "a real screen's %d (firmware/src/media/screen.rs): the screen's figures here are not a real screen's"
              % (1000 / frame, SCREEN["SCREEN_FPS"]))
    if "video" in shown and "audio" in shown:
        offset = shown["audio"] - shown["video"]
        print("lip sync: the hub's sound plays %.0f ms %s its picture is shown (medians%s; the hub sends them together)" % (
            abs(offset), "after" if offset > 0 else "before", ", the screen's estimated" if screen is not None else ""))
    for sink in sorted(sinks | ({"screen-sink"} if screen is not None else set())):
        print("latency the pipeline gave %s: %s" % (
            sink, "%.0f ms" % sink_latency[sink] if sink in sink_latency else "none (0: it joined after the pipeline's latency was set)"))
    if elements:
        print("where the time goes (element-latency, each element's p50 / p99):")
        for name in sorted(elements):
            v = sorted(elements[name])
            print("  %-34s %8.2f / %8.2f ms  (%d)" % (name, percentile(v, 50), percentile(v, 99), len(v)))
    print("logs: %s (GStreamer), %s" % (trace, work / "latency-daemon.log"))


# ---------------------------------------------------------------- cpu


def proc_sample(pid, ticks):
    with open("/proc/%d/stat" % pid) as f:
        after = f.read().rsplit(")", 1)[1].split()
    cpu = (int(after[11]) + int(after[12])) / ticks
    rss = hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cpu, rss, hwm


FACTORY_RE = re.compile(r"factory-used, .*?factory=\(string\)([^,;]+)")


def factories(path):
    """The element factories a process used (GStreamer's factories tracer)."""
    try:
        with open(path, errors="replace") as f:
            return {m.group(1) for m in (FACTORY_RE.search(l) for l in f) if m}
    except OSError:
        return set()


def run_cpu(args):
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "cpu-data"
    data.mkdir(exist_ok=True)
    sockets = free_block(16)
    port = [s.getsockname()[1] for s in sockets]
    # 0-3 the daemon's hub, 4-7 the daemon's own ports, 8-11 the bare
    # pipeline's hub, 12-15 its own ports.
    drain(sockets[0:4] + sockets[8:12])
    for s in sockets[4:8] + sockets[12:16]:
        s.close()
    config = work / "cpu.toml"
    config.write_text(config_text(data, port[0], port[2], port[4], port[6]))
    def env(log):
        return dict(gst_env(work / log, "GST_TRACER:7"), GST_TRACERS="factories")

    daemon = spawn([args.bin, "--config", str(config)], work / "cpu-daemon.log",
                   dict(env("cpu-daemon-gst.log"), RUST_LOG="warn", NO_COLOR="1"))
    bare = hub = None
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        wait_bound([port[4], port[6]], daemon, "bridgepointd")
        wait_streaming(data, daemon)
        # What the daemon built decides what the bare pipeline mirrors: the
        # room's screen and the self-view, where this build has them.
        built = factories(work / "cpu-daemon-gst.log")
        # (The factories tracer of GStreamer 1.22 records no compositor:
        # the screen is known by its intervideosrc channels.)
        screen, self_view = "intervideosrc" in built, "tee" in built
        bare = spawn(["gst-launch-1.0", "-v"] + bare_description(
            port[8], port[10], port[12], port[14], screen=screen, self_view=self_view),
            work / "cpu-gst-launch.log", env("cpu-gst-launch-gst.log"))
        wait_bound([port[12], port[14]], bare, "gst-launch-1.0 (the bare pipeline)")
        hub = spawn(["gst-launch-1.0", "-q"] + hub_description(
            [("127.0.0.1", port[4]), ("127.0.0.1", port[12])],
            [("127.0.0.1", port[6]), ("127.0.0.1", port[14])]), work / "cpu-hub.log")
        # Warm up: encoders started, the return stream arrived and its
        # chains built, pages touched.
        time.sleep(5)
        for name, p in (("bridgepointd", daemon), ("gst-launch-1.0", bare), ("the hub", hub)):
            if p.poll() is not None:
                sys.exit("error: %s exited during warm-up (%s); logs in %s" % (name, p.returncode, work))
        samples = {"d": [], "g": []}
        prev = {"d": proc_sample(daemon.pid, ticks), "g": proc_sample(bare.pid, ticks)}
        prev_t = time.monotonic()
        first = dict(prev)
        start_t = prev_t
        for i in range(args.seconds):
            time.sleep(max(0.0, start_t + i + 1 - time.monotonic()))
            now_t = time.monotonic()
            # Alternate the order, so neither is always read first.
            order = (("d", daemon), ("g", bare)) if i % 2 == 0 else (("g", bare), ("d", daemon))
            cur = {k: proc_sample(p.pid, ticks) for k, p in order}
            for k in ("d", "g"):
                samples[k].append((100.0 * (cur[k][0] - prev[k][0]) / (now_t - prev_t), cur[k][1]))
            prev, prev_t = cur, now_t
        last = prev
        elapsed = prev_t - start_t
        state = board_state(data)
    finally:
        if hub is not None:
            interrupt(hub)
        stop(daemon)
        if bare is not None:
            interrupt(bare)
    w, h = HUB_SIZE
    print(f"both send 1280x720@30 x264 (ultrafast, zerolatency, 2000 kbit/s) and Opus to their hub, and play the same "
          f"return stream ({w}x{h}@{HUB_FPS} H.264 and Opus, SRTP, one gst-launch-1.0 hub); "
          f"{args.seconds} samples, 1 s apart, after 5 s of warm-up")
    print("the bare pipeline mirrors the daemon's session pipeline%s%s" % (
        " and its screen (card, clock, central's picture, compositor %dx%d@%d, fake sink)" % (
            SCREEN["SCREEN_WIDTH"], SCREEN["SCREEN_HEIGHT"], SCREEN["NO_SCREEN_FPS"]) if screen else "",
        ", with the self-view (tee, 10 fps, %dx%d)" % (SCREEN["SELF_VIEW_WIDTH"], SCREEN["SELF_VIEW_HEIGHT"])
        if self_view else ""))
    med, totals = {}, {}
    for k, name in (("d", "bridgepointd  "), ("g", "gst-launch-1.0")):
        cpu = sorted(c for c, _ in samples[k])
        rss = sorted(r for _, r in samples[k])
        total = totals[k] = last[k][0] - first[k][0]
        med[k] = (statistics.median(cpu), statistics.median(rss))
        print("%s: CPU median %.1f%% of a core (p99 %.1f%%; %.2f CPU s over %.0f s), VmRSS median %.1f MiB "
              "(p99 %.1f MiB; peak VmHWM %.1f MiB)" % (
                  name, med[k][0], percentile(cpu, 99), total, elapsed, med[k][1] / 1024, percentile(rss, 99) / 1024,
                  last[k][2] / 1024))
    cpu_ratio = med["d"][0] / max(med["g"][0], 1e-9)
    rss_ratio = med["d"][1] / max(med["g"][1], 1)
    print("ratio bridgepointd / gst-launch-1.0 (medians): CPU %.3f (target ≤ 1.05: %s), RSS %.3f (target ≤ 1.05: %s)" % (
        cpu_ratio, "met" if cpu_ratio <= 1.05 else "NOT met", rss_ratio, "met" if rss_ratio <= 1.05 else "NOT met"))
    # A 1 s sample of utime+stime counts clock ticks (1/CLK_TCK s): the
    # medians are whole percents, so their ratio moves by about 3 % at a
    # third of a core; the CPU seconds over the whole run are finer.
    print("ratio of the CPU seconds over the whole %.0f s: %.3f (the medians above are whole percents: ticks of 1/%d s)" % (
        elapsed, totals["d"] / max(totals["g"], 1e-9), ticks))
    launch_out = (work / "cpu-gst-launch.log").read_text(errors="replace")
    decoded = [k for k in ("video", "audio") if "%s-return-decoder.GstPad:src: caps" % k in launch_out]
    print("played the return stream: bridgepointd %s; gst-launch-1.0 decoded %s" % (
        played_text(state), " and ".join(decoded) if decoded else "nothing"))
    r = (state or {}).get("return") or {}
    if len(decoded) < 2 or not r.get("video_frames") or not r.get("audio_ms"):
        print("NOT COMPARABLE: one of them did not play both return streams (logs: %s)" % work)
    # A part of either that failed (the daemon's screen, say) makes the two
    # unequal: say so with the lines that show it.
    errors = [("bridgepointd", l) for l in (work / "cpu-daemon.log").read_text(errors="replace").splitlines()
              if " ERROR " in l or "CRITICAL" in l]
    errors += [("gst-launch-1.0", l) for l in launch_out.splitlines() if l.startswith("ERROR") or "CRITICAL" in l]
    if errors:
        print("NOT COMPARABLE: errors during the run (logs: %s):" % work)
        for who, line in errors[:6]:
            print("  %s: %s" % (who, line.strip()))
    d_el, g_el = factories(work / "cpu-daemon-gst.log"), factories(work / "cpu-gst-launch-gst.log")
    fmt = lambda names: ", ".join(sorted(names)) or "none"
    print("element factories: %d used by both; only by bridgepointd: %s; only by gst-launch-1.0: %s" % (
        len(d_el & g_el), fmt(d_el - g_el), fmt(g_el - d_el)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["latency", "cpu"])
    parser.add_argument("--bin", required=True, help="bridgepointd to run")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--work", required=True, help="a directory for configs and logs")
    args = parser.parse_args()
    if args.what == "latency":
        run_latency(args)
    else:
        run_cpu(args)


if __name__ == "__main__":
    main()
