//! `ccbulk validate` through the binary: exit codes, the JSON contract, the example files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn ccbulk() -> Command {
    Command::cargo_bin("ccbulk").expect("the ccbulk binary is built")
}

fn write_temp(contents: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(file.path(), contents).unwrap();
    file
}

/// `ccbulk validate FILE [--json]`: its exit code, and all it printed on stdout and stderr.
fn validate_output(file: &Path, json: bool) -> (Option<i32>, String) {
    let mut command = ccbulk();
    command.arg("validate").arg(file);
    if json {
        command.arg("--json");
    }
    let output = command.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), text)
}

fn json_of(args: &[&str], file: &Path) -> (i32, Value) {
    let output = ccbulk().arg("validate").arg(file).args(args).arg("--json").output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"));
    (output.status.code().unwrap(), value)
}

#[test]
fn every_valid_example_passes() {
    for (file, args) in [
        ("ccbulk-agents.csv", &[][..]),
        ("connect-template.csv", &[][..]),
        ("connect-template-saml.csv", &["--identity-management", "SAML"][..]),
        ("bulkop-amazon-connect.csv", &[][..]),
        ("bulkop-partner-telephony.csv", &["--telephony-model", "partner-telephony"][..]),
    ] {
        let (code, report) = json_of(args, &examples().join(file));
        assert_eq!(code, 0, "{file}: {report}");
        assert_eq!(report["invalid"], 0, "{file}");
        assert!(report["rows"].as_u64().unwrap() >= 20, "{file} has tens of rows");
        assert_eq!(report["errors"], Value::Array(vec![]));
    }
}

#[test]
fn the_errors_example_reports_each_bad_row_with_its_rule() {
    let (code, report) = json_of(&[], &examples().join("errors.csv"));
    assert_eq!(code, 1);
    assert_eq!(report["dialect"], "ccbulk");
    assert_eq!(
        (report["rows"].as_u64(), report["valid"].as_u64(), report["invalid"].as_u64()),
        (Some(22), Some(1), Some(21))
    );
    let errors = report["errors"].as_array().unwrap();
    let found = |row: u64, rule: &str| errors.iter().any(|e| e["row"] == row && e["rule"] == rule);
    // Row 2 has a quoted line break: it stays one row (an error of its own), and every row after it keeps its
    // spreadsheet number.
    for (row, rule) in [
        (2, "row.line_break"),
        (3, "username.too_long"),
        (4, "password.weak"),
        (5, "password.missing"),
        (6, "email.invalid"),
        (6, "phone_number.invalid"),
        (7, "phone_type.invalid"),
        (8, "yes_no.invalid"),
        (8, "acw_timeout.invalid"),
        (9, "security_profiles.too_many"),
        (10, "tags.key_reserved"),
        (11, "tags.key_duplicate"),
        (12, "salesforce_id.invalid"),
        (13, "salesforce_id.wrong_object"),
        (14, "alias.invalid"),
        (15, "role.invalid"),
        (16, "action.invalid"),
        (17, "duplicate.username"),
        (18, "name.not_nfc"),
        (19, "password.not_allowed"),
        (21, "phone_number.missing"),
        (22, "username.at_sign"),
        (23, "row.too_many_fields"),
    ] {
        assert!(found(row, rule), "row {row} {rule} missing from {errors:#?}");
    }
    assert!(!errors.iter().any(|e| e["row"] == 20), "row 20 is valid");
    assert_eq!(errors.iter().filter(|e| e["row"] == 2).count(), 1, "row 2 breaks only the line-break rule");
    for error in errors {
        for key in ["row", "column", "rule", "message"] {
            assert!(!error[key].is_null(), "{key} in {error}");
        }
    }
}

#[test]
fn the_human_report_names_row_column_and_rule() {
    ccbulk()
        .arg("validate")
        .arg(examples().join("errors.csv"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "row 17, column \"username\": the same username is already in row 2 [duplicate.username]",
        ))
        .stdout(predicate::str::contains("22 rows: 1 valid, 21 invalid"));
}

#[test]
fn passwords_never_reach_the_output() {
    let file = write_temp(
        b"action,username,password,first_name,last_name\nadd,jdoe,weakpassword,Jane,Doe\nupdate,asmith,Sup3rSecret!,A,Smith\n",
    );
    for json in [false, true] {
        let (_, text) = validate_output(file.path(), json);
        assert!(text.contains("password.weak") && text.contains("password.not_allowed"), "{text}");
        assert!(!text.contains("weakpassword") && !text.contains("Sup3rSecret"), "{text}");
    }
}

