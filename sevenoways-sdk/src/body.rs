//! Request bodies in both documented encodings, JSON and `application/x-www-form-urlencoded`.
//!
//! Form data has no types and no lists, so the documentation's conventions are kept both
//! ways: a list is sent as `groupIds[]=A&groupIds[]=B` (what n8n and Pabbly send), and read
//! back from that, from the brackets percent-encoded (`groupIds%5B%5D`), from indexed keys
//! (`groupIds[0]`), or from a repeated key (`groupIds=A&groupIds=B`). Text values reach the
//! types as strings; their lenient deserializers read `sendAll=true` and single values.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::validation::ValidationError;

/// Encodes `value` as a form body.
///
/// ```
/// use serde_json::json;
/// let body = sevenoways_sdk::body::to_form(&json!({
///     "instanceId": "number2",
///     "groupIds": ["1@g.us", "2@g.us"],
///     "sendAll": false,
///     "message": "Hi 👋",
/// }));
/// assert_eq!(
///     body,
///     "instanceId=number2&groupIds%5B%5D=1%40g.us&groupIds%5B%5D=2%40g.us&sendAll=false&message=Hi+%F0%9F%91%8B"
/// );
/// ```
pub fn to_form<T: Serialize + ?Sized>(value: &T) -> String {
    let value = serde_json::to_value(value).unwrap_or(Value::Null);
    let mut out = form_urlencoded::Serializer::new(String::new());
    if let Value::Object(map) = value {
        for (key, v) in &map {
            match v {
                Value::Array(items) => {
                    let key = format!("{key}[]");
                    for item in items {
                        if let Some(text) = scalar(item) {
                            out.append_pair(&key, &text);
                        }
                    }
                }
                other => {
                    if let Some(text) = scalar(other) {
                        out.append_pair(key, &text);
                    }
                }
            }
        }
    }
    out.finish()
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        nested => Some(nested.to_string()),
    }
}

/// Reads a form body into a JSON object: bracketed, indexed and repeated keys become lists,
/// everything else a string. Keys keep the order they first appear in.
///
/// ```
/// let v = sevenoways_sdk::body::form_to_json(b"groupIds%5B%5D=a&groupIds%5B%5D=b&sendAll=on&message=Hi")?;
/// assert_eq!(v.to_string(), r#"{"groupIds":["a","b"],"sendAll":"on","message":"Hi"}"#);
/// // Bytes that are not UTF-8 are refused, naming the field, rather than replaced.
/// assert_eq!(sevenoways_sdk::body::form_to_json(b"message=%FF%FE").unwrap_err().field(), "message");
/// # Ok::<(), sevenoways_sdk::ValidationError>(())
/// ```
pub fn form_to_json(body: &[u8]) -> Result<Value, ValidationError> {
    let mut map = Map::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let key = decode_component(raw_key)
            .map_err(|()| ValidationError::new("body", "expected UTF-8 field names"))?;
        let value = decode_component(raw_value).map_err(|()| {
            ValidationError::new(
                key.split('[').next().unwrap_or_default().to_owned(),
                "expected UTF-8 text (percent-encoded bytes that are not UTF-8 were sent)",
            )
        })?;
        let (name, is_list) = match key.find('[') {
            Some(i)
                if key.ends_with(']')
                    && key[i + 1..key.len() - 1]
                        .bytes()
                        .all(|b| b.is_ascii_digit()) =>
            {
                (&key[..i], true)
            }
            _ => (&key[..], false),
        };
        let value = Value::String(value);
        match map.get_mut(name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                let v = if is_list {
                    Value::Array(vec![value])
                } else {
                    value
                };
                map.insert(name.to_owned(), v);
            }
        }
    }
    Ok(Value::Object(map))
}

/// One form component: `+` is a space, `%XX` a byte, and the bytes must be UTF-8.
fn decode_component(raw: &[u8]) -> Result<String, ()> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(drop)
}

