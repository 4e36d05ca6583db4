//! Whole-file validation, dialect by dialect and rule by rule.

use std::collections::BTreeSet;

use super::*;
use crate::domain::{Action, ContactCenterRef, PhoneType, ResourceRef, SalesforceUserRef, VoiceRole};
use crate::format::Field;

const PT: TelephonyModel = TelephonyModel::PartnerTelephony;
const AC: TelephonyModel = TelephonyModel::AmazonConnect;

#[derive(Debug, Default)]
struct Collect {
    rows: Vec<UserRow>,
    errors: Vec<RowError>,
    chunks: Vec<Chunk>,
}

impl Visitor for Collect {
    fn row(&mut self, _range: ByteRange, outcome: &Result<UserRow, Vec<RowError>>) {
        match outcome {
            Ok(row) => self.rows.push(row.clone()),
            Err(errors) => self.errors.extend(errors.iter().cloned()),
        }
    }
    fn chunk(&mut self, chunk: &Chunk) {
        self.chunks.push(*chunk);
    }
}

fn run(
    csv: &str,
    identity: Option<IdentityManagement>,
    telephony: TelephonyModel,
) -> Result<(Summary, Collect), FileError> {
    let options = Options { identity_management: identity, telephony_model: telephony, ..Options::default() };
    let mut collect = Collect::default();
    let summary = validate(csv.as_bytes(), &options, &mut collect)?;
    Ok((summary, collect))
}

fn errors(csv: &str, identity: Option<IdentityManagement>, telephony: TelephonyModel) -> Vec<(u64, String, Rule)> {
    let (_, collect) = run(csv, identity, telephony).expect("the file itself is usable");
    collect.errors.into_iter().map(|e| (e.row, e.column, e.rule)).collect()
}

const CM: Option<IdentityManagement> = Some(IdentityManagement::ConnectManaged);
const SAML: Option<IdentityManagement> = Some(IdentityManagement::Saml);
const DIRECTORY: Option<IdentityManagement> = Some(IdentityManagement::ExistingDirectory);

const CCBULK_HEADER: &str = "action,username,password,first_name,last_name,email,routing_profile,security_profiles";
const GOOD_CCBULK: &str = "add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic Routing Profile,Agent";

const BULKOP_HEADER: &str = "Argument1,Argument2,Argument3,Argument4,Argument5,BulkAction";
const ARN: &str = "arn:aws:connect:us-west-2:123456789012:instance/abcd-1234/routing-profile/efgh-5678";

/// One row that breaks one rule, in a file that is otherwise fine.
struct Case {
    identity: Option<IdentityManagement>,
    telephony: TelephonyModel,
    csv: String,
    column: &'static str,
    rule: Rule,
}

fn ccbulk(columns: &str, values: &str, column: &'static str, rule: Rule) -> Case {
    Case {
        identity: CM,
        telephony: AC,
        csv: format!("{CCBULK_HEADER},{columns}\n{GOOD_CCBULK},{values}\n"),
        column,
        rule,
    }
}

fn ccbulk_row(row: &str, column: &'static str, rule: Rule) -> Case {
    Case { identity: CM, telephony: AC, csv: format!("{CCBULK_HEADER}\n{row}\n"), column, rule }
}

fn bulkop(row: &str, column: &'static str, rule: Rule) -> Case {
    Case { identity: SAML, telephony: AC, csv: format!("{BULKOP_HEADER}\n{row}\n"), column, rule }
}

