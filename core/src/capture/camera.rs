//! Which camera and which of its modes the box captures with, decided from
//! what discovery found (the V4L2 nodes with their formats, sizes and
//! rates) and the config. Pure: the caller enumerates the devices.
//!
//! The order of preference:
//! 1. the camera's own H.264, only when `video.passthrough` allows it
//!    (`auto`: the configured size and rate exactly; `always`: the nearest
//!    H.264 mode);
//! 2. otherwise a raw mode (YUYV, UYVY, NV12, I420: straight to the
//!    encoder) or an MJPEG mode (decoded first), whichever reaches the
//!    configured size and rate — raw when both do (no decoding), MJPEG when
//!    only it does (USB webcams give 720p30 only as MJPEG);
//! 3. the nearest mode: the configured size if offered, else the smallest
//!    larger one (scaled down), else the largest; the configured rate if
//!    offered, else the lowest higher one (frames dropped to the configured
//!    rate), else the highest. What was asked and what was chosen is said in
//!    [`CameraChoice::why`].

use std::fmt;

use crate::config::{Passthrough, VideoConfig};

/// A pixel format a camera offers, by its V4L2 fourcc.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PixelFormat {
    /// H.264 (UVC H.264 cameras).
    H264,
    /// Motion JPEG.
    Mjpeg,
    /// Packed 4:2:2 YUYV.
    Yuyv,
    /// Packed 4:2:2 UYVY.
    Uyvy,
    /// Semi-planar 4:2:0 NV12.
    Nv12,
    /// Planar 4:2:0 I420 (`YU12`).
    I420,
    /// Anything else, by its fourcc.
    Other(String),
}

impl PixelFormat {
    /// From a V4L2 fourcc.
    pub fn from_fourcc(fourcc: &str) -> PixelFormat {
        match fourcc {
            "H264" => PixelFormat::H264,
            "MJPG" | "JPEG" => PixelFormat::Mjpeg,
            "YUYV" => PixelFormat::Yuyv,
            "UYVY" => PixelFormat::Uyvy,
            "NV12" => PixelFormat::Nv12,
            "YU12" => PixelFormat::I420,
            other => PixelFormat::Other(other.to_owned()),
        }
    }

    /// The V4L2 fourcc.
    pub fn fourcc(&self) -> &str {
        match self {
            PixelFormat::H264 => "H264",
            PixelFormat::Mjpeg => "MJPG",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Uyvy => "UYVY",
            PixelFormat::Nv12 => "NV12",
            PixelFormat::I420 => "YU12",
            PixelFormat::Other(f) => f,
        }
    }

    /// The raw formats the box can encode (converted if the encoder needs).
    pub fn is_raw(&self) -> bool {
        matches!(
            self,
            PixelFormat::Yuyv | PixelFormat::Uyvy | PixelFormat::Nv12 | PixelFormat::I420
        )
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.fourcc())
    }
}

/// A frame rate as a fraction of frames per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Frames...
    pub num: u32,
    /// ...per this many seconds.
    pub den: u32,
}

impl Rate {
    /// `n` frames per second.
    pub fn fps(n: u32) -> Rate {
        Rate { num: n, den: 1 }
    }

    /// As a number.
    pub fn as_f64(self) -> f64 {
        if self.den == 0 {
            0.0
        } else {
            f64::from(self.num) / f64::from(self.den)
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// One size of one format, with the rates offered at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraMode {
    /// The format.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The frame rates offered at this size.
    pub rates: Vec<Rate>,
}

/// A video capture device discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Camera {
    /// `/dev/videoN`.
    pub device: String,
    /// The card name the driver gives.
    pub name: String,
    /// The driver (`uvcvideo`, `vivid`, ...).
    pub driver: String,
    /// The bus it is on (`usb-0000:01:00.0-1.3`).
    pub bus: String,
    /// Every mode it offers.
    pub modes: Vec<CameraMode>,
}

/// How the picture reaches the RTP payloader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraPath {
    /// The camera's own H.264, sent as it is.
    PassThrough,
    /// MJPEG decoded, then encoded.
    Mjpeg,
    /// Raw frames encoded.
    Raw,
}

