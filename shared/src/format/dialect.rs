//! The three input dialects and the columns each one knows.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{IdentityManagement, TelephonyModel};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Salesforce's ContactCenterBulkOp CSV (Argument1..5, BulkAction).
    Bulkop,
    /// The Amazon Connect admin website's bulk-upload template.
    Connect,
    /// ccbulk's own superset.
    Ccbulk,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Bulkop, Dialect::Connect, Dialect::Ccbulk];

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Bulkop => "bulkop",
            Dialect::Connect => "connect",
            Dialect::Ccbulk => "ccbulk",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The identity management an instance fed this dialect most likely uses: Service Cloud Voice instances,
    /// where ContactCenterBulkOp files come from, authenticate through Salesforce as SAML IdP.
    pub fn default_identity_management(self) -> IdentityManagement {
        match self {
            Dialect::Bulkop => IdentityManagement::Saml,
            Dialect::Connect | Dialect::Ccbulk => IdentityManagement::ConnectManaged,
        }
    }

    pub(crate) fn columns(self) -> &'static [(&'static str, Field)] {
        match self {
            Dialect::Bulkop => BULKOP_COLUMNS,
            Dialect::Connect => CONNECT_COLUMNS,
            Dialect::Ccbulk => CCBULK_COLUMNS,
        }
    }

    /// Columns a header must have, given the setup the file is meant for.
    pub(crate) fn required(self, identity: IdentityManagement, telephony: TelephonyModel) -> Vec<Field> {
        match self {
            Dialect::Bulkop => {
                let mut fields = vec![Field::Email, Field::SalesforceUserId, Field::ContactCenter, Field::Action];
                if telephony.has_connect_side() {
                    fields.extend([Field::VoiceRole, Field::RoutingProfile]);
                }
                fields
            }
            Dialect::Connect => {
                let mut fields = vec![
                    Field::FirstName,
                    Field::LastName,
                    Field::Username,
                    Field::RoutingProfile,
                    Field::SecurityProfiles,
                    Field::PhoneType,
                ];
                if identity == IdentityManagement::ConnectManaged {
                    fields.push(Field::Password);
                }
                fields
            }
            Dialect::Ccbulk => vec![Field::Action],
        }
    }

    /// The header name a column has in this dialect's canonical spelling.
    pub fn column_name(self, field: Field) -> Option<&'static str> {
        self.columns().iter().find(|(_, f)| *f == field).map(|(name, _)| *name)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a column means, whatever the dialect calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Action,
    Username,
    Password,
    FirstName,
    LastName,
    Email,
    SecondaryEmail,
    Mobile,
    DirectoryUserId,
    RoutingProfile,
    SecurityProfiles,
    HierarchyGroup,
    HierarchyPath,
    PhoneType,
    PhoneNumber,
    AutoAccept,
    AcwTimeout,
    PersistentConnection,
    AutoAcceptPerChannel,
    AcwTimeoutPerChannel,
    PhonePerChannel,
    PersistentConnectionPerChannel,
    VoiceEnhancementPerChannel,
    Tags,
    QuickConnect,
    SalesforceUserId,
    SalesforceUsername,
    SalesforceAlias,
    SalesforceProfile,
    SalesforceFederationId,
    SalesforceTimeZone,
    SalesforceLocale,
    SalesforceLanguage,
    SalesforceEmailEncoding,
    ContactCenter,
    VoiceRole,
    /// Known read-only columns (ContactCenterBulkOp's Status, ErrorMessage, ...) that are accepted and not read.
    Ignored,
}

impl Field {
    pub(crate) const COUNT: usize = Field::Ignored as usize + 1;

