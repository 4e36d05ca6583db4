//! The Salesforce provisioner against the Salesforce sandbox, over reqwest on a real socket.

use std::time::Duration;

use ccbulk_sandbox::connect::Latency;
use ccbulk_sandbox::salesforce::{
    SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceKnobs, SalesforceSandbox, SalesforceSeed,
};
use ccbulk_shared::domain::{
    Action, ContactCenterRef, SalesforceUser, SalesforceUserFields, SalesforceUserRef, TelephonyModel, VoiceRole,
};
use ccbulk_shared::salesforce::{
    AliasChange, Credentials, SalesforceClient, SalesforceDefaults, SalesforceProvisioner,
};
use ccbulk_shared::validate::picklists::Picklist;

async fn sandbox(seed: SalesforceSeed) -> SalesforceSandbox {
    SalesforceSandbox::start(seed, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn client_credentials(sandbox: &SalesforceSandbox) -> SalesforceClient {
    SalesforceClient::new(Credentials::ClientCredentials {
        login_url: sandbox.endpoint().to_owned(),
        client_id: SANDBOX_CONSUMER_KEY.into(),
        client_secret: SANDBOX_CLIENT_SECRET.into(),
    })
}

/// A provisioner that refuses alias changes and has asked for no email change yet.
fn provisioner<'a>(
    client: &'a SalesforceClient,
    telephony: TelephonyModel,
    defaults: &'a SalesforceDefaults,
) -> SalesforceProvisioner<'a> {
    SalesforceProvisioner {
        client,
        telephony,
        defaults,
        email_changes: &[],
        alias_change: AliasChange::Refuse,
        voice_sync: false,
        // Each provisioner reads the org afresh, as each job does.
        reference: Box::leak(Box::default()),
    }
}

fn new_user(username: &str, center: &str, role: VoiceRole) -> SalesforceUser {
    SalesforceUser {
        user: SalesforceUserRef::Username(username.into()),
        fields: SalesforceUserFields {
            email: Some(username.into()),
            first_name: Some("Grace".into()),
            last_name: Some("Hopper".into()),
            ..SalesforceUserFields::default()
        },
        contact_center: Some(ContactCenterRef::Name(center.into())),
        role: Some(role),
        bulkop_email: None,
    }
}

/// A new user whose language is a platform-only one, which the sandbox org does not offer.
fn basque_speaker() -> SalesforceUser {
    let mut user = new_user("miren@example.com", "Northwind Support", VoiceRole::Agent);
    user.fields.language = Some("eu".into());
    user
}

#[tokio::test]
async fn adds_create_users_join_the_contact_center_and_get_the_voice_set_once() {
    let sandbox = sandbox(SalesforceSeed::default()).await;
    let client = client_credentials(&sandbox);
    let defaults = SalesforceDefaults::default();
    let provisioner = provisioner(&client, TelephonyModel::AmazonConnect, &defaults);
    let rows = [
        new_user("grace@example.com", "Northwind Support", VoiceRole::Agent),
        new_user("alan@example.com", "Northwind Support", VoiceRole::CallCenterManager),
        new_user("taken@elsewhere.example.com", "Northwind Support", VoiceRole::Agent),
        basque_speaker(),
    ];
    let batch: Vec<(Action, &SalesforceUser)> = rows.iter().map(|r| (Action::Add, r)).collect();
    let results = provisioner.apply(&batch).await.unwrap();
    assert!(results[0].as_ref().unwrap().created);
    assert!(results[1].is_ok());
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.code, "DUPLICATE_USERNAME", "a bad row fails alone: {err}");
    // A language only the org can judge passes offline; the org's refusal fails that row alone, before it joins.
    assert_eq!(Picklist::Language.check("eu"), Ok(()));
    let err = results[3].as_ref().unwrap_err();
    assert_eq!(err.code, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "{err}");
    assert!(err.to_string().contains("Language: bad value for restricted picklist field: eu"), "{err}");
    assert!(sandbox.snapshot().user("miren@example.com").is_none());

    let snapshot = sandbox.snapshot();
    let grace = snapshot.user("grace@example.com").unwrap();
    assert_eq!(grace.call_center.as_deref(), Some("Northwind Support"));
    assert_eq!(grace.permission_sets, vec!["ContactCenterAgent"]);
    assert_eq!(grace.alias, "ghopper");
    assert_eq!(snapshot.user("alan@example.com").unwrap().permission_sets, vec!["ContactCenterSupervisor"]);

    // Again, as after a crash: nothing is created or assigned twice.
    let again = provisioner.apply(&batch[..2]).await.unwrap();
    assert!(again.iter().all(|r| r.as_ref().is_ok_and(|o| !o.created)));
    let snapshot = sandbox.snapshot();
    assert_eq!(snapshot.users.len(), 3, "the integration user and two new ones");
    assert_eq!(snapshot.user("grace@example.com").unwrap().permission_sets.len(), 1);
}