/// The camera, the mode, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraChoice {
    /// `/dev/videoN`.
    pub device: String,
    /// How it is used.
    pub path: CameraPath,
    /// The format captured.
    pub format: PixelFormat,
    /// The size captured.
    pub width: u32,
    /// The size captured.
    pub height: u32,
    /// The rate captured.
    pub rate: Rate,
    /// Whether the picture must be scaled to the configured size.
    pub scale: bool,
    /// Whether frames must be dropped or repeated to the configured rate.
    pub rerate: bool,
    /// What was asked and what was chosen, for the log and `probe`.
    pub why: String,
}

/// How well a (mode, rate) serves the configuration: larger is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Fit {
    /// The configured size and rate exactly.
    exact: bool,
    /// Reaches the configured size and rate (larger is scaled, faster dropped).
    reaches: bool,
    /// The size is the configured one.
    same_size: bool,
    /// Closeness of the rate: the configured rate, then higher ones (the
    /// closest first), then lower ones (the closest first).
    rate_rank: i64,
    /// Closeness of the size (fewer excess or missing pixels is better).
    size_rank: i64,
}

fn fit(mode: &CameraMode, rate: Rate, w: u32, h: u32, fps: u32) -> Fit {
    let wanted = f64::from(fps);
    let r = rate.as_f64();
    let same_rate = (r - wanted).abs() < 0.01;
    let same_size = mode.width == w && mode.height == h;
    let big_enough = mode.width >= w && mode.height >= h;
    let pixels = i64::from(mode.width) * i64::from(mode.height);
    let wanted_pixels = i64::from(w) * i64::from(h);
    let rate_rank = if same_rate {
        0
    } else if r > wanted {
        -((r - wanted) * 1000.0) as i64
    } else {
        -1_000_000 - ((wanted - r) * 1000.0) as i64
    };
    let size_rank = if big_enough {
        -(pixels - wanted_pixels)
    } else {
        -1_000_000_000 - (wanted_pixels - pixels)
    };
    Fit {
        exact: same_size && same_rate,
        reaches: big_enough && (same_rate || r > wanted),
        same_size,
        rate_rank,
        size_rank,
    }
}

/// The best (mode, rate) of `format`s accepted by `accept`.
fn best<'a>(
    camera: &'a Camera,
    accept: impl Fn(&PixelFormat) -> bool,
    video: &VideoConfig,
) -> Option<(Fit, &'a CameraMode, Rate)> {
    camera
        .modes
        .iter()
        .filter(|m| accept(&m.format))
        .flat_map(|m| m.rates.iter().map(move |r| (m, *r)))
        .map(|(m, r)| (fit(m, r, video.width, video.height, video.fps), m, r))
        // A raw format the encoder takes as it is beats one to convert.
        .max_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| format_rank(&a.1.format).cmp(&format_rank(&b.1.format)))
        })
}

fn format_rank(f: &PixelFormat) -> u8 {
    match f {
        PixelFormat::I420 | PixelFormat::Nv12 => 3,
        PixelFormat::Yuyv | PixelFormat::Uyvy => 2,
        PixelFormat::Mjpeg | PixelFormat::H264 => 1,
        PixelFormat::Other(_) => 0,
    }
}

/// Chooses the mode of `camera` for `video`.
pub fn choose_mode(camera: &Camera, video: &VideoConfig) -> Result<CameraChoice, String> {
    choose_mode_with_fit(camera, video).map(|(choice, _)| choice)
}

