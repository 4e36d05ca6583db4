//! The Amazon Connect half of a row (connect and ccbulk dialects), checked against CreateUser's rules.

use super::Setup;
use super::cells::Cells;
use super::checks::{self, shown};
use super::rules::Rule;
use crate::domain::{
    Action, Channel, ConnectUser, IdentityManagement, Password, PhoneSettings, PhoneType, ResourceRef,
};
use crate::format::Field;

/// How a dialect's Connect columns differ.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectColumns {
    /// The admin website's template: create-only, phone type mandatory, and no primary email under SAML.
    pub template: bool,
    /// The row may leave the username blank because its Salesforce user (by id) supplies it.
    pub username_from_salesforce: bool,
}

/// Fields only the Connect side uses; under Partner Telephony, a value in any of them is a mistake.
pub(crate) const CONNECT_ONLY_FIELDS: &[Field] = &[
    Field::Password,
    Field::SecondaryEmail,
    Field::Mobile,
    Field::DirectoryUserId,
    Field::RoutingProfile,
    Field::SecurityProfiles,
    Field::HierarchyGroup,
    Field::HierarchyPath,
    Field::PhoneType,
    Field::PhoneNumber,
    Field::AutoAccept,
    Field::AcwTimeout,
    Field::PersistentConnection,
    Field::AutoAcceptPerChannel,
    Field::AcwTimeoutPerChannel,
    Field::PhonePerChannel,
    Field::PersistentConnectionPerChannel,
    Field::VoiceEnhancementPerChannel,
    Field::Tags,
    Field::QuickConnect,
];

pub(crate) fn connect_user(cells: &mut Cells, setup: Setup, action: Action, columns: ConnectColumns) -> ConnectUser {
    let identity = setup.identity_management;
    let mut user = ConnectUser::default();
    match cells.text(Field::Username) {
        Some(name) => {
            cells.record(Field::Username, checks::connect_username(name, identity));
            user.username = Some(name.to_owned());
        }
        None if columns.username_from_salesforce => {}
        None => cells.fail(Field::Username, Rule::UsernameMissing, "the username is blank"),
    }
    if action == Action::Remove {
        return user;
    }
    let creating = action == Action::Add;
    user.password = password(cells, identity, creating);
    identity_info(cells, &mut user, identity, creating, columns.template);

    if let Some(id) = cells.text(Field::DirectoryUserId) {
        if identity == IdentityManagement::Saml {
            cells.fail(
                Field::DirectoryUserId,
                Rule::DirectoryUserIdNotAllowed,
                "SAML instances reject a DirectoryUserId; leave it blank",
            );
        } else {
            user.directory_user_id = Some(id.to_owned());
        }
    }
    user.routing_profile = cells.text(Field::RoutingProfile).map(ResourceRef::classify);
    if creating && user.routing_profile.is_none() {
        cells.fail(Field::RoutingProfile, Rule::RoutingProfileMissing, "a new user needs a routing profile");
    }
    user.security_profiles = cells
        .check_required(
            Field::SecurityProfiles,
            creating,
            (Rule::SecurityProfilesMissing, "a new user needs at least one security profile"),
            checks::security_profiles,
        )
        .unwrap_or_default();
    user.hierarchy_group = hierarchy(cells);
    user.phone = phone(cells, creating && columns.template);
    user.tags = cells.check(Field::Tags, checks::tags).unwrap_or_default();
    user.quick_connect = cells.check(Field::QuickConnect, checks::yes_no);
    user
}

/// Flags every Connect-only value in a row that has no Connect side.
pub(crate) fn reject_connect_values(cells: &mut Cells, setup: Setup) {
    for field in CONNECT_ONLY_FIELDS {
        if cells.text(*field).is_some() {
            cells.fail(
                *field,
                Rule::ConnectNotApplicable,
                format!("{} has no Amazon Connect side; leave this column blank", setup.telephony_model),
            );
        }
    }
}

