//! The functions' roles, made in moto's IAM from the expanded template, and the credentials each Lambda container
//! gets (an AssumeRole session of its function's role, as Lambda gives each execution environment). moto_server.py
//! holds every request signed by such credentials to the role's policies; the account's root key (the tests' own
//! set-up) is not held to any.

use std::time::SystemTime;

use aws_sdk_dynamodb::config::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::expanded::{ACCOUNT_ID, REGION, Role};

/// IAM's and STS's Query APIs on moto, signed with the account's root key.
pub struct Iam {
    endpoint: String,
    http: reqwest::Client,
}

impl Iam {
    pub fn new(endpoint: &str) -> Self {
        Self { endpoint: endpoint.to_owned(), http: reqwest::Client::new() }
    }

    /// Creates the role `name` with the template's trust policy and identity policies; returns its ARN.
    pub async fn create_role(&self, name: &str, role: &Role) -> String {
        let trust = role.trust.to_string();
        self.call("iam", &[("Action", "CreateRole"), ("RoleName", name), ("AssumeRolePolicyDocument", &trust)]).await;
        for (policy_name, document) in &role.policies {
            // IAM takes a document without a Version as of the 2008-10-17 language (IAM JSON policy elements:
            // Version), as SAM writes its event policies; moto refuses one. None of them uses what 2012-10-17 added.
            let mut document = document.clone();
            document.as_object_mut().unwrap().entry("Version").or_insert("2012-10-17".into());
            let document = document.to_string();
            self.call(
                "iam",
                &[
                    ("Action", "PutRolePolicy"),
                    ("RoleName", name),
                    ("PolicyName", policy_name),
                    ("PolicyDocument", &document),
                ],
            )
            .await;
        }
        format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}")
    }

    /// A session of the role, as one Lambda execution environment gets it.
    pub async fn assume(&self, role_arn: &str, session: &str) -> Credentials {
        let answer =
            self.call("sts", &[("Action", "AssumeRole"), ("RoleArn", role_arn), ("RoleSessionName", session)]).await;
        let field = |name: &str| {
            let start = answer.find(&format!("<{name}>")).unwrap_or_else(|| panic!("no {name} in {answer}"));
            let rest = &answer[start + name.len() + 2..];
            rest[..rest.find('<').unwrap()].to_owned()
        };
        Credentials::new(
            field("AccessKeyId"),
            field("SecretAccessKey"),
            Some(field("SessionToken")),
            None,
            "assumed-role",
        )
    }

    async fn call(&self, service: &str, form: &[(&str, &str)]) -> String {
        let version = if service == "iam" { "2010-05-08" } else { "2011-06-15" };
        let mut pairs: Vec<(&str, &str)> = form.to_vec();
        pairs.push(("Version", version));
        let body = form_body(&pairs);
        let url = format!("{}/", self.endpoint);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let identity = Credentials::new("testing", "testing", None, None, "root").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [("content-type", content_type)];
        let signable =
            SignableRequest::new("POST", &url, headers.into_iter(), SignableBody::Bytes(body.as_bytes())).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = self.http.post(&url).header("content-type", content_type).body(body);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{service} {form:?}: {status} {text}");
        text
    }
}

/// `application/x-www-form-urlencoded` text of the pairs, as signed and sent.
fn form_body(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    pairs
        .iter()
        .map(|(k, v)| {
            format!("{}={}", utf8_percent_encode(k, NON_ALPHANUMERIC), utf8_percent_encode(v, NON_ALPHANUMERIC))
        })
        .collect::<Vec<_>>()
        .join("&")
}
