//! Text put into HTML, SVG and Markdown: every value a report shows comes
//! from outside (VM names, log lines, a webhook's alert), so every value is
//! escaped, and a `<script>` in a VM's name renders as text.

/// `text` safe inside HTML or SVG elements and quoted attributes.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as one Markdown table cell: HTML escaped (Markdown renders inline
/// HTML), Markdown's own markup characters backslashed, and line breaks
/// kept out of the row.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in html(text).chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_inert() {
        assert_eq!(
            super::html(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(super::markdown("a|b\n*c* <i>"), "a\\|b \\*c\\* &lt;i&gt;");
    }
}
