//! What bringing an existing Connect user to a row's settings changes, worked out before any call: the provisioner
//! sends it, part by part; a plan names its fields and sends nothing.

use std::collections::BTreeSet;

use aws_sdk_connect::types::{PhoneType as SdkPhoneType, User, UserIdentityInfo, UserPhoneConfig};

use super::channels::ChannelLists;
use super::directory::Directory;
use super::provisioner::ProvisionError;
use crate::domain::{ConnectUser, IdentityManagement, PhoneSettings, PhoneType};

/// Each part of an existing user that differs from the row, with the value to send; `fields` names what differs.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserChanges {
    pub identity: Option<UserIdentityInfo>,
    pub phone: Option<UserPhoneConfig>,
    /// The row's per-channel lists, whole: UpdateUserConfig's retries compare them again with the user as it then is.
    pub channels: ChannelLists,
    pub routing_profile: Option<String>,
    pub security_profiles: Option<Vec<String>>,
    pub hierarchy_group: Option<String>,
    pub tags: Vec<(String, String)>,
    pub fields: Vec<&'static str>,
}

impl UserChanges {
    /// What differs between `current` and the row's `user`. Every name the row gives is resolved first, so that a
    /// name that does not resolve fails the row before anything is sent.
    pub fn between(
        mode: IdentityManagement,
        current: &User,
        user: &ConnectUser,
        directory: &Directory,
    ) -> Result<Self, ProvisionError> {
        let mut changes = Self::default();
        // An EXISTING_DIRECTORY instance takes its users' identity from the directory (API reference,
        // UpdateUserIdentityInfo: "We strongly recommend limiting who has the ability to invoke
        // UpdateUserIdentityInfo").
        let wanted_identity = identity_info(mode, user, current.identity_info());
        if mode != IdentityManagement::ExistingDirectory && Some(&wanted_identity) != current.identity_info() {
            changes.fields.extend(identity_fields(&wanted_identity, current.identity_info()));
            changes.identity = Some(wanted_identity);
        }
        let (channels, whole_phone_config) = ChannelLists::of(&user.phone)?;
        let wanted_phone = phone_config(&user.phone, current.phone_config());
        if whole_phone_config && Some(&wanted_phone) != current.phone_config() {
            changes.fields.extend(phone_fields(&wanted_phone, current.phone_config()));
            changes.phone = Some(wanted_phone);
        }
        changes.fields.extend(channels.changes_from(current).fields());
        changes.channels = channels;
        if let Some(profile) = &user.routing_profile {
            let wanted = directory.routing_profile(profile)?;
            if current.routing_profile_id() != Some(wanted.as_str()) {
                changes.fields.push("routing profile");
                changes.routing_profile = Some(wanted);
            }
        }
        if !user.security_profiles.is_empty() {
            let wanted: BTreeSet<String> =
                user.security_profiles.iter().map(|p| directory.security_profile(p)).collect::<Result<_, _>>()?;
            let present: BTreeSet<String> = current.security_profile_ids().iter().cloned().collect();
            if wanted != present {
                changes.fields.push("security profiles");
                changes.security_profiles = Some(wanted.into_iter().collect());
            }
        }
        if let Some(group) = &user.hierarchy_group {
            let wanted = directory.hierarchy_group(group)?;
            if current.hierarchy_group_id() != Some(wanted.as_str()) {
                changes.fields.push("hierarchy group");
                changes.hierarchy_group = Some(wanted);
            }
        }
        let present_tags = current.tags();
        changes.tags =
            user.tags.iter().filter(|(k, v)| present_tags.and_then(|t| t.get(k)) != Some(v)).cloned().collect();
        if !changes.tags.is_empty() {
            changes.fields.push("tags");
        }
        Ok(changes)
    }
}

/// What a new user's CreateUser names, resolved: a name that does not resolve fails the row before the call.
#[derive(Clone)]
pub(crate) struct NewUser {
    pub routing: String,
    pub security: Vec<String>,
    pub hierarchy: Option<String>,
    pub channels: ChannelLists,
    pub whole_phone_config: bool,
}

