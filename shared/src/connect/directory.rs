//! Names resolved to ids once per job in each process: routing profiles, security profiles, hierarchy groups,
//! agent-transfer flows, the instance's users by username and its user quick connects. Lookups are never made once
//! per row; a user missing from the directory is looked up once before a row that needs it fails (see
//! `ConnectProvisioner::existing`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use aws_sdk_connect::Client;
use aws_sdk_connect::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

use super::hierarchy::Hierarchy;
use super::pacing::{Api, Pacer, RateBudget};
use super::provisioner::ProvisionError;
use crate::domain::ResourceRef;

/// One instance's names, read once and shared by the rows worked at once: the resources' names are fixed for the
/// directory's life, its users and quick connects change as rows create and remove them.
#[derive(Debug, Default)]
pub struct Directory {
    routing_profiles: HashMap<String, String>,
    /// Routing profile id → its ARN, which a ContactCenterBulkOp record carries (Argument4).
    routing_profile_arns: HashMap<String, String>,
    security_profiles: HashMap<String, String>,
    /// Routing and security profile id → its name as the instance spells it (ids are unique across kinds).
    names_by_id: HashMap<String, String>,
    hierarchy: Hierarchy,
    pub(crate) transfer_flow: Option<String>,
    users: Mutex<Users>,
    /// Whether the instance's users were listed; if not, a user is searched for by username when a row needs it.
    users_listed: bool,
    /// User id → the quick connects (type USER) that point at that user; read on first need.
    pub(crate) quick_connects: OnceCell<Mutex<HashMap<String, Vec<String>>>>,
    instance_id: String,
}

#[derive(Debug, Default, Clone)]
struct Users {
    /// Lower-cased username → user id.
    by_name: HashMap<String, String>,
    /// User id → when this process created or adopted that user.
    fresh: HashMap<String, Instant>,
}

impl Clone for Directory {
    /// A copy that goes its own way from here (tests play a second worker's stale directory with it).
    fn clone(&self) -> Self {
        let quick_connects = OnceCell::new();
        if let Some(map) = self.quick_connects.get() {
            let _ = quick_connects.set(Mutex::new(lock(map).clone()));
        }
        Self {
            routing_profiles: self.routing_profiles.clone(),
            routing_profile_arns: self.routing_profile_arns.clone(),
            security_profiles: self.security_profiles.clone(),
            names_by_id: self.names_by_id.clone(),
            hierarchy: self.hierarchy.clone(),
            transfer_flow: self.transfer_flow.clone(),
            users: Mutex::new(self.users().clone()),
            users_listed: self.users_listed,
            quick_connects,
            instance_id: self.instance_id.clone(),
        }
    }
}

