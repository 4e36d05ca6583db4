//! The template as CloudFormation deploys it: SAM's expansion (tools/sam_to_cfn.py, the translator `.ci/run` lints
//! with), with the intrinsics of the parts the tests need resolved against the test stack's physical resources. The
//! functions' roles come from here and nowhere else, so that a grant missing from template.yaml is missing in the
//! tests too.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Map, Value};

/// The account and Region moto plays (moto's default account).
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct Expanded {
    document: Value,
}

/// What the stack's `Ref` and `Fn::GetAtt ... Arn` stand for: parameters (the rest take their defaults), and the
/// physical id and ARN of each resource the tests created.
pub struct Physical<'a> {
    pub parameters: &'a HashMap<&'a str, String>,
    pub ids: &'a HashMap<&'a str, String>,
    pub arns: &'a HashMap<&'a str, String>,
}

/// One IAM role of the expanded template: its trust policy and its identity policies (name, document), resolved.
pub struct Role {
    pub trust: Value,
    pub policies: Vec<(String, Value)>,
}

impl Expanded {
    /// The expansion of the repository's template.yaml, made once per change of the template (cached in the system's
    /// temporary folder, keyed by the template's and the script's text).
    pub fn load() -> Self {
        let root = super::repo_root();
        let template = std::fs::read(root.join("template.yaml")).unwrap();
        let script = std::fs::read(root.join("tools/sam_to_cfn.py")).unwrap();
        let mut hasher = DefaultHasher::new();
        (&template, &script).hash(&mut hasher);
        let cached = std::env::temp_dir().join(format!("ccbulk-template-{:016x}.json", hasher.finish()));
        if !cached.exists() {
            let partial = cached.with_extension(format!("{}.part", std::process::id()));
            let status = Command::new(python())
                .arg(root.join("tools/sam_to_cfn.py"))
                .arg(root.join("template.yaml"))
                .arg(&partial)
                .env("AWS_DEFAULT_REGION", REGION)
                .status()
                .unwrap_or_else(|e| panic!("cannot run tools/sam_to_cfn.py ({e}): run .ci/run"));
            assert!(status.success(), "tools/sam_to_cfn.py could not expand template.yaml");
            // Tests in other processes may expand at the same time: each writes its own file and renames it.
            std::fs::rename(&partial, &cached).unwrap();
        }
        Self { document: serde_json::from_str(&std::fs::read_to_string(&cached).unwrap()).unwrap() }
    }

    /// The role SAM made for the function `function` (`<function>Role`), its policies resolved. AWS managed policies
    /// (AWSLambdaBasicExecutionRole, AWSLambdaSQSQueueExecutionRole) are left out: they grant the Lambda service
    /// what it does on the role's behalf (logs, polling the queue), which the driver does with the account's own
    /// credentials. The template's own managed policies are kept.
    pub fn role_of(&self, function: &str, physical: &Physical) -> Role {
        let role = &self.document["Resources"][format!("{function}Role")];
        assert_eq!(role["Type"], "AWS::IAM::Role", "{function} has no role SAM made");
        let scope = Scope { document: &self.document, physical };
        let properties = &role["Properties"];
        let mut policies: Vec<(String, Value)> = properties["Policies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|policy| (policy["PolicyName"].as_str().unwrap().to_owned(), scope.resolve(&policy["PolicyDocument"])))
            .collect();
        for managed in properties["ManagedPolicyArns"].as_array().into_iter().flatten() {
            if let Some(name) = managed.get("Ref").and_then(Value::as_str) {
                let resource = &self.document["Resources"][name];
                assert_eq!(resource["Type"], "AWS::IAM::ManagedPolicy", "{name}");
                policies.push((name.to_owned(), scope.resolve(&resource["Properties"]["PolicyDocument"])));
            }
        }
        Role { trust: scope.resolve(&properties["AssumeRolePolicyDocument"]), policies }
    }
}

fn python() -> PathBuf {
    let local = super::repo_root().join(".ci/.venv/bin/python");
    if local.exists() { local } else { PathBuf::from("python3") }
}

struct Scope<'a> {
    document: &'a Value,
    physical: &'a Physical<'a>,
}

