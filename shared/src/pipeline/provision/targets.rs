//! Where a chunk's rows go: the Connect instance, the Salesforce org, and what the deployment implies for rows that name no Salesforce side.

use std::sync::Arc;

use aws_sdk_connect::Client as ConnectClient;

use crate::connect::{ConnectProvisioner, Directory, Pacer, ProvisionError};
use crate::domain::{
    ContactCenterRef, IdentityManagement, SalesforceUser, SalesforceUserFields, SalesforceUserRef, TelephonyModel,
    UserRow, VoiceRole,
};
use crate::job::{EmailChange, JobMemo};
use crate::salesforce::{
    AliasChange, OrgReference, SalesforceClient, SalesforceDefaults, SalesforceProvisioner, SalesforceSync,
};
use crate::sfid::{CALL_CENTER_PREFIX, SalesforceId};

/// The Amazon Connect instance rows go to.
pub struct ConnectTarget {
    pub client: ConnectClient,
    pub instance_id: String,
    pub pacer: Pacer,
    /// The instance's "Users per instance" quota, which a plan holds its creates against.
    pub users_quota: u64,
    /// The instance's names, read once per job.
    pub(in crate::pipeline) directories: JobMemo<Directory>,
}

impl ConnectTarget {
    pub fn new(client: ConnectClient, instance_id: impl Into<String>, pacer: Pacer) -> Self {
        Self {
            client,
            instance_id: instance_id.into(),
            pacer,
            users_quota: crate::pipeline::plan::DEFAULT_USERS_QUOTA,
            directories: JobMemo::default(),
        }
    }

    pub fn with_users_quota(mut self, quota: u64) -> Self {
        self.users_quota = quota;
        self
    }

    /// This instance's provisioner, for rows of an instance that manages identities as `identity`.
    pub(in crate::pipeline) fn provisioner(&self, identity: IdentityManagement) -> ConnectProvisioner<'_> {
        ConnectProvisioner { client: &self.client, instance_id: &self.instance_id, identity, pacer: &self.pacer }
    }

    /// The instance's names for the job (or plan, or undo) `key`, read once however many chunks and rows ask; `rows`
    /// is the job's size, which picks how its users are found.
    pub(in crate::pipeline) async fn directory(&self, key: &str, rows: u64) -> Result<Arc<Directory>, ProvisionError> {
        self.directories
            .for_job(key, || Box::pin(Directory::load_for(&self.client, &self.instance_id, &self.pacer, rows)))
            .await
    }
}

/// The Salesforce org rows go to.
pub struct SalesforceTarget {
    pub client: SalesforceClient,
    pub defaults: SalesforceDefaults,
    /// The Salesforce side of Connect-template rows, which carry none; `None`: such rows have no Salesforce side.
    pub implied: Option<ImpliedSalesforce>,
    pub alias_change: AliasChange,
    pub sync: SalesforceSync,
    /// The org makes its members' Connect users itself (Service Cloud Voice with Amazon Connect): in direct mode
    /// ccbulk waits for each and adopts it, and never creates one.
    pub voice_sync: bool,
    /// The org's reference records, read once per job (start with the default: nothing read).
    pub reference: JobMemo<OrgReference>,
}

impl SalesforceTarget {
    /// This org's provisioner for a job's rows: its reference records, its telephony, the email changes that wait.
    pub(in crate::pipeline) fn provisioner<'a>(
        &'a self,
        reference: &'a OrgReference,
        telephony: TelephonyModel,
        email_changes: &'a [EmailChange],
        voice_sync: bool,
    ) -> SalesforceProvisioner<'a> {
        SalesforceProvisioner {
            reference,
            client: &self.client,
            telephony,
            defaults: &self.defaults,
            email_changes,
            alias_change: self.alias_change,
            voice_sync,
        }
    }
}

/// What a Connect-template row gets in Salesforce when the deployment says so: the user whose username is the
/// Connect username (an email form, as under SAML single sign-on) or else the row's email, found or created with
/// the row's names and email, put in this contact center with this role's Voice permission set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpliedSalesforce {
    pub contact_center: ContactCenterRef,
    pub role: Option<VoiceRole>,
}

