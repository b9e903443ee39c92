//! Plain aligned tables: `fabric show` and `history`, `jobs list`, `workers`,
//! `webhook list` and `alerts`.

use comfy_table::{presets::NOTHING, ContentArrangement, Table};

/// Renders `rows` under `headers`, each column as wide as its widest cell and
/// two spaces from the next; no borders, no wrapping to the terminal's width,
/// no trailing whitespace.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec())
        .add_rows(rows.iter().cloned());
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.trim_fmt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_two_spaces_apart_and_lines_trimmed() {
        let rows = vec![
            vec!["sql-01".to_string(), "Primary (eastus)".into(), "".into()],
            vec!["a".to_string(), "".into(), "Failed: no".into()],
        ];
        assert_eq!(
            render(&["NAME", "ACTIVE", "OUTCOME"], &rows),
            "NAME    ACTIVE            OUTCOME\n\
             sql-01  Primary (eastus)\n\
             a                         Failed: no"
        );
        assert_eq!(render(&["NAME", "ACTIVE"], &[]), "NAME  ACTIVE");
    }
}
