#!/usr/bin/python3
"""The room between the box's speaker and its microphone, for the echo test.

What the box plays on its speaker (the Loopback card's playback side) is
captured from the Loopback's capture side, delayed by the room's acoustic
delay, attenuated, mixed with the room's own sounds and played into the
Room card, whose capture side is the box's microphone:

    box speaker -> Loopback,0 ~> Loopback,1 -> [this room] -> Room,0 ~> Room,1 -> box mic

The delay is exact by construction: the room's output starts with `delay`
of silence and then passes every captured period (10 ms) on as soon as it
is read, so every sample reaches the microphone `delay` after the box's
speaker played it (a period, 10 ms, must fit in the delay with some slack). The two snd-aloop cards run on the
same kernel timer, so the delay does not drift. The figure the room saw
(capture backlog + playback queue for the last sample of each period) is
reported, with its median and 99th percentile.

The room's own sounds, placed so that the hub's recording can be cut into
windows afterwards (every position is counted in samples of the room's
output, i.e. of the microphone's signal):
  - a beep (3 kHz, 150 ms) once the box's microphone has run for 1 s: the
    marker every other position is measured from; then the file
    --ready-file is written (the test starts the hub's far-end speech then),
  - the far-end speech's echo: its onset is where the first period above
    -45 dBFS comes back,
  - the near-end speech (--near WAV, 48 kHz mono S16) --near-after-s after
    that onset.

The box opening and closing its speaker and microphone restarts the
loopback streams (an xrun here, and the delay set up again): counted in
"xruns"; "xruns_measured" and the delay figures cover only the stretch the
test measures, from 1 s after the echo's onset to the end of the near-end
speech.

On SIGTERM or SIGINT it writes the summary (JSON) to --summary and exits.
Runs at real-time priority where it may: a late room is a wrong delay.
"""

import argparse
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # audioop: Python 3.11 is Debian 12's
import audioop  # noqa: E402
import ctypes
import json
import math
import os
import signal
import struct
import sys
import time
import wave

RATE = 48000
PERIOD = 480  # 10 ms: a period read and passed on at a time
BUFFER = 24000  # 500 ms: what either side may hold before an xrun
BYTES = 2  # S16_LE mono

SND_PCM_STREAM_PLAYBACK = 0
SND_PCM_STREAM_CAPTURE = 1
SND_PCM_FORMAT_S16_LE = 2
SND_PCM_ACCESS_RW_INTERLEAVED = 3

asound = ctypes.CDLL("libasound.so.2")
asound.snd_pcm_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
asound.snd_pcm_hw_params_malloc.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
asound.snd_pcm_hw_params_free.argtypes = [ctypes.c_void_p]
for name in ("snd_pcm_hw_params_any", "snd_pcm_hw_params"):
    getattr(asound, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p]
for name in ("snd_pcm_hw_params_set_access", "snd_pcm_hw_params_set_format", "snd_pcm_hw_params_set_channels"):
    getattr(asound, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
asound.snd_pcm_hw_params_set_rate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
asound.snd_pcm_hw_params_set_period_size_near.argtypes = [
    ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_int),
]
asound.snd_pcm_hw_params_set_buffer_size_near.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong)]
asound.snd_pcm_readi.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong]
asound.snd_pcm_readi.restype = ctypes.c_long
asound.snd_pcm_writei.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong]
asound.snd_pcm_writei.restype = ctypes.c_long
asound.snd_pcm_delay.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_long)]
SND_PCM_STATE_PREPARED = 2
for name in ("snd_pcm_start", "snd_pcm_prepare", "snd_pcm_drop", "snd_pcm_close", "snd_pcm_state"):
    getattr(asound, name).argtypes = [ctypes.c_void_p]
asound.snd_strerror.restype = ctypes.c_char_p


class AlsaError(Exception):
    pass


def check(what, rc):
    if rc < 0:
        raise AlsaError(f"{what}: {asound.snd_strerror(rc).decode()}")
    return rc


