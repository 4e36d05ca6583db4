//! Every Connect call ccbulk makes is sent, and sent again, here: each attempt first waits its turn at the pacer, so
//! a retry spends the account's bucket like any other call instead of slipping past it (the SDK's own retry loop
//! cannot wait on an async pacer, so the clients ccbulk builds have it switched off: see [`super::client`]).

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_connect::error::{ProvideErrorMetadata, SdkError};

use super::pacing::{Api, Pacer};

/// How often a call is tried, and how long it waits between tries when the service pushes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// Tries per call for passing errors (throttles, 5xx, network), the first one included.
    pub attempts: u32,
    /// The first wait; each retry doubles it, up to [`Retries::longest`], and a random part of it is waited (full
    /// jitter, as the SDKs' standard mode does).
    pub first: Duration,
    pub longest: Duration,
    /// How long after its creation a user may still be unknown to the calls that name it (see [`settles`]).
    pub settling: Duration,
}

impl Default for Retries {
    /// The SDK's standard retry mode backs off from 1 s up to 20 s (reference/amazon-connect.md, "Retries in
    /// aws-sdk-rust"); ccbulk starts lower because its pacer already keeps it inside the account's rate, so a
    /// throttle here comes from another caller in the account. Eight tries, as ccbulk gave the SDK before.
    fn default() -> Self {
        Self {
            attempts: 8,
            first: Duration::from_millis(500),
            longest: Duration::from_secs(20),
            settling: Duration::from_secs(30),
        }
    }
}

impl Retries {
    /// The most the `retry`-th wait may be: [`Retries::first`] doubled per retry, up to [`Retries::longest`].
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        self.first.saturating_mul(1 << retry.min(16)).min(self.longest)
    }

    fn delay(&self, retry: u32) -> Duration {
        self.ceiling(retry).mul_f64(fastrand::f64())
    }
}

/// Whether an error passes by itself: throttles, the service's own 5xx, and failures on the way (timeouts, a
/// connection refused or reset). `LimitExceededException` is not among them: in Connect it means a resource quota is
/// full ("The allowed limit for the resource has been exceeded", API reference, e.g. users or quick connects per
/// instance), which passes only when an admin raises the quota, although the SDKs' standard classifier files it with
/// the throttling errors.
/// An answer of 500, 502, 503 or 504 that names no error of the API (a load balancer's or gateway's HTML page) passes
/// too: the AWS SDKs' standard retry strategy takes those statuses for transient (AWS SDKs and Tools Reference Guide,
/// "Retry behavior"). The call may have gone through: the next attempt finds out (a create meets the user, by name).
pub(crate) fn passes<E: ProvideErrorMetadata, R: AnswerStatus>(err: &SdkError<E, R>) -> bool {
    unnamed_server_error(err).is_some()
        || matches!(err, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_))
        || matches!(
            err.code(),
            Some(
                "ThrottlingException"
                    | "TooManyRequestsException"
                    | "InternalServiceException"
                    | "ServiceUnavailableException"
            )
        )
}

/// The HTTP status of a raw answer.
pub trait AnswerStatus {
    fn status_code(&self) -> u16;
}

impl AnswerStatus for aws_sdk_connect::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The status of a 5xx answer that names no error of the API, if `err` is one.
pub(crate) fn unnamed_server_error<E: ProvideErrorMetadata, R: AnswerStatus>(err: &SdkError<E, R>) -> Option<u16> {
    let SdkError::ServiceError(service) = err else { return None };
    let status = service.raw().status_code();
    (err.code().is_none() && matches!(status, 500 | 502 | 503 | 504)).then_some(status)
}

/// Whether the service pushed back on the rate (API reference, Common errors: ThrottlingException; the REST
/// layer's 429 TooManyRequestsException).
fn throttle<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err.code(), Some("ThrottlingException" | "TooManyRequestsException"))
}

/// Whether an error may only mean that a user created moments ago is not known yet everywhere in the service.
/// Connect is eventually consistent: DescribeUser right after CreateUser may answer ResourceNotFoundException for a
/// while (reference/amazon-connect.md, "Eventual consistency"), and so may the writes that name the new user
/// (CreateQuickConnect, TagResource, the Update* calls), which may also answer InvalidRequestException.
fn settles<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err.code(), Some("ResourceNotFoundException" | "InvalidRequestException"))
}

impl Pacer {
    /// Sends a call built by `send`, waiting its turn before every attempt, and sends it again while it fails for a
    /// passing reason ([`passes`]) and tries are left. `fresh_since` is when the user the call names was created,
    /// if this process created (or adopted) it moments ago: until [`Retries::settling`] after that, "not found" and
    /// "invalid request" are taken for eventual consistency and retried too.
    pub async fn send<T, E, R, F, Fut>(
        &self,
        api: Api,
        fresh_since: Option<Instant>,
        send: F,
    ) -> Result<T, SdkError<E, R>>
    where
        E: ProvideErrorMetadata,
        R: AnswerStatus,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
    {
        let retries = self.retries();
        let settled_at = fresh_since.map(|created| created + retries.settling);
        let mut retry = 0;
        loop {
            let taken = self.wait(api).await;
            let started = Instant::now();
            let answer = send().await;
            self.took(started.elapsed());
            let err = match answer {
                Ok(answer) => return Ok(answer),
                Err(err) => err,
            };
            if throttle(&err) {
                self.throttled(api, taken).await;
            }
            let unsettled = settled_at.is_some_and(|at| Instant::now() < at) && settles(&err);
            let again = unsettled || (passes(&err) && retry + 1 < retries.attempts);
            if !again {
                return Err(err);
            }
            let mut delay = retries.delay(retry);
            if let (true, Some(at)) = (unsettled, settled_at) {
                delay = delay.min(at.saturating_duration_since(Instant::now()));
            }
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_longest_and_never_exceed_it() {
        let retries = Retries::default();
        for retry in 0..40 {
            let ceiling = retries.ceiling(retry);
            let delay = retries.delay(retry);
            assert!(delay <= ceiling && ceiling <= retries.longest, "retry {retry}: {delay:?} over {ceiling:?}");
        }
        assert_eq!(retries.ceiling(0), retries.first);
        assert_eq!(retries.ceiling(1), retries.first * 2);
        assert_eq!(retries.ceiling(10), retries.longest);
    }
}
