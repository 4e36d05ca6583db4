//! Create, adopt, update and remove one user in Amazon Connect, idempotently: a user who already exists is adopted
//! and brought to the row's settings; a user already gone is removed.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Instant;

use aws_sdk_connect::Client;
use aws_sdk_connect::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_connect::types::{QuickConnectConfig, QuickConnectType, User, UserQuickConnectConfig};
use futures_util::StreamExt;

use super::attempts::{AnswerStatus, passes, unnamed_server_error};
use super::changes::{NewUser, UserChanges, identity_info, phone_config};
use super::channels::{ChannelLists, given};
use super::directory::{Directory, every_page, lock};
use super::pacing::{Api, Pacer};
use super::undo::{changed_image, created_image, own_image};
use crate::domain::{ConnectUser, IdentityManagement};

/// The tag each user ccbulk creates carries: the job and row that created it (`<job id>/<row>`). The key keeps to
/// Connect's TagKey pattern, `^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]*$` (botocore's Connect model), as the value does.
pub const CREATED_BY_TAG: &str = "ccbulk:created-by";

/// The tags a user holds at most (CreateUser and TagResource: a TagMap of 1 to 50 entries, botocore's Connect model).
const MAX_TAGS: usize = 50;

/// Why a row's Connect side failed; `retryable` failures (throttles past the SDK's retries, 5xx, network) may succeed
/// on a later attempt, the others need the file or the instance fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionError {
    pub message: String,
    pub retryable: bool,
}

impl ProvisionError {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), retryable: false }
    }

    pub fn from_sdk<E: ProvideErrorMetadata + fmt::Debug, R: fmt::Debug + AnswerStatus>(err: SdkError<E, R>) -> Self {
        // A full quota (LimitExceededException) is not worth another attempt: it is the instance's limit. A failed
        // dependent condition is, on a later delivery, which reads the user afresh.
        let retryable = passes(&err) || err.code() == Some(CONDITION_FAILED);
        let hint = if err.code() == Some(super::QUOTA_FULL) {
            " (a quota of the instance is full, such as users or quick connects per instance: raise it in Service \
             Quotas, or remove what is no longer needed, then run the failed rows again)"
        } else {
            ""
        };
        let message = match (err.code(), err.message(), unnamed_server_error(&err)) {
            (Some(code), Some(message), _) => format!("{code}: {message}{hint}"),
            (Some(code), None, _) => format!("{code}{hint}"),
            (None, _, Some(status)) => format!(
                "HTTP {status} with no error the API names (a gateway's answer): the call may or may not have gone \
                 through"
            ),
            _ => format!("{err:?}"),
        };
        Self { message, retryable }
    }
}

impl fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amazon Connect: {}", self.message)
    }
}

/// UpdateUserConfig's answer when the user changed under the call (API reference, UpdateUserConfig, Errors).
const CONDITION_FAILED: &str = "ConditionalOperationFailedException";
/// Tries of UpdateUserConfig against a user that keeps changing under it, each after reading it again.
const CONDITION_ATTEMPTS: u32 = 3;

/// What the Connect side of a row came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOutcome {
    pub user_id: Option<String>,
    pub user_arn: Option<String>,
    /// Whether this call created the user (rather than adopting or removing one).
    pub created: bool,
    /// What the call did to the user, for undo: the user it created, or the parts it changed and their values before.
    pub image: Option<crate::undo::ConnectImage>,
}

pub struct ConnectProvisioner<'a> {
    pub client: &'a Client,
    pub instance_id: &'a str,
    pub identity: IdentityManagement,
    pub pacer: &'a Pacer,
}

