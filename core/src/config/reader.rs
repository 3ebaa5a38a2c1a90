//! A reader that walks a JSON-shaped document section by section, collecting
//! every error with the full key path instead of stopping at the first one.
//!
//! TOML files are converted to `serde_json::Value` first, so the same reader
//! serves the local file and (later) configs pushed over the network.

use serde_json::{Map, Value};

use super::ConfigError;

/// A value that may be a string or an integer (`audio.channel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringOrInteger {
    /// A string.
    Text(String),
    /// An integer.
    Integer(i64),
}

impl std::fmt::Display for StringOrInteger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StringOrInteger::Text(t) => write!(f, "{t:?}"),
            StringOrInteger::Integer(n) => write!(f, "{n}"),
        }
    }
}

/// Collects errors while reading one document.
#[derive(Debug, Default)]
pub struct Reader {
    errors: Vec<ConfigError>,
}

/// One table of the document, with its path prefix (empty for the root).
#[derive(Clone)]
pub struct Section<'a> {
    prefix: String,
    map: &'a Map<String, Value>,
}

impl<'a> Section<'a> {
    /// The root table of a document.
    pub fn root(map: &'a Map<String, Value>) -> Self {
        Section {
            prefix: String::new(),
            map,
        }
    }

    /// A section at `prefix` (used for an absent optional section, over an empty map).
    pub fn named(prefix: &str, map: &'a Map<String, Value>) -> Self {
        Section {
            prefix: prefix.to_owned(),
            map,
        }
    }

    /// The dotted path of `key` inside this section.
    pub fn path(&self, key: &str) -> String {
        let key = shown_key(key);
        if self.prefix.is_empty() {
            key
        } else {
            format!("{}.{}", self.prefix, key)
        }
    }

    /// Whether the section has `key` at all.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }
}

/// A key as an error names it: as it is when it is a bare TOML key
/// (letters, digits, `_`, `-`), else quoted as TOML would need it (`" "`,
/// `""`, `"a.b"`), so that a blank or odd key is never named by nothing.
pub fn shown_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

impl Reader {
    /// A reader with no errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error at `path`.
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            key: path.into(),
            message: message.into(),
        });
    }

    /// The errors collected so far.
    pub fn into_errors(self) -> Vec<ConfigError> {
        self.errors
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Reports every key of `section` that is not in `known`.
    pub fn reject_unknown(&mut self, section: &Section<'_>, known: &[&str]) {
        for key in section.map.keys() {
            if !known.contains(&key.as_str()) {
                self.error(
                    section.path(key),
                    format!("unknown key (known keys here: {})", known.join(", ")),
                );
            }
        }
    }

    /// A sub-table. `None` when absent (and `required` is false) or of the wrong type.
    pub fn table<'a>(
        &mut self,
        parent: &Section<'a>,
        key: &str,
        required: bool,
    ) -> Option<Section<'a>> {
        let path = parent.path(key);
        match parent.map.get(key) {
            None => {
                if required {
                    self.error(path, "missing section");
                }
                None
            }
            Some(Value::Object(map)) => Some(Section { prefix: path, map }),
            Some(other) => {
                self.error(path, format!("expected a table, got {}", type_name(other)));
                None
            }
        }
    }

    /// A string value; `default` when absent, an error when absent and no default.
    pub fn string(
        &mut self,
        section: &Section<'_>,
        key: &str,
        default: Option<&str>,
    ) -> Option<String> {
        match section.map.get(key) {
            None => match default {
                Some(d) => Some(d.to_owned()),
                None => {
                    self.error(section.path(key), "missing required key");
                    None
                }
            },
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(
                    section.path(key),
                    format!("expected a string, got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An optional string value.
    pub fn optional_string(&mut self, section: &Section<'_>, key: &str) -> Option<String> {
        if section.has(key) {
            self.string(section, key, None)
        } else {
            None
        }
    }

    /// A boolean value with a default.
    pub fn boolean(&mut self, section: &Section<'_>, key: &str, default: bool) -> Option<bool> {
        match section.map.get(key) {
            None => Some(default),
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.error(
                    section.path(key),
                    format!("expected true or false, got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An integer in `min..=max`; `default` when absent.
    pub fn integer(
        &mut self,
        section: &Section<'_>,
        key: &str,
        default: Option<u64>,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let value = match section.map.get(key) {
            None => match default {
                Some(d) => return Some(d),
                None => {
                    self.error(section.path(key), "missing required key");
                    return None;
                }
            },
            Some(v) => v,
        };
        let Some(n) = value
            .as_i64()
            .or_else(|| value.as_u64().map(|u| u.min(i64::MAX as u64) as i64))
        else {
            self.error(
                section.path(key),
                format!("expected an integer, got {}", type_name(value)),
            );
            return None;
        };
        if n < min as i64 || n > max as i64 {
            self.error(
                section.path(key),
                format!("must be between {min} and {max}, got {n}"),
            );
            return None;
        }
        Some(n as u64)
    }

    /// A string or an integer, when present.
    pub fn string_or_integer(
        &mut self,
        section: &Section<'_>,
        key: &str,
    ) -> Option<StringOrInteger> {
        match section.map.get(key)? {
            Value::String(t) => Some(StringOrInteger::Text(t.clone())),
            v if v.is_i64() => v.as_i64().map(StringOrInteger::Integer),
            other => {
                self.error(
                    section.path(key),
                    format!("expected a string or an integer, got {}", type_name(other)),
                );
                None
            }
        }
    }

    /// An array of strings; an empty array when absent.
    pub fn string_list(&mut self, section: &Section<'_>, key: &str) -> Option<Vec<String>> {
        match section.map.get(key) {
            None => Some(Vec::new()),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => {
                            ok = false;
                            self.error(
                                format!("{}[{i}]", section.path(key)),
                                format!("expected a string, got {}", type_name(other)),
                            );
                        }
                    }
                }
                ok.then_some(out)
            }
            Some(other) => {
                self.error(
                    section.path(key),
                    format!("expected an array of strings, got {}", type_name(other)),
                );
                None
            }
        }
    }
}
