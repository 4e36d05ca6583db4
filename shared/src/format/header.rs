//! The header row: which dialect it is, and which field each column holds.

use serde::{Deserialize, Serialize};

use super::dialect::{Dialect, Field, lookup, normalize_column_name};
use super::error::FileError;
use super::shown;
use crate::domain::{IdentityManagement, TelephonyModel};

/// How to pick the dialect of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialectChoice {
    #[default]
    Auto,
    Fixed(Dialect),
}

/// A parsed header. It is all a reader of a chunk needs besides the chunk's bytes, so it travels with chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "HeaderWire", into = "HeaderWire")]
pub struct Header {
    dialect: Dialect,
    /// Column names as the file spells them (trimmed).
    names: Vec<String>,
    /// The field of each column, by position; `None` never happens in an accepted header.
    fields: Vec<Field>,
    /// For each field, the position of its column.
    positions: [Option<usize>; Field::COUNT],
}

impl Header {
    /// Reads a header row. `choice` forces a dialect or lets the columns decide.
    pub fn parse(
        names: Vec<String>,
        choice: DialectChoice,
        identity: Option<IdentityManagement>,
        telephony: TelephonyModel,
    ) -> Result<Self, FileError> {
        let names: Vec<String> = names.into_iter().map(|n| n.trim().to_owned()).collect();
        if names.iter().all(|n| n.is_empty()) {
            return Err(FileError::EmptyHeader);
        }
        let normalized: Vec<String> = names.iter().map(|n| normalize_column_name(n)).collect();
        let dialect = match choice {
            DialectChoice::Fixed(dialect) => dialect,
            DialectChoice::Auto => match detect(&normalized) {
                Some(dialect) => dialect,
                None => return Err(unknown_dialect(&names)),
            },
        };
        let identity = identity.unwrap_or_else(|| dialect.default_identity_management());

        let mut fields = Vec::with_capacity(names.len());
        let mut positions: [Option<usize>; Field::COUNT] = [None; Field::COUNT];
        let mut unknown = Vec::new();
        for (position, (name, norm)) in names.iter().zip(&normalized).enumerate() {
            match lookup(dialect, norm) {
                Some(field) => {
                    if field != Field::Ignored {
                        if let Some(earlier) = positions[field as usize] {
                            return Err(FileError::DuplicateColumn {
                                dialect,
                                column: name.clone(),
                                first: names[earlier].clone(),
                            });
                        }
                        positions[field as usize] = Some(position);
                    }
                    fields.push(field);
                }
                None => unknown.push(shown::unknown_column(Some(dialect), name, position)),
            }
        }
        let mut missing: Vec<String> = dialect
            .required(identity, telephony)
            .into_iter()
            .filter(|field| positions[*field as usize].is_none())
            .filter_map(|field| dialect.column_name(field).map(str::to_owned))
            .collect();
        if dialect == Dialect::Ccbulk
            && positions[Field::Username as usize].is_none()
            && positions[Field::SalesforceUserId as usize].is_none()
        {
            missing.push("username (or sf_user_id)".to_owned());
        }
        if !missing.is_empty() || !unknown.is_empty() {
            return Err(FileError::Columns { dialect, missing, unknown });
        }
        Ok(Self { dialect, names, fields, positions })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Where a field's column is, if the file has it.
    pub fn position(&self, field: Field) -> Option<usize> {
        self.positions[field as usize]
    }

    pub fn has(&self, field: Field) -> bool {
        self.position(field).is_some()
    }

    /// The column name to show in an error about `field`: the file's own spelling, or the dialect's.
    pub fn column_name(&self, field: Field) -> String {
        match self.position(field) {
            Some(position) => self.names[position].clone(),
            None => self.dialect.column_name(field).unwrap_or("?").to_owned(),
        }
    }

    /// The field of the column at `position`, if any.
    pub fn field_at(&self, position: usize) -> Option<Field> {
        self.fields.get(position).copied()
    }
}

/// A first row that matches no dialect: described when it looks like a user row (a file without a header), else
/// its columns as far as they can be repeated.
fn unknown_dialect(names: &[String]) -> FileError {
    match shown::user_row_clue(names) {
        Some(clue) => FileError::NoHeader { columns: names.len(), clue },
        None => FileError::UnknownDialect {
            columns: names.iter().enumerate().map(|(i, name)| shown::unknown_column(None, name, i)).collect(),
        },
    }
}

/// Picks the dialect that recognises most columns; on a tie, the one whose required columns are all there.
fn detect(normalized: &[String]) -> Option<Dialect> {
    let score = |dialect: Dialect| normalized.iter().filter(|n| lookup(dialect, n).is_some()).count();
    let best = Dialect::ALL.into_iter().map(score).max().unwrap_or(0);
    if best == 0 {
        return None;
    }
    let tied: Vec<Dialect> = Dialect::ALL.into_iter().filter(|d| score(*d) == best).collect();
    let complete = |dialect: &Dialect| {
        dialect
            .required(dialect.default_identity_management(), TelephonyModel::AmazonConnect)
            .iter()
            .all(|field| normalized.iter().any(|n| lookup(*dialect, n) == Some(*field)))
    };
    tied.iter().copied().find(complete).or_else(|| tied.last().copied())
}

/// The serialized form: the dialect and the column names, re-validated on the way in.
#[derive(Serialize, Deserialize)]
struct HeaderWire {
    dialect: Dialect,
    columns: Vec<String>,
}

impl From<Header> for HeaderWire {
    fn from(header: Header) -> Self {
        Self { dialect: header.dialect, columns: header.names }
    }
}

impl TryFrom<HeaderWire> for Header {
    type Error = String;

