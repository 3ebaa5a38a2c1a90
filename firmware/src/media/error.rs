//! Typed pipeline errors, each naming the element or plugin at fault.

/// Why the media pipeline could not be built or stopped running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// The box has no hub address or SRTP key yet.
    #[error("no hub or SRTP key yet: waiting for central IT to provision this box")]
    NotProvisioned,
    /// GStreamer itself could not start.
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),
    /// A GStreamer element is not installed.
    #[error("GStreamer element {factory:?} (for the {role}) is missing: install {package}")]
    MissingElement {
        /// The element factory name, e.g. `srtpenc`.
        factory: String,
        /// What the pipeline needed it for.
        role: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// `video.encoder = "hardware"` on a board without one.
    #[error("video.encoder is \"hardware\" but this board has no hardware H.264 encoder (GStreamer element v4l2h264enc is missing); use \"auto\" to fall back to software")]
    NoHardwareEncoder,
    /// No camera, or none offers a mode the box can use (names the device).
    #[error("video.source: {0}")]
    Camera(String),
    /// The configured video is more than the chosen encoder can do (each
    /// reason names its key).
    #[error("{0}")]
    EncoderLimits(String),
    /// No microphone, or the configured channel is not there.
    #[error("audio.source: {0}")]
    Microphone(String),
    /// The suite is not supported by this GStreamer's SRTP plugin.
    #[error("srtp.suite {suite}: this GStreamer's srtpenc does not support cipher {cipher:?}")]
    UnsupportedSuite {
        /// The configured suite.
        suite: String,
        /// The srtpenc cipher it needs.
        cipher: &'static str,
    },
    /// Two elements could not be linked.
    #[error("cannot link {from} to {to}: {reason}")]
    Link {
        /// Upstream element/pad.
        from: String,
        /// Downstream element/pad.
        to: String,
        /// Why.
        reason: String,
    },
    /// An element posted an error on the bus.
    #[error("element {element}: {message}")]
    Element {
        /// The element's name, e.g. `video-source`.
        element: String,
        /// GStreamer's message.
        message: String,
        /// GStreamer's debug detail, if any.
        debug: Option<String>,
    },
    /// The hub's host name does not resolve (a typo, or no DNS at the
    /// province): nothing can be sent.
    #[error("hub.host {host:?} does not resolve ({reason}): nothing is sent; the box tries again")]
    HubAddress {
        /// The configured host.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
    /// The pipeline refused to change state.
    #[error("pipeline could not start: {0}")]
    StateChange(String),
    /// A live pipeline reached its end.
    #[error("element {element} ended the stream (end of stream)")]
    EndOfStream {
        /// The element that posted EOS (usually the pipeline).
        element: String,
    },
}
