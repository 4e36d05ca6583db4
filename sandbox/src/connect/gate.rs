//! What every call passes before it reaches its operation: the signature check, the account's quota for the API,
//! the added latency, and injected faults. Counted per operation for the inspection endpoint.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderMap;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use super::error::{ConnectError, ConnectResult, ErrorKind};
use super::iam::Policies;

/// The operations the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    CreateUser,
    DescribeUser,
    ListUsers,
    SearchUsers,
    UpdateUserIdentityInfo,
    UpdateUserPhoneConfig,
    UpdateUserRoutingProfile,
    UpdateUserSecurityProfiles,
    UpdateUserHierarchy,
    UpdateUserConfig,
    DeleteUser,
    TagResource,
    UntagResource,
    ListRoutingProfiles,
    ListSecurityProfiles,
    ListUserHierarchyGroups,
    SearchUserHierarchyGroups,
    ListContactFlows,
    CreateQuickConnect,
    DescribeQuickConnect,
    ListQuickConnects,
    DeleteQuickConnect,
    DescribeInstance,
}

impl Op {
    pub const ALL: [Op; 23] = [
        Op::CreateUser,
        Op::DescribeUser,
        Op::ListUsers,
        Op::SearchUsers,
        Op::UpdateUserIdentityInfo,
        Op::UpdateUserPhoneConfig,
        Op::UpdateUserRoutingProfile,
        Op::UpdateUserSecurityProfiles,
        Op::UpdateUserHierarchy,
        Op::UpdateUserConfig,
        Op::DeleteUser,
        Op::TagResource,
        Op::UntagResource,
        Op::ListRoutingProfiles,
        Op::ListSecurityProfiles,
        Op::ListUserHierarchyGroups,
        Op::SearchUserHierarchyGroups,
        Op::ListContactFlows,
        Op::CreateQuickConnect,
        Op::DescribeQuickConnect,
        Op::ListQuickConnects,
        Op::DeleteQuickConnect,
        Op::DescribeInstance,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::CreateUser => "CreateUser",
            Op::DescribeUser => "DescribeUser",
            Op::ListUsers => "ListUsers",
            Op::SearchUsers => "SearchUsers",
            Op::UpdateUserIdentityInfo => "UpdateUserIdentityInfo",
            Op::UpdateUserPhoneConfig => "UpdateUserPhoneConfig",
            Op::UpdateUserRoutingProfile => "UpdateUserRoutingProfile",
            Op::UpdateUserSecurityProfiles => "UpdateUserSecurityProfiles",
            Op::UpdateUserHierarchy => "UpdateUserHierarchy",
            Op::UpdateUserConfig => "UpdateUserConfig",
            Op::DeleteUser => "DeleteUser",
            Op::TagResource => "TagResource",
            Op::UntagResource => "UntagResource",
            Op::ListRoutingProfiles => "ListRoutingProfiles",
            Op::ListSecurityProfiles => "ListSecurityProfiles",
            Op::ListUserHierarchyGroups => "ListUserHierarchyGroups",
            Op::SearchUserHierarchyGroups => "SearchUserHierarchyGroups",
            Op::ListContactFlows => "ListContactFlows",
            Op::CreateQuickConnect => "CreateQuickConnect",
            Op::DescribeQuickConnect => "DescribeQuickConnect",
            Op::ListQuickConnects => "ListQuickConnects",
            Op::DeleteQuickConnect => "DeleteQuickConnect",
            Op::DescribeInstance => "DescribeInstance",
        }
    }

    /// The documented default quota (reference/amazon-connect.md): 10 req/s for DescribeUser and the listed List*
    /// calls, and for DescribeQuickConnect (the admin guide's API throttling quotas, "Connect Customer service
    /// quotas"), 2 req/s with a burst of 5 for everything else. The burst of the 10 req/s family is not documented;
    /// 10 is assumed.
    pub fn default_quota(self) -> QuotaSpec {
        match self {
            Op::DescribeUser
            | Op::ListUsers
            | Op::ListRoutingProfiles
            | Op::ListUserHierarchyGroups
            | Op::ListQuickConnects
            | Op::DescribeQuickConnect => QuotaSpec { rate: 10.0, burst: 10 },
            _ => QuotaSpec { rate: 2.0, burst: 5 },
        }
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuotaSpec {
    pub rate: f64,
    pub burst: u32,
}

/// Injected faults for one operation, as fractions of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRates {
    /// 500 InternalServiceException.
    pub internal_error: f64,
    /// 429 ThrottlingException, on top of the quota's own.
    pub throttle: f64,
    /// 409 ConditionalOperationFailedException: the user changed under the call. Of ccbulk's calls, the service
    /// model gives this error to UpdateUserConfig only (reference/connect_wire_sdk1.220.txt).
    pub condition_failed: f64,
    /// A write that is applied and whose answer is then lost: the client gets a 502 with an HTML body, as a load
    /// balancer in front of the service gives it, and cannot tell whether its call went through. The hardest reading
    /// of a timeout: the API reference promises nothing about a call whose answer never came.
    pub lost_answer: f64,
}