fn password(cells: &mut Cells, identity: IdentityManagement, creating: bool) -> Option<Password> {
    // Not trimmed: white space in a password is reported, never silently removed.
    let secret = cells.raw(Field::Password).filter(|secret| !secret.trim().is_empty());
    match (secret, identity == IdentityManagement::ConnectManaged) {
        (Some(secret), true) if creating => {
            cells.record(Field::Password, checks::password(secret));
            Some(Password::new(secret.to_owned()))
        }
        (Some(_), true) => {
            cells.fail(
                Field::Password,
                Rule::PasswordNotAllowed,
                "a password is used only when a user is created (action add); leave it blank here",
            );
            None
        }
        (Some(_), false) => {
            cells.fail(
                Field::Password,
                Rule::PasswordNotAllowed,
                format!("{identity} instances take no password (users sign in through their identity provider)"),
            );
            None
        }
        (None, true) if creating => {
            cells.fail(
                Field::Password,
                Rule::PasswordMissing,
                "CONNECT_MANAGED instances need a password for a new user",
            );
            None
        }
        (None, _) => None,
    }
}

fn identity_info(
    cells: &mut Cells,
    user: &mut ConnectUser,
    identity: IdentityManagement,
    creating: bool,
    template: bool,
) {
    let (first_max, last_max) = checks::name_limits(identity);
    let names_required = creating && identity != IdentityManagement::ExistingDirectory;
    for (field, max, slot) in [
        (Field::FirstName, first_max, &mut user.identity.first_name),
        (Field::LastName, last_max, &mut user.identity.last_name),
    ] {
        match cells.text(field) {
            Some(name) => {
                cells.record(field, checks::person_name(name, max));
                *slot = Some(name.to_owned());
            }
            None if names_required => {
                cells.fail(field, Rule::NameMissing, format!("{identity} instances need a first and a last name"))
            }
            None => {}
        }
    }
    if let Some(email) = cells.check(Field::Email, |text| checks::email(text).map(|()| text)) {
        match identity {
            IdentityManagement::Saml if template => cells.fail(
                Field::Email,
                Rule::EmailNotAllowed,
                "SAML instances reject a primary email in Connect; use the SAML template (no email column) or a \
                 secondary email",
            ),
            // Under SAML the ccbulk dialect's email is the Salesforce user's; Connect does not get it.
            IdentityManagement::Saml => {}
            _ => user.identity.email = Some(email.to_owned()),
        }
    }
    user.identity.secondary_email = cells.check(Field::SecondaryEmail, |t| checks::email(t).map(|()| t.to_owned()));
    user.identity.mobile = cells.check(Field::Mobile, |t| checks::e164(t).map(|()| t.to_owned()));
}

/// The hierarchy group, from a name, id, ARN or path, or from the template's `level1|level2` column. When both
/// columns are filled in they must agree: the same path, or a group name that is the path's last level.
fn hierarchy(cells: &mut Cells) -> Option<ResourceRef> {
    let group = cells.text(Field::HierarchyGroup);
    let path = cells.text(Field::HierarchyPath).map(|levels| checks::split_list(levels).join("/"));
    match (group, path) {
        (Some(group), Some(path)) => {
            let agrees = group == path || path.rsplit('/').next() == Some(group);
            if !agrees {
                cells.fail(
                    Field::HierarchyPath,
                    Rule::HierarchyConflict,
                    format!(
                        "the two hierarchy columns name different groups ({} and {}); fill in one",
                        shown(group),
                        shown(&path)
                    ),
                );
            }
            Some(ResourceRef::Name(path))
        }
        (Some(group), None) => Some(ResourceRef::classify(group)),
        (None, path) => path.map(ResourceRef::Name),
    }
}

