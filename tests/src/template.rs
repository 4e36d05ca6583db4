//! A function's environment as template.yaml sets it, for given parameter values and the physical ids of the
//! resources it refers to: the handlers in the tests are configured by the template itself, so a variable renamed on
//! one side only fails a test instead of a deployment.

use std::collections::HashMap;

use serde_norway::Value;
use serde_norway::value::TaggedValue;

pub struct Template {
    document: Value,
}

impl Template {
    pub fn load() -> Self {
        let text = std::fs::read_to_string(super::repo_root().join("template.yaml")).unwrap();
        Self { document: serde_norway::from_str(&text).unwrap() }
    }

    /// A resource's definition, as the template has it.
    pub fn resource(&self, logical_id: &str) -> &Value {
        &self.document["Resources"][logical_id]
    }

    /// Whether S3 would notify the function `logical_id` of an object created under `key`: one of its S3 events'
    /// filters (prefix and suffix rules, case-sensitive as S3 matches them) takes the key.
    pub fn s3_notifies(&self, logical_id: &str, key: &str) -> bool {
        let events = self.document["Resources"][logical_id]["Properties"]["Events"].as_mapping().unwrap();
        events.values().filter(|event| event["Type"].as_str() == Some("S3")).any(|event| {
            let rules = event["Properties"]["Filter"]["S3Key"]["Rules"].as_sequence().cloned().unwrap_or_default();
            rules.iter().all(|rule| {
                let value = rule["Value"].as_str().unwrap();
                match rule["Name"].as_str().unwrap() {
                    "prefix" => key.starts_with(value),
                    "suffix" => key.ends_with(value),
                    other => panic!("an S3 filter rule the tests do not know: {other}"),
                }
            })
        })
    }

    /// The environment of the function `logical_id` (Globals first, then its own), with `!Ref`, `!If` and the
    /// conditions resolved. `parameters` overrides the parameters' defaults; `resources` maps logical ids to what
    /// `!Ref` returns for them. Panics on a parameter without a value or a resource it was not given.
    pub fn environment(
        &self,
        logical_id: &str,
        parameters: &HashMap<&str, String>,
        resources: &HashMap<&str, String>,
    ) -> Vec<(String, String)> {
        let scope = Scope { template: &self.document, parameters, resources };
        let global = &self.document["Globals"]["Function"]["Environment"]["Variables"];
        let own = &self.document["Resources"][logical_id]["Properties"]["Environment"]["Variables"];
        assert!(own.is_mapping() || own.is_null(), "{logical_id} is not a function of the template");
        let mut variables = Vec::new();
        for (name, value) in [global, own].into_iter().filter_map(Value::as_mapping).flatten() {
            if let Some(value) = scope.resolve(value) {
                variables.push((name.as_str().unwrap().to_owned(), value));
            }
        }
        variables
    }
}

struct Scope<'a> {
    template: &'a Value,
    parameters: &'a HashMap<&'a str, String>,
    resources: &'a HashMap<&'a str, String>,
}

