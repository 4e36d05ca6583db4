//! Turns a record into a `UserRow`, dialect by dialect.

use super::Setup;
use super::cells::Cells;
use super::checks::{self, shown};
use super::connect_side::{ConnectColumns, connect_user, reject_connect_values};
use super::rules::Rule;
use super::salesforce_side::salesforce_user;
use crate::domain::{
    Action, ConnectUser, ContactCenterRef, IdentityInfo, ResourceRef, SalesforceUser, SalesforceUserFields,
    SalesforceUserRef, VoiceRole,
};
use crate::format::{Dialect, Field};
use crate::sfid::{CALL_CENTER_PREFIX, USER_PREFIX};

/// The halves of a row, or `None` when the row is invalid (its errors are in `cells`).
pub(crate) type Halves = (Action, Option<ConnectUser>, Option<SalesforceUser>);

pub(crate) fn read_row(cells: &mut Cells, setup: Setup) -> Option<Halves> {
    match cells.header().dialect() {
        Dialect::Bulkop => bulkop_row(cells, setup),
        Dialect::Connect => connect_template_row(cells, setup),
        Dialect::Ccbulk => ccbulk_row(cells, setup),
    }
}

/// The admin website's template creates users; ccbulk also adopts one that already exists.
fn connect_template_row(cells: &mut Cells, setup: Setup) -> Option<Halves> {
    let columns = ConnectColumns { template: true, username_from_salesforce: false };
    let connect = connect_user(cells, setup, Action::Add, columns);
    Some((Action::Add, Some(connect), None))
}

fn ccbulk_row(cells: &mut Cells, setup: Setup) -> Option<Halves> {
    let action = match cells.text(Field::Action) {
        None => {
            cells.fail(Field::Action, Rule::ActionMissing, "the action is blank (add, update or remove)");
            return None;
        }
        Some(text) => match text.to_ascii_lowercase().as_str() {
            "add" => Action::Add,
            "update" => Action::Update,
            "remove" => Action::Remove,
            _ => {
                cells.fail(
                    Field::Action,
                    Rule::ActionInvalid,
                    format!("{} is not an action (add, update or remove)", shown(text)),
                );
                return None;
            }
        },
    };
    let salesforce = salesforce_user(cells, setup, action);
    let connect = if setup.telephony_model.has_connect_side() {
        let from_salesforce = matches!(salesforce, Some(SalesforceUser { user: SalesforceUserRef::Id(_), .. }));
        let columns = ConnectColumns { template: false, username_from_salesforce: from_salesforce };
        Some(connect_user(cells, setup, action, columns))
    } else {
        reject_connect_values(cells, setup);
        None
    };
    Some((action, connect, salesforce))
}

/// ContactCenterBulkOp rows: the Salesforce user exists (Argument2); Argument3 doubles as the Connect security
/// profile of that name, as Service Cloud Voice uses it.
fn bulkop_row(cells: &mut Cells, setup: Setup) -> Option<Halves> {
    let action = match cells.text(Field::Action) {
        None => {
            cells.fail(Field::Action, Rule::ActionMissing, "BulkAction is mandatory (AddUsers)");
            return None;
        }
        Some("AddUsers") => Action::Add,
        Some("UpdateUsers") => Action::Update,
        Some("RemoveUsers") => Action::Remove,
        Some(other) => {
            let hint = ["AddUsers", "UpdateUsers", "RemoveUsers"]
                .into_iter()
                .find(|known| known.eq_ignore_ascii_case(other))
                .map(|known| format!("; the value is case-sensitive: write {known}"))
                .unwrap_or_default();
            cells.fail(
                Field::Action,
                Rule::ActionInvalid,
                format!("{} is not a BulkAction (AddUsers, UpdateUsers or RemoveUsers){hint}", shown(other)),
            );
            return None;
        }
    };
    let adding = action == Action::Add;
    let email = cells.check_required(
        Field::Email,
        true,
        (Rule::EmailMissing, "Argument1 (the user's email) is mandatory"),
        |t| checks::email(t).map(|()| t.to_owned()),
    );
    let user = cells.check_required(
        Field::SalesforceUserId,
        true,
        (Rule::SalesforceUserMissing, "Argument2 (the Salesforce User Id) is blank"),
        |t| checks::salesforce_id(t, USER_PREFIX, "user"),
    );
    let contact_center = cells.check_required(
        Field::ContactCenter,
        adding,
        (Rule::ContactCenterMissing, "Argument5 (the contact center Id, 04v...) is blank"),
        |t| checks::salesforce_id(t, CALL_CENTER_PREFIX, "contact center"),
    );
    let (role, connect) = if setup.telephony_model.has_connect_side() {
        let role = bulkop_role(cells, adding);
        let routing_profile = cells.check_required(
            Field::RoutingProfile,
            adding,
            (Rule::RoutingProfileMissing, "Argument4 (the routing-profile ARN) is blank"),
            |arn| checks::routing_profile_arn(arn).map(|()| ResourceRef::Arn(arn.to_owned())),
        );
        let security_profiles = role.map(|role| vec![ResourceRef::Name(role.as_str().to_owned())]).unwrap_or_default();
        // Argument1 is the email the Connect user gets; the Salesforce user keeps its own.
        let identity = IdentityInfo { email: email.clone(), ..IdentityInfo::default() };
        (role, Some(ConnectUser { routing_profile, security_profiles, identity, ..ConnectUser::default() }))
    } else {
        for field in [Field::VoiceRole, Field::RoutingProfile] {
            if cells.text(field).is_some() {
                cells.fail(
                    field,
                    Rule::RoleNotAllowed,
                    "Partner Telephony files carry no Argument3 or Argument4; leave it blank",
                );
            }
        }
        (None, None)
    };
    let salesforce = user.map(|id| SalesforceUser {
        user: SalesforceUserRef::Id(id),
        fields: SalesforceUserFields::default(),
        contact_center: contact_center.map(ContactCenterRef::Id),
        role,
        bulkop_email: email,
    });
    Some((action, connect, salesforce))
}

/// Argument3 is case-sensitive in Salesforce: `agent` is refused there, so it is refused here.
fn bulkop_role(cells: &mut Cells, adding: bool) -> Option<VoiceRole> {
    let known = [VoiceRole::Admin, VoiceRole::Agent, VoiceRole::CallCenterManager];
    match cells.text(Field::VoiceRole) {
        Some(text) => match known.into_iter().find(|role| role.as_str() == text) {
            Some(role) => Some(role),
            None => {
                let hint = known
                    .into_iter()
                    .find(|role| role.as_str().eq_ignore_ascii_case(text))
                    .map(|role| format!("; the value is case-sensitive: write {}", role.as_str()))
                    .unwrap_or_default();
                cells.fail(
                    Field::VoiceRole,
                    Rule::RoleInvalid,
                    format!(
                        "{} is not a profile Argument3 takes (Admin, Agent or CallCenterManager){hint}",
                        shown(text)
                    ),
                );
                None
            }
        },
        None if adding => {
            cells.fail(Field::VoiceRole, Rule::RoleMissing, "Argument3 (Admin, Agent or CallCenterManager) is blank");
            None
        }
        None => None,
    }
}