/// [`choose_mode`], with how well the chosen mode fits (to rank cameras).
fn choose_mode_with_fit(
    camera: &Camera,
    video: &VideoConfig,
) -> Result<(CameraChoice, Fit), String> {
    let asked = format!("{}x{}@{}", video.width, video.height, video.fps);
    let choice = |path, (fit, mode, rate): (Fit, &CameraMode, Rate), how: &str| {
        let scale = !fit.same_size;
        let rerate = (rate.as_f64() - f64::from(video.fps)).abs() >= 0.01;
        let mut why = format!(
            "asked {asked}, chose {} {}x{}@{} ({how})",
            mode.format, mode.width, mode.height, rate
        );
        if scale || rerate {
            let mut adjust = Vec::new();
            if scale {
                adjust.push("scaled");
            }
            if rerate {
                adjust.push("frame rate converted");
            }
            why.push_str(&format!("; {} to {asked}", adjust.join(" and ")));
        }
        let choice = CameraChoice {
            device: camera.device.clone(),
            path,
            format: mode.format.clone(),
            width: mode.width,
            height: mode.height,
            rate,
            scale,
            rerate,
            why,
        };
        (choice, fit)
    };
    let h264 = best(camera, |f| *f == PixelFormat::H264, video);
    match (video.passthrough, h264) {
        (Passthrough::Always, Some(b)) => {
            return Ok(choice(
                CameraPath::PassThrough,
                b,
                "the camera's own H.264, video.passthrough = always",
            ))
        }
        (Passthrough::Auto, Some(b)) if b.0.exact => {
            return Ok(choice(
                CameraPath::PassThrough,
                b,
                "the camera's own H.264 at exactly the configured size and rate, video.passthrough = auto",
            ))
        }
        _ => {}
    }
    let raw = best(camera, PixelFormat::is_raw, video);
    let mjpeg = best(camera, |f| *f == PixelFormat::Mjpeg, video);
    let raw_reason = "raw, encoded by the box";
    let mjpeg_reason = "MJPEG, decoded and encoded by the box";
    match (raw, mjpeg) {
        (Some(r), Some(j)) if j.0.reaches && !r.0.reaches => Ok(choice(
            CameraPath::Mjpeg,
            j,
            "MJPEG, decoded and encoded by the box: no raw mode reaches the configured size and rate",
        )),
        (Some(r), Some(j)) if j.0 > r.0 && !r.0.reaches => {
            Ok(choice(CameraPath::Mjpeg, j, mjpeg_reason))
        }
        (Some(r), _) => Ok(choice(CameraPath::Raw, r, raw_reason)),
        (None, Some(j)) => Ok(choice(CameraPath::Mjpeg, j, mjpeg_reason)),
        (None, None) => match (h264, video.passthrough) {
            (Some(_), Passthrough::Auto) => Err(format!(
                "{}: offers only H.264, and none of its H.264 modes is exactly {asked} (video.passthrough = auto takes the camera's own H.264 only at exactly the configured size and rate: configure one of its modes, or set it to \"always\" to take the nearest)",
                camera.device
            )),
            (Some(_), _) => Err(format!(
                "{}: offers only H.264, and video.passthrough is never (set it to \"auto\" or \"always\" to send the camera's own H.264)",
                camera.device
            )),
            (None, _) => Err(format!(
                "{}: offers no format the box can use (raw YUYV/UYVY/NV12/I420, MJPEG or H.264)",
                camera.device
            )),
        },
    }
}

