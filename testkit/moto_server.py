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

Usage: python moto_server.py [moto_server's arguments]
"""

import copy
import sys
import threading

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

if __name__ == "__main__":
    sys.exit(main())
