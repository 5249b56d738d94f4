//! The tokenizer and the token-level readers the parser builds on: names,
//! numbers, masks and `order=`.

use gfp::Gfp;

use super::ParseError;

#[derive(Clone, Copy)]
pub(super) struct Tok<'a> {
    pub(super) text: &'a str,
    pub(super) line: usize,
    pub(super) col: usize,
}

pub(super) struct Line<'a> {
    pub(super) no: usize,
    pub(super) toks: Vec<Tok<'a>>,
}

pub(super) fn err<T>(line: usize, col: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        column: col,
        message: message.into(),
    })
}

pub(super) fn tokenize(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = match raw.find('#') {
            Some(p) => &raw[..p],
            None => raw,
        };
        let mut toks = Vec::new();
        let mut start: Option<usize> = None;
        for (bi, ch) in content.char_indices().chain([(content.len(), ' ')]) {
            if ch.is_whitespace() {
                if let Some(s) = start.take() {
                    let col = content[..s].chars().count() + 1;
                    toks.push(Tok {
                        text: &content[s..bi],
                        line: i + 1,
                        col,
                    });
                }
            } else if start.is_none() {
                start = Some(bi);
            }
        }
        if !toks.is_empty() {
            out.push(Line { no: i + 1, toks });
        }
    }
    out
}

pub(super) fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

pub(super) fn name_tok(t: &Tok<'_>, what: &str) -> Result<String, ParseError> {
    if is_name(t.text) {
        Ok(t.text.to_string())
    } else {
        err(
            t.line,
            t.col,
            format!(
                "`{}` is not a valid {what} (letters, digits, `_`, `-`, `.`)",
                t.text
            ),
        )
    }
}

/// A declaration's name (`what` is the declaration's keyword): a valid
/// name that `taken` does not already know.
pub(super) fn new_name(
    t: &Tok<'_>,
    what: &str,
    taken: impl Fn(&str) -> bool,
) -> Result<String, ParseError> {
    let name = name_tok(t, &format!("{what} name"))?;
    if taken(&name) {
        return err(t.line, t.col, format!("{what} `{name}` declared twice"));
    }
    Ok(name)
}

/// An `order=N` option's value: at most `MAX_PAGE_ORDER` (10), and given
/// once per line (`seen` tracks it).
pub(super) fn order_opt(t: &Tok<'_>, v: &str, seen: &mut bool) -> Result<u32, ParseError> {
    let o: u32 = num_tok(t, v, "order")?;
    if *seen {
        return err(t.line, t.col, "order given twice");
    }
    if o > 10 {
        return err(t.line, t.col, format!("order {o} above MAX_PAGE_ORDER 10"));
    }
    *seen = true;
    Ok(o)
}

pub(super) fn mask_tok(t: &Tok<'_>) -> Result<Gfp, ParseError> {
    gfp::parse::parse_native(t.text).or_else(|e| err(t.line, t.col, format!("bad mask: {e}")))
}

pub(super) fn num_tok<T: core::str::FromStr>(
    t: &Tok<'_>,
    s: &str,
    what: &str,
) -> Result<T, ParseError> {
    s.parse::<T>()
        .or_else(|_| err(t.line, t.col, format!("`{s}` is not a valid {what}")))
}
