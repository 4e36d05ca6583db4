//! The Salesforce half of a ccbulk-dialect row.

use super::Setup;
use super::cells::Cells;
use super::checks::{self, shown};
use super::picklists::Picklist;
use super::rules::Rule;
use crate::domain::{
    Action, ContactCenterRef, SalesforceUser, SalesforceUserFields, SalesforceUserRef, TelephonyModel, VoiceRole,
};
use crate::format::Field;
use crate::sfid::{CALL_CENTER_PREFIX, USER_PREFIX};

/// Salesforce's own limits on User fields.
const FIRST_NAME_MAX: usize = 40;
const LAST_NAME_MAX: usize = 80;

/// Columns that give a row a Salesforce side (besides the username and names both sides share).
const SALESFORCE_FIELDS: &[Field] = &[
    Field::SalesforceUserId,
    Field::SalesforceUsername,
    Field::SalesforceAlias,
    Field::SalesforceProfile,
    Field::SalesforceFederationId,
    Field::SalesforceTimeZone,
    Field::SalesforceLocale,
    Field::SalesforceLanguage,
    Field::SalesforceEmailEncoding,
    Field::ContactCenter,
    Field::VoiceRole,
];

/// The Salesforce side, when the row has one: always under Partner Telephony, otherwise when any Salesforce column
/// is filled in.
pub(crate) fn salesforce_user(cells: &mut Cells, setup: Setup, action: Action) -> Option<SalesforceUser> {
    let wanted = setup.telephony_model == TelephonyModel::PartnerTelephony
        || SALESFORCE_FIELDS.iter().any(|field| cells.text(*field).is_some());
    if !wanted {
        return None;
    }
    let user = user_ref(cells)?;
    if action == Action::Remove {
        return Some(SalesforceUser {
            user,
            fields: SalesforceUserFields::default(),
            contact_center: None,
            role: None,
            bulkop_email: None,
        });
    }
    if action == Action::Add && matches!(user, SalesforceUserRef::Username(_)) {
        // Whether ccbulk creates the user or finds one by this username is known only online; what creation needs
        // must be there.
        if cells.text(Field::Email).is_none() {
            cells.fail(Field::Email, Rule::EmailMissing, "a new Salesforce user needs an email address");
        }
        if cells.text(Field::LastName).is_none() {
            cells.fail(Field::LastName, Rule::NameMissing, "a new Salesforce user needs a last name");
        }
    }
    let contact_center = cells.text(Field::ContactCenter).and_then(|text| {
        if checks::looks_like_salesforce_id(text) {
            cells
                .check(Field::ContactCenter, |t| checks::salesforce_id(t, CALL_CENTER_PREFIX, "contact center"))
                .map(ContactCenterRef::Id)
        } else {
            Some(ContactCenterRef::Name(text.to_owned()))
        }
    });
    let role = cells.check(Field::VoiceRole, role);
    Some(SalesforceUser { user, fields: user_fields(cells), contact_center, role, bulkop_email: None })
}

fn user_ref(cells: &mut Cells) -> Option<SalesforceUserRef> {
    if cells.text(Field::SalesforceUserId).is_some() {
        return cells
            .check(Field::SalesforceUserId, |t| checks::salesforce_id(t, USER_PREFIX, "user"))
            .map(SalesforceUserRef::Id);
    }
    let (field, username) = match (cells.text(Field::SalesforceUsername), cells.text(Field::Username)) {
        (Some(name), _) => (Field::SalesforceUsername, name),
        (None, Some(name)) => (Field::Username, name),
        (None, None) => {
            cells.fail(
                Field::SalesforceUserId,
                Rule::SalesforceUserMissing,
                "name the Salesforce user: sf_user_id, sf_username, or a username in the form of an email address",
            );
            return None;
        }
    };
    if let Err((rule, message)) = checks::salesforce_username(username) {
        let hint =
            if field == Field::Username { "; give sf_username or sf_user_id for the Salesforce user" } else { "" };
        cells.fail(field, rule, format!("{message}{hint}"));
        return None;
    }
    Some(SalesforceUserRef::Username(username.to_owned()))
}

fn user_fields(cells: &mut Cells) -> SalesforceUserFields {
    for (field, max) in [(Field::FirstName, FIRST_NAME_MAX), (Field::LastName, LAST_NAME_MAX)] {
        if let Some(name) = cells.text(field)
            && name.chars().count() > max
        {
            cells.fail(field, Rule::NameTooLong, format!("Salesforce takes at most {max} characters here"));
        }
    }
    let time_zone = picklist_cell(cells, Field::SalesforceTimeZone, Picklist::TimeZone, Rule::TimeZoneInvalid);
    let locale = picklist_cell(cells, Field::SalesforceLocale, Picklist::Locale, Rule::LocaleInvalid);
    let language = picklist_cell(cells, Field::SalesforceLanguage, Picklist::Language, Rule::LanguageInvalid);
    let email_encoding =
        picklist_cell(cells, Field::SalesforceEmailEncoding, Picklist::EmailEncoding, Rule::EmailEncodingInvalid);
    let text = |field: Field| cells.text(field).map(str::to_owned);
    let mut fields = SalesforceUserFields {
        email: text(Field::Email),
        first_name: text(Field::FirstName),
        last_name: text(Field::LastName),
        alias: None,
        profile: text(Field::SalesforceProfile),
        federation_id: text(Field::SalesforceFederationId),
        time_zone,
        locale,
        language,
        email_encoding,
    };
    fields.alias = cells.check(Field::SalesforceAlias, |t| checks::alias(t).map(|()| t.to_owned()));
    if fields.email.is_some() {
        fields.email = cells.check(Field::Email, |t| checks::email(t).map(|()| t.to_owned()));
    }
    fields
}

/// A value of one of User's restricted picklists; a value Salesforce would refuse reads as blank.
fn picklist_cell(cells: &mut Cells, field: Field, picklist: Picklist, rule: Rule) -> Option<String> {
    cells.check(field, |text| {
        picklist
            .check(text)
            .map(|()| text.to_owned())
            .map_err(|problem| (rule, format!("{} is {problem}", shown(text))))
    })
}

/// The native dialect is lenient in case and also takes "Supervisor" for the Contact Center Supervisor set.
fn role(text: &str) -> Result<VoiceRole, checks::Broken> {
    match text.to_ascii_lowercase().as_str() {
        "admin" => Ok(VoiceRole::Admin),
        "agent" => Ok(VoiceRole::Agent),
        "callcentermanager" | "supervisor" => Ok(VoiceRole::CallCenterManager),
        _ => Err((
            Rule::RoleInvalid,
            format!("{} is not a role (Admin, Agent, CallCenterManager or Supervisor)", shown(text)),
        )),
    }
}
