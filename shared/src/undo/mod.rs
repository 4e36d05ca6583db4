//! Undo images: what a job did to each existing user, kept with the row, so that `ccbulk undo` can put it back. An
//! image holds, for each part of a user the job changed, the value before and the value the job left (to tell a user
//! changed again since, which undo leaves alone); for a user the job created, what it created. Never a password:
//! nothing here can hold one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What undoing one side of a row came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undone {
    /// Put back: what was done.
    Done(String),
    /// Changed again since the job: left as it is, and why.
    LeftAlone(String),
    /// Nothing to put back (already gone, say).
    Nothing(String),
}

/// What a row's job did, per side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<ConnectImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salesforce: Option<SalesforceImage>,
}

impl UndoImage {
    pub fn is_empty(&self) -> bool {
        self.connect.is_none() && self.salesforce.is_none()
    }

    /// The image as the job store keeps it; `None` when the row changed no existing user and created none.
    pub fn stored(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// The Connect user a row created or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "did", rename_all = "lowercase")]
pub enum ConnectImage {
    /// Created by the job, with these settings.
    Created { user_id: String, after: ConnectSettings },
    /// Changed by the job: these parts were `before`, and the job left them `after`.
    Changed {
        user_id: String,
        before: Box<ConnectSettings>,
        after: ConnectSettings,
        /// Per-channel settings were changed too; undo does not put those back.
        #[serde(default)]
        channels: bool,
    },
}

/// Some parts of a Connect user's settings: `None` for a part not recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_profile_id: Option<String>,
    /// Sorted, so that two readings compare whatever order the service gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile_ids: Option<BTreeSet<String>>,
    /// `Some(None)`: in no group.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "recorded")]
    pub hierarchy_group_id: Option<Option<String>>,
    /// The tags the job set, each with its value (`None`: the tag was absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub secondary_email: Option<String>,
    pub mobile: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// `SOFT_PHONE` or `DESK_PHONE`, as Connect spells it.
    pub phone_type: String,
    pub auto_accept: bool,
    pub after_contact_work_seconds: i32,
    pub desk_phone_number: Option<String>,
    pub persistent_connection: Option<bool>,
}

impl ConnectSettings {
    /// These settings, but only the parts `like` records: how a user now stands on the parts a job changed.
    pub fn like(&self, like: &ConnectSettings) -> ConnectSettings {
        ConnectSettings {
            identity: like.identity.as_ref().and(self.identity.clone()),
            phone: like.phone.as_ref().and(self.phone.clone()),
            routing_profile_id: like.routing_profile_id.as_ref().and(self.routing_profile_id.clone()),
            security_profile_ids: like.security_profile_ids.as_ref().and(self.security_profile_ids.clone()),
            hierarchy_group_id: like.hierarchy_group_id.as_ref().and(self.hierarchy_group_id.clone()),
            tags: like.tags.as_ref().map(|tags| {
                let now = self.tags.clone().unwrap_or_default();
                tags.keys().map(|key| (key.clone(), now.get(key).cloned().flatten())).collect()
            }),
        }
    }
}

/// The Salesforce user a row created or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "did", rename_all = "lowercase")]
pub enum SalesforceImage {
    /// Created by the job: Salesforce users cannot be deleted, so undo takes it out of its contact center, withdraws
    /// its Voice permission sets and deactivates it.
    Created {
        user_id: String,
        after: SalesforceSettings,
    },
    Changed {
        user_id: String,
        before: SalesforceSettings,
        after: SalesforceSettings,
    },
}

/// Some parts of a Salesforce user: fields by API name, its contact center, its Voice permission sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceSettings {
    /// `FirstName`, `LastName`, `Alias`, `FederationIdentifier` the job set, with their values (never `Email`, whose
    /// change waits for its owner's confirmation, nor a password).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Option<String>>,
    /// `Some(None)`: in no contact center.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "recorded")]
    pub call_center_id: Option<Option<String>>,
    /// The Voice permission sets held (ids), when the job changed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_sets: Option<BTreeSet<String>>,
}

/// A part recorded as absent (`Some(None)`, written `null`) kept apart from a part not recorded (`None`, left out):
/// serde reads a `null` into an `Option<Option<_>>` as `None` by itself.
mod recorded {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Option<String>>, serializer: S) -> Result<S::Ok, S::Error> {
        value.as_ref().and_then(Option::as_ref).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_round_trip_and_compare_on_the_parts_a_job_changed() {
        let before = ConnectSettings { routing_profile_id: Some("rp-1".into()), ..ConnectSettings::default() };
        let after = ConnectSettings { routing_profile_id: Some("rp-2".into()), ..ConnectSettings::default() };
        let image = UndoImage {
            connect: Some(ConnectImage::Changed {
                user_id: "u".into(),
                before: Box::new(before),
                after: after.clone(),
                channels: false,
            }),
            salesforce: None,
        };
        let stored = image.stored().unwrap();
        assert_eq!(UndoImage::parse(&stored), Some(image));
        let out_of_any_group = ConnectSettings { hierarchy_group_id: Some(None), ..ConnectSettings::default() };
        let text = serde_json::to_string(&out_of_any_group).unwrap();
        assert_eq!(serde_json::from_str::<ConnectSettings>(&text).unwrap(), out_of_any_group, "{text}");
        assert_eq!(serde_json::from_str::<ConnectSettings>("{}").unwrap(), ConnectSettings::default());
        assert_eq!(UndoImage::default().stored(), None);
        let now = ConnectSettings {
            routing_profile_id: Some("rp-2".into()),
            hierarchy_group_id: Some(None),
            tags: Some(BTreeMap::from([("team".into(), Some("blue".into()))])),
            ..ConnectSettings::default()
        };
        assert_eq!(now.like(&after), after, "only the parts the job changed are compared");
        let tagged = ConnectSettings {
            tags: Some(BTreeMap::from([("site".into(), None), ("team".into(), Some("red".into()))])),
            ..ConnectSettings::default()
        };
        assert_eq!(
            now.like(&tagged).tags.unwrap(),
            BTreeMap::from([("site".into(), None), ("team".into(), Some("blue".into()))])
        );
    }
}
