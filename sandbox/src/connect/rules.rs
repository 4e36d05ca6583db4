//! The service's own checks, written from the API reference (not shared with ccbulk's validator, so that the
//! sandbox catches what ccbulk gets wrong).

use std::collections::BTreeMap;

use unicode_normalization::is_nfc;

use super::error::{ConnectError, ConnectResult};
use super::model::{ChannelConfigs, IdentityInfo, IdentityManagementType, PhoneConfig};

pub fn username(name: &str, identity: IdentityManagementType) -> ConnectResult<()> {
    let length = name.chars().count();
    if !(1..=100).contains(&length) {
        return Err(ConnectError::invalid_parameter("Username must be between 1 and 100 characters."));
    }
    // AgentUsername's documentation gives [a-zA-Z0-9_-.\@]+ for SAML instances and no set for the others; where the
    // reference is silent the sandbox takes the stricter reading, for every instance.
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.@".contains(c)) {
        return Err(ConnectError::invalid_parameter("Username can include only characters from [a-zA-Z0-9_-.\\@]+."));
    }
    match identity {
        IdentityManagementType::Saml if length > 64 => {
            return Err(ConnectError::invalid_parameter(
                "Username for SAML instances can include up to 64 characters from [a-zA-Z0-9_-.\\@]+.",
            ));
        }
        IdentityManagementType::ConnectManaged | IdentityManagementType::ExistingDirectory if length > 20 => {
            return Err(ConnectError::invalid_parameter("Username can include up to 20 characters."));
        }
        _ => {}
    }
    if name.contains('@') && !email_form(name) {
        return Err(ConnectError::invalid_parameter("Username can include @ only if used in an email format."));
    }
    Ok(())
}

/// `local@domain.tld`.
pub fn email_form(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    let Some((host, tld)) = domain.rsplit_once('.') else { return false };
    !local.is_empty()
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
        && !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        && (2..=63).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// `^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)[a-zA-Z\d\S]{8,64}$`
pub fn password(secret: &str) -> ConnectResult<()> {
    let ok = (8..=64).contains(&secret.chars().count())
        && secret.chars().any(|c| c.is_ascii_lowercase())
        && secret.chars().any(|c| c.is_ascii_uppercase())
        && secret.chars().any(|c| c.is_ascii_digit())
        && !secret.chars().any(char::is_whitespace);
    if ok { Ok(()) } else { Err(ConnectError::invalid_parameter("Password does not satisfy the password policy.")) }
}

/// E.164.
pub fn phone_number(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0')
    })
}

pub fn identity_info(info: &IdentityInfo, identity: IdentityManagementType, creating: bool) -> ConnectResult<()> {
    let (first_max, last_max) = match identity {
        IdentityManagementType::ConnectManaged => (255, 256),
        _ => (255, 300),
    };
    let names_required = identity != IdentityManagementType::ExistingDirectory;
    for (name, value, max) in [("FirstName", &info.first_name, first_max), ("LastName", &info.last_name, last_max)] {
        match value {
            None if creating && names_required => {
                return Err(ConnectError::invalid_parameter(format!(
                    "{name} is required for {} identity management.",
                    identity_name(identity)
                )));
            }
            Some(text) if text.chars().count() > max => {
                return Err(ConnectError::invalid_parameter(format!("{name} must be at most {max} characters.")));
            }
            Some(text) if text.is_empty() && names_required => {
                return Err(ConnectError::invalid_parameter(format!("{name} must not be empty.")));
            }
            Some(text) if !is_nfc(text) => {
                return Err(ConnectError::invalid_parameter(format!(
                    "{name} must be in Unicode Normalization Form C."
                )));
            }
            _ => {}
        }
    }
    if info.email.is_some() && identity == IdentityManagementType::Saml {
        return Err(ConnectError::invalid_parameter("Email is not supported for SAML identity management."));
    }
    for (name, value) in [("Email", &info.email), ("SecondaryEmail", &info.secondary_email)] {
        if let Some(email) = value
            && (email.len() > 265 || !email_form(email))
        {
            return Err(ConnectError::invalid_parameter(format!("{name} is not a valid email address.")));
        }
    }
    if let Some(mobile) = &info.mobile
        && !phone_number(mobile)
    {
        return Err(ConnectError::invalid_parameter("Mobile must be in E.164 format."));
    }
    Ok(())
}

