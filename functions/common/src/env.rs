//! Typed configuration from environment variables, each error naming the variable. The template sets them all;
//! tests pass their own.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("the environment variable {0} is not set")]
    Missing(&'static str),
    #[error("the environment variable {name} = {value:?} is not valid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
    /// Settings each valid alone that cannot work together.
    #[error("the settings cannot work: {0}")]
    Unworkable(String),
}

/// Where configuration comes from: the process environment, or a map in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: Option<HashMap<String, String>>,
}

impl Env {
    pub fn process() -> Self {
        Self { vars: None }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: Some(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect()) }
    }

    /// The value, if set and not blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        let value = match &self.vars {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// The value parsed with `parse`, or `default` when unset.
    pub fn parsed<T, E: std::fmt::Display>(
        &self,
        name: &'static str,
        default: Option<T>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        match (self.optional(name), default) {
            (Some(value), _) => parse(value.trim()).map_err(|e| ConfigError::Invalid {
                name,
                value: value.clone(),
                reason: e.to_string(),
            }),
            (None, Some(default)) => Ok(default),
            (None, None) => Err(ConfigError::Missing(name)),
        }
    }

    /// A whole number within `range`, or `default` when unset.
    pub fn whole_number(
        &self,
        name: &'static str,
        default: Option<u32>,
        range: RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        self.parsed(name, default, |v| {
            v.parse::<u32>().ok().filter(|n| range.contains(n)).ok_or_else(|| match *range.end() {
                u32::MAX => format!("a whole number from {}", range.start()),
                end => format!("a whole number from {} to {end}", range.start()),
            })
        })
    }

    /// A number (or anything `FromStr`), or `default` when unset.
    pub fn number<T>(&self, name: &'static str, default: Option<T>) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.parsed(name, default, str::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variable() {
        let env = Env::from_pairs([("RATE", "fast"), ("BLANK", "  "), ("ROWS", " 25 ")]);
        assert_eq!(env.required("MISSING"), Err(ConfigError::Missing("MISSING")));
        assert_eq!(env.required("BLANK"), Err(ConfigError::Missing("BLANK")), "blank is unset");
        let invalid = env.number::<f64>("RATE", Some(2.0)).unwrap_err().to_string();
        assert!(invalid.contains("RATE") && invalid.contains("\"fast\""), "{invalid}");
        assert_eq!(env.number::<u32>("ROWS", None), Ok(25));
        assert_eq!(env.number::<u32>("UNSET", Some(7)), Ok(7));
        assert_eq!(env.whole_number("ROWS", None, 1..=500), Ok(25));
        let outside = env.whole_number("ROWS", None, 1..=10).unwrap_err().to_string();
        assert!(outside.contains("a whole number from 1 to 10"), "{outside}");
        let env = Env::from_pairs([("TRIES", "0")]);
        let zero = env.whole_number("TRIES", Some(5), 1..=u32::MAX).unwrap_err().to_string();
        assert!(zero.ends_with("a whole number from 1"), "{zero}");
    }
}
