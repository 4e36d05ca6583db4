//! Reading every user of an instance, whole, for `ccbulk export`: ids turned back into the names a file gives.

use aws_sdk_connect::types::{PhoneType, User};
use futures_util::StreamExt;

use super::directory::{Directory, every_page};
use super::pacing::Api;
use super::provisioner::{ConnectProvisioner, ProvisionError};
use super::undo::{identity, phone};

/// One Connect user as a ccbulk file gives it: resources by name (by id when the instance has no name for it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportedUser {
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub secondary_email: Option<String>,
    pub mobile: Option<String>,
    pub routing_profile: Option<String>,
    pub security_profiles: Vec<String>,
    /// The group's full path, which names it whatever other groups share its name.
    pub hierarchy_group: Option<String>,
    pub desk_phone: Option<bool>,
    pub desk_phone_number: Option<String>,
    pub auto_accept: Option<bool>,
    pub acw_timeout: Option<i32>,
    pub persistent_connection: Option<bool>,
    /// Without the `aws:` tags, which AWS keeps and a file may not set (TagResource: "Tag keys must not start
    /// with aws:"), nor ccbulk's own mark of the row that created the user (`CREATED_BY_TAG`).
    pub tags: Vec<(String, String)>,
}

impl ConnectProvisioner<'_> {
    /// Every user of the instance, whole (ListUsers, then DescribeUser for each, several at once within the read
    /// rate), by username.
    pub async fn export(&self, directory: &Directory) -> Result<Vec<ExportedUser>, ProvisionError> {
        let mut ids = Vec::new();
        every_page(
            self.pacer,
            Api::ListUsers,
            |token| {
                self.client.list_users().instance_id(self.instance_id).max_results(1000).set_next_token(token).send()
            },
            |page| page.next_token.clone(),
            |page| ids.extend(page.user_summary_list().iter().filter_map(|u| u.id().map(str::to_owned))),
        )
        .await?;
        let mut described = futures_util::stream::iter(ids.iter().map(|id| self.describe(id, None)))
            .buffer_unordered(self.pacer.reads_in_flight());
        let mut users = Vec::with_capacity(ids.len());
        while let Some(user) = described.next().await {
            users.push(exported(&user?, directory));
        }
        users.sort_by_key(|user| user.username.to_lowercase());
        Ok(users)
    }
}

fn exported(user: &User, directory: &Directory) -> ExportedUser {
    let name = |id: &str| directory.profile_name(id).unwrap_or(id).to_owned();
    // Read as an undo image reads them: the same fields, blanks as absent.
    let identity = user.identity_info().map(identity).unwrap_or_default();
    let phone = user.phone_config().map(phone);
    let mut tags: Vec<(String, String)> = user
        .tags()
        .into_iter()
        .flatten()
        .filter(|(key, _)| !key.starts_with("aws:") && key.as_str() != super::CREATED_BY_TAG)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    tags.sort();
    ExportedUser {
        username: user.username().unwrap_or_default().to_owned(),
        first_name: identity.first_name,
        last_name: identity.last_name,
        email: identity.email,
        secondary_email: identity.secondary_email,
        mobile: identity.mobile,
        routing_profile: user.routing_profile_id().map(name),
        security_profiles: user.security_profile_ids().iter().map(|id| name(id)).collect(),
        hierarchy_group: user.hierarchy_group_id().map(|id| directory.hierarchy_path(id).unwrap_or(id).to_owned()),
        desk_phone: phone.as_ref().map(|p| p.phone_type == PhoneType::DeskPhone.as_str()),
        desk_phone_number: phone.as_ref().and_then(|p| p.desk_phone_number.clone()),
        auto_accept: phone.as_ref().map(|p| p.auto_accept),
        acw_timeout: phone.as_ref().map(|p| p.after_contact_work_seconds),
        persistent_connection: phone.and_then(|p| p.persistent_connection),
        tags,
    }
}
