//! What each H.264 encoder family can do, and which video settings it
//! refuses, each refusal naming its key.
//!
//! The limits, and where they come from:
//!
//! - **The hardware encoder** (`v4l2h264enc` on the Raspberry Pi 4's
//!   `bcm2835-codec` driver, `drivers/staging/vc04_services/bcm2835-codec/
//!   bcm2835-v4l2-codec.c` in the Raspberry Pi kernel): pictures from 32×32
//!   (`MIN_W`, `MIN_H`) to 1920×1920 (`MAX_W_CODEC`, `MAX_H_CODEC`, the
//!   sizes `VIDIOC_ENUM_FRAMESIZES` reports), and H.264 level 4.0: the
//!   driver's comment says "the hardware spec is level 4.0. Levels above
//!   that are there for correctly encoding the headers and may not be able
//!   to keep up with real-time". Level 4.0 (ITU-T H.264 Table A-1) allows
//!   8192 macroblocks a picture (1920×1080 is 8160: at most 1088 lines at
//!   1920 wide) and 245 760 macroblocks a second (1080p30). The pipeline
//!   asks it for constrained baseline.
//! - **x264 and openh264** (software): what the box's SDP declares
//!   ([`crate::sdp::profile_level_id`]) goes up to level 5.1: 36 864
//!   macroblocks a picture and 983 040 a second (2160p30). The config's own
//!   ranges (at most 3840×2160, 60 fps) keep every picture within it, so
//!   only the rate can exceed it (2160p60).
//! - **Periodic intra refresh** (`video.intra_refresh`): x264 only. The
//!   Pi's driver offers no intra-refresh control: its encoder's controls
//!   (`bcm2835_codec_open` in the same file) are the bitrate and its mode,
//!   the header mode, repeating SPS/PPS, the I-frame period, level,
//!   profile, minimum and maximum QP, force-key-frame, B-frames and the GOP
//!   size; openh264enc has no such property either.
//! - **Every encoder**: a keyframe interval (`video.fps` ×
//!   `video.keyframe_interval_s`) of at least 2 frames. A GOP of 1 (every
//!   frame a keyframe) hangs the Pi's encoder; the rule holds for all so a
//!   config does not start failing when it moves to a board that has one.
//!
//! Where the limits are applied:
//!
//! - [`check_on_any_board`] when a config is parsed (the local file and
//!   every push): the GOP rule always, the hardware limits with
//!   `video.encoder = "hardware"`, the software ones with `x264` or
//!   `openh264`, and with `auto` those of the laxest family (what every
//!   board refuses).
//! - [`check`] against the family the box actually uses: the daemon's
//!   startup checks (`video.encoder = "auto"` on a board with
//!   `v4l2h264enc` is the hardware encoder) and the pipeline's planning.

use std::fmt;

use crate::config::{ConfigError, VideoConfig, VideoEncoder};

/// An H.264 encoder family, each with its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderFamily {
    /// The board's hardware encoder (`v4l2h264enc`, Raspberry Pi 4).
    Hardware,
    /// x264 (software).
    X264,
    /// OpenH264 (software).
    OpenH264,
}

/// An H.264 level's limits (ITU-T H.264 Table A-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// As written after "level": `4`, `5.1`.
    pub name: &'static str,
    /// MaxFS: macroblocks (16×16 pixels) a picture.
    pub max_frame_macroblocks: u64,
    /// MaxMBPS: macroblocks a second.
    pub max_macroblocks_per_second: u64,
}

/// Level 4.0: 1080p30.
pub const LEVEL_4: Level = Level {
    name: "4",
    max_frame_macroblocks: 8192,
    max_macroblocks_per_second: 245_760,
};

/// Level 5.1: 2160p30; the highest level the box's SDP declares.
pub const LEVEL_5_1: Level = Level {
    name: "5.1",
    max_frame_macroblocks: 36_864,
    max_macroblocks_per_second: 983_040,
};

