//! The seeds `ccbulk run` starts its embedded sandboxes with: the defaults (a new instance, a Voice-enabled org) plus
//! whatever the files in `examples/` refer to, read from those files so that the two cannot drift apart: the
//! Salesforce users the bulkop files name (with their ids, usernames from Argument1), the contact centers they
//! name, the routing-profile ids in their ARNs, and the Connect users the native example updates or removes.

use std::collections::BTreeMap;

use crate::connect::IdentityManagementType;
use crate::connect::seed::{ConnectSeed, UserSeed as ConnectUserSeed};
use crate::salesforce::seed::{SalesforceSeed, UserSeed as SalesforceUserSeed};

const NATIVE: &str = include_str!("../../examples/ccbulk-agents.csv");
const BULKOP_CONNECT: &str = include_str!("../../examples/bulkop-amazon-connect.csv");
const BULKOP_PARTNER: &str = include_str!("../../examples/bulkop-partner-telephony.csv");

/// The SAML instance's id and region, as the bulkop example's routing-profile ARNs spell them.
pub const SAML_INSTANCE_ID: &str = "8c7b5d2e-3f4a-4b6c-9d8e-1a2b3c4d5e6f";
pub const REGION: &str = "us-west-2";
pub const CONNECT_CONTACT_CENTER: (&str, &str) = ("Northwind Support", "04vHn000000Z4aBIAS");
pub const PARTNER_CONTACT_CENTER: (&str, &str) = ("Tailspin Partner Telephony", "04vHn000000Z4aCIAS");

/// Rows of a comma-separated file without quoting (the example files), as maps from column to cell.
fn records(text: &str) -> Vec<BTreeMap<&str, &str>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    lines.map(|line| header.iter().copied().zip(line.split(',')).collect()).collect()
}

/// `first.last@domain` → ("First", "Last").
fn names_of(email: &str) -> (String, String) {
    let local = email.split('@').next().unwrap_or(email);
    let capital = |part: &str| {
        let mut chars = part.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
    };
    match local.split_once('.') {
        Some((first, last)) => (capital(first), capital(last)),
        None => (String::new(), capital(local)),
    }
}

pub fn connect_seed() -> ConnectSeed {
    let mut seed = ConnectSeed { region: REGION.into(), ..ConnectSeed::default() };
    for instance in &mut seed.instances {
        match instance.identity_management {
            IdentityManagementType::ConnectManaged => {
                for row in records(NATIVE).iter().filter(|r| matches!(r.get("action"), Some(&"update" | &"remove"))) {
                    instance.users.push(ConnectUserSeed {
                        username: row["username"].to_owned(),
                        first_name: None,
                        last_name: Some(row["username"].to_owned()),
                        email: None,
                        routing_profile: "Basic Routing Profile".into(),
                        security_profiles: vec!["Agent".into()],
                    });
                }
            }
            IdentityManagementType::Saml => {
                instance.id = Some(SAML_INSTANCE_ID.into());
                // Each distinct ARN in the bulkop example names one of the instance's profiles, in order.
                let mut ids: Vec<&str> =
                    records(BULKOP_CONNECT).iter().filter_map(|r| r.get("Argument4")?.rsplit('/').next()).collect();
                ids.dedup();
                ids.sort_unstable();
                ids.dedup();
                for (name, id) in instance.routing_profiles.iter().zip(ids) {
                    instance.ids.insert(name.clone(), id.to_owned());
                }
            }
            IdentityManagementType::ExistingDirectory => {}
        }
    }
    seed
}

pub fn salesforce_seed() -> SalesforceSeed {
    let mut seed = SalesforceSeed::default();
    for (name, id) in [CONNECT_CONTACT_CENTER, PARTNER_CONTACT_CENTER] {
        if !seed.call_centers.iter().any(|c| c == name) {
            seed.call_centers.push(name.into());
        }
        seed.call_center_ids.insert(name.into(), id.into());
    }
    seed.partner_telephony_centers.push(PARTNER_CONTACT_CENTER.0.into());
    // The users start with no contact-center permission set: Partner Telephony rows name no role (no Argument3), and
    // their set is assigned with the membership, as Salesforce's own bulk op does
    // (../shared/seeds/salesforce-voice-bulk-users.txt).
    for file in [BULKOP_CONNECT, BULKOP_PARTNER] {
        for row in records(file) {
            let (Some(email), Some(id)) = (row.get("Argument1"), row.get("Argument2")) else { continue };
            let (first, last) = names_of(email);
            seed.users.push(SalesforceUserSeed {
                id: Some((*id).to_owned()),
                username: (*email).to_owned(),
                email: (*email).to_owned(),
                alias: format!("{}{}", first.chars().next().unwrap_or('u'), last)
                    .to_lowercase()
                    .chars()
                    .take(8)
                    .collect(),
                first_name: Some(first),
                last_name: last,
                profile: "Standard User".into(),
                call_center: None,
                permission_sets: Vec::new(),
                active: true,
            });
        }
    }
    seed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_seeds_build_and_hold_what_the_examples_name() {
        let connect = connect_seed();
        let saml = connect.instances.iter().find(|i| i.identity_management == IdentityManagementType::Saml).unwrap();
        assert_eq!(saml.ids.len(), 2, "two routing-profile ids in the bulkop example");
        assert!(connect.build().is_ok());
        let salesforce = salesforce_seed();
        assert_eq!(salesforce.users.len(), 1 + records(BULKOP_CONNECT).len() + records(BULKOP_PARTNER).len());
        assert!(salesforce.users.len() > 40);
        let org = salesforce.build().unwrap();
        assert!(org.get("User", "005Hn0000ribxUd").is_some(), "a 15-character id from the file is seeded");
        assert!(org.get("CallCenter", PARTNER_CONTACT_CENTER.1).is_some());
    }
}