pub use crate::latency::Latency;

/// Everything a test or benchmark may turn at run time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    pub latency: Latency,
    /// Per operation name (`CreateUser`), or `*` for every operation.
    pub faults: BTreeMap<String, FaultRates>,
    /// Per operation name: quotas other than the defaults.
    pub quotas: BTreeMap<String, QuotaSpec>,
    /// For this long after CreateUser, DescribeUser, ListUsers and SearchUsers do not see the new user.
    pub visibility_delay_ms: u64,
}

/// Calls and refusals per operation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    pub calls: BTreeMap<&'static str, u64>,
    pub throttled: BTreeMap<&'static str, u64>,
    pub injected_errors: BTreeMap<&'static str, u64>,
    pub unauthenticated: u64,
    /// Calls refused because the caller's identity policies do not allow them, per operation.
    pub denied: BTreeMap<&'static str, u64>,
    /// Signed calls per caller and operation, the caller known by the access key id in the signature's credential
    /// scope (as CloudTrail records a call's `userIdentity.accessKeyId`): which of several clients made which calls.
    pub calls_by_access_key: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// When each operation was first and last admitted within its quota (milliseconds since the Unix epoch): a
    /// benchmark tells the time before a run's first write and after its last from the time in between.
    pub admitted_between: BTreeMap<&'static str, (u64, u64)>,
}

pub struct Gate {
    knobs: Mutex<Knobs>,
    limiters: Mutex<BTreeMap<Op, DefaultDirectRateLimiter>>,
    counters: Mutex<Counters>,
    policies: Mutex<Policies>,
}

impl Gate {
    pub fn new(knobs: Knobs) -> Self {
        let gate = Self {
            knobs: Mutex::new(Knobs::default()),
            limiters: Mutex::new(BTreeMap::new()),
            counters: Mutex::default(),
            policies: Mutex::default(),
        };
        gate.set_knobs(knobs);
        gate
    }

    /// Replaces the knobs; quota buckets start full again.
    pub fn set_knobs(&self, knobs: Knobs) {
        let limiters = Op::ALL
            .into_iter()
            .map(|op| {
                let spec = knobs.quotas.get(op.name()).copied().unwrap_or(op.default_quota());
                (op, limiter(spec))
            })
            .collect();
        *self.limiters.lock().unwrap() = limiters;
        *self.knobs.lock().unwrap() = knobs;
    }

    pub fn knobs(&self) -> Knobs {
        self.knobs.lock().unwrap().clone()
    }

    pub fn counters(&self) -> Counters {
        self.counters.lock().unwrap().clone()
    }

    /// Holds the caller signing with `access_key` to these identity policy documents.
    pub fn set_policies(&self, access_key: &str, documents: Vec<serde_json::Value>) {
        self.policies.lock().unwrap().set(access_key, documents);
    }