/// The directory's maps behind a lock; their entries are set one at a time, so a map stays whole even if a holder
/// panicked.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Directory {
    /// The instance's names and every user.
    pub async fn load(client: &Client, instance: &str, pacer: &Pacer) -> Result<Self, ProvisionError> {
        let mut directory = Self::names(client, instance, pacer).await?;
        directory.reload_users(client, instance, pacer).await?;
        directory.users_listed = true;
        Ok(directory)
    }

    /// The instance's names, and its users by the cheaper path for a job of `rows` rows (see [`UsersPath`]).
    pub async fn load_for(client: &Client, instance: &str, pacer: &Pacer, rows: u64) -> Result<Self, ProvisionError> {
        let (mut directory, users) =
            tokio::try_join!(Self::names(client, instance, pacer), instance_users(client, instance, pacer))?;
        if UsersPath::for_job(users, rows, pacer.limits()) == UsersPath::List {
            directory.reload_users(client, instance, pacer).await?;
            directory.users_listed = true;
        }
        Ok(directory)
    }

    /// The instance's names. The four lists do not depend on one another: read together, they take the longest
    /// one's round trips rather than the sum of all.
    async fn names(client: &Client, instance: &str, pacer: &Pacer) -> Result<Self, ProvisionError> {
        let (mut routing_profiles, mut routing_profile_arns) = (HashMap::new(), HashMap::new());
        let (mut routing_names, mut security_names) = (HashMap::new(), HashMap::new());
        let routing = every_page(
            pacer,
            Api::ListRoutingProfiles,
            |token| client.list_routing_profiles().instance_id(instance).max_results(1000).set_next_token(token).send(),
            |page| page.next_token.clone(),
            |page| {
                let summaries = page.routing_profile_summary_list();
                named(&mut routing_profiles, summaries.iter().map(|p| (p.name(), p.id())));
                spelled(&mut routing_names, summaries.iter().map(|p| (p.name(), p.id())));
                routing_profile_arns
                    .extend(summaries.iter().filter_map(|p| Some((p.id()?.to_owned(), p.arn()?.to_owned()))));
            },
        );
        let mut security_profiles = HashMap::new();
        let security = every_page(
            pacer,
            Api::ListSecurityProfiles,
            |token| {
                client.list_security_profiles().instance_id(instance).max_results(1000).set_next_token(token).send()
            },
            |page| page.next_token.clone(),
            |page| {
                let summaries = page.security_profile_summary_list();
                named(&mut security_profiles, summaries.iter().map(|p| (p.name(), p.id())));
                spelled(&mut security_names, summaries.iter().map(|p| (p.name(), p.id())));
            },
        );
        // SearchUserHierarchyGroups, not ListUserHierarchyGroups: only the search gives each group's path (API
        // reference, HierarchyGroup.HierarchyPath), which tells apart groups of one name on different branches.
        let mut hierarchy = Hierarchy::default();
        let groups = every_page(
            pacer,
            Api::SearchUserHierarchyGroups,
            |token| {
                client
                    .search_user_hierarchy_groups()
                    .instance_id(instance)
                    .max_results(100)
                    .set_next_token(token)
                    .send()
            },
            |page| page.next_token.clone(),
            |page| page.user_hierarchy_groups().iter().for_each(|group| take_group(&mut hierarchy, group)),
        );
        let ((), (), (), transfer_flow) =
            tokio::try_join!(routing, security, groups, transfer_flow(client, instance, pacer))?;
        routing_names.extend(security_names);
        Ok(Directory {
            instance_id: instance.to_owned(),
            routing_profiles,
            routing_profile_arns,
            security_profiles,
            names_by_id: routing_names,
            hierarchy,
            transfer_flow,
            ..Directory::default()
        })
    }

    /// The user quick-connect index as text another worker of the job can take up, once it is read here; `None`
    /// when it is not read, or too large for one item of the job store.
    pub fn quick_connects_text(&self) -> Option<String> {
        let index = lock(self.quick_connects.get()?).clone();
        let text = serde_json::to_string(&SharedQuickConnects { by_user: index }).ok()?;
        (text.len() <= SHARED_QUICK_CONNECTS_MAX).then_some(text)
    }

    /// Takes up the index another worker read (see [`Directory::quick_connects_text`]); false when the text is not
    /// one, and the index is then read here.
    pub fn adopt_quick_connects(&self, text: &str) -> bool {
        let Ok(shared) = serde_json::from_str::<SharedQuickConnects>(text) else { return false };
        let _ = self.quick_connects.set(Mutex::new(shared.by_user));
        true
    }

    /// Whether the quick-connect index is here, read or taken up.
    pub fn has_quick_connects(&self) -> bool {
        self.quick_connects.initialized()
    }

    /// Whether the instance's users were listed: if not, users are searched for one by one as rows need them.
    pub fn users_listed(&self) -> bool {
        self.users_listed
    }

    /// Lists the instance's users again, for users someone else made since the directory was read.
    pub async fn reload_users(&self, client: &Client, instance: &str, pacer: &Pacer) -> Result<(), ProvisionError> {
        let mut map = HashMap::new();
        every_page(
            pacer,
            Api::ListUsers,
            |token| client.list_users().instance_id(instance).max_results(1000).set_next_token(token).send(),
            |page| page.next_token.clone(),
            |page| named(&mut map, page.user_summary_list().iter().map(|u| (u.username(), u.id()))),
        )
        .await?;
        // Users this process made meanwhile stay known, listed or not (the list may be behind).
        let mut users = self.users();
        let fresh: Vec<(String, String)> = users
            .by_name
            .iter()
            .filter(|(_, id)| users.fresh.contains_key(*id))
            .map(|(name, id)| (name.clone(), id.clone()))
            .collect();
        users.by_name = map;
        users.by_name.extend(fresh);
        Ok(())
    }

    fn users(&self) -> MutexGuard<'_, Users> {
        lock(&self.users)
    }

    /// The agent-transfer flow user quick connects go through, if the instance has one to pick (see
    /// `transfer_flow` below).
    pub fn transfer_flow(&self) -> Option<&str> {
        self.transfer_flow.as_deref()
    }

    pub fn user_id(&self, username: &str) -> Option<String> {
        self.users().by_name.get(&key(username)).cloned()
    }

    /// Records a user this process just created or adopted: for a while the service may not know it everywhere yet.
    pub(crate) fn remember_user(&self, username: &str, id: &str) {
        let mut users = self.users();
        users.by_name.insert(key(username), id.to_owned());
        users.fresh.insert(id.to_owned(), Instant::now());
    }

    /// Records a user someone else made, found after the directory was read.
    pub(crate) fn learn_user(&self, username: &str, id: &str) {
        self.users().by_name.insert(key(username), id.to_owned());
    }

    pub(crate) fn forget_user(&self, username: &str) {
        let mut users = self.users();
        if let Some(id) = users.by_name.remove(&key(username)) {
            users.fresh.remove(&id);
        }
    }

    /// When this process created or adopted the user, if it did: calls that name the user may meet eventual
    /// consistency until a while after that.
    pub(crate) fn fresh_since(&self, user_id: &str) -> Option<Instant> {
        self.users().fresh.get(user_id).copied()
    }

    fn resolve(
        &self,
        reference: &ResourceRef,
        what: &str,
        by_name: impl FnOnce(&str) -> Result<String, ProvisionError>,
    ) -> Result<String, ProvisionError> {
        match reference {
            ResourceRef::Id(id) => Ok(id.clone()),
            // arn:aws:connect:<region>:<account>:instance/<instance id>/<kind>/<resource id>
            ResourceRef::Arn(arn) => {
                let mut parts = arn.split('/');
                let (_, instance, id) = (parts.next(), parts.next(), parts.nth(1));
                match (instance, id) {
                    (Some(instance), Some(id)) if instance == self.instance_id => Ok(id.to_owned()),
                    (Some(instance), Some(_)) => Err(ProvisionError::permanent(format!(
                        "the {what} ARN {arn:?} belongs to instance {instance}, not to {}",
                        self.instance_id
                    ))),
                    _ => Err(ProvisionError::permanent(format!("the {what} ARN {arn:?} names no resource"))),
                }
            }
            ResourceRef::Name(name) => by_name(name),
        }
    }

    fn by_name(map: &HashMap<String, String>, name: &str, what: &str) -> Result<String, ProvisionError> {
        map.get(&key(name))
            .cloned()
            .ok_or_else(|| ProvisionError::permanent(format!("the instance has no {what} named {name:?}")))
    }

    /// A routing or security profile's name as the instance spells it, from its id.
    pub fn profile_name(&self, id: &str) -> Option<&str> {
        self.names_by_id.get(id).map(String::as_str)
    }

    /// A hierarchy group's path as the instance spells it (`Support/Tier 1`), from its id.
    pub fn hierarchy_path(&self, id: &str) -> Option<&str> {
        self.hierarchy.path_of(id)
    }

    pub fn routing_profile(&self, reference: &ResourceRef) -> Result<String, ProvisionError> {
        self.resolve(reference, "routing profile", |name| {
            Self::by_name(&self.routing_profiles, name, "routing profile")
        })
    }

    /// A routing profile's ARN, however the row names it.
    pub fn routing_profile_arn(&self, reference: &ResourceRef) -> Result<String, ProvisionError> {
        if let ResourceRef::Arn(arn) = reference {
            return Ok(arn.clone());
        }
        let id = self.routing_profile(reference)?;
        self.routing_profile_arns
            .get(&id)
            .cloned()
            .ok_or_else(|| ProvisionError::permanent(format!("the instance did not give routing profile {id}'s ARN")))
    }

    pub fn security_profile(&self, reference: &ResourceRef) -> Result<String, ProvisionError> {
        self.resolve(reference, "security profile", |name| {
            Self::by_name(&self.security_profiles, name, "security profile")
        })
    }

    pub fn hierarchy_group(&self, reference: &ResourceRef) -> Result<String, ProvisionError> {
        self.resolve(reference, "hierarchy group", |path| self.hierarchy.resolve(path))
    }
}

