//! The Salesforce half of a ccbulk-dialect row.

use super::Setup;
use super::cells::Cells;
use super::checks;
use super::rules::Rule;
use crate::domain::{
    Action, ContactCenterRef, NewSalesforceUser, SalesforceUser, SalesforceUserRef, TelephonyModel, VoiceRole,
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
    let user = user_ref(cells, action)?;
    if action == Action::Remove {
        return Some(SalesforceUser {
            user,
            email: None,
            contact_center: None,
            role: None,
        });
    }
    let contact_center = cells.text(Field::ContactCenter).and_then(|text| {
        if checks::looks_like_salesforce_id(text) {
            cells
                .check(Field::ContactCenter, |t| {
                    checks::salesforce_id(t, CALL_CENTER_PREFIX, "contact center")
                })
                .map(ContactCenterRef::Id)
        } else {
            Some(ContactCenterRef::Name(text.to_owned()))
        }
    });
    let role = cells.check(Field::VoiceRole, role);
    let email = cells.check(Field::Email, |t| checks::email(t).map(|()| t.to_owned()));
    Some(SalesforceUser {
        user,
        email,
        contact_center,
        role,
    })
}

fn user_ref(cells: &mut Cells, action: Action) -> Option<SalesforceUserRef> {
    if cells.text(Field::SalesforceUserId).is_some() {
        return cells
            .check(Field::SalesforceUserId, |t| {
                checks::salesforce_id(t, USER_PREFIX, "user")
            })
            .map(SalesforceUserRef::Existing);
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
        let hint = if field == Field::Username {
            "; give sf_username or sf_user_id for the Salesforce user"
        } else {
            ""
        };
        cells.fail(field, rule, format!("{message}{hint}"));
        return None;
    }
    let mut user = NewSalesforceUser {
        username: username.to_owned(),
        ..NewSalesforceUser::default()
    };
    if action == Action::Add {
        // Whether ccbulk creates the user or finds one by this username is known only online; what creation needs
        // must be there.
        if cells.text(Field::Email).is_none() {
            cells.fail(
                Field::Email,
                Rule::EmailMissing,
                "a new Salesforce user needs an email address",
            );
        }
        if cells.text(Field::LastName).is_none() {
            cells.fail_once(
                Field::LastName,
                Rule::NameMissing,
                "a new Salesforce user needs a last name",
            );
        }
    }
    for (field, max) in [(Field::FirstName, FIRST_NAME_MAX), (Field::LastName, LAST_NAME_MAX)] {
        if let Some(name) = cells.text(field)
            && name.chars().count() > max
        {
            cells.fail_once(
                field,
                Rule::NameTooLong,
                format!("Salesforce takes at most {max} characters here"),
            );
        }
    }
    user.email = cells.text(Field::Email).map(str::to_owned);
    user.first_name = cells.text(Field::FirstName).map(str::to_owned);
    user.last_name = cells.text(Field::LastName).map(str::to_owned);
    user.alias = cells.check(Field::SalesforceAlias, |t| checks::alias(t).map(|()| t.to_owned()));
    user.profile = cells.text(Field::SalesforceProfile).map(str::to_owned);
    user.federation_id = cells.text(Field::SalesforceFederationId).map(str::to_owned);
    user.time_zone = cells.text(Field::SalesforceTimeZone).map(str::to_owned);
    user.locale = cells.text(Field::SalesforceLocale).map(str::to_owned);
    user.language = cells.text(Field::SalesforceLanguage).map(str::to_owned);
    user.email_encoding = cells.text(Field::SalesforceEmailEncoding).map(str::to_owned);
    Some(SalesforceUserRef::ByUsername(Box::new(user)))
}

/// The native dialect is lenient in case and also takes "Supervisor" for the Contact Center Supervisor set.
fn role(text: &str) -> Result<VoiceRole, checks::Broken> {
    match text.to_ascii_lowercase().as_str() {
        "admin" => Ok(VoiceRole::Admin),
        "agent" => Ok(VoiceRole::Agent),
        "callcentermanager" | "supervisor" => Ok(VoiceRole::CallCenterManager),
        _ => Err((
            Rule::RoleInvalid,
            format!("{text:?} is not a role (Admin, Agent, CallCenterManager or Supervisor)"),
        )),
    }
}
