"""moto_server with DynamoDB's isolation: every DynamoDB request is served one at a time.

Why: DynamoDB runs TransactWriteItems serializably against GetItem, PutItem, UpdateItem, DeleteItem and other
transactions ("Isolation levels for DynamoDB transactions", Amazon DynamoDB Developer Guide, transaction-apis), and
an UpdateItem's ADD is atomic. moto 5.2 serves requests on threads without any of that:
- `transact_write_items` deep-copies the tables before it starts and, when any action is cancelled, puts that copy
  back, wiping out whatever other requests wrote meanwhile; the copy itself is taken while other threads mutate the
  table, so it can hold one half of a concurrent transaction (a row's counter without the row);
- `update_item` reads, changes and writes an item back in Python, so two concurrent ADDs can lose one.
ccbulk's provision workers move rows and the job's counters concurrently, so on plain moto a job's counters drift by
one now and then (a job left RUNNING with nothing to run). One lock around moto's DynamoDB handler gives the tests
the isolation the real service has; the other services keep moto's threads (SQS long polls must not block them).

Under that lock a transaction's rollback needs no copy of whole tables: only the items it names are kept and put
back (see `_transact_write_items`), which makes a transaction cost what it writes, not the size of its table.

IAM, as the service enforces it (moto's own check, `INITIAL_NO_AUTH_ACTION_COUNT`, asks for the wrong rights in
places), see `_authorize`: every request signed by an IAM user's or an assumed role's key is held to that principal's
policies, action by action and resource by resource; the account's root key (`testing`, which the tests' own set-up
uses) is allowed everything, as a root user is. Each decision is appended to the file `CCBULK_MOTO_AUDIT` names, one
JSON line each, for the tests that measure least privilege.

Usage: python moto_server.py [moto_server's arguments]
"""

import copy
import datetime
import json
import os
import sys
import threading
from urllib.parse import parse_qs, urlparse

from moto.core.authorization import ActionAuthenticatorMixin
from werkzeug.exceptions import HTTPException

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_serial = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialized_call_action(self):
    with _serial:
        return _call_action(self)


DynamoHandler.call_action = _serialized_call_action


class _TablesUncopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend while a transaction runs.

    moto 5.2's `transact_write_items` deep-copies every table a transaction names, so that it can put the copy back
    if an action is cancelled: each transaction costs time in proportion to the table (a job of 1,000 rows made
    each row's outcome cost ~0.2 s, and the moto process grew past 7 GB). With this stand-in the tables are not
    copied; `_transact_write_items` below keeps the items the transaction names instead, and puts them back.
    """

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


_tables_uncopied = _TablesUncopied()
_transact = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    """moto's transaction, its rollback kept to the items the transaction names (all-or-nothing, as DynamoDB)."""
    try:
        before = [_item_before(self, entry) for entry in transact_items]
    except Exception:
        # A transaction moto will refuse as malformed: let moto answer it its own way, tables copied and all.
        return _transact(self, transact_items)
    dynamodb_models.copy = _tables_uncopied
    try:
        return _transact(self, transact_items)
    except Exception:
        for table_name, key, attributes in reversed([b for b in before if b is not None]):
            if attributes is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attributes)
        raise
    finally:
        dynamodb_models.copy = copy


