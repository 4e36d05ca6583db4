//! The Connect sandbox driven by the real aws-sdk-connect client over a real socket.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_connect::Client;
use aws_sdk_connect::config::retry::{RetryConfig, RetryPartition};
use aws_sdk_connect::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_connect::types::{
    PhoneNumberConfig, PhoneType, QuickConnectConfig, QuickConnectType, StringComparisonType, StringCondition,
    UserIdentityInfo, UserPhoneConfig, UserQuickConnectConfig, UserSearchCriteria,
};
use ccbulk_sandbox::connect::seed::InstanceSeed;
use ccbulk_sandbox::connect::{
    ConnectSandbox, ConnectSeed, FaultRates, IdentityManagementType, Knobs, Latency, QuotaSpec,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Quotas high enough that only the tests about quotas meet them.
fn roomy() -> Knobs {
    let quotas = ccbulk_sandbox::connect::Op::ALL
        .iter()
        .map(|op| (op.name().to_owned(), QuotaSpec { rate: 10_000.0, burst: 10_000 }))
        .collect();
    Knobs { quotas, ..Knobs::default() }
}

fn seed_with_directory() -> ConnectSeed {
    let mut seed = ConnectSeed { knobs: roomy(), ..ConnectSeed::default() };
    let mut directory: InstanceSeed = seed.instances[0].clone();
    directory.alias = "ccbulk-sandbox-directory".into();
    directory.identity_management = IdentityManagementType::ExistingDirectory;
    directory.users.clear();
    directory.max_users = 3;
    seed.instances.push(directory);
    seed
}

async fn start(seed: ConnectSeed) -> ConnectSandbox {
    ConnectSandbox::start(seed, "127.0.0.1:0".parse().unwrap()).await.expect("the sandbox starts")
}

fn client(sandbox: &ConnectSandbox, attempts: u32) -> Client {
    let config = aws_sdk_connect::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDSANDBOX", "sandbox-secret", None, None, "test"))
        .endpoint_url(sandbox.endpoint())
        .retry_config(
            RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(20)),
        )
        // Each client its own retry budget, so parallel tests do not drain one another's.
        .retry_partition(RetryPartition::new(format!("sandbox-{}", uuid_like())))
        .build();
    Client::from_conf(config)
}

fn uuid_like() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

struct Ids {
    routing: BTreeMap<String, String>,
    security: BTreeMap<String, String>,
    hierarchy: BTreeMap<String, String>,
    flow: String,
}

async fn ids(client: &Client, instance: &str) -> Ids {
    let routing = client.list_routing_profiles().instance_id(instance).send().await.unwrap();
    let security = client.list_security_profiles().instance_id(instance).send().await.unwrap();
    let hierarchy = client.list_user_hierarchy_groups().instance_id(instance).send().await.unwrap();
    let flows = client
        .list_contact_flows()
        .instance_id(instance)
        .contact_flow_types(aws_sdk_connect::types::ContactFlowType::AgentTransfer)
        .send()
        .await
        .unwrap();
    Ids {
        routing: routing
            .routing_profile_summary_list()
            .iter()
            .map(|p| (p.name().unwrap().to_owned(), p.id().unwrap().to_owned()))
            .collect(),
        security: security
            .security_profile_summary_list()
            .iter()
            .map(|p| (p.name().unwrap().to_owned(), p.id().unwrap().to_owned()))
            .collect(),
        hierarchy: hierarchy
            .user_hierarchy_group_summary_list()
            .iter()
            .map(|g| (g.name().unwrap().to_owned(), g.id().unwrap().to_owned()))
            .collect(),
        flow: flows.contact_flow_summary_list()[0].id().unwrap().to_owned(),
    }
}

/// SearchUsers with one exact string condition.
async fn search_exact(
    client: &Client,
    instance: &str,
    field: &str,
    value: &str,
) -> aws_sdk_connect::operation::search_users::SearchUsersOutput {
    let condition =
        StringCondition::builder().field_name(field).value(value).comparison_type(StringComparisonType::Exact).build();
    client
        .search_users()
        .instance_id(instance)
        .search_criteria(UserSearchCriteria::builder().string_condition(condition).build())
        .send()
        .await
        .unwrap()
}

