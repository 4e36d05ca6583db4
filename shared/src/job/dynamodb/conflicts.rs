//! A single-item write that meets a transaction is refused, not queued: DynamoDB answers it with
//! `TransactionConflictException` ("Transaction conflict handling in DynamoDB", Developer Guide: a PutItem,
//! UpdateItem or DeleteItem on an item that an ongoing TransactWriteItems holds is rejected). Every row's transaction
//! also writes its job's `JOB` item, so at speed that item is inside some transaction most of the time, and a plain
//! update of it (a pause, a settle, the chunks sent) meets one often.
//!
//! The refused write changed nothing, so sending it again is safe, whatever its condition. The SDK's standard retry
//! does not count this error as transient (aws-runtime's error-code classifier lists throttling and timeouts only):
//! this classifier adds it, for the store's own client, so that every single-item write is covered in one place and
//! retried with the SDK's backoff and retry quota.

use aws_sdk_dynamodb::config::interceptors::InterceptorContext;
use aws_sdk_dynamodb::config::retry::{ClassifyRetry, RetryAction, RetryConfig};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::{Client, Config};

const TRANSACTION_CONFLICT: &str = "TransactionConflictException";

/// Attempts at a single-item write (the SDK's standard mode makes 3): a busy job's item may be inside transactions
/// several times in a row, and each wait is short (the SDK's backoff starts at tens of milliseconds).
const WRITE_ATTEMPTS: u32 = 8;

/// The client, configured as it was, with single-item writes retried on a transaction conflict.
pub(super) fn conflict_tolerant(client: Client) -> Client {
    let config = client.config();
    let retry = config.retry_config().cloned().unwrap_or_else(RetryConfig::standard);
    let attempts = retry.max_attempts().max(WRITE_ATTEMPTS);
    let config: Config = config
        .to_builder()
        .retry_config(retry.with_max_attempts(attempts))
        .retry_classifier(ConflictIsTransient)
        .build();
    Client::from_conf(config)
}

#[derive(Debug)]
struct ConflictIsTransient;

impl ClassifyRetry for ConflictIsTransient {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        let Some(error) = error.as_operation_error() else { return RetryAction::NoActionIndicated };
        let code = error
            .downcast_ref::<UpdateItemError>()
            .and_then(|e| e.code())
            .or_else(|| error.downcast_ref::<PutItemError>().and_then(|e| e.code()))
            .or_else(|| error.downcast_ref::<DeleteItemError>().and_then(|e| e.code()));
        if code == Some(TRANSACTION_CONFLICT) { RetryAction::transient_error() } else { RetryAction::NoActionIndicated }
    }

    fn name(&self) -> &'static str {
        "TransactionConflictIsTransient"
    }
}
