//! The simulated board: a line protocol on a Unix socket.
//!
//! With `board = "sim"` the daemon listens on `<data_dir>/board.sock`. Each
//! line is one command and gets exactly one line back:
//!
//! | command            | effect                                           | answer |
//! |--------------------|--------------------------------------------------|--------|
//! | `press call`       | a short press (down, 120 ms, up)                 | `ok` once released |
//! | `hold call <ms>`   | a press held `<ms>` milliseconds (1..=60000)      | `ok` once released |
//! | `leds`             | —                                                | `{"call":{"pattern":"on"},"status":{"pattern":"heartbeat"}}` |
//! | `state`            | —                                                | `{"call":"in_session","stream":"streaming"}` |
//! | `help`             | —                                                | the command list |
//!
//! Anything else is answered with `error: <reason>`. The edges go through the
//! same debounce and press logic as a real button's.
//!
//! Limits, so that a misbehaving client costs the daemon a few kilobytes and
//! never its responsiveness: a line longer than [`MAX_LINE`] bytes is
//! answered `error: line longer than 4096 bytes` and its connection closed
//! (no more than the limit is ever buffered); a line that is not UTF-8 is
//! answered `error: not UTF-8 text` and the connection stays; at most
//! [`MAX_CONNECTIONS`] connections are served at once, and one more is
//! answered `error: too many connections ...` and closed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::Arc;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::{BoardError, BoardLink, ButtonEdge};

/// How long `press call` holds the button.
pub const SHORT_PRESS: Duration = Duration::from_millis(120);
/// The longest hold the simulator accepts.
pub const MAX_HOLD_MS: u64 = 60_000;
/// The longest command line read, in bytes without the line end. Commands
/// are a few words; the limit bounds what one connection can make the
/// daemon hold in memory.
pub const MAX_LINE: usize = 4096;
/// The most connections served at once (each costs two 4 KiB buffers and a
/// task). The tests and `bridgepointd board` use one or two.
pub const MAX_CONNECTIONS: usize = 32;

const HELP: &str = "commands: press call | hold call <ms> | leds | state | help";

/// One parsed command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCommand {
    /// Press and release the call button, holding it this long.
    Hold(Duration),
    /// Report the LEDs.
    Leds,
    /// Report the box state.
    State,
    /// List the commands.
    Help,
}

/// Parses one line of the protocol; the error is the reason sent back.
pub fn parse_command(line: &str) -> Result<SimCommand, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["press", button] => check_button(button).map(|()| SimCommand::Hold(SHORT_PRESS)),
        ["hold", button, ms] => {
            check_button(button)?;
            let ms: u64 = ms
                .parse()
                .map_err(|_| format!("hold needs a duration in milliseconds, got {ms:?}"))?;
            if ms == 0 || ms > MAX_HOLD_MS {
                return Err(format!(
                    "hold duration must be 1 to {MAX_HOLD_MS} ms, got {ms}"
                ));
            }
            Ok(SimCommand::Hold(Duration::from_millis(ms)))
        }
        ["press" | "hold", ..] => Err(format!(
            "usage: press call | hold call <ms>; got {:?}",
            line.trim()
        )),
        ["leds"] => Ok(SimCommand::Leds),
        ["state"] => Ok(SimCommand::State),
        ["help"] => Ok(SimCommand::Help),
        [] => Err(format!("empty command ({HELP})")),
        _ => Err(format!("unknown command {:?} ({HELP})", line.trim())),
    }
}

fn check_button(name: &str) -> Result<(), String> {
    if name == "call" {
        Ok(())
    } else {
        Err(format!("unknown button {name:?} (buttons: call)"))
    }
}

/// The simulated board, bound to its socket.
#[derive(Debug)]
pub struct SimBoard {
    listener: UnixListener,
    path: PathBuf,
    link: BoardLink,
}

impl SimBoard {
    /// Binds the socket at `path`, replacing a stale one from an earlier run.
    pub fn bind(path: &Path, link: BoardLink) -> Result<Self, BoardError> {
        let err = |source| BoardError::SimSocket {
            path: path.to_owned(),
            source,
        };
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let listener = UnixListener::bind(path).map_err(err)?;
        Ok(SimBoard {
            listener,
            path: path.to_owned(),
            link,
        })
    }

