//! The Connect side of a plan: what `add`, `bring_to` and `remove` would do to a row's user, read and never written.

use super::changes::{NewUser, UserChanges};
use super::directory::{Directory, instance_users};
use super::provisioner::{ConnectProvisioner, ProvisionError};
use crate::domain::{Action, ConnectUser};
use crate::plan::Change;

impl ConnectProvisioner<'_> {
    /// What a run would do to the user named `username`, from the instance as it is now. A create is only said to be
    /// possible here; whether the instance has room for it is the caller's count (see [`Self::user_count`]).
    pub async fn plan(&self, directory: &Directory, action: Action, username: &str, user: &ConnectUser) -> Change {
        match self.planned(directory, action, username, user).await {
            Ok(change) => change,
            Err(err) => Change::Fail(err.message),
        }
    }

    async fn planned(
        &self,
        directory: &Directory,
        action: Action,
        username: &str,
        user: &ConnectUser,
    ) -> Result<Change, ProvisionError> {
        // Listed, the directory knows every user as of its reading; a plan reads nothing more for a user it lacks.
        let existing = match directory.users_listed() {
            true => directory.user_id(username),
            false => self.existing(directory, username).await?,
        };
        Ok(match (action, existing) {
            (Action::Remove, Some(_)) => Change::Remove,
            // A user already gone is a remove's success (see `remove`).
            (Action::Remove, None) => Change::NoChange,
            (Action::Update, None) => {
                return Err(ProvisionError::permanent(format!(
                    "the instance has no user named {username:?} to update"
                )));
            }
            (Action::Add, None) => {
                NewUser::of(user, directory)?;
                Change::Create
            }
            (Action::Add | Action::Update, Some(id)) => {
                let current = self.describe(&id, None).await?;
                let changes = UserChanges::between(self.identity, &current, user, directory)?;
                if changes.fields.is_empty() { Change::NoChange } else { Change::Update(changes.fields) }
            }
        })
    }

    /// How many users the instance holds now: a plan holds it against the users-per-instance quota.
    pub async fn user_count(&self) -> Result<u64, ProvisionError> {
        instance_users(self.client, self.instance_id, self.pacer).await
    }
}
