//! `ccbulk.toml`: where `ccbulk run` provisions (a real Connect instance and Salesforce org) and how. Every error
//! names the key and the problem; secrets come from the environment or a key file, not from the file itself.

use std::path::{Path, PathBuf};

use ccbulk_shared::connect::{MAX_IN_FLIGHT, RateBudget};
use ccbulk_shared::domain::{IdentityManagement, TelephonyModel};
use ccbulk_shared::pipeline::{ImpliedSalesforce, ImpliedSetting};
use ccbulk_shared::salesforce::{AliasChange, Credentials, SalesforceDefaults, SalesforceSync};
use ccbulk_shared::validate::picklists::Picklist;
use serde::Deserialize;

/// The commented template `ccbulk init` writes.
pub const TEMPLATE: &str = include_str!("../ccbulk.example.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    connect: Option<RawConnect>,
    salesforce: Option<RawSalesforce>,
    #[serde(default)]
    run: RawRun,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnect {
    instance_id: String,
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
    identity_management: Option<String>,
    write_rate: Option<f64>,
    write_burst: Option<u32>,
    read_rate: Option<f64>,
    read_burst: Option<u32>,
    max_in_flight: Option<u32>,
    users_quota: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSalesforce {
    login_url: String,
    client_id: String,
    client_secret: Option<String>,
    client_secret_env: Option<String>,
    jwt_username: Option<String>,
    jwt_key_file: Option<PathBuf>,
    jwt_audience: Option<String>,
    #[serde(default)]
    defaults: RawDefaults,
    connect_template: Option<RawImplied>,
    alias_change: Option<String>,
    sync: Option<String>,
    #[serde(default)]
    voice_sync: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImplied {
    contact_center: String,
    role: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    profile: Option<String>,
    time_zone: Option<String>,
    locale: Option<String>,
    language: Option<String>,
    email_encoding: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    telephony_model: Option<String>,
    chunk_rows: Option<u32>,
    workers: Option<u32>,
    state: Option<PathBuf>,
    max_attempts: Option<u32>,
    retry_backoff_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct ConnectConfig {
    pub instance_id: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// When absent, DescribeInstance says.
    pub identity_management: Option<IdentityManagement>,
    pub budget: RateBudget,
    /// The most rows worked at once, whatever the rate and latency ask.
    pub max_in_flight: usize,
    /// The instance's "Users per instance" quota, which `ccbulk plan` holds creates against.
    pub users_quota: u64,
}

#[derive(Debug, Clone)]
pub struct SalesforceConfig {
    pub credentials: Credentials,
    pub defaults: SalesforceDefaults,
    pub implied: Option<ImpliedSalesforce>,
    pub alias_change: AliasChange,
    pub sync: SalesforceSync,
    /// The org makes its members' Connect users itself (Service Cloud Voice with Amazon Connect).
    pub voice_sync: bool,
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub telephony_model: Option<TelephonyModel>,
    pub chunk_rows: u32,
    pub workers: u32,
    pub state: PathBuf,
    pub max_attempts: u32,
    pub retry_backoff_ms: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            telephony_model: None,
            chunk_rows: ccbulk_shared::validate::Options::default().chunk_rows,
            workers: 4,
            state: PathBuf::from(".ccbulk/state.db"),
            max_attempts: 5,
            retry_backoff_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub connect: Option<ConnectConfig>,
    pub salesforce: Option<SalesforceConfig>,
    pub run: RunConfig,
}

/// A configuration error: the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let fail = |message: String| ConfigError { file: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base, &|name| std::env::var(name).ok()).map_err(fail)
    }

    /// Parses the text of a config; relative paths are taken from `base`, `env` reads the environment.
    pub fn parse(text: &str, base: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        let defaults = RunConfig::default();
        let run = RunConfig {
            telephony_model: raw
                .run
                .telephony_model
                .as_deref()
                .map(|t| {
                    TelephonyModel::parse(t).ok_or_else(|| {
                        format!("[run] telephony_model: {t:?} is not one of amazon-connect, partner-telephony-from-amazon-connect, partner-telephony")
                    })
                })
                .transpose()?,
            chunk_rows: positive("[run] chunk_rows", raw.run.chunk_rows.unwrap_or(defaults.chunk_rows))?,
            workers: positive("[run] workers", raw.run.workers.unwrap_or(defaults.workers))?,
            state: base.join(raw.run.state.unwrap_or(defaults.state)),
            max_attempts: positive("[run] max_attempts", raw.run.max_attempts.unwrap_or(defaults.max_attempts))?,
            retry_backoff_ms: raw.run.retry_backoff_ms.unwrap_or(defaults.retry_backoff_ms),
        };
        let connect = raw.connect.map(connect_config).transpose()?;
        let salesforce = raw.salesforce.map(|s| salesforce_config(s, base, env)).transpose()?;
        Ok(Self { connect, salesforce, run })
    }
}

fn positive(key: &str, value: u32) -> Result<u32, String> {
    if value == 0 { Err(format!("{key}: must be at least 1")) } else { Ok(value) }
}

fn rate(key: &str, value: f64) -> Result<f64, String> {
    if value.is_finite() && value > 0.0 { Ok(value) } else { Err(format!("{key}: must be a number above 0")) }
}

fn connect_config(raw: RawConnect) -> Result<ConnectConfig, String> {
    if raw.instance_id.trim().is_empty() {
        return Err("[connect] instance_id: is empty; give the instance's id (the last part of its ARN)".into());
    }
    let identity_management = raw
        .identity_management
        .as_deref()
        .map(|t| {
            IdentityManagement::parse(t).ok_or_else(|| {
                format!("[connect] identity_management: {t:?} is not one of CONNECT_MANAGED, SAML, EXISTING_DIRECTORY")
            })
        })
        .transpose()?;
    if let Some(url) = &raw.endpoint_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!("[connect] endpoint_url: {url:?} is not an http(s) URL"));
    }
    let default = RateBudget::default();
    let budget = RateBudget {
        write_per_second: rate("[connect] write_rate", raw.write_rate.unwrap_or(default.write_per_second))?,
        write_burst: positive("[connect] write_burst", raw.write_burst.unwrap_or(default.write_burst))?,
        read_per_second: rate("[connect] read_rate", raw.read_rate.unwrap_or(default.read_per_second))?,
        read_burst: positive("[connect] read_burst", raw.read_burst.unwrap_or(default.read_burst))?,
    };
    Ok(ConnectConfig {
        instance_id: raw.instance_id.trim().to_owned(),
        region: raw.region,
        profile: raw.profile,
        endpoint_url: raw.endpoint_url,
        identity_management,
        budget,
        max_in_flight: positive("[connect] max_in_flight", raw.max_in_flight.unwrap_or(MAX_IN_FLIGHT as u32))? as usize,
        users_quota: raw.users_quota.unwrap_or(ccbulk_shared::pipeline::DEFAULT_USERS_QUOTA),
    })
}