    /// The most characters a cell of this field can hold and still be sent: the longest any receiving service takes
    /// in that column (Connect API reference, CreateUser and its types; Salesforce Object Reference, User), with
    /// room for what ccbulk reads around a value (an ARN instead of a name, `|`-separated lists). Where a finer rule
    /// knows the exact limit for the row's setup (a CONNECT_MANAGED username's 20, a Salesforce alias's 8), this
    /// ceiling sits at the longest such a column ever takes, so the finer rule keeps its own code. The ceiling keeps
    /// a cell of megabytes from going further than the row's error, and from being stored or quoted anywhere.
    pub fn max_chars(self) -> usize {
        match self {
            Field::Action | Field::PhoneType | Field::AutoAccept | Field::PersistentConnection => 32,
            Field::QuickConnect | Field::AcwTimeout | Field::VoiceRole => 32,
            // Connect: Username 1-100 (20 or 64 by identity management, the finer rule's); Password 8-64.
            // Salesforce: Username 80 and Alias 8, both checked by finer rules; an email address's 254 above them.
            Field::Username => 100,
            Field::Password => 64,
            Field::SalesforceUsername => 254,
            Field::SalesforceAlias => 64,
            // Connect UserIdentityInfo: FirstName up to 255, LastName up to 300 (by identity management, the finer
            // rule's); Salesforce FirstName 40, LastName 80.
            Field::FirstName | Field::LastName => 300,
            // RFC 5321: a forward path holds at most 256 octets, the address 254 of them.
            Field::Email | Field::SecondaryEmail => 254,
            // E.164: + and at most 15 digits, with room for the spaces people type.
            Field::Mobile | Field::PhoneNumber => 32,
            Field::DirectoryUserId | Field::SalesforceFederationId => 512,
            // A name (Connect: at most 127 characters) or an ARN.
            Field::RoutingProfile | Field::HierarchyGroup => 512,
            // At most 10 security profiles, each a name or an ARN; five hierarchy levels.
            Field::SecurityProfiles => 10 * 513,
            Field::HierarchyPath => 5 * 513,
            // Four channels, CHANNEL=value each.
            Field::AutoAcceptPerChannel
            | Field::AcwTimeoutPerChannel
            | Field::PhonePerChannel
            | Field::PersistentConnectionPerChannel
            | Field::VoiceEnhancementPerChannel => 512,
            // At most 50 tags, key 128 and value 256 characters each, with their separators.
            Field::Tags => 50 * (128 + 256 + 2),
            // 15 or 18 characters; 255 for a contact center's name or a profile's.
            Field::SalesforceUserId => 18,
            Field::ContactCenter | Field::SalesforceProfile => 255,
            // Picklist values: the longest time zone key is under 40 characters.
            Field::SalesforceTimeZone | Field::SalesforceLocale | Field::SalesforceLanguage => 64,
            Field::SalesforceEmailEncoding => 64,
            // Read-only columns of an exported ContactCenterBulkOp file (ErrorMessage is a long text area).
            Field::Ignored => 32_768,
        }
    }
}

/// ContactCenterBulkOp, as Salesforce documents it; the read-only result fields appear in exported files.
const BULKOP_COLUMNS: &[(&str, Field)] = &[
    ("Argument1", Field::Email),
    ("Argument2", Field::SalesforceUserId),
    ("Argument3", Field::VoiceRole),
    ("Argument4", Field::RoutingProfile),
    ("Argument5", Field::ContactCenter),
    ("BulkAction", Field::Action),
    ("Status", Field::Ignored),
    ("ErrorMessage", Field::Ignored),
    ("VoiceProvisioningJobID", Field::Ignored),
    ("Id", Field::Ignored),
];

/// The admin website's template: the 16-column, older 13- and 11-column headers, and the SAML variant, plus the
/// spellings that tools writing the template use. The first spelling of each field is the canonical one.
const CONNECT_COLUMNS: &[(&str, Field)] = &[
    ("first name", Field::FirstName),
    ("last name", Field::LastName),
    ("email address", Field::Email),
    ("secondary email address", Field::SecondaryEmail),
    ("mobile", Field::Mobile),
    ("mobile (not currently used)", Field::Mobile),
    ("password", Field::Password),
    ("user login", Field::Username),
    ("agent hierarchy", Field::HierarchyGroup),
    ("userhierarchy", Field::HierarchyGroup),
    ("user hierarchy", Field::HierarchyGroup),
    ("routing profile name", Field::RoutingProfile),
    ("security_profile_name_1|security_profile_name_2", Field::SecurityProfiles),
    ("user_hierarchy_1|user_hierarchy_2", Field::HierarchyPath),
    ("phone type (soft/desk)", Field::PhoneType),
    ("phone number", Field::PhoneNumber),
    ("soft phone auto accept (yes/no)", Field::AutoAccept),
    ("acw timeout (seconds)", Field::AcwTimeout),
    ("tags", Field::Tags),
];

