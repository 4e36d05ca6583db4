//! Identity policies for the callers the sandbox is told of: a call signed with such a caller's access key is
//! refused with AccessDeniedException (403) unless a statement allows `connect:<Operation>` and none denies it.
//!
//! Sources: "Policy evaluation logic" (IAM User Guide: an explicit Deny overrides any Allow; without an Allow the
//! request is denied implicitly), "IAM JSON policy elements: Action" (action names are case-insensitive; `*` and `?`
//! wildcards) and "Actions, resources, and condition keys for Amazon Connect" (Service Authorization Reference: every
//! operation ccbulk calls is an action of the `connect` prefix named as the operation). Every Connect user action
//! ccbulk calls is scoped to the instance's ARN or a child of it there, and a sandbox serves the instances it was
//! seeded with only: a statement counts for a call when one of its resources is `*` or a Connect ARN. Callers the
//! sandbox is not told of are let through, as before (the sandbox's own tests, rehearsals with any credentials).

use std::collections::BTreeMap;

use serde_json::Value;

/// Access key id → the caller's identity policy documents.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    by_access_key: BTreeMap<String, Vec<Value>>,
}

impl Policies {
    pub fn set(&mut self, access_key: &str, documents: Vec<Value>) {
        self.by_access_key.insert(access_key.to_owned(), documents);
    }

    /// `None`: allowed. `Some(reason)`: refused, with the service's message.
    pub fn refusal(&self, access_key: &str, operation: &str) -> Option<String> {
        let documents = self.by_access_key.get(access_key)?;
        let action = format!("connect:{operation}");
        let statements = documents.iter().flat_map(|document| one_or_many(&document["Statement"]));
        let mut allowed = false;
        for statement in statements.filter(|s| concerns(s, &action)) {
            match statement["Effect"].as_str() {
                Some("Deny") => {
                    return Some(message(access_key, &action, "an explicit deny in an identity-based policy"));
                }
                Some("Allow") => allowed = true,
                _ => {}
            }
        }
        (!allowed).then(|| message(access_key, &action, "no identity-based policy allows the action"))
    }
}

fn message(access_key: &str, action: &str, why: &str) -> String {
    format!("User with access key {access_key} is not authorized to perform: {action} because {why}")
}

fn concerns(statement: &Value, action: &str) -> bool {
    let action_matches = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), _) => one_or_many(actions).any(|p| matches_action(p, action)),
        (None, Some(excluded)) => !one_or_many(excluded).any(|p| matches_action(p, action)),
        (None, None) => false,
    };
    let resource_matches = match statement.get("Resource") {
        Some(resources) => one_or_many(resources).any(|r| r.as_str().is_some_and(is_connect_resource)),
        // NotResource: whatever it leaves out, the instance the call names is not likely among it.
        None => statement.get("NotResource").is_some(),
    };
    action_matches && resource_matches
}

fn is_connect_resource(pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.splitn(4, ':').collect();
    pattern == "*" || (parts.len() >= 3 && parts[0] == "arn" && ["connect", "*"].contains(&parts[2]))
}

fn one_or_many(value: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Null => Box::new(std::iter::empty()),
        other => Box::new(std::iter::once(other)),
    }
}

/// IAM's wildcard match, case-insensitive as action names are: `*` any run of characters, `?` any one.
fn matches_action(pattern: &Value, action: &str) -> bool {
    let Some(pattern) = pattern.as_str() else { return false };
    wildcard(pattern.to_ascii_lowercase().as_bytes(), action.to_ascii_lowercase().as_bytes())
}

fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| wildcard(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && wildcard(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && wildcard(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policies(document: Value) -> Policies {
        let mut policies = Policies::default();
        policies.set("ASIA1", vec![document]);
        policies
    }

    #[test]
    fn an_action_no_statement_allows_is_refused() {
        let policies = policies(json!({"Statement": [{"Effect": "Allow", "Action": ["connect:CreateUser"],
            "Resource": "arn:aws:connect:us-east-1:1:instance/i/*"}]}));
        assert_eq!(policies.refusal("ASIA1", "CreateUser"), None);
        let refusal = policies.refusal("ASIA1", "DeleteUser").unwrap();
        assert!(refusal.contains("connect:DeleteUser") && refusal.contains("no identity-based policy"), "{refusal}");
        assert_eq!(policies.refusal("SOMEONE-ELSE", "DeleteUser"), None, "callers not told of are let through");
    }

    #[test]
    fn wildcards_case_and_an_explicit_deny_follow_iam() {
        let policies = policies(json!({"Statement": [
            {"Effect": "Allow", "Action": "connect:update*", "Resource": "*"},
            {"Effect": "Deny", "Action": "connect:UpdateUserHierarchy", "Resource": "*"},
            {"Effect": "Allow", "Action": "connect:DeleteUser", "Resource": "arn:aws:s3:::bucket/*"}
        ]}));
        assert_eq!(policies.refusal("ASIA1", "UpdateUserRoutingProfile"), None);
        assert!(policies.refusal("ASIA1", "UpdateUserHierarchy").unwrap().contains("explicit deny"));
        assert!(policies.refusal("ASIA1", "DeleteUser").is_some(), "a grant on another service's resource");
    }
}
