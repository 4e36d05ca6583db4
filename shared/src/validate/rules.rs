//! The validation rules: each has a stable code (what machines match on) and a title (what people read).

use serde::{Serialize, Serializer};

macro_rules! rules {
    ($($variant:ident => $code:literal, $title:literal;)*) => {
        /// A row-level validation rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $($variant),* }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The stable code, e.g. `username.too_long`.
            pub fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code),* }
            }

            /// One line that says what the rule demands.
            pub fn title(self) -> &'static str {
                match self { $(Rule::$variant => $title),* }
            }
        }
    };
}

rules! {
    TooManyFields => "row.too_many_fields", "a row has no more fields than the header has columns";
    TooFewFields => "row.too_few_fields", "a row has a field for every column of the header (blank if need be)";
    LineBreak => "row.line_break", "cells hold no line breaks (a quote left open runs the lines below into one cell)";
    NotUtf8 => "row.not_utf8", "text is UTF-8";
    CellTooLong => "cell.too_long", "a cell holds no more than its column's service takes";
    ActionMissing => "action.missing", "every row says what to do";
    ActionInvalid => "action.invalid", "the action is one the dialect knows";
    UsernameMissing => "username.missing", "every user has a username";
    UsernameTooLong => "username.too_long", "Connect usernames fit the instance's length limit";
    UsernameCharacters => "username.characters", "usernames use only a-z A-Z 0-9 _ - . @";
    UsernameAtSign => "username.at_sign", "a username has @ only in the form of an email address";
    PasswordMissing => "password.missing", "CONNECT_MANAGED instances need a password for a new user";
    PasswordNotAllowed => "password.not_allowed", "a password is given only where Connect takes one";
    PasswordWeak => "password.weak", "passwords have 8-64 characters with a lower-case letter, an upper-case letter and a digit, and no spaces";
    NameMissing => "name.missing", "CONNECT_MANAGED and SAML users have a first and a last name";
    NameTooLong => "name.too_long", "names fit Connect's length limits";
    NameNotNfc => "name.not_nfc", "names are in Unicode normalization form C";
    EmailInvalid => "email.invalid", "email addresses look like name@domain.tld";
    EmailNotAllowed => "email.not_allowed", "SAML instances take no primary email in Connect";
    EmailMissing => "email.missing", "a Salesforce user has an email address";
    PhoneNumberInvalid => "phone_number.invalid", "phone numbers are in E.164 form (+ then up to 15 digits)";
    PhoneTypeInvalid => "phone_type.invalid", "the phone type is soft or desk";
    PhoneTypeMissing => "phone_type.missing", "a new Connect user has a phone type";
    DeskPhoneNumberMissing => "phone_number.missing", "a desk phone has a phone number";
    YesNoInvalid => "yes_no.invalid", "yes/no columns hold yes or no";
    AcwInvalid => "acw_timeout.invalid", "the after-contact-work timeout is a whole number of seconds from 0 to 2000000";
    PhoneConfigConflict => "phone_config.conflict", "a phone setting is given either for all channels or per channel, not both";
    ChannelConfigInvalid => "channel_config.invalid", "per-channel settings read CHANNEL=value, separated by |";
    RoutingProfileMissing => "routing_profile.missing", "a new Connect user has a routing profile";
    RoutingProfileNotArn => "routing_profile.not_arn", "Argument4 is a routing-profile ARN";
    SecurityProfilesMissing => "security_profiles.missing", "a new Connect user has at least one security profile";
    SecurityProfilesTooMany => "security_profiles.too_many", "a user has at most 10 security profiles";
    SecurityProfilesDuplicate => "security_profiles.duplicate", "each security profile is named once";
    HierarchyConflict => "hierarchy.conflict", "the two hierarchy columns agree";
    TagsInvalid => "tags.invalid", "tags read key=value (or key:value), separated by |";
    TagsTooMany => "tags.too_many", "a user has at most 50 tags";
    TagKeyInvalid => "tags.key_invalid", "tag keys have 1-128 letters, digits, spaces or _ . : / = + - @";
    TagKeyReserved => "tags.key_reserved", "tag keys do not start with aws:";
    TagKeyDuplicate => "tags.key_duplicate", "each tag key is given once";
    TagValueTooLong => "tags.value_too_long", "tag values have at most 256 characters";
    DirectoryUserIdNotAllowed => "directory_user_id.not_allowed", "SAML instances take no DirectoryUserId";
    ConnectNotApplicable => "connect.not_applicable", "Partner Telephony rows carry no Amazon Connect settings";
    SalesforceIdInvalid => "salesforce_id.invalid", "Salesforce ids have 15 or 18 letters and digits and a valid checksum";
    SalesforceIdWrongObject => "salesforce_id.wrong_object", "a Salesforce id names the right kind of record";
    SalesforceUserMissing => "salesforce_user.missing", "the row names its Salesforce user";
    SalesforceUsernameInvalid => "salesforce_username.invalid", "Salesforce usernames are in the form of an email address (at most 80 characters)";
    AliasInvalid => "alias.invalid", "Salesforce aliases have at most 8 characters from a-z A-Z 0-9 _ - .";
    TimeZoneInvalid => "time_zone.invalid", "a Salesforce time zone is an IANA name such as America/New_York, or GMT";
    LocaleInvalid => "locale.invalid", "a Salesforce locale is a code such as en_US";
    LanguageInvalid => "language.invalid", "a Salesforce language is a code such as en_US or de";
    EmailEncodingInvalid => "email_encoding.invalid", "a Salesforce email encoding is one of the values Salesforce lists, such as UTF-8";
    RoleInvalid => "role.invalid", "the role is Admin, Agent or CallCenterManager (case-sensitive in Argument3)";
    RoleNotAllowed => "role.not_allowed", "Partner Telephony rows have no Argument3 or Argument4";
    RoleMissing => "role.missing", "Argument3 is given for Amazon Connect telephony";
    ContactCenterMissing => "contact_center.missing", "AddUsers rows name their contact center";
    DuplicateUsername => "duplicate.username", "each username appears once in a file";
    DuplicateSalesforceUser => "duplicate.salesforce_user", "each Salesforce user appears once in a file";
    DuplicateFederationId => "duplicate.federation_id", "each federation id appears once in a file (Salesforce keeps them unique in an org)";
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// One broken rule in one cell of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: u64,
    /// The column as the file's header spells it.
    pub column: String,
    pub rule: Rule,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_dotted() {
        let codes: HashSet<_> = Rule::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), Rule::ALL.len());
        assert!(Rule::ALL.iter().all(|r| r.code().contains('.') && !r.title().is_empty()));
    }

    #[test]
    fn serializes_as_its_code() {
        assert_eq!(serde_json::to_string(&Rule::UsernameTooLong).unwrap(), "\"username.too_long\"");
    }
}