const CCBULK_COLUMNS: &[(&str, Field)] = &[
    ("action", Field::Action),
    ("username", Field::Username),
    ("password", Field::Password),
    ("first_name", Field::FirstName),
    ("last_name", Field::LastName),
    ("email", Field::Email),
    ("secondary_email", Field::SecondaryEmail),
    ("mobile", Field::Mobile),
    ("directory_user_id", Field::DirectoryUserId),
    ("routing_profile", Field::RoutingProfile),
    ("security_profiles", Field::SecurityProfiles),
    ("hierarchy_group", Field::HierarchyGroup),
    ("phone_type", Field::PhoneType),
    ("desk_phone_number", Field::PhoneNumber),
    ("auto_accept", Field::AutoAccept),
    ("acw_timeout", Field::AcwTimeout),
    ("persistent_connection", Field::PersistentConnection),
    ("auto_accept_per_channel", Field::AutoAcceptPerChannel),
    ("acw_timeout_per_channel", Field::AcwTimeoutPerChannel),
    ("phone_per_channel", Field::PhonePerChannel),
    ("persistent_connection_per_channel", Field::PersistentConnectionPerChannel),
    ("voice_enhancement_per_channel", Field::VoiceEnhancementPerChannel),
    ("tags", Field::Tags),
    ("quick_connect", Field::QuickConnect),
    ("sf_user_id", Field::SalesforceUserId),
    ("sf_username", Field::SalesforceUsername),
    ("sf_alias", Field::SalesforceAlias),
    ("sf_profile", Field::SalesforceProfile),
    ("sf_federation_id", Field::SalesforceFederationId),
    ("sf_time_zone", Field::SalesforceTimeZone),
    ("sf_locale", Field::SalesforceLocale),
    ("sf_language", Field::SalesforceLanguage),
    ("sf_email_encoding", Field::SalesforceEmailEncoding),
    ("contact_center", Field::ContactCenter),
    ("role", Field::VoiceRole),
];

/// Header names compare after trimming, lower-casing and folding runs of white space.
pub(crate) fn normalize_column_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The field a (normalized) header name stands for in a dialect.
pub(crate) fn lookup(dialect: Dialect, normalized: &str) -> Option<Field> {
    dialect.columns().iter().find(|(name, _)| normalize_column_name(name) == normalized).map(|(_, field)| *field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_but_ignored_has_a_canonical_name_somewhere() {
        for field in [Field::Username, Field::Email, Field::Action, Field::RoutingProfile] {
            assert!(Dialect::ALL.iter().any(|d| d.column_name(field).is_some()), "{field:?}");
        }
        assert_eq!(Dialect::Bulkop.column_name(Field::VoiceRole), Some("Argument3"));
        assert_eq!(Dialect::Connect.column_name(Field::Mobile), Some("mobile"));
    }

    #[test]
    fn names_compare_loosely() {
        assert_eq!(normalize_column_name("  Phone   Type (soft/desk) "), "phone type (soft/desk)");
        assert_eq!(lookup(Dialect::Bulkop, "argument1"), Some(Field::Email));
        assert_eq!(lookup(Dialect::Connect, "user login"), Some(Field::Username));
        assert_eq!(lookup(Dialect::Ccbulk, "user login"), None);
    }

    #[test]
    fn partner_telephony_bulkop_files_need_no_argument3_or_4() {
        let pt = Dialect::Bulkop.required(IdentityManagement::Saml, TelephonyModel::PartnerTelephony);
        assert!(!pt.contains(&Field::VoiceRole) && !pt.contains(&Field::RoutingProfile));
        let ac = Dialect::Bulkop.required(IdentityManagement::Saml, TelephonyModel::AmazonConnect);
        assert!(ac.contains(&Field::VoiceRole) && ac.contains(&Field::RoutingProfile));
    }
}
