//! Hierarchy groups by their full path. Group names repeat across branches (a "Tier 1" under Support and another
//! under Sales), so a path names a group only when every level matches; a bare name stands for a group only when
//! one group alone bears it.

use std::collections::HashMap;

use super::provisioner::ProvisionError;

#[derive(Debug, Default, Clone)]
pub struct Hierarchy {
    /// Lower-cased path, levels joined by `/` → group id.
    by_path: HashMap<String, String>,
    /// Lower-cased group name → the paths (as the instance spells them) of every group of that name.
    by_name: HashMap<String, Vec<(String, String)>>,
    /// Group id → its path as the instance spells it.
    by_id: HashMap<String, String>,
}

/// The levels of a path as a row or the instance spells them: `/`-separated, each level trimmed.
fn levels(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').map(str::trim)
}

fn path_key<'a>(levels: impl Iterator<Item = &'a str>) -> String {
    levels.map(str::to_lowercase).collect::<Vec<_>>().join("/")
}

impl Hierarchy {
    /// Records a group from its path, level one first and the group itself last.
    pub fn insert(&mut self, path: &[&str], id: &str) {
        let Some(name) = path.last() else { return };
        self.by_path.insert(path_key(path.iter().copied()), id.to_owned());
        let spelled = path.join("/");
        self.by_id.insert(id.to_owned(), spelled.clone());
        self.by_name.entry(name.trim().to_lowercase()).or_default().push((spelled, id.to_owned()));
    }

    /// A group's full path, as a row names it unambiguously.
    pub fn path_of(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(String::as_str)
    }

    /// The id of the group `name` names: a full path (`Sales/Tier 1`), or a bare name that one group alone bears.
    pub fn resolve(&self, name: &str) -> Result<String, ProvisionError> {
        if let Some(id) = self.by_path.get(&path_key(levels(name))) {
            return Ok(id.clone());
        }
        match self.by_name.get(&name.trim().to_lowercase()).map(Vec::as_slice) {
            Some([(_, id)]) => Ok(id.clone()),
            Some(several @ [_, _, ..]) => {
                let paths: Vec<&str> = several.iter().map(|(path, _)| path.as_str()).collect();
                Err(ProvisionError::permanent(format!(
                    "the hierarchy group name {name:?} is borne by {} groups ({}); give its full path",
                    paths.len(),
                    paths.join(", ")
                )))
            }
            _ => Err(ProvisionError::permanent(format!("the instance has no hierarchy group at {name:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hierarchy() -> Hierarchy {
        let mut hierarchy = Hierarchy::default();
        hierarchy.insert(&["Support"], "g-support");
        hierarchy.insert(&["Sales"], "g-sales");
        hierarchy.insert(&["Support", "Tier 1"], "g-support-1");
        hierarchy.insert(&["Sales", "Tier 1"], "g-sales-1");
        hierarchy.insert(&["Sales", "East"], "g-east");
        hierarchy
    }

    #[test]
    fn a_full_path_names_its_group_whatever_the_case_and_spaces() {
        let hierarchy = hierarchy();
        assert_eq!(hierarchy.resolve("Sales/Tier 1").unwrap(), "g-sales-1");
        assert_eq!(hierarchy.resolve("support / tier 1").unwrap(), "g-support-1");
        assert_eq!(hierarchy.resolve("Sales").unwrap(), "g-sales");
    }

    #[test]
    fn a_bare_name_stands_for_the_one_group_that_bears_it() {
        assert_eq!(hierarchy().resolve("east").unwrap(), "g-east");
    }

    #[test]
    fn a_bare_name_two_groups_bear_is_refused_with_both_paths() {
        let message = hierarchy().resolve("Tier 1").unwrap_err().to_string();
        assert!(message.contains("Support/Tier 1") && message.contains("Sales/Tier 1"), "{message}");
        assert!(message.contains("full path"), "{message}");
    }

    #[test]
    fn a_path_whose_levels_do_not_all_match_is_not_found_even_if_its_last_level_exists() {
        let message = hierarchy().resolve("Support/East").unwrap_err().to_string();
        assert!(message.contains("no hierarchy group at \"Support/East\""), "{message}");
    }
}
