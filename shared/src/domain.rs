//! What a row of an input file asks for, independent of the dialect it was written in.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::format::Dialect;
use crate::sfid::SalesforceId;

/// What to do with one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Update,
    Remove,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Update => "update",
            Action::Remove => "remove",
        }
    }

    /// The stored form (`as_str`) back.
    pub fn parse(text: &str) -> Option<Self> {
        [Action::Add, Action::Update, Action::Remove].into_iter().find(|a| a.as_str() == text)
    }
}

/// How the Amazon Connect instance authenticates its users; fixed when the instance is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdentityManagement {
    ConnectManaged,
    Saml,
    ExistingDirectory,
}

impl IdentityManagement {
    pub const ALL: [IdentityManagement; 3] = [Self::ConnectManaged, Self::Saml, Self::ExistingDirectory];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectManaged => "CONNECT_MANAGED",
            Self::Saml => "SAML",
            Self::ExistingDirectory => "EXISTING_DIRECTORY",
        }
    }

    /// Accepts the API spelling and a relaxed one (`saml`, `connect-managed`).
    pub fn parse(text: &str) -> Option<Self> {
        let wanted = text.trim().to_ascii_uppercase().replace('-', "_");
        Self::ALL.into_iter().find(|mode| mode.as_str() == wanted)
    }
}

impl fmt::Display for IdentityManagement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which telephony the Salesforce contact center uses; Partner Telephony has no Amazon Connect side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TelephonyModel {
    AmazonConnect,
    PartnerTelephonyFromAmazonConnect,
    PartnerTelephony,
}

impl TelephonyModel {
    pub const ALL: [TelephonyModel; 3] =
        [Self::AmazonConnect, Self::PartnerTelephonyFromAmazonConnect, Self::PartnerTelephony];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AmazonConnect => "amazon-connect",
            Self::PartnerTelephonyFromAmazonConnect => "partner-telephony-from-amazon-connect",
            Self::PartnerTelephony => "partner-telephony",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|model| model.as_str() == wanted)
    }

    /// Whether users of this model also live in Amazon Connect.
    pub fn has_connect_side(self) -> bool {
        self != Self::PartnerTelephony
    }
}

/// How the Salesforce side of rows is provisioned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SalesforceSync {
    /// Each job by its file's dialect ([`SalesforceSync::for_job`]).
    #[default]
    Auto,
    /// ccbulk writes the User, its membership and its Voice permission set itself.
    Direct,
    /// Salesforce's own bulk path: ContactCenterBulkOp through the Bulk API.
    Bulkop,
}

impl SalesforceSync {
    /// Salesforce's advice for one Bulk API request of ContactCenterBulkOp records: "keep the maximum number of users
    /// per request at 5,000" (../shared/seeds/salesforce-voice-bulk-users.txt). A chunk in bulkop mode is one request.
    pub const BULKOP_CHUNK_ROWS: u32 = 5_000;

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "direct" => Some(Self::Direct),
            "bulkop" => Some(Self::Bulkop),
            _ => None,
        }
    }

    /// The mode a job of `dialect` runs in. `Auto` sends a file of ContactCenterBulkOp rows down the path those rows
    /// were written for, Salesforce's own, under every telephony model: the seed's bulk article applies to all three,
    /// and the model decides only what a record carries (Argument3 and Argument4 under the Amazon Connect models).
    /// The other dialects go direct: their rows may create Salesforce users, remove users, or carry settings that
    /// ContactCenterBulkOp cannot (it only adds existing users to a contact center).
    pub fn for_job(self, dialect: Dialect) -> Self {
        match (self, dialect) {
            (Self::Auto, Dialect::Bulkop) => Self::Bulkop,
            (Self::Auto, _) => Self::Direct,
            (chosen, _) => chosen,
        }
    }

    /// The rows a chunk of a `dialect` job holds: a whole Bulk API request in bulkop mode, where a chunk costs
    /// Salesforce one job and ccbulk no Connect write but the extras, `direct_rows` otherwise.
    pub fn chunk_rows(self, dialect: Dialect, direct_rows: u32) -> u32 {
        match self.for_job(dialect) {
            Self::Bulkop => Self::BULKOP_CHUNK_ROWS,
            _ => direct_rows,
        }
    }
}

