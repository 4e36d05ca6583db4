//! Properties over random files: chunks re-parse to exactly their rows, and no input makes validation panic.

use std::collections::HashMap;

use ccbulk_shared::domain::{IdentityManagement, TelephonyModel, UserRow};
use ccbulk_shared::format::{ByteRange, Chunk, RecordReader};
use ccbulk_shared::validate::{Options, RowError, Visitor, validate};
use proptest::prelude::*;

const HEADER: [&str; 8] =
    ["action", "username", "password", "first_name", "last_name", "routing_profile", "security_profiles", "tags"];

/// One generated row: its cells, and how each is written (quoted or not).
#[derive(Debug, Clone)]
struct GenRow {
    cells: Vec<String>,
    quote: Vec<bool>,
}

#[derive(Debug, Clone)]
struct GenFile {
    bom: bool,
    crlf: bool,
    rows: Vec<GenRow>,
    /// Blank lines written before each row (and at the end).
    blank_lines: Vec<u8>,
}

fn cell_strategy(column: usize) -> BoxedStrategy<String> {
    match column {
        0 => prop_oneof![Just("add"), Just("update"), Just("remove"), Just("bogus"), Just("")]
            .prop_map(String::from)
            .boxed(),
        2 => prop_oneof![Just("Passw0rd!"), Just("weak"), Just("")].prop_map(String::from).boxed(),
        3 => prop_oneof![
            Just("Ann"),
            Just("Zoë"),
            Just("Jo \"Q\" X"),
            Just("multi\nline"),
            Just("cr\r\nlf"),
            Just("comma, inside"),
            Just("\u{feff}bom-led"),
            Just(""),
        ]
        .prop_map(String::from)
        .boxed(),
        5 => prop_oneof![Just("Basic"), Just("")].prop_map(String::from).boxed(),
        6 => prop_oneof![Just("Agent"), Just("Agent|Admin"), Just("")].prop_map(String::from).boxed(),
        7 => prop_oneof![Just(""), Just("a=b"), Just("note=line1\r\nline2"), Just("aws:x=1"), Just("k=v,w")]
            .prop_map(String::from)
            .boxed(),
        _ => prop_oneof![Just("Lee"), Just("O'Neil"), Just("")].prop_map(String::from).boxed(),
    }
}

fn row_strategy() -> impl Strategy<Value = GenRow> {
    let cells: Vec<BoxedStrategy<String>> = (0..HEADER.len()).map(cell_strategy).collect();
    (cells, prop::collection::vec(any::<bool>(), HEADER.len())).prop_map(|(cells, quote)| GenRow { cells, quote })
}

fn file_strategy() -> impl Strategy<Value = GenFile> {
    (any::<bool>(), any::<bool>(), prop::collection::vec(row_strategy(), 0..40))
        .prop_flat_map(|(bom, crlf, rows)| {
            let n = rows.len() + 1;
            (
                Just(bom),
                Just(crlf),
                Just(rows),
                prop::collection::vec(prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)], n),
            )
        })
        .prop_map(|(bom, crlf, rows, blank_lines)| GenFile { bom, crlf, rows, blank_lines })
}

