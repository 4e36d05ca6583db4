//! What an error about a header may repeat of it. A file without a header has a user row where its header should
//! be, passwords and all; so a header name is repeated only when it is a known column or looks like one, and a
//! first row that looks like a user row is described, never printed.

use super::dialect::{Dialect, normalize_column_name};

/// The most characters of an unknown column name repeated in a message.
pub(crate) const NAME_MAX: usize = 40;
/// Edit distance within which an unknown name is taken for a misspelling of a known column.
const TYPO_DISTANCE: usize = 2;

/// Whether a name can be repeated: a column some dialect knows, or a short name with no `@` and not shaped like a
/// password (Connect's passwords have a lower-case letter, an upper-case letter and a digit).
fn repeatable(name: &str) -> bool {
    let normalized = normalize_column_name(name);
    if Dialect::ALL.iter().any(|d| d.columns().iter().any(|(known, _)| normalize_column_name(known) == normalized)) {
        return true;
    }
    name.chars().count() <= NAME_MAX
        && !name.contains('@')
        && !name.chars().any(char::is_control)
        && !password_shaped(name)
}

fn password_shaped(text: &str) -> bool {
    text.chars().any(|c| c.is_lowercase())
        && text.chars().any(|c| c.is_uppercase())
        && text.chars().any(|c| c.is_ascii_digit())
}

/// An unknown column as a message shows it: its name when that can be repeated, else its position, with the known
/// column of `dialect` it is closest to when it looks like a misspelling.
pub(crate) fn unknown_column(dialect: Option<Dialect>, name: &str, position: usize) -> String {
    if name.trim().is_empty() {
        return format!("(blank, column {})", position + 1);
    }
    if repeatable(name) {
        return name.to_owned();
    }
    let normalized = normalize_column_name(name);
    let closest = dialect
        .into_iter()
        .flat_map(|d| d.columns().iter())
        .map(|(known, _)| (strsim::levenshtein(&normalize_column_name(known), &normalized), *known))
        .filter(|(distance, _)| *distance <= TYPO_DISTANCE)
        .min();
    match closest {
        Some((_, known)) => format!("column {} (not shown; {known:?}?)", position + 1),
        None => format!("column {} (not shown)", position + 1),
    }
}

/// Why a first row that matched no dialect looks like a user row rather than a header, if it does; the clue names
/// a column, never a value.
pub(crate) fn user_row_clue(names: &[String]) -> Option<String> {
    const ACTIONS: [&str; 6] = ["add", "update", "remove", "addusers", "updateusers", "removeusers"];
    let clue = |test: &dyn Fn(&str) -> bool, what: &str| {
        names.iter().position(|n| test(n.trim())).map(|position| format!("column {} holds {what}", position + 1))
    };
    clue(&|n| ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(n)), "an action")
        .or_else(|| clue(&|n| n.contains('@'), "an email address"))
        .or_else(|| clue(&password_shaped, "a value shaped like a password"))
        .or_else(|| clue(&|n| n.starts_with("arn:"), "an ARN"))
        .or_else(|| {
            clue(&|n| !n.is_empty() && n.trim_start_matches('+').chars().all(|c| c.is_ascii_digit()), "a number")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_plain_names_are_repeated_and_others_are_not() {
        assert_eq!(unknown_column(None, "department", 3), "department");
        assert_eq!(unknown_column(None, "", 3), "(blank, column 4)");
        assert_eq!(unknown_column(None, "Welcome431!AMx", 2), "column 3 (not shown)");
        assert_eq!(unknown_column(None, "amara.okafor@northwind.com", 0), "column 1 (not shown)");
        assert_eq!(unknown_column(Some(Dialect::Bulkop), "Argumnet3", 2), "column 3 (not shown; \"Argument3\"?)");
        assert_eq!(unknown_column(None, &"x".repeat(41), 0), "column 1 (not shown)");
    }

    #[test]
    fn a_user_row_is_told_by_a_column_not_a_value() {
        let row = |text: &str| text.split(',').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(user_row_clue(&row("add,aokafor,Welcome431!AMx")).as_deref(), Some("column 1 holds an action"));
        assert_eq!(
            user_row_clue(&row("Carlos,Mendoza,carlos@contoso.com,Contoso!3028a")).as_deref(),
            Some("column 3 holds an email address")
        );
        assert_eq!(
            user_row_clue(&row("Carlos,Mendoza,Contoso!3028a")).as_deref(),
            Some("column 3 holds a value shaped like a password")
        );
        assert_eq!(user_row_clue(&row("name,phone,team")), None, "a header of unknown columns is still a header");
    }
}
