//! Where a run provisions: the embedded sandboxes (no config), or the instance and org a config names. Both are
//! reached the same way, over HTTP with the real clients.

use std::net::SocketAddr;

use aws_config::BehaviorVersion;
use aws_sdk_connect::config::{Credentials as AwsCredentials, Region};
use ccbulk_sandbox::connect::ConnectSandbox;
use ccbulk_sandbox::examples;
use ccbulk_sandbox::salesforce::{SANDBOX_CLIENT_SECRET, SANDBOX_CONSUMER_KEY, SalesforceSandbox};
use ccbulk_shared::connect::{Api, Pacer, RateBudget};
use ccbulk_shared::domain::IdentityManagement;
use ccbulk_shared::pipeline::{ConnectTarget, SalesforceTarget, Targets};
use ccbulk_shared::salesforce::{AliasChange, Credentials, SalesforceClient, SalesforceDefaults, SalesforceSync};

use crate::config::{Config, ConnectConfig, SalesforceConfig};

/// Attempts the Salesforce sign-in check gets against passing server errors.
const PREFLIGHT_ATTEMPTS: u32 = 4;

/// The sandboxes of an embedded run; they live as long as this value.
pub struct Embedded {
    pub connect: ConnectSandbox,
    pub salesforce: SalesforceSandbox,
}

impl Embedded {
    pub async fn start() -> std::io::Result<Self> {
        let loopback: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
        let embedded = Self {
            connect: ConnectSandbox::start(examples::connect_seed(), loopback).await?,
            salesforce: SalesforceSandbox::start(examples::salesforce_seed(), loopback).await?,
        };
        // The org works as Service Cloud Voice does: its bulk operations get Connect users Salesforce makes.
        embedded.salesforce.link_connect(embedded.connect.voice_link(), examples::SAML_INSTANCE_ID);
        Ok(embedded)
    }

    /// Writes either sandbox has been asked for.
    pub fn writes(&self) -> u64 {
        self.connect.writes() + self.salesforce.writes()
    }

    /// Targets in the sandboxes: the instance that manages identities as the file expects.
    pub fn targets(&self, identity: IdentityManagement) -> Result<Targets, String> {
        let alias = match identity {
            IdentityManagement::ConnectManaged => "ccbulk-sandbox",
            IdentityManagement::Saml => "ccbulk-sandbox-saml",
            IdentityManagement::ExistingDirectory => {
                return Err(
                    "the embedded sandbox has no EXISTING_DIRECTORY instance; run with --config against yours".into()
                );
            }
        };
        let instance_id = self.connect.instance_id(alias).ok_or("the embedded sandbox lost its instance")?.to_owned();
        let client = ccbulk_shared::connect::client(
            aws_sdk_connect::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(examples::REGION))
                .credentials_provider(AwsCredentials::new("SANDBOX", "SANDBOX", None, None, "ccbulk-sandbox"))
                .endpoint_url(self.connect.endpoint()),
        );
        let credentials = Credentials::ClientCredentials {
            login_url: self.salesforce.endpoint().to_owned(),
            client_id: SANDBOX_CONSUMER_KEY.into(),
            client_secret: SANDBOX_CLIENT_SECRET.into(),
        };
        Ok(Targets {
            connect: Some(ConnectTarget::new(client, instance_id, Pacer::new(RateBudget::default()))),
            salesforce: Some(SalesforceTarget {
                client: SalesforceClient::new(credentials),
                defaults: SalesforceDefaults::default(),
                implied: None,
                alias_change: AliasChange::Refuse,
                sync: SalesforceSync::Auto,
                voice_sync: false,
                reference: Default::default(),
            }),
            salesforce_out: None,
        })
    }
}

/// The targets a config names: its instance only where the telephony model has a Connect side.
pub async fn configured(config: &Config, connect_side: bool) -> Targets {
    let connect = match (&config.connect, connect_side) {
        (Some(connect), true) => Some(connect_target(connect).await),
        _ => None,
    };
    Targets { connect, salesforce: config.salesforce.as_ref().map(salesforce_target), salesforce_out: None }
}

/// The Connect target a config names, with the default AWS credential chain (or the named profile).
pub async fn connect_target(config: &ConnectConfig) -> ConnectTarget {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &config.profile {
        loader = loader.profile_name(profile);
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_connect::config::Builder::from(&shared);
    if let Some(url) = &config.endpoint_url {
        builder = builder.endpoint_url(url);
    }
    let pacer = Pacer::new(config.budget).with_max_in_flight(config.max_in_flight);
    ConnectTarget::new(ccbulk_shared::connect::client(builder), config.instance_id.clone(), pacer)
        .with_users_quota(config.users_quota)
}

pub fn salesforce_target(config: &SalesforceConfig) -> SalesforceTarget {
    SalesforceTarget {
        client: SalesforceClient::new(config.credentials.clone()),
        defaults: config.defaults.clone(),
        implied: config.implied.clone(),
        alias_change: config.alias_change,
        sync: config.sync,
        voice_sync: config.voice_sync,
        reference: Default::default(),
    }
}

/// Checks that the targets answer before any row is touched: the instance exists (and says how it manages
/// identities), the org signs us in. A wrong instance id or secret is one clear error, not a column of failed rows.
pub async fn preflight(targets: &Targets) -> Result<Option<IdentityManagement>, String> {
    let mut identity = None;
    if let Some(connect) = &targets.connect {
        let described = connect
            .pacer
            .send(Api::DescribeInstance, None, || {
                connect.client.describe_instance().instance_id(&connect.instance_id).send()
            })
            .await
            .map_err(|e| {
                let e = ccbulk_shared::connect::ProvisionError::from_sdk(e);
                format!("cannot reach the Connect instance {}: {e}", connect.instance_id)
            })?;
        identity = described
            .instance()
            .and_then(|i| i.identity_management_type())
            .and_then(|t| IdentityManagement::parse(t.as_str()));
    }
    if let Some(salesforce) = &targets.salesforce {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match salesforce.client.query("SELECT Id FROM CallCenter LIMIT 1").await {
                Ok(_) => break,
                // A passing 5xx is not a reason to give up before starting.
                Err(err) if err.retryable && attempt < PREFLIGHT_ATTEMPTS => {
                    tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
                }
                Err(err) => return Err(format!("cannot sign in to Salesforce: {err}")),
            }
        }
    }
    Ok(identity)
}