    /// Admits a call or answers it with the error the service would give.
    pub async fn admit(&self, op: Op, headers: &HeaderMap) -> ConnectResult<()> {
        if let Err(err) = check_signature(headers) {
            self.counters.lock().unwrap().unauthenticated += 1;
            return Err(err);
        }
        let caller = access_key_id(headers);
        {
            let mut counters = self.counters.lock().unwrap();
            *counters.calls.entry(op.name()).or_default() += 1;
            *counters.calls_by_access_key.entry(caller.clone()).or_default().entry(op.name()).or_default() += 1;
        }
        // Authorization is judged as the call arrives. Whether a refused call spends the API's rate, the sources do not
        // say; the SDK does not retry an AccessDeniedException, so either reading gives a client the same answer.
        let refusal = self.policies.lock().unwrap().refusal(&caller, op.name());
        if let Some(message) = refusal {
            *self.counters.lock().unwrap().denied.entry(op.name()).or_default() += 1;
            return Err(ConnectError::new(ErrorKind::AccessDenied, message));
        }
        let (latency, faults) = {
            let knobs = self.knobs.lock().unwrap();
            let faults = knobs.faults.get(op.name()).or_else(|| knobs.faults.get("*")).copied().unwrap_or_default();
            (knobs.latency, faults)
        };
        // The quota is judged as the request arrives, before any work on it: AWS throttles the rate of request
        // submissions with a token bucket per account and API (EC2 and ECS API references, "Request throttling",
        // "How throttling is applied"), so a throttled call is answered at once and the latency is the time an
        // admitted call takes to be worked. Latency before the check would bunch arrivals that left evenly spaced.
        let within_quota = self.limiters.lock().unwrap().get(&op).is_none_or(|limiter| limiter.check().is_ok());
        if !within_quota {
            *self.counters.lock().unwrap().throttled.entry(op.name()).or_default() += 1;
            return Err(ConnectError::new(ErrorKind::Throttling, "Rate exceeded"));
        }
        {
            let now = epoch_millis();
            let mut counters = self.counters.lock().unwrap();
            counters.admitted_between.entry(op.name()).or_insert((now, now)).1 = now;
        }
        latency.wait().await;
        let injected = if fastrand::f64() < faults.internal_error {
            Some(ConnectError::new(ErrorKind::InternalService, "We encountered an internal error. Please try again."))
        } else if fastrand::f64() < faults.throttle {
            Some(ConnectError::new(ErrorKind::Throttling, "Rate exceeded"))
        } else if fastrand::f64() < faults.condition_failed {
            Some(ConnectError::new(
                ErrorKind::ConditionalOperationFailed,
                "Request processing failed because dependent condition failed.",
            ))
        } else {
            None
        };
        if let Some(err) = injected {
            *self.counters.lock().unwrap().injected_errors.entry(op.name()).or_default() += 1;
            return Err(err);
        }
        Ok(())
    }

    /// Whether the answer to `op`, once worked, is to be lost (see [`FaultRates::lost_answer`]).
    pub fn loses_answer(&self, op: Op) -> bool {
        let rate = {
            let knobs = self.knobs.lock().unwrap();
            knobs.faults.get(op.name()).or_else(|| knobs.faults.get("*")).map_or(0.0, |f| f.lost_answer)
        };
        let lost = rate > 0.0 && fastrand::f64() < rate;
        if lost {
            *self.counters.lock().unwrap().injected_errors.entry(op.name()).or_default() += 1;
        }
        lost
    }
}

fn epoch_millis() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn limiter(spec: QuotaSpec) -> DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(1.0 / spec.rate.max(1e-6));
    let burst = NonZeroU32::new(spec.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst);
    RateLimiter::direct(quota)
}

/// The access key id of a signed request: `Credential=<id>/<date>/<region>/<service>/aws4_request`.
fn access_key_id(headers: &HeaderMap) -> String {
    let value = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let credential = value.split("Credential=").nth(1).unwrap_or_default();
    credential.split('/').next().unwrap_or_default().to_owned()
}

/// Any credentials are accepted, but the request must carry a SigV4 signature, as the service demands.
fn check_signature(headers: &HeaderMap) -> ConnectResult<()> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(ConnectError::new(ErrorKind::MissingAuthenticationToken, "Missing Authentication Token"));
    };
    let signed = value.starts_with("AWS4-HMAC-SHA256 ")
        && ["Credential=", "SignedHeaders=", "Signature="].iter().all(|part| value.contains(part));
    if signed {
        Ok(())
    } else {
        Err(ConnectError::new(
            ErrorKind::AccessDenied,
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' (AWS4-HMAC-SHA256)",
        ))
    }
}
