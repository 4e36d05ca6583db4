//! Least privilege, measured: what each function's role grants (from the expanded template) against what the
//! function was seen to use (moto's IAM decisions, the Connect sandbox's calls). Every grant must be used by some
//! test, or say on its own line of template.yaml why no test can use it (`# untested: <why>`).

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

/// The marker of a grant no test can use; the reason follows it on the line.
pub const UNTESTED: &str = "# untested:";

/// One (action, resource) pair a role's Allow statements grant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub action: String,
    pub resource: String,
}

/// The pairs a role's policy documents allow (Deny statements take nothing away here: the template has none).
pub fn grants(documents: &[Value]) -> BTreeSet<Grant> {
    let mut grants = BTreeSet::new();
    for document in documents {
        for statement in one_or_many(&document["Statement"]) {
            assert_eq!(statement["Effect"], "Allow", "a role statement that is not an Allow: {statement}");
            for action in one_or_many(&statement["Action"]) {
                for resource in one_or_many(&statement["Resource"]) {
                    let (action, resource) = (action.as_str().unwrap(), resource.as_str().unwrap());
                    grants.insert(Grant { action: action.to_owned(), resource: resource.to_owned() });
                }
            }
        }
    }
    grants
}

/// The grants no call in `used` (action, resource) exercised. Connect calls are matched on the action alone: the
/// sandbox, like the service for most of these calls, is given no resource to check.
pub fn unused<'a>(granted: &'a BTreeSet<Grant>, used: &HashSet<(String, String)>) -> Vec<&'a Grant> {
    granted
        .iter()
        .filter(|grant| {
            !used.iter().any(|(action, resource)| {
                action.eq_ignore_ascii_case(&grant.action)
                    && (action.starts_with("connect:") || wildcard_match(&grant.resource, resource))
            })
        })
        .collect()
}

/// The actions template.yaml marks `# untested:` (with a reason) in `logical_id`'s block, or in the blocks of the
/// template's own managed policies it attaches (`- !Ref Name` under its Policies).
pub fn documented_untested(template_text: &str, logical_id: &str) -> HashSet<String> {
    let own = resource_block(template_text, logical_id);
    let attached: Vec<&str> = own
        .iter()
        .filter_map(|line| line.trim().strip_prefix("- !Ref "))
        .filter(|name| template_text.contains(&format!("\n  {name}:\n")))
        .collect();
    let mut lines: Vec<&str> = own.clone();
    for name in attached {
        lines.extend(resource_block(template_text, name));
    }
    let mut actions = HashSet::new();
    for line in lines {
        let Some((code, reason)) = line.split_once(UNTESTED) else { continue };
        assert!(reason.trim().len() > 10, "{logical_id}: an untested grant must say why: {line}");
        // The actions the line grants; a comment line of its own (for a grant SAM makes from the lines below it)
        // names its action first thing in the reason.
        let mut named = actions_in(code);
        if named.is_empty() {
            named = actions_in(reason).into_iter().take(1).collect();
        }
        assert!(!named.is_empty(), "{logical_id}: `{UNTESTED}` on a line that names no action: {line}");
        actions.extend(named.into_iter().map(str::to_owned));
    }
    actions
}

/// The IAM actions (`service:Action`) among a line's words.
fn actions_in(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | ',' | '(' | ')'))
        .filter(|word| {
            word.split_once(':').is_some_and(|(service, action)| {
                !service.is_empty()
                    && service.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && action.starts_with(|c: char| c.is_ascii_uppercase())
                    && action.chars().all(|c| c.is_ascii_alphanumeric() || c == '*')
            })
        })
        .collect()
}

/// The lines of a top-level resource's block (two-space indented name, down to the next one).
fn resource_block<'a>(text: &'a str, logical_id: &str) -> Vec<&'a str> {
    let header = format!("  {logical_id}:");
    let mut lines = text.lines().skip_while(|line| *line != header);
    assert!(lines.next().is_some(), "template.yaml has no resource {logical_id}");
    lines.take_while(|line| line.is_empty() || line.starts_with("   ") || line.trim_start().starts_with('#')).collect()
}

fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// IAM's resource matching: `*` any run of characters, `?` any one (case-sensitive, as ARNs are).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(at) = star {
            p = at + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_iam_matches_them() {
        assert!(wildcard_match("arn:aws:s3:::b/uploads/*", "arn:aws:s3:::b/uploads/x/y.csv"));
        assert!(!wildcard_match("arn:aws:s3:::b/uploads/*", "arn:aws:s3:::b/plans/y.csv"));
        assert!(wildcard_match("arn:aws:dynamodb:r:1:table/t/index/*", "arn:aws:dynamodb:r:1:table/t/index/by-time"));
        assert!(!wildcard_match("arn:aws:dynamodb:r:1:table/t", "arn:aws:dynamodb:r:1:table/t/index/by-time"));
        assert!(wildcard_match("a?c", "abc"));
    }

    #[test]
    fn a_grant_is_unused_until_a_call_matches_its_action_and_resource() {
        let document = serde_json::json!({"Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/u/*"},
            {"Effect": "Allow", "Action": "connect:CreateUser", "Resource": ["arn:x:instance/i", "arn:x:instance/i/*"]},
        ]});
        let granted = grants(&[document]);
        assert_eq!(granted.len(), 4);
        let used: HashSet<(String, String)> = [
            ("s3:getobject".to_owned(), "arn:aws:s3:::b/u/f.csv".to_owned()),
            ("s3:PutObject".to_owned(), "arn:aws:s3:::b/elsewhere/f.csv".to_owned()),
            ("connect:CreateUser".to_owned(), "*".to_owned()),
        ]
        .into();
        let left: Vec<&str> = unused(&granted, &used).iter().map(|grant| grant.action.as_str()).collect();
        assert_eq!(left, ["s3:PutObject"]);
    }

    #[test]
    fn untested_grants_are_read_from_their_own_line_with_their_reason() {
        let text = "Resources:\n  Fn:\n    Properties:\n      Policies:\n        - !Ref Extra\n        - Statement:\n            \
                    - Action:\n                - s3:GetObject\n                - s3:GetObjectVersion # untested: the \
                    event never names a version here\n  Extra:\n    Properties:\n      Action: [kms:Decrypt] # untested: \
                    no customer key in the tests\n      # untested: sqs:SendMessage, which SAM grants for the destination below, is Lambda's call\n      \
                    Destination: !GetAtt Queue.Arn\n  Other:\n    Action: sqs:SendMessage # untested: another function's\n";
        let found = documented_untested(text, "Fn");
        let expected = ["s3:GetObjectVersion", "kms:Decrypt", "sqs:SendMessage"].map(str::to_owned);
        assert_eq!(found, HashSet::from(expected));
    }
}
