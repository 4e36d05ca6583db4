//! Metrics in CloudWatch's embedded metric format (EMF): one JSON document a line of the function's log, which
//! CloudWatch Logs turns into metrics without an API call ("Specification: Embedded metric format", Amazon
//! CloudWatch User Guide: the `_aws` member with `Timestamp` in epoch milliseconds and `CloudWatchMetrics`
//! directives of `Namespace`, `Dimensions` and `Metrics`; every dimension and metric a member of the root).

use serde_json::{Map, Value, json};

/// Where ccbulk's metrics go; the template's alarms read them here.
pub const NAMESPACE: &str = "ccbulk";
/// The one dimension: which function emitted the figures (a job's id is a property, searchable in the logs but not
/// a dimension, which would make a metric of every job).
pub const DIMENSION: &str = "Function";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Figures of one unit of work (a chunk, a file), emitted together.
#[derive(Debug, Clone)]
pub struct MetricSet {
    function: &'static str,
    values: Vec<(&'static str, Unit, f64)>,
    properties: Map<String, Value>,
}

impl MetricSet {
    pub fn new(function: &'static str) -> Self {
        Self { function, values: Vec::new(), properties: Map::new() }
    }

    pub fn count(mut self, name: &'static str, value: u64) -> Self {
        self.values.push((name, Unit::Count, value as f64));
        self
    }

    pub fn millis(mut self, name: &'static str, value: f64) -> Self {
        self.values.push((name, Unit::Milliseconds, value));
        self
    }

    /// A member that is not a metric (the job's id): it lands in the log event, to search by.
    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    /// The document, on one line, as of `timestamp_ms`.
    pub fn document(&self, timestamp_ms: u64) -> String {
        let metrics: Vec<Value> =
            self.values.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        let mut root = self.properties.clone();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [[DIMENSION]], "Metrics": metrics}],
            }),
        );
        root.insert(DIMENSION.into(), json!(self.function));
        for (name, _, value) in &self.values {
            root.insert((*name).to_owned(), json!(value));
        }
        Value::Object(root).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_declares_every_figure_it_carries_under_one_dimension() {
        let line = MetricSet::new("provision")
            .count("RowsSucceeded", 198)
            .count("RowsFailed", 2)
            .millis("ChunkDuration", 4100.5)
            .property("job", "b53ca2a8787286638b99b46b")
            .document(1_795_338_904_000);
        assert!(!line.contains('\n'), "one line");
        let doc: Value = serde_json::from_str(&line).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_795_338_904_000u64);
        assert_eq!(directive["Namespace"], "ccbulk");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(doc["Function"], "provision");
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} has its value at the root");
        }
        assert_eq!(directive["Metrics"][2], json!({"Name": "ChunkDuration", "Unit": "Milliseconds"}));
        assert_eq!(
            (doc["RowsSucceeded"].as_f64(), doc["job"].as_str()),
            (Some(198.0), Some("b53ca2a8787286638b99b46b"))
        );
    }
}
