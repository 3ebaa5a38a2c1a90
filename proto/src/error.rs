//! Why a payload was refused, in words that name the member at fault.

/// A payload that cannot be read. The `what` of each variant names the kind
/// of payload (`payload`, `command`, ...), so a message reads on its own:
/// `command is 20000 bytes, limit 16384`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Bigger than the receiver reads.
    #[error("{what} is {size} bytes, limit {limit}")]
    TooLarge {
        /// The kind of payload.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8.
    #[error("{what} is not UTF-8 text")]
    NotUtf8 {
        /// The kind of payload.
        what: &'static str,
    },
    /// Not JSON at all.
    #[error("{what} is not valid JSON: {detail}")]
    NotJson {
        /// The kind of payload.
        what: &'static str,
        /// serde_json's words, with line and column.
        detail: String,
    },
    /// A member appears twice in one object: which one wins is not
    /// defined, so nothing signed or commanded may hold one.
    #[error("{what} holds a member twice: {detail}")]
    DuplicateMember {
        /// The kind of payload.
        what: &'static str,
        /// The member's path, with line and column.
        detail: String,
    },
    /// The document is JSON but not the expected shape.
    #[error("{0}")]
    Shape(String),
    /// One member is wrong.
    #[error("{path}: {message}")]
    Member {
        /// Its path, e.g. `args.seconds`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ProtoError {
    /// A problem with the member at `path`.
    pub fn member(path: impl Into<String>, message: impl Into<String>) -> ProtoError {
        ProtoError::Member {
            path: path.into(),
            message: message.into(),
        }
    }
}
