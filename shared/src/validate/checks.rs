//! Checks of single values, each returning the rule it breaks and a sentence that explains how.

use std::collections::HashSet;

use unicode_normalization::is_nfc;

use super::rules::Rule;
use crate::domain::{Channel, ChannelPhone, IdentityManagement, PhoneType, ResourceRef, VoiceEnhancementMode};
use crate::sfid::SalesforceId;

pub(crate) type Broken = (Rule, String);

/// The most of a cell a message shows: fewer characters than the shortest password Connect takes.
const SHOWN_CHARACTERS: usize = 6;

/// How a message shows a cell's value: whole when it is short, else its first characters and its length, so that
/// no message ever carries a whole long cell (a password that landed in the wrong column, the rows an open quote
/// ran into). Rows whose columns are in doubt show not even this (`Cells::fail`).
pub(crate) fn shown(text: &str) -> String {
    let length = text.chars().count();
    if length <= SHOWN_CHARACTERS {
        return format!("{text:?}");
    }
    let start: String = text.chars().take(SHOWN_CHARACTERS).collect();
    format!("\"{}…\" ({length} characters)", start.escape_debug())
}

const NON_SAML_USERNAME_MAX: usize = 20;
const SAML_USERNAME_MAX: usize = 64;
const PASSWORD_MIN: usize = 8;
const PASSWORD_MAX: usize = 64;
const ACW_MAX_SECONDS: u32 = 2_000_000;
const SECURITY_PROFILES_MAX: usize = 10;
const TAGS_MAX: usize = 50;
const TAG_KEY_MAX: usize = 128;
const TAG_VALUE_MAX: usize = 256;
const SALESFORCE_USERNAME_MAX: usize = 80;
const ALIAS_MAX: usize = 8;

/// Amazon Connect's username rules, which depend on the instance's identity management.
pub(crate) fn connect_username(name: &str, identity: IdentityManagement) -> Result<(), Broken> {
    let length = name.chars().count();
    if identity == IdentityManagement::Saml {
        if length > SAML_USERNAME_MAX {
            return Err((
                Rule::UsernameTooLong,
                format!("SAML usernames have at most {SAML_USERNAME_MAX} characters; this one has {length}"),
            ));
        }
    } else if length > NON_SAML_USERNAME_MAX {
        return Err((
            Rule::UsernameTooLong,
            format!(
                "{identity} instances take usernames of at most {NON_SAML_USERNAME_MAX} characters; \
                 this one has {length}"
            ),
        ));
    }
    // The API reference gives the character set for SAML usernames only and is silent for the others; the stricter
    // reading holds for every instance (a username outside it would be refused, or unusable to sign in with).
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-.@".contains(*c))) {
        return Err((
            Rule::UsernameCharacters,
            format!("usernames use only a-z A-Z 0-9 _ - . @; {bad:?} is not allowed"),
        ));
    }
    if name.contains('@') && !is_email(name) {
        return Err((
            Rule::UsernameAtSign,
            "a username may contain @ only as an email address (user@example.com), not like user@example".into(),
        ));
    }
    Ok(())
}

/// Connect's password policy: 8-64 characters, a lower-case letter, an upper-case letter and a digit, no white
/// space. The message never repeats the password.
pub(crate) fn password(secret: &str) -> Result<(), Broken> {
    let length = secret.chars().count();
    let mut missing = Vec::new();
    if !secret.chars().any(|c| c.is_ascii_lowercase()) {
        missing.push("a lower-case letter");
    }
    if !secret.chars().any(|c| c.is_ascii_uppercase()) {
        missing.push("an upper-case letter");
    }
    if !secret.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit");
    }
    let problem = if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&length) {
        format!("the password has {length} characters; it needs {PASSWORD_MIN} to {PASSWORD_MAX}")
    } else if secret.chars().any(char::is_whitespace) {
        "the password contains white space, which Connect does not accept".to_owned()
    } else if !missing.is_empty() {
        format!("the password lacks {}", join_and(&missing))
    } else {
        return Ok(());
    };
    Err((Rule::PasswordWeak, problem))
}

