//! One Update* call per part of a user, paced: what bringing a user to a row's settings sends, and what an undo
//! sends to put the parts back.

use std::time::Instant;

use aws_sdk_connect::types::{UserIdentityInfo, UserPhoneConfig};

use super::pacing::Api;
use super::provisioner::{ConnectProvisioner, ProvisionError};

impl ConnectProvisioner<'_> {
    pub(super) async fn set_identity(
        &self,
        user_id: &str,
        info: UserIdentityInfo,
        fresh: Option<Instant>,
    ) -> Result<(), ProvisionError> {
        let call =
            self.client.update_user_identity_info().instance_id(self.instance_id).user_id(user_id).identity_info(info);
        self.pacer
            .send(Api::UpdateUserIdentityInfo, fresh, || call.clone().send())
            .await
            .map_err(ProvisionError::from_sdk)?;
        Ok(())
    }

    pub(super) async fn set_phone(
        &self,
        user_id: &str,
        config: UserPhoneConfig,
        fresh: Option<Instant>,
    ) -> Result<(), ProvisionError> {
        let call =
            self.client.update_user_phone_config().instance_id(self.instance_id).user_id(user_id).phone_config(config);
        self.pacer
            .send(Api::UpdateUserPhoneConfig, fresh, || call.clone().send())
            .await
            .map_err(ProvisionError::from_sdk)?;
        Ok(())
    }

    pub(super) async fn set_routing_profile(
        &self,
        user_id: &str,
        profile: &str,
        fresh: Option<Instant>,
    ) -> Result<(), ProvisionError> {
        let call = self
            .client
            .update_user_routing_profile()
            .instance_id(self.instance_id)
            .user_id(user_id)
            .routing_profile_id(profile);
        self.pacer
            .send(Api::UpdateUserRoutingProfile, fresh, || call.clone().send())
            .await
            .map_err(ProvisionError::from_sdk)?;
        Ok(())
    }

    pub(super) async fn set_security_profiles(
        &self,
        user_id: &str,
        profiles: Vec<String>,
        fresh: Option<Instant>,
    ) -> Result<(), ProvisionError> {
        let call = self
            .client
            .update_user_security_profiles()
            .instance_id(self.instance_id)
            .user_id(user_id)
            .set_security_profile_ids(Some(profiles));
        self.pacer
            .send(Api::UpdateUserSecurityProfiles, fresh, || call.clone().send())
            .await
            .map_err(ProvisionError::from_sdk)?;
        Ok(())
    }

    /// `None` takes the user out of its group (API reference, UpdateUserHierarchy: HierarchyGroupId is optional).
    pub(super) async fn set_hierarchy(
        &self,
        user_id: &str,
        group: Option<String>,
        fresh: Option<Instant>,
    ) -> Result<(), ProvisionError> {
        let call = self
            .client
            .update_user_hierarchy()
            .instance_id(self.instance_id)
            .user_id(user_id)
            .set_hierarchy_group_id(group);
        self.pacer
            .send(Api::UpdateUserHierarchy, fresh, || call.clone().send())
            .await
            .map_err(ProvisionError::from_sdk)?;
        Ok(())
    }

    pub(super) async fn tag<'t>(
        &self,
        arn: &str,
        tags: impl IntoIterator<Item = (&'t String, &'t String)>,
        fresh: Option<Instant>,
    ) -> Result<(), ProvisionError> {
        let mut call = self.client.tag_resource().resource_arn(arn);
        for (key, value) in tags {
            call = call.tags(key, value);
        }
        self.pacer.send(Api::TagResource, fresh, || call.clone().send()).await.map_err(ProvisionError::from_sdk)?;
        Ok(())
    }

    pub(super) async fn untag(
        &self,
        arn: &str,
        keys: Vec<String>,
        fresh: Option<Instant>,
    ) -> Result<(), ProvisionError> {
        let call = self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys));
        self.pacer.send(Api::UntagResource, fresh, || call.clone().send()).await.map_err(ProvisionError::from_sdk)?;
        Ok(())
    }
}