impl ConnectProvisioner<'_> {
    /// Creates the user, or adopts an existing one with that username and brings it to the row's settings.
    /// Creates the user, or brings the one of that name to the row's settings. `mark` names the job's row: the user
    /// is created with it as the tag [`CREATED_BY_TAG`], so that a user an attempt of the same row created, and
    /// died before recording, is known as the row's own when a later attempt finds it (its undo image says created,
    /// and undo removes it), not taken for one that was there before.
    pub async fn add(
        &self,
        directory: &Directory,
        username: &str,
        user: &ConnectUser,
        mark: &str,
    ) -> Result<ConnectOutcome, ProvisionError> {
        if let Some(existing) = directory.user_id(username) {
            return self.bring_marked_to(&existing, user, directory, Some(mark)).await;
        }
        let new = NewUser::of(user, directory)?;
        let NewUser { routing, security, hierarchy, channels, whole_phone_config } = new.clone();
        let mut call = self
            .client
            .create_user()
            .instance_id(self.instance_id)
            .username(username)
            .set_password(user.password.as_ref().map(|p| p.expose().to_owned()))
            .identity_info(identity_info(self.identity, user, None))
            .set_phone_config(whole_phone_config.then(|| phone_config(&user.phone, None)))
            .set_auto_accept_configs(given(channels.auto_accept))
            .set_after_contact_work_configs(given(channels.after_contact_work))
            .set_phone_number_configs(given(channels.phone_numbers))
            .set_persistent_connection_configs(given(channels.persistent_connection))
            .set_voice_enhancement_configs(given(channels.voice_enhancement))
            .set_security_profile_ids(Some(security))
            .routing_profile_id(routing)
            .set_hierarchy_group_id(hierarchy)
            .set_directory_user_id(user.directory_user_id.clone());
        for (key, value) in &user.tags {
            call = call.tags(key, value);
        }
        // A user holds at most 50 tags (CreateUser, Tags: a TagMap of up to 50); a row that gives 50 leaves no room.
        if user.tags.len() < MAX_TAGS && !user.tags.iter().any(|(key, _)| key == CREATED_BY_TAG) {
            call = call.tags(CREATED_BY_TAG, mark);
        }
        match self.pacer.send(Api::CreateUser, None, || call.clone().send()).await {
            Ok(created) => {
                let id = created.user_id().unwrap_or_default().to_owned();
                directory.remember_user(username, &id);
                Ok(ConnectOutcome {
                    image: Some(created_image(&id, user, &new)),
                    user_id: Some(id),
                    user_arn: created.user_arn().map(str::to_owned),
                    created: true,
                })
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_duplicate_resource_exception()) => {
                // Someone (another worker, a crashed attempt of this one) created it meanwhile: adopt it. It may be
                // so new that the search cannot see it yet.
                let existing = self.find_new(username, Instant::now() + self.pacer.retries().settling).await?;
                directory.remember_user(username, &existing);
                self.bring_marked_to(&existing, user, directory, Some(mark)).await
            }
            Err(err) => Err(ProvisionError::from_sdk(err)),
        }
    }

    /// Adopts the user someone else made under `username` (Service Cloud Voice, for a bulk operation), waiting out
    /// Connect's eventual consistency until `give_up`, and brings it to the row's settings. Never creates one.
    pub async fn adopt(
        &self,
        directory: &Directory,
        username: &str,
        user: &ConnectUser,
        give_up: Instant,
    ) -> Result<ConnectOutcome, ProvisionError> {
        let existing = match directory.user_id(username) {
            Some(id) => id,
            None => self.find_new(username, give_up).await?,
        };
        directory.remember_user(username, &existing);
        self.bring_to(&existing, user, directory).await
    }

    /// Brings an existing user to the row's settings: only what differs is sent, one Update* call per part.
    pub async fn bring_to(
        &self,
        user_id: &str,
        user: &ConnectUser,
        directory: &Directory,
    ) -> Result<ConnectOutcome, ProvisionError> {
        self.bring_marked_to(user_id, user, directory, None).await
    }

    /// [`bring_to`](Self::bring_to), for a row whose `mark` (see [`add`](Self::add)) tells its own user apart.
    async fn bring_marked_to(
        &self,
        user_id: &str,
        user: &ConnectUser,
        directory: &Directory,
        mark: Option<&str>,
    ) -> Result<ConnectOutcome, ProvisionError> {
        let fresh = directory.fresh_since(user_id);
        let current = &self.describe(user_id, fresh).await?;
        let changes = UserChanges::between(self.identity, current, user, directory)?;
        let marked = current.tags().and_then(|tags| tags.get(CREATED_BY_TAG)).map(String::as_str);
        let image = match mark {
            Some(mark) if marked == Some(mark) => Some(own_image(user_id, current, &changes)),
            _ => changed_image(user_id, current, &changes),
        };
        if let Some(identity) = changes.identity {
            self.set_identity(user_id, identity, fresh).await?;
        }
        if let Some(phone) = changes.phone {
            self.set_phone(user_id, phone, fresh).await?;
        }
        self.update_channels(user_id, &changes.channels, current, fresh).await?;
        if let Some(profile) = &changes.routing_profile {
            self.set_routing_profile(user_id, profile, fresh).await?;
        }
        if let Some(profiles) = changes.security_profiles {
            self.set_security_profiles(user_id, profiles, fresh).await?;
        }
        if let Some(group) = changes.hierarchy_group {
            self.set_hierarchy(user_id, Some(group), fresh).await?;
        }
        if let (false, Some(arn)) = (changes.tags.is_empty(), current.arn()) {
            self.tag(arn, changes.tags.iter().map(|(k, v)| (k, v)), fresh).await?;
        }
        Ok(ConnectOutcome {
            user_id: Some(user_id.to_owned()),
            user_arn: current.arn().map(str::to_owned),
            created: marked.is_some() && marked == mark,
            image,
        })
    }

    pub(super) async fn describe(&self, user_id: &str, fresh: Option<Instant>) -> Result<User, ProvisionError> {
        let described = self
            .pacer
            .send(Api::DescribeUser, fresh, || {
                self.client.describe_user().instance_id(self.instance_id).user_id(user_id).send()
            })
            .await
            .map_err(ProvisionError::from_sdk)?;
        described.user.ok_or_else(|| ProvisionError::permanent("DescribeUser returned no user"))
    }

    /// Sends the per-channel lists that differ from the user's. UpdateUserConfig may answer
    /// ConditionalOperationFailedException, "Request processing failed because dependent condition failed" (409,
    /// API reference): the user changed under the call. What differs is then read again from the user as it now is,
    /// and sent again, a few times before the row waits for its next delivery.
    async fn update_channels(
        &self,
        user_id: &str,
        channels: &ChannelLists,
        current: &User,
        fresh: Option<Instant>,
    ) -> Result<(), ProvisionError> {
        let mut reread: Option<User> = None;
        for attempt in 1..=CONDITION_ATTEMPTS {
            let changes = channels.changes_from(reread.as_ref().unwrap_or(current));
            if changes.is_empty() {
                return Ok(());
            }
            let call = self
                .client
                .update_user_config()
                .instance_id(self.instance_id)
                .user_id(user_id)
                .set_auto_accept_configs(given(changes.auto_accept))
                .set_after_contact_work_configs(given(changes.after_contact_work))
                .set_phone_number_configs(given(changes.phone_numbers))
                .set_persistent_connection_configs(given(changes.persistent_connection))
                .set_voice_enhancement_configs(given(changes.voice_enhancement));
            match self.pacer.send(Api::UpdateUserConfig, fresh, || call.clone().send()).await {
                Ok(_) => return Ok(()),
                Err(err) if err.code() == Some(CONDITION_FAILED) && attempt < CONDITION_ATTEMPTS => {
                    reread = Some(self.describe(user_id, fresh).await?);
                }
                Err(err) => return Err(ProvisionError::from_sdk(err)),
            }
        }
        Ok(())
    }

    /// Removes the user, and first the quick connects that point at it, so that none is left dangling even if the
    /// process dies between the two steps. A user already gone is a success.
    pub async fn remove(&self, directory: &Directory, username: &str) -> Result<ConnectOutcome, ProvisionError> {
        let Some(user_id) = self.existing(directory, username).await? else {
            return Ok(ConnectOutcome::default());
        };
        self.remove_user(directory, &user_id).await?;
        directory.forget_user(username);
        Ok(ConnectOutcome { user_id: Some(user_id), ..ConnectOutcome::default() })
    }

    /// Removes the user `user_id`, quick connects first; a user already gone is a success.
    pub(super) async fn remove_user(&self, directory: &Directory, user_id: &str) -> Result<(), ProvisionError> {
        let user_id = user_id.to_owned();
        let pointing = lock(self.quick_connects(directory).await?).remove(&user_id).unwrap_or_default();
        for quick_connect in pointing {
            let deleted = self
                .pacer
                .send(Api::DeleteQuickConnect, None, || {
                    self.client
                        .delete_quick_connect()
                        .instance_id(self.instance_id)
                        .quick_connect_id(&quick_connect)
                        .send()
                })
                .await;
            if let Err(err) = deleted
                && !err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception())
            {
                return Err(ProvisionError::from_sdk(err));
            }
        }
        let deleted = self
            .pacer
            .send(Api::DeleteUser, None, || {
                self.client.delete_user().instance_id(self.instance_id).user_id(&user_id).send()
            })
            .await;
        match deleted {
            Ok(_) => {}
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(err) => return Err(ProvisionError::from_sdk(err)),
        }
        Ok(())
    }

    /// Makes sure a quick connect (type USER, named after the user) points at the user; returns its id.
    pub async fn ensure_quick_connect(
        &self,
        directory: &Directory,
        user_id: &str,
        username: &str,
    ) -> Result<String, ProvisionError> {
        if let Some(existing) = lock(self.quick_connects(directory).await?).get(user_id).and_then(|q| q.first()) {
            return Ok(existing.clone());
        }
        let flow = directory.transfer_flow.clone().ok_or_else(|| {
            ProvisionError::permanent(format!(
                "a user quick connect needs an agent-transfer flow, and the instance has none named {:?} nor \
                 exactly one other to take",
                super::directory::DEFAULT_TRANSFER_FLOW
            ))
        })?;
        let config = QuickConnectConfig::builder()
            .quick_connect_type(QuickConnectType::User)
            .user_config(
                UserQuickConnectConfig::builder()
                    .user_id(user_id)
                    .contact_flow_id(flow)
                    .build()
                    .map_err(|e| ProvisionError::permanent(e.to_string()))?,
            )
            .build()
            .map_err(|e| ProvisionError::permanent(e.to_string()))?;
        let call = self
            .client
            .create_quick_connect()
            .instance_id(self.instance_id)
            .name(username.chars().take(127).collect::<String>())
            .quick_connect_config(config);
        let created = match self
            .pacer
            .send(Api::CreateQuickConnect, directory.fresh_since(user_id), || call.clone().send())
            .await
        {
            Ok(created) => created,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_duplicate_resource_exception()) => {
                // Made since the index was read (an earlier attempt at this row, cut short): read the index again
                // and take it, if it points at this user.
                let fresh = self.read_quick_connects().await?;
                let index = self.quick_connects(directory).await?;
                let mut index = lock(index);
                *index = fresh;
                return index.get(user_id).and_then(|q| q.first()).cloned().ok_or_else(|| {
                    ProvisionError::permanent(format!(
                        "a quick connect named {username:?} exists and points elsewhere than this user"
                    ))
                });
            }
            Err(err) => return Err(ProvisionError::from_sdk(err)),
        };
        let id = created.quick_connect_id().unwrap_or_default().to_owned();
        if let Some(map) = directory.quick_connects.get() {
            lock(map).entry(user_id.to_owned()).or_default().push(id.clone());
        }
        Ok(id)
    }

    /// Reads the instance's user quick connects into the directory, unless they are there.
    pub async fn index_quick_connects(&self, directory: &Directory) -> Result<(), ProvisionError> {
        self.quick_connects(directory).await.map(|_| ())
    }

    /// The instance's user quick connects by the user they point at, read once per directory.
    async fn quick_connects<'d>(
        &self,
        directory: &'d Directory,
    ) -> Result<&'d Mutex<HashMap<String, Vec<String>>>, ProvisionError> {
        directory.quick_connects.get_or_try_init(|| async { self.read_quick_connects().await.map(Mutex::new) }).await
    }

    async fn read_quick_connects(&self) -> Result<HashMap<String, Vec<String>>, ProvisionError> {
        let mut ids = Vec::new();
        every_page(
            self.pacer,
            Api::ListQuickConnects,
            |token| {
                self.client
                    .list_quick_connects()
                    .instance_id(self.instance_id)
                    .quick_connect_types(QuickConnectType::User)
                    .set_next_token(token)
                    .send()
            },
            |page| page.next_token.clone(),
            |page| ids.extend(page.quick_connect_summary_list().iter().filter_map(|q| q.id().map(str::to_owned))),
        )
        .await?;
        // Described several at once, as many as DescribeQuickConnect's rate (the read family's) times a call's time
        // asks: one after another, 1,000 quick connects would take 1,000 round trips instead of 100 s at 10 req/s.
        let describe = |id: String| async move {
            let described = self
                .pacer
                .send(Api::DescribeQuickConnect, None, || {
                    self.client.describe_quick_connect().instance_id(self.instance_id).quick_connect_id(&id).send()
                })
                .await
                .map_err(ProvisionError::from_sdk)?;
            let target = described
                .quick_connect()
                .and_then(|q| q.quick_connect_config())
                .and_then(|c| c.user_config())
                .map(|u| u.user_id().to_owned());
            Ok::<_, ProvisionError>(target.map(|target| (target, id)))
        };
        let mut described =
            futures_util::stream::iter(ids.into_iter().map(describe)).buffer_unordered(self.pacer.reads_in_flight());
        let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
        while let Some(pair) = described.next().await {
            if let Some((target, id)) = pair? {
                by_user.entry(target).or_default().push(id);
            }
        }
        Ok(by_user)
    }

    /// Looks up a user that CreateUser has just called a duplicate: someone created it moments ago, so the search
    /// may not see it yet. It is searched for again, paced and backing off, until `give_up` (for one user, as long
    /// as a new user may stay unseen: [`super::Retries::settling`]).
    async fn find_new(&self, username: &str, give_up: Instant) -> Result<String, ProvisionError> {
        let retries = self.pacer.retries();
        for retry in 0.. {
            if let Some(id) = self.find(username).await? {
                return Ok(id);
            }
            if Instant::now() >= give_up {
                break;
            }
            tokio::time::sleep(retries.ceiling(retry).min(give_up.saturating_duration_since(Instant::now()))).await;
        }
        Err(ProvisionError { message: format!("{username} exists but cannot be found yet"), retryable: true })
    }

    /// The id of the user named `username`: from the directory, or else looked up once (SearchUsers), for a user
    /// someone made after the directory was read (the directory is read once per job).
    pub async fn existing(&self, directory: &Directory, username: &str) -> Result<Option<String>, ProvisionError> {
        if let Some(id) = directory.user_id(username) {
            return Ok(Some(id));
        }
        let found = self.find(username).await?;
        if let Some(id) = &found {
            directory.learn_user(username, id);
        }
        Ok(found)
    }

    /// Looks a user up by exact username (SearchUsers), for when the directory's snapshot is behind.
    async fn find(&self, username: &str) -> Result<Option<String>, ProvisionError> {
        use aws_sdk_connect::types::{StringComparisonType, StringCondition, UserSearchCriteria};
        let criteria = UserSearchCriteria::builder()
            .string_condition(
                StringCondition::builder()
                    .field_name("Username")
                    .value(username)
                    .comparison_type(StringComparisonType::Exact)
                    .build(),
            )
            .build();
        let call = self.client.search_users().instance_id(self.instance_id).search_criteria(criteria);
        let found =
            self.pacer.send(Api::SearchUsers, None, || call.clone().send()).await.map_err(ProvisionError::from_sdk)?;
        Ok(found
            .users()
            .iter()
            .find(|u| u.username().is_some_and(|n| n.eq_ignore_ascii_case(username)))
            .and_then(|u| u.id())
            .map(str::to_owned))
    }
}
