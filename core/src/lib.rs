//! Sans-IO core of the Bridgepoint box.
//!
//! Everything in this crate is a pure function of its inputs and the current
//! time, which callers pass in as [`std::time::Instant`]. Nothing here reads a
//! clock, sleeps, spawns a thread, opens a file or socket, or touches
//! GStreamer: the daemon (`bridgepoint-firmware`) and the board crate
//! (`bridgepoint-board`) are the adapters that do IO and feed this core.
//! That is what lets the tests drive hours of button presses, call timeouts
//! and pipeline restarts in microseconds.
//!
//! The pieces:
//! - [`config`]: the box's configuration model and its validation, with an
//!   error per bad key naming the key's path.
//! - [`srtp`]: SRTP protection suites and their key lengths.
//! - [`sdp`]: the SDP a hub receiver records the stream with.
//! - [`button`]: debounce and short/long/power-up press classification.
//! - [`call`]: the call/session state machine.
//! - [`capture`]: which camera mode and which microphone channels to use.
//! - [`command_gate`]: which commands from central IT the box obeys
//!   (signatures, binding to the box, replay counter, expiry).
//! - [`provision`]: whether a pushed config is applied or rejected, and how.
//! - [`signature`]: the signature policy configs and commands share.
//! - [`supervisor`]: the media pipeline's restart policy.
//! - [`backoff`]: exponential back-off with jitter, used for every retry.
//! - [`health`]: the post-update health gate (mark the slot good or bad).
//! - [`update`]: whether a remote update may start.
//! - [`wall_clock`]: whether the box's wall clock can be believed.
//!
//! The wire formats themselves (topics, payloads, the command set) are in
//! `bridgepoint-proto`; this crate decides what to do with them.
//! - [`indication`]: the single mapping from box state to what the room
//!   is told; [`led`] shows it as LED patterns, [`screen`] as the card.
//! - [`led`]: LED patterns.
//! - [`pacer`]: spaces the video's packets at a steady rate (no keyframe
//!   bursts into the link's queue).
//! - [`screen`]: what the room's screen shows (card, central, self-view).
//! - [`return_watch`]: what the hub's return stream is doing.
//! - [`playback`]: which speaker and display play the hub's return media.
//! - [`controller`]: the composed box core the daemon drives.

pub mod backoff;
pub mod button;
pub mod call;
pub mod capture;
pub mod circuit_breaker;
pub mod command_gate;
pub mod config;
pub mod controller;
pub mod delay_control;
pub mod encoder_limits;
pub mod feedback_watch;
pub mod health;
pub mod indication;
pub mod keyframe_policy;
pub mod led;
pub mod pacer;
pub mod playback;
pub mod provision;
pub mod rate_control;
pub mod retransmission;
pub mod return_watch;
pub mod screen;
pub mod sdp;
pub mod send_control;
pub mod signature;
pub mod srtp;
pub mod supervisor;
pub mod update;
pub mod wall_clock;