/// A pragmatic email syntax check: local part, `@`, dotted domain with a 2-63 letter top-level label.
pub(crate) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-'!#$&*/=?^`{|}~".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| (2..=63).contains(&tld.len()) && tld.chars().all(|c| c.is_ascii_alphabetic()));
    text.len() <= 254 && local_ok && domain_ok
}

pub(crate) fn email(text: &str) -> Result<(), Broken> {
    if is_email(text) {
        Ok(())
    } else {
        Err((Rule::EmailInvalid, format!("{} is not an email address (expected name@domain.tld)", shown(text))))
    }
}

/// E.164: `+`, a non-zero digit, then up to 14 more digits.
pub(crate) fn e164(text: &str) -> Result<(), Broken> {
    let digits = text.strip_prefix('+').unwrap_or("");
    let ok = (2..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        let hint = if text.starts_with('+') { "" } else { " (it must start with + and the country code)" };
        Err((Rule::PhoneNumberInvalid, format!("{} is not an E.164 phone number like +14155550123{hint}", shown(text))))
    }
}

pub(crate) fn yes_no(text: &str) -> Result<bool, Broken> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Ok(true),
        "no" | "n" | "false" => Ok(false),
        _ => Err((Rule::YesNoInvalid, format!("{} is neither yes nor no", shown(text)))),
    }
}

pub(crate) fn acw_seconds(text: &str) -> Result<u32, Broken> {
    match text.parse::<u32>() {
        Ok(seconds) if seconds <= ACW_MAX_SECONDS => Ok(seconds),
        _ => Err((
            Rule::AcwInvalid,
            format!("{} is not a whole number of seconds from 0 to {ACW_MAX_SECONDS} (0 means no limit)", shown(text)),
        )),
    }
}

pub(crate) fn phone_type(text: &str) -> Result<PhoneType, Broken> {
    match text.to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
        "soft" | "soft_phone" | "softphone" => Ok(PhoneType::SoftPhone),
        "desk" | "desk_phone" | "deskphone" => Ok(PhoneType::DeskPhone),
        _ => Err((Rule::PhoneTypeInvalid, format!("{} is not a phone type (soft or desk)", shown(text)))),
    }
}

/// Names must be NFC and fit the identity management's limits.
pub(crate) fn person_name(text: &str, max: usize) -> Result<(), Broken> {
    if !is_nfc(text) {
        return Err((
            Rule::NameNotNfc,
            "the name has decomposed characters or combining marks (not Unicode NFC), which Connect rejects; \
             retype it or save the file from an editor that writes NFC"
                .into(),
        ));
    }
    let length = text.chars().count();
    if length > max {
        return Err((Rule::NameTooLong, format!("the name has {length} characters; at most {max} are allowed")));
    }
    Ok(())
}

/// The most characters Connect takes for (first, last) names under an identity management type.
pub(crate) fn name_limits(identity: IdentityManagement) -> (usize, usize) {
    match identity {
        IdentityManagement::ConnectManaged => (255, 256),
        IdentityManagement::Saml | IdentityManagement::ExistingDirectory => (255, 300),
    }
}

/// `name|name|...`: 1 to 10 security profiles, each once.
pub(crate) fn security_profiles(text: &str) -> Result<Vec<ResourceRef>, Broken> {
    let names = split_list(text);
    if names.is_empty() {
        return Err((Rule::SecurityProfilesMissing, "no security profile is named".into()));
    }
    if names.len() > SECURITY_PROFILES_MAX {
        return Err((
            Rule::SecurityProfilesTooMany,
            format!("{} security profiles are named; a user has at most {SECURITY_PROFILES_MAX}", names.len()),
        ));
    }
    let mut seen = HashSet::new();
    if let Some(repeated) = names.iter().find(|name| !seen.insert(name.to_lowercase())) {
        return Err((
            Rule::SecurityProfilesDuplicate,
            format!("the security profile {} is named twice", shown(repeated)),
        ));
    }
    Ok(names.into_iter().map(ResourceRef::classify).collect())
}

