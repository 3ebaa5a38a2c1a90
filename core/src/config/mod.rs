//! The box's configuration: its model, and parsing that names every bad key.
//!
//! A config comes from the local TOML file (see `docs/configuration.md` for
//! every key). Parsing never stops at the first problem: it returns every
//! error found, each with the dotted path of the key (`video.width`), so an
//! installer fixes a file in one round.

mod parse;
mod reader;

use std::fmt;
use std::path::PathBuf;

pub use parse::{parse_pushed_settings, parse_toml, parse_value, PUSHED_KEYS};
pub use reader::shown_key;

use crate::srtp::SrtpSuite;

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the key, e.g. `video.width`; `(file)` for syntax errors.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found in one document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

/// The whole configuration of a box: the local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The box's identity, e.g. `lang-son-01`. Lowercase letters, digits, `-` and `_`.
    pub device_id: String,
    /// Where the box keeps its state (and the simulated board's socket).
    pub data_dir: PathBuf,
    /// Which board the box runs on: `sim` for the simulated board.
    pub board: String,
    /// The broker central IT configures the box through; `None` = standalone.
    pub mqtt: Option<MqttConfig>,
    /// Who may sign pushed configs.
    pub trust: TrustConfig,
    /// The provisionable settings the box starts with (a stored pushed config
    /// replaces them).
    pub settings: Settings,
    /// Remote updates (local file only).
    pub updates: UpdatesConfig,
}

/// Remote updates: the health gate's times (`[updates]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatesConfig {
    /// How long a freshly updated slot must be healthy, and by when.
    pub health: crate::health::HealthPolicy,
}

/// The provisionable part of the config: what central IT may push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The hub's address; absent until provisioned when MQTT is configured.
    pub hub: Option<HubConfig>,
    /// SRTP suite and key; absent until provisioned when MQTT is configured.
    pub srtp: Option<SrtpConfig>,
    /// Camera and video encoding.
    pub video: VideoConfig,
    /// Microphone and audio encoding.
    pub audio: AudioConfig,
    /// When the box streams.
    pub session: SessionConfig,
    /// The hub's media coming back to the box (`[return]`).
    pub return_media: ReturnConfig,
    /// Where the hub's sound plays.
    pub speaker: SpeakerConfig,
    /// Where the hub's picture shows.
    pub display: DisplayConfig,
    /// Seconds between telemetry reports.
    pub telemetry_interval_s: u32,
}

impl Settings {
    /// The media settings, once the box has a hub and a key.
    pub fn media(&self) -> Option<MediaConfig> {
        Some(MediaConfig {
            hub: self.hub.clone()?,
            srtp: self.srtp.clone()?,
            video: self.video.clone(),
            audio: self.audio.clone(),
            session: self.session.clone(),
            return_media: self.return_media.clone(),
            speaker: self.speaker.clone(),
            display: self.display.clone(),
        })
    }
}

/// How the box reaches the broker.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// Whether the connection uses TLS (`mqtts://`).
    pub tls: bool,
    /// Broker host.
    pub host: String,
    /// Broker port (default 8883 for mqtts, 1883 for mqtt).
    pub port: u16,
    /// CA certificate(s) to verify the broker with (PEM); `None` = system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate for mutual TLS (PEM).
    pub cert_file: Option<PathBuf>,
    /// Client certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Password, if the broker wants one.
    pub password: Option<String>,
    /// Topics are `<topic_root>/<device_id>/...`.
    pub topic_root: String,
    /// Whether `mqtt://` (no TLS) is allowed.
    pub allow_plaintext: bool,
    /// MQTT keep-alive in seconds.
    pub keepalive_s: u32,
}

impl MqttConfig {
    /// The broker's address.
    pub fn broker_url(&self) -> bridgepoint_proto::BrokerUrl {
        bridgepoint_proto::BrokerUrl {
            tls: self.tls,
            host: self.host.clone(),
            port: self.port,
        }
    }
}

