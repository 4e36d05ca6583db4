//! Undo on the Connect side: the image of what a job did to a user, taken as it does it, and putting it back.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_connect::types::{PhoneType as SdkPhoneType, User, UserIdentityInfo, UserPhoneConfig};

use super::changes::{NewUser, UserChanges};
use super::directory::Directory;
use super::provisioner::{ConnectProvisioner, ProvisionError};
use crate::domain::{ConnectUser, IdentityManagement};
use crate::undo::{ConnectImage, ConnectSettings, Identity, Phone, Undone};

pub(super) fn identity(info: &UserIdentityInfo) -> Identity {
    let text = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_owned);
    Identity {
        first_name: text(info.first_name()),
        last_name: text(info.last_name()),
        email: text(info.email()),
        secondary_email: text(info.secondary_email()),
        mobile: text(info.mobile()),
    }
}

pub(super) fn phone(config: &UserPhoneConfig) -> Phone {
    Phone {
        phone_type: config.phone_type().as_str().to_owned(),
        auto_accept: config.auto_accept(),
        after_contact_work_seconds: config.after_contact_work_time_limit(),
        desk_phone_number: config.desk_phone_number().filter(|n| !n.is_empty()).map(str::to_owned),
        persistent_connection: config.persistent_connection(),
    }
}

/// Every recorded part of a user as it stands.
pub(crate) fn settings_of(user: &User) -> ConnectSettings {
    ConnectSettings {
        identity: Some(user.identity_info().map(identity).unwrap_or_default()),
        phone: user.phone_config().map(phone),
        routing_profile_id: user.routing_profile_id().map(str::to_owned),
        security_profile_ids: Some(user.security_profile_ids().iter().cloned().collect()),
        hierarchy_group_id: Some(user.hierarchy_group_id().map(str::to_owned)),
        tags: Some(user.tags().into_iter().flatten().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()),
    }
}

/// The parts `changes` touch, as they will be.
fn changed_parts(changes: &UserChanges) -> ConnectSettings {
    ConnectSettings {
        identity: changes.identity.as_ref().map(identity),
        phone: changes.phone.as_ref().map(phone),
        routing_profile_id: changes.routing_profile.clone(),
        security_profile_ids: changes.security_profiles.as_ref().map(|ids| ids.iter().cloned().collect()),
        hierarchy_group_id: changes.hierarchy_group.clone().map(Some),
        tags: (!changes.tags.is_empty())
            .then(|| changes.tags.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect()),
    }
}

/// The image of an existing user's `changes`: the parts they touch as `current` has them, and as they will be.
pub(crate) fn changed_image(user_id: &str, current: &User, changes: &UserChanges) -> Option<ConnectImage> {
    let after = changed_parts(changes);
    let channels = !changes.channels.changes_from(current).is_empty();
    if after == ConnectSettings::default() && !channels {
        return None;
    }
    let before = Box::new(settings_of(current).like(&after));
    Some(ConnectImage::Changed { user_id: user_id.to_owned(), before, after, channels })
}

/// The image of a user an earlier attempt of the row created (its mark says so), brought to the row's settings now:
/// created by the job, and left with what `current` has where `changes` do not touch it.
pub(crate) fn own_image(user_id: &str, current: &User, changes: &UserChanges) -> ConnectImage {
    let (now, changed) = (settings_of(current), changed_parts(changes));
    ConnectImage::Created {
        user_id: user_id.to_owned(),
        after: ConnectSettings {
            routing_profile_id: changed.routing_profile_id.or(now.routing_profile_id),
            security_profile_ids: changed.security_profile_ids.or(now.security_profile_ids),
            hierarchy_group_id: changed.hierarchy_group_id.or(now.hierarchy_group_id),
            tags: changed.tags,
            ..ConnectSettings::default()
        },
    }
}

/// The image of a user a job created with `new`'s settings.
pub(crate) fn created_image(user_id: &str, user: &ConnectUser, new: &NewUser) -> ConnectImage {
    ConnectImage::Created {
        user_id: user_id.to_owned(),
        after: ConnectSettings {
            routing_profile_id: Some(new.routing.clone()),
            security_profile_ids: Some(new.security.iter().cloned().collect::<BTreeSet<_>>()),
            hierarchy_group_id: Some(new.hierarchy.clone()),
            tags: (!user.tags.is_empty())
                .then(|| user.tags.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect::<BTreeMap<_, _>>()),
            ..ConnectSettings::default()
        },
    }
}