def open_pcm(device, stream):
    """`device` at 48 kHz mono S16_LE, periods of PERIOD in a buffer of BUFFER."""
    pcm = ctypes.c_void_p()
    check(f"open {device}", asound.snd_pcm_open(ctypes.byref(pcm), device.encode(), stream, 0))
    hw = ctypes.c_void_p()
    check("hw params", asound.snd_pcm_hw_params_malloc(ctypes.byref(hw)))
    try:
        check(f"{device}: any", asound.snd_pcm_hw_params_any(pcm, hw))
        check(f"{device}: access", asound.snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED))
        check(f"{device}: S16_LE", asound.snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE))
        check(f"{device}: mono", asound.snd_pcm_hw_params_set_channels(pcm, hw, 1))
        check(f"{device}: 48 kHz", asound.snd_pcm_hw_params_set_rate(pcm, hw, RATE, 0))
        period, direction = ctypes.c_ulong(PERIOD), ctypes.c_int(0)
        check(f"{device}: period", asound.snd_pcm_hw_params_set_period_size_near(pcm, hw, ctypes.byref(period), ctypes.byref(direction)))
        size = ctypes.c_ulong(BUFFER)
        check(f"{device}: buffer", asound.snd_pcm_hw_params_set_buffer_size_near(pcm, hw, ctypes.byref(size)))
        check(f"{device}: hw params", asound.snd_pcm_hw_params(pcm, hw))
    finally:
        asound.snd_pcm_hw_params_free(hw)
    return pcm


def delay_of(pcm):
    d = ctypes.c_long()
    return d.value if asound.snd_pcm_delay(pcm, ctypes.byref(d)) == 0 else None


def beep():
    n = int(0.150 * RATE)
    amp = 0.5 * 32767
    return struct.pack(f"<{n}h", *(int(amp * math.sin(2 * math.pi * 3000 * i / RATE)) for i in range(n)))


def read_wav(path):
    with wave.open(path) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, BYTES):
            sys.exit(f"echo-room: {path} must be 48 kHz mono 16-bit")
        return w.readframes(w.getnframes())


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def mic_running(status_file):
    try:
        with open(status_file) as f:
            return "RUNNING" in f.read()
    except OSError:
        return False


