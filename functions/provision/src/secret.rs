//! The Salesforce connected app's credential, read from Secrets Manager and kept for a while per container: a
//! rotated secret is picked up within the TTL, without a read per invocation. Its value is never logged, and its
//! errors name the secret and the key, never what it holds.

use std::time::Duration;

use ccbulk_shared::salesforce::{Credentials, SalesforceClient};
use serde::Deserialize;

/// `{"client_secret": "..."}` for the client credentials flow, `{"private_key": "-----BEGIN ..."}` for JWT bearer.
#[derive(Deserialize)]
struct SecretValue {
    client_secret: Option<String>,
    private_key: Option<String>,
}

/// How the org is signed in to; everything but the secret comes from the environment.
pub struct SalesforceSettings {
    pub login_url: String,
    pub client_id: String,
    /// The JWT bearer flow's user; `None`: the client credentials flow.
    pub jwt_username: Option<String>,
    pub jwt_audience: Option<String>,
    pub secret_id: String,
    pub ttl: Duration,
}

pub struct SecretSource {
    client: aws_sdk_secretsmanager::Client,
    pub settings: SalesforceSettings,
}

impl SecretSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, settings: SalesforceSettings) -> Self {
        Self { client, settings }
    }

    /// A signed-in client, with the secret as it is now.
    pub async fn client(&self) -> Result<SalesforceClient, String> {
        let id = &self.settings.secret_id;
        let answer = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| format!("cannot read the Salesforce secret {id}: {}", e.into_service_error()))?;
        let text = answer.secret_string().ok_or_else(|| format!("the secret {id} holds no string value"))?;
        let value: SecretValue = serde_json::from_str(text)
            .map_err(|_| format!("the secret {id} is not a JSON object with client_secret or private_key"))?;
        let client = SalesforceClient::new(self.credentials(value)?);
        client.sign_in().await.map_err(|e| format!("cannot sign in to Salesforce with the secret {id}: {e}"))?;
        Ok(client)
    }

    fn credentials(&self, value: SecretValue) -> Result<Credentials, String> {
        let settings = &self.settings;
        let missing = |key: &str, flow: &str| {
            format!("the secret {} has no {key} (the {flow} flow needs it)", settings.secret_id)
        };
        Ok(match &settings.jwt_username {
            Some(username) => Credentials::JwtBearer {
                login_url: settings.login_url.clone(),
                client_id: settings.client_id.clone(),
                username: username.clone(),
                private_key_pem: value.private_key.ok_or_else(|| missing("private_key", "JWT bearer"))?,
                audience: settings.jwt_audience.clone(),
            },
            None => Credentials::ClientCredentials {
                login_url: settings.login_url.clone(),
                client_id: settings.client_id.clone(),
                client_secret: value.client_secret.ok_or_else(|| missing("client_secret", "client credentials"))?,
            },
        })
    }
}
