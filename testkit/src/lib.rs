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
//! - [`impairment`]: the sans-IO network impairment model (loss, bursts,
//!   delay, jitter, a rate limit with its queue, blackouts, phases over
//!   time) and its script language.
//! - [`relay`]: [`relay::ImpairedRelay`], a UDP relay between the box and
//!   the hub that carries out the model's decisions on real sockets (the
//!   `impair-relay` binary is its command line). See docs/impairment.md.

pub mod broker;
pub mod certs;
pub mod impairment;
mod ports;
mod process;
pub mod relay;
mod temp_dir;
mod wait;

pub use ports::{free_tcp_port, free_udp_ports};
pub use process::assert_success;
pub use temp_dir::TempDir;
pub use wait::wait_for;