pub fn identity_name(identity: IdentityManagementType) -> &'static str {
    match identity {
        IdentityManagementType::ConnectManaged => "CONNECT_MANAGED",
        IdentityManagementType::Saml => "SAML",
        IdentityManagementType::ExistingDirectory => "EXISTING_DIRECTORY",
    }
}

pub fn phone_config(config: &PhoneConfig) -> ConnectResult<()> {
    match config.phone_type.as_deref() {
        Some("SOFT_PHONE") => {}
        Some("DESK_PHONE") => match &config.desk_phone_number {
            Some(number) if phone_number(number) => {}
            Some(_) => return Err(ConnectError::invalid_parameter("DeskPhoneNumber must be in E.164 format.")),
            None => return Err(ConnectError::invalid_parameter("DeskPhoneNumber is required for DESK_PHONE.")),
        },
        Some(other) => return Err(ConnectError::invalid_parameter(format!("PhoneType {other} is not valid."))),
        None => return Err(ConnectError::invalid_parameter("PhoneType is required.")),
    }
    if !(0..=2_000_000).contains(&config.after_contact_work_time_limit) {
        return Err(ConnectError::invalid_parameter("AfterContactWorkTimeLimit must be between 0 and 2000000."));
    }
    Ok(())
}

/// PhoneNumberConfigs, PersistentConnectionConfigs and VoiceEnhancementConfigs take VOICE only: "Only VOICE is
/// supported for this data type" (Amazon Connect API reference, PhoneNumberConfig, PersistentConnectionConfig,
/// VoiceEnhancementConfig), though the Channel enum they share lists VOICE, CHAT, TASK and EMAIL.
pub fn voice_only_lists(channels: &ChannelConfigs) -> ConnectResult<()> {
    let lists = [
        ("PhoneNumberConfigs", &channels.phone_number_configs),
        ("PersistentConnectionConfigs", &channels.persistent_connection_configs),
        ("VoiceEnhancementConfigs", &channels.voice_enhancement_configs),
    ];
    for (name, list) in lists {
        let other = list.iter().flatten().filter_map(|entry| entry.get("Channel")?.as_str()).find(|c| *c != "VOICE");
        if let Some(channel) = other {
            return Err(ConnectError::invalid_parameter(format!(
                "{name}: Only VOICE is supported for this data type; {channel} is not."
            )));
        }
    }
    Ok(())
}

/// PhoneConfig fields cannot be set together with the per-channel lists that replace them. (The SDK leaves out
/// `false` and 0, so only fields it sends can conflict.)
pub fn channel_conflicts(config: Option<&PhoneConfig>, channels: &ChannelConfigs) -> ConnectResult<()> {
    let Some(config) = config else { return Ok(()) };
    let conflicts = [
        ("AutoAccept", config.auto_accept, "AutoAcceptConfigs", channels.auto_accept_configs.is_some()),
        (
            "AfterContactWorkTimeLimit",
            config.after_contact_work_time_limit != 0,
            "AfterContactWorkConfigs",
            channels.after_contact_work_configs.is_some(),
        ),
        ("PhoneType", config.phone_type.is_some(), "PhoneNumberConfigs", channels.phone_number_configs.is_some()),
        (
            "PersistentConnection",
            config.persistent_connection.is_some(),
            "PersistentConnectionConfigs",
            channels.persistent_connection_configs.is_some(),
        ),
    ];
    match conflicts.iter().find(|(_, whole, _, per_channel)| *whole && *per_channel) {
        Some((field, _, list, _)) => {
            Err(ConnectError::invalid_parameter(format!("PhoneConfig.{field} cannot be set together with {list}.")))
        }
        None => Ok(()),
    }
}

pub fn tags(tags: &BTreeMap<String, String>) -> ConnectResult<()> {
    if !(1..=50).contains(&tags.len()) {
        return Err(ConnectError::invalid_parameter("Tags must contain between 1 and 50 entries."));
    }
    for (key, value) in tags {
        let key_ok = (1..=128).contains(&key.chars().count())
            && !key.starts_with("aws:")
            && key.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c));
        if !key_ok {
            return Err(ConnectError::invalid_parameter(format!("Tag key {key} is not valid.")));
        }
        if value.chars().count() > 256 {
            return Err(ConnectError::invalid_parameter(format!("The value of tag {key} exceeds 256 characters.")));
        }
    }
    Ok(())
}