fn salesforce_config(
    raw: RawSalesforce,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SalesforceConfig, String> {
    if !(raw.login_url.starts_with("https://") || raw.login_url.starts_with("http://127.0.0.1")) {
        return Err(format!(
            "[salesforce] login_url: {:?} must be https:// (e.g. https://login.salesforce.com or your My Domain)",
            raw.login_url
        ));
    }
    let login_url = raw.login_url.trim_end_matches('/').to_owned();
    let credentials = match (raw.client_secret, raw.client_secret_env, raw.jwt_username, raw.jwt_key_file) {
        (Some(secret), None, None, None) => {
            Credentials::ClientCredentials { login_url, client_id: raw.client_id, client_secret: secret }
        }
        (None, Some(variable), None, None) => {
            let secret = env(&variable).filter(|s| !s.is_empty()).ok_or_else(|| {
                format!("[salesforce] client_secret_env: the environment variable {variable} is not set")
            })?;
            Credentials::ClientCredentials { login_url, client_id: raw.client_id, client_secret: secret }
        }
        (None, None, Some(username), Some(key_file)) => {
            let path = base.join(&key_file);
            let private_key_pem = std::fs::read_to_string(&path)
                .map_err(|e| format!("[salesforce] jwt_key_file: cannot read {}: {e}", path.display()))?;
            if !private_key_pem.contains("PRIVATE KEY") {
                return Err(format!("[salesforce] jwt_key_file: {} holds no PEM private key", path.display()));
            }
            Credentials::JwtBearer {
                login_url,
                client_id: raw.client_id,
                username,
                private_key_pem,
                audience: raw.jwt_audience,
            }
        }
        (None, None, Some(_), None) => {
            return Err(
                "[salesforce] jwt_key_file: missing; the JWT bearer flow needs jwt_username and jwt_key_file".into()
            );
        }
        (None, None, None, Some(_)) => {
            return Err(
                "[salesforce] jwt_username: missing; the JWT bearer flow needs jwt_username and jwt_key_file".into()
            );
        }
        (None, None, None, None) => {
            return Err("[salesforce]: no credentials; give client_secret_env (client credentials flow) or jwt_username and jwt_key_file (JWT bearer flow)".into());
        }
        _ => {
            return Err("[salesforce]: give one way to sign in: client_secret, client_secret_env, or jwt_username with jwt_key_file".into());
        }
    };
    let implied = raw.connect_template.map(implied_config).transpose()?;
    let fallback = SalesforceDefaults::default();
    let d = raw.defaults;
    let defaults = SalesforceDefaults {
        profile: d.profile.unwrap_or(fallback.profile),
        time_zone: d.time_zone.unwrap_or(fallback.time_zone),
        locale: d.locale.unwrap_or(fallback.locale),
        language: d.language.unwrap_or(fallback.language),
        email_encoding: d.email_encoding.unwrap_or(fallback.email_encoding),
    };
    if let Some((picklist, value, problem)) = defaults.refused() {
        let key = match picklist {
            Picklist::TimeZone => "time_zone",
            Picklist::Locale => "locale",
            Picklist::Language => "language",
            Picklist::EmailEncoding => "email_encoding",
        };
        return Err(format!("[salesforce.defaults] {key}: {value:?} is {problem}"));
    }
    let alias_change = match raw.alias_change.as_deref() {
        None => AliasChange::default(),
        Some(text) => AliasChange::parse(text)
            .ok_or_else(|| format!("[salesforce] alias_change: {text:?} is not refuse or rejoin"))?,
    };
    let sync = match raw.sync.as_deref() {
        None => SalesforceSync::default(),
        Some(text) => SalesforceSync::parse(text)
            .ok_or_else(|| format!("[salesforce] sync: {text:?} is not auto, direct or bulkop"))?,
    };
    Ok(SalesforceConfig { credentials, defaults, implied, alias_change, sync, voice_sync: raw.voice_sync })
}

fn implied_config(raw: RawImplied) -> Result<ImpliedSalesforce, String> {
    ImpliedSalesforce::from_settings(&raw.contact_center, raw.role.as_deref()).map_err(|(setting, problem)| {
        let key = match setting {
            ImpliedSetting::ContactCenter => "contact_center",
            ImpliedSetting::Role => "role",
        };
        format!("[salesforce.connect_template] {key}: {problem}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/cfg"), &|name| {
            (name == "CCBULK_SALESFORCE_CLIENT_SECRET").then(|| "s3cret".to_owned())
        })
    }

    #[test]
    fn the_template_parses_once_its_secret_is_in_the_environment() {
        let config = parse(TEMPLATE).unwrap();
        let salesforce = config.salesforce.as_ref().unwrap();
        assert_eq!(
            (salesforce.alias_change, salesforce.sync, salesforce.voice_sync),
            (AliasChange::Refuse, SalesforceSync::Auto, false)
        );
        let with_sync =
            TEMPLATE.replace("voice_sync = false", "voice_sync = true").replace("sync = \"auto\"", "sync = \"bulkop\"");
        let salesforce = parse(&with_sync).unwrap().salesforce.unwrap();
        assert_eq!((salesforce.sync, salesforce.voice_sync), (SalesforceSync::Bulkop, true));
        let connect = config.connect.unwrap();
        assert_eq!(connect.budget.write_per_second, 2.0);
        assert_eq!(config.run.state, Path::new("/cfg/.ccbulk/state.db"));
        assert!(matches!(config.salesforce.unwrap().credentials, Credentials::ClientCredentials { .. }));
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let cases = [
            ("[connect]\ninstnace_id = \"x\"\n", "instnace_id"),
            ("[connect]\ninstance_id = \"x\"\nwrite_rate = 0\n", "[connect] write_rate: must be a number above 0"),
            ("[connect]\ninstance_id = \"x\"\nidentity_management = \"LDAP\"\n", "[connect] identity_management"),
            ("[run]\ntelephony_model = \"pbx\"\n", "[run] telephony_model: \"pbx\""),
            ("[run]\nworkers = 0\n", "[run] workers: must be at least 1"),
            (
                "[salesforce]\nlogin_url = \"https://login.salesforce.com\"\nclient_id = \"c\"\nclient_secret_env = \"NOPE\"\n",
                "the environment variable NOPE is not set",
            ),
            (
                "[salesforce]\nlogin_url = \"https://login.salesforce.com\"\nclient_id = \"c\"\njwt_username = \"u@x.com\"\n",
                "[salesforce] jwt_key_file: missing",
            ),
            ("[salesforce]\nlogin_url = \"http://evil.example\"\nclient_id = \"c\"\n", "[salesforce] login_url"),
            (
                "[salesforce]\nlogin_url = \"https://x.my.salesforce.com\"\nclient_id = \"c\"\nclient_secret_env = \"CCBULK_SALESFORCE_CLIENT_SECRET\"\n[salesforce.connect_template]\ncontact_center = \"Support\"\nrole = \"boss\"\n",
                "[salesforce.connect_template] role: \"boss\"",
            ),
            (
                "[salesforce]\nlogin_url = \"https://x.my.salesforce.com\"\nclient_id = \"c\"\nclient_secret_env = \"CCBULK_SALESFORCE_CLIENT_SECRET\"\n[salesforce.defaults]\ntime_zone = \"Europe/Paris\"\nlanguage = \"en-US\"\n",
                "[salesforce.defaults] language: \"en-US\" is not a value of Salesforce's LanguageLocaleKey picklist",
            ),
            (
                "[salesforce]\nlogin_url = \"https://x.my.salesforce.com\"\nclient_id = \"c\"\nclient_secret_env = \"CCBULK_SALESFORCE_CLIENT_SECRET\"\nalias_change = \"force\"\n",
                "[salesforce] alias_change: \"force\" is not refuse or rejoin",
            ),
            (
                "[salesforce]\nlogin_url = \"https://x.my.salesforce.com\"\nclient_id = \"c\"\nclient_secret_env = \"CCBULK_SALESFORCE_CLIENT_SECRET\"\nsync = \"bulk\"\n",
                "[salesforce] sync: \"bulk\" is not auto, direct or bulkop",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
        }
    }
}