impl ConnectProvisioner<'_> {
    /// Puts back what a job did to a user, unless the user changed again since: a user it created is removed (its
    /// quick connects first), a user it changed gets the parts it changed back.
    pub async fn undo(&self, directory: &Directory, image: &ConnectImage) -> Result<Undone, ProvisionError> {
        let (user_id, after) = match image {
            ConnectImage::Created { user_id, after } | ConnectImage::Changed { user_id, after, .. } => (user_id, after),
        };
        let current = match self.describe(user_id, None).await {
            Ok(user) => user,
            Err(err) if err.message.starts_with("ResourceNotFoundException") => {
                return Ok(Undone::Nothing("the user is gone already".into()));
            }
            Err(err) => return Err(err),
        };
        let now = settings_of(&current).like(after);
        // A part that stands as it was before the job was put back by an undo that died before the rest: only the
        // parts still as the job left them go back.
        let (left, changed) = match image {
            ConnectImage::Created { .. } => (ConnectSettings::default(), differing(&now, after)),
            ConnectImage::Changed { before, .. } => still_as_left(&now, after, before),
        };
        if !changed.is_empty() {
            return Ok(Undone::LeftAlone(format!("changed since the job ({}): left as it is", changed.join(", "))));
        }
        match image {
            ConnectImage::Created { .. } => {
                self.remove_user(directory, user_id).await?;
                Ok(Undone::Done("removed the user the job created".into()))
            }
            ConnectImage::Changed { .. } if left == ConnectSettings::default() => {
                Ok(Undone::Nothing("every part the job changed is back already".into()))
            }
            ConnectImage::Changed { channels, .. } => {
                let put_back = self.put_back(user_id, current.arn(), &left).await?;
                let mut done = format!("put back {}", put_back.join(", "));
                if *channels {
                    done.push_str("; per-channel settings the job changed are not put back");
                }
                Ok(Undone::Done(done))
            }
        }
    }

    async fn put_back(
        &self,
        user_id: &str,
        arn: Option<&str>,
        before: &ConnectSettings,
    ) -> Result<Vec<&'static str>, ProvisionError> {
        let mut parts = Vec::new();
        if let Some(identity) = &before.identity
            && self.identity != IdentityManagement::ExistingDirectory
        {
            let info = UserIdentityInfo::builder()
                .set_first_name(identity.first_name.clone())
                .set_last_name(identity.last_name.clone())
                .set_email(identity.email.clone())
                .set_secondary_email(identity.secondary_email.clone())
                .set_mobile(identity.mobile.clone())
                .build();
            self.set_identity(user_id, info, None).await?;
            parts.push("identity");
        }
        if let Some(phone) = &before.phone {
            let config = UserPhoneConfig::builder()
                .phone_type(SdkPhoneType::from(phone.phone_type.as_str()))
                .auto_accept(phone.auto_accept)
                .after_contact_work_time_limit(phone.after_contact_work_seconds)
                .set_desk_phone_number(phone.desk_phone_number.clone())
                .set_persistent_connection(phone.persistent_connection)
                .build();
            self.set_phone(user_id, config, None).await?;
            parts.push("phone settings");
        }
        if let Some(profile) = &before.routing_profile_id {
            self.set_routing_profile(user_id, profile, None).await?;
            parts.push("routing profile");
        }
        if let Some(profiles) = &before.security_profile_ids {
            self.set_security_profiles(user_id, profiles.iter().cloned().collect(), None).await?;
            parts.push("security profiles");
        }
        if let Some(group) = &before.hierarchy_group_id {
            self.set_hierarchy(user_id, group.clone(), None).await?;
            parts.push("hierarchy group");
        }
        if let (Some(tags), Some(arn)) = (&before.tags, arn) {
            // The values the job overwrote go back; the tags it added come off.
            let overwritten: Vec<(&String, &String)> =
                tags.iter().filter_map(|(key, value)| Some((key, value.as_ref()?))).collect();
            let added: Vec<String> =
                tags.iter().filter(|(_, value)| value.is_none()).map(|(key, _)| key.clone()).collect();
            if !overwritten.is_empty() {
                self.tag(arn, overwritten, None).await?;
            }
            if !added.is_empty() {
                self.untag(arn, added, None).await?;
            }
            parts.push("tags");
        }
        Ok(parts)
    }
}

/// Of the parts the job changed, the values to put back (those still as the job left them) and the names of those
/// changed since (neither as the job left them nor as they were before).
fn still_as_left(
    now: &ConnectSettings,
    after: &ConnectSettings,
    before: &ConnectSettings,
) -> (ConnectSettings, Vec<&'static str>) {
    let mut changed = Vec::new();
    let mut part = |name: &'static str, now_is_after: bool, now_is_before: bool| {
        if !now_is_after && !now_is_before {
            changed.push(name);
        }
        now_is_after
    };
    let left = ConnectSettings {
        identity: before
            .identity
            .clone()
            .filter(|_| part("identity", now.identity == after.identity, now.identity == before.identity)),
        phone: before
            .phone
            .clone()
            .filter(|_| part("phone settings", now.phone == after.phone, now.phone == before.phone)),
        routing_profile_id: before.routing_profile_id.clone().filter(|_| {
            part(
                "routing profile",
                now.routing_profile_id == after.routing_profile_id,
                now.routing_profile_id == before.routing_profile_id,
            )
        }),
        security_profile_ids: before.security_profile_ids.clone().filter(|_| {
            part(
                "security profiles",
                now.security_profile_ids == after.security_profile_ids,
                now.security_profile_ids == before.security_profile_ids,
            )
        }),
        hierarchy_group_id: before.hierarchy_group_id.clone().filter(|_| {
            part(
                "hierarchy group",
                now.hierarchy_group_id == after.hierarchy_group_id,
                now.hierarchy_group_id == before.hierarchy_group_id,
            )
        }),
        tags: before.tags.clone().filter(|_| part("tags", now.tags == after.tags, now.tags == before.tags)),
    };
    (left, changed)
}

/// The parts that differ, by name.
fn differing(now: &ConnectSettings, after: &ConnectSettings) -> Vec<&'static str> {
    [
        ("identity", now.identity != after.identity),
        ("phone settings", now.phone != after.phone),
        ("routing profile", now.routing_profile_id != after.routing_profile_id),
        ("security profiles", now.security_profile_ids != after.security_profile_ids),
        ("hierarchy group", now.hierarchy_group_id != after.hierarchy_group_id),
        ("tags", now.tags != after.tags),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name)
    .collect()
}