fn cases() -> Vec<Case> {
    let connect_saml = "first name,last name,email address,user login,routing profile name,\
        security_profile_name_1|security_profile_name_2,phone type (soft/desk),phone number,\
        agent hierarchy,user_hierarchy_1|user_hierarchy_2";
    vec![
        ccbulk_row(
            "add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic Routing Profile,Agent,extra",
            "(column 9)",
            Rule::TooManyFields,
        ),
        ccbulk_row(
            "add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic Routing Profile",
            "security_profiles",
            Rule::TooFewFields,
        ),
        ccbulk_row(
            "add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic Routing Profile,\"Agent\nadd,x,Other1!Pass\"",
            "security_profiles",
            Rule::LineBreak,
        ),
        ccbulk_row(",jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic,Agent", "action", Rule::ActionMissing),
        ccbulk_row("create,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic,Agent", "action", Rule::ActionInvalid),
        ccbulk_row("add,,Passw0rd!,Jane,Doe,jane@example.com,Basic,Agent", "username", Rule::UsernameMissing),
        ccbulk_row(
            "add,jane.doe.contractor.x,Passw0rd!,Jane,Doe,jane@example.com,Basic,Agent",
            "username",
            Rule::UsernameTooLong,
        ),
        ccbulk_row("add,jdoe@corp,Passw0rd!,Jane,Doe,jane@example.com,Basic,Agent", "username", Rule::UsernameAtSign),
        Case {
            identity: SAML,
            telephony: AC,
            csv: format!("{CCBULK_HEADER}\nadd,jane doe,,Jane,Doe,jane@example.com,Basic,Agent\n"),
            column: "username",
            rule: Rule::UsernameCharacters,
        },
        ccbulk_row("add,jdoe,,Jane,Doe,jane@example.com,Basic,Agent", "password", Rule::PasswordMissing),
        ccbulk_row("add,jdoe,password,Jane,Doe,jane@example.com,Basic,Agent", "password", Rule::PasswordWeak),
        ccbulk_row("update,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic,Agent", "password", Rule::PasswordNotAllowed),
        Case {
            identity: SAML,
            telephony: AC,
            csv: format!("{CCBULK_HEADER}\nadd,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic,Agent\n"),
            column: "password",
            rule: Rule::PasswordNotAllowed,
        },
        ccbulk_row("add,jdoe,Passw0rd!,,Doe,jane@example.com,Basic,Agent", "first_name", Rule::NameMissing),
        ccbulk_row(
            &format!("add,jdoe,Passw0rd!,Jane,{},jane@example.com,Basic,Agent", "D".repeat(257)),
            "last_name",
            Rule::NameTooLong,
        ),
        ccbulk_row("add,jdoe,Passw0rd!,Zoe\u{308},Doe,jane@example.com,Basic,Agent", "first_name", Rule::NameNotNfc),
        ccbulk_row("add,jdoe,Passw0rd!,Jane,Doe,jane@example,Basic,Agent", "email", Rule::EmailInvalid),
        Case {
            identity: SAML,
            telephony: AC,
            csv: format!("{connect_saml}\nJane,Doe,jane@example.com,jane@example.com,Basic,Agent,soft,,,\n"),
            column: "email address",
            rule: Rule::EmailNotAllowed,
        },
        ccbulk("mobile", "555-0100", "mobile", Rule::PhoneNumberInvalid),
        ccbulk("phone_type", "cell", "phone_type", Rule::PhoneTypeInvalid),
        Case {
            identity: SAML,
            telephony: AC,
            csv: format!("{connect_saml}\nJane,Doe,,jane@example.com,Basic,Agent,,,,\n"),
            column: "phone type (soft/desk)",
            rule: Rule::PhoneTypeMissing,
        },
        ccbulk("phone_type", "desk", "desk_phone_number", Rule::DeskPhoneNumberMissing),
        ccbulk("auto_accept", "sometimes", "auto_accept", Rule::YesNoInvalid),
        ccbulk("acw_timeout", "-5", "acw_timeout", Rule::AcwInvalid),
        ccbulk(
            "auto_accept,auto_accept_per_channel",
            "yes,VOICE=yes",
            "auto_accept_per_channel",
            Rule::PhoneConfigConflict,
        ),
        ccbulk("phone_type,phone_per_channel", "soft,VOICE=soft", "phone_per_channel", Rule::PhoneConfigConflict),
        // Lists that take VOICE only, though their Channel enum lists all four.
        ccbulk("phone_per_channel", "CHAT=soft", "phone_per_channel", Rule::ChannelConfigInvalid),
        ccbulk(
            "persistent_connection_per_channel",
            "VOICE=yes|TASK=no",
            "persistent_connection_per_channel",
            Rule::ChannelConfigInvalid,
        ),
        ccbulk(
            "voice_enhancement_per_channel",
            "EMAIL=NONE",
            "voice_enhancement_per_channel",
            Rule::ChannelConfigInvalid,
        ),
        ccbulk(
            "acw_timeout,acw_timeout_per_channel",
            "10,CHAT=0",
            "acw_timeout_per_channel",
            Rule::PhoneConfigConflict,
        ),
        ccbulk(
            "persistent_connection,persistent_connection_per_channel",
            "yes,VOICE=no",
            "persistent_connection_per_channel",
            Rule::PhoneConfigConflict,
        ),
        ccbulk(
            "voice_enhancement_per_channel",
            "VOICE=LOUD",
            "voice_enhancement_per_channel",
            Rule::ChannelConfigInvalid,
        ),
        ccbulk_row(
            "add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,,Agent",
            "routing_profile",
            Rule::RoutingProfileMissing,
        ),
        bulkop(
            "jane@example.com,005xx000001X9qLAAS,Agent,Basic Routing Profile,04vxx0000004EHIAA2,AddUsers",
            "Argument4",
            Rule::RoutingProfileNotArn,
        ),
        ccbulk_row(
            "add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic,",
            "security_profiles",
            Rule::SecurityProfilesMissing,
        ),
        ccbulk_row(
            "add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic,A|B|C|D|E|F|G|H|I|J|K",
            "security_profiles",
            Rule::SecurityProfilesTooMany,
        ),
        ccbulk_row(
            "add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic,Agent|Agent",
            "security_profiles",
            Rule::SecurityProfilesDuplicate,
        ),
        Case {
            identity: SAML,
            telephony: AC,
            csv: format!("{connect_saml}\nJane,Doe,,jane@example.com,Basic,Agent,soft,,Sales/East,Sales|West\n"),
            column: "user_hierarchy_1|user_hierarchy_2",
            rule: Rule::HierarchyConflict,
        },
        ccbulk("tags", "team", "tags", Rule::TagsInvalid),
        ccbulk("tags", &(0..51).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("|"), "tags", Rule::TagsTooMany),
        ccbulk("tags", "cost#center=1", "tags", Rule::TagKeyInvalid),
        ccbulk("tags", "aws:team=blue", "tags", Rule::TagKeyReserved),
        ccbulk("tags", "team=blue|team=red", "tags", Rule::TagKeyDuplicate),
        ccbulk("tags", &format!("team={}", "v".repeat(257)), "tags", Rule::TagValueTooLong),
        Case {
            identity: SAML,
            telephony: AC,
            csv: format!("{CCBULK_HEADER},directory_user_id\nadd,jdoe,,Jane,Doe,jane@example.com,Basic,Agent,u-123\n"),
            column: "directory_user_id",
            rule: Rule::DirectoryUserIdNotAllowed,
        },
        Case {
            identity: SAML,
            telephony: PT,
            csv: "action,sf_user_id,routing_profile\nadd,005xx000001X9qLAAS,Basic\n".into(),
            column: "routing_profile",
            rule: Rule::ConnectNotApplicable,
        },
        ccbulk("sf_user_id", "005xx000001X9qLAAA", "sf_user_id", Rule::SalesforceIdInvalid),
        ccbulk("sf_user_id", "04vxx0000004EHIAA2", "sf_user_id", Rule::SalesforceIdWrongObject),
        Case {
            identity: SAML,
            telephony: PT,
            csv: "action,sf_user_id,contact_center\nadd,,04vxx0000004EHIAA2\n".into(),
            column: "sf_user_id",
            rule: Rule::SalesforceUserMissing,
        },
        ccbulk("role", "Agent", "username", Rule::SalesforceUsernameInvalid),
        ccbulk("sf_user_id,sf_alias", "005xx000001X9qLAAS,jdoe-12345", "sf_alias", Rule::AliasInvalid),
        ccbulk("sf_user_id,sf_time_zone", "005xx000001X9qLAAS,PST", "sf_time_zone", Rule::TimeZoneInvalid),
        ccbulk("sf_user_id,sf_locale", "005xx000001X9qLAAS,en-US", "sf_locale", Rule::LocaleInvalid),
        ccbulk("sf_user_id,sf_language", "005xx000001X9qLAAS,English", "sf_language", Rule::LanguageInvalid),
        ccbulk(
            "sf_user_id,sf_email_encoding",
            "005xx000001X9qLAAS,UTF8",
            "sf_email_encoding",
            Rule::EmailEncodingInvalid,
        ),
        ccbulk("sf_username,role", "jane@example.com.sandbox,Manager", "role", Rule::RoleInvalid),
        bulkop(
            &format!("jane@example.com,005xx000001X9qLAAS,agent,{ARN},04vxx0000004EHIAA2,AddUsers"),
            "Argument3",
            Rule::RoleInvalid,
        ),
        bulkop(
            &format!("jane@example.com,005xx000001X9qLAAS,,{ARN},04vxx0000004EHIAA2,AddUsers"),
            "Argument3",
            Rule::RoleMissing,
        ),
        Case {
            identity: SAML,
            telephony: PT,
            csv: format!("{BULKOP_HEADER}\njane@example.com,005xx000001X9qLAAS,Agent,,04vxx0000004EHIAA2,AddUsers\n"),
            column: "Argument3",
            rule: Rule::RoleNotAllowed,
        },
        bulkop(
            &format!("jane@example.com,005xx000001X9qLAAS,Agent,{ARN},,AddUsers"),
            "Argument5",
            Rule::ContactCenterMissing,
        ),
        bulkop(
            &format!(",005xx000001X9qLAAS,Agent,{ARN},04vxx0000004EHIAA2,AddUsers"),
            "Argument1",
            Rule::EmailMissing,
        ),
        bulkop(
            &format!("jane@example.com,005xx000001X9qLAAS,Agent,{ARN},04vxx0000004EHIAA2,addusers"),
            "BulkAction",
            Rule::ActionInvalid,
        ),
        Case {
            identity: CM,
            telephony: AC,
            csv: format!("{CCBULK_HEADER}\n{GOOD_CCBULK}\n{}\n", GOOD_CCBULK.replace("jdoe", "JDoe")),
            column: "username",
            rule: Rule::DuplicateUsername,
        },
        bulkop(
            &format!(
                "jane@example.com,005xx000001X9qLAAS,Agent,{ARN},04vxx0000004EHIAA2,AddUsers\n\
                 jane2@example.com,005xx000001X9qL,Agent,{ARN},04vxx0000004EHIAA2,AddUsers"
            ),
            "Argument2",
            Rule::DuplicateSalesforceUser,
        ),
        Case {
            identity: CM,
            telephony: AC,
            csv: format!(
                "{CCBULK_HEADER},sf_federation_id\n{GOOD_CCBULK},jane.doe@idp\n{},Jane.Doe@IdP\n",
                GOOD_CCBULK.replace("jdoe", "asmith")
            ),
            column: "sf_federation_id",
            rule: Rule::DuplicateFederationId,
        },
        Case {
            identity: CM,
            telephony: AC,
            csv: format!("{CCBULK_HEADER}\n{}\n", GOOD_CCBULK.replace("Basic", &"r".repeat(600))),
            column: "routing_profile",
            rule: Rule::CellTooLong,
        },
    ]
}