impl fmt::Display for TelephonyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A password read from the file. It is only ever handed to CreateUser: it has no `Serialize`, and its
/// `Debug` output is redacted, so it cannot reach a log, a store or a report by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A Connect resource named in a file: by ARN, by id, or by the name an admin sees in the console.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "lowercase")]
pub enum ResourceRef {
    Arn(String),
    Id(String),
    Name(String),
}

impl ResourceRef {
    /// ARNs start with `arn:`; Connect ids are UUIDs; anything else is a name.
    pub fn classify(text: &str) -> Self {
        if text.starts_with("arn:") {
            Self::Arn(text.to_owned())
        } else if is_uuid(text) {
            Self::Id(text.to_owned())
        } else {
            Self::Name(text.to_owned())
        }
    }
}

fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhoneType {
    SoftPhone,
    DeskPhone,
}

/// The channels Connect's per-channel user settings take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Channel {
    Voice,
    Chat,
    Task,
    Email,
}

impl Channel {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "VOICE" => Some(Self::Voice),
            "CHAT" => Some(Self::Chat),
            "TASK" => Some(Self::Task),
            "EMAIL" => Some(Self::Email),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VoiceEnhancementMode {
    VoiceIsolation,
    NoiseSuppression,
    None,
}

/// A per-channel phone setting (`PhoneNumberConfigs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPhone {
    pub phone_type: PhoneType,
    pub phone_number: Option<String>,
}

/// Connect's newer per-channel settings; each list conflicts with its `PhoneConfig` twin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfigs {
    pub auto_accept: Vec<(Channel, bool)>,
    pub after_contact_work: Vec<(Channel, u32)>,
    pub phone_numbers: Vec<(Channel, ChannelPhone)>,
    pub persistent_connection: Vec<(Channel, bool)>,
    pub voice_enhancement: Vec<(Channel, VoiceEnhancementMode)>,
}

impl ChannelConfigs {
    pub fn is_empty(&self) -> bool {
        self.auto_accept.is_empty()
            && self.after_contact_work.is_empty()
            && self.phone_numbers.is_empty()
            && self.persistent_connection.is_empty()
            && self.voice_enhancement.is_empty()
    }
}

/// `PhoneConfig` of CreateUser / UpdateUserPhoneConfig; `None` means "not given in the file".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneSettings {
    pub phone_type: Option<PhoneType>,
    pub desk_phone_number: Option<String>,
    pub auto_accept: Option<bool>,
    pub after_contact_work_seconds: Option<u32>,
    pub persistent_connection: Option<bool>,
    pub per_channel: ChannelConfigs,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityInfo {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub secondary_email: Option<String>,
    pub mobile: Option<String>,
}

/// The Amazon Connect half of a row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectUser {
    /// `None` in the bulkop dialect: the username is the Salesforce user's, read at provisioning time.
    pub username: Option<String>,
    pub password: Option<Password>,
    pub identity: IdentityInfo,
    pub directory_user_id: Option<String>,
    pub routing_profile: Option<ResourceRef>,
    pub security_profiles: Vec<ResourceRef>,
    /// A group by ARN, id, name, or a `level1/level2/...` path of names.
    pub hierarchy_group: Option<ResourceRef>,
    pub phone: PhoneSettings,
    pub tags: Vec<(String, String)>,
    /// Whether to keep a quick connect (type USER) pointing at this user.
    pub quick_connect: Option<bool>,
}

/// The role that decides which Voice permission set a user gets (ContactCenterBulkOp's `Argument3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VoiceRole {
    Admin,
    Agent,
    CallCenterManager,
}