/// `key=value|key=value` (or `key:value`), with Connect's tag limits.
pub(crate) fn tags(text: &str) -> Result<Vec<(String, String)>, Broken> {
    let mut tags = Vec::new();
    let mut keys = HashSet::new();
    for pair in split_list(text) {
        let Some((key, value)) = pair.split_once('=').or_else(|| pair.split_once(':')) else {
            return Err((Rule::TagsInvalid, format!("the tag {} has no '=' between key and value", shown(pair))));
        };
        let (key, value) = (key.trim(), value.trim());
        let key_length = key.chars().count();
        if !(1..=TAG_KEY_MAX).contains(&key_length) {
            return Err((
                Rule::TagKeyInvalid,
                format!("tag keys have 1 to {TAG_KEY_MAX} characters; {} has {key_length}", shown(key)),
            ));
        }
        if key.starts_with("aws:") {
            return Err((
                Rule::TagKeyReserved,
                format!("the tag key {} starts with aws:, which AWS reserves", shown(key)),
            ));
        }
        if let Some(bad) = key.chars().find(|c| !(c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(*c)))
        {
            return Err((
                Rule::TagKeyInvalid,
                format!("the tag key {} contains {bad:?}, which tag keys may not", shown(key)),
            ));
        }
        if value.chars().count() > TAG_VALUE_MAX {
            return Err((
                Rule::TagValueTooLong,
                format!("the value of tag {} is longer than {TAG_VALUE_MAX} characters", shown(key)),
            ));
        }
        if !keys.insert(key.to_owned()) {
            return Err((Rule::TagKeyDuplicate, format!("the tag key {} is given twice", shown(key))));
        }
        tags.push((key.to_owned(), value.to_owned()));
    }
    if tags.len() > TAGS_MAX {
        return Err((Rule::TagsTooMany, format!("{} tags are given; a user has at most {TAGS_MAX}", tags.len())));
    }
    Ok(tags)
}

/// `CHANNEL=value|CHANNEL=value` for Connect's per-channel settings; each channel at most once.
pub(crate) fn per_channel<T>(
    text: &str,
    value: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<(Channel, T)>, Broken> {
    let mut out: Vec<(Channel, T)> = Vec::new();
    for entry in split_list(text) {
        let invalid = |why: String| (Rule::ChannelConfigInvalid, why);
        let (channel_text, value_text) =
            entry.split_once('=').ok_or_else(|| invalid(format!("{} is not CHANNEL=value", shown(entry))))?;
        let channel = Channel::parse(channel_text).ok_or_else(|| {
            invalid(format!("{} is not a channel (VOICE, CHAT, TASK or EMAIL)", shown(channel_text.trim())))
        })?;
        if out.iter().any(|(seen, _)| *seen == channel) {
            return Err(invalid(format!("the channel {channel:?} is given twice")));
        }
        let parsed = value(value_text.trim()).map_err(|why| invalid(format!("{channel:?}: {why}")))?;
        out.push((channel, parsed));
    }
    Ok(out)
}

/// A per-channel phone: `soft`, or `desk:+15551234567`.
pub(crate) fn channel_phone(text: &str) -> Result<ChannelPhone, String> {
    let (kind, number) = match text.split_once(':') {
        Some((kind, number)) => (kind.trim(), Some(number.trim())),
        None => (text, None),
    };
    let phone_type = phone_type(kind).map_err(|(_, why)| why)?;
    if let Some(number) = number {
        e164(number).map_err(|(_, why)| why)?;
    }
    if phone_type == PhoneType::DeskPhone && number.is_none() {
        return Err("a desk phone needs its number, as desk:+15551234567".into());
    }
    Ok(ChannelPhone { phone_type, phone_number: number.map(str::to_owned) })
}

pub(crate) fn voice_enhancement(text: &str) -> Result<VoiceEnhancementMode, String> {
    match text.to_ascii_uppercase().as_str() {
        "VOICE_ISOLATION" => Ok(VoiceEnhancementMode::VoiceIsolation),
        "NOISE_SUPPRESSION" => Ok(VoiceEnhancementMode::NoiseSuppression),
        "NONE" => Ok(VoiceEnhancementMode::None),
        _ => Err(format!("{} is not VOICE_ISOLATION, NOISE_SUPPRESSION or NONE", shown(text))),
    }
}

/// A routing profile ARN: `arn:<partition>:connect:<region>:<account>:instance/<id>/routing-profile/<id>`.
pub(crate) fn routing_profile_arn(text: &str) -> Result<(), Broken> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "connect"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && {
            let path: Vec<&str> = parts[5].split('/').collect();
            path.len() == 4
                && path[0] == "instance"
                && path[2] == "routing-profile"
                && !path[1].is_empty()
                && !path[3].is_empty()
        };
    if ok {
        Ok(())
    } else {
        Err((
            Rule::RoutingProfileNotArn,
            format!(
                "{} is not a routing-profile ARN \
                 (arn:aws:connect:REGION:ACCOUNT:instance/INSTANCE_ID/routing-profile/PROFILE_ID)",
                shown(text)
            ),
        ))
    }
}

