//! V4L2 video nodes: which are cameras, and what they offer.
//!
//! Every `/dev/videoN` is opened and asked what it is (`VIDIOC_QUERYCAP`).
//! Only video capture devices are cameras; memory-to-memory devices (the
//! Pi's codec and ISP nodes, `/dev/video10`–`/dev/video31`), output-only
//! nodes and metadata nodes are skipped with the reason, and so are CSI
//! (unicam) nodes: CSI cameras need libcamera, which the box does not use
//! (docs/boards.md). A camera's formats, sizes and rates come from
//! `VIDIOC_ENUM_FMT`, `VIDIOC_ENUM_FRAMESIZES` and
//! `VIDIOC_ENUM_FRAMEINTERVALS`; stepwise and continuous ranges are
//! reduced to the sizes and rates worth asking for (the configured ones when
//! in range, common ones, and the range's ends).

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bridgepoint_core::capture::camera::{Camera, CameraMode, PixelFormat, Rate};

const VIDIOC_QUERYCAP: libc::c_ulong = 0x8068_5600;
const VIDIOC_ENUM_FMT: libc::c_ulong = 0xc040_5602;
const VIDIOC_ENUM_FRAMESIZES: libc::c_ulong = 0xc02c_564a;
const VIDIOC_ENUM_FRAMEINTERVALS: libc::c_ulong = 0xc034_564b;

const CAP_VIDEO_CAPTURE: u32 = 0x0000_0001;
const CAP_VIDEO_CAPTURE_MPLANE: u32 = 0x0000_1000;
const CAP_VIDEO_M2M_MPLANE: u32 = 0x0000_4000;
const CAP_VIDEO_M2M: u32 = 0x0000_8000;
const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
const BUF_TYPE_VIDEO_CAPTURE: u32 = 1;

/// `struct v4l2_capability`.
#[repr(C)]
struct Capability {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

/// `struct v4l2_fmtdesc`.
#[repr(C)]
struct FmtDesc {
    index: u32,
    kind: u32,
    flags: u32,
    description: [u8; 32],
    pixelformat: u32,
    mbus_code: u32,
    reserved: [u32; 3],
}

/// `struct v4l2_frmsizeenum` (the union as six words).
#[repr(C)]
struct FrmSizeEnum {
    index: u32,
    pixel_format: u32,
    kind: u32,
    size: [u32; 6],
    reserved: [u32; 2],
}

/// `struct v4l2_frmivalenum` (the union as six words).
#[repr(C)]
struct FrmIvalEnum {
    index: u32,
    pixel_format: u32,
    width: u32,
    height: u32,
    kind: u32,
    interval: [u32; 6],
    reserved: [u32; 2],
}

/// A node that is not a usable camera, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedNode {
    /// `/dev/videoN`.
    pub device: String,
    /// Its driver, when it could be asked.
    pub driver: String,
    /// Why it is not used.
    pub reason: String,
}

/// What the box found among its video nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoNodes {
    /// The cameras, by device number.
    pub cameras: Vec<Camera>,
    /// The other nodes.
    pub skipped: Vec<SkippedNode>,
}

/// Sizes worth asking for in a stepwise range, besides the configured one.
const COMMON_SIZES: [(u32, u32); 4] = [(640, 480), (1280, 720), (1920, 1080), (320, 240)];
/// Rates worth asking for in a stepwise range, besides the configured one.
const COMMON_RATES: [u32; 4] = [30, 25, 15, 60];

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
}

/// `V4L2_PIX_FMT_FLAG_BE`: the big-endian variant of a format (bit 31).
const PIX_FMT_FLAG_BE: u32 = 1 << 31;

/// The fourcc as text, as `v4l2-ctl` writes it: a big-endian variant gets
/// "-BE" (its last byte would otherwise read as a non-ASCII character).
fn fourcc(code: u32) -> String {
    let text = fourcc_text(code & !PIX_FMT_FLAG_BE);
    if code & PIX_FMT_FLAG_BE != 0 {
        format!("{text}-BE")
    } else {
        text
    }
}