    fn try_from(wire: HeaderWire) -> Result<Self, Self::Error> {
        // Requirements were checked when the file was read; here only the column mapping is rebuilt.
        Header::parse(
            wire.columns,
            DialectChoice::Fixed(wire.dialect),
            Some(IdentityManagement::ExistingDirectory),
            TelephonyModel::PartnerTelephony,
        )
        .map_err(|err| format!("header columns do not match its dialect: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: &str) -> Result<Header, FileError> {
        parse_for(header, None, TelephonyModel::AmazonConnect)
    }

    fn parse_for(
        header: &str,
        identity: Option<IdentityManagement>,
        telephony: TelephonyModel,
    ) -> Result<Header, FileError> {
        Header::parse(header.split(',').map(str::to_owned).collect(), DialectChoice::Auto, identity, telephony)
    }

    #[test]
    fn detects_bulkop_and_its_partner_telephony_variant() {
        assert_eq!(
            parse("Argument1,Argument2,Argument3,Argument4,Argument5,BulkAction").unwrap().dialect(),
            Dialect::Bulkop
        );
        let pt = parse_for("Argument1,Argument2,Argument5,BulkAction", None, TelephonyModel::PartnerTelephony).unwrap();
        assert_eq!(pt.dialect(), Dialect::Bulkop);
        assert!(!pt.has(Field::VoiceRole));
    }

    #[test]
    fn detects_the_connect_templates() {
        let sixteen = "first name,last name,email address,secondary email address,mobile,password,user login,\
            agent hierarchy,routing profile name,security_profile_name_1|security_profile_name_2,\
            user_hierarchy_1|user_hierarchy_2,phone type (soft/desk),phone number,\
            soft phone auto accept (yes/no),ACW timeout (seconds),tags";
        let eleven = "first name,last name,email address,password,user login,routing profile name,\
            security_profile_name_1|security_profile_name_2,phone type (soft/desk),phone number,\
            soft phone auto accept (yes/no),ACW timeout (seconds)";
        let saml = "first name,last name,user login,routing profile name,\
            security_profile_name_1|security_profile_name_2,phone type (soft/desk),phone number,\
            soft phone auto accept (yes/no),ACW timeout (seconds)";
        assert_eq!(parse(sixteen).unwrap().dialect(), Dialect::Connect);
        assert_eq!(parse(eleven).unwrap().dialect(), Dialect::Connect);
        let header = parse_for(saml, Some(IdentityManagement::Saml), TelephonyModel::AmazonConnect).unwrap();
        assert_eq!(header.dialect(), Dialect::Connect);
        assert!(!header.has(Field::Password));
    }

    #[test]
    fn the_saml_template_is_incomplete_for_a_connect_managed_instance() {
        let saml = "first name,last name,user login,routing profile name,\
            security_profile_name_1|security_profile_name_2,phone type (soft/desk)";
        let err = parse_for(saml, Some(IdentityManagement::ConnectManaged), TelephonyModel::AmazonConnect).unwrap_err();
        assert_eq!(
            err,
            FileError::Columns { dialect: Dialect::Connect, missing: vec!["password".into()], unknown: vec![] }
        );
    }

    #[test]
    fn detects_ccbulk_with_loose_spacing_and_case() {
        let header = parse("  Action , USERNAME,routing_profile ").unwrap();
        assert_eq!(header.dialect(), Dialect::Ccbulk);
        assert_eq!(header.position(Field::RoutingProfile), Some(2));
        assert_eq!(header.column_name(Field::Username), "USERNAME");
    }

    #[test]
    fn names_missing_and_unknown_columns() {
        let err = parse("Argument1,Argument2,Argumnet3,Argument4,BulkAction").unwrap_err();
        assert_eq!(
            err,
            FileError::Columns {
                dialect: Dialect::Bulkop,
                missing: vec!["Argument5".into(), "Argument3".into()],
                unknown: vec!["column 3 (not shown; \"Argument3\"?)".into()],
            }
        );
    }

    #[test]
    fn an_unknown_header_is_a_file_error() {
        assert!(matches!(parse("name,phone,team"), Err(FileError::UnknownDialect { .. })));
        assert_eq!(parse(" , "), Err(FileError::EmptyHeader));
    }

    #[test]
    fn a_column_given_twice_is_a_file_error() {
        assert!(matches!(
            parse("action,username,user name,username"),
            Err(FileError::DuplicateColumn { .. }) | Err(FileError::Columns { .. })
        ));
        assert!(matches!(parse("action,username,USERNAME"), Err(FileError::DuplicateColumn { .. })));
    }

    #[test]
    fn a_forced_dialect_reports_against_that_dialect() {
        let err = Header::parse(
            vec!["action".into(), "username".into()],
            DialectChoice::Fixed(Dialect::Bulkop),
            None,
            TelephonyModel::AmazonConnect,
        )
        .unwrap_err();
        assert!(matches!(err, FileError::Columns { dialect: Dialect::Bulkop, ref unknown, .. } if unknown.len() == 2));
    }

    #[test]
    fn round_trips_through_json() {
        let header = parse("action,username,security_profiles").unwrap();
        let json = serde_json::to_string(&header).unwrap();
        assert_eq!(json, r#"{"dialect":"ccbulk","columns":["action","username","security_profiles"]}"#);
        assert_eq!(serde_json::from_str::<Header>(&json).unwrap(), header);
    }
}
