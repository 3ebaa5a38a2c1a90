//! JSON that refuses a member appearing twice in one object, at any depth.
//!
//! serde_json keeps the last of two equal members, and other JSON readers
//! keep the first: a signed config with two `device_id`s would be applied
//! for whichever box the reader favours. Everything a box receives over the
//! network (pushed configs, commands) is read through [`parse`].

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::ProtoError;

/// Parses `bytes` as JSON, refusing any duplicated member; `what` names the
/// payload in errors (`payload`, `command`).
pub fn parse(bytes: &[u8], what: &'static str) -> Result<Value, ProtoError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { at: None }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| match e.classify() {
        // The only data errors this visitor raises are duplicated members.
        serde_json::error::Category::Data => ProtoError::DuplicateMember {
            what,
            detail: e.to_string(),
        },
        _ => ProtoError::NotJson {
            what,
            detail: e.to_string(),
        },
    })
}

/// One step of the path to a value.
enum Step<'k> {
    Key(&'k str),
    Index(usize),
}

/// Where a value sits: its step and its parent's place. The path is only
/// spelled out for a duplicate's message, so reading costs no string work.
struct Place<'p> {
    parent: Option<&'p Place<'p>>,
    step: Step<'p>,
}

impl Place<'_> {
    fn path(&self) -> String {
        let mut steps = vec![&self.step];
        let mut at = self.parent;
        while let Some(p) = at {
            steps.push(&p.step);
            at = p.parent;
        }
        let mut out = String::new();
        for step in steps.into_iter().rev() {
            match step {
                Step::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// Reads one value at `at` (`None`: the document itself).
struct Strict<'p> {
    at: Option<&'p Place<'p>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let place = Place {
                parent: self.at,
                step: Step::Index(items.len()),
            };
            match seq.next_element_seed(Strict { at: Some(&place) })? {
                Some(item) => items.push(item),
                None => break,
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = {
                let place = Place {
                    parent: self.at,
                    step: Step::Key(&key),
                };
                if out.contains_key(&key) {
                    return Err(de::Error::custom(format!(
                        "{} (it appears twice)",
                        place.path()
                    )));
                }
                map.next_value_seed(Strict { at: Some(&place) })?
            };
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_parses_like_serde_json() {
        let text = br#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":"d"}"#;
        assert_eq!(
            parse(text, "payload").unwrap(),
            serde_json::from_slice::<Value>(text).unwrap()
        );
    }

    #[test]
    fn a_duplicated_member_is_named_with_its_path_at_any_depth() {
        let e = parse(br#"{"device_id":"a","device_id":"b"}"#, "payload").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("payload holds a member twice: device_id (it appears twice)"),
            "{e}"
        );
        let e = parse(
            br#"{"config":{"video":{"width":640,"width":0}}}"#,
            "payload",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("config.video.width (it appears twice)"),
            "{e}"
        );
        let e = parse(br#"{"a":[{"k":1,"k":1}]}"#, "command").unwrap_err();
        assert!(e.to_string().contains("a[0].k (it appears twice)"), "{e}");
    }

    #[test]
    fn syntax_errors_and_trailing_garbage_are_not_json() {
        for bad in [&b"{oops"[..], b"{} {}", b"", b"[1,]"] {
            assert!(
                matches!(parse(bad, "payload"), Err(ProtoError::NotJson { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse(deep.as_bytes(), "payload"),
            Err(ProtoError::NotJson { .. })
        ));
    }
}
