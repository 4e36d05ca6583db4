//! The Connect provisioner against the Connect sandbox, through aws-sdk-connect over a real socket.

#[path = "common/connect_client.rs"]
mod connect_client;

use std::path::Path;
use std::time::Duration;

use aws_sdk_connect::Client;
use ccbulk_sandbox::connect::{ConnectSandbox, ConnectSeed, FaultRates, Knobs, Op, QuotaSpec};
use ccbulk_shared::connect::{ConnectProvisioner, Directory, Pacer, RateBudget, Retries};
use ccbulk_shared::domain::{Action, ConnectUser, IdentityInfo, IdentityManagement, Password, ResourceRef, UserRow};
use ccbulk_shared::format::ByteRange;
use ccbulk_shared::validate::{Options, RowError, Visitor, validate};
use connect_client::client;

fn roomy() -> Knobs {
    let quotas = Op::ALL.iter().map(|op| (op.name().to_owned(), QuotaSpec { rate: 10_000.0, burst: 10_000 })).collect();
    Knobs { quotas, ..Knobs::default() }
}

const FAST: RateBudget =
    RateBudget { write_per_second: 10_000.0, write_burst: 10_000, read_per_second: 10_000.0, read_burst: 10_000 };

async fn sandbox(knobs: Knobs) -> ConnectSandbox {
    ConnectSandbox::start(ConnectSeed { knobs, ..ConnectSeed::default() }, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Retries as ccbulk's, with waits short enough for a test.
const QUICK: Retries = Retries {
    attempts: 8,
    first: Duration::from_millis(20),
    longest: Duration::from_millis(400),
    settling: Duration::from_secs(10),
};

#[derive(Default)]
struct Rows(Vec<UserRow>);

impl Visitor for Rows {
    fn row(&mut self, _range: ByteRange, outcome: &Result<UserRow, Vec<RowError>>) {
        self.0.push(outcome.clone().expect("the example rows are valid"));
    }
}

fn example_rows(file: &str) -> Vec<UserRow> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(file);
    let mut rows = Rows::default();
    validate(path.as_path(), &Options::default(), &mut rows).unwrap();
    rows.0
}

fn provisioner<'a>(client: &'a Client, instance: &'a str, pacer: &'a Pacer) -> ConnectProvisioner<'a> {
    ConnectProvisioner { client, instance_id: instance, identity: IdentityManagement::ConnectManaged, pacer }
}

/// A roomy sandbox, a client of it, its default instance and a pacer that never waits.
struct Fixture {
    sandbox: ConnectSandbox,
    client: Client,
    instance: String,
    pacer: Pacer,
}

impl Fixture {
    async fn start() -> Self {
        let sandbox = sandbox(roomy()).await;
        let client = client(&sandbox);
        let instance = sandbox.default_instance_id().to_owned();
        Self { sandbox, client, instance, pacer: Pacer::new(FAST).with_retries(QUICK) }
    }

    fn connect(&self) -> ConnectProvisioner<'_> {
        provisioner(&self.client, &self.instance, &self.pacer)
    }
}

fn username(row: &UserRow) -> &str {
    row.connect.as_ref().unwrap().username.as_deref().unwrap()
}