/// The Voice set-up in the seed's order: the permission set before the contact center (the sandbox refuses a member
/// without one), a role change trades the old Voice permission set for the new one, and a contact-center user's alias
/// is not changed, since that breaks Amazon Connect single sign-on: the row is refused with the procedure instead.
#[tokio::test]
async fn voice_set_up_keeps_salesforces_order_roles_trade_sets_and_aliases_stay() {
    let sandbox = sandbox(SalesforceSeed::default()).await;
    let client = client_credentials(&sandbox);
    let defaults = SalesforceDefaults::default();
    let provisioner = provisioner(&client, TelephonyModel::AmazonConnect, &defaults);
    let agent = new_user("ada@example.com", "Northwind Support", VoiceRole::Agent);
    assert!(provisioner.apply(&[(Action::Add, &agent)]).await.unwrap()[0].is_ok(), "granted, then joined");

    let supervisor = SalesforceUser { role: Some(VoiceRole::CallCenterManager), ..agent.clone() };
    assert!(provisioner.apply(&[(Action::Update, &supervisor)]).await.unwrap()[0].is_ok());
    let ada = sandbox.snapshot().user("ada@example.com").unwrap().clone();
    assert_eq!(ada.permission_sets, vec!["ContactCenterSupervisor"], "the Agent set went with the role");

    let mut renamed = supervisor.clone();
    renamed.fields.alias = Some("adal".into());
    let err = provisioner.apply(&[(Action::Update, &renamed)]).await.unwrap()[0].clone().unwrap_err();
    assert!(err.message.contains("breaks Amazon Connect single sign-on") && err.message.contains("add the user back"));
    assert_eq!(sandbox.snapshot().user("ada@example.com").unwrap().alias, ada.alias, "the alias stayed");

    // Opted in, ccbulk carries the procedure out: out of the contact center, the new alias, back in.
    let rejoining = SalesforceProvisioner { alias_change: AliasChange::Rejoin, ..provisioner };
    // A change that Salesforce refuses halfway (another user holds the federation id) leaves the user as it was,
    // back in its contact center.
    let holder = SalesforceUser {
        fields: SalesforceUserFields { federation_id: Some("ada@idp.example.com".into()), ..agent.fields.clone() },
        ..new_user("grace@example.com", "Northwind Support", VoiceRole::Agent)
    };
    assert!(provisioner.apply(&[(Action::Add, &holder)]).await.unwrap()[0].is_ok());
    let mut clashing = renamed.clone();
    clashing.fields.federation_id = Some("ada@idp.example.com".into());
    let err = rejoining.apply(&[(Action::Update, &clashing)]).await.unwrap()[0].clone().unwrap_err();
    assert_eq!(err.code, "DUPLICATE_VALUE", "{err}");
    let after = sandbox.snapshot().user("ada@example.com").unwrap().clone();
    assert_eq!((after.alias.as_str(), after.call_center.as_deref()), (ada.alias.as_str(), Some("Northwind Support")));

    let outcome = rejoining.apply(&[(Action::Update, &renamed)]).await.unwrap()[0].clone();
    assert!(outcome.is_ok(), "{outcome:?}");
    let ada = sandbox.snapshot().user("ada@example.com").unwrap().clone();
    assert_eq!((ada.alias.as_str(), ada.call_center.as_deref()), ("adal", Some("Northwind Support")));
    assert_eq!(ada.permission_sets, vec!["ContactCenterSupervisor"]);
    assert!(!ada.sso_broken, "the alias changed while the user was out of the contact center");
}

#[tokio::test]
async fn a_member_of_another_contact_center_is_refused_by_name_and_remove_undoes_membership() {
    let sandbox = sandbox(SalesforceSeed::default()).await;
    let client = client_credentials(&sandbox);
    let defaults = SalesforceDefaults::default();
    let provisioner = provisioner(&client, TelephonyModel::AmazonConnect, &defaults);
    let grace = new_user("grace@example.com", "Northwind Support", VoiceRole::Agent);
    provisioner.apply(&[(Action::Add, &grace)]).await.unwrap()[0].as_ref().unwrap();

    let elsewhere = new_user("grace@example.com", "Support EMEA", VoiceRole::Agent);
    let refused = provisioner.apply(&[(Action::Add, &elsewhere)]).await.unwrap();
    let err = refused[0].as_ref().unwrap_err();
    assert!(err.to_string().contains("belongs to the contact center \"Northwind Support\""), "{err}");

    let removed = provisioner.apply(&[(Action::Remove, &grace)]).await.unwrap();
    assert!(removed[0].is_ok());
    let user = sandbox.snapshot().user("grace@example.com").unwrap().clone();
    assert_eq!(user.call_center, None);
    assert!(user.permission_sets.is_empty());
    assert!(user.active, "Salesforce users are never deleted");
    let unknown = SalesforceUser { user: SalesforceUserRef::Username("nobody@example.com".into()), ..grace.clone() };
    assert!(provisioner.apply(&[(Action::Update, &unknown)]).await.unwrap()[0].is_err());
}

