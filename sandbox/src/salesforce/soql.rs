//! The SOQL subset ccbulk needs: `SELECT f, ... FROM Object [WHERE cond AND ...] [LIMIT n]`, where a condition is
//! `Field = value`, `Field != value` or `Field IN (value, ...)`, and a value is a quoted string, a number, true,
//! false or null.

use serde_json::Value;

use super::org::{Record, SfError, schema};

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub object: &'static str,
    pub fields: Vec<&'static str>,
    pub conditions: Vec<Condition>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: &'static str,
    pub negate: bool,
    pub values: Vec<Value>,
}

fn malformed(message: impl Into<String>) -> SfError {
    SfError::new("MALFORMED_QUERY", message, &[])
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Symbol(char),
    NotEqual,
}

fn tokens(text: &str) -> Result<Vec<Token>, SfError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '\'' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => value.extend(chars.next()),
                        Some('\'') => break,
                        Some(c) => value.push(c),
                        None => return Err(malformed("unterminated string literal")),
                    }
                }
                out.push(Token::Text(value));
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err(malformed("expected != "));
                }
                out.push(Token::NotEqual);
            }
            ',' | '(' | ')' | '=' => {
                out.push(Token::Symbol(c));
                chars.next();
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || ",()='!".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

fn keyword(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

pub fn parse(text: &str) -> Result<Query, SfError> {
    let tokens = tokens(text)?;
    let mut at = 0;
    if !keyword(tokens.first(), "SELECT") {
        return Err(malformed("unexpected token: expected SELECT"));
    }
    at += 1;
    let mut names = Vec::new();
    loop {
        match tokens.get(at) {
            Some(Token::Word(word)) => names.push(word.clone()),
            _ => return Err(malformed("expected a field name")),
        }
        at += 1;
        if tokens.get(at) == Some(&Token::Symbol(',')) {
            at += 1;
        } else {
            break;
        }
    }
    if !keyword(tokens.get(at), "FROM") {
        return Err(malformed("expected FROM"));
    }
    let object_name = match tokens.get(at + 1) {
        Some(Token::Word(word)) => word.clone(),
        _ => return Err(malformed("expected an object after FROM")),
    };
    at += 2;
    let schema = schema(&object_name)
        .ok_or_else(|| SfError::new("INVALID_TYPE", format!("sObject type '{object_name}' is not supported."), &[]))?;
    let field = |name: &str| {
        schema.field(name).ok_or_else(|| {
            SfError::new("INVALID_FIELD", format!("No such column '{name}' on entity '{}'.", schema.name), &[])
        })
    };
    let fields = names.iter().map(|n| field(n)).collect::<Result<Vec<_>, _>>()?;
    let mut conditions = Vec::new();
    if keyword(tokens.get(at), "WHERE") {
        at += 1;
        loop {
            let name = match tokens.get(at) {
                Some(Token::Word(word)) => word.clone(),
                _ => return Err(malformed("expected a field in WHERE")),
            };
            let field = field(&name)?;
            at += 1;
            let condition = match tokens.get(at) {
                Some(Token::Symbol('=')) | Some(Token::NotEqual) => {
                    let negate = tokens[at] == Token::NotEqual;
                    at += 1;
                    let value = literal(tokens.get(at))?;
                    at += 1;
                    Condition { field, negate, values: vec![value] }
                }
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("IN") => {
                    at += 1;
                    if tokens.get(at) != Some(&Token::Symbol('(')) {
                        return Err(malformed("expected ( after IN"));
                    }
                    at += 1;
                    let mut values = Vec::new();
                    loop {
                        values.push(literal(tokens.get(at))?);
                        at += 1;
                        match tokens.get(at) {
                            Some(Token::Symbol(',')) => at += 1,
                            Some(Token::Symbol(')')) => {
                                at += 1;
                                break;
                            }
                            _ => return Err(malformed("expected , or ) in IN list")),
                        }
                    }
                    Condition { field, negate: false, values }
                }
                _ => return Err(malformed(format!("unexpected token after {name}"))),
            };
            conditions.push(condition);
            if keyword(tokens.get(at), "AND") {
                at += 1;
            } else {
                break;
            }
        }
    }
    let mut limit = None;
    if keyword(tokens.get(at), "LIMIT") {
        limit = match tokens.get(at + 1) {
            Some(Token::Word(n)) => Some(n.parse().map_err(|_| malformed("LIMIT takes a number"))?),
            _ => return Err(malformed("LIMIT takes a number")),
        };
        at += 2;
    }
    if at != tokens.len() {
        return Err(malformed(format!("unexpected token: {:?}", tokens[at])));
    }
    Ok(Query { object: schema.name, fields, conditions, limit })
}

fn literal(token: Option<&Token>) -> Result<Value, SfError> {
    match token {
        Some(Token::Text(text)) => Ok(Value::String(text.clone())),
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Value::Null),
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        Some(Token::Word(w)) => {
            w.parse::<f64>().map(Value::from).map_err(|_| malformed(format!("unexpected value {w}")))
        }
        _ => Err(malformed("expected a value")),
    }
}

impl Query {
    /// The ids a query is limited to, when one of its conditions is `Id = ...` or `Id IN (...)`.
    pub fn ids(&self) -> Option<Vec<&str>> {
        let condition = self.conditions.iter().find(|c| c.field == "Id" && !c.negate)?;
        condition.values.iter().map(Value::as_str).collect()
    }

    /// The first of `fields` the query asks for by value (`= v` or `IN (...)`), and the values it asks for.
    pub fn keyed(&self, fields: &[&'static str]) -> Option<(&'static str, Vec<&str>)> {
        fields.iter().find_map(|field| {
            let condition = self.conditions.iter().find(|c| c.field.eq_ignore_ascii_case(field) && !c.negate)?;
            Some((*field, condition.values.iter().map(Value::as_str).collect::<Option<Vec<_>>>()?))
        })
    }

    pub fn matches(&self, record: &Record) -> bool {
        self.conditions.iter().all(|condition| {
            let actual = record.get(condition.field).unwrap_or(&Value::Null);
            let hit = condition.values.iter().any(|wanted| same(actual, wanted, condition.field));
            hit != condition.negate
        })
    }

    /// The record with only the selected fields, and its `attributes`.
    pub fn project(&self, record: &Record, version: &str) -> Value {
        let mut out = serde_json::Map::new();
        let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
        out.insert(
            "attributes".into(),
            serde_json::json!({"type": self.object, "url": format!("/services/data/{version}/sobjects/{}/{id}", self.object)}),
        );
        for field in &self.fields {
            out.insert((*field).to_owned(), record.get(*field).cloned().unwrap_or(Value::Null));
        }
        Value::Object(out)
    }
}

/// Text compares case-insensitively, as SOQL does; ids also match in their 15-character form.
fn same(actual: &Value, wanted: &Value, field: &str) -> bool {
    match (actual, wanted) {
        (Value::String(a), Value::String(w)) => {
            a.eq_ignore_ascii_case(w)
                || (field.ends_with("Id") && w.len() == 15 && a.len() == 18 && a.starts_with(w.as_str()))
        }
        _ => actual == wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset() {
        let query =
            parse("SELECT Id, Username FROM User WHERE Username IN ('a@x.com', 'b@x.com') AND IsActive = true LIMIT 5")
                .unwrap();
        assert_eq!(query.object, "User");
        assert_eq!(query.fields, vec!["Id", "Username"]);
        assert_eq!(query.conditions.len(), 2);
        assert_eq!(query.limit, Some(5));
        let query = parse("select id from permissionset where name = 'X\\'s'").unwrap();
        assert_eq!(query.conditions[0].values, vec![Value::String("X's".into())]);
    }

    #[test]
    fn reports_malformed_queries_and_unknown_names() {
        assert_eq!(parse("SELECT FROM User").unwrap_err().code, "MALFORMED_QUERY");
        assert_eq!(parse("SELECT Id FROM User WHERE").unwrap_err().code, "MALFORMED_QUERY");
        assert_eq!(parse("SELECT Id FROM Account").unwrap_err().code, "INVALID_TYPE");
        assert_eq!(parse("SELECT Nope FROM User").unwrap_err().code, "INVALID_FIELD");
        assert_eq!(parse("SELECT Id FROM User WHERE Name = 'x").unwrap_err().code, "MALFORMED_QUERY");
    }
}