/// Parses a JSON body into `T`; the error names the field (`groupIds[1]`, `phone`) and
/// says what was expected.
///
/// ```
/// use sevenoways_sdk::models::messages::SendNumberRequest;
/// let err = sevenoways_sdk::body::from_json::<SendNumberRequest>(
///     br#"{"instanceId":"number2","phone":"+971 50","message":"Hi"}"#,
/// ).unwrap_err();
/// assert_eq!(err.field(), "phone");
/// ```
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ValidationError> {
    // serde reads a struct from a JSON array too (`[1, 2]` as positional fields); a
    // request body is always an object, so anything else is refused up front.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ValidationError::new("body", "expected a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(de).map_err(path_error)?;
    Ok(value)
}

/// Parses a form body into `T`, with the same field-naming errors as [`from_json`].
pub fn from_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, ValidationError> {
    from_value(form_to_json(body)?)
}

/// Parses an already-read JSON value into `T`, naming the field on error.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(path_error)
}

fn path_error(err: serde_path_to_error::Error<serde_json::Error>) -> ValidationError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return ValidationError::new("body", format!("invalid JSON: {inner}"));
    }
    let message = strip_position(&inner.to_string());
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let field = if path == "." {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        };
        return ValidationError::new(field, "is required");
    }
    if path == "." {
        return ValidationError::new("body", message);
    }
    ValidationError::new(path, message)
}

/// serde_json appends ` at line L column C`, which means nothing once the body is a form.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_owned(),
        _ => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::messages::{SendNumberRequest, SendRequest};
    use crate::validation::Validate;

    #[test]
    fn form_lists_in_every_spelling_parse_alike() {
        for body in [
            "instanceId=n&groupIds[]=1@g.us&groupIds[]=2@g.us&message=Hi",
            "instanceId=n&groupIds%5B%5D=1%40g.us&groupIds%5B%5D=2%40g.us&message=Hi",
            "instanceId=n&groupIds=1@g.us&groupIds=2@g.us&message=Hi",
            "instanceId=n&groupIds[0]=1@g.us&groupIds[1]=2@g.us&message=Hi",
        ] {
            let req: SendRequest = from_form(body.as_bytes()).unwrap();
            assert_eq!(req.group_ids.len(), 2, "{body}");
            req.validate().unwrap();
        }
    }

    #[test]
    fn form_single_list_value_and_text_booleans() {
        let req: SendRequest = from_form(b"instanceId=n&groupIds=1@g.us&message=Hi").unwrap();
        assert_eq!(req.group_ids.len(), 1);
        for yes in ["true", "1", "on", "TRUE"] {
            let body = format!("instanceId=n&sendAll={yes}&message=Hi");
            let req: SendRequest = from_form(body.as_bytes()).unwrap();
            assert!(req.send_all, "{yes}");
        }
        let err = from_form::<SendRequest>(b"instanceId=n&sendAll=maybe&message=Hi").unwrap_err();
        assert_eq!(err.field(), "sendAll");
    }

    #[test]
    fn errors_name_the_field() {
        let err = from_json::<SendRequest>(
            br#"{"instanceId":"n","groupIds":["1@g.us","Team"],"message":"x"}"#,
        )
        .unwrap_err();
        assert_eq!(err.field(), "groupIds[1]");
        let err = from_json::<SendNumberRequest>(br#"{"instanceId":"n","phone":"971501234567"}"#)
            .unwrap_err();
        assert_eq!(err.to_string(), "message: is required");
        let err = from_json::<SendNumberRequest>(
            br#"{"instanceId":"n","phone":"971501234567","message":5}"#,
        )
        .unwrap_err();
        assert_eq!(err.field(), "message");
        assert!(!err.to_string().contains("line"), "{err}");
        let err = from_json::<SendNumberRequest>(b"{not json").unwrap_err();
        assert_eq!(err.field(), "body");
    }

    #[test]
    fn form_round_trips_every_field_type() {
        let req: SendRequest = from_json(
            br#"{"instanceId":"n","groupIds":["1@g.us"],"groups":["Team A"],"message":"Hi \ud83d\udc4b\nline 2"}"#,
        )
        .unwrap();
        let back: SendRequest = from_form(to_form(&req).as_bytes()).unwrap();
        assert_eq!(back, req);
    }
}
