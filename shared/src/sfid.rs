//! Salesforce record ids: 15-character case-sensitive ids and their 18-character checksummed form.

use std::fmt;

/// The alphabet the 3-character checksum suffix is drawn from.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// Key prefixes (the first three characters name the object type) ccbulk reads in files.
pub const USER_PREFIX: &str = "005";
pub const CALL_CENTER_PREFIX: &str = "04v";
pub const PROFILE_PREFIX: &str = "00e";

/// An 18-character Salesforce id whose checksum has been verified.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SalesforceId(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SalesforceIdError {
    /// Neither 15 nor 18 characters.
    Length(usize),
    /// A character outside `[A-Za-z0-9]`.
    Character(char),
    /// The 18-character form whose last three characters do not match its first fifteen.
    Checksum { expected: String },
}

impl fmt::Display for SalesforceIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(f, "a Salesforce id has 15 or 18 characters, this one has {n}"),
            Self::Character(c) => write!(f, "a Salesforce id has only letters and digits, not {c:?}"),
            Self::Checksum { expected } => write!(
                f,
                "the last three characters are not the checksum of the first fifteen (expected {expected}): \
                 the id was probably mistyped or changed in case"
            ),
        }
    }
}

impl SalesforceId {
    /// Parses a 15- or 18-character id; a 15-character id is converted to its 18-character form.
    pub fn parse(text: &str) -> Result<Self, SalesforceIdError> {
        if let Some(bad) = text.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(SalesforceIdError::Character(bad));
        }
        match text.len() {
            15 => Ok(Self(format!("{text}{}", checksum(text)))),
            18 => {
                let expected = checksum(&text[..15]);
                if text[15..] == expected {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(SalesforceIdError::Checksum { expected: format!("{}{expected}", &text[..15]) })
                }
            }
            n => Err(SalesforceIdError::Length(n)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key prefix: the object type the id belongs to.
    pub fn prefix(&self) -> &str {
        &self.0[..3]
    }
}

impl fmt::Display for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SalesforceId({})", self.0)
    }
}

/// The 3-character suffix: one character per 5-character chunk, encoding which of its letters are upper case.
fn checksum(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            SUFFIX_ALPHABET[bits] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_the_reference_vectors() {
        for (short, long) in [
            ("a0RE000000IJmcN", "a0RE000000IJmcNMAT"),
            ("001M000000qfPyS", "001M000000qfPySIAU"),
            ("AbCdEfGhIjKlMnO", "AbCdEfGhIjKlMnOVKV"),
            ("aBcDEfgHIJKLMNO", "aBcDEfgHIJKLMNO025"),
        ] {
            assert_eq!(SalesforceId::parse(short).unwrap().as_str(), long);
            assert_eq!(SalesforceId::parse(long).unwrap().as_str(), long);
        }
    }

    #[test]
    fn rejects_a_wrong_checksum_and_names_the_right_one() {
        let err = SalesforceId::parse("001M000000qfPySIAA").unwrap_err();
        assert_eq!(err, SalesforceIdError::Checksum { expected: "001M000000qfPySIAU".into() });
        // A case change in the first fifteen characters is caught too.
        assert!(matches!(SalesforceId::parse("001m000000qfPySIAU"), Err(SalesforceIdError::Checksum { .. })));
    }

    #[test]
    fn rejects_bad_length_and_characters() {
        assert_eq!(SalesforceId::parse("005ABC"), Err(SalesforceIdError::Length(6)));
        assert_eq!(SalesforceId::parse("005xx000001X9q-AAS"), Err(SalesforceIdError::Character('-')));
        assert_eq!(SalesforceId::parse(""), Err(SalesforceIdError::Length(0)));
    }

    #[test]
    fn reports_the_key_prefix() {
        assert_eq!(SalesforceId::parse("005xx000001X9qL").unwrap().prefix(), USER_PREFIX);
    }
}