/// Which setting of [`ImpliedSalesforce`] is wrong, so that each front end names its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImpliedSetting {
    ContactCenter,
    Role,
}

impl ImpliedSalesforce {
    /// From the settings as an admin writes them: a contact center's name or `04v` Id, and a role name.
    pub fn from_settings(contact_center: &str, role: Option<&str>) -> Result<Self, (ImpliedSetting, String)> {
        let center = contact_center.trim();
        if center.is_empty() {
            return Err((ImpliedSetting::ContactCenter, "is empty; give a contact center's name or Id".into()));
        }
        let contact_center = match SalesforceId::parse(center) {
            Ok(id) if id.as_str().starts_with(CALL_CENTER_PREFIX) => ContactCenterRef::Id(id),
            _ => ContactCenterRef::Name(center.to_owned()),
        };
        let role = role
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| {
                VoiceRole::parse(r).ok_or_else(|| {
                    (ImpliedSetting::Role, format!("{r:?} is not one of Admin, Agent, CallCenterManager (Supervisor)"))
                })
            })
            .transpose()?;
        Ok(Self { contact_center, role })
    }

    pub(in crate::pipeline) fn user_for(&self, row: &UserRow) -> Option<SalesforceUser> {
        let connect = row.connect.as_ref()?;
        let username = connect.username.as_ref()?;
        let salesforce_username =
            if username.contains('@') { username.clone() } else { connect.identity.email.clone()? };
        Some(SalesforceUser {
            bulkop_email: None,
            // Salesforce requires an email; a SAML file often has none but a username that is the address.
            fields: SalesforceUserFields {
                email: connect.identity.email.clone().or_else(|| Some(salesforce_username.clone())),
                first_name: connect.identity.first_name.clone(),
                last_name: connect.identity.last_name.clone(),
                ..SalesforceUserFields::default()
            },
            user: SalesforceUserRef::Username(salesforce_username),
            contact_center: Some(self.contact_center.clone()),
            role: self.role,
        })
    }
}

/// Where provisioning writes. A side left out fails the rows that need it, with a message saying so.
#[derive(Default)]
pub struct Targets {
    pub connect: Option<ConnectTarget>,
    pub salesforce: Option<SalesforceTarget>,
    /// Salesforce is configured but out of reach (`salesforce` is then `None`): the rows that need it wait.
    pub salesforce_out: Option<SalesforceOut>,
}

/// Why a configured Salesforce cannot be reached now (its secret unreadable, its sign-in refused), and the side it
/// would give Connect-template rows, so that those rows wait too instead of going on without it.
pub struct SalesforceOut {
    pub reason: String,
    pub implied: Option<ImpliedSalesforce>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContactCenterRef, VoiceRole};

    #[test]
    fn implied_settings_take_a_contact_center_by_name_or_id_and_name_the_bad_setting() {
        let by_id = ImpliedSalesforce::from_settings("04vHn000000Z4aBIAS", Some("supervisor")).unwrap();
        assert!(matches!(by_id.contact_center, ContactCenterRef::Id(_)), "{by_id:?}");
        assert_eq!(by_id.role, Some(VoiceRole::CallCenterManager));
        let by_name = ImpliedSalesforce::from_settings(" Support EMEA ", Some(" ")).unwrap();
        assert_eq!(by_name.contact_center, ContactCenterRef::Name("Support EMEA".into()));
        assert_eq!(by_name.role, None, "a blank role is no role");
        // A user's Id is not a contact center's: taken as a name, and the lookup will say there is none.
        let user_id = ImpliedSalesforce::from_settings("005Hn0000ribxUd", None).unwrap();
        assert_eq!(user_id.contact_center, ContactCenterRef::Name("005Hn0000ribxUd".into()));
        assert_eq!(ImpliedSalesforce::from_settings("  ", None).unwrap_err().0, ImpliedSetting::ContactCenter);
        let (setting, problem) = ImpliedSalesforce::from_settings("Support", Some("boss")).unwrap_err();
        assert_eq!(setting, ImpliedSetting::Role);
        assert!(problem.contains("\"boss\""), "{problem}");
    }
}