impl fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttConfig")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("topic_root", &self.topic_root)
            .field("allow_plaintext", &self.allow_plaintext)
            .finish()
    }
}

/// Who may sign pushed configs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustConfig {
    /// Raw Ed25519 public keys; empty = unsigned configs accepted (development only).
    pub config_keys: Vec<[u8; 32]>,
}

/// The part of the config that says what is streamed and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// The central hub's receiving address.
    pub hub: HubConfig,
    /// SRTP protection.
    pub srtp: SrtpConfig,
    /// Camera and video encoding.
    pub video: VideoConfig,
    /// Microphone and audio encoding.
    pub audio: AudioConfig,
    /// When the box streams.
    pub session: SessionConfig,
    /// The hub's media coming back to the box.
    pub return_media: ReturnConfig,
    /// Where the hub's sound plays.
    pub speaker: SpeakerConfig,
    /// Where the hub's picture shows.
    pub display: DisplayConfig,
}

/// Where the hub's sound plays (`[speaker]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// The output.
    pub sink: SpeakerSink,
}

/// A speaker output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakerSink {
    /// The best playback device found (USB, then HDMI, then any), else none.
    Auto,
    /// An ALSA device such as `plughw:CARD=vc4hdmi0,DEV=0`.
    Alsa(String),
    /// Played in real time into nothing (no speaker).
    Fake,
}

/// The room's screen (`[display]`): where the hub's picture shows, and the
/// card the box draws when there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayConfig {
    /// The output.
    pub sink: DisplaySink,
    /// The language of the card.
    pub language: Language,
    /// Whether a session shows the room's own camera small in a corner.
    pub self_view: bool,
    /// The bridge point's name on the card; `None`: the device id.
    pub name: Option<String>,
}

/// The language of what the box shows (`[display] language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Vietnamese (the default).
    Vi,
    /// English.
    En,
}

/// A display output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplaySink {
    /// KMS where a screen is connected, else none.
    Auto,
    /// The KMS/DRM display (HDMI).
    Kms,
    /// Shown in real time into nothing (no screen).
    Fake,
}

/// The central hub's receiving address, and the box's own ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Host name or IP address of the hub.
    pub host: String,
    /// UDP port for video RTP; RTCP uses the next port.
    pub video_port: u16,
    /// UDP port for audio RTP; RTCP uses the next port.
    pub audio_port: u16,
    /// The box's own video RTP port, which it sends from and receives the
    /// hub's video on (RTCP on the next port); `None`: a free port picked at
    /// each session start.
    pub local_video_port: Option<u16>,
    /// The box's own audio RTP port, as `local_video_port`.
    pub local_audio_port: Option<u16>,
    /// What the hub's receiver may ask of the box's video (`hub.feedback`).
    pub feedback: HubFeedback,
}

/// Whether the box offers the hub's receiver RTCP feedback on its video
/// (`[hub] feedback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubFeedback {
    /// Plain `RTP/SAVP` (the default): a recorder such as ffmpeg, which
    /// sends no RTCP.
    None,
    /// `RTP/SAVPF` (RFC 5124): the box retransmits what a NACK names
    /// (RFC 4588, its own payload type) and answers PLI/FIR with a
    /// keyframe, at most one a second.
    Avpf,
}

impl HubFeedback {
    /// The value as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            HubFeedback::None => "none",
            HubFeedback::Avpf => "avpf",
        }
    }
}

/// SRTP suite and master keys, one per direction.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpConfig {
    /// The protection suite (both directions).
    pub suite: SrtpSuite,
    /// Master key followed by master salt, `suite.key_len()` bytes: what
    /// the box sends.
    pub key: Vec<u8>,
    /// The key of what the hub sends back; `None`: the box receives no
    /// media (a hub that only records).
    pub receive_key: Option<Vec<u8>>,
}

impl fmt::Debug for SrtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material, not even in debug output.
        f.debug_struct("SrtpConfig")
            .field("suite", &self.suite)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field(
                "receive_key",
                &self
                    .receive_key
                    .as_ref()
                    .map(|k| format!("<{} bytes>", k.len())),
            )
            .finish()
    }
}