#[tokio::test]
async fn the_example_adds_create_users_and_a_second_run_adopts_them() {
    let fixture = Fixture::start().await;
    let Fixture { sandbox, client, instance, pacer } = &fixture;
    let connect = fixture.connect();
    let adds: Vec<UserRow> =
        example_rows("ccbulk-agents.csv").into_iter().filter(|r| r.action == Action::Add).collect();
    assert!(adds.len() >= 20);

    let directory = Directory::load(client, instance, pacer).await.unwrap();
    for row in &adds {
        let outcome = connect.add(&directory, username(row), row.connect.as_ref().unwrap(), "job/2").await.unwrap();
        assert!(outcome.created, "{}", username(row));
    }
    let snapshot = sandbox.snapshot();
    let users = &snapshot.instance(instance).unwrap().users;
    assert_eq!(users.len(), 1 + adds.len());
    let first = &adds[0];
    let stored = snapshot.instance(instance).unwrap().user(username(first)).unwrap();
    let wanted = first.connect.as_ref().unwrap();
    assert_eq!(Some(&ResourceRef::Name(stored.routing_profile.clone())), wanted.routing_profile.as_ref());
    assert_eq!(stored.security_profiles.len(), wanted.security_profiles.len());
    assert_eq!(stored.identity_info.first_name, wanted.identity.first_name);
    for row in &adds {
        let Some(ResourceRef::Name(path)) = &row.connect.as_ref().unwrap().hierarchy_group else { continue };
        let stored = snapshot.instance(instance).unwrap().user(username(row)).unwrap();
        assert_eq!(stored.hierarchy_group.as_ref(), Some(path), "{}: the group at that path", username(row));
    }
    let desk = adds.iter().find(|r| r.connect.as_ref().unwrap().phone.desk_phone_number.is_some()).unwrap();
    let stored_desk = snapshot.instance(instance).unwrap().user(username(desk)).unwrap();
    assert_eq!(stored_desk.phone_config.as_ref().unwrap().phone_type.as_deref(), Some("DESK_PHONE"));

    // A second run, as after a crash: everything exists, nothing is created twice, nothing needs changing.
    let calls_before = sandbox.snapshot().counters.calls;
    let directory = Directory::load(client, instance, pacer).await.unwrap();
    for row in &adds {
        // Another job's row: the users are not its own.
        let outcome = connect.add(&directory, username(row), row.connect.as_ref().unwrap(), "rerun/2").await.unwrap();
        assert!(!outcome.created);
    }
    let after = sandbox.snapshot();
    assert_eq!(after.instance(instance).unwrap().users.len(), 1 + adds.len(), "no duplicates");
    assert_eq!(after.counters.calls.get("CreateUser"), calls_before.get("CreateUser"));
    for update in
        ["UpdateUserIdentityInfo", "UpdateUserPhoneConfig", "UpdateUserRoutingProfile", "UpdateUserSecurityProfiles"]
    {
        assert_eq!(after.counters.calls.get(update), calls_before.get(update), "{update}: nothing differed");
    }
}