/// 99 rows, each with a 50 KB cell in a different column: every row is invalid for that cell alone, by its length,
/// and no message repeats any of it. Nothing of the rows' 5 MB travels into the errors.
#[test]
fn cells_of_fifty_kilobytes_are_refused_by_length_and_never_quoted() {
    let columns: Vec<&str> = CCBULK_HEADER.split(',').collect();
    let mut csv = format!("{CCBULK_HEADER}\n");
    for i in 0..99 {
        let mut cells: Vec<String> = GOOD_CCBULK.split(',').map(str::to_owned).collect();
        cells[1] = format!("user{i}");
        cells[i % columns.len()] = "z".repeat(50 * 1024);
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    let (summary, collect) = run(&csv, CM, AC).unwrap();
    assert_eq!((summary.rows, summary.invalid), (99, 99));
    for error in &collect.errors {
        assert!(!error.message.contains("zzzzzz"), "{error:?}");
        assert!(error.message.len() < 300, "{error:?}");
    }
    let too_long: Vec<&RowError> = collect.errors.iter().filter(|e| e.rule == Rule::CellTooLong).collect();
    assert_eq!(too_long.len(), 99, "each row's long cell, once: {:?}", collect.errors);
    assert!(too_long[0].message.contains("51200 characters"), "{:?}", too_long[0]);
}

#[test]
fn every_rule_has_a_failing_case_that_names_its_column() {
    let mut covered = BTreeSet::new();
    for (i, case) in cases().into_iter().enumerate() {
        let found = errors(&case.csv, case.identity, case.telephony);
        assert!(
            found.iter().any(|(_, column, rule)| *rule == case.rule && column == case.column),
            "case {i}: expected {} in column {:?}, got {found:?}",
            case.rule.code(),
            case.column
        );
        covered.insert(case.rule);
    }
    // The UTF-8 rule needs bytes no &str case can hold.
    let mut bytes = format!("{CCBULK_HEADER}\n").into_bytes();
    bytes.extend_from_slice(b"add,jdoe,Passw0rd!,J\xffne,Doe,jane@example.com,Basic,Agent\n");
    let options = Options { identity_management: CM, ..Options::default() };
    let mut collect = Collect::default();
    validate(&bytes[..], &options, &mut collect).unwrap();
    assert_eq!(collect.errors.len(), 1, "{:?}", collect.errors);
    assert_eq!((collect.errors[0].column.as_str(), collect.errors[0].rule), ("first_name", Rule::NotUtf8));
    covered.insert(Rule::NotUtf8);

    let missing: Vec<&str> = Rule::ALL.iter().filter(|r| !covered.contains(r)).map(|r| r.code()).collect();
    assert!(missing.is_empty(), "rules without a failing case: {missing:?}");
}

#[test]
fn a_bad_row_fails_alone_and_errors_are_complete() {
    let csv = format!(
        "{CCBULK_HEADER}\n{GOOD_CCBULK}\nadd,toolong.username.for.connect,weak,,Doe,nope,Basic,Agent\n{}\n",
        GOOD_CCBULK.replace("jdoe", "asmith")
    );
    let (summary, collect) = run(&csv, CM, AC).unwrap();
    assert_eq!((summary.rows, summary.valid, summary.invalid), (3, 2, 1));
    let rules: Vec<(u64, Rule)> = collect.errors.iter().map(|e| (e.row, e.rule)).collect();
    assert_eq!(
        rules,
        vec![(3, Rule::UsernameTooLong), (3, Rule::PasswordWeak), (3, Rule::NameMissing), (3, Rule::EmailInvalid)]
    );
    assert_eq!(collect.rows.iter().map(|r| r.row).collect::<Vec<_>>(), vec![2, 4]);
    assert_eq!(summary.rules.get("password.weak"), Some(&1));
    // Rows 2 and 4 are split by the invalid row 3: two chunks.
    assert_eq!(collect.chunks.iter().map(|c| (c.first_row, c.rows)).collect::<Vec<_>>(), vec![(2, 1), (4, 1)]);
}

#[test]
fn error_messages_never_contain_the_password() {
    let csv = format!("{CCBULK_HEADER}\nadd,jdoe,lowercase-secret-x,Jane,Doe,jane@example.com,Basic,Agent\n");
    let (_, collect) = run(&csv, CM, AC).unwrap();
    assert_eq!(collect.errors.len(), 1);
    assert!(!collect.errors[0].message.contains("lowercase-secret-x"));
}

#[test]
fn a_full_ccbulk_row_becomes_both_halves() {
    let csv = "action,username,password,first_name,last_name,email,routing_profile,security_profiles,\
        hierarchy_group,phone_type,desk_phone_number,auto_accept,acw_timeout,tags,quick_connect,sf_username,sf_alias,\
        contact_center,role\n\
        add,jdoe,Passw0rd!,Jane,Doe,jane@example.com,Basic Routing Profile,Agent|CallCenterManager,Sales/East,desk,\
        +14155550123,yes,30,team=blue|site=east,yes,jane.doe@example.com,jdoe,04vxx0000004EHI,supervisor\n";
    let (_, collect) = run(csv, CM, AC).unwrap();
    assert!(collect.errors.is_empty(), "{:?}", collect.errors);
    let row = &collect.rows[0];
    assert_eq!((row.row, row.action), (2, Action::Add));
    let connect = row.connect.as_ref().unwrap();
    assert_eq!(connect.username.as_deref(), Some("jdoe"));
    assert_eq!(connect.password.as_ref().map(|p| p.expose()), Some("Passw0rd!"));
    assert_eq!(
        connect.security_profiles,
        vec![ResourceRef::Name("Agent".into()), ResourceRef::Name("CallCenterManager".into())]
    );
    assert_eq!(connect.hierarchy_group, Some(ResourceRef::Name("Sales/East".into())));
    assert_eq!(connect.phone.phone_type, Some(PhoneType::DeskPhone));
    assert_eq!(connect.phone.desk_phone_number.as_deref(), Some("+14155550123"));
    assert_eq!((connect.phone.auto_accept, connect.phone.after_contact_work_seconds), (Some(true), Some(30)));
    assert_eq!(connect.tags.len(), 2);
    assert_eq!(connect.quick_connect, Some(true));
    let salesforce = row.salesforce.as_ref().unwrap();
    assert_eq!(salesforce.user, SalesforceUserRef::Username("jane.doe@example.com".into()));
    assert_eq!(salesforce.fields.alias.as_deref(), Some("jdoe"));
    assert_eq!(salesforce.fields.email.as_deref(), Some("jane@example.com"));
    assert_eq!(salesforce.role, Some(VoiceRole::CallCenterManager));
    let Some(ContactCenterRef::Id(id)) = &salesforce.contact_center else { panic!("expected a contact center id") };
    assert_eq!(id.as_str(), "04vxx0000004EHIAA2");
}

#[test]
fn bulkop_rows_convert_15_character_ids_and_map_argument3() {
    let csv =
        format!("{BULKOP_HEADER}\njane@example.com,005xx000001X9qL,CallCenterManager,{ARN},04vxx0000004EHI,AddUsers\n");
    let (summary, collect) = run(&csv, None, AC).unwrap();
    assert_eq!(summary.setup.identity_management, IdentityManagement::Saml, "bulkop defaults to SAML");
    let row = &collect.rows[0];
    let salesforce = row.salesforce.as_ref().unwrap();
    assert_eq!(salesforce.user, SalesforceUserRef::Id(crate::sfid::SalesforceId::parse("005xx000001X9qLAAS").unwrap()));
    assert_eq!(salesforce.role, Some(VoiceRole::CallCenterManager));
    let connect = row.connect.as_ref().unwrap();
    assert_eq!(connect.username, None, "the Connect username comes from the Salesforce user");
    assert_eq!(connect.routing_profile, Some(ResourceRef::Arn(ARN.into())));
    assert_eq!(connect.security_profiles, vec![ResourceRef::Name("CallCenterManager".into())]);
}

#[test]
fn partner_telephony_bulkop_rows_have_no_connect_side() {
    let csv =
        "Argument1,Argument2,Argument5,BulkAction\njane@example.com,005xx000001X9qLAAS,04vxx0000004EHIAA2,AddUsers\n";
    let (_, collect) = run(csv, None, PT).unwrap();
    assert!(collect.errors.is_empty(), "{:?}", collect.errors);
    assert!(collect.rows[0].connect.is_none());
    // The Amazon Connect variant needs Argument3 and Argument4.
    assert!(matches!(run(csv, None, AC), Err(FileError::Columns { .. })));
}

#[test]
fn remove_and_update_rows_need_only_the_user() {
    let csv = format!("{CCBULK_HEADER}\nremove,jdoe,,,,,,\nupdate,asmith,,,,,,Agent|Admin\n");
    let (summary, collect) = run(&csv, CM, AC).unwrap();
    assert_eq!(summary.invalid, 0, "{:?}", collect.errors);
    assert_eq!(collect.rows[0].action, Action::Remove);
    assert_eq!(collect.rows[1].connect.as_ref().unwrap().security_profiles.len(), 2);
    let bulkop = format!("{BULKOP_HEADER}\njane@example.com,005xx000001X9qLAAS,,,,RemoveUsers\n");
    assert_eq!(run(&bulkop, None, AC).unwrap().0.valid, 1);
}

#[test]
fn existing_directory_users_need_no_names_or_password() {
    let csv = "action,username,routing_profile,security_profiles,directory_user_id\nadd,jdoe,Basic,Agent,S-1-5-21\n";
    let (summary, collect) = run(csv, DIRECTORY, AC).unwrap();
    assert_eq!(summary.valid, 1, "{:?}", collect.errors);
    assert_eq!(collect.rows[0].connect.as_ref().unwrap().directory_user_id.as_deref(), Some("S-1-5-21"));
}

#[test]
fn duplicates_name_the_earlier_row() {
    let csv = format!("{CCBULK_HEADER}\n{GOOD_CCBULK}\n{}\n{GOOD_CCBULK}\n", GOOD_CCBULK.replace("jdoe", "other"));
    let (summary, collect) = run(&csv, CM, AC).unwrap();
    assert_eq!((summary.valid, summary.invalid), (2, 1));
    assert_eq!(collect.errors[0].row, 4);
    assert!(collect.errors[0].message.contains("row 2"), "{}", collect.errors[0].message);
}

#[test]
fn file_level_problems() {
    assert_eq!(run(&format!("{CCBULK_HEADER}\n"), CM, AC).unwrap_err(), FileError::NoRows);
    assert_eq!(run("", CM, AC).unwrap_err(), FileError::Empty);
    let connect = "first name,last name,user login,routing profile name,\
        security_profile_name_1|security_profile_name_2,phone type (soft/desk)\nJane,Doe,jdoe,Basic,Agent,soft\n";
    assert!(matches!(run(connect, SAML, PT), Err(FileError::NotForSetup { dialect: Dialect::Connect, .. })));
    let bulkop =
        format!("{BULKOP_HEADER}\njane@example.com,005xx000001X9qLAAS,Agent,{ARN},04vxx0000004EHIAA2,AddUsers\n");
    assert!(matches!(run(&bulkop, CM, AC), Err(FileError::NotForSetup { dialect: Dialect::Bulkop, .. })));
}

#[test]
fn the_salesforce_side_of_a_connect_template_row_is_absent() {
    let csv = "first name,last name,email address,password,user login,routing profile name,\
        security_profile_name_1|security_profile_name_2,phone type (soft/desk),phone number,\
        soft phone auto accept (yes/no),ACW timeout (seconds)\n\
        Jane,Doe,jane@example.com,Passw0rd!,jdoe,Basic Routing Profile,Agent|Admin,soft,,yes,0\n";
    let (_, collect) = run(csv, None, AC).unwrap();
    assert!(collect.errors.is_empty(), "{:?}", collect.errors);
    let row = &collect.rows[0];
    assert!(row.salesforce.is_none());
    assert_eq!(row.connect.as_ref().unwrap().identity.email.as_deref(), Some("jane@example.com"));
    assert_eq!(Dialect::Connect.column_name(Field::Username), Some("user login"));
}

#[test]
fn hierarchy_columns_may_both_name_the_same_group() {
    let header = "first name,last name,user login,routing profile name,\
        security_profile_name_1|security_profile_name_2,phone type (soft/desk),agent hierarchy,\
        user_hierarchy_1|user_hierarchy_2";
    let csv = format!(
        "{header}\nJane,Doe,jdoe,Basic,Agent,soft,East,Sales|East\nBo,Li,bli,Basic,Agent,soft,Sales/East,Sales|East\n\
         Al,Ng,ang,Basic,Agent,soft,West,Sales|East\n"
    );
    let (summary, collect) = run(&csv, SAML, AC).unwrap();
    assert_eq!((summary.valid, summary.invalid), (2, 1), "{:?}", collect.errors);
    assert_eq!(collect.rows[0].connect.as_ref().unwrap().hierarchy_group, Some(ResourceRef::Name("Sales/East".into())));
    assert_eq!((collect.errors[0].row, collect.errors[0].rule), (4, Rule::HierarchyConflict));
}