/// A Salesforce id of the expected object type (`prefix`, e.g. 005 for users), described as `what` in messages.
pub(crate) fn salesforce_id(text: &str, prefix: &str, what: &str) -> Result<SalesforceId, Broken> {
    let id = SalesforceId::parse(text)
        .map_err(|err| (Rule::SalesforceIdInvalid, format!("{} is not a valid {what} id: {err}", shown(text))))?;
    if id.prefix() != prefix {
        return Err((
            Rule::SalesforceIdWrongObject,
            format!(
                "{} is not a {what} id: {what} ids start with {prefix}, this one with {}",
                shown(text),
                id.prefix()
            ),
        ));
    }
    Ok(id)
}

/// Whether text has the shape of a record id rather than a name: 15 or 18 letters and digits with a digit among
/// the first three (every key prefix has one; names rarely do).
pub(crate) fn looks_like_salesforce_id(text: &str) -> bool {
    matches!(text.len(), 15 | 18)
        && text.chars().all(|c| c.is_ascii_alphanumeric())
        && text.chars().take(3).any(|c| c.is_ascii_digit())
}

pub(crate) fn salesforce_username(text: &str) -> Result<(), Broken> {
    if is_email(text) && text.chars().count() <= SALESFORCE_USERNAME_MAX {
        Ok(())
    } else {
        Err((
            Rule::SalesforceUsernameInvalid,
            format!(
                "{} is not a Salesforce username: it must look like an email address and have at most {SALESFORCE_USERNAME_MAX} characters",
                shown(text)
            ),
        ))
    }
}