#[test]
fn an_unusable_file_exits_2_with_a_file_level_error() {
    let unknown = write_temp(b"name,phone\nJane,+14155550123\n");
    let (code, report) = json_of(&[], unknown.path());
    assert_eq!(code, 2);
    assert_eq!(report["error"]["rule"], "header.unknown_dialect");

    let incomplete = write_temp(b"Argument1,Argument2,Argumnet3,Argument4,BulkAction\n");
    let (code, report) = json_of(&[], incomplete.path());
    assert_eq!(code, 2);
    assert_eq!(report["dialect"], "bulkop");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("missing column(s): Argument5, Argument3"), "{message}");
    assert!(message.contains("unknown column(s): column 3 (not shown; \"Argument3\"?)"), "{message}");

    ccbulk()
        .args(["validate", "/nonexistent/users.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read the file"));

    let empty = write_temp(b"");
    assert_eq!(json_of(&[], empty.path()).1["error"]["rule"], "file.empty");
}

#[test]
fn bom_crlf_quoted_newlines_and_trailing_blank_lines() {
    let file = write_temp(
        b"\xEF\xBB\xBF action , Username ,password,first_name,last_name,routing_profile,security_profiles,tags\r\n\
          add,jdoe,Passw0rd!,Jane,Doe,Basic,Agent,\"note=two\r\nlines\"\r\n\
          add,bad user name that is long,Passw0rd!,Bo,Li,Basic,Agent,\r\n\r\n\r\n",
    );
    let (code, report) = json_of(&[], file.path());
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["rows"], 2);
    assert_eq!((&report["errors"][0]["row"], &report["errors"][0]["rule"]), (&2.into(), &"row.line_break".into()));
    assert_eq!(report["errors"][1]["row"], 3, "the quoted line break kept row 2 one row");
    assert_eq!(report["errors"][1]["column"], "Username");
}