/// Two groups named "Tier 1", on two branches: a row names one by its full path, never by its last level alone.
#[tokio::test]
async fn hierarchy_groups_are_matched_by_their_full_path() {
    let mut seed = ConnectSeed { knobs: roomy(), ..ConnectSeed::default() };
    seed.instances[0].hierarchy_groups =
        ["Support", "Sales", "Support/Tier 1", "Sales/Tier 1", "Sales/East"].map(String::from).to_vec();
    let sandbox = ConnectSandbox::start(seed, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = client(&sandbox);
    let instance = sandbox.default_instance_id().to_owned();
    let pacer = Pacer::new(FAST).with_retries(QUICK);
    let connect = provisioner(&client, &instance, &pacer);
    let directory = Directory::load(&client, &instance, &pacer).await.unwrap();
    let user = |group: &str| ConnectUser {
        routing_profile: Some(ResourceRef::Name("Basic Routing Profile".into())),
        security_profiles: vec![ResourceRef::Name("Agent".into())],
        hierarchy_group: Some(ResourceRef::Name(group.into())),
        password: Some(Password::new("Welcome123!Ab".into())),
        identity: IdentityInfo {
            first_name: Some("Tier".into()),
            last_name: Some("Agent".into()),
            ..Default::default()
        },
        ..ConnectUser::default()
    };

    connect.add(&directory, "sales.one", &user("sales / tier 1"), "job/2").await.unwrap();
    connect.add(&directory, "east.one", &user("East"), "job/2").await.unwrap();
    let ambiguous = connect.add(&directory, "tier.one", &user("Tier 1"), "job/2").await.unwrap_err().to_string();
    assert!(ambiguous.contains("Support/Tier 1") && ambiguous.contains("Sales/Tier 1"), "{ambiguous}");
    // Its last level exists, on another branch: the path does not.
    let wrong_branch =
        connect.add(&directory, "east.two", &user("Support/East"), "job/2").await.unwrap_err().to_string();
    assert!(wrong_branch.contains("no hierarchy group at \"Support/East\""), "{wrong_branch}");

    let snapshot = sandbox.snapshot();
    let stored = snapshot.instance(&instance).unwrap();
    assert_eq!(stored.user("sales.one").unwrap().hierarchy_group.as_deref(), Some("Sales/Tier 1"));
    assert_eq!(stored.user("east.one").unwrap().hierarchy_group.as_deref(), Some("Sales/East"));
    assert!(stored.user("tier.one").is_none() && stored.user("east.two").is_none(), "failed rows create nobody");
    assert_eq!(snapshot.counters.calls.get("SearchUserHierarchyGroups"), Some(&1), "one page holds five groups");
}

/// An instance of 2,500 users (3 pages) and a job of 2 rows: searching costs less than listing, so nothing is listed;
/// a new user is created without a lookup, an existing one is found by a search, as is the user a row updates.
/// The same instance for a job of 100 rows is listed.
#[tokio::test]
async fn a_small_job_on_a_large_instance_searches_for_its_users_instead_of_listing_them() {
    use ccbulk_sandbox::connect::seed::UserSeed;
    let mut seed = ConnectSeed { knobs: roomy(), ..ConnectSeed::default() };
    seed.instances[0].max_users = 5_000;
    seed.instances[0].users.extend((0..2_499).map(|i| UserSeed {
        username: format!("agent{i:04}"),
        first_name: Some("Seeded".into()),
        last_name: Some(format!("Agent {i}")),
        email: None,
        routing_profile: "Basic Routing Profile".into(),
        security_profiles: vec!["Agent".into()],
    }));
    let sandbox = ConnectSandbox::start(seed, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = client(&sandbox);
    let instance = sandbox.default_instance_id().to_owned();
    // Listing 3 pages costs 0.03 s of reads; 2 searches 0.02 s, 100 searches 1 s.
    let limits = RateBudget { write_per_second: 100.0, write_burst: 100, read_per_second: 100.0, read_burst: 100 };
    let pacer = Pacer::new(limits).with_retries(QUICK);
    let connect = provisioner(&client, &instance, &pacer);
    let calls = |op: &str| sandbox.snapshot().counters.calls.get(op).copied().unwrap_or(0);

    let directory = Directory::load_for(&client, &instance, &pacer, 2).await.unwrap();
    assert!(!directory.users_listed());
    assert_eq!((calls("ListUsers"), calls("SearchUsers")), (0, 1), "one search counts the users");
    let user = ConnectUser {
        routing_profile: Some(ResourceRef::Name("Basic Routing Profile".into())),
        security_profiles: vec![ResourceRef::Name("Agent".into())],
        password: Some(Password::new("Welcome123!Ab".into())),
        identity: IdentityInfo {
            first_name: Some("New".into()),
            last_name: Some("Agent".into()),
            ..Default::default()
        },
        ..ConnectUser::default()
    };
    assert!(connect.add(&directory, "brand.new", &user, "job/2").await.unwrap().created);
    assert_eq!(calls("SearchUsers"), 1, "a new user needs no lookup");
    let adopted = connect.add(&directory, "agent0042", &user, "job/2").await.unwrap();
    assert!(!adopted.created, "an existing user is adopted, not made twice");
    assert_eq!(calls("SearchUsers"), 2, "CreateUser's duplicate, then one search");
    let existing = connect.existing(&directory, "agent1999").await.unwrap().expect("a seeded user");
    assert_eq!(calls("SearchUsers"), 3);
    let snapshot = sandbox.snapshot();
    assert_eq!(snapshot.instance(&instance).unwrap().user("agent1999").unwrap().id, existing);
    assert_eq!(snapshot.instance(&instance).unwrap().users.len(), 2_501);

    let listed = Directory::load_for(&client, &instance, &pacer, 100).await.unwrap();
    assert!(listed.users_listed());
    assert_eq!(calls("ListUsers"), 3, "2,501 users in pages of 1,000");
    assert!(listed.user_id("agent2498").is_some());
}

#[tokio::test]
async fn an_update_sends_only_what_differs_and_adoption_survives_a_stale_directory() {
    let fixture = Fixture::start().await;
    let Fixture { sandbox, client, instance, pacer } = &fixture;
    let connect = fixture.connect();
    let row = &example_rows("ccbulk-agents.csv")[1];
    let user = row.connect.clone().unwrap();

    let stale = Directory::load(client, instance, pacer).await.unwrap();
    let fresh = stale.clone();
    connect.add(&fresh, username(row), &user, "job/2").await.unwrap();
    // The stale directory does not know the user: CreateUser meets DuplicateResourceException and adopts.
    let adopted = connect.add(&stale, username(row), &user, "other-job/2").await.unwrap();
    assert!(!adopted.created);
    assert_eq!(sandbox.snapshot().instance(instance).unwrap().users.len(), 2);

    let changed = ConnectUser {
        routing_profile: Some(ResourceRef::Name("Support Tier 2".into())),
        security_profiles: vec![],
        ..user.clone()
    };
    let before = sandbox.snapshot().counters.calls;
    let user_id = fresh.user_id(username(row)).unwrap();
    connect.bring_to(&user_id, &changed, &fresh).await.unwrap();
    let after = sandbox.snapshot();
    let count = |calls: &std::collections::BTreeMap<&str, u64>, op| calls.get(op).copied().unwrap_or(0);
    assert_eq!(
        count(&after.counters.calls, "UpdateUserRoutingProfile") - count(&before, "UpdateUserRoutingProfile"),
        1
    );
    assert_eq!(count(&after.counters.calls, "UpdateUserPhoneConfig"), count(&before, "UpdateUserPhoneConfig"));
    assert_eq!(after.instance(instance).unwrap().user(username(row)).unwrap().routing_profile, "Support Tier 2");
}

#[tokio::test]
async fn remove_deletes_the_quick_connects_first_and_is_idempotent() {
    use aws_sdk_connect::types::{QuickConnectConfig, QuickConnectType, UserQuickConnectConfig};
    let fixture = Fixture::start().await;
    let Fixture { sandbox, client, instance, pacer } = &fixture;
    let connect = fixture.connect();
    let row = &example_rows("ccbulk-agents.csv")[0];
    let directory = Directory::load(client, instance, pacer).await.unwrap();
    let created = connect.add(&directory, username(row), row.connect.as_ref().unwrap(), "job/2").await.unwrap();
    let flows = client
        .list_contact_flows()
        .instance_id(instance.as_str())
        .contact_flow_types(aws_sdk_connect::types::ContactFlowType::AgentTransfer)
        .send()
        .await
        .unwrap();
    let flow = flows.contact_flow_summary_list()[0].id().unwrap();
    client
        .create_quick_connect()
        .instance_id(instance.as_str())
        .name(username(row))
        .quick_connect_config(
            QuickConnectConfig::builder()
                .quick_connect_type(QuickConnectType::User)
                .user_config(
                    UserQuickConnectConfig::builder()
                        .user_id(created.user_id.unwrap())
                        .contact_flow_id(flow)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    connect.remove(&directory, username(row)).await.unwrap();
    let snapshot = sandbox.snapshot();
    let state = snapshot.instance(instance).unwrap();
    assert!(state.user(username(row)).is_none());
    assert!(state.quick_connects.is_empty(), "no quick connect is left dangling");
    let again = connect.remove(&directory, username(row)).await.unwrap();
    assert_eq!(again.user_id, None, "removing a user already gone succeeds");
}

#[tokio::test]
async fn an_unknown_profile_is_a_permanent_failure_that_names_it() {
    let fixture = Fixture::start().await;
    let Fixture { client, instance, pacer, .. } = &fixture;
    let connect = fixture.connect();
    let mut user = example_rows("ccbulk-agents.csv")[0].connect.clone().unwrap();
    user.routing_profile = Some(ResourceRef::Name("Night Shift".into()));
    let directory = Directory::load(client, instance, pacer).await.unwrap();
    let err = connect.add(&directory, "nightowl", &user, "job/2").await.unwrap_err();
    assert!(!err.retryable);
    assert_eq!(err.to_string(), "Amazon Connect: the instance has no routing profile named \"Night Shift\"");
}

#[tokio::test]
async fn pacing_at_the_default_quota_meets_no_throttle() {
    // The sandbox keeps the service's default quotas (CreateUser: 2 req/s, burst 5).
    let sandbox = sandbox(Knobs::default()).await;
    let client = client(&sandbox);
    let instance = sandbox.default_instance_id().to_owned();
    let pacer = Pacer::new(RateBudget::default());
    let connect = provisioner(&client, &instance, &pacer);
    let rows: Vec<UserRow> =
        example_rows("ccbulk-agents.csv").into_iter().filter(|r| r.action == Action::Add).take(8).collect();
    let directory = Directory::load(&client, &instance, &pacer).await.unwrap();
    for row in &rows {
        connect.add(&directory, username(row), row.connect.as_ref().unwrap(), "job/2").await.unwrap();
    }
    let counters = sandbox.snapshot().counters;
    assert_eq!(counters.calls["CreateUser"], 8);
    assert_eq!(counters.throttled.values().sum::<u64>(), 0, "{:?}", counters.throttled);
}

/// Retries are calls like any other: with the pacer at exactly the account's quota and every other CreateUser
/// throttled by someone else, rows worked at once never push the account past its bucket. (The SDK's retry loop
/// would send its retries straight away, on top of the paced calls.)
#[tokio::test]
async fn every_retry_waits_its_turn_at_the_pacer() {
    let mut knobs = roomy();
    knobs.quotas.insert("CreateUser".into(), QuotaSpec { rate: 5.0, burst: 3 });
    knobs
        .faults
        .insert("CreateUser".into(), FaultRates { internal_error: 0.0, throttle: 0.25, ..FaultRates::default() });
    let sandbox = sandbox(knobs).await;
    let client = client(&sandbox);
    let instance = sandbox.default_instance_id().to_owned();
    let budget = RateBudget { write_per_second: 5.0, write_burst: 3, ..FAST };
    let retries = Retries { attempts: 20, ..QUICK };
    let pacer = Pacer::new(budget).with_retries(retries);
    let connect = provisioner(&client, &instance, &pacer);
    let row = example_rows("ccbulk-agents.csv").into_iter().find(|r| r.action == Action::Add).unwrap();
    let user = row.connect.unwrap();
    let directory = Directory::load(&client, &instance, &pacer).await.unwrap();
    // Rounds of eight rows at once, until the injected throttles have met at least one call (they are drawn at
    // random: one round in ten meets none).
    let mut created = 0;
    for round in 0..20 {
        let usernames: Vec<String> = (0..8).map(|i| format!("retried{round:02}x{i}")).collect();
        let adds = usernames.iter().map(|name| connect.add(&directory, name, &user, "job/2"));
        for outcome in futures_util::future::join_all(adds).await {
            assert!(outcome.unwrap().created);
            created += 1;
        }
        if sandbox.snapshot().counters.injected_errors.contains_key("CreateUser") {
            break;
        }
    }
    let counters = sandbox.snapshot().counters;
    let injected = counters.injected_errors.get("CreateUser").copied().unwrap_or(0);
    assert!(injected > 0, "the test throttled nothing: {counters:?}");
    assert_eq!(counters.calls["CreateUser"], created + injected, "one call a row, one more per throttle: {counters:?}");
    assert_eq!(counters.throttled.get("CreateUser"), None, "a retry skipped the pacer: {counters:?}");
}

/// Right after CreateUser the service may not know the new user everywhere: the search does not find it, the
/// Update* calls answer ResourceNotFoundException and CreateQuickConnect InvalidRequestException. Rows ride that out
/// for a bounded while; a user that was not created moments ago gets no such grace.
#[tokio::test]
async fn calls_right_after_create_ride_out_eventual_consistency() {
    let mut knobs = roomy();
    knobs.visibility_delay_ms = 1_500;
    let sandbox = sandbox(knobs).await;
    let client = client(&sandbox);
    let instance = sandbox.default_instance_id().to_owned();
    let pacer = Pacer::new(FAST).with_retries(QUICK);
    let connect = provisioner(&client, &instance, &pacer);
    let row = &example_rows("ccbulk-agents.csv")[1];
    let user = row.connect.clone().unwrap();

    // A quick connect for a user created this instant.
    let directory = Directory::load(&client, &instance, &pacer).await.unwrap();
    let stale = directory.clone();
    let created = connect.add(&directory, username(row), &user, "job/2").await.unwrap();
    let user_id = created.user_id.unwrap();
    connect.ensure_quick_connect(&directory, &user_id, username(row)).await.unwrap();

    // Bringing a user created this instant to other settings: DescribeUser does not see it yet.
    let second = &example_rows("ccbulk-agents.csv")[2];
    let created = connect.add(&directory, username(second), second.connect.as_ref().unwrap(), "job/2").await.unwrap();
    let changed = ConnectUser {
        routing_profile: Some(ResourceRef::Name("Support Tier 2".into())),
        ..second.connect.clone().unwrap()
    };
    connect.bring_to(created.user_id.as_deref().unwrap(), &changed, &directory).await.unwrap();

    // Another worker's stale directory meets DuplicateResourceException, and the search does not see the new user
    // yet: it is adopted all the same.
    let third = &example_rows("ccbulk-agents.csv")[3];
    let first_worker = stale.clone();
    connect.add(&first_worker, username(third), third.connect.as_ref().unwrap(), "job/2").await.unwrap();
    let adopted = connect.add(&stale, username(third), third.connect.as_ref().unwrap(), "other-job/2").await.unwrap();
    assert!(!adopted.created);

    let snapshot = sandbox.snapshot();
    let calls = |op: &str| snapshot.counters.calls.get(op).copied().unwrap_or(0);
    assert!(calls("CreateQuickConnect") > 1, "the quick connect met the new user unseen: {:?}", snapshot.counters);
    assert!(calls("DescribeUser") > 2, "DescribeUser met the new user unseen: {:?}", snapshot.counters);
    assert!(calls("SearchUsers") > 1, "the search met the new user unseen: {:?}", snapshot.counters);
    let instance_now = snapshot.instance(&instance).unwrap();
    assert_eq!(instance_now.user(username(second)).unwrap().routing_profile, "Support Tier 2");
    assert_eq!(instance_now.quick_connects.len(), 1);
    assert_eq!(calls("CreateUser"), 4, "three users created, one adopted");

    // An id the service does not know, for a user this process did not create: no grace, one call.
    let before = calls("DescribeUser");
    let err = connect.bring_to("0e5b7b3e-0000-4000-8000-000000000000", &user, &directory).await.unwrap_err();
    assert!(err.message.starts_with("ResourceNotFoundException"), "{err}");
    assert_eq!(sandbox.snapshot().counters.calls["DescribeUser"], before + 1);
}

#[tokio::test]
async fn per_channel_settings_are_created_and_only_changed_lists_are_updated() {
    use ccbulk_shared::domain::{Channel, ChannelConfigs, ChannelPhone, PhoneType};
    let fixture = Fixture::start().await;
    let Fixture { sandbox, client, instance, pacer } = &fixture;
    let connect = fixture.connect();
    let row = &example_rows("ccbulk-agents.csv")[0];
    let mut user = row.connect.clone().unwrap();
    user.phone.phone_type = None;
    user.phone.auto_accept = Some(true);
    user.phone.after_contact_work_seconds = None;
    user.phone.per_channel = ChannelConfigs {
        auto_accept: vec![(Channel::Chat, true)],
        after_contact_work: vec![(Channel::Chat, 30)],
        phone_numbers: vec![(
            Channel::Voice,
            ChannelPhone { phone_type: PhoneType::DeskPhone, phone_number: Some("+14155550100".into()) },
        )],
        ..ChannelConfigs::default()
    };
    let directory = Directory::load(client, instance, pacer).await.unwrap();
    let created = connect.add(&directory, username(row), &user, "job/2").await.unwrap();
    let user_id = created.user_id.unwrap();
    let described = client.describe_user().instance_id(instance.as_str()).user_id(&user_id).send().await.unwrap();
    let described = described.user().unwrap();
    assert!(described.phone_config().is_none(), "per-channel phone numbers replace PhoneConfig");
    assert_eq!(described.phone_number_configs()[0].phone_number(), Some("+14155550100"));
    let mut auto_accept: Vec<_> =
        described.auto_accept_configs().iter().map(|c| (c.channel().as_str().to_owned(), c.auto_accept())).collect();
    auto_accept.sort();
    assert_eq!(auto_accept, vec![("CHAT".to_owned(), true), ("VOICE".to_owned(), true)], "whole-user value → VOICE");

    let calls = |op: &str| sandbox.snapshot().counters.calls.get(op).copied().unwrap_or(0);
    connect.bring_to(&user_id, &user, &directory).await.unwrap();
    assert_eq!(calls("UpdateUserConfig"), 0, "nothing differs: no call");
    user.phone.per_channel.after_contact_work = vec![(Channel::Chat, 90)];
    connect.bring_to(&user_id, &user, &directory).await.unwrap();
    assert_eq!((calls("UpdateUserConfig"), calls("UpdateUserPhoneConfig")), (1, 0));
    let described = client.describe_user().instance_id(instance.as_str()).user_id(&user_id).send().await.unwrap();
    let acw = &described.user().unwrap().after_contact_work_configs()[0];
    assert_eq!(acw.after_contact_work_config().unwrap().after_contact_work_time_limit(), 90);
}

/// UpdateUserPhoneConfig and UpdateUserConfig act on one model: a whole-user ACW reaches every channel's, as the API
/// reference says of UpdateUserPhoneConfig; and since ccbulk compares with what DescribeUser returns, a rerun sends
/// nothing.
#[tokio::test]
async fn a_whole_user_acw_reaches_every_channel_and_a_rerun_sends_nothing() {
    use ccbulk_shared::domain::{Channel, ChannelConfigs, PhoneType};
    let fixture = Fixture::start().await;
    let Fixture { sandbox, client, instance, pacer } = &fixture;
    let connect = fixture.connect();
    let row = &example_rows("ccbulk-agents.csv")[0];
    let mut user = row.connect.clone().unwrap();
    user.phone = Default::default();
    user.phone.per_channel = ChannelConfigs {
        after_contact_work: vec![(Channel::Chat, 90), (Channel::Voice, 60)],
        ..ChannelConfigs::default()
    };
    let directory = Directory::load(client, instance, pacer).await.unwrap();
    let user_id = connect.add(&directory, username(row), &user, "job/2").await.unwrap().user_id.unwrap();

    user.phone = Default::default();
    user.phone.phone_type = Some(PhoneType::SoftPhone);
    user.phone.after_contact_work_seconds = Some(30);
    connect.bring_to(&user_id, &user, &directory).await.unwrap();
    let described = client.describe_user().instance_id(instance.as_str()).user_id(&user_id).send().await.unwrap();
    let limits: Vec<i32> = described
        .user()
        .unwrap()
        .after_contact_work_configs()
        .iter()
        .map(|c| c.after_contact_work_config().unwrap().after_contact_work_time_limit())
        .collect();
    assert_eq!(limits, [30, 30], "every channel's ACW is the phone config's");

    let calls = |op: &str| sandbox.snapshot().counters.calls.get(op).copied().unwrap_or(0);
    let before = (calls("UpdateUserPhoneConfig"), calls("UpdateUserConfig"));
    connect.bring_to(&user_id, &user, &directory).await.unwrap();
    assert_eq!((calls("UpdateUserPhoneConfig"), calls("UpdateUserConfig")), before, "a rerun sends nothing");
}

/// UpdateUserConfig's ConditionalOperationFailedException (the user changed under the call) is met by reading the
/// user again and sending what still differs; when it keeps failing, the row is left for a later delivery, not
/// failed for good.
#[tokio::test]
async fn a_failed_dependent_condition_reads_the_user_again_and_is_worth_another_delivery() {
    use ccbulk_shared::domain::Channel;
    let fixture = Fixture::start().await;
    let Fixture { sandbox, client, instance, pacer } = &fixture;
    let connect = fixture.connect();
    let row = &example_rows("ccbulk-agents.csv")[0];
    let mut user = row.connect.clone().unwrap();
    let directory = Directory::load(client, instance, pacer).await.unwrap();
    let user_id = connect.add(&directory, username(row), &user, "job/2").await.unwrap().user_id.unwrap();
    let calls = |op: &str| sandbox.snapshot().counters.calls.get(op).copied().unwrap_or(0);

    let mut knobs = sandbox.knobs();
    let failing = |rate| FaultRates { condition_failed: rate, ..FaultRates::default() };
    knobs.faults.insert("UpdateUserConfig".into(), failing(1.0));
    sandbox.set_knobs(knobs.clone());
    user.phone.per_channel.after_contact_work = vec![(Channel::Chat, 45)];
    let (describes, updates) = (calls("DescribeUser"), calls("UpdateUserConfig"));
    let err = connect.bring_to(&user_id, &user, &directory).await.unwrap_err();
    assert!(err.retryable && err.message.starts_with("ConditionalOperationFailedException"), "{err:?}");
    assert_eq!(calls("UpdateUserConfig") - updates, 3, "three tries");
    assert_eq!(calls("DescribeUser") - describes, 3, "the first read, and one again before each further try");

    knobs.faults.insert("UpdateUserConfig".into(), failing(0.0));
    sandbox.set_knobs(knobs);
    connect.bring_to(&user_id, &user, &directory).await.unwrap();
    let described = client.describe_user().instance_id(instance.as_str()).user_id(&user_id).send().await.unwrap();
    let acw = described.user().unwrap().after_contact_work_configs();
    assert!(
        acw.iter().any(|c| c.after_contact_work_config().unwrap().after_contact_work_time_limit() == 45),
        "{acw:?}"
    );
}

/// A full users-per-instance quota is the instance's limit, not a rate: the row fails at once, naming the quota,
/// with one CreateUser call (the SDK's standard classifier would have taken LimitExceededException for a throttle
/// and tried eight times).
#[tokio::test]
async fn a_full_users_quota_fails_the_row_at_once_and_names_the_quota() {
    let mut seed = ConnectSeed { knobs: roomy(), ..ConnectSeed::default() };
    // The default instance holds one user already: its quota is full.
    seed.instances[0].max_users = 1;
    let sandbox = ConnectSandbox::start(seed, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = client(&sandbox);
    let instance = sandbox.default_instance_id().to_owned();
    let pacer = Pacer::new(FAST).with_retries(QUICK);
    let connect = provisioner(&client, &instance, &pacer);
    let row = example_rows("ccbulk-agents.csv").into_iter().find(|r| r.action == Action::Add).unwrap();
    let directory = Directory::load(&client, &instance, &pacer).await.unwrap();
    let err = connect.add(&directory, username(&row), row.connect.as_ref().unwrap(), "job/2").await.unwrap_err();
    assert!(!err.retryable, "a full quota is not worth another attempt: {err}");
    assert!(err.to_string().contains("LimitExceededException") && err.to_string().contains("Service Quotas"), "{err}");
    assert_eq!(
        sandbox.snapshot().counters.calls.get("CreateUser"),
        Some(&1),
        "nobody retried it, neither the SDK nor the pacer"
    );
}

/// The quick connect's flow is chosen on purpose: among AGENT_TRANSFER flows (the sandbox lists other types first)
/// the instance's "Default agent transfer", even when another agent-transfer flow is listed before it; with several
/// and no default, none is guessed.
#[tokio::test]
async fn the_transfer_flow_is_the_default_agent_transfer_not_the_first_listed() {
    use aws_sdk_connect::types::ContactFlowType;
    let mut seed = ConnectSeed { knobs: roomy(), ..ConnectSeed::default() };
    seed.instances[0].agent_transfer_flows = vec!["Escalations".into(), "Default agent transfer".into()];
    seed.instances[1].agent_transfer_flows = vec!["Escalations".into(), "Overflow".into()];
    let sandbox = ConnectSandbox::start(seed, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = client(&sandbox);
    let pacer = Pacer::new(FAST).with_retries(QUICK);
    let instance = sandbox.default_instance_id().to_owned();
    let flows = client
        .list_contact_flows()
        .instance_id(&instance)
        .contact_flow_types(ContactFlowType::AgentTransfer)
        .send()
        .await
        .unwrap();
    let default =
        flows.contact_flow_summary_list().iter().find(|f| f.name() == Some("Default agent transfer")).unwrap();
    let directory = Directory::load(&client, &instance, &pacer).await.unwrap();
    assert_eq!(directory.transfer_flow(), default.id());

    let other = sandbox.instance_id("ccbulk-sandbox-saml").unwrap().to_owned();
    let directory = Directory::load(&client, &other, &pacer).await.unwrap();
    assert_eq!(directory.transfer_flow(), None, "two agent-transfer flows and no default: none is guessed");
}

/// Another tool spends part of the account's quota: ccbulk's pacer is set to 20 CreateUser a second, the account
/// gives 5. The throttles cut the pacer's rate until it fits, so that rows worked at once all succeed with few calls
/// throttled: 5 for 24 rows when measured, 11 with the cut taken out (the slots given up after a throttle and the
/// retries' backoff alone).
#[tokio::test]
async fn throttles_from_a_quota_spent_elsewhere_cut_the_rate_until_it_fits() {
    let mut knobs = roomy();
    knobs.quotas.insert("CreateUser".into(), QuotaSpec { rate: 5.0, burst: 3 });
    let sandbox = sandbox(knobs).await;
    let client = client(&sandbox);
    let instance = sandbox.default_instance_id().to_owned();
    let pacer = Pacer::new(RateBudget { write_per_second: 20.0, write_burst: 3, ..FAST })
        .with_retries(Retries { attempts: 20, ..QUICK });
    let connect = provisioner(&client, &instance, &pacer);
    let row = example_rows("ccbulk-agents.csv").into_iter().find(|r| r.action == Action::Add).unwrap();
    let user = row.connect.unwrap();
    let directory = Directory::load(&client, &instance, &pacer).await.unwrap();
    const ROWS: usize = 24;
    let usernames: Vec<String> = (0..ROWS).map(|i| format!("crowded{i:02}")).collect();
    let adds = usernames.iter().map(|name| connect.add(&directory, name, &user, "job/2"));
    for outcome in futures_util::future::join_all(adds).await {
        assert!(outcome.unwrap().created);
    }
    let counters = sandbox.snapshot().counters;
    let throttled = counters.throttled.get("CreateUser").copied().unwrap_or(0);
    assert!(throttled > 0, "the quota was never met: {counters:?}");
    assert_eq!(pacer.throttles(), throttled, "the pacer saw every throttle");
    assert!(throttled < ROWS as u64 / 3, "{throttled} throttles for {ROWS} rows: the rate was not cut");
    assert_eq!(sandbox.snapshot().instance(&instance).unwrap().users.len(), ROWS + 1);
}
