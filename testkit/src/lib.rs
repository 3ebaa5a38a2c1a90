//! Test support shared by the system tests (`tests/`) and bpctl's tests
//! (`bpctl/tests/`). It links no GStreamer: the media helpers stay in
//! `tests/support`.
//!
//! - [`TempDir`]: a directory removed on drop (kept with `BP_KEEP_TEST_DIRS`).
//! - [`free_tcp_port`], [`free_udp_ports`]: loopback ports free when probed.
//! - [`wait_for`]: polls a check until it holds or a timeout passes.
//! - [`assert_success`]: a finished command succeeded, or panic with its output.
//! - [`broker`]: a real mosquitto, plain or with mutual TLS and the boxes'
//!   ACL, stoppable and restartable on its port, and the `mosquitto_pub` /
//!   `mosquitto_sub` clients as independent MQTT peers.
//! - [`certs`]: a throw-away PKI (CA, server and client certificates) made
//!   with rcgen, as PEM files in a directory.

pub mod broker;
pub mod certs;
mod ports;
mod process;
mod temp_dir;
mod wait;

pub use ports::{free_tcp_port, free_udp_ports};
pub use process::assert_success;
pub use temp_dir::TempDir;
pub use wait::wait_for;
