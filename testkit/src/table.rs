//! The job table, created exactly as template.yaml's `JobsTable` defines it, so the tests meet the table that
//! deploys and not a copy of it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use serde_norway::Value;

/// The `JobsTable` resource of template.yaml, read as the template has it (CloudFormation tags elsewhere included).
fn table_definition() -> Value {
    let path = super::repo_root().join("template.yaml");
    let template: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    template["Resources"]["JobsTable"]["Properties"].clone()
}

fn key_schema(value: &Value) -> Vec<KeySchemaElement> {
    value
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().unwrap())
                .key_type(KeyType::from(k["KeyType"].as_str().unwrap()))
                .build()
                .unwrap()
        })
        .collect()
}

/// Creates a table named `name` exactly as template.yaml defines `JobsTable`.
pub async fn create_jobs_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    let definition = table_definition();
    let attributes = definition["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(a["AttributeName"].as_str().unwrap())
                .attribute_type(ScalarAttributeType::from(a["AttributeType"].as_str().unwrap()))
                .build()
                .unwrap()
        })
        .collect();
    let indexes = definition["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index["IndexName"].as_str().unwrap())
                .set_key_schema(Some(key_schema(&index["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index["Projection"]["ProjectionType"].as_str().unwrap()))
                        .build(),
                )
                .build()
                .unwrap()
        })
        .collect();
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(definition["BillingMode"].as_str().unwrap()))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&definition["KeySchema"])))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .unwrap();
}