/// The flow a user quick connect transfers through. ListContactFlows is asked for AGENT_TRANSFER flows only; among
/// them the instance's own "Default agent transfer" (the flow every new instance has, Connect admin guide, "Default
/// flows") is taken on purpose, not whichever is listed first. An instance that renamed or removed it and holds
/// exactly one other agent-transfer flow gets that one; with several and no default, none is picked, and a row that
/// needs a quick connect fails saying so.
async fn transfer_flow(client: &Client, instance: &str, pacer: &Pacer) -> Result<Option<String>, ProvisionError> {
    use aws_sdk_connect::types::ContactFlowType;
    let mut flows = Vec::new();
    every_page(
        pacer,
        Api::ListContactFlows,
        |token| {
            client
                .list_contact_flows()
                .instance_id(instance)
                .contact_flow_types(ContactFlowType::AgentTransfer)
                .max_results(1000)
                .set_next_token(token)
                .send()
        },
        |page| page.next_token.clone(),
        |page| {
            let summaries = page.contact_flow_summary_list().iter();
            flows.extend(summaries.filter_map(|flow| Some((flow.name()?.to_owned(), flow.id()?.to_owned()))));
        },
    )
    .await?;
    if let Some((_, id)) = flows.iter().find(|(name, _)| name.eq_ignore_ascii_case(DEFAULT_TRANSFER_FLOW)) {
        return Ok(Some(id.clone()));
    }
    Ok(match flows.as_slice() {
        [(_, only)] => Some(only.clone()),
        _ => None,
    })
}