fn render(file: &GenFile) -> Vec<u8> {
    let newline = if file.crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    if file.bom {
        out.push('\u{feff}');
    }
    out.push_str(&HEADER.join(","));
    out.push_str(newline);
    for (index, row) in file.rows.iter().enumerate() {
        for _ in 0..file.blank_lines[index] {
            out.push_str(newline);
        }
        let cells: Vec<String> = row
            .cells
            .iter()
            .enumerate()
            .map(|(column, cell)| {
                // Usernames are made unique per row, some too long to be valid.
                let cell = if column == 1 {
                    format!("{cell}u{index}{}", if index % 7 == 3 { "-far-too-long-for-connect" } else { "" })
                } else {
                    cell.clone()
                };
                let must_quote = cell.contains([',', '"', '\n', '\r']) || cell.starts_with('\u{feff}');
                if must_quote || row.quote[column] { format!("\"{}\"", cell.replace('"', "\"\"")) } else { cell }
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str(newline);
    }
    for _ in 0..file.blank_lines[file.rows.len()] {
        out.push_str(newline);
    }
    out.into_bytes()
}

#[derive(Default)]
struct Seen {
    valid: Vec<ByteRange>,
    invalid: Vec<ByteRange>,
    chunks: Vec<Chunk>,
}

impl Visitor for Seen {
    fn row(&mut self, range: ByteRange, outcome: &Result<UserRow, Vec<RowError>>) {
        if outcome.is_ok() { self.valid.push(range) } else { self.invalid.push(range) }
    }
    fn chunk(&mut self, chunk: &Chunk) {
        self.chunks.push(*chunk);
    }
}

/// Every record of a file (after the header) by row number: its range and its cells.
fn records(data: &[u8], start: u64, first_row: u64, skip_header: bool) -> Vec<(u64, ByteRange, Vec<Vec<u8>>)> {
    let mut reader =
        if skip_header { RecordReader::new(data) } else { RecordReader::for_range(data, start, first_row) };
    if skip_header {
        reader.read_header().unwrap();
    }
    let mut out = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        out.push((record.row, record.range, record.fields.iter().map(<[u8]>::to_vec).collect()));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn chunks_reparse_to_exactly_their_rows(file in file_strategy(), chunk_rows in 1u32..6) {
        let data = render(&file);
        let options = Options {
            identity_management: Some(IdentityManagement::ConnectManaged),
            chunk_rows,
            ..Options::default()
        };
        let mut seen = Seen::default();
        let summary = validate(&data[..], &options, &mut seen);
        if file.rows.is_empty() {
            prop_assert!(summary.is_err());
            return Ok(());
        }
        let summary = summary.unwrap();
        prop_assert_eq!(summary.rows as usize, file.rows.len(), "no row lost or invented");
        let all = records(&data, 0, 2, true);
        let by_row: HashMap<u64, (ByteRange, Vec<Vec<u8>>)> = all.iter().map(|(row, range, cells)| (*row, (*range, cells.clone()))).collect();

        let mut covered = Vec::new();
        for chunk in &seen.chunks {
            prop_assert!(chunk.rows >= 1 && chunk.rows <= chunk_rows);
            let slice = &data[chunk.range.start as usize..chunk.range.end as usize];
            let reparsed = records(slice, chunk.range.start, chunk.first_row, false);
            prop_assert_eq!(reparsed.len(), chunk.rows as usize);
            prop_assert_eq!(reparsed.first().map(|r| r.0), Some(chunk.first_row));
            prop_assert_eq!(reparsed.last().map(|r| r.0), Some(chunk.last_row));
            for (row, range, cells) in reparsed {
                let (original_range, original_cells) = &by_row[&row];
                prop_assert_eq!(&range, original_range);
                prop_assert_eq!(&cells, original_cells);
                covered.push(range);
            }
        }
        covered.sort_by_key(|r| r.start);
        let mut valid = seen.valid.clone();
        valid.sort_by_key(|r| r.start);
        prop_assert_eq!(covered, valid, "every valid row is in exactly one chunk, and no invalid row is");
        prop_assert_eq!(seen.valid.len() as u64, summary.valid);
        prop_assert_eq!(seen.invalid.len() as u64, summary.invalid);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = validate(&bytes[..], &Options::default(), &mut ());
    }

    #[test]
    fn arbitrary_rows_under_every_header_and_mode_never_panic(
        header in prop_oneof![
            Just("Argument1,Argument2,Argument3,Argument4,Argument5,BulkAction\n"),
            Just("Argument1,Argument2,Argument5,BulkAction\n"),
            Just("first name,last name,email address,password,user login,routing profile name,security_profile_name_1|security_profile_name_2,phone type (soft/desk),phone number,soft phone auto accept (yes/no),ACW timeout (seconds),tags\n"),
            Just("action,username,password,first_name,last_name,email,routing_profile,security_profiles,phone_type,desk_phone_number,auto_accept,acw_timeout,tags,phone_per_channel,auto_accept_per_channel,sf_user_id,sf_username,sf_alias,contact_center,role\n"),
        ],
        body in prop::collection::vec(prop_oneof![
            4 => any::<u8>(),
            2 => Just(b','),
            1 => Just(b'\n'),
            1 => Just(b'"'),
            1 => Just(b'|'),
            1 => Just(b'='),
        ], 0..800),
        identity in prop::sample::select(IdentityManagement::ALL.to_vec()),
        telephony in prop::sample::select(TelephonyModel::ALL.to_vec()),
    ) {
        let mut data = header.as_bytes().to_vec();
        data.extend_from_slice(&body);
        let options = Options { identity_management: Some(identity), telephony_model: telephony, ..Options::default() };
        let mut seen = Seen::default();
        if let Ok(summary) = validate(&data[..], &options, &mut seen) {
            prop_assert_eq!(summary.rows, summary.valid + summary.invalid);
            prop_assert_eq!(seen.valid.len() + seen.invalid.len(), summary.rows as usize);
        }
    }
}
