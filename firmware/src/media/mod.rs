//! The GStreamer adapter: plan, build, run and count the media pipeline.
//!
//! - [`discovery`]: the cameras, microphones, speakers, displays and GPIO
//!   chips plugged in.
//! - [`plan`]: which camera mode, encoder and microphone channels this
//!   board uses (the choices are the core's).
//! - [`elements`]: every element factory it can create, and its packages.
//! - [`pipeline`]: builds the SRTP pipeline in one function.
//! - [`runner`]: starts/stops pipelines and reports typed events.
//! - [`start_align`]: starts the audio at the video's first frame.
//! - [`feedback`]: what the hub's RTCP feedback gets (retransmissions,
//!   keyframe requests at most once a second).
//! - [`transport_feedback`]: the hub's per-packet feedback (transport-cc).
//! - [`return_path`]: the hub's media coming back, decrypted, decoded, played.
//! - [`screen`]: the room's screen (the card, central's picture, self-view).
//! - [`pacing`]: the video's packets spaced by the core's pacer.
//! - [`stats`]: packet and byte counters.
//! - [`video_gate`]: stops the video when the circuit breaker says so.
//! - [`latency`]: encoder-to-send delay probes (for the benchmark).
//! - [`probe`]: discarding what a pad probe holds, the way GStreamer expects.
//! - [`error`]: typed pipeline errors naming the element.

pub mod discovery;
pub mod elements;
pub mod error;
pub mod feedback;
pub mod hub_address;
pub mod latency;
pub mod pacing;
pub mod pipeline;
pub mod plan;
pub mod probe;
pub mod return_path;
pub mod runner;
pub mod screen;
pub mod start_align;
pub mod stats;
pub mod transport_feedback;
pub mod video_gate;

pub use error::PipelineError;
pub use runner::{MediaEvent, MediaRunner};

/// Initialises GStreamer once per process.
pub fn init() -> Result<(), PipelineError> {
    gstreamer::init().map_err(|e| PipelineError::Init(e.to_string()))
}
