//! Form bodies as browsers post them (`application/x-www-form-urlencoded`), read as
//! name/value pairs in order, so a field may repeat (check boxes of one name).

use axum::body::Body;
use axum::http::StatusCode;

use super::Problem;

/// A posted form's fields, in order.
#[derive(Default)]
pub struct FormData(Vec<(String, String)>);

impl std::fmt::Debug for FormData {
    // The sign-in form carries an API key: field names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl FormData {
    /// Reads a urlencoded body (what HTML forms post).
    pub fn parse(bytes: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// Reads `body`, at most `limit` bytes.
    pub async fn read(body: Body, limit: usize) -> Result<Self, Problem> {
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| Problem {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                title: "Too large",
                message: format!("the form is larger than {limit} bytes"),
                retry_after_secs: None,
            })?;
        Ok(Self::parse(&bytes))
    }

    /// The first value of `name`, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; empty when not sent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or_default()
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The non-empty lines of a text area, trimmed (lists such as group names, which may
/// themselves contain commas, are one per line).
pub fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Text as the API's own clients send it: browsers post a text area's line breaks as
/// `\r\n` (the HTML standard's form encoding); messages are sent with `\n`.
pub fn newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_keep_their_order_and_text_keeps_emoji() {
        let form = FormData::parse("a=1&b=x&a=2&m=Hi+%F0%9F%91%8B%0D%0Anext".as_bytes());
        assert_eq!(form.all("a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(form.text("b"), "x");
        assert_eq!(form.text("missing"), "");
        assert_eq!(newlines(form.text("m")), "Hi 👋\nnext");
        assert_eq!(lines(" Team A \n\n Team, B\r\n"), ["Team A", "Team, B"]);
        assert_eq!(format!("{form:?}"), r#"["a", "b", "a", "m"]"#);
    }
}
