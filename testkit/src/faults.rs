//! A loopback proxy in front of moto that answers chosen DynamoDB calls with the errors the real service gives
//! under contention, throttling or limits, which moto never gives: the client under test parses them with the real
//! SDK, over a real socket. Everything else goes through to moto untouched.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One answer to give instead of moto's: to the next call of `operation` whose request body contains `matching`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub operation: &'static str,
    pub matching: String,
    /// Matching calls let through to moto before this one is answered.
    pub skip: usize,
    pub answer: FaultAnswer,
}

#[derive(Debug, Clone)]
pub enum FaultAnswer {
    /// TransactionCanceledException with one reason code per action ("None" where that action was fine), as
    /// DynamoDB lists them (API reference, TransactWriteItems: CancellationReasons, in the order of the actions).
    Cancelled(Vec<&'static str>),
    /// An error of the operation itself, by its exception name (`TransactionConflictException` for a single-item
    /// write that met a transaction, `ProvisionedThroughputExceededException`, ...), with HTTP 400 as DynamoDB gives
    /// its client errors.
    Error(&'static str),
    /// No error: the call waits here until its [`Held`] is let go, then goes through to moto. A test holds a
    /// function at a chosen step while something else happens.
    Hold(Arc<tokio::sync::Semaphore>),
}

/// A call held by [`Fault::hold`]: reached once the proxy has it, let go by [`let_go`](Self::let_go).
pub struct Held {
    gate: Arc<tokio::sync::Semaphore>,
    faults: Arc<Faults>,
    matching: String,
}

impl Held {
    /// Whether the held call has reached the proxy.
    pub fn reached(&self) -> bool {
        self.faults.given.lock().unwrap().iter().any(|fault| fault.matching == self.matching)
    }

    /// Waits until the held call has reached the proxy, for at most `within`.
    pub async fn wait_reached(&self, within: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while !self.reached() {
            assert!(tokio::time::Instant::now() < deadline, "no call holding {:?} reached the proxy", self.matching);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Lets the held call go on to moto.
    pub fn let_go(&self) {
        self.gate.add_permits(1);
    }
}

impl Fault {
    /// The next TransactWriteItems whose request holds `matching` is cancelled with these reasons.
    pub fn cancel_transaction(matching: impl Into<String>, reasons: &[&'static str]) -> Self {
        Self {
            operation: "TransactWriteItems",
            matching: matching.into(),
            skip: 0,
            answer: FaultAnswer::Cancelled(reasons.to_vec()),
        }
    }

    /// The next call of `operation` whose request holds `matching` is answered with the error `exception`.
    pub fn error(operation: &'static str, matching: impl Into<String>, exception: &'static str) -> Self {
        Self { operation, matching: matching.into(), skip: 0, answer: FaultAnswer::Error(exception) }
    }

    /// The same fault, after `calls` matching calls have gone through to moto.
    pub fn after(self, calls: usize) -> Self {
        Self { skip: calls, ..self }
    }
}

#[derive(Default)]
struct Faults {
    queued: Mutex<VecDeque<Fault>>,
    given: Mutex<Vec<Fault>>,
    calls: Mutex<std::collections::HashMap<String, usize>>,
}

pub struct FaultyDynamo {
    pub endpoint: String,
    faults: Arc<Faults>,
    _server: tokio::task::JoinHandle<()>,
}

impl FaultyDynamo {
    /// Starts the proxy for `moto` (its endpoint) on a free loopback port, on the current runtime.
    pub async fn start(moto: &str) -> Self {
        let faults = Arc::new(Faults::default());
        let upstream = (reqwest::Client::new(), moto.trim_end_matches('/').to_owned(), faults.clone());
        let app = axum::Router::new().fallback(forward).with_state(Arc::new(upstream));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { endpoint, faults, _server: server }
    }

    /// Queues a fault; faults are given in the order they were queued, each once.
    pub fn inject(&self, fault: Fault) {
        self.faults.queued.lock().unwrap().push_back(fault);
    }

    /// Holds the next call of `operation` whose request holds `matching` until the answer is let go.
    pub fn hold(&self, operation: &'static str, matching: impl Into<String>) -> Held {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let matching = matching.into();
        let answer = FaultAnswer::Hold(gate.clone());
        self.inject(Fault { operation, matching: matching.clone(), skip: 0, answer });
        Held { gate, faults: self.faults.clone(), matching }
    }

    /// The faults given so far.
    pub fn given(&self) -> Vec<Fault> {
        self.faults.given.lock().unwrap().clone()
    }

    /// Calls of `operation` the proxy has had so far, answered by moto or by a fault.
    pub fn calls(&self, operation: &str) -> usize {
        self.faults.calls.lock().unwrap().get(operation).copied().unwrap_or(0)
    }

    /// The faults still waiting for their call.
    pub fn pending(&self) -> usize {
        self.faults.queued.lock().unwrap().len()
    }
}

type Upstream = Arc<(reqwest::Client, String, Arc<Faults>)>;

async fn forward(
    State(upstream): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, moto, faults) = &*upstream;
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    *faults.calls.lock().unwrap().entry(operation.clone()).or_default() += 1;
    let text = String::from_utf8_lossy(&body);
    let fault = {
        let mut queued = faults.queued.lock().unwrap();
        match queued.iter().position(|f| f.operation == operation && text.contains(&f.matching)) {
            Some(at) if queued[at].skip > 0 => {
                queued[at].skip -= 1;
                None
            }
            Some(at) => queued.remove(at),
            None => None,
        }
    };
    if let Some(fault) = fault {
        faults.given.lock().unwrap().push(fault.clone());
        match &fault.answer {
            FaultAnswer::Hold(gate) => drop(gate.acquire().await),
            answer_instead => return answer(answer_instead),
        }
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = client.request(method, format!("{moto}{path}")).body(body);
    // The Host header goes through as the client signed it: moto checks a role session's SigV4 signature, which
    // covers it.
    for (name, value) in &headers {
        if name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(reply) => {
            let status = StatusCode::from_u16(reply.status().as_u16()).unwrap();
            let mut out = HeaderMap::new();
            for (name, value) in reply.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    out.insert(name.clone(), value.clone());
                }
            }
            let bytes = reply.bytes().await.unwrap_or_default();
            (status, out, bytes).into_response()
        }
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
}

/// The error as DynamoDB's JSON protocol carries it: `__type` names the exception, and a cancellation lists its
/// reasons in the order of the transaction's actions.
fn answer(fault: &FaultAnswer) -> Response {
    match fault {
        FaultAnswer::Cancelled(reasons) => {
            let listed = reasons.join(", ");
            let body = serde_json::json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{listed}]"),
                "CancellationReasons": reasons.iter().map(|code| match *code {
                    "None" => serde_json::json!({"Code": "None"}),
                    code => serde_json::json!({"Code": code, "Message": format!("injected {code}")}),
                }).collect::<Vec<_>>(),
            });
            (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.0")], body.to_string())
                .into_response()
        }
        FaultAnswer::Hold(_) => unreachable!("a held call goes through to moto"),
        FaultAnswer::Error(exception) => {
            let body = serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{exception}"),
                "message": format!("injected {exception}"),
            });
            (StatusCode::BAD_REQUEST, [("content-type", "application/x-amz-json-1.0")], body.to_string())
                .into_response()
        }
    }
}