fn soft_phone() -> UserPhoneConfig {
    UserPhoneConfig::builder().phone_type(PhoneType::SoftPhone).build()
}

fn names(first: &str, last: &str) -> UserIdentityInfo {
    UserIdentityInfo::builder().first_name(first).last_name(last).build()
}

/// A CreateUser call for a CONNECT_MANAGED instance that the service accepts.
fn create_user(
    client: &Client,
    instance: &str,
    ids: &Ids,
    username: &str,
) -> aws_sdk_connect::operation::create_user::builders::CreateUserFluentBuilder {
    client
        .create_user()
        .instance_id(instance)
        .username(username)
        .password("Passw0rd!")
        .identity_info(names("Jane", "Doe"))
        .phone_config(soft_phone())
        .security_profile_ids(&ids.security["Agent"])
        .routing_profile_id(&ids.routing["Basic Routing Profile"])
}

#[tokio::test]
async fn a_user_lives_through_create_describe_list_search_update_and_delete() {
    let sandbox = start(seed_with_directory()).await;
    let client = client(&sandbox, 1);
    let instance = sandbox.default_instance_id().to_owned();
    let ids = ids(&client, &instance).await;

    let created = create_user(&client, &instance, &ids, "jdoe")
        .identity_info(
            UserIdentityInfo::builder()
                .first_name("Jane")
                .last_name("Doe")
                .email("jane@example.com")
                .mobile("+14155550100")
                .build(),
        )
        .phone_config(
            UserPhoneConfig::builder()
                .phone_type(PhoneType::DeskPhone)
                .desk_phone_number("+14155550123")
                .auto_accept(true)
                .after_contact_work_time_limit(30)
                .build(),
        )
        .hierarchy_group_id(&ids.hierarchy["Support"])
        .tags("team", "blue")
        .send()
        .await
        .expect("CreateUser succeeds");
    let user_id = created.user_id().unwrap().to_owned();
    assert!(created.user_arn().unwrap().ends_with(&format!("/agent/{user_id}")));

    let user = client.describe_user().instance_id(&instance).user_id(&user_id).send().await.unwrap().user.unwrap();
    assert_eq!(user.username(), Some("jdoe"));
    assert_eq!(user.identity_info().unwrap().email(), Some("jane@example.com"));
    let phone = user.phone_config().unwrap();
    assert_eq!(
        (phone.phone_type(), phone.auto_accept(), phone.after_contact_work_time_limit()),
        (&PhoneType::DeskPhone, true, 30)
    );
    assert_eq!(user.hierarchy_group_id(), Some(ids.hierarchy["Support"].as_str()));
    assert_eq!(user.tags().unwrap().get("team").map(String::as_str), Some("blue"));
    assert!(user.last_modified_time().is_some());

    let listed = client.list_users().instance_id(&instance).send().await.unwrap();
    assert!(listed.user_summary_list().iter().any(|u| u.username() == Some("jdoe")));
    let found = search_exact(&client, &instance, "Username", "jdoe").await;
    assert_eq!(found.users().len(), 1);
    assert_eq!(found.users()[0].id(), Some(user_id.as_str()));

    client
        .update_user_identity_info()
        .instance_id(&instance)
        .user_id(&user_id)
        .identity_info(UserIdentityInfo::builder().first_name("Janet").last_name("Doe").build())
        .send()
        .await
        .unwrap();
    client
        .update_user_phone_config()
        .instance_id(&instance)
        .user_id(&user_id)
        .phone_config(soft_phone())
        .send()
        .await
        .unwrap();
    client
        .update_user_routing_profile()
        .instance_id(&instance)
        .user_id(&user_id)
        .routing_profile_id(&ids.routing["Sales Inbound"])
        .send()
        .await
        .unwrap();
    client
        .update_user_security_profiles()
        .instance_id(&instance)
        .user_id(&user_id)
        .security_profile_ids(&ids.security["Agent"])
        .security_profile_ids(&ids.security["CallCenterManager"])
        .send()
        .await
        .unwrap();
    client.update_user_hierarchy().instance_id(&instance).user_id(&user_id).send().await.unwrap();
    client.tag_resource().resource_arn(created.user_arn().unwrap()).tags("site", "austin").send().await.unwrap();

    let snapshot = sandbox.snapshot();
    let stored = snapshot.instance(&instance).unwrap().user("jdoe").unwrap();
    assert_eq!(stored.identity_info.first_name.as_deref(), Some("Janet"));
    assert_eq!(stored.routing_profile, "Sales Inbound");
    assert_eq!(stored.security_profiles, vec!["Agent", "CallCenterManager"]);
    assert_eq!(stored.hierarchy_group, None);
    assert_eq!(stored.tags.len(), 2);
    assert_eq!(stored.phone_config.as_ref().unwrap().phone_type.as_deref(), Some("SOFT_PHONE"));

    client.delete_user().instance_id(&instance).user_id(&user_id).send().await.unwrap();
    let gone = client.describe_user().instance_id(&instance).user_id(&user_id).send().await.unwrap_err();
    assert!(gone.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn create_user_enforces_the_rules_of_each_identity_management_type() {
    let sandbox = start(seed_with_directory()).await;
    let client = client(&sandbox, 1);
    let managed = sandbox.instance_id("ccbulk-sandbox").unwrap().to_owned();
    let saml = sandbox.instance_id("ccbulk-sandbox-saml").unwrap().to_owned();
    let managed_ids = ids(&client, &managed).await;
    let saml_ids = ids(&client, &saml).await;

    let invalid = |result: Result<
        _,
        aws_sdk_connect::error::SdkError<aws_sdk_connect::operation::create_user::CreateUserError>,
    >| {
        let err = result.expect_err("the service refuses the call").into_service_error();
        assert!(err.is_invalid_parameter_exception(), "{err:?}");
    };
    invalid(create_user(&client, &managed, &managed_ids, "a-username-over-twenty").send().await);
    invalid(create_user(&client, &managed, &managed_ids, "jdoe@corp").send().await);
    let only_voice = client
        .create_user()
        .instance_id(&managed)
        .username("chatphone")
        .password("Welcome123!Ab")
        .identity_info(names("Chat", "Phone"))
        .security_profile_ids(&managed_ids.security["Agent"])
        .routing_profile_id(&managed_ids.routing["Basic Routing Profile"])
        .phone_number_configs(
            PhoneNumberConfig::builder()
                .channel(aws_sdk_connect::types::Channel::Chat)
                .phone_type(PhoneType::SoftPhone)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect_err("PhoneNumberConfigs take VOICE only")
        .into_service_error();
    assert!(
        only_voice.is_invalid_parameter_exception() && format!("{only_voice:?}").contains("Only VOICE"),
        "{only_voice:?}"
    );
    // The character set the reference gives for SAML holds here too: the stricter reading of a silent reference.
    invalid(create_user(&client, &managed, &managed_ids, "bad name!").send().await);
    invalid(create_user(&client, &managed, &managed_ids, "weak").password("password").send().await);
    invalid(
        client
            .create_user()
            .instance_id(&managed)
            .username("nopass")
            .identity_info(names("No", "Pass"))
            .phone_config(soft_phone())
            .security_profile_ids(&managed_ids.security["Agent"])
            .routing_profile_id(&managed_ids.routing["Basic Routing Profile"])
            .send()
            .await,
    );
    invalid(
        create_user(&client, &managed, &managed_ids, "noname")
            .identity_info(UserIdentityInfo::builder().build())
            .send()
            .await,
    );
    invalid(create_user(&client, &managed, &managed_ids, "nfd").identity_info(names("Zoe\u{308}", "Doe")).send().await);
    let eleven = (0..11).fold(create_user(&client, &managed, &managed_ids, "many"), |call, _| {
        call.security_profile_ids(&managed_ids.security["Agent"])
    });
    invalid(eleven.send().await);
    invalid(create_user(&client, &managed, &managed_ids, "awstag").tags("aws:team", "x").send().await);
    invalid(
        create_user(&client, &managed, &managed_ids, "desk")
            .phone_config(UserPhoneConfig::builder().phone_type(PhoneType::DeskPhone).build())
            .send()
            .await,
    );
    invalid(
        create_user(&client, &managed, &managed_ids, "conflict")
            .phone_number_configs(
                PhoneNumberConfig::builder()
                    .channel(aws_sdk_connect::types::Channel::Voice)
                    .phone_type(PhoneType::SoftPhone)
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );

    let saml_user = |username: &str| {
        client
            .create_user()
            .instance_id(&saml)
            .username(username)
            .identity_info(names("Sam", "L"))
            .phone_config(soft_phone())
            .security_profile_ids(&saml_ids.security["Agent"])
            .routing_profile_id(&saml_ids.routing["Basic Routing Profile"])
    };
    saml_user("sam.l@example.com").send().await.expect("a SAML user without a password");
    invalid(saml_user("with.password@example.com").password("Passw0rd!").send().await);
    invalid(saml_user("sam l").send().await);
    invalid(saml_user("directory@example.com").directory_user_id("d-123").send().await);
    invalid(
        saml_user("mail@example.com")
            .identity_info(UserIdentityInfo::builder().first_name("M").last_name("E").email("m@example.com").build())
            .send()
            .await,
    );

    let missing =
        create_user(&client, &managed, &managed_ids, "norouting").routing_profile_id("no-such-profile").send().await;
    assert!(missing.unwrap_err().into_service_error().is_resource_not_found_exception());
    let missing = create_user(&client, &managed, &managed_ids, "nosp")
        .set_security_profile_ids(Some(vec!["nope".into()]))
        .send()
        .await;
    assert!(missing.unwrap_err().into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn a_taken_username_is_a_duplicate_and_the_user_quota_is_a_limit() {
    let sandbox = start(seed_with_directory()).await;
    let client = client(&sandbox, 1);
    let instance = sandbox.default_instance_id().to_owned();
    let managed_ids = ids(&client, &instance).await;
    create_user(&client, &instance, &managed_ids, "jdoe").send().await.unwrap();
    let err = create_user(&client, &instance, &managed_ids, "JDoe").send().await.unwrap_err().into_service_error();
    assert!(err.is_duplicate_resource_exception(), "{err:?}");
    assert!(err.meta().message().unwrap().contains("already associated with the Amazon Connect instance"));

    let directory = sandbox.instance_id("ccbulk-sandbox-directory").unwrap().to_owned();
    let directory_ids = ids(&client, &directory).await;
    let directory_user = |name: &str| {
        client
            .create_user()
            .instance_id(&directory)
            .username(name)
            .phone_config(soft_phone())
            .security_profile_ids(&directory_ids.security["Agent"])
            .routing_profile_id(&directory_ids.routing["Basic Routing Profile"])
    };
    for name in ["d1", "d2", "d3"] {
        directory_user(name).send().await.expect("EXISTING_DIRECTORY users need no names or password");
    }
    let err = directory_user("d4").send().await.unwrap_err().into_service_error();
    assert!(err.is_limit_exceeded_exception(), "{err:?}");

    let d1 = search_exact(&client, &directory, "username", "d1").await;
    let err = client
        .update_user_identity_info()
        .instance_id(&directory)
        .user_id(d1.users()[0].id().unwrap())
        .identity_info(names("Changed", "Name"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_request_exception(), "{err:?}");
}

#[tokio::test]
async fn quotas_throttle_per_api_and_the_sdk_retry_recovers() {
    let mut seed = seed_with_directory();
    seed.knobs.quotas.insert("CreateUser".into(), QuotaSpec { rate: 2.0, burst: 5 });
    let sandbox = start(seed).await;
    let instance = sandbox.default_instance_id().to_owned();
    let once = client(&sandbox, 1);
    let ids = ids(&once, &instance).await;

    let mut throttled = 0;
    for n in 0..8 {
        match create_user(&once, &instance, &ids, &format!("burst{n}")).send().await {
            Ok(_) => {}
            Err(err) => {
                assert!(err.into_service_error().is_throttling_exception());
                throttled += 1;
            }
        }
    }
    assert!(throttled >= 2, "a burst of 5 lets at most 5 or 6 of 8 quick calls through; {throttled} throttled");
    // Other APIs have buckets of their own.
    once.list_users().instance_id(&instance).send().await.expect("ListUsers is not throttled by CreateUser's bucket");

    let patient = client(&sandbox, 10);
    for n in 0..4 {
        create_user(&patient, &instance, &ids, &format!("steady{n}")).send().await.expect("the SDK retries throttles");
    }
    let counters = sandbox.snapshot().counters;
    assert!(counters.throttled["CreateUser"] > throttled as u64, "the retried calls were throttled too");
    assert_eq!(sandbox.snapshot().instance(&instance).unwrap().users.len(), 1 + 8 - throttled + 4);
}

#[tokio::test]
async fn injected_faults_reach_the_sdk_as_typed_errors_and_are_retried() {
    let sandbox = start(seed_with_directory()).await;
    let instance = sandbox.default_instance_id().to_owned();
    let ids = ids(&client(&sandbox, 1), &instance).await;
    let mut knobs = roomy();
    knobs
        .faults
        .insert("CreateUser".into(), FaultRates { internal_error: 1.0, throttle: 0.0, ..FaultRates::default() });
    sandbox.set_knobs(knobs);

    let err = create_user(&client(&sandbox, 1), &instance, &ids, "fail").send().await.unwrap_err().into_service_error();
    assert!(err.is_internal_service_exception(), "{err:?}");
    let before = sandbox.snapshot().counters.calls["CreateUser"];
    let _ = create_user(&client(&sandbox, 3), &instance, &ids, "fail").send().await.unwrap_err();
    assert_eq!(sandbox.snapshot().counters.calls["CreateUser"] - before, 3, "the SDK retried the 500s");

    let mut knobs = roomy();
    knobs.faults.insert("*".into(), FaultRates { internal_error: 0.0, throttle: 1.0, ..FaultRates::default() });
    sandbox.set_knobs(knobs);
    let err = client(&sandbox, 1).list_users().instance_id(&instance).send().await.unwrap_err().into_service_error();
    assert!(err.is_throttling_exception(), "{err:?}");
    assert!(sandbox.snapshot().counters.injected_errors["ListUsers"] >= 1);
}

#[tokio::test]
async fn latency_and_eventual_consistency_knobs() {
    let sandbox = start(seed_with_directory()).await;
    let client = client(&sandbox, 1);
    let instance = sandbox.default_instance_id().to_owned();
    let ids = ids(&client, &instance).await;
    sandbox.set_knobs(Knobs { latency: Latency { fixed_ms: 150, jitter_ms: 0 }, visibility_delay_ms: 400, ..roomy() });

    let started = Instant::now();
    let created = create_user(&client, &instance, &ids, "late").send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150), "the call waited the added latency");
    let user_id = created.user_id().unwrap();
    let early = client.describe_user().instance_id(&instance).user_id(user_id).send().await.unwrap_err();
    assert!(early.into_service_error().is_resource_not_found_exception(), "a new user is not visible at once");
    let again = create_user(&client, &instance, &ids, "late").send().await.unwrap_err();
    assert!(again.into_service_error().is_duplicate_resource_exception(), "uniqueness does not wait for visibility");

    sandbox.set_knobs(Knobs { visibility_delay_ms: 400, ..roomy() });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match client.describe_user().instance_id(&instance).user_id(user_id).send().await {
            Ok(found) => {
                assert_eq!(found.user().unwrap().username(), Some("late"));
                break;
            }
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(err) => panic!("the user never became visible: {err:?}"),
        }
    }
}

#[tokio::test]
async fn quick_connects_outlive_their_user_until_deleted() {
    let sandbox = start(seed_with_directory()).await;
    let client = client(&sandbox, 1);
    let instance = sandbox.default_instance_id().to_owned();
    let ids = ids(&client, &instance).await;
    let user = create_user(&client, &instance, &ids, "qc").send().await.unwrap();
    let config = |user_id: &str| {
        QuickConnectConfig::builder()
            .quick_connect_type(QuickConnectType::User)
            .user_config(UserQuickConnectConfig::builder().user_id(user_id).contact_flow_id(&ids.flow).build().unwrap())
            .build()
            .unwrap()
    };
    let qc = client
        .create_quick_connect()
        .instance_id(&instance)
        .name("qc")
        .quick_connect_config(config(user.user_id().unwrap()))
        .send()
        .await
        .unwrap();
    let duplicate = client
        .create_quick_connect()
        .instance_id(&instance)
        .name("qc")
        .quick_connect_config(config(user.user_id().unwrap()))
        .send()
        .await;
    assert!(duplicate.unwrap_err().into_service_error().is_duplicate_resource_exception());

    let listed = client
        .list_quick_connects()
        .instance_id(&instance)
        .quick_connect_types(QuickConnectType::User)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.quick_connect_summary_list().len(), 1);
    let described = client
        .describe_quick_connect()
        .instance_id(&instance)
        .quick_connect_id(qc.quick_connect_id().unwrap())
        .send()
        .await
        .unwrap();
    let described = described.quick_connect().unwrap();
    assert_eq!(described.quick_connect_config().unwrap().user_config().unwrap().user_id(), user.user_id().unwrap());

    client
        .delete_user()
        .instance_id(&instance)
        .user_id(user.user_id().unwrap())
        .send()
        .await
        .expect("DeleteUser ignores quick connects");
    let snapshot = sandbox.snapshot();
    let dangling = &snapshot.instance(&instance).unwrap().quick_connects[0];
    assert!(dangling.dangling, "the quick connect now points at nobody");
    client
        .delete_quick_connect()
        .instance_id(&instance)
        .quick_connect_id(qc.quick_connect_id().unwrap())
        .send()
        .await
        .unwrap();
    assert!(sandbox.snapshot().instance(&instance).unwrap().quick_connects.is_empty());
}

#[tokio::test]
async fn lists_page_and_the_instance_describes_its_identity_management() {
    let sandbox = start(seed_with_directory()).await;
    let client = client(&sandbox, 1);
    let instance = sandbox.default_instance_id().to_owned();
    let ids = ids(&client, &instance).await;
    for n in 0..6 {
        create_user(&client, &instance, &ids, &format!("page{n}")).send().await.unwrap();
    }
    let first = client.list_users().instance_id(&instance).max_results(3).send().await.unwrap();
    assert_eq!(first.user_summary_list().len(), 3);
    assert!(first.next_token().is_some());
    let all: Vec<_> = client
        .list_users()
        .instance_id(&instance)
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(all.len(), 7, "the seeded admin and six new users");
    let too_many = client.list_users().instance_id(&instance).max_results(1001).send().await;
    assert!(too_many.unwrap_err().into_service_error().is_invalid_parameter_exception());

    let described = client.describe_instance().instance_id(&instance).send().await.unwrap();
    assert_eq!(described.instance().unwrap().identity_management_type().map(|t| t.as_str()), Some("CONNECT_MANAGED"));
    let saml = sandbox.instance_id("ccbulk-sandbox-saml").unwrap();
    let described = client.describe_instance().instance_id(saml).send().await.unwrap();
    assert_eq!(described.instance().unwrap().identity_management_type().map(|t| t.as_str()), Some("SAML"));
    assert!(ids.security.contains_key("QualityAnalyst") && ids.routing.contains_key("Basic Routing Profile"));
}

/// A raw HTTP/1.1 exchange, for what the SDK will not send.
async fn raw(endpoint: &str, request: &str) -> String {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.replace("HOST", address).as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn unsigned_requests_are_refused_and_the_inspection_endpoint_answers() {
    let sandbox = start(seed_with_directory()).await;
    let path = format!("/instance/{}", sandbox.default_instance_id());
    let response =
        raw(sandbox.endpoint(), &format!("GET {path} HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n")).await;
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("x-amzn-errortype: missingauthenticationtokenexception"),
        "{response}"
    );

    let state =
        raw(sandbox.endpoint(), "GET /_sandbox/state HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n").await;
    let body = state.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["counters"]["unauthenticated"], 1);
    assert_eq!(json["instances"][0]["users"][0]["username"], "admin");
}

#[test]
fn the_binary_prints_its_endpoints_on_one_line() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ccbulk-sandbox"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(ready["connect"]["endpoint"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    assert_eq!(ready["connect"]["instance_id"], ready["connect"]["instances"][0]["id"]);
}

/// ListContactFlows answers every type unless asked for some, and a USER quick connect takes an AGENT_TRANSFER flow
/// only: a client that takes the first flow listed gets one it cannot use.
#[tokio::test]
async fn contact_flows_are_listed_by_type_and_a_user_quick_connect_needs_an_agent_transfer_flow() {
    use aws_sdk_connect::types::ContactFlowType;
    let sandbox = start(seed_with_directory()).await;
    let client = client(&sandbox, 1);
    let instance = sandbox.default_instance_id().to_owned();
    let all = client.list_contact_flows().instance_id(&instance).send().await.unwrap();
    let types: Vec<&ContactFlowType> =
        all.contact_flow_summary_list().iter().filter_map(|flow| flow.contact_flow_type()).collect();
    assert!(types.len() > 1 && types[0] != &ContactFlowType::AgentTransfer, "{types:?}");
    let transfer = client
        .list_contact_flows()
        .instance_id(&instance)
        .contact_flow_types(ContactFlowType::AgentTransfer)
        .send()
        .await
        .unwrap();
    assert!(!transfer.contact_flow_summary_list().is_empty());
    assert!(
        transfer
            .contact_flow_summary_list()
            .iter()
            .all(|flow| flow.contact_flow_type() == Some(&ContactFlowType::AgentTransfer))
    );

    let ids = ids(&client, &instance).await;
    let user = create_user(&client, &instance, &ids, "flowtest").send().await.unwrap();
    let wrong_flow = all.contact_flow_summary_list()[0].id().unwrap();
    let refused = client
        .create_quick_connect()
        .instance_id(&instance)
        .name("flowtest")
        .quick_connect_config(
            QuickConnectConfig::builder()
                .quick_connect_type(QuickConnectType::User)
                .user_config(
                    UserQuickConnectConfig::builder()
                        .user_id(user.user_id().unwrap())
                        .contact_flow_id(wrong_flow)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(refused.as_service_error().is_some_and(|e| e.is_invalid_parameter_exception()), "{refused:?}");
}

/// SearchUserHierarchyGroups gives each group its path, level one first and the group itself last, a page of at most
/// 100 (API reference, SearchUserHierarchyGroups), and the seed refuses a group listed before its parent.
#[tokio::test]
async fn hierarchy_groups_are_searched_with_their_paths() {
    let sandbox = start(ConnectSeed { knobs: roomy(), ..ConnectSeed::default() }).await;
    let client = client(&sandbox, 1);
    let instance = sandbox.default_instance_id();
    let found = client.search_user_hierarchy_groups().instance_id(instance).send().await.unwrap();
    let paths: BTreeMap<String, (String, String)> = found
        .user_hierarchy_groups()
        .iter()
        .map(|group| {
            let path = group.hierarchy_path().unwrap();
            let levels = [path.level_one(), path.level_two(), path.level_three()];
            let names: Vec<&str> = levels.iter().flatten().map(|level| level.name().unwrap()).collect();
            let last = levels.iter().flatten().last().unwrap().id().unwrap();
            assert_eq!(last, group.id().unwrap(), "the path ends with the group itself");
            (names.join("/"), (group.name().unwrap().to_owned(), group.level_id().unwrap().to_owned()))
        })
        .collect();
    assert_eq!(paths["Sales/East"], ("East".to_owned(), "2".to_owned()));
    assert_eq!(paths["Support"], ("Support".to_owned(), "1".to_owned()));
    assert_eq!(paths.len(), 6);
    assert_eq!(found.approximate_total_count(), Some(6));

    let too_many = client.search_user_hierarchy_groups().instance_id(instance).max_results(101).send().await;
    let err = too_many.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");

    let mut seed = ConnectSeed::default();
    seed.instances[0].hierarchy_groups = vec!["Sales/East".into(), "Sales".into()];
    let refused = ConnectSandbox::start(seed, "127.0.0.1:0".parse().unwrap()).await.err().expect("a seed error");
    assert!(refused.to_string().contains("before its parent \"Sales\""), "{refused}");
}