#[tokio::test]
async fn partner_telephony_uses_its_own_sets_and_jwt_sessions_renew_when_they_expire() {
    let sandbox = sandbox(SalesforceSeed::default()).await;
    let client = SalesforceClient::new(Credentials::JwtBearer {
        login_url: sandbox.endpoint().to_owned(),
        client_id: SANDBOX_CONSUMER_KEY.into(),
        username: "integration@ccbulk-sandbox.example.com".into(),
        private_key_pem: include_str!("../../sandbox/fixtures/jwt-test-key.pem").into(),
        audience: None,
    });
    let defaults = SalesforceDefaults::default();
    let provisioner = provisioner(&client, TelephonyModel::PartnerTelephony, &defaults);
    // Tokens live no time at all: every call meets INVALID_SESSION_ID once and signs in again.
    sandbox.set_knobs(SalesforceKnobs { token_ttl_secs: 0, ..SalesforceKnobs::default() });
    let row = new_user("pt@example.com", "Support EMEA", VoiceRole::Admin);
    let result = provisioner.apply(&[(Action::Add, &row)]).await;
    // With a zero lifetime even the renewed token is dead: the call fails cleanly rather than looping.
    assert_eq!(result.unwrap_err().code, "INVALID_SESSION_ID");
    sandbox.set_knobs(SalesforceKnobs::default());
    let results = provisioner.apply(&[(Action::Add, &row)]).await.unwrap();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(
        sandbox.snapshot().user("pt@example.com").unwrap().permission_sets,
        vec!["ContactCenterAdminPartnerTelephony"]
    );
    // A row that names no role (a Partner Telephony bulkop row) gets the Partner Telephony set Salesforce's own op
    // assigns; a user who holds a set keeps it.
    let roleless = SalesforceUser { role: None, ..new_user("pt2@example.com", "Support EMEA", VoiceRole::Agent) };
    let kept = SalesforceUser { role: None, ..row.clone() };
    let results = provisioner.apply(&[(Action::Add, &roleless), (Action::Update, &kept)]).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let snapshot = sandbox.snapshot();
    assert_eq!(snapshot.user("pt2@example.com").unwrap().permission_sets, vec!["ContactCenterAgentPartnerTelephony"]);
    assert_eq!(snapshot.user("pt@example.com").unwrap().permission_sets, vec!["ContactCenterAdminPartnerTelephony"]);
    assert!(sandbox.snapshot().counters.tokens_issued >= 3, "the client signed in again after the expired sessions");
}

/// A Salesforce that accepts connections and never answers in time is a failed call the worker can try again, not a
/// worker held until Lambda kills it with its rows' leases: every call has a deadline, the sign-in's included.
#[tokio::test]
async fn a_call_that_gets_no_answer_in_time_fails_as_a_transport_error() {
    let sandbox = sandbox(SalesforceSeed::default()).await;
    let credentials = Credentials::ClientCredentials {
        login_url: sandbox.endpoint().to_owned(),
        client_id: SANDBOX_CONSUMER_KEY.into(),
        client_secret: SANDBOX_CLIENT_SECRET.into(),
    };
    let client = SalesforceClient::with_request_timeout(credentials, Duration::from_millis(300));
    client.sign_in().await.unwrap();
    let mut knobs = sandbox.knobs();
    knobs.latency = Latency { fixed_ms: 30_000, jitter_ms: 0 };
    sandbox.set_knobs(knobs);
    // The sandbox would answer after 30 s; the call must have given up long before.
    let answer = tokio::time::timeout(Duration::from_secs(20), client.query("SELECT Id FROM User LIMIT 1")).await;
    let err = answer.expect("the call gave up by itself").unwrap_err();
    assert_eq!((err.code.as_str(), err.retryable), ("TRANSPORT", true), "{err:?}");
    assert!(err.message.contains("timed out") || err.message.contains("timeout"), "{err:?}");
}