    /// Serves connections until `cancel` fires, then removes the socket.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!(socket = %self.path.display(), "simulated board listening");
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                        Ok(slot) => {
                            let (link, cancel) = (self.link.clone(), cancel.clone());
                            tokio::spawn(async move {
                                serve(stream, link, cancel).await;
                                drop(slot);
                            });
                        }
                        Err(_) => {
                            tracing::debug!("simulated board: connection refused, {MAX_CONNECTIONS} already open");
                            // A fresh socket's buffer takes one line: this never waits.
                            let _ = stream.try_write(
                                format!("error: too many connections (at most {MAX_CONNECTIONS} at once)\n").as_bytes(),
                            );
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "simulated board: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(stream: UnixStream, link: BoardLink, cancel: CancellationToken) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::with_capacity(MAX_LINE, read);
    let mut buf = Vec::with_capacity(256);
    loop {
        let read = tokio::select! {
            _ = cancel.cancelled() => return,
            read = read_line(&mut reader, &mut buf) => read,
        };
        let (answer, close) = match read {
            Ok(ReadLine::Line(line)) => {
                let answer = match parse_command(&line) {
                    Ok(cmd) => execute(cmd, &link, &cancel).await,
                    Err(reason) => format!("error: {reason}"),
                };
                tracing::debug!(command = %line.trim(), answer = %answer, "simulated board");
                (answer, false)
            }
            Ok(ReadLine::NotUtf8) => ("error: not UTF-8 text".to_owned(), false),
            Ok(ReadLine::TooLong) => (format!("error: line longer than {MAX_LINE} bytes"), true),
            Ok(ReadLine::Closed) | Err(_) => return,
        };
        if write
            .write_all(format!("{answer}\n").as_bytes())
            .await
            .is_err()
            || close
        {
            return;
        }
    }
}

/// What [`read_line`] read.
#[derive(Debug, PartialEq, Eq)]
enum ReadLine {
    /// A line, without its `\n` or `\r\n`.
    Line(String),
    /// A line that is not UTF-8 (consumed).
    NotUtf8,
    /// More than [`MAX_LINE`] bytes without a line end (the rest is unread).
    TooLong,
    /// The client closed the connection.
    Closed,
}

/// Reads one line into `buf`, never holding more than [`MAX_LINE`] bytes
/// of it. A last line without a line end before the client closes counts.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<ReadLine> {
    buf.clear();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            if buf.is_empty() {
                return Ok(ReadLine::Closed);
            }
            break;
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let take = newline.unwrap_or(available.len());
        if buf.len() + take > MAX_LINE {
            return Ok(ReadLine::TooLong);
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take + usize::from(newline.is_some()));
        if newline.is_some() {
            break;
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(match std::str::from_utf8(buf) {
        Ok(line) => ReadLine::Line(line.to_owned()),
        Err(_) => ReadLine::NotUtf8,
    })
}

async fn execute(cmd: SimCommand, link: &BoardLink, cancel: &CancellationToken) -> String {
    match cmd {
        SimCommand::Hold(duration) => {
            if send_edge(link, true).await.is_err() {
                return "error: the box is shutting down".into();
            }
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(duration) => {}
            }
            match send_edge(link, false).await {
                Ok(()) => "ok".into(),
                Err(()) => "error: the box is shutting down".into(),
            }
        }
        SimCommand::Leds => link.view.borrow().leds_json(),
        SimCommand::State => link.view.borrow().state_json(),
        SimCommand::Help => HELP.into(),
    }
}

async fn send_edge(link: &BoardLink, pressed: bool) -> Result<(), ()> {
    link.edges
        .send(ButtonEdge {
            pressed,
            at: Instant::now(),
        })
        .await
        .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse_command("press call"),
            Ok(SimCommand::Hold(SHORT_PRESS))
        );
        assert_eq!(
            parse_command("  hold call 2500 "),
            Ok(SimCommand::Hold(Duration::from_millis(2500)))
        );
        assert_eq!(parse_command("leds"), Ok(SimCommand::Leds));
        assert_eq!(parse_command("state"), Ok(SimCommand::State));
        assert_eq!(parse_command("help"), Ok(SimCommand::Help));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        let err = |l: &str| parse_command(l).unwrap_err();
        assert!(err("dance").starts_with("unknown command \"dance\""));
        assert!(err("press door").contains("unknown button \"door\""));
        assert!(err("hold call soon").contains("milliseconds, got \"soon\""));
        assert!(err("hold call 0").contains("1 to 60000 ms, got 0"));
        assert!(err("hold call 999999").contains("got 999999"));
        assert!(err("hold call").starts_with("usage:"));
        assert!(err("").starts_with("empty command"));
    }
}

#[cfg(test)]
mod limit_tests {
    //! The socket's limits, against a real Unix socket in a temp dir.

    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::UnixStream as StdStream;

    use super::*;
    use crate::BoardView;

    struct Board {
        dir: PathBuf,
        socket: PathBuf,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<()>,
        _edges: tokio::sync::mpsc::Receiver<ButtonEdge>,
        _view: tokio::sync::watch::Sender<BoardView>,
    }

