//! The `bpctl list` table: one row per box from its retained status and
//! last report.

use std::fmt::Write as _;

use bridgepoint_proto::{ConfigReported, PushState, Status};
use serde_json::{json, Value};

/// One row of `list`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoxRow {
    /// Device id.
    pub device: String,
    /// Its status, if it published one.
    pub status: Option<Status>,
    /// Its last report, if any.
    pub report: Option<ConfigReported>,
}

impl BoxRow {
    /// The config version it runs: from the status while online, else the
    /// last report's `applied_version`.
    pub fn config_version(&self) -> Option<u64> {
        self.status
            .as_ref()
            .and_then(Status::online)
            .map(|s| s.config_version)
            .or_else(|| self.report.as_ref().map(|r| r.applied_version))
    }

    fn online(&self) -> Option<bool> {
        self.status.as_ref().map(Status::is_online)
    }

    fn problem(&self) -> Option<&str> {
        self.status.as_ref()?.online()?.problem.as_deref()
    }

    fn last_push(&self) -> String {
        match &self.report {
            None => "-".into(),
            Some(r) => {
                let v = r.version.map_or("?".into(), |v| v.to_string());
                match (r.state, &r.error) {
                    (PushState::Applied, _) => format!("applied v{v}"),
                    (PushState::Rejected, Some(e)) => format!("rejected v{v}: {e}"),
                    (PushState::Rejected, None) => format!("rejected v{v}"),
                }
            }
        }
    }

    /// The row as JSON for `list --json`.
    pub fn to_json(&self) -> Value {
        let s = self.status.as_ref().and_then(Status::online);
        json!({
            "device_id": self.device,
            "online": self.online(),
            "firmware": s.map(|s| s.firmware.clone()),
            "config_version": self.config_version(),
            "call": s.map(|s| s.call.name()),
            "stream": s.map(|s| s.stream.name()),
            "return_stream": s.and_then(|s| s.return_stream).map(|r| r.name()),
            "video": s.and_then(|s| s.video.clone()),
            "feedback": s.and_then(|s| s.feedback).map(|f| f.name()),
            "slot": s.and_then(|s| s.slot.clone()),
            "problem": self.problem(),
            "last_push": self.report.as_ref().map(|r| json!({
                "version": r.version,
                "state": if r.state == PushState::Applied { "applied" } else { "rejected" },
                "error": r.error,
            })),
        })
    }
}

/// The `list` table (rows sorted by the caller), a line per box with a
/// problem, and the summary line.
pub fn render_table(rows: &[BoxRow]) -> String {
    const HEADER: [&str; 10] = [
        "DEVICE",
        "ONLINE",
        "FIRMWARE",
        "CONFIG",
        "CALL",
        "STREAM",
        "VIDEO",
        "FEEDBACK",
        "RETURN",
        "LAST PUSH",
    ];
    let dash = || "-".to_owned();
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            // An offline box's status is its Last Will: call/stream are unknown.
            let live = r.status.as_ref().and_then(Status::online);
            let online = match r.online() {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "?".into(),
            };
            [
                r.device.clone(),
                online,
                live.map_or_else(dash, |s| s.firmware.clone()),
                r.config_version().map_or_else(dash, |v| v.to_string()),
                live.map_or_else(dash, |s| s.call.name().to_owned()),
                live.map_or_else(dash, |s| s.stream.name().to_owned()),
                live.and_then(|s| s.video.clone()).unwrap_or_else(dash),
                live.and_then(|s| s.feedback)
                    .map_or_else(dash, |f| f.name().to_owned()),
                live.and_then(|s| s.return_stream)
                    .map_or_else(dash, |s| s.name().to_owned()),
                r.last_push(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |row: &[String]| {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(&HEADER.map(str::to_owned));
    for row in &cells {
        push_row(row);
    }
    for r in rows {
        if let Some(problem) = r.problem() {
            let _ = writeln!(out, "{}: PROBLEM: {problem}", r.device);
        }
    }
    let online = rows.iter().filter(|r| r.online() == Some(true)).count();
    let _ = writeln!(out, "{} boxes, {online} online", rows.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridgepoint_proto::{
        CallStatus, OfflineStatus, OnlineStatus, ReturnStreamStatus, StreamStatus,
    };

    #[test]
    fn list_table() {
        let rows = vec![
            BoxRow {
                device: "hue-02".into(),
                status: Some(Status::Offline(OfflineStatus {
                    device_id: "hue-02".into(),
                })),
                report: Some(ConfigReported::applied(5)),
            },
            BoxRow {
                device: "lang-son-01".into(),
                status: Some(Status::Online(OnlineStatus {
                    device_id: "lang-son-01".into(),
                    firmware: "0.1.0".into(),
                    config_version: 3,
                    call: CallStatus::Idle,
                    stream: StreamStatus::Streaming,
                    slot: None,
                    problem: Some("1 event(s) kept in memory only".into()),
                    return_stream: Some(ReturnStreamStatus::Interrupted),
                    video: Some("congestion".into()),
                    feedback: Some(bridgepoint_proto::FeedbackStatus::ReceiverReports),
                })),
                report: None,
            },
        ];
        let table = render_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "DEVICE       ONLINE  FIRMWARE  CONFIG  CALL  STREAM     VIDEO       FEEDBACK          RETURN       LAST PUSH"
        );
        assert_eq!(
            lines[1],
            "hue-02       no      -         5       -     -          -           -                 -            applied v5"
        );
        assert_eq!(
            lines[2],
            "lang-son-01  yes     0.1.0     3       idle  streaming  congestion  receiver_reports  interrupted  -"
        );
        assert_eq!(
            lines[3],
            "lang-son-01: PROBLEM: 1 event(s) kept in memory only"
        );
        assert_eq!(lines[4], "2 boxes, 1 online");
        assert_eq!(rows[0].to_json()["online"], false);
        assert_eq!(rows[1].to_json()["return_stream"], "interrupted");
        assert_eq!(rows[0].to_json()["config_version"], 5);
        assert_eq!(
            rows[1].to_json()["problem"],
            "1 event(s) kept in memory only"
        );
        assert_eq!(render_table(&[]).lines().last(), Some("0 boxes, 0 online"));
    }
}