/// The fewest frames from one keyframe to the next, for every encoder.
pub const MIN_GOP_FRAMES: u32 = 2;

/// What one encoder family takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How the encoder is named in reasons: "the hardware encoder".
    pub encoder: &'static str,
    /// Narrowest and widest picture, in pixels (`None`: the config's range).
    pub width: Option<(u32, u32)>,
    /// Lowest and highest picture, in pixels (`None`: the config's range).
    pub height: Option<(u32, u32)>,
    /// The H.264 level it encodes (and the SDP declares) at most.
    pub level: Level,
}

impl EncoderFamily {
    /// This family's limits (see the module docs for their sources).
    pub fn limits(self) -> Limits {
        match self {
            EncoderFamily::Hardware => Limits {
                encoder: "the hardware encoder",
                width: Some((32, 1920)),
                height: Some((32, 1920)),
                level: LEVEL_4,
            },
            EncoderFamily::X264 => Limits {
                encoder: "x264",
                width: None,
                height: None,
                level: LEVEL_5_1,
            },
            EncoderFamily::OpenH264 => Limits {
                encoder: "openh264",
                width: None,
                height: None,
                level: LEVEL_5_1,
            },
        }
    }
}

/// One setting an encoder cannot do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key inside `[video]`: `width`, `height`, `fps`, `keyframe_interval_s`.
    pub key: &'static str,
    /// Why, with what is allowed.
    pub message: String,
}

impl Violation {
    /// As a config error on `video.<key>`.
    pub fn into_config_error(self) -> ConfigError {
        ConfigError {
            key: format!("video.{}", self.key),
            message: self.message,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "video.{}: {}", self.key, self.message)
    }
}

/// Macroblocks (16×16 pixels, partial ones counted) in a picture.
pub fn macroblocks(width: u32, height: u32) -> u64 {
    u64::from(width.div_ceil(16)) * u64::from(height.div_ceil(16))
}

/// Every setting of `video` that `family` cannot do (empty: it can).
///
/// A picture size the encoder does not take is reported as such, and the
/// limits that follow from the size (macroblocks a picture, then a second)
/// are checked only once the size itself is possible.
pub fn check(video: &VideoConfig, family: EncoderFamily) -> Vec<Violation> {
    let limits = family.limits();
    let mut out = Vec::new();
    let (w, h, fps) = (video.width, video.height, video.fps);
    let mut size_ok = true;
    if let Some((min, max)) = limits.width {
        if w > max {
            out.push(violation(
                "width",
                format!("{w} is wider than {} takes (at most {max})", limits.encoder),
            ));
        } else if w < min {
            out.push(violation(
                "width",
                format!(
                    "{w} is narrower than {} takes (at least {min})",
                    limits.encoder
                ),
            ));
        }
    }
    if let Some((min, max)) = limits.height {
        if h > max {
            out.push(violation(
                "height",
                format!(
                    "{h} is taller than {} takes (at most {max})",
                    limits.encoder
                ),
            ));
        } else if h < min {
            out.push(violation(
                "height",
                format!(
                    "{h} is lower than {} takes (at least {min})",
                    limits.encoder
                ),
            ));
        }
    }
    size_ok &= out.is_empty();
    let level = limits.level;
    let frame = macroblocks(w, h);
    if size_ok && frame > level.max_frame_macroblocks {
        size_ok = false;
        let lines = level.max_frame_macroblocks / u64::from(w.div_ceil(16)) * 16;
        out.push(violation(
            "height",
            format!(
                "{w}x{h} is more than H.264 level {} allows in one picture ({} macroblocks; this is {frame}: at most {lines} lines at this width)",
                level.name, level.max_frame_macroblocks
            ),
        ));
    }
    if size_ok && frame * u64::from(fps) > level.max_macroblocks_per_second {
        out.push(violation(
            "fps",
            format!(
                "{fps} fps at {w}x{h} is more than H.264 level {} allows ({} macroblocks/s; at most {} fps at this size)",
                level.name,
                level.max_macroblocks_per_second,
                level.max_macroblocks_per_second / frame.max(1)
            ),
        ));
    }
    if video.intra_refresh && family != EncoderFamily::X264 {
        out.push(violation(
            "intra_refresh",
            format!(
                "only x264 does periodic intra refresh ({} has no such control); use video.encoder = \"x264\" or keyframes",
                limits.encoder
            ),
        ));
    }
    let gop = u64::from(fps) * u64::from(video.keyframe_interval_s);
    if gop < u64::from(MIN_GOP_FRAMES) {
        out.push(violation(
            "keyframe_interval_s",
            format!(
                "a keyframe every frame (fps {fps} × {} s) hangs the hardware encoder; at least {MIN_GOP_FRAMES} frames per keyframe",
                video.keyframe_interval_s
            ),
        ));
    }
    out
}