#[test]
fn the_dialect_can_be_forced_and_modes_change_the_rules() {
    let saml_template = examples().join("connect-template-saml.csv");
    // The SAML template has no password column: incomplete for a CONNECT_MANAGED instance.
    let (code, report) = json_of(&["--identity-management", "CONNECT_MANAGED"], &saml_template);
    assert_eq!((code, report["error"]["rule"].as_str()), (2, Some("header.columns")));
    let (code, report) = json_of(&["--dialect", "bulkop"], &examples().join("ccbulk-agents.csv"));
    assert_eq!((code, report["error"]["rule"].as_str()), (2, Some("header.columns")));
    ccbulk()
        .args(["validate", "x.csv", "--identity-management", "LDAP"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected CONNECT_MANAGED, SAML or EXISTING_DIRECTORY"));
}

/// Files in each dialect that mix valid and invalid rows: exactly the invalid rows are reported.
#[test]
fn mixed_files_flag_exactly_their_invalid_rows() {
    let arn = "arn:aws:connect:eu-west-2:210987654321:instance/2c1f9a0e-5d4b-4e3a-8f2c-1b0a9d8c7e6f/routing-profile/7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a098";
    let bulkop = format!(
        "Argument1,Argument2,Argument3,Argument4,Argument5,BulkAction\r\n\
         priya.nair@acme.co.uk,005xx000001X9qL,Agent,{arn},04vxx0000004EHIAA2,AddUsers\r\n\
         tom.h@acme.co.uk,005xx000001X9qLAAB,Agent,{arn},04vxx0000004EHIAA2,AddUsers\r\n\
         li.wei@acme.co.uk,005000000000001AAA,CallCenterManager,{arn},04vxx0000004EHI,AddUsers\r\n\
         sam@acme.co.uk,005000000000002AAA,Supervisor,{arn},04vxx0000004EHIAA2,AddUsers\r\n\
         ana@acme.co.uk,005000000000003AAA,Admin,{arn},04vxx0000004EHIAA2,UpdateUsers\r\n\
         ,005000000000004AAA,Agent,{arn},04vxx0000004EHIAA2,AddUsers\r\n\
         joe@acme.co.uk,005000000000005AAA,Agent,Basic Routing Profile,04vxx0000004EHIAA2,AddUsers\r\n\
         kim@acme.co.uk,005000000000006AAA,Agent,{arn},04vxx0000004EHIAA2,RemoveUsers\r\n"
    );
    let connect = "First Name,Last Name,Email Address,Password,User Login,Routing Profile Name,\
        security_profile_name_1|security_profile_name_2,Phone Type (soft/desk),Phone Number,\
        Soft Phone Auto Accept (yes/no),ACW Timeout (seconds)\n\
        Grace,Hopper,grace@navy.example.com,C0bolRocks!,ghopper,Basic Routing Profile,Agent,soft,,yes,0\n\
        Alan,Turing,alan@example.org,enigma,aturing,Basic Routing Profile,Agent,soft,,no,30\n\
        Ada,Lovelace,ada@example.org,Engine#1830,alovelace,Basic Routing Profile,Agent|Admin,desk,+442079460000,no,10\n\
        Edsger,Dijkstra,edsger@example.nl,Goto.Harmful1,edijkstra,Basic Routing Profile,Agent,desk,,no,0\n\
        \"Barbara \"\"Babs\"\"\",Liskov,barbara@example.edu,Substitut1on,bliskov,Basic Routing Profile,Agent,soft,,yes,\n\
        Ken,Thompson,ken@example.com,Unix1969!,ken.thompson.unix.bell,Basic Routing Profile,Agent,soft,,yes,0\n";
    let ccbulk = "action,username,password,first_name,last_name,email,routing_profile,security_profiles,tags,\
        sf_username,contact_center,role\n\
        add,mgarcia,Welcome#2026,María,García,maria.garcia@example.com,Sales Inbound,Agent,team=emea,maria.garcia@example.com,Support EMEA,Agent\n\
        add,pkim,Welcome#2026,Paul,Kim,paul.kim@example.com,Sales Inbound,Agent,aws:team=emea,paul.kim@example.com,Support EMEA,Agent\n\
        update,rsingh,,Ravi,Singh,,Support Tier 2,Agent|CallCenterManager,,,,\n\
        remove,olduser,,,,,,,,,,\n\
        add,tnguyen,Welcome#2026,Thi,Nguyen,thi.nguyen@example.com,Sales Inbound,Agent,,thi.nguyen@example.com,04vxx0000004EHIAA2,Agent\n\
        add,mgarcia,Welcome#2026,Maria,Garcia,maria2@example.com,Sales Inbound,Agent,,maria2@example.com,Support EMEA,Agent\n\
        add,jbrown,Welcome#2026,James,Brown,james.brown@example.com,Sales Inbound,Agent,,james.brown@example.com,Support EMEA,agent\n";
    for (contents, args, invalid_rows) in [
        (bulkop, &[][..], vec![3u64, 5, 7, 8]),
        (connect.to_owned(), &[][..], vec![3, 5, 7]),
        (ccbulk.to_owned(), &[][..], vec![3, 7]),
    ] {
        let file = write_temp(contents.as_bytes());
        let (code, report) = json_of(args, file.path());
        assert_eq!(code, 1, "{report}");
        let mut rows: Vec<u64> =
            report["errors"].as_array().unwrap().iter().map(|e| e["row"].as_u64().unwrap()).collect();
        rows.dedup();
        assert_eq!(rows, invalid_rows, "{report:#}");
        assert_eq!(report["invalid"].as_u64(), Some(invalid_rows.len() as u64));
    }
}

#[test]
fn a_broken_file_never_has_its_passwords_repeated() {
    use ccbulk_e2e::cases::BROKEN_FILES;
    for broken in BROKEN_FILES {
        let file = write_temp(broken.csv.as_bytes());
        for json in [false, true] {
            let (code, text) = validate_output(file.path(), json);
            broken.assert_no_password_in(if json { "validate --json" } else { "validate" }, &text);
            assert_eq!(code, Some(if broken.usable { 1 } else { 2 }), "{}: {text}", broken.name);
            let expected = match broken.name {
                "no-header.csv" => "header.missing",
                "unclosed-quote.csv" => "row.line_break",
                "template-short.csv" => "row.too_few_fields",
                "template-comma-short.csv" => "email.invalid",
                _ => "row.too_many_fields",
            };
            assert!(text.contains(expected), "{}: {text}", broken.name);
        }
    }
}

/// Files no row could come from are refused as soon as that is plain, each with its own rule, whatever their size:
/// a 300 MB file on one line, a 100 MB cell, a header of 100,000 columns.
#[test]
fn files_far_too_large_to_be_rows_are_refused_with_their_own_rule() {
    use std::io::{Read, Write};
    let write_streamed = |parts: &mut dyn Read| {
        let file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        let mut out = std::io::BufWriter::new(file.as_file());
        std::io::copy(parts, &mut out).unwrap();
        out.flush().unwrap();
        drop(out);
        file
    };
    let single_line = write_streamed(&mut std::io::repeat(b'x').take(300 << 20));
    let (code, report) = json_of(&[], single_line.path());
    assert_eq!((code, report["error"]["rule"].as_str()), (2, Some("row.too_large")), "{report}");
    assert!(report["error"]["message"].as_str().unwrap().contains("row 1"), "{report}");

    let header = b"action,username,password,first_name,last_name,routing_profile,security_profiles\n";
    let mut cell = header
        .chain(&b"add,jdoe,Passw0rd!,Jane,Doe,Basic Routing Profile,\""[..])
        .chain(std::io::repeat(b'A').take(100 << 20))
        .chain(&b"\"\n"[..]);
    let big_cell = write_streamed(&mut cell);
    let (code, report) = json_of(&[], big_cell.path());
    assert_eq!((code, report["error"]["rule"].as_str()), (2, Some("row.too_large")), "{report}");
    assert!(!report.to_string().contains("Passw0rd!") && !report.to_string().contains("AAAAAA"), "{report}");

    let wide: Vec<String> = (0..100_000).map(|i| format!("column{i}")).collect();
    let wide = write_temp(format!("{}\nx\n", wide.join(",")).as_bytes());
    let (code, report) = json_of(&[], wide.path());
    assert_eq!((code, report["error"]["rule"].as_str()), (2, Some("header.too_wide")), "{report}");
}
