//! What a Salesforce sandbox starts with. The default is a Voice-enabled org: standard profiles, the Contact Center
//! permission sets and their Partner Telephony variants, two contact centers, an integration user, and a connected
//! app that trusts the published test key in `sandbox/fixtures/`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::knobs::SalesforceKnobs;
use super::org::{Org, schema};

pub const TEST_CERTIFICATE: &str = include_str!("../../fixtures/jwt-test-key.pub.pem");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceSeed {
    #[serde(default = "default_org_id")]
    pub org_id: String,
    pub connected_apps: Vec<ConnectedApp>,
    pub profiles: Vec<String>,
    pub permission_sets: Vec<PermissionSetSeed>,
    pub call_centers: Vec<String>,
    /// Fixed ids of call centers, by name (the others get generated ids).
    #[serde(default)]
    pub call_center_ids: std::collections::BTreeMap<String, String>,
    /// Call centers under Partner Telephony, by name; the others are Amazon Connect's.
    #[serde(default)]
    pub partner_telephony_centers: Vec<String>,
    /// "Service Cloud Voice with Amazon Connect": Salesforce creates the Connect user of a user who joins an Amazon
    /// Connect contact center, once the sandbox is linked to a Connect sandbox.
    #[serde(default)]
    pub service_cloud_voice_sync: bool,
    pub users: Vec<UserSeed>,
    /// Usernames already taken in other orgs.
    #[serde(default)]
    pub usernames_taken_elsewhere: Vec<String>,
    /// Seats of the Salesforce Voice User permission set license; none: unlimited.
    #[serde(default)]
    pub voice_seats: Option<usize>,
    /// Experience Cloud sites' URLs, which JWT assertions may also name as their audience.
    #[serde(default)]
    pub site_urls: Vec<String>,
    /// API requests allowed per rolling 24 hours.
    #[serde(default = "default_daily_requests")]
    pub daily_api_requests: u64,
    #[serde(default)]
    pub knobs: SalesforceKnobs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectedApp {
    pub consumer_key: String,
    pub client_secret: String,
    /// The public key (PEM) of the certificate uploaded to the app, for the JWT bearer flow.
    pub certificate_pem: String,
    /// The "Run As" user of the client-credentials flow.
    pub run_as: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSetSeed {
    pub name: String,
    pub label: String,
    /// Needs a Salesforce Voice User permission set license.
    #[serde(default)]
    pub voice: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    /// A fixed id (15 or 18 characters); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub username: String,
    pub email: String,
    #[serde(default)]
    pub first_name: Option<String>,
    pub last_name: String,
    pub alias: String,
    pub profile: String,
    #[serde(default)]
    pub call_center: Option<String>,
    #[serde(default)]
    pub permission_sets: Vec<String>,
    #[serde(default = "active")]
    pub active: bool,
}

fn active() -> bool {
    true
}

impl UserSeed {
    /// An active Standard User `name@example.com` (email alike), `name` also its first name and alias, in no
    /// contact center and with no permission set.
    pub fn standard(name: &str) -> Self {
        Self {
            id: None,
            username: format!("{name}@example.com"),
            email: format!("{name}@example.com"),
            first_name: Some(name.into()),
            last_name: "Agent".into(),
            alias: name.into(),
            profile: "Standard User".into(),
            call_center: None,
            permission_sets: Vec::new(),
            active: true,
        }
    }
}

fn default_org_id() -> String {
    "00DSb0000000001".into()
}

fn default_daily_requests() -> u64 {
    100_000
}

pub const SANDBOX_CONSUMER_KEY: &str = "3MVG9ccbulk.sandbox.consumer.key";
pub const SANDBOX_CLIENT_SECRET: &str = "ccbulk-sandbox-client-secret";
pub const INTEGRATION_USER: &str = "integration@ccbulk-sandbox.example.com";

impl Default for SalesforceSeed {
    fn default() -> Self {
        let voice_set =
            |name: &str, label: &str| PermissionSetSeed { name: name.into(), label: label.into(), voice: true };
        Self {
            org_id: default_org_id(),
            connected_apps: vec![ConnectedApp {
                consumer_key: SANDBOX_CONSUMER_KEY.into(),
                client_secret: SANDBOX_CLIENT_SECRET.into(),
                certificate_pem: TEST_CERTIFICATE.into(),
                run_as: INTEGRATION_USER.into(),
            }],
            profiles: ["System Administrator", "Standard User", "Custom: Support Profile"].map(String::from).to_vec(),
            permission_sets: vec![
                voice_set("ContactCenterAdmin", "Contact Center Admin"),
                voice_set("ContactCenterAgent", "Contact Center Agent"),
                voice_set("ContactCenterSupervisor", "Contact Center Supervisor"),
                voice_set("ContactCenterAdminPartnerTelephony", "Contact Center Admin (Partner Telephony)"),
                voice_set("ContactCenterAgentPartnerTelephony", "Contact Center Agent (Partner Telephony)"),
                voice_set("ContactCenterSupervisorPartnerTelephony", "Contact Center Supervisor (Partner Telephony)"),
            ],
            call_centers: ["Northwind Support", "Support EMEA"].map(String::from).to_vec(),
            call_center_ids: Default::default(),
            partner_telephony_centers: Vec::new(),
            service_cloud_voice_sync: false,
            users: vec![UserSeed {
                id: None,
                username: INTEGRATION_USER.into(),
                email: "integration@ccbulk-sandbox.example.com".into(),
                first_name: Some("Integration".into()),
                last_name: "User".into(),
                alias: "integ".into(),
                profile: "System Administrator".into(),
                call_center: None,
                permission_sets: vec![],
                active: true,
            }],
            usernames_taken_elsewhere: vec!["taken@elsewhere.example.com".into()],
            voice_seats: None,
            site_urls: Vec::new(),
            daily_api_requests: default_daily_requests(),
            knobs: SalesforceKnobs::default(),
        }
    }
}

impl SalesforceSeed {
    pub(crate) fn build(&self) -> Result<Org, String> {
        let mut org = Org::new(self.org_id.clone());
        let schema_of = |name| schema(name).expect("a known object");
        let mut profile_ids = std::collections::BTreeMap::new();
        for name in &self.profiles {
            profile_ids.insert(
                name.clone(),
                org.seed(schema_of("Profile"), json!({"Name": name}).as_object().cloned().unwrap()),
            );
        }
        let mut set_ids = std::collections::BTreeMap::new();
        for set in &self.permission_sets {
            let id = org.seed(
                schema_of("PermissionSet"),
                json!({"Name": set.name, "Label": set.label}).as_object().cloned().unwrap(),
            );
            if set.voice {
                org.voice_permission_sets.insert(id.clone());
            }
            set_ids.insert(set.name.clone(), id);
        }
        let mut center_ids = std::collections::BTreeMap::new();
        for name in &self.call_centers {
            let internal = name.replace(' ', "");
            let mut record = json!({"Name": name, "InternalName": internal}).as_object().cloned().unwrap();
            if let Some(id) = self.call_center_ids.get(name) {
                record.insert("Id".into(), json!(id));
            }
            let id = org.seed(schema_of("CallCenter"), record);
            if self.partner_telephony_centers.contains(name) {
                org.partner_centers.insert(id.clone());
            }
            center_ids.insert(name.clone(), id);
        }
        // Users with fixed ids first, so that no generated id takes one of theirs.
        let fixed_first =
            self.users.iter().filter(|u| u.id.is_some()).chain(self.users.iter().filter(|u| u.id.is_none()));
        for user in fixed_first {
            if let Some(id) = &user.id
                && org.get("User", id).is_some()
            {
                return Err(format!("seed user {} has the id {id}, which another seed user has", user.username));
            }
            let missing = |what: &str, name: &str| {
                format!("seed user {} names the {what} {name:?}, which the seed lacks", user.username)
            };
            let profile = profile_ids.get(&user.profile).ok_or_else(|| missing("profile", &user.profile))?;
            let center = match &user.call_center {
                Some(name) => Some(center_ids.get(name).ok_or_else(|| missing("call center", name))?.clone()),
                None => None,
            };
            let record = json!({
                "Username": user.username, "Email": user.email, "FirstName": user.first_name, "LastName": user.last_name,
                "Alias": user.alias, "ProfileId": profile, "TimeZoneSidKey": "America/Los_Angeles",
                "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
                "CallCenterId": center, "IsActive": user.active, "FederationIdentifier": null,
            });
            let mut record = record;
            if let Some(id) = &user.id {
                record["Id"] = json!(id);
            }
            let user_id = org.seed(schema_of("User"), record.as_object().cloned().unwrap());
            for set in &user.permission_sets {
                let set_id = set_ids.get(set).ok_or_else(|| missing("permission set", set))?;
                let assignment =
                    json!({"AssigneeId": user_id, "PermissionSetId": set_id}).as_object().cloned().unwrap();
                org.seed(schema_of("PermissionSetAssignment"), assignment);
            }
        }
        org.taken_elsewhere = self.usernames_taken_elsewhere.iter().map(|u| u.to_lowercase()).collect();
        org.voice_seats = self.voice_seats;
        org.voice_sync = self.service_cloud_voice_sync;
        Ok(org)
    }
}
