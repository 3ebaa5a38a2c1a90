//! How a push ended for each box, and the lines `bpctl push` prints.

/// How one push ended for one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied.
    Applied,
    /// Rejected, with the box's reason.
    Rejected(String),
    /// No report in time; `Some(false)` if the box is known to be offline,
    /// `None` if it never published a status.
    Silent(Option<bool>),
}

/// One line of `push` output.
pub fn outcome_line(device: &str, version: u64, outcome: &Outcome, timeout: &str) -> String {
    match outcome {
        Outcome::Applied => format!("{device}: applied (version {version})"),
        Outcome::Rejected(reason) => format!("{device}: rejected (version {version}): {reason}"),
        Outcome::Silent(online) => {
            let note = match online {
                Some(false) => " (offline: the retained config applies when it reconnects)",
                None => " (it has never published a status: the retained config applies when it connects)",
                Some(true) => "",
            };
            format!("{device}: no report within {timeout} s{note}")
        }
    }
}

/// The closing line of `push`.
pub fn push_summary<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> String {
    let (mut applied, mut rejected, mut silent) = (0, 0, 0);
    for o in outcomes {
        match o {
            Outcome::Applied => applied += 1,
            Outcome::Rejected(_) => rejected += 1,
            Outcome::Silent(_) => silent += 1,
        }
    }
    format!("{applied} applied, {rejected} rejected, {silent} silent")
}

/// Seconds for messages: `10`, `0.5`.
pub fn fmt_secs(secs: f64) -> String {
    format!("{secs}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_lines_and_summary() {
        assert_eq!(
            outcome_line("a", 17, &Outcome::Applied, "10"),
            "a: applied (version 17)"
        );
        assert_eq!(
            outcome_line("a", 17, &Outcome::Rejected("x: bad".into()), "10"),
            "a: rejected (version 17): x: bad"
        );
        assert_eq!(
            outcome_line("a", 17, &Outcome::Silent(Some(true)), "10"),
            "a: no report within 10 s"
        );
        assert!(outcome_line("a", 17, &Outcome::Silent(Some(false)), "10")
            .starts_with("a: no report within 10 s (offline"));
        let all = [
            Outcome::Applied,
            Outcome::Applied,
            Outcome::Rejected("r".into()),
            Outcome::Silent(None),
        ];
        assert_eq!(push_summary(&all), "2 applied, 1 rejected, 1 silent");
        assert_eq!(fmt_secs(10.0), "10");
        assert_eq!(fmt_secs(0.5), "0.5");
    }
}
