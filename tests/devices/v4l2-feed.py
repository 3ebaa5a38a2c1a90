#!/usr/bin/env python3
"""Feed compressed frames into a v4l2loopback device at a steady rate.

Usage: v4l2-feed.py DEVICE FOURCC WIDTH HEIGHT FPS FRAME_DIR

Stands in for a UVC webcam's compressed stream (MJPG or H264): sets the
loopback's OUTPUT format (VIDIOC_S_FMT) and frame interval (VIDIOC_S_PARM,
which the capture side then enumerates as its only interval), then write()s
the files of FRAME_DIR (one frame or H.264 access unit per file, in name
order) one per frame interval, looping, until killed.

What else was tried in the guest (Debian 12: ffmpeg 5.1, GStreamer 1.22):
- `ffmpeg -re -stream_loop -1 -i clip.mkv -c copy -f v4l2 DEV` works for
  MJPEG; for H.264 the Matroska clip needs -bsf:v h264_mp4toannexb, which
  fails at the first loop ("A non-NULL packet sent after an EOF"); an MPEG-TS
  clip loops but loses -re's pacing after the first loop (100-300 fps); a
  raw .h264 clip does not loop ("Seek to start failed").
- `videotestsrc ! x264enc ! h264parse ! v4l2sink` works but at 720p30 takes
  more than a vCPU under TCG and drops frames. `videotestsrc ! jpegenc !
  v4l2sink` fails (not-negotiated: v4l2sink's image/jpeg caps want
  parsed=true, and jpegparse drops the colorimetry they also want);
  `jpegenc ! image/jpeg,parsed=true ! v4l2sink` works, at ~10 fps at 720p.
So the frames are encoded once on the host, and this only copies them.
"""

import fcntl
import os
import signal
import struct
import sys
import time

# <linux/videodev2.h>, x86_64 and aarch64 (64-bit) layouts.
V4L2_BUF_TYPE_VIDEO_OUTPUT = 2
V4L2_FIELD_NONE = 1
V4L2_COLORSPACE_SRGB = 8
V4L2_COLORSPACE_JPEG = 7
# _IOWR('V', 5, struct v4l2_format): 4-byte type, 4 bytes of padding (the
# union holds pointers), a 200-byte union.
VIDIOC_S_FMT = 0xC0D05605
FORMAT_SIZE = 208
# _IOWR('V', 22, struct v4l2_streamparm): 4-byte type, a 200-byte union.
VIDIOC_S_PARM = 0xC0CC5616
STREAMPARM_SIZE = 204


def fourcc(code):
    if len(code) != 4:
        raise ValueError(f"a fourcc has 4 characters, not {code!r}")
    return struct.unpack("<I", code.encode("ascii"))[0]


def main(argv):
    if len(argv) != 7 or argv[1] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    device, code, width, height, fps, frame_dir = argv[1:]
    width, height, fps = int(width), int(height), int(fps)
    names = sorted(os.listdir(frame_dir))
    frames = []
    for name in names:
        with open(os.path.join(frame_dir, name), "rb") as f:
            frames.append(f.read())
    if not frames:
        print(f"v4l2-feed: no frames in {frame_dir}", file=sys.stderr)
        return 1

    fd = os.open(device, os.O_RDWR)
    colorspace = V4L2_COLORSPACE_JPEG if code in ("MJPG", "JPEG") else V4L2_COLORSPACE_SRGB
    # struct v4l2_pix_format: width, height, pixelformat, field, bytesperline,
    # sizeimage, colorspace, priv, flags, ycbcr_enc, quantization, xfer_func.
    pix = struct.pack("<12I", width, height, fourcc(code), V4L2_FIELD_NONE, 0,
                      max(len(f) for f in frames), colorspace, 0, 0, 0, 0, 0)
    fmt = bytearray(FORMAT_SIZE)
    struct.pack_into("<I", fmt, 0, V4L2_BUF_TYPE_VIDEO_OUTPUT)
    fmt[8:8 + len(pix)] = pix
    fcntl.ioctl(fd, VIDIOC_S_FMT, fmt)
    got_w, got_h, got_fourcc = struct.unpack_from("<3I", fmt, 8)
    if (got_w, got_h, got_fourcc) != (width, height, fourcc(code)):
        print(f"v4l2-feed: {device} took {got_w}x{got_h} {struct.pack('<I', got_fourcc)!r}"
              f" instead of {width}x{height} {code}", file=sys.stderr)
        return 1
    # struct v4l2_outputparm: capability, outputmode, timeperframe
    # (numerator, denominator), extendedmode, writebuffers, reserved[4].
    parm = bytearray(STREAMPARM_SIZE)
    struct.pack_into("<I6I", parm, 0, V4L2_BUF_TYPE_VIDEO_OUTPUT, 0, 0, 1, fps, 0, 0)
    fcntl.ioctl(fd, VIDIOC_S_PARM, parm)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"v4l2-feed: {device} {code} {width}x{height} at {fps} fps, "
          f"{len(frames)} frames ({sum(map(len, frames)) // 1024} KiB) looped", flush=True)
    period = 1.0 / fps
    start = time.monotonic()
    n = 0
    while True:
        os.write(fd, frames[n % len(frames)])
        n += 1
        # On the schedule, not after a fixed sleep: the average rate stays
        # exact when a write or a wake-up is late (TCG is slow at times).
        delay = start + n * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:
            start = time.monotonic() - n * period  # more than a second late: resync


if __name__ == "__main__":
    sys.exit(main(sys.argv))