/// Chooses the camera: the configured device, or (`None`: `video.source =
/// "auto"`) the camera whose chosen mode fits the configuration best: the
/// configured size and rate exactly first, then one that reaches them
/// (scaled down or frames dropped), then the closest; among equals the
/// lowest device number (discovery lists them in that order).
pub fn choose_camera(
    cameras: &[Camera],
    device: Option<&str>,
    video: &VideoConfig,
) -> Result<CameraChoice, String> {
    match device {
        Some(path) => {
            let camera = cameras.iter().find(|c| c.device == path).ok_or_else(|| {
                format!("{path}: not a camera (no video capture device at that path)")
            })?;
            choose_mode(camera, video)
        }
        None => {
            if cameras.is_empty() {
                return Err(
                    "no camera: no video capture device found (is the USB camera plugged in?)"
                        .into(),
                );
            }
            let mut reasons = Vec::new();
            let mut chosen: Option<(CameraChoice, Fit)> = None;
            for camera in cameras {
                match choose_mode_with_fit(camera, video) {
                    // Strictly better only: the earlier camera wins a tie.
                    Ok((choice, fit)) if chosen.as_ref().is_none_or(|(_, best)| fit > *best) => {
                        chosen = Some((choice, fit));
                    }
                    Ok(_) => {}
                    Err(e) => reasons.push(e),
                }
            }
            match chosen {
                Some((choice, _)) => Ok(choice),
                None => Err(format!("no usable camera: {}", reasons.join("; "))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VideoEncoder;

    fn video(w: u32, h: u32, fps: u32, passthrough: Passthrough) -> VideoConfig {
        VideoConfig {
            source: crate::config::VideoSource::Auto,
            encoder: VideoEncoder::Auto,
            width: w,
            height: h,
            fps,
            bitrate_kbps: 2000,
            min_bitrate_kbps: 300,
            keyframe_interval_s: 2,
            passthrough,
            intra_refresh: false,
        }
    }

    fn mode(format: &str, w: u32, h: u32, rates: &[u32]) -> CameraMode {
        CameraMode {
            format: PixelFormat::from_fourcc(format),
            width: w,
            height: h,
            rates: rates.iter().map(|r| Rate::fps(*r)).collect(),
        }
    }

    fn camera(modes: Vec<CameraMode>) -> Camera {
        Camera {
            device: "/dev/video0".into(),
            name: "HD Webcam".into(),
            driver: "uvcvideo".into(),
            bus: "usb-1".into(),
            modes,
        }
    }

    /// A typical conference webcam: YUYV is slow at 720p, MJPEG is fast,
    /// H.264 at 30/24/15.
    fn webcam() -> Camera {
        camera(vec![
            mode("YUYV", 640, 480, &[30, 15]),
            mode("YUYV", 1280, 720, &[10, 5]),
            mode("MJPG", 640, 480, &[30, 15]),
            mode("MJPG", 1280, 720, &[30, 24, 15]),
            mode("MJPG", 1920, 1080, &[30, 15]),
            mode("H264", 1280, 720, &[30, 24, 15]),
            mode("H264", 1920, 1080, &[30, 24, 15]),
        ])
    }

    #[test]
    fn mjpeg_is_decoded_when_it_is_the_only_720p30_mode() {
        let c = choose_mode(&webcam(), &video(1280, 720, 30, Passthrough::Never)).unwrap();
        assert_eq!(
            (c.path, c.format.clone(), c.width, c.rate),
            (CameraPath::Mjpeg, PixelFormat::Mjpeg, 1280, Rate::fps(30))
        );
        assert!(!c.scale && !c.rerate, "{c:?}");
        assert!(c.why.contains("no raw mode reaches"), "{}", c.why);
    }

    #[test]
    fn raw_is_used_when_it_reaches_the_configured_mode() {
        let c = choose_mode(&webcam(), &video(640, 480, 30, Passthrough::Never)).unwrap();
        assert_eq!((c.path, c.format), (CameraPath::Raw, PixelFormat::Yuyv));
    }

    #[test]
    fn a_camera_offering_30_and_15_gets_30_when_25_is_asked_and_frames_are_dropped() {
        let cam = camera(vec![mode("YUYV", 1280, 720, &[30, 15])]);
        let c = choose_mode(&cam, &video(1280, 720, 25, Passthrough::Never)).unwrap();
        assert_eq!(c.rate, Rate::fps(30));
        assert!(c.rerate && !c.scale);
        assert_eq!(c.why, "asked 1280x720@25, chose YUYV 1280x720@30 (raw, encoded by the box); frame rate converted to 1280x720@25");
    }

    #[test]
    fn passthrough_only_when_allowed_and_matching() {
        let never = choose_mode(&webcam(), &video(1280, 720, 30, Passthrough::Never)).unwrap();
        assert_ne!(never.path, CameraPath::PassThrough);
        let auto_exact = choose_mode(&webcam(), &video(1280, 720, 30, Passthrough::Auto)).unwrap();
        assert_eq!(auto_exact.path, CameraPath::PassThrough);
        let auto_25 = choose_mode(&webcam(), &video(1280, 720, 25, Passthrough::Auto)).unwrap();
        assert_eq!(
            auto_25.path,
            CameraPath::Mjpeg,
            "25 fps is not offered as H.264: no pass-through"
        );
        let always = choose_mode(&webcam(), &video(1280, 720, 25, Passthrough::Always)).unwrap();
        assert_eq!(
            (always.path, always.rate),
            (CameraPath::PassThrough, Rate::fps(30))
        );
    }

    #[test]
    fn a_larger_size_is_scaled_down_and_a_smaller_one_is_the_last_resort() {
        let cam = camera(vec![
            mode("YUYV", 640, 480, &[30]),
            mode("YUYV", 1920, 1080, &[30]),
        ]);
        let c = choose_mode(&cam, &video(1280, 720, 30, Passthrough::Never)).unwrap();
        assert_eq!((c.width, c.height, c.scale), (1920, 1080, true));
        let small = camera(vec![mode("YUYV", 640, 480, &[30])]);
        let c = choose_mode(&small, &video(1280, 720, 30, Passthrough::Never)).unwrap();
        assert_eq!((c.width, c.scale), (640, true));
    }

    #[test]
    fn no_camera_and_unusable_cameras_say_so() {
        let v = video(1280, 720, 30, Passthrough::Never);
        assert!(choose_camera(&[], None, &v)
            .unwrap_err()
            .starts_with("no camera"));
        let only_h264 = camera(vec![mode("H264", 1280, 720, &[30])]);
        let e = choose_camera(&[only_h264], None, &v).unwrap_err();
        assert!(
            e.contains("offers only H.264") && e.contains("passthrough"),
            "{e}"
        );
        let odd = camera(vec![mode("GREY", 640, 480, &[30])]);
        assert!(choose_mode(&odd, &v)
            .unwrap_err()
            .contains("no format the box can use"));
        assert!(choose_camera(&[webcam()], Some("/dev/video9"), &v)
            .unwrap_err()
            .starts_with("/dev/video9: not a camera"));
    }

    #[test]
    fn auto_takes_the_camera_that_fits_best_and_the_lower_number_on_a_tie() {
        let v = video(1280, 720, 30, Passthrough::Never);
        // vivid in the device harness: 720p only at 12.5 fps.
        let mut slow = camera(vec![CameraMode {
            format: PixelFormat::Yuyv,
            width: 1280,
            height: 720,
            rates: vec![Rate { num: 25, den: 2 }],
        }]);
        slow.device = "/dev/video2".into();
        let mut exact = camera(vec![mode("MJPG", 1280, 720, &[30])]);
        exact.device = "/dev/video20".into();
        let mut also_exact = exact.clone();
        also_exact.device = "/dev/video22".into();
        let chosen =
            choose_camera(&[slow.clone(), also_exact.clone(), exact.clone()], None, &v).unwrap();
        assert_eq!(chosen.device, "/dev/video22", "first of the exact ones");
        let chosen = choose_camera(&[slow.clone(), exact], None, &v).unwrap();
        assert_eq!(chosen.device, "/dev/video20");
        assert_eq!(chosen.path, CameraPath::Mjpeg);
        // Alone, the slow camera is still used, with its rate converted.
        let chosen = choose_camera(&[slow], None, &v).unwrap();
        assert!(chosen.rerate, "{}", chosen.why);
    }

    #[test]
    fn only_h264_not_matching_under_auto_says_what_auto_needs() {
        let h264_only = camera(vec![mode("H264", 1280, 720, &[30])]);
        let e = choose_mode(&h264_only, &video(1280, 720, 25, Passthrough::Auto)).unwrap_err();
        assert!(
            e.contains("none of its H.264 modes is exactly 1280x720@25"),
            "{e}"
        );
        assert!(!e.contains("is never"), "{e}");
        let e = choose_mode(&h264_only, &video(1280, 720, 25, Passthrough::Never)).unwrap_err();
        assert!(e.contains("video.passthrough is never"), "{e}");
    }

    #[test]
    fn auto_skips_an_unusable_camera() {
        let v = video(640, 480, 30, Passthrough::Never);
        let mut unusable = camera(vec![mode("GREY", 640, 480, &[30])]);
        unusable.device = "/dev/video0".into();
        let mut good = webcam();
        good.device = "/dev/video2".into();
        assert_eq!(
            choose_camera(&[unusable, good], None, &v).unwrap().device,
            "/dev/video2"
        );
    }
}
