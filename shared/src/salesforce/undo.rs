//! Undo on the Salesforce side: a user's fields, contact center and Voice permission sets put back as they were
//! before the job, unless they changed again since; a user the job created leaves its contact center, gives up its
//! Voice sets and is deactivated (Salesforce users cannot be deleted).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::{SalesforceClient, SalesforceError};
use super::provisioner::text;
use crate::undo::{SalesforceImage, SalesforceSettings, Undone};

/// How `user` and its `held` permission sets stand on the parts `like` records; `voice` the Voice sets the image
/// knows.
fn now_like(
    user: &Value,
    held: &BTreeSet<String>,
    like: &SalesforceSettings,
    voice: &BTreeSet<String>,
) -> SalesforceSettings {
    SalesforceSettings {
        fields: like.fields.keys().map(|field| (field.clone(), text(user, field).filter(|v| !v.is_empty()))).collect(),
        call_center_id: like.call_center_id.as_ref().map(|_| text(user, "CallCenterId").filter(|c| !c.is_empty())),
        voice_sets: like.voice_sets.as_ref().map(|_| held.intersection(voice).cloned().collect()),
    }
}

/// Ids compare in their 15-character form (a stored 18-character id and a 15-character one name the same record).
fn same(a: &SalesforceSettings, b: &SalesforceSettings) -> bool {
    let short = |settings: &SalesforceSettings| {
        let cut = |id: &Option<String>| id.as_ref().map(|i| i.chars().take(15).collect::<String>());
        (
            settings.fields.clone(),
            settings.call_center_id.as_ref().map(cut),
            settings
                .voice_sets
                .as_ref()
                .map(|s| s.iter().map(|i| i.chars().take(15).collect::<String>()).collect::<BTreeSet<_>>()),
        )
    };
    short(a) == short(b)
}

/// Puts back what a job did to a Salesforce user (see the module's doc).
pub async fn undo_salesforce(client: &SalesforceClient, image: &SalesforceImage) -> Result<Undone, SalesforceError> {
    let (user_id, after) = match image {
        SalesforceImage::Created { user_id, after } | SalesforceImage::Changed { user_id, after, .. } => {
            (user_id, after)
        }
    };
    let fields: BTreeSet<&str> =
        ["Id", "IsActive", "CallCenterId"].into_iter().chain(after.fields.keys().map(String::as_str)).collect();
    let select = format!("SELECT {} FROM User WHERE", fields.into_iter().collect::<Vec<_>>().join(", "));
    let Some(user) = client.query_in(&select, "Id", std::slice::from_ref(user_id)).await?.into_iter().next() else {
        return Ok(Undone::Nothing("the user is gone".into()));
    };
    let assignments = client
        .query_in(
            "SELECT Id, PermissionSetId FROM PermissionSetAssignment WHERE",
            "AssigneeId",
            std::slice::from_ref(user_id),
        )
        .await?;
    let held: BTreeSet<String> = assignments.iter().filter_map(|a| text(a, "PermissionSetId")).collect();
    let before = match image {
        SalesforceImage::Changed { before, .. } => before.clone(),
        SalesforceImage::Created { .. } => SalesforceSettings {
            call_center_id: after.call_center_id.as_ref().map(|_| None),
            voice_sets: Some(BTreeSet::new()),
            ..SalesforceSettings::default()
        },
    };
    let voice: BTreeSet<String> = before.voice_sets.iter().chain(after.voice_sets.iter()).flatten().cloned().collect();
    let now = now_like(&user, &held, after, &voice);
    if !same(&now, after) {
        return Ok(Undone::LeftAlone("changed since the job: left as it is".into()));
    }
    let short = |id: &str| id.chars().take(15).collect::<String>();
    let holds = |set: &str| held.iter().any(|h| short(h) == short(set));
    // A contact center takes only users who hold a Voice set: sets come back first and go last, as `apply` orders them.
    let regrant: Vec<Value> = before
        .voice_sets
        .iter()
        .flatten()
        .filter(|set| !holds(set))
        .map(|set| json!({"attributes": {"type": "PermissionSetAssignment"}, "AssigneeId": user_id, "PermissionSetId": set}))
        .collect();
    let mut done = Vec::new();
    if !regrant.is_empty() {
        first_error(client.collection(Method::POST, regrant).await?)?;
        done.push("Voice permission sets given back");
    }
    let mut patch = Map::new();
    for (field, value) in &before.fields {
        patch.insert(field.clone(), json!(value));
    }
    if let Some(center) = &before.call_center_id {
        patch.insert("CallCenterId".into(), json!(center));
    }
    if !patch.is_empty() {
        patch.insert("attributes".into(), json!({"type": "User"}));
        patch.insert("id".into(), json!(user_id));
        first_error(client.collection(Method::PATCH, vec![Value::Object(patch)]).await?)?;
        done.push(if before.call_center_id.is_some() {
            "contact center and fields put back"
        } else {
            "fields put back"
        });
    }
    let wanted: BTreeSet<String> = before.voice_sets.iter().flatten().map(|s| short(s)).collect();
    let withdraw: Vec<String> = assignments
        .iter()
        .filter(|a| {
            text(a, "PermissionSetId")
                .is_some_and(|p| voice.iter().any(|v| short(v) == short(&p)) && !wanted.contains(&short(&p)))
        })
        .filter_map(|a| text(a, "Id"))
        .collect();
    if !withdraw.is_empty() {
        first_error(client.delete(&withdraw).await?)?;
        done.push("Voice permission sets the job gave withdrawn");
    }
    if matches!(image, SalesforceImage::Created { .. }) && user["IsActive"] != json!(false) {
        let deactivate = json!({"attributes": {"type": "User"}, "id": user_id, "IsActive": false});
        first_error(client.collection(Method::PATCH, vec![deactivate]).await?)?;
        done.push("the user the job created deactivated (Salesforce users cannot be deleted)");
    }
    Ok(if done.is_empty() { Undone::Nothing("nothing to put back".into()) } else { Undone::Done(done.join("; ")) })
}

fn first_error(results: Vec<super::client::CollectionResult>) -> Result<(), SalesforceError> {
    match results.into_iter().find_map(|r| r.error) {
        Some(err) if err.code != "DUPLICATE_VALUE" => Err(err),
        _ => Ok(()),
    }
}