def _item_before(backend, entry):
    """(table, key, the item's attributes before the transaction or None) for one action of a transaction."""
    _, action = next(iter(entry.items()))
    table_name = action.get("TableName")
    if table_name not in backend.tables:
        return None
    table = backend.tables[table_name]
    if "Key" in action:
        key = action["Key"]
    else:
        item = action["Item"]
        key = {table.hash_key_attr: item[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = item[table.range_key_attr]
    current = backend.get_item(table_name, key)
    return table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current is not None else None


DynamoDBBackend.transact_write_items = _transact_write_items


ROOT_ACCESS_KEY = "testing"
_audit_lock = threading.Lock()
_audit_path = os.environ.get("CCBULK_MOTO_AUDIT")


def _access_key_id(headers):
    authorization = headers.get("Authorization") or ""
    if "Credential=" not in authorization:
        return None
    return authorization.split("Credential=", 1)[1].split("/", 1)[0]


def _audit(access_key, action, resource, allowed):
    if not _audit_path:
        return
    line = json.dumps({"key": access_key, "action": action, "resource": resource, "allowed": allowed})
    with _audit_lock, open(_audit_path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


def _presigned_headers(handler):
    """The headers moto's check reads, for a presigned URL (SigV4 query-string authentication, which moto does not
    read): its credential and session token are in the query string. The link is held to its X-Amz-Expires, as S3
    holds it ("Authenticating Requests: Using Query Parameters", Amazon S3 API Reference); its signature is not
    recomputed here, only whose it is, and what that role may do."""
    query = getattr(handler, "querystring", None) or {}
    credential = (query.get("X-Amz-Credential") or [None])[0]
    if not credential:
        return None
    signed_at = datetime.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    expires = datetime.timedelta(seconds=int(query["X-Amz-Expires"][0]))
    if datetime.datetime.now(datetime.timezone.utc) > signed_at + expires:
        raise _PresignedExpired()
    headers = dict(handler.headers)
    headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=query"
    token = (query.get("X-Amz-Security-Token") or [None])[0]
    if token:
        headers["X-Amz-Security-Token"] = token
    return headers


class _PresignedExpired(HTTPException):
    code = 403

    def __init__(self):
        super().__init__()
        self.description = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"


def _authorize(self, iam_request_cls, resource="*"):
    """moto's check, with IAM's own reading of what each request needs (`_needs`), and the account root let through.

    An unsigned request, or one signed by the root key, is not checked (moto's server mode as before IAM)."""
    headers = self.headers
    presigned = _access_key_id(headers) is None and _presigned_headers(self)
    if presigned:
        headers = presigned
    access_key = _access_key_id(headers)
    if access_key is None or access_key == ROOT_ACCESS_KEY:
        return
    parsed = self.uri.split("?", 1)
    path = self.raw_path + ("?" + parsed[1] if len(parsed) > 1 and parsed[1] else "")
    checked_signature = False
    for action, needed in _needs(self, resource):
        iam_request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=self.raw_body,
            headers=headers,
            action=action,
        )
        if not checked_signature and not presigned:
            iam_request.check_signature()
            checked_signature = True
        try:
            iam_request.check_action_permitted(needed)
        except Exception:
            _audit(access_key, f"{self.service_name}:{action}", needed, False)
            if self.headers.get("X-Amz-Target"):
                raise _JsonAccessDenied(iam_request._access_key.arn, f"{self.service_name}:{action}", needed)
            raise
        _audit(access_key, f"{self.service_name}:{action}", needed, True)


# A request in an awsJson protocol (it names its operation in X-Amz-Target: DynamoDB, SQS, Secrets Manager,
# EventBridge) is refused as such a service refuses it, 400 and a JSON `AccessDeniedException`: moto answers every
# refusal in XML, which the SDKs of JSON services cannot read.
class _JsonAccessDenied(HTTPException):
    code = 400

    def __init__(self, principal, action, resource):
        super().__init__()
        self.description = json.dumps({
            "__type": "com.amazon.coral.service#AccessDeniedException",
            "message": f"User: {principal} is not authorized to perform: {action} on resource: {resource} because no "
                       f"identity-based policy allows the {action} action",
        })


def _needs(handler, resource):
    """(action, resource ARN) pairs a request needs, as IAM's Service Authorization Reference lists them.

    moto checks every non-S3, non-SQS request against the resource `*`, which no resource-scoped policy matches, and
    asks for `dynamodb:TransactWriteItems`, an action IAM does not have: a transaction needs the rights of each item
    it holds ("Using IAM with DynamoDB transactions", DynamoDB Developer Guide)."""
    action = handler._get_action()
    service = handler.service_name
    if service == "dynamodb":
        return _dynamodb_needs(handler, action)
    region = handler.region
    account = handler.current_account
    if service == "secretsmanager":
        secret = _body(handler).get("SecretId", "*")
        if not secret.startswith("arn:"):
            secret = f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}*"
        return [(action, secret)]
    if service == "s3":
        return [(_s3_action(handler, action), resource)]
    if service == "sqs" and action in _SQS_BATCHES:
        # "Amazon SQS API permissions: Actions and resource reference" (SQS Developer Guide): a batch is authorized
        # by the action it batches.
        return [(_SQS_BATCHES[action], resource)]
    if service == "events" and action == "PutEvents":
        entries = _body(handler).get("Entries", [])
        buses = {entry.get("EventBusName") or "default" for entry in entries} or {"default"}
        return [
            (action, bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}")
            for bus in sorted(buses)
        ]
    return [(action, resource)]


def _body(handler):
    """A JSON request's body as a dict (moto has parsed some services' already)."""
    body = handler.body
    if isinstance(body, dict):
        return body
    try:
        return json.loads(body or "{}")
    except (TypeError, ValueError):
        return {}


_SQS_BATCHES = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}

def _s3_action(handler, operation):
    """The IAM action an S3 operation needs, where it is not named as the operation ("Required permissions for
    Amazon S3 API operations", S3 User Guide): a version addressed by versionId needs the *Version action."""
    query = parse_qs(urlparse(handler.uri).query, keep_blank_values=True)
    versioned = "versionId" in query
    if operation in ("GetObject", "HeadObject"):
        return "GetObjectVersion" if versioned else "GetObject"
    if operation == "DeleteObject":
        return "DeleteObjectVersion" if versioned else "DeleteObject"
    if operation in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return "PutObject"
    return {
        "HeadBucket": "ListBucket",
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "ListObjectVersions": "ListBucketVersions",
        "DeleteObjects": "DeleteObject",
    }.get(operation, operation)


_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _dynamodb_needs(handler, action):
    body = _body(handler)
    prefix = f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/"
    if action in ("TransactWriteItems", "TransactGetItems"):
        needs = []
        for entry in body.get("TransactItems", []):
            for kind, item in entry.items():
                needs.append((_TRANSACT_ACTIONS[kind], prefix + item.get("TableName", "*")))
        return sorted(set(needs))
    if action in ("BatchGetItem", "BatchWriteItem"):
        return [(action, prefix + table) for table in sorted(body.get("RequestItems", {}))]
    table = body.get("TableName")
    if table is None:
        return [(action, "*")]
    if body.get("IndexName"):
        return [(action, f"{prefix}{table}/index/{body['IndexName']}")]
    return [(action, prefix + table)]


ActionAuthenticatorMixin._authenticate_and_authorize_action = _authorize

if __name__ == "__main__":
    sys.exit(main())