/// Salesforce aliases that Service Cloud Voice can carry over to Connect.
pub(crate) fn alias(text: &str) -> Result<(), Broken> {
    let length = text.chars().count();
    if length > ALIAS_MAX {
        return Err((
            Rule::AliasInvalid,
            format!("the alias {} has {length} characters; at most {ALIAS_MAX}", shown(text)),
        ));
    }
    if let Some(bad) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-.".contains(*c))) {
        return Err((
            Rule::AliasInvalid,
            format!("the alias {} contains {bad:?}; Voice takes only a-z A-Z 0-9 _ - .", shown(text)),
        ));
    }
    Ok(())
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Splits a `|`-separated list, trimming entries and dropping empty ones.
pub(crate) fn split_list(text: &str) -> Vec<&str> {
    text.split('|').map(str::trim).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use IdentityManagement::*;

    fn rule<T: std::fmt::Debug>(result: Result<T, Broken>) -> Rule {
        result.expect_err("expected the check to fail").0
    }

    #[test]
    fn usernames_follow_the_identity_management() {
        assert!(connect_username("jdoe", ConnectManaged).is_ok());
        assert!(connect_username("a2345678901234567890", ConnectManaged).is_ok());
        assert_eq!(rule(connect_username("a23456789012345678901", ConnectManaged)), Rule::UsernameTooLong);
        assert_eq!(rule(connect_username("a23456789012345678901", ExistingDirectory)), Rule::UsernameTooLong);
        assert!(connect_username("jane.doe.the.second@example.com", Saml).is_ok());
        assert_eq!(rule(connect_username(&"a".repeat(65), Saml)), Rule::UsernameTooLong);
        assert!(connect_username(&"a".repeat(64), Saml).is_ok());
        assert_eq!(rule(connect_username("jane doe", Saml)), Rule::UsernameCharacters);
        assert_eq!(rule(connect_username("jane+1@example.com", Saml)), Rule::UsernameCharacters);
        assert_eq!(
            rule(connect_username("bad name!", ConnectManaged)),
            Rule::UsernameCharacters,
            "the stricter reading"
        );
        assert_eq!(rule(connect_username("testuser@example", Saml)), Rule::UsernameAtSign);
        assert_eq!(rule(connect_username("t@example", ConnectManaged)), Rule::UsernameAtSign);
        assert!(connect_username("t@example.com", ConnectManaged).is_ok());
    }

    #[test]
    fn passwords_follow_connects_policy_and_messages_never_echo_them() {
        assert!(password("Passw0rd").is_ok());
        assert!(password("Sup3r$ecret!").is_ok());
        for weak in ["Pa55w0r", "password1", "PASSWORD1", "Password", "Pass w0rd1", &format!("Aa1{}", "x".repeat(62))] {
            let (rule, message) = password(weak).unwrap_err();
            assert_eq!(rule, Rule::PasswordWeak, "{weak}");
            assert!(!message.contains(weak), "the message must not repeat the password");
        }
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "jane.doe+cc@example.co.uk", "o'neil@example.com"] {
            assert!(is_email(good), "{good}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@.co", "a@b..co", "a b@c.co", "a@b.c", "a@b.c0m", ".a@b.co", "a@-b.co"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert_eq!(rule(email("jane@example")), Rule::EmailInvalid);
    }

    #[test]
    fn phone_numbers_are_e164() {
        assert!(e164("+14155550123").is_ok());
        assert!(e164("+442071838750").is_ok());
        assert!(e164("+123456789012345").is_ok());
        for bad in ["14155550123", "+0123", "+1", "+1234567890123456", "+1 415 555 0123", "+1-415", ""] {
            assert_eq!(rule(e164(bad)), Rule::PhoneNumberInvalid, "{bad}");
        }
    }

    #[test]
    fn yes_no_acw_and_phone_type() {
        assert_eq!(yes_no("Yes"), Ok(true));
        assert_eq!(yes_no("no"), Ok(false));
        assert_eq!(rule(yes_no("maybe")), Rule::YesNoInvalid);
        assert_eq!(acw_seconds("0"), Ok(0));
        assert_eq!(acw_seconds("2000000"), Ok(2_000_000));
        for bad in ["-1", "2000001", "1.5", "ten", ""] {
            assert_eq!(rule(acw_seconds(bad)), Rule::AcwInvalid, "{bad}");
        }
        assert_eq!(phone_type("soft"), Ok(PhoneType::SoftPhone));
        assert_eq!(phone_type("DESK_PHONE"), Ok(PhoneType::DeskPhone));
        assert_eq!(rule(phone_type("mobile")), Rule::PhoneTypeInvalid);
    }

    #[test]
    fn names_are_nfc_and_bounded() {
        assert!(person_name("Zoë", 255).is_ok());
        assert_eq!(rule(person_name("Zoe\u{0308}", 255)), Rule::NameNotNfc);
        assert_eq!(rule(person_name(&"x".repeat(256), 255)), Rule::NameTooLong);
        assert_eq!(name_limits(ConnectManaged), (255, 256));
    }

    #[test]
    fn security_profiles_count_one_to_ten() {
        assert_eq!(security_profiles("Agent|Admin").unwrap().len(), 2);
        assert_eq!(rule(security_profiles(" | ")), Rule::SecurityProfilesMissing);
        let eleven = (0..11).map(|i| format!("P{i}")).collect::<Vec<_>>().join("|");
        assert_eq!(rule(security_profiles(&eleven)), Rule::SecurityProfilesTooMany);
        let ten = (0..10).map(|i| format!("P{i}")).collect::<Vec<_>>().join("|");
        assert!(security_profiles(&ten).is_ok());
        assert_eq!(rule(security_profiles("Agent|agent")), Rule::SecurityProfilesDuplicate);
    }

    #[test]
    fn tags_follow_connects_limits() {
        assert_eq!(
            tags("team=blue|site=Austin TX").unwrap(),
            vec![("team".into(), "blue".into()), ("site".into(), "Austin TX".into())]
        );
        assert_eq!(rule(tags("team")), Rule::TagsInvalid);
        assert_eq!(tags("team:blue").unwrap(), vec![("team".into(), "blue".into())]);
        assert_eq!(rule(tags("=x")), Rule::TagKeyInvalid);
        assert_eq!(rule(tags(&format!("{}=x", "k".repeat(129)))), Rule::TagKeyInvalid);
        assert!(tags(&format!("{}=x", "k".repeat(128))).is_ok());
        assert_eq!(rule(tags("aws:cost=1")), Rule::TagKeyReserved);
        assert_eq!(rule(tags("cost#center=1")), Rule::TagKeyInvalid);
        assert_eq!(rule(tags(&format!("k={}", "v".repeat(257)))), Rule::TagValueTooLong);
        assert!(tags(&format!("k={}", "v".repeat(256))).is_ok());
        assert_eq!(rule(tags("k=1|k=2")), Rule::TagKeyDuplicate);
        let fifty_one = (0..51).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("|");
        assert_eq!(rule(tags(&fifty_one)), Rule::TagsTooMany);
        let fifty = (0..50).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("|");
        assert_eq!(tags(&fifty).unwrap().len(), 50);
    }

    #[test]
    fn per_channel_settings() {
        let parsed = per_channel("VOICE=yes|chat=no", |v| yes_no(v).map_err(|(_, why)| why)).unwrap();
        assert_eq!(parsed, vec![(Channel::Voice, true), (Channel::Chat, false)]);
        let bad = |text| rule(per_channel(text, |v| yes_no(v).map_err(|(_, why)| why)));
        assert_eq!(bad("VOICE"), Rule::ChannelConfigInvalid);
        assert_eq!(bad("FAX=yes"), Rule::ChannelConfigInvalid);
        assert_eq!(bad("VOICE=yes|VOICE=no"), Rule::ChannelConfigInvalid);
        assert_eq!(bad("VOICE=perhaps"), Rule::ChannelConfigInvalid);
        assert_eq!(channel_phone("desk:+14155550123").unwrap().phone_number.as_deref(), Some("+14155550123"));
        assert!(channel_phone("desk").is_err());
        assert!(channel_phone("soft").is_ok());
        assert!(channel_phone("desk:555").is_err());
    }

    #[test]
    fn routing_profile_arns() {
        assert!(
            routing_profile_arn("arn:aws:connect:us-west-2:123456789012:instance/abcd-1234/routing-profile/efgh-5678")
                .is_ok()
        );
        for bad in [
            "Basic Routing Profile",
            "arn:aws:connect:us-west-2:123456789012:instance/abcd/queue/efgh",
            "arn:aws:connect:us-west-2:1234:instance/abcd/routing-profile/efgh",
            "arn:aws:s3:us-west-2:123456789012:instance/abcd/routing-profile/efgh",
        ] {
            assert_eq!(rule(routing_profile_arn(bad)), Rule::RoutingProfileNotArn, "{bad}");
        }
    }

    #[test]
    fn salesforce_ids_of_the_right_object() {
        assert_eq!(salesforce_id("005xx000001X9qL", "005", "user").unwrap().as_str(), "005xx000001X9qLAAS");
        assert_eq!(rule(salesforce_id("005xx000001X9qLAAA", "005", "user")), Rule::SalesforceIdInvalid);
        assert_eq!(rule(salesforce_id("04vxx0000004EHI", "005", "user")), Rule::SalesforceIdWrongObject);
        assert_eq!(rule(salesforce_id("005xx", "005", "user")), Rule::SalesforceIdInvalid);
        assert!(looks_like_salesforce_id("04vxx0000004EHIAA2"));
        assert!(!looks_like_salesforce_id("Support East"));
    }

    #[test]
    fn salesforce_usernames_and_aliases() {
        assert!(salesforce_username("jdoe@acme.com.prod").is_ok());
        assert_eq!(rule(salesforce_username("jdoe")), Rule::SalesforceUsernameInvalid);
        assert!(alias("jdoe").is_ok());
        assert!(alias("j.do-e_1").is_ok());
        assert_eq!(rule(alias("jdoe12345")), Rule::AliasInvalid);
        assert_eq!(rule(alias("jödö")), Rule::AliasInvalid);
        assert_eq!(rule(alias("j doe")), Rule::AliasInvalid);
    }
}
