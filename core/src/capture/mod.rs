//! Capture devices: which camera mode and which microphone channels the box
//! uses, decided from what discovery found. Discovery itself (V4L2 ioctls,
//! ALSA's /proc files) is IO and lives in the firmware
//! (`bridgepoint_firmware::media::discovery`); the decisions are here.
//!
//! - [`camera`]: cameras, their modes, and the choice of camera and mode.
//! - [`microphone`]: capture devices and the choice of device and channels.

pub mod camera;
pub mod microphone;