impl Scope<'_> {
    /// A value with its intrinsics resolved; `Value::Null` for `AWS::NoValue`, which leaves lists and objects.
    fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.resolve(item)).filter(|item| !item.is_null()).collect())
            }
            Value::Object(object) if object.len() == 1 => {
                let (name, argument) = object.iter().next().unwrap();
                match name.as_str() {
                    "Ref" if argument == "AWS::NoValue" => Value::Null,
                    "Ref" => Value::String(self.reference(argument.as_str().unwrap())),
                    "Fn::If" => {
                        let branches = argument.as_array().unwrap();
                        let holds = self.condition_named(branches[0].as_str().unwrap());
                        self.resolve(&branches[if holds { 1 } else { 2 }])
                    }
                    "Fn::GetAtt" => Value::String(self.attribute(argument)),
                    "Fn::Sub" => Value::String(self.substitute(argument)),
                    "Fn::Join" => {
                        let parts = argument.as_array().unwrap();
                        let items = self.resolve(&parts[1]);
                        let texts: Vec<&str> = items.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                        Value::String(texts.join(parts[0].as_str().unwrap()))
                    }
                    other if other.starts_with("Fn::") => panic!("the tests do not resolve {other} in policies"),
                    _ => Value::Object(self.resolve_object(object)),
                }
            }
            Value::Object(object) => Value::Object(self.resolve_object(object)),
            other => other.clone(),
        }
    }

    fn resolve_object(&self, object: &Map<String, Value>) -> Map<String, Value> {
        object
            .iter()
            .map(|(key, value)| (key.clone(), self.resolve(value)))
            .filter(|(_, value)| !value.is_null())
            .collect()
    }

    fn condition_named(&self, name: &str) -> bool {
        self.condition(&self.document["Conditions"][name])
    }

    /// `Fn::Not`, `Fn::Equals`, `Fn::And`, `Fn::Or` and `Condition`, as the template's conditions use them.
    fn condition(&self, value: &Value) -> bool {
        let (name, argument) = value.as_object().and_then(|o| o.iter().next()).expect("a condition");
        let operands = || argument.as_array().unwrap().iter();
        match name.as_str() {
            "Fn::Not" => !self.condition(&argument[0]),
            "Fn::And" => operands().all(|c| self.condition(c)),
            "Fn::Or" => operands().any(|c| self.condition(c)),
            "Fn::Equals" => self.resolve(&argument[0]) == self.resolve(&argument[1]),
            "Condition" => self.condition_named(argument.as_str().unwrap()),
            other => panic!("the tests do not evaluate {other} in conditions"),
        }
    }

    fn reference(&self, name: &str) -> String {
        match name {
            "AWS::Partition" => return "aws".into(),
            "AWS::Region" => return REGION.into(),
            "AWS::AccountId" => return ACCOUNT_ID.into(),
            _ => {}
        }
        if let Some(value) = self.physical.parameters.get(name) {
            return value.clone();
        }
        if let Some(parameter) = self.document["Parameters"].get(name) {
            let default = parameter.get("Default").unwrap_or_else(|| panic!("the parameter {name} needs a value"));
            return default.as_str().map(str::to_owned).unwrap_or_else(|| default.to_string());
        }
        self.physical.ids.get(name).unwrap_or_else(|| panic!("no physical id given for {name}")).clone()
    }

    fn attribute(&self, argument: &Value) -> String {
        let (resource, attribute) = match argument {
            Value::Array(parts) => (parts[0].as_str().unwrap().to_owned(), parts[1].as_str().unwrap().to_owned()),
            Value::String(dotted) => {
                let (resource, attribute) = dotted.split_once('.').unwrap();
                (resource.to_owned(), attribute.to_owned())
            }
            other => panic!("not an Fn::GetAtt: {other}"),
        };
        assert_eq!(attribute, "Arn", "the tests resolve Fn::GetAtt ...Arn only, not {resource}.{attribute}");
        self.physical.arns.get(resource.as_str()).unwrap_or_else(|| panic!("no ARN given for {resource}")).clone()
    }

    /// `Fn::Sub`: `${Name}` and `${Resource.Attribute}`, `${!Literal}` kept as `${Literal}`.
    fn substitute(&self, argument: &Value) -> String {
        let (text, variables) = match argument {
            Value::String(text) => (text.as_str(), None),
            Value::Array(parts) => (parts[0].as_str().unwrap(), parts[1].as_object()),
            other => panic!("not an Fn::Sub: {other}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').map(|end| start + end).expect("an unclosed ${ in Fn::Sub");
            let name = &rest[start + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(value) = variables.and_then(|v| v.get(name)) {
                out.push_str(self.resolve(value).as_str().unwrap());
            } else if name.contains('.') && !name.starts_with("AWS::") {
                out.push_str(&self.attribute(&Value::String(name.to_owned())));
            } else {
                out.push_str(&self.reference(name));
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn physical_fixture<'a>(
        parameters: &'a HashMap<&'a str, String>,
        ids: &'a HashMap<&'a str, String>,
        arns: &'a HashMap<&'a str, String>,
    ) -> Physical<'a> {
        Physical { parameters, ids, arns }
    }

    #[test]
    fn the_provision_role_is_resolved_from_the_expansion() {
        let parameters: HashMap<&str, String> =
            [("ConnectInstanceId", "i-1".to_owned()), ("BucketNamePrefix", "b".to_owned())].into();
        let ids: HashMap<&str, String> = [("SalesforceSecret", "arn:aws:secretsmanager:x".to_owned())].into();
        let arns: HashMap<&str, String> = [
            ("JobsTable", "arn:aws:dynamodb:us-east-1:123456789012:table/t".to_owned()),
            ("ChunkQueue", "arn:aws:sqs:us-east-1:123456789012:q".to_owned()),
        ]
        .into();
        let role = Expanded::load().role_of("ProvisionFunction", &physical_fixture(&parameters, &ids, &arns));
        let text = serde_json::to_string(&role.policies).unwrap();
        assert!(text.contains("arn:aws:s3:::b-123456789012-us-east-1/uploads/*"), "{text}");
        assert!(text.contains("arn:aws:dynamodb:us-east-1:123456789012:table/t"), "{text}");
        assert!(text.contains("arn:aws:connect:us-east-1:123456789012:instance/i-1/*"), "{text}");
        assert!(text.contains("connect:UpdateUserConfig"), "the template's managed policy is kept: {text}");
        assert!(!text.contains("Fn::") && !text.contains("\"Ref\""), "every intrinsic resolved: {text}");
        assert_eq!(role.trust["Statement"][0]["Principal"]["Service"][0], "lambda.amazonaws.com");
        assert!(!text.contains("kms:"), "no key, no grant on one: {text}");

        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut parameters = parameters.clone();
        parameters.insert("KmsKeyArn", key.to_owned());
        let role = Expanded::load().role_of("ProvisionFunction", &physical_fixture(&parameters, &ids, &arns));
        let text = serde_json::to_string(&role.policies).unwrap();
        assert!(text.contains("kms:Decrypt") && text.contains(key), "a customer key is granted: {text}");
    }
}