fn fourcc_text(code: u32) -> String {
    code.to_le_bytes()
        .iter()
        .map(|b| {
            if b.is_ascii_graphic() {
                *b as char
            } else {
                ' '
            }
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// `ioctl(fd, request, arg)`; `false` when it fails (EINVAL ends an enumeration).
fn ioctl<T>(fd: i32, request: libc::c_ulong, arg: &mut T) -> bool {
    // SAFETY: `arg` is a live, exclusively borrowed #[repr(C)] struct of the
    // size encoded in `request`; the kernel writes only within it.
    unsafe { libc::ioctl(fd, request, arg as *mut T) == 0 }
}

/// Every `/dev/videoN`, by N.
fn video_nodes(dev: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<(u32, PathBuf)> = std::fs::read_dir(dev)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let n = name.strip_prefix("video")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

/// Enumerates the video nodes under `dev` (normally `/dev`); `wanted` (width,
/// height, fps) is asked for first in stepwise ranges.
pub fn discover(dev: &Path, wanted: (u32, u32, u32)) -> VideoNodes {
    let mut found = VideoNodes::default();
    for path in video_nodes(dev) {
        let device = path.display().to_string();
        match inspect(&path, wanted) {
            Ok(camera) => found.cameras.push(camera),
            Err((driver, reason)) => found.skipped.push(SkippedNode {
                device,
                driver,
                reason,
            }),
        }
    }
    found
}

/// One node: a camera, or (driver, why not).
fn inspect(path: &Path, wanted: (u32, u32, u32)) -> Result<Camera, (String, String)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| (String::new(), format!("cannot open it: {e}")))?;
    let fd = file.as_raw_fd();
    // SAFETY: all-zero is a valid value of this plain-old-data struct.
    let mut cap: Capability = unsafe { std::mem::zeroed() };
    if !ioctl(fd, VIDIOC_QUERYCAP, &mut cap) {
        return Err((
            String::new(),
            "not a V4L2 device (VIDIOC_QUERYCAP failed)".into(),
        ));
    }
    let driver = text(&cap.driver);
    let caps = if cap.capabilities & CAP_DEVICE_CAPS != 0 {
        cap.device_caps
    } else {
        cap.capabilities
    };
    if caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE) != 0 {
        return Err((
            driver,
            "a memory-to-memory device (codec, scaler or ISP), not a camera".into(),
        ));
    }
    if driver.contains("unicam") || driver.contains("rp1-cfe") {
        return Err((
            driver,
            "a CSI camera (unicam on a Pi 4, rp1-cfe on a Pi 5): not supported, CSI cameras need libcamera; use a USB UVC camera (docs/boards.md)".into(),
        ));
    }
    if caps & CAP_VIDEO_CAPTURE == 0 {
        let why = if caps & CAP_VIDEO_CAPTURE_MPLANE != 0 {
            "a multi-planar capture node (not a USB camera)"
        } else {
            "not a video capture device (an output or metadata node)"
        };
        return Err((driver, why.into()));
    }
    let modes = modes(fd, wanted);
    Ok(Camera {
        device: path.display().to_string(),
        name: text(&cap.card),
        driver,
        bus: text(&cap.bus_info),
        modes,
    })
}

fn modes(fd: i32, wanted: (u32, u32, u32)) -> Vec<CameraMode> {
    let mut out = Vec::new();
    for index in 0..64 {
        // SAFETY: plain-old-data.
        let mut desc: FmtDesc = unsafe { std::mem::zeroed() };
        desc.index = index;
        desc.kind = BUF_TYPE_VIDEO_CAPTURE;
        if !ioctl(fd, VIDIOC_ENUM_FMT, &mut desc) {
            break;
        }
        let format = PixelFormat::from_fourcc(&fourcc(desc.pixelformat));
        for (width, height) in sizes(fd, desc.pixelformat, wanted) {
            let rates = rates(fd, desc.pixelformat, width, height, wanted.2);
            if !rates.is_empty() {
                out.push(CameraMode {
                    format: format.clone(),
                    width,
                    height,
                    rates,
                });
            }
        }
    }
    out
}

fn in_steps(v: u32, min: u32, max: u32, step: u32) -> bool {
    v >= min && v <= max && (step <= 1 || (v - min).is_multiple_of(step))
}

fn sizes(fd: i32, pixel_format: u32, wanted: (u32, u32, u32)) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for index in 0..256 {
        // SAFETY: plain-old-data.
        let mut e: FrmSizeEnum = unsafe { std::mem::zeroed() };
        e.index = index;
        e.pixel_format = pixel_format;
        if !ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &mut e) {
            break;
        }
        match e.kind {
            1 => out.push((e.size[0], e.size[1])),
            _ => {
                // Continuous (2) or stepwise (3): min/max/step width, then height.
                let [min_w, max_w, step_w, min_h, max_h, step_h] = e.size;
                let fits = |(w, h): (u32, u32)| {
                    in_steps(w, min_w, max_w, step_w) && in_steps(h, min_h, max_h, step_h)
                };
                let candidates = std::iter::once((wanted.0, wanted.1))
                    .chain(COMMON_SIZES)
                    .chain([(max_w, max_h)]);
                for size in candidates {
                    if fits(size) && !out.contains(&size) {
                        out.push(size);
                    }
                }
                break;
            }
        }
    }
    out
}

