//! `{{column}}` fields in the content of `svw send --csv`.
//!
//! Hand-written rather than a template engine: `{{name}}` is the only syntax, so
//! everything else in a message (braces, `{%`, backslashes, an unclosed `{{`) goes out
//! exactly as written.

use std::path::Path;

use super::sheet::Sheet;
use crate::commands::send::Draft;
use crate::exit::Failure;

/// Refuses content whose `{{fields}}` are not all columns of the CSV: a typo would
/// otherwise send every row with an empty value.
pub(super) fn check_columns(draft: &Draft, sheet: &Sheet, csv: &Path) -> Result<(), Failure> {
    let unknown: Vec<String> = draft
        .texts()
        .into_iter()
        .flat_map(fields)
        .filter(|f| sheet.column(f).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(Failure::usage(format!(
            "no column named {} in {} (its columns: {})",
            unknown
                .iter()
                .map(|f| format!("{{{{{f}}}}}"))
                .collect::<Vec<_>>()
                .join(", "),
            csv.display(),
            sheet.header.iter().collect::<Vec<_>>().join(", ")
        ))
        .hint("{{name}} fields must match a header of the CSV"));
    }
    Ok(())
}

/// The `{{name}}` fields of a template, in order.
pub(super) fn fields(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    fill(template, |name| {
        out.push(name.to_owned());
        String::new()
    });
    out
}

/// The template with each `{{name}}` replaced by `value(name)`; everything else untouched.
pub(super) fn fill(template: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&value(rest[start + 2..start + 2 + len].trim()));
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_named_fields_and_keep_everything_else() {
        let t = "Hi {{name}}, order {{ order }} 🎉\n{{missing";
        assert_eq!(fields(t), vec!["name", "order"]);
        let out = fill(t, |f| {
            if f == "name" {
                "Ana".into()
            } else {
                "42".into()
            }
        });
        assert_eq!(out, "Hi Ana, order 42 🎉\n{{missing");
    }
}
