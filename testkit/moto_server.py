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

Usage: python moto_server.py [moto_server's arguments]
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_serial = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialized_call_action(self):
    with _serial:
        return _call_action(self)


DynamoHandler.call_action = _serialized_call_action

if __name__ == "__main__":
    sys.exit(main())