class Overlay:
    """A sound added to the room's output from a given output position."""

    def __init__(self, data, at):
        self.data, self.at = data, at

    def add(self, chunk, pos):
        """`chunk` (bytes) starts at output sample `pos`; returns it mixed."""
        start = (pos - self.at) * BYTES
        if start + len(chunk) <= 0 or start >= len(self.data):
            return chunk
        if start < 0:
            part = bytes(-start) + self.data[: len(chunk) + start]
        else:
            part = self.data[start : start + len(chunk)]
        part = part + bytes(len(chunk) - len(part))
        return audioop.add(chunk, part, BYTES)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capture", required=True, help="what the box's speaker plays (hw:CARD=Loopback,DEV=1)")
    ap.add_argument("--playback", required=True, help="the box's microphone's other side (hw:CARD=Room,DEV=0)")
    ap.add_argument("--mic-status", required=True, help="/proc/asound/.../status of the box's microphone")
    ap.add_argument("--delay-ms", type=float, required=True, help="the room's acoustic delay")
    ap.add_argument("--gain-db", type=float, default=-10.0, help="the echo's level (default -10 dB)")
    ap.add_argument("--near", required=True, help="the room's own speech (WAV, 48 kHz mono S16)")
    ap.add_argument("--near-after-s", type=float, required=True, help="near-end speech this long after the echo's onset")
    ap.add_argument("--ready-file", required=True, help="written once the beep is out")
    ap.add_argument("--summary", required=True, help="the JSON summary, written at SIGTERM")
    args = ap.parse_args()
    if not 20 <= args.delay_ms <= 400:
        sys.exit(f"echo-room: --delay-ms must be 20 to 400 (a period and some slack, within the buffer), got {args.delay_ms}")

    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
        priority = "SCHED_FIFO 50"
    except (OSError, AttributeError) as e:
        priority = f"normal ({e})"

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    gain = 10 ** (args.gain_db / 20)
    near = read_wav(args.near)
    # Output sample i plays i samples after both streams start, and captured
    # sample k comes back out at prefill + k: a delay of prefill, exactly.
    prefill = int(round(args.delay_ms * RATE / 1000))
    cap = open_pcm(args.capture, SND_PCM_STREAM_CAPTURE)
    out = open_pcm(args.playback, SND_PCM_STREAM_PLAYBACK)
    buf = ctypes.create_string_buffer(PERIOD * BYTES)

    def measuring():
        """From 1 s after the echo's onset (the box's speaker starting
        restarts the loopback once) to the end of the near-end speech:
        what the measurement cuts."""
        if far_at is None or pos < far_at + RATE:
            return False
        return pos < near_at + len(near) // BYTES

    def restart():
        asound.snd_pcm_drop(cap)
        asound.snd_pcm_drop(out)
        check("prepare capture", asound.snd_pcm_prepare(cap))
        check("prepare playback", asound.snd_pcm_prepare(out))
        silence = bytes(prefill * BYTES)
        check("prefill", asound.snd_pcm_writei(out, silence, prefill))
        # Writing starts the playback by itself (start threshold 1 frame);
        # both start now, together.
        for pcm, what in ((out, "start playback"), (cap, "start capture")):
            if asound.snd_pcm_state(pcm) == SND_PCM_STATE_PREPARED:
                check(what, asound.snd_pcm_start(pcm))

    def recover():
        """An xrun (or the box reopening its side of a loopback): both
        streams start again, the delay set up anew."""
        nonlocal xruns, xruns_measured, pos
        xruns += 1
        xruns_measured += measuring()
        restart()
        pos += prefill

    restart()
    pos = prefill  # output samples written: the microphone's timeline
    delays, xruns, xruns_measured, periods = [], 0, 0, 0
    beep_at = far_at = near_at = None
    mic_since = None
    overlays = []
    onset_rms = 32767 * 10 ** (-45 / 20)
    print(f"echo-room: {args.capture} -> {args.delay_ms:g} ms, {args.gain_db:g} dB -> {args.playback}; priority {priority}",
          flush=True)
    while not stop:
        n = asound.snd_pcm_readi(cap, buf, PERIOD)
        if n != PERIOD:
            if stop:
                break
            recover()
            continue
        chunk = buf.raw
        echo = audioop.mul(chunk, BYTES, gain)
        cdelay = delay_of(cap)
        if beep_at is not None and far_at is None and audioop.rms(chunk, BYTES) > onset_rms:
            far_at = pos
            near_at = pos + int(args.near_after_s * RATE)
            overlays.append(Overlay(near, near_at))
        periods += 1
        if beep_at is None and periods % 10 == 0:
            if mic_running(args.mic_status):
                mic_since = mic_since or time.monotonic()
                if time.monotonic() - mic_since >= 1.0:
                    beep_at = pos
                    overlays.append(Overlay(beep(), beep_at))
            else:
                mic_since = None
        for o in overlays:
            echo = o.add(echo, pos)
        w = asound.snd_pcm_writei(out, echo, PERIOD)
        if w != PERIOD:
            if stop:
                break
            recover()
            continue
        pos += PERIOD
        pdelay = delay_of(out)
        if cdelay is not None and pdelay is not None and measuring():
            delays.append((cdelay + pdelay) * 1000 / RATE)
        if beep_at is not None and pos - beep_at > 0.2 * RATE and not os.path.exists(args.ready_file):
            with open(args.ready_file, "w") as f:
                f.write("beeped\n")

    def since_beep(p):
        return None if p is None or beep_at is None else round((p - beep_at) / RATE, 4)

    summary = {
        "delay_ms": args.delay_ms,
        "gain_db": args.gain_db,
        "measured_delay_ms": {
            "median": percentile(delays, 50),
            "p99": percentile(delays, 99),
            "min": min(delays, default=None),
            "max": max(delays, default=None),
        },
        "periods": periods,
        "xruns": xruns,
        "xruns_measured": xruns_measured,
        "priority": priority,
        "beep_heard": beep_at is not None,
        "far_onset_after_beep_s": since_beep(far_at),
        "near_after_beep_s": since_beep(near_at),
        "near_length_s": round(len(near) / BYTES / RATE, 3),
    }
    with open(args.summary, "w") as f:
        json.dump(summary, f)
    print("echo-room: " + json.dumps(summary), flush=True)
    asound.snd_pcm_close(cap)
    asound.snd_pcm_close(out)


if __name__ == "__main__":
    try:
        main()
    except AlsaError as e:
        sys.exit(f"echo-room: {e}")