impl NewUser {
    pub fn of(user: &ConnectUser, directory: &Directory) -> Result<Self, ProvisionError> {
        let routing = directory.routing_profile(
            user.routing_profile
                .as_ref()
                .ok_or_else(|| ProvisionError::permanent("a new user needs a routing profile"))?,
        )?;
        let security =
            user.security_profiles.iter().map(|p| directory.security_profile(p)).collect::<Result<Vec<_>, _>>()?;
        let hierarchy = user.hierarchy_group.as_ref().map(|g| directory.hierarchy_group(g)).transpose()?;
        let (channels, whole_phone_config) = ChannelLists::of(&user.phone)?;
        Ok(Self { routing, security, hierarchy, channels, whole_phone_config })
    }
}

/// The identity info to send: the row's values over the current ones. SAML instances take no primary email.
pub(crate) fn identity_info(
    mode: IdentityManagement,
    user: &ConnectUser,
    current: Option<&UserIdentityInfo>,
) -> UserIdentityInfo {
    let pick = |row: &Option<String>, now: Option<&str>| row.clone().or_else(|| now.map(str::to_owned));
    let email = if mode == IdentityManagement::Saml {
        None
    } else {
        pick(&user.identity.email, current.and_then(|c| c.email()))
    };
    UserIdentityInfo::builder()
        .set_first_name(pick(&user.identity.first_name, current.and_then(|c| c.first_name())))
        .set_last_name(pick(&user.identity.last_name, current.and_then(|c| c.last_name())))
        .set_email(email)
        .set_secondary_email(pick(&user.identity.secondary_email, current.and_then(|c| c.secondary_email())))
        .set_mobile(pick(&user.identity.mobile, current.and_then(|c| c.mobile())))
        .build()
}

fn identity_fields(wanted: &UserIdentityInfo, current: Option<&UserIdentityInfo>) -> Vec<&'static str> {
    let now = |f: fn(&UserIdentityInfo) -> Option<&str>| current.and_then(f);
    [
        ("first name", wanted.first_name(), now(UserIdentityInfo::first_name)),
        ("last name", wanted.last_name(), now(UserIdentityInfo::last_name)),
        ("email", wanted.email(), now(UserIdentityInfo::email)),
        ("secondary email", wanted.secondary_email(), now(UserIdentityInfo::secondary_email)),
        ("mobile", wanted.mobile(), now(UserIdentityInfo::mobile)),
    ]
    .into_iter()
    .filter(|(_, wanted, now)| wanted != now)
    .map(|(name, _, _)| name)
    .collect()
}

/// The phone config to send: the row's values over the current ones; a soft phone when neither says.
pub(crate) fn phone_config(phone: &PhoneSettings, current: Option<&UserPhoneConfig>) -> UserPhoneConfig {
    let phone_type = match phone.phone_type {
        Some(PhoneType::DeskPhone) => SdkPhoneType::DeskPhone,
        Some(PhoneType::SoftPhone) => SdkPhoneType::SoftPhone,
        None => current.map(|c| c.phone_type().clone()).unwrap_or(SdkPhoneType::SoftPhone),
    };
    let desk_number = match phone_type {
        SdkPhoneType::DeskPhone => {
            phone.desk_phone_number.clone().or_else(|| current.and_then(|c| c.desk_phone_number()).map(str::to_owned))
        }
        _ => None,
    };
    UserPhoneConfig::builder()
        .phone_type(phone_type)
        .auto_accept(phone.auto_accept.unwrap_or_else(|| current.is_some_and(|c| c.auto_accept())))
        .after_contact_work_time_limit(
            phone
                .after_contact_work_seconds
                .map(|s| s as i32)
                .unwrap_or_else(|| current.map_or(0, |c| c.after_contact_work_time_limit())),
        )
        .set_desk_phone_number(desk_number)
        .set_persistent_connection(
            phone.persistent_connection.or_else(|| current.and_then(|c| c.persistent_connection())),
        )
        .build()
}

fn phone_fields(wanted: &UserPhoneConfig, current: Option<&UserPhoneConfig>) -> Vec<&'static str> {
    let Some(current) = current else { return vec!["phone settings"] };
    [
        ("phone type", wanted.phone_type() != current.phone_type()),
        ("auto accept", wanted.auto_accept() != current.auto_accept()),
        ("after-contact work", wanted.after_contact_work_time_limit() != current.after_contact_work_time_limit()),
        ("desk phone number", wanted.desk_phone_number() != current.desk_phone_number()),
        ("persistent connection", wanted.persistent_connection() != current.persistent_connection()),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name)
    .collect()
}
