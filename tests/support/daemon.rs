//! `bridgepointd` as a child process.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use bridgepoint_testkit::wait_for;

use crate::bin;

/// A running daemon; killed when dropped.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    /// The binary it runs.
    program: PathBuf,
    /// The config file it runs with.
    pub config: PathBuf,
    /// Its data_dir.
    pub data_dir: PathBuf,
    /// Where its log goes.
    pub log: PathBuf,
}

impl Daemon {
    /// Writes `config_text` to `dir/box.toml` and starts the daemon with it;
    /// returns once the simulated board's socket exists.
    pub fn start(dir: &Path, config_text: &str) -> Daemon {
        Daemon::start_with_env(dir, config_text, &[])
    }

    /// Starts the daemon on [`fixtures::config_on_free_ports`] (test sources
    /// streaming to free loopback ports) with `mode` and the video `size`.
    ///
    /// [`fixtures::config_on_free_ports`]: crate::fixtures::config_on_free_ports
    pub fn start_on_free_ports(dir: &Path, mode: &str, size: (u32, u32)) -> Daemon {
        let text = crate::fixtures::config_on_free_ports(dir, mode, size);
        Daemon::start(dir, &text)
    }

    /// Like [`Daemon::start`], with the daemon binary at `bin` (a bench's
    /// `--daemon`).
    pub fn start_binary(bin: &Path, dir: &Path, config_text: &str) -> Daemon {
        Daemon::spawn(dir, config_text, Command::new(bin))
    }

    /// Like [`Daemon::start`], with extra environment variables.
    pub fn start_with_env(dir: &Path, config_text: &str, env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(bin("bridgepointd"));
        command.envs(env.iter().copied());
        Daemon::spawn(dir, config_text, command)
    }

    /// Like [`Daemon::start`], in a network namespace of its own (needs
    /// root, as the test command has): `setup` (shell, in that namespace)
    /// makes its links and routes before the daemon starts; see
    /// [`Daemon::in_its_network`] to change them while it runs.
    pub fn start_in_own_network(dir: &Path, config_text: &str, setup: &str) -> Daemon {
        let mut command = Command::new("unshare");
        command
            .args(["--net", "sh", "-ec"])
            .arg(format!("{setup}\nexec \"$0\" \"$@\""));
        command.arg(bin("bridgepointd"));
        Daemon::spawn(dir, config_text, command)
    }

    /// Runs `shell` in the daemon's network namespace (see
    /// [`Daemon::start_in_own_network`]); panics if it fails.
    pub fn in_its_network(&self, shell: &str) {
        let status = Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", self.child.id()))
            .args(["sh", "-ec", shell])
            .status()
            .expect("run nsenter");
        assert!(
            status.success(),
            "in the daemon's network: {shell}: {status}"
        );
    }

    fn spawn(dir: &Path, config_text: &str, mut command: Command) -> Daemon {
        let config = dir.join("box.toml");
        std::fs::write(&config, config_text).expect("write config");
        let log = dir.join("bridgepointd.log");
        let log_file = File::create(&log).expect("create log");
        let program = PathBuf::from(command.get_program());
        let child = command
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .spawn()
            .expect("start bridgepointd");
        let data_dir = dir.join("data");
        let mut daemon = Daemon {
            child,
            program,
            config,
            data_dir,
            log,
        };
        let socket = daemon.data_dir.join("board.sock");
        let up = wait_for(Duration::from_secs(10), || socket.exists().then_some(()));
        if up.is_none() {
            let _ = daemon.child.kill();
            panic!("daemon did not come up; log:\n{}", daemon.log_text());
        }
        daemon
    }

    /// The simulated board's socket.
    pub fn socket(&self) -> PathBuf {
        self.data_dir.join("board.sock")
    }

    /// The session description its binary prints for its config
    /// (`bridgepointd sdp`); panics if that fails.
    pub fn sdp(&self) -> String {
        let out = Command::new(&self.program)
            .arg("sdp")
            .arg("--config")
            .arg(&self.config)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run bridgepointd sdp");
        assert!(
            out.status.success(),
            "bridgepointd sdp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("the SDP is UTF-8")
    }

    /// Everything the daemon logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the daemon with SIGKILL, as a pulled plug would (no clean-up at
    /// all); returns its log.
    pub fn kill9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log_text()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status success.
    pub fn stop(mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let exited = wait_for(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten()
        });
        exited.is_some_and(|s| s.success())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `bridgepointd` with `args` to completion.
pub fn run_cli(args: &[&str]) -> Output {
    Command::new(bin("bridgepointd"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run bridgepointd")
}