/// The quick-connect index as the job store keeps it: the user each quick connect points at.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedQuickConnects {
    by_user: HashMap<String, Vec<String>>,
}

/// The largest index text shared through the job store: about 4,000 quick connects.
const SHARED_QUICK_CONNECTS_MAX: usize = crate::job::SHARED_VALUE_MAX;

/// How a job finds the instance's existing users by username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsersPath {
    /// ListUsers, every page once per job: pages of 1,000 users (API reference, ListUsers `MaxResults`), from the read
    /// family's budget.
    List,
    /// SearchUsers on an exact username, for a row that needs a user the job has not met: one call a row at most, from
    /// SearchUsers' own bucket (the 2 req/s family). A new user costs nothing: CreateUser's
    /// DuplicateResourceException tells an existing one apart, and that user is then searched for.
    Search,
}

/// ListUsers' largest page (API reference, ListUsers: `MaxResults` 1 to 1,000).
const USERS_PER_PAGE: u64 = 1_000;

impl UsersPath {
    /// The cheaper path in seconds of quota: listing takes `pages / read rate` before the job's first row;
    /// searching takes at most `rows / write rate`, spread over the job, in a bucket that the writes do not use.
    pub fn for_job(instance_users: u64, rows: u64, limits: RateBudget) -> Self {
        let pages = instance_users.div_ceil(USERS_PER_PAGE).max(1) as f64;
        let listing = pages / limits.read_per_second.max(f64::MIN_POSITIVE);
        let searching = rows as f64 / limits.write_per_second.max(f64::MIN_POSITIVE);
        if listing <= searching { UsersPath::List } else { UsersPath::Search }
    }
}