impl VoiceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Agent => "Agent",
            Self::CallCenterManager => "CallCenterManager",
        }
    }

    /// `Admin`, `Agent`, `CallCenterManager` or `Supervisor`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Self::Admin),
            "agent" => Some(Self::Agent),
            "callcentermanager" | "supervisor" => Some(Self::CallCenterManager),
            _ => None,
        }
    }
}

/// ContactCenterBulkOp's `Status` values. Salesforce documents the field ("Indicates the status of the bulk action",
/// ../shared/seeds/salesforce-voice-bulk-users.txt) but not its values, and no stored source lists them
/// (../shared/reference/peers.md). These are ccbulk's choice, kept here for the sandbox and ccbulk alike: a record
/// waits, then succeeds or fails with its `ErrorMessage`.
pub mod bulkop_status {
    /// Inserted; Salesforce has not worked it yet.
    pub const PENDING: &str = "Pending";
    pub const COMPLETED: &str = "Completed";
    pub const FAILED: &str = "Failed";
}

/// How a row names its Salesforce user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SalesforceUserRef {
    /// An existing user by Id.
    Id(SalesforceId),
    /// A user found by username, or created under it by an `add`.
    Username(String),
}

/// User fields a row sets; blank ones are left as they are, or come from the deployment's defaults on creation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesforceUserFields {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub alias: Option<String>,
    pub profile: Option<String>,
    pub federation_id: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    pub language: Option<String>,
    pub email_encoding: Option<String>,
}

/// A contact center (Salesforce `CallCenter`) by Id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactCenterRef {
    Id(SalesforceId),
    Name(String),
}

/// The Salesforce half of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceUser {
    pub user: SalesforceUserRef,
    pub fields: SalesforceUserFields,
    pub contact_center: Option<ContactCenterRef>,
    pub role: Option<VoiceRole>,
    /// A ContactCenterBulkOp row's Argument1 as the file gives it. Salesforce checks it against the user's email,
    /// which guards against an Argument2 that names the wrong user, so it goes to Salesforce unchanged. Never a
    /// change to the user's email.
    pub bulkop_email: Option<String>,
}

/// One valid row of an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The row number a spreadsheet shows (the header is row 1).
    pub row: u64,
    pub action: Action,
    pub connect: Option<ConnectUser>,
    pub salesforce: Option<SalesforceUser>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_never_shows_the_secret() {
        let password = Password::new("Sup3rSecret!".into());
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
        let user = ConnectUser { password: Some(password), ..Default::default() };
        assert!(!format!("{user:?}").contains("Sup3rSecret"));
    }

    #[test]
    fn resource_refs_are_classified_by_shape() {
        assert_eq!(
            ResourceRef::classify("arn:aws:connect:us-east-1:123456789012:instance/x/routing-profile/y"),
            ResourceRef::Arn("arn:aws:connect:us-east-1:123456789012:instance/x/routing-profile/y".into())
        );
        assert_eq!(
            ResourceRef::classify("6f2d9a3e-1b7c-4c1e-9d2a-0a1b2c3d4e5f"),
            ResourceRef::Id("6f2d9a3e-1b7c-4c1e-9d2a-0a1b2c3d4e5f".into())
        );
        assert_eq!(ResourceRef::classify("Basic Routing Profile"), ResourceRef::Name("Basic Routing Profile".into()));
    }

    #[test]
    fn modes_parse_in_api_and_relaxed_spelling() {
        assert_eq!(IdentityManagement::parse("saml"), Some(IdentityManagement::Saml));
        assert_eq!(IdentityManagement::parse("connect-managed"), Some(IdentityManagement::ConnectManaged));
        assert_eq!(IdentityManagement::parse("LDAP"), None);
        assert_eq!(TelephonyModel::parse("PARTNER_TELEPHONY"), Some(TelephonyModel::PartnerTelephony));
        assert!(!TelephonyModel::PartnerTelephony.has_connect_side());
    }
}
