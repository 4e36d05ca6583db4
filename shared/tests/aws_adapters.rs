//! The S3 object store and the SQS chunk queue against moto, with the real SDK clients.

use aws_sdk_s3::primitives::ByteStream;
use ccbulk_shared::format::ByteRange;
use ccbulk_shared::job::{ChunkMessage, JobId};
use ccbulk_shared::pipeline::{ChunkQueue, ObjectStore, S3Objects, SqsQueue};
use ccbulk_shared::validate::{Options, Validator, Visitor, validate};
use ccbulk_testkit::{aws_config_for, create_versioned_bucket, moto, unique};

fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws_config_for(endpoint)).force_path_style(true).build(),
    )
}

fn sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&aws_config_for(endpoint))
}

#[tokio::test]
async fn ranges_are_read_at_the_version_the_job_recorded() {
    let moto = moto();
    let client = s3(&moto.endpoint);
    let bucket = unique("uploads");
    create_versioned_bucket(&client, &bucket).await;
    let key = "uploads/team a+b.csv";
    let first = client
        .put_object()
        .bucket(&bucket)
        .key(key)
        .body(ByteStream::from_static(b"header\nrow one\nrow two\n"))
        .send()
        .await
        .unwrap();
    let object = S3Objects::object(&bucket, key, first.version_id(), first.e_tag());
    assert_eq!(object.version, first.version_id().unwrap());
    let store = S3Objects::new(client.clone());
    assert_eq!(store.read_range(&object, ByteRange { start: 7, end: 15 }).await.unwrap(), b"row one\n");

    // The file is replaced: the job still reads the bytes it validated.
    client.put_object().bucket(&bucket).key(key).body(ByteStream::from_static(b"other\n")).send().await.unwrap();
    assert_eq!(store.read_range(&object, ByteRange { start: 15, end: 23 }).await.unwrap(), b"row two\n");

    // Without versioning, the ETag stands in: a replaced object is an error that says so.
    let plain = unique("plain");
    client.create_bucket().bucket(&plain).send().await.unwrap();
    let put = client.put_object().bucket(&plain).key(key).body(ByteStream::from_static(b"abc\n")).send().await.unwrap();
    let object = S3Objects::object(&plain, key, None, put.e_tag());
    assert!(object.version.starts_with("etag:"));
    assert_eq!(store.read_range(&object, ByteRange { start: 0, end: 3 }).await.unwrap(), b"abc");
    client.put_object().bucket(&plain).key(key).body(ByteStream::from_static(b"xyz\n")).send().await.unwrap();
    let err = store.read_range(&object, ByteRange { start: 0, end: 3 }).await.unwrap_err();
    assert!(err.to_string().contains("changed"), "{err}");
}

#[derive(Default)]
struct Chunks(Vec<ccbulk_shared::format::Chunk>);

impl Visitor for Chunks {
    fn chunk(&mut self, chunk: &ccbulk_shared::format::Chunk) {
        self.0.push(*chunk);
    }
}

#[tokio::test]
async fn chunk_messages_cross_sqs_in_batches_and_come_back_whole() {
    let moto = moto();
    let client = sqs(&moto.endpoint);
    let queue_url = client.create_queue().queue_name(unique("chunks")).send().await.unwrap();
    let queue_url = queue_url.queue_url().unwrap().to_owned();

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ccbulk-agents.csv");
    let options = Options { chunk_rows: 1, ..Options::default() };
    let mut chunks = Chunks::default();
    validate(path.as_path(), &options, &mut chunks).unwrap();
    let (validator, _) = Validator::prepare(path.as_path(), &options).unwrap();
    let object = S3Objects::object("uploads", "uploads/agents.csv", Some("v1"), None);
    let messages: Vec<ChunkMessage> = chunks
        .0
        .iter()
        .map(|chunk| ChunkMessage {
            job_id: JobId::for_object(&object),
            object: object.clone(),
            header: validator.header().clone(),
            setup: validator.setup(),
            chunk: *chunk,
            round: 0,
        })
        .collect();
    assert_eq!(messages.len(), 28, "more than two batches of ten");
    SqsQueue::new(client.clone(), &queue_url).send(&messages).await.unwrap();

    let mut received = Vec::new();
    while received.len() < messages.len() {
        let answer = client.receive_message().queue_url(&queue_url).max_number_of_messages(10).send().await.unwrap();
        assert!(!answer.messages().is_empty(), "all sent messages arrive");
        for message in answer.messages() {
            received.push(serde_json::from_str::<ChunkMessage>(message.body().unwrap()).unwrap());
        }
    }
    received.sort_by_key(|m| m.chunk.index);
    assert_eq!(received, messages);
}

/// An object read as a stream gives its bytes whole, in many pieces, as often as it is opened; a reader that stops
/// early (the header only) lets go of the GET; a version deleted for good is gone, and said to be.
#[tokio::test]
async fn an_object_streams_to_a_blocking_reader_and_a_deleted_version_is_gone() {
    use std::io::Read;

    use ccbulk_shared::validate::Source;
    let moto = moto();
    let client = s3(&moto.endpoint);
    let bucket = unique("uploads");
    create_versioned_bucket(&client, &bucket).await;
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let put = client
        .put_object()
        .bucket(&bucket)
        .key("uploads/big.csv")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let objects = S3Objects::new(client.clone());
    let object = S3Objects::object(&bucket, "uploads/big.csv", put.version_id(), put.e_tag());
    assert!(objects.exists(&object).await.unwrap());
    let stream = objects.stream(object.clone(), tokio::runtime::Handle::current());
    let (whole, head) = tokio::task::spawn_blocking(move || {
        let mut first = [0u8; 16];
        stream.open().unwrap().read_exact(&mut first).unwrap();
        let mut whole = Vec::new();
        stream.open().unwrap().read_to_end(&mut whole).unwrap();
        (whole, first)
    })
    .await
    .unwrap();
    assert_eq!(&head[..], &body[..16]);
    assert!(whole == body, "{} bytes of {}", whole.len(), body.len());

    objects.delete_version(&object).await.unwrap();
    assert!(!objects.exists(&object).await.unwrap());
    let versions = client.list_object_versions().bucket(&bucket).send().await.unwrap();
    assert!(versions.versions().is_empty() && versions.delete_markers().is_empty(), "gone for good: {versions:?}");
    objects.delete_version(&object).await.expect("a version already gone is no error");
}