fn rates(fd: i32, pixel_format: u32, width: u32, height: u32, wanted_fps: u32) -> Vec<Rate> {
    let mut out = Vec::new();
    for index in 0..64 {
        // SAFETY: plain-old-data.
        let mut e: FrmIvalEnum = unsafe { std::mem::zeroed() };
        e.index = index;
        e.pixel_format = pixel_format;
        e.width = width;
        e.height = height;
        if !ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &mut e) {
            break;
        }
        // An interval is seconds per frame: the rate is its inverse.
        let rate = |num: u32, den: u32| Rate {
            num: den,
            den: num.max(1),
        };
        match e.kind {
            1 => out.push(reduce(rate(e.interval[0], e.interval[1]))),
            _ => {
                // Continuous or stepwise: min interval (fastest), max interval (slowest).
                let fastest = rate(e.interval[0], e.interval[1]).as_f64();
                let slowest = rate(e.interval[2], e.interval[3]).as_f64();
                let candidates = std::iter::once(wanted_fps).chain(COMMON_RATES);
                for fps in candidates {
                    let f = f64::from(fps);
                    let r = Rate::fps(fps);
                    if f <= fastest + 0.01 && f + 0.01 >= slowest && !out.contains(&r) {
                        out.push(r);
                    }
                }
                break;
            }
        }
    }
    out
}

/// 30000/1000 → 30/1.
fn reduce(r: Rate) -> Rate {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let g = gcd(r.num, r.den).max(1);
    Rate {
        num: r.num / g,
        den: r.den / g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_structs_have_the_kernels_sizes_so_the_ioctl_numbers_match() {
        assert_eq!(std::mem::size_of::<Capability>(), 104);
        assert_eq!(std::mem::size_of::<FmtDesc>(), 64);
        assert_eq!(std::mem::size_of::<FrmSizeEnum>(), 44);
        assert_eq!(std::mem::size_of::<FrmIvalEnum>(), 52);
        let ioc = |dir: u64, nr: u64, size: usize| {
            (dir << 30 | (size as u64) << 16 | 0x56 << 8 | nr) as libc::c_ulong
        };
        assert_eq!(VIDIOC_QUERYCAP, ioc(2, 0, 104));
        assert_eq!(VIDIOC_ENUM_FMT, ioc(3, 2, 64));
        assert_eq!(VIDIOC_ENUM_FRAMESIZES, ioc(3, 74, 44));
        assert_eq!(VIDIOC_ENUM_FRAMEINTERVALS, ioc(3, 75, 52));
    }

    #[test]
    fn fourccs_text_and_rates_read_as_the_kernel_writes_them() {
        assert_eq!(fourcc(u32::from_le_bytes(*b"MJPG")), "MJPG");
        assert_eq!(fourcc(u32::from_le_bytes(*b"Y10 ")), "Y10");
        // vivid's big-endian RGB555X: 'RGBQ' with bit 31 set.
        assert_eq!(fourcc(u32::from_le_bytes(*b"RGBQ") | 1 << 31), "RGBQ-BE");
        assert_eq!(text(b"vivid\0\0\0"), "vivid");
        assert_eq!(
            reduce(Rate {
                num: 30000,
                den: 1001
            }),
            Rate {
                num: 30000,
                den: 1001
            }
        );
        assert_eq!(
            reduce(Rate {
                num: 30000,
                den: 1000
            }),
            Rate::fps(30)
        );
        assert!(in_steps(1280, 16, 1920, 8) && !in_steps(1281, 16, 1920, 8));
    }

    #[test]
    fn a_directory_without_video_nodes_has_no_cameras() {
        let dir = bridgepoint_testkit::TempDir::new("no-video");
        std::fs::write(dir.path().join("video0"), "not a device").unwrap();
        let found = discover(dir.path(), (1280, 720, 30));
        assert!(found.cameras.is_empty());
        assert_eq!(found.skipped.len(), 1);
        assert!(
            found.skipped[0].reason.starts_with("not a V4L2 device"),
            "{:?}",
            found.skipped
        );
    }
}
