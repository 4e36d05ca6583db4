//! Exporting an instance's users (`ccbulk export`), and their Salesforce side when an org is configured, as a ccbulk
//! file of `update` rows: the start of a bulk change (edit it, plan it, run it). Run unchanged, it changes nothing.

use std::io::Write;

use super::provision::Targets;
use crate::connect::{Directory, ExportedUser, ProvisionError};
use crate::domain::IdentityManagement;
use crate::salesforce::{ExportedSalesforce, SalesforceError, salesforce_users_of};

/// The columns of an export, in the ccbulk dialect.
pub const EXPORT_COLUMNS: [&str; 21] = [
    "action",
    "username",
    "first_name",
    "last_name",
    "email",
    "secondary_email",
    "mobile",
    "routing_profile",
    "security_profiles",
    "hierarchy_group",
    "phone_type",
    "desk_phone_number",
    "auto_accept",
    "acw_timeout",
    "persistent_connection",
    "tags",
    "sf_username",
    "sf_alias",
    "sf_federation_id",
    "contact_center",
    "role",
];

/// Connect usernames per batch of Salesforce lookups: a collection's worth, as a run's chunk reads them.
const SALESFORCE_BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("an export reads an Amazon Connect instance, and none is configured ([connect] in the config)")]
    NoInstance,
    #[error("{0}")]
    Connect(ProvisionError),
    #[error("{0}")]
    Salesforce(SalesforceError),
    #[error("cannot write the export: {0}")]
    Write(#[from] csv::Error),
}

impl From<ProvisionError> for ExportError {
    fn from(err: ProvisionError) -> Self {
        ExportError::Connect(err)
    }
}

impl From<SalesforceError> for ExportError {
    fn from(err: SalesforceError) -> Self {
        ExportError::Salesforce(err)
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub users: u64,
    /// Of those, users paired with a Salesforce user.
    pub with_salesforce: u64,
}

/// Writes every user of the targets' instance to `out`, with their Salesforce side when an org is configured. A SAML
/// instance's rows carry no primary email, which such an instance refuses.
pub async fn export_users<W: Write>(
    targets: &Targets,
    identity: IdentityManagement,
    out: W,
) -> Result<(Exported, W), ExportError> {
    let target = targets.connect.as_ref().ok_or(ExportError::NoInstance)?;
    let provisioner = target.provisioner(identity);
    // The names only: the users are listed by the export itself.
    let directory = Directory::load_for(&target.client, &target.instance_id, &target.pacer, 0).await?;
    let users = provisioner.export(&directory).await?;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(EXPORT_COLUMNS)?;
    let mut exported = Exported::default();
    for batch in users.chunks(SALESFORCE_BATCH) {
        let salesforce = match &targets.salesforce {
            Some(target) => {
                let names: Vec<String> = batch.iter().map(|u| u.username.clone()).collect();
                salesforce_users_of(&target.client, &names).await?
            }
            None => Default::default(),
        };
        for user in batch {
            let side = salesforce.get(&user.username.to_lowercase());
            exported.users += 1;
            exported.with_salesforce += u64::from(side.is_some());
            writer.write_record(cells(user, side, identity))?;
        }
    }
    writer.flush().map_err(csv::Error::from)?;
    let out = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok((exported, out))
}

fn cells(user: &ExportedUser, salesforce: Option<&ExportedSalesforce>, identity: IdentityManagement) -> Vec<String> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let yes_no = |value: Option<bool>| value.map(|on| if on { "yes" } else { "no" }.to_owned()).unwrap_or_default();
    let email = if identity == IdentityManagement::Saml { String::new() } else { text(&user.email) };
    let side = |pick: fn(&ExportedSalesforce) -> Option<String>| salesforce.and_then(pick).unwrap_or_default();
    vec![
        "update".into(),
        user.username.clone(),
        text(&user.first_name),
        text(&user.last_name),
        email,
        text(&user.secondary_email),
        text(&user.mobile),
        text(&user.routing_profile),
        user.security_profiles.join("|"),
        text(&user.hierarchy_group),
        user.desk_phone.map(|desk| if desk { "desk" } else { "soft" }.to_owned()).unwrap_or_default(),
        text(&user.desk_phone_number),
        yes_no(user.auto_accept),
        user.acw_timeout.map(|s| s.to_string()).unwrap_or_default(),
        yes_no(user.persistent_connection),
        user.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("|"),
        side(|s| Some(s.username.clone())),
        side(|s| s.alias.clone()),
        side(|s| s.federation_id.clone()),
        side(|s| s.contact_center.clone()),
        side(|s| s.role.map(|r| r.as_str().to_owned())),
    ]
}
