//! Lenient deserializers for what no-code tools send.
//!
//! Form bodies carry only text (`sendAll=true`, `sendAll=on`), a single `groupIds` value
//! arrives as a string rather than a list, and spreadsheets turn phone numbers into JSON
//! numbers. These helpers accept those shapes so JSON and form bodies parse to the same
//! value; they never accept anything ambiguous. [`BoolLike`] and [`OneOrMany`] are their
//! JSON Schemas, which the OpenAPI document shows for every field read through them.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A string, or a JSON integer read as its decimal digits (a whole number written with a
/// fraction, `971501234567.0`, counts: JSON Schema calls it an integer too).
pub(crate) fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            // Exactly representable whole numbers only (below 2^53).
            if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
                Ok(format!("{v:.0}"))
            } else {
                Err(E::invalid_type(de::Unexpected::Float(v), &self))
            }
        }
    }
    d.deserialize_any(V)
}

/// A boolean, or its text form: `true|false`, `1|0`, `on|off`, `yes|no` (any case, nothing
/// around it), or empty (false, as an unchecked HTML checkbox sends nothing); `0`, `1` and
/// `null` in JSON.
pub fn bool_like<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("true or false")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::custom(format!("expected true or false, got {v}"))),
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            self.visit_u64(u64::try_from(v).unwrap_or(u64::MAX))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
            // 0.0 and 1.0 are the numbers 0 and 1 to JSON Schema.
            match v {
                0.0 => Ok(false),
                1.0 => Ok(true),
                _ => Err(E::custom(format!("expected true or false, got {v}"))),
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Ok(true),
                "false" | "0" | "off" | "no" | "" => Ok(false),
                _ => Err(E::custom(format!("expected true or false, got {v:?}"))),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
    }
    d.deserialize_any(V)
}

/// A list, or one bare value taken as a list of one (`groupIds=ID` in a form body).
/// An empty string (an empty form field) and `null` are an empty list.
pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    // An untagged enum loses the inner error, so sequences are visited directly to
    // keep the item's own message (`groupIds[1]: expected a group id ...`).
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list or a single value")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            if v.is_empty() {
                return Ok(Vec::new());
            }
            T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| vec![t])
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Vec<T>, E> {
            self.visit_str(&v)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<T>, E> {
            T::deserialize(de::value::U64Deserializer::<E>::new(v)).map(|t| vec![t])
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// The text forms [`bool_like`] reads, as a pattern (case-insensitive by spelling each
/// letter both ways, since JSON Schema has no flags).
#[cfg(feature = "schema")]
const BOOL_TEXT: &str =
    "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Nn]|[Oo][Ff][Ff]|[Yy][Ee][Ss]|[Nn][Oo]|1|0|)$";

/// The text forms of `true`.
#[cfg(feature = "schema")]
pub(crate) const TRUE_TEXT: &str = "^(?:[Tt][Rr][Uu][Ee]|[Oo][Nn]|[Yy][Ee][Ss]|1)$";

/// The JSON Schema of a field read with [`bool_like`].
#[cfg(feature = "schema")]
pub(crate) struct BoolLike;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for BoolLike {
    // Inline, so a form's schema can drop its `null`.
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BoolLike".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "true or false; as text true|false|1|0|on|off|yes|no in any case, or empty (false).",
            "anyOf": [
                {"type": "boolean"},
                {"type": "integer", "enum": [0, 1]},
                {"type": "string", "pattern": BOOL_TEXT},
                {"type": "null"}
            ]
        })
    }
}

/// The JSON Schema of a list field read with [`one_or_many`].
#[cfg(feature = "schema")]
pub(crate) struct OneOrMany<T>(std::marker::PhantomData<T>);

#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for OneOrMany<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let item = generator.subschema_for::<T>();
        schemars::json_schema!({
            "description": "A list; a single value is a list of one, and an empty string or null an empty list.",
            "anyOf": [
                {"type": "array", "items": item},
                item,
                {"const": ""},
                {"type": "null"}
            ]
        })
    }
}