fn phone(cells: &mut Cells, phone_type_required: bool) -> PhoneSettings {
    let mut phone = PhoneSettings {
        phone_type: cells.check(Field::PhoneType, checks::phone_type),
        desk_phone_number: cells.check(Field::PhoneNumber, |t| checks::e164(t).map(|()| t.to_owned())),
        auto_accept: cells.check(Field::AutoAccept, checks::yes_no),
        after_contact_work_seconds: cells.check(Field::AcwTimeout, checks::acw_seconds),
        persistent_connection: cells.check(Field::PersistentConnection, checks::yes_no),
        ..PhoneSettings::default()
    };
    if phone_type_required && cells.text(Field::PhoneType).is_none() {
        cells.fail(Field::PhoneType, Rule::PhoneTypeMissing, "the phone type is blank (soft or desk)");
    }
    if phone.phone_type == Some(PhoneType::DeskPhone) && cells.text(Field::PhoneNumber).is_none() {
        cells.fail(Field::PhoneNumber, Rule::DeskPhoneNumberMissing, "a desk phone needs its phone number");
    }
    let yes_no = |text: &str| checks::yes_no(text).map_err(|(_, why)| why);
    let channels = &mut phone.per_channel;
    channels.auto_accept =
        cells.check(Field::AutoAcceptPerChannel, |t| checks::per_channel(t, yes_no)).unwrap_or_default();
    channels.after_contact_work = cells
        .check(Field::AcwTimeoutPerChannel, |t| {
            checks::per_channel(t, |v| checks::acw_seconds(v).map_err(|(_, why)| why))
        })
        .unwrap_or_default();
    channels.phone_numbers =
        cells.check(Field::PhonePerChannel, |t| checks::per_channel(t, checks::channel_phone)).unwrap_or_default();
    channels.persistent_connection =
        cells.check(Field::PersistentConnectionPerChannel, |t| checks::per_channel(t, yes_no)).unwrap_or_default();
    channels.voice_enhancement = cells
        .check(Field::VoiceEnhancementPerChannel, |t| checks::per_channel(t, checks::voice_enhancement))
        .unwrap_or_default();

    // PhoneNumberConfig, PersistentConnectionConfig and VoiceEnhancementConfig take VOICE only ("Only VOICE is
    // supported for this data type", Amazon Connect API reference), though their Channel enum lists all four.
    let voice_only = [
        (Field::PhonePerChannel, channels.phone_numbers.iter().map(|(c, _)| *c).collect::<Vec<_>>()),
        (Field::PersistentConnectionPerChannel, channels.persistent_connection.iter().map(|(c, _)| *c).collect()),
        (Field::VoiceEnhancementPerChannel, channels.voice_enhancement.iter().map(|(c, _)| *c).collect()),
    ];
    for (field, used) in voice_only {
        if let Some(other) = used.iter().find(|c| **c != Channel::Voice) {
            cells.fail(
                field,
                Rule::ChannelConfigInvalid,
                format!("this setting is for the VOICE channel only (Connect refuses {other:?} here)"),
            );
        }
    }

    // CreateUser rejects a PhoneConfig field together with the per-channel list that replaces it.
    for (whole, per_channel, what) in [
        (
            &[Field::AutoAccept][..],
            Field::AutoAcceptPerChannel,
            "auto-accept (PhoneConfig.AutoAccept vs AutoAcceptConfigs)",
        ),
        (
            &[Field::AcwTimeout][..],
            Field::AcwTimeoutPerChannel,
            "the ACW timeout (PhoneConfig.AfterContactWorkTimeLimit vs AfterContactWorkConfigs)",
        ),
        (
            &[Field::PhoneType, Field::PhoneNumber][..],
            Field::PhonePerChannel,
            "the phone (PhoneConfig.PhoneType/DeskPhoneNumber vs PhoneNumberConfigs)",
        ),
        (
            &[Field::PersistentConnection][..],
            Field::PersistentConnectionPerChannel,
            "persistent connection (PhoneConfig.PersistentConnection vs PersistentConnectionConfigs)",
        ),
    ] {
        if cells.text(per_channel).is_some() && whole.iter().any(|field| cells.text(*field).is_some()) {
            cells.fail(
                per_channel,
                Rule::PhoneConfigConflict,
                format!("{what} is set both for all channels and per channel; Connect accepts one or the other"),
            );
        }
    }
    phone
}
