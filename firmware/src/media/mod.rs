//! The GStreamer adapter: plan, build, run and count the media pipeline.
//!
//! - [`plan`]: which camera, encoder and microphone this board uses.
//! - [`pipeline`]: builds the SRTP pipeline in one function.
//! - [`runner`]: starts/stops pipelines and reports typed events.
//! - [`start_align`]: starts the audio at the video's first frame.
//! - [`stats`]: packet and byte counters.
//! - [`latency`]: encoder-to-send delay probes (for the benchmark).
//! - [`error`]: typed pipeline errors naming the element.

pub mod error;
pub mod latency;
pub mod pipeline;
pub mod plan;
pub mod runner;
pub mod start_align;
pub mod stats;

pub use error::PipelineError;
pub use runner::{MediaEvent, MediaRunner};

/// Initialises GStreamer once per process.
pub fn init() -> Result<(), PipelineError> {
    gstreamer::init().map_err(|e| PipelineError::Init(e.to_string()))
}