impl Scope<'_> {
    /// A value; `None` for `AWS::NoValue`.
    fn resolve(&self, value: &Value) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Tagged(tagged) => self.function(tagged),
            other => panic!("not a value the tests resolve: {other:?}"),
        }
    }

    fn function(&self, tagged: &TaggedValue) -> Option<String> {
        let tag = tagged.tag.to_string();
        match tag.trim_start_matches('!') {
            "Ref" => self.reference(tagged.value.as_str().unwrap()),
            "If" => {
                let branches = tagged.value.as_sequence().unwrap();
                let condition = self.condition_named(branches[0].as_str().unwrap());
                self.resolve(&branches[if condition { 1 } else { 2 }])
            }
            "FindInMap" => {
                let path = tagged.value.as_sequence().unwrap();
                let [map, key, attribute] = [0, 1, 2].map(|i| self.resolve(&path[i]).unwrap());
                self.resolve(&self.template["Mappings"][map.as_str()][key.as_str()][attribute.as_str()])
            }
            other => panic!("the tests resolve !Ref, !If and !FindInMap in environments, not !{other}"),
        }
    }

    fn reference(&self, name: &str) -> Option<String> {
        if name == "AWS::NoValue" {
            return None;
        }
        if let Some(value) = self.parameters.get(name) {
            return Some(value.clone());
        }
        if let Some(parameter) = self.template["Parameters"].get(name) {
            let default = parameter.get("Default").unwrap_or_else(|| panic!("the parameter {name} needs a value"));
            return self.resolve(default);
        }
        Some(self.resources.get(name).unwrap_or_else(|| panic!("no physical id given for {name}")).clone())
    }

    fn condition_named(&self, name: &str) -> bool {
        self.condition(&self.template["Conditions"][name])
    }

    fn condition(&self, value: &Value) -> bool {
        let Value::Tagged(tagged) = value else { panic!("not a condition: {value:?}") };
        let tag = tagged.tag.to_string();
        let operands = tagged.value.as_sequence();
        match tag.trim_start_matches('!') {
            "Not" => !self.condition(&operands.unwrap()[0]),
            "Equals" => {
                let operands = operands.unwrap();
                self.resolve(&operands[0]) == self.resolve(&operands[1])
            }
            "Condition" => self.condition_named(tagged.value.as_str().unwrap()),
            other => panic!("the tests evaluate !Not, !Equals and !Condition, not !{other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provision_environment_follows_the_parameters() {
        let template = Template::load();
        let resources: HashMap<&str, String> = [
            ("JobsTable", "jobs".to_owned()),
            ("ChunkQueue", "https://sqs/chunks".to_owned()),
            ("SalesforceSecret", "arn:secret".to_owned()),
        ]
        .into();
        let mut parameters: HashMap<&str, String> =
            [("ConnectInstanceId", "i-1".to_owned()), ("SalesforceClientId", "3MVG9".to_owned())].into();
        let env: HashMap<_, _> =
            template.environment("ProvisionFunction", &parameters, &resources).into_iter().collect();
        assert_eq!(env["CCBULK_TABLE"], "jobs", "from Globals");
        assert_eq!(env["CCBULK_QUEUE_URL"], "https://sqs/chunks");
        assert_eq!(env["CCBULK_CONNECT_WRITE_RATE"], "2", "a parameter's default");
        assert!(!env.contains_key("CCBULK_SALESFORCE_JWT_USERNAME"), "AWS::NoValue when no JWT user is given");
        parameters.insert("SalesforceJwtUsername", "integration@example.com".into());
        let env: HashMap<_, _> =
            template.environment("ProvisionFunction", &parameters, &resources).into_iter().collect();
        assert_eq!(env["CCBULK_SALESFORCE_JWT_USERNAME"], "integration@example.com");
    }

    /// Lambda does not tell a function its own Timeout: the template passes it in the environment, and the two must
    /// not drift apart (the schedule is checked against the variable at cold start).
    #[test]
    fn the_provision_function_is_told_its_own_timeout() {
        let template = Template::load();
        let resources: HashMap<&str, String> =
            [("JobsTable", "t".to_owned()), ("ChunkQueue", "q".to_owned()), ("SalesforceSecret", "s".to_owned())]
                .into();
        let parameters: HashMap<&str, String> =
            [("ConnectInstanceId", "i-1".to_owned()), ("SalesforceClientId", "3MVG9".to_owned())].into();
        let env: HashMap<_, _> =
            template.environment("ProvisionFunction", &parameters, &resources).into_iter().collect();
        let timeout = &template.resource("ProvisionFunction")["Properties"]["Timeout"];
        assert_eq!(env["CCBULK_TIMEOUT_SECONDS"], timeout.as_u64().unwrap().to_string());
        assert_eq!(env["CCBULK_CHUNK_ROWS"], env_default(&template, "ChunkRows"));
    }

    fn env_default(template: &Template, parameter: &str) -> String {
        let default = &template.document["Parameters"][parameter]["Default"];
        default.as_u64().map(|n| n.to_string()).unwrap_or_else(|| default.as_str().unwrap().to_owned())
    }
}