    impl Board {
        fn start(label: &str) -> Board {
            let dir = std::env::temp_dir().join(format!("bp-sim-{label}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let socket = dir.join("board.sock");
            let (edges, edges_rx) = tokio::sync::mpsc::channel(16);
            let (view_tx, view) = tokio::sync::watch::channel(BoardView::starting());
            let sim = SimBoard::bind(&socket, BoardLink { edges, view }).unwrap();
            let cancel = CancellationToken::new();
            let task = tokio::spawn(sim.run(cancel.clone()));
            Board {
                dir,
                socket,
                cancel,
                task,
                _edges: edges_rx,
                _view: view_tx,
            }
        }

        async fn stop(self) {
            self.cancel.cancel();
            self.task.await.unwrap();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn connect(socket: &Path) -> StdStream {
        let stream = StdStream::connect(socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    fn answer(stream: &StdStream) -> String {
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    /// One command on a fresh connection (blocking; run off the runtime).
    fn ask(socket: &Path, command: &[u8]) -> String {
        let mut stream = connect(socket);
        stream.write_all(command).unwrap();
        answer(&stream)
    }

    async fn ask_async(socket: &Path, command: &'static [u8]) -> String {
        let socket = socket.to_owned();
        tokio::task::spawn_blocking(move || ask(&socket, command))
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_64_mib_line_is_refused_after_4_kib_and_the_board_still_answers() {
        let board = Board::start("long");
        let socket = board.socket.clone();
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let socket = socket.clone();
                tokio::task::spawn_blocking(move || {
                    let mut stream = connect(&socket);
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut sent = 0usize;
                    while sent < 64 << 20 {
                        match stream.write(&chunk) {
                            Ok(n) => sent += n,
                            Err(_) => break,
                        }
                    }
                    (sent, answer(&stream))
                })
            })
            .collect();
        for client in clients {
            let (sent, answer) = client.await.unwrap();
            assert_eq!(answer, "error: line longer than 4096 bytes");
            // The board closed the connection instead of reading on: only
            // what fits in the socket's buffers was sent.
            assert!(sent < 16 << 20, "the board read {sent} bytes of one line");
        }
        assert!(ask_async(&socket, b"state\n")
            .await
            .starts_with("{\"call\":"));
        board.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_line_of_exactly_4096_bytes_is_still_read() {
        let board = Board::start("exact");
        let socket = board.socket.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let mut line = vec![b'a'; MAX_LINE];
            line.push(b'\n');
            ask(&socket, &line)
        })
        .await
        .unwrap();
        assert!(
            answer.starts_with("error: unknown command \"aaaa"),
            "{answer:.60}"
        );
        board.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_line_that_is_not_utf8_is_answered_and_the_connection_stays() {
        let board = Board::start("utf8");
        let socket = board.socket.clone();
        let answers = tokio::task::spawn_blocking(move || {
            let mut stream = connect(&socket);
            stream.write_all(b"press \xff\xfe call\n").unwrap();
            let first = answer(&stream);
            stream.write_all(b"leds\r\n").unwrap();
            (first, answer(&stream))
        })
        .await
        .unwrap();
        assert_eq!(answers.0, "error: not UTF-8 text");
        assert!(answers.1.starts_with("{\"call\":"), "{answers:?}");
        board.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_over_the_limit_are_refused_and_the_board_still_answers() {
        let board = Board::start("many");
        let socket = board.socket.clone();
        let (refused, held) = tokio::task::spawn_blocking(move || {
            // Each held connection has been served once, so it holds a slot.
            let held: Vec<StdStream> = (0..MAX_CONNECTIONS)
                .map(|_| {
                    let mut s = connect(&socket);
                    s.write_all(b"help\n").unwrap();
                    assert!(answer(&s).starts_with("commands:"));
                    s
                })
                .collect();
            let mut extra = connect(&socket);
            let mut refused = String::new();
            extra.read_to_string(&mut refused).unwrap();
            (refused, held)
        })
        .await
        .unwrap();
        assert_eq!(
            refused.trim_end(),
            format!("error: too many connections (at most {MAX_CONNECTIONS} at once)")
        );
        drop(held);
        // The slots come back once the board sees the connections closed.
        let socket = board.socket.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let answer = ask(&socket, b"state\n");
                if answer.starts_with('{') || Instant::now() > deadline {
                    return answer;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .unwrap();
        assert!(answer.starts_with("{\"call\":"), "{answer}");
        board.stop().await;
    }

    #[tokio::test]
    async fn read_line_never_holds_more_than_the_limit() {
        let mut input: &[u8] = b"leds\r\n\xff\nhelp";
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut input, &mut buf).await.unwrap(),
            ReadLine::Line("leds".into())
        );
        assert_eq!(
            read_line(&mut input, &mut buf).await.unwrap(),
            ReadLine::NotUtf8
        );
        assert_eq!(
            read_line(&mut input, &mut buf).await.unwrap(),
            ReadLine::Line("help".into())
        );
        assert_eq!(
            read_line(&mut input, &mut buf).await.unwrap(),
            ReadLine::Closed
        );
        let long = vec![b'x'; 3 * MAX_LINE];
        let mut input = tokio::io::BufReader::with_capacity(1000, long.as_slice());
        assert_eq!(
            read_line(&mut input, &mut buf).await.unwrap(),
            ReadLine::TooLong
        );
        assert!(
            buf.len() <= MAX_LINE && buf.capacity() < 2 * MAX_LINE,
            "{}",
            buf.capacity()
        );
    }
}
