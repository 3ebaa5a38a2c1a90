//! A client of the simulated board's line protocol.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use bridgepoint_testkit::wait_for;

use crate::daemon::Daemon;

/// A connection to `<data_dir>/board.sock`.
#[derive(Debug)]
pub struct SimBoard {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl SimBoard {
    /// Connects to the socket.
    pub fn connect(socket: &Path) -> SimBoard {
        let stream = UnixStream::connect(socket).expect("connect to the simulated board");
        stream
            .set_read_timeout(Some(Duration::from_secs(70)))
            .expect("timeout");
        SimBoard {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    /// Sends one command line and returns the one-line answer.
    pub fn cmd(&mut self, line: &str) -> String {
        writeln!(self.writer, "{line}").expect("send command");
        let mut answer = String::new();
        self.reader.read_line(&mut answer).expect("read answer");
        answer.trim_end().to_owned()
    }

    /// The `state` answer parsed.
    pub fn state(&mut self) -> serde_json::Value {
        serde_json::from_str(&self.cmd("state")).expect("state is JSON")
    }

    /// The pattern of one LED from the `leds` answer.
    pub fn led(&mut self, name: &str) -> String {
        let leds: serde_json::Value =
            serde_json::from_str(&self.cmd("leds")).expect("leds is JSON");
        leds[name]["pattern"]
            .as_str()
            .unwrap_or("<missing>")
            .to_owned()
    }

    /// Waits until `state.stream` is `want`; returns whether it got there.
    pub fn wait_stream(&mut self, want: &str, timeout: Duration) -> bool {
        wait_for(timeout, || (self.state()["stream"] == want).then_some(())).is_some()
    }

    /// Waits until `state.stream` is `want`; panics with the daemon's log if
    /// it does not get there within `timeout`.
    pub fn assert_stream(&mut self, want: &str, timeout: Duration, daemon: &Daemon) {
        assert!(
            self.wait_stream(want, timeout),
            "log:\n{}",
            daemon.log_text()
        );
    }
}