/// How many users the instance holds: SearchUsers without criteria, one result (its `ApproximateTotalCount` counts
/// every match).
pub(super) async fn instance_users(client: &Client, instance: &str, pacer: &Pacer) -> Result<u64, ProvisionError> {
    let call = client.search_users().instance_id(instance).max_results(1);
    let found = pacer.send(Api::SearchUsers, None, || call.clone().send()).await.map_err(ProvisionError::from_sdk)?;
    Ok(found.approximate_total_count().map_or(0, |count| count.max(0) as u64))
}

/// The name of the agent-transfer flow every Connect instance is created with.
pub(crate) const DEFAULT_TRANSFER_FLOW: &str = "Default agent transfer";

/// Every page of a List call, each page paced and retried: `send` asks for the page after a token, `next` reads a
/// page's token, `take` keeps what the page holds.
pub(crate) async fn every_page<O, E, R, Fut>(
    pacer: &Pacer,
    api: Api,
    send: impl Fn(Option<String>) -> Fut,
    next: impl Fn(&O) -> Option<String>,
    mut take: impl FnMut(&O),
) -> Result<(), ProvisionError>
where
    Fut: Future<Output = Result<O, SdkError<E, R>>>,
    E: ProvideErrorMetadata + fmt::Debug,
    R: fmt::Debug + super::attempts::AnswerStatus,
{
    let mut token = None;
    loop {
        let page = pacer.send(api, None, || send(token.clone())).await.map_err(ProvisionError::from_sdk)?;
        take(&page);
        token = next(&page);
        if token.is_none() {
            return Ok(());
        }
    }
}

/// Keeps a group under its path. The path's levels run from level one to the group itself; should the service leave
/// the group out of its own path, it is put at the end.
fn take_group(hierarchy: &mut Hierarchy, group: &aws_sdk_connect::types::HierarchyGroup) {
    let (Some(id), Some(name)) = (group.id(), group.name()) else { return };
    let mut path: Vec<&str> = Vec::new();
    let mut last_id = None;
    if let Some(levels) = group.hierarchy_path() {
        let levels =
            [levels.level_one(), levels.level_two(), levels.level_three(), levels.level_four(), levels.level_five()];
        for level in levels.into_iter().flatten() {
            if let Some(level_name) = level.name() {
                path.push(level_name);
                last_id = level.id();
            }
        }
    }
    if last_id != Some(id) {
        path.push(name);
    }
    hierarchy.insert(&path, id);
}

/// Keeps each (name, id) pair under its name's key.
/// Keeps id → name, as the instance spells the name.
fn spelled<'a>(map: &mut HashMap<String, String>, pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) {
    map.extend(pairs.filter_map(|(name, id)| Some((id?.to_owned(), name?.to_owned()))));
}

fn named<'a>(map: &mut HashMap<String, String>, pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) {
    for (name, id) in pairs {
        if let (Some(name), Some(id)) = (name, id) {
            map.insert(key(name), id.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: RateBudget =
        RateBudget { write_per_second: 2.0, write_burst: 5, read_per_second: 10.0, read_burst: 10 };

    #[test]
    fn a_job_lists_the_users_unless_searching_its_rows_one_by_one_costs_less() {
        // 20,000 users: 20 pages, 2 s of reads; 4 rows cost 2 s of searches, 5 rows more.
        assert_eq!(UsersPath::for_job(20_000, 3, DEFAULT), UsersPath::Search);
        assert_eq!(UsersPath::for_job(20_000, 4, DEFAULT), UsersPath::List);
        assert_eq!(UsersPath::for_job(20_000, 1_000, DEFAULT), UsersPath::List);
        // A small instance is one page, whatever the job.
        assert_eq!(UsersPath::for_job(300, 1, DEFAULT), UsersPath::List);
        assert_eq!(UsersPath::for_job(0, 1, DEFAULT), UsersPath::List);
        // At a raised write rate, searches come cheaper.
        let raised = RateBudget { write_per_second: 50.0, ..DEFAULT };
        assert_eq!(UsersPath::for_job(100_000, 400, raised), UsersPath::Search);
        assert_eq!(UsersPath::for_job(100_000, 500, raised), UsersPath::List);
    }
}