/// The hub's media coming back to the box (`[return]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnConfig {
    /// The jitter buffer's latency: how long a packet may be late.
    pub latency_ms: u32,
}

impl Default for ReturnConfig {
    fn default() -> Self {
        ReturnConfig { latency_ms: 100 }
    }
}

/// Where video comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// A generated test picture.
    Test,
    /// The first camera found.
    Auto,
    /// A V4L2 capture device such as `/dev/video0`.
    V4l2(PathBuf),
}

/// Which H.264 encoder to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoEncoder {
    /// The board's hardware encoder if it has one, else software.
    Auto,
    /// The board's hardware encoder; fail if there is none.
    Hardware,
    /// x264 (software).
    X264,
    /// OpenH264 (software).
    OpenH264,
}

/// Camera and video encoding settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoConfig {
    /// Where video comes from.
    pub source: VideoSource,
    /// Which encoder to use (ignored when the camera itself sends H.264).
    pub encoder: VideoEncoder,
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Target bitrate: the ceiling the rate control climbs back to.
    pub bitrate_kbps: u32,
    /// The floor the rate control never goes under.
    pub min_bitrate_kbps: u32,
    /// Seconds between keyframes (SPS/PPS are sent with each).
    pub keyframe_interval_s: u32,
    /// Whether a camera's own H.264 may be sent as it is.
    pub passthrough: Passthrough,
    /// Periodic intra refresh instead of keyframes (x264 only): every
    /// `keyframe_interval_s` a column of intra blocks sweeps the picture,
    /// so no single frame bursts a narrow link's queue.
    pub intra_refresh: bool,
}

/// Whether a camera that encodes H.264 itself (UVC H.264) is passed
/// through. Such cameras choose their own keyframe interval (often one
/// every 8 s or more), ignore keyframe requests, and send Main or High
/// profile, so the default is `Never`: their raw or MJPEG modes are encoded
/// by the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passthrough {
    /// Always encode on the box.
    Never,
    /// Pass the camera's H.264 through when it offers the configured size
    /// and rate exactly.
    Auto,
    /// Pass through whenever the camera offers H.264 (the nearest mode).
    Always,
}

/// Where audio comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioSource {
    /// A generated test tone.
    Test,
    /// The system's default capture device.
    Auto,
    /// An ALSA device such as `hw:1,0`.
    Alsa(String),
}

/// Microphone and audio encoding settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioConfig {
    /// Where audio comes from.
    pub source: AudioSource,
    /// Opus bitrate.
    pub bitrate_kbps: u32,
    /// Which input channel(s) make the mono microphone signal.
    pub channel: AudioChannel,
    /// Cancel the speaker's sound in the microphone (with a receive key).
    pub echo_cancellation: bool,
    /// How much later the microphone hears the speaker than the box's own
    /// audio pipeline accounts for: the speaker's hidden delay (a TV over
    /// HDMI, a USB or Bluetooth speaker) and the room's path. The canceller
    /// looks for the echo this much later.
    pub echo_delay_ms: u32,
    /// Suppress steady noise in the microphone.
    pub noise_suppression: bool,
    /// Keep the microphone's level steady.
    pub gain_control: bool,
}

/// Which channels of the capture device make the mono signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioChannel {
    /// Mix the channels of devices that can give one or two; channel 0 of
    /// devices that give three or more only (microphone arrays put their
    /// processed signal first and raw microphones and the echo reference
    /// after it).
    Auto,
    /// Mix every channel.
    Mix,
    /// Only this channel (0-based).
    Only(u32),
}

/// When the box streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    /// Only during a call (after the call button).
    OnCall,
    /// All the time, from start.
    Always,
}

/// Session behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// When the box streams.
    pub mode: SessionMode,
    /// How long a call waits for the hub to answer.
    pub call_timeout_s: u32,
}
