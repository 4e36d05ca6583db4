//! A client of a deployed stack's status API: requests signed with SigV4 (service `execute-api`) by the default
//! AWS credential chain, as the API's IAM authorization demands.

use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use ccbulk_shared::job::{Job, JobId, Page, RowRecord, RowStatus, SalesforceAllocation};
use ccbulk_shared::pipeline::Retried;
use serde::Deserialize;

const TIMEOUT: Duration = Duration::from_secs(60);

pub struct ApiClient {
    base: String,
    region: String,
    credentials: SharedCredentialsProvider,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct JobsPage {
    jobs: Vec<Job>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct RowsPage {
    rows: Vec<RowRecord>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

#[derive(Deserialize)]
struct ReportLink {
    url: String,
}

impl ApiClient {
    /// The API at `base` (the stack's StatusApiUrl output). The region is the one in an execute-api host name,
    /// else the default chain's.
    pub async fn connect(base: &str, profile: Option<&str>) -> Result<Self, String> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        let credentials =
            config.credentials_provider().ok_or("no AWS credentials: the API's IAM authorization needs them")?;
        let region = region_of(base)
            .or_else(|| config.region().map(|r| r.to_string()))
            .ok_or("no AWS region: set AWS_REGION or use the API's execute-api URL")?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), region, credentials, http })
    }

    async fn get(&self, path_and_query: &str) -> Result<reqwest::Response, String> {
        self.send(reqwest::Method::GET, path_and_query).await
    }

    /// A signed request with no body.
    async fn send(&self, method: reqwest::Method, path_and_query: &str) -> Result<reqwest::Response, String> {
        let url = format!("{}{}", self.base, path_and_query);
        let credentials =
            self.credentials.provide_credentials().await.map_err(|e| format!("cannot load AWS credentials: {e}"))?;
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable =
            SignableRequest::new(method.as_str(), url.as_str(), std::iter::empty(), SignableBody::Bytes(&[]))
                .map_err(|e| format!("cannot sign {url}: {e}"))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| format!("cannot sign {url}: {e}"))?.into_parts();
        let mut request = self.http.request(method.clone(), &url);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        request.send().await.map_err(|e| format!("{method} {url}: {e}"))
    }

    /// Retries the job's failed rows (`POST /jobs/{id}/retry`); `None`: no such job.
    pub async fn retry(&self, id: &str) -> Result<Option<Retried>, String> {
        self.answer(reqwest::Method::POST, &format!("/jobs/{id}/retry")).await
    }

    /// The answer's JSON to a GET; `None` on 404.
    async fn json<T: for<'de> Deserialize<'de>>(&self, path_and_query: &str) -> Result<Option<T>, String> {
        self.answer(reqwest::Method::GET, path_and_query).await
    }

    /// The answer's JSON; `None` on 404.
    async fn answer<T: for<'de> Deserialize<'de>>(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
    ) -> Result<Option<T>, String> {
        let response = self.send(method, path_and_query).await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(refusal(status, &text));
        }
        serde_json::from_str(&text).map(Some).map_err(|e| format!("the API answered what ccbulk cannot read ({e})"))
    }

    pub async fn job(&self, id: &str) -> Result<Option<Job>, String> {
        self.json(&format!("/jobs/{id}")).await
    }

    /// The job summary's `salesforce_allocation`.
    pub async fn salesforce_allocation(&self, id: &str) -> Result<Option<SalesforceAllocation>, String> {
        #[derive(serde::Deserialize)]
        struct Summary {
            #[serde(default)]
            salesforce_allocation: Option<SalesforceAllocation>,
        }
        let summary: Option<Summary> = self.json(&format!("/jobs/{id}")).await?;
        Ok(summary.and_then(|summary| summary.salesforce_allocation))
    }

    pub async fn jobs(&self, limit: usize, next: Option<&str>) -> Result<Page<Job>, String> {
        let mut path = format!("/jobs?limit={limit}");
        if let Some(next) = next {
            path.push_str(&format!("&next={}", encode(next)));
        }
        let page: JobsPage = self.json(&path).await?.ok_or("the API has no /jobs: is the URL the StatusApiUrl?")?;
        Ok(Page { items: page.jobs, next: page.next })
    }

    pub async fn rows(
        &self,
        id: &JobId,
        status: Option<RowStatus>,
        limit: usize,
        after: Option<u64>,
    ) -> Result<Page<RowRecord>, String> {
        let mut path = format!("/jobs/{id}/rows?limit={limit}");
        if let Some(status) = status {
            path.push_str(&format!("&status={}", status.as_str()));
        }
        if let Some(after) = after {
            path.push_str(&format!("&next={after}"));
        }
        let page: RowsPage = self.json(&path).await?.ok_or_else(|| format!("no job {id}"))?;
        Ok(Page { items: page.rows, next: page.next })
    }

    /// The report's bytes, inline or from the link a large report is answered with.
    pub async fn report(&self, id: &JobId) -> Result<Vec<u8>, String> {
        let response = self.get(&format!("/jobs/{id}/report")).await?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match status.as_u16() {
            200 => Ok(bytes.to_vec()),
            303 => {
                let link: ReportLink = serde_json::from_slice(&bytes).map_err(|e| format!("a report link: {e}"))?;
                let report = self.http.get(&link.url).send().await.map_err(|e| format!("the report: {e}"))?;
                if !report.status().is_success() {
                    return Err(format!("the report's link answered {}", report.status()));
                }
                Ok(report.bytes().await.map_err(|e| e.to_string())?.to_vec())
            }
            _ => Err(refusal(status, &text())),
        }
    }
}

fn refusal(status: reqwest::StatusCode, body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(error) => format!("the API refused ({status}, {}): {}", error.error.code, error.error.message),
        // API Gateway's own refusals (a missing or wrong signature) are {"message": "..."}.
        Err(_) => format!("the API refused ({status}): {}", body.trim()),
    }
}

/// `abc.execute-api.eu-west-1.amazonaws.com` → `eu-west-1`.
fn region_of(base: &str) -> Option<String> {
    let host = base.split("://").nth(1)?.split(['/', ':']).next()?;
    let mut parts = host.split('.');
    let (_, service, region) = (parts.next()?, parts.next()?, parts.next()?);
    (service == "execute-api").then(|| region.to_owned())
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_an_execute_api_host() {
        assert_eq!(region_of("https://abc123.execute-api.eu-west-1.amazonaws.com"), Some("eu-west-1".into()));
        assert_eq!(region_of("https://abc123.execute-api.us-east-2.amazonaws.com/"), Some("us-east-2".into()));
        assert_eq!(region_of("http://127.0.0.1:9000"), None);
        assert_eq!(encode("0000000123#a b"), "0000000123%23a%20b");
    }
}