/// What every board refuses, checked when a config is parsed: the limits
/// of the encoder `video.encoder` names, and with `auto` those of the
/// laxest family (software: whatever the board picks refuses at least this).
pub fn check_on_any_board(video: &VideoConfig) -> Vec<Violation> {
    let family = match video.encoder {
        VideoEncoder::Hardware => EncoderFamily::Hardware,
        VideoEncoder::X264 | VideoEncoder::Auto => EncoderFamily::X264,
        VideoEncoder::OpenH264 => EncoderFamily::OpenH264,
    };
    check(video, family)
}

fn violation(key: &'static str, message: String) -> Violation {
    Violation { key, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Passthrough, VideoSource};

    fn video(encoder: VideoEncoder, width: u32, height: u32, fps: u32, gop_s: u32) -> VideoConfig {
        VideoConfig {
            source: VideoSource::Test,
            encoder,
            width,
            height,
            fps,
            bitrate_kbps: 2000,
            min_bitrate_kbps: 300,
            keyframe_interval_s: gop_s,
            passthrough: Passthrough::Never,
            intra_refresh: false,
        }
    }

    fn reasons(v: &VideoConfig, family: EncoderFamily) -> Vec<String> {
        check(v, family).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_hardware_encoder_takes_1080p30_and_720p60() {
        for (w, h, fps) in [
            (1920, 1080, 30),
            (1280, 720, 60),
            (640, 360, 60),
            (32, 32, 60),
        ] {
            let v = video(VideoEncoder::Hardware, w, h, fps, 2);
            assert_eq!(
                reasons(&v, EncoderFamily::Hardware),
                Vec::<String>::new(),
                "{w}x{h}@{fps}"
            );
        }
    }

    #[test]
    fn a_4k_picture_is_too_wide_and_too_tall_for_the_hardware_encoder() {
        let v = video(VideoEncoder::Hardware, 3840, 2160, 30, 2);
        assert_eq!(
            reasons(&v, EncoderFamily::Hardware),
            vec![
                "video.width: 3840 is wider than the hardware encoder takes (at most 1920)",
                "video.height: 2160 is taller than the hardware encoder takes (at most 1920)",
            ],
            "the level limits that follow from the size are not repeated"
        );
    }

    #[test]
    fn a_tiny_picture_is_too_small_for_the_hardware_encoder() {
        let v = video(VideoEncoder::Hardware, 16, 16, 30, 2);
        assert_eq!(
            reasons(&v, EncoderFamily::Hardware),
            vec![
                "video.width: 16 is narrower than the hardware encoder takes (at least 32)",
                "video.height: 16 is lower than the hardware encoder takes (at least 32)",
            ]
        );
    }

    #[test]
    fn sixty_fps_at_1080p_is_more_than_level_4_allows() {
        let v = video(VideoEncoder::Hardware, 1920, 1080, 60, 2);
        assert_eq!(
            reasons(&v, EncoderFamily::Hardware),
            vec!["video.fps: 60 fps at 1920x1080 is more than H.264 level 4 allows (245760 macroblocks/s; at most 30 fps at this size)"]
        );
        // 1080p31 already is: 8160 macroblocks × 31 = 252960.
        let v = video(VideoEncoder::Hardware, 1920, 1080, 31, 2);
        assert_eq!(check(&v, EncoderFamily::Hardware).len(), 1);
    }

    #[test]
    fn a_picture_within_1920x1920_but_over_8192_macroblocks_is_refused_by_level_4() {
        // 1920x1200: 120 × 75 = 9000 macroblocks.
        let v = video(VideoEncoder::Hardware, 1920, 1200, 25, 2);
        assert_eq!(
            reasons(&v, EncoderFamily::Hardware),
            vec!["video.height: 1920x1200 is more than H.264 level 4 allows in one picture (8192 macroblocks; this is 9000: at most 1088 lines at this width)"]
        );
        // Portrait 1080x1920 is 68 × 120 = 8160: the driver and level 4 take it.
        let v = video(VideoEncoder::Hardware, 1080, 1920, 30, 2);
        assert!(check(&v, EncoderFamily::Hardware).is_empty());
    }

    #[test]
    fn a_gop_of_one_frame_is_refused_for_every_encoder() {
        let v = video(VideoEncoder::X264, 640, 360, 1, 1);
        for family in [
            EncoderFamily::Hardware,
            EncoderFamily::X264,
            EncoderFamily::OpenH264,
        ] {
            assert_eq!(
                reasons(&v, family),
                vec!["video.keyframe_interval_s: a keyframe every frame (fps 1 × 1 s) hangs the hardware encoder; at least 2 frames per keyframe"],
                "{family:?}"
            );
        }
        // One frame a second with a keyframe every 2 s is a GOP of 2.
        assert!(check(
            &video(VideoEncoder::X264, 640, 360, 1, 2),
            EncoderFamily::Hardware
        )
        .is_empty());
        assert!(check(
            &video(VideoEncoder::X264, 640, 360, 2, 1),
            EncoderFamily::Hardware
        )
        .is_empty());
    }

    #[test]
    fn software_encoders_go_up_to_level_5_1() {
        let ok = video(VideoEncoder::X264, 3840, 2160, 30, 2);
        assert!(check(&ok, EncoderFamily::X264).is_empty());
        assert!(check(&ok, EncoderFamily::OpenH264).is_empty());
        let v = video(VideoEncoder::X264, 3840, 2160, 60, 2);
        assert_eq!(
            reasons(&v, EncoderFamily::OpenH264),
            vec!["video.fps: 60 fps at 3840x2160 is more than H.264 level 5.1 allows (983040 macroblocks/s; at most 30 fps at this size)"]
        );
        // 1080p60 is level 4.2: fine in software.
        assert!(check(
            &video(VideoEncoder::X264, 1920, 1080, 60, 2),
            EncoderFamily::X264
        )
        .is_empty());
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let v = video(VideoEncoder::Hardware, 1920, 1080, 1, 1);
        assert_eq!(
            check(&v, EncoderFamily::Hardware).len(),
            1,
            "1080p1 only breaks the GOP rule"
        );
        let v = video(VideoEncoder::Hardware, 3840, 720, 1, 1);
        let keys: Vec<&str> = check(&v, EncoderFamily::Hardware)
            .iter()
            .map(|v| v.key)
            .collect();
        assert_eq!(keys, vec!["width", "keyframe_interval_s"]);
    }

    #[test]
    fn without_a_board_the_named_encoder_or_the_laxest_one_is_checked() {
        // "hardware" is known without a board.
        let hw = video(VideoEncoder::Hardware, 1920, 1080, 60, 2);
        assert_eq!(check_on_any_board(&hw).len(), 1);
        // "auto" may be software: 1080p60 passes here, and is checked again
        // against the encoder the box picks.
        let auto = video(VideoEncoder::Auto, 1920, 1080, 60, 2);
        assert!(check_on_any_board(&auto).is_empty());
        // What no encoder can do is refused anywhere.
        let auto = video(VideoEncoder::Auto, 3840, 2160, 60, 2);
        assert_eq!(check_on_any_board(&auto)[0].key, "fps");
        let auto = video(VideoEncoder::Auto, 640, 360, 1, 1);
        assert_eq!(check_on_any_board(&auto)[0].key, "keyframe_interval_s");
    }

    #[test]
    fn a_violation_becomes_a_config_error_on_its_dotted_key() {
        let v = video(VideoEncoder::Hardware, 3840, 720, 30, 2);
        let e = check(&v, EncoderFamily::Hardware)
            .remove(0)
            .into_config_error();
        assert_eq!(e.key, "video.width");
        assert_eq!(
            e.to_string(),
            "video.width: 3840 is wider than the hardware encoder takes (at most 1920)"
        );
    }

    const FILE: &str = "device_id = \"x\"\n[hub]\nhost = \"h\"\n[srtp]\nkey = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\n";

    #[test]
    fn the_config_file_is_refused_with_every_reason() {
        let text = format!("{FILE}[video]\nencoder = \"hardware\"\nwidth = 3840\nheight = 720\nfps = 1\nkeyframe_interval_s = 1\n");
        let errors = crate::config::parse_toml(&text).unwrap_err().to_string();
        assert_eq!(
            errors,
            "video.width: 3840 is wider than the hardware encoder takes (at most 1920); \
             video.keyframe_interval_s: a keyframe every frame (fps 1 × 1 s) hangs the hardware encoder; at least 2 frames per keyframe"
        );
        // The same picture with "auto" may be encoded in software: accepted here.
        let text = format!("{FILE}[video]\nencoder = \"auto\"\nwidth = 3840\nheight = 720\n");
        assert!(crate::config::parse_toml(&text).is_ok());
    }

    #[test]
    fn a_pushed_config_is_refused_on_its_full_key() {
        let pushed = serde_json::json!({
            "hub": {"host": "h"},
            "srtp": {"key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"},
            "video": {"encoder": "hardware", "width": 1920, "height": 1080, "fps": 60}
        });
        let errors = crate::config::parse_pushed_settings(&pushed).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "config.video.fps: 60 fps at 1920x1080 is more than H.264 level 4 allows (245760 macroblocks/s; at most 30 fps at this size)"
        );
    }

    #[test]
    fn the_level_table_matches_what_the_sdp_declares() {
        // The software limit is the SDP's highest level, 5.1 (42e033); the
        // hardware's, level 4 (42e028).
        assert_eq!(crate::sdp::profile_level_id(1920, 1080, 30), "42e028");
        assert_eq!(crate::sdp::profile_level_id(3840, 2160, 30), "42e033");
        assert_eq!(macroblocks(1920, 1080), 8160);
        assert_eq!(macroblocks(3840, 2160), 32_400);
        assert!(macroblocks(3840, 2160) * 30 <= LEVEL_5_1.max_macroblocks_per_second);
    }

    #[test]
    fn intra_refresh_is_x264s_alone() {
        let mut v = video(VideoEncoder::X264, 1280, 720, 30, 2);
        v.intra_refresh = true;
        assert!(check_on_any_board(&v).is_empty());
        v.encoder = VideoEncoder::Auto;
        assert!(check_on_any_board(&v).is_empty(), "auto may pick x264");
        let on_a_pi = reasons(&v, EncoderFamily::Hardware);
        assert_eq!(on_a_pi.len(), 1, "{on_a_pi:?}");
        assert!(
            on_a_pi[0].starts_with("video.intra_refresh: only x264"),
            "{on_a_pi:?}"
        );
        v.encoder = VideoEncoder::OpenH264;
        let keys: Vec<_> = check_on_any_board(&v).iter().map(|x| x.key).collect();
        assert_eq!(keys, vec!["intra_refresh"]);
    }
}
