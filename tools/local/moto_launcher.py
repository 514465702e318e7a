# Starts moto server with DynamoDB writes serialised.
#
# moto's TransactWriteItems snapshots whole tables and restores the snapshot when a condition
# fails, so two concurrent transactions (or a write racing a failing transaction) clobber each
# other's items. DynamoDB itself makes transactions atomic and isolated. One lock around every
# DynamoDB write gives the emulator the isolation the ledger relies on; reads stay concurrent.
#
# moto's TransactWriteItems also deep-copies the whole table once per item of the transaction,
# to roll back when a condition fails: its cost grows with the table, and a ledger of a few
# thousand permits made every transaction take seconds. Since writes are serialised here, the
# conditions can be checked first, against the state before the transaction (DynamoDB's own
# semantics: a transaction touches each item once), and the transaction refused whole without
# writing anything when one fails; only a transaction whose conditions all hold is applied, and
# then without the table copies. Anything else (an item named twice, an invalid expression) goes
# to moto's own implementation, copies included, which raises moto's own error.
#
# moto's Query of a table (not of an index) sorts every item of the table and then keeps the
# partition asked for: its cost grows with the table, not with the answer. On a ledger of
# 2,000 permits each Query took a large part of a second of moto's one core, ten at once took
# more than the 2 s attempt timeout of the fault-injected stack, and the soak's notify drain
# failed the same ten records at the head of a stream batch a hundred times each. DynamoDB
# reads one partition. Here a table Query reads only its partition (moto's own `items`
# dictionary, keyed by the hash key); moto's query code then filters, sorts by the range key,
# pages and projects as before. moto keeps no index of a global secondary index: an index Query
# sorted the whole table too, then compared every item's key through moto's value casts; here it
# keeps the items of the index partition asked for, by their key strings, and moto sorts, pages
# and projects only those. Scans are left to moto.
import copy
import inspect
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.server import main

_lock = threading.RLock()
_original_transact = DynamoDBBackend.transact_write_items


class _CopyButTables:
    """The `copy` module as moto's DynamoDB backend sees it while a checked transaction runs:
    tables are not copied (no rollback can be needed), everything else is."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _key_of(backend, op_type, op):
    if op_type == "Put":
        table = backend.get_table(op["TableName"])
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return key
    return op["Key"]


def _transact_write_items(self, transact_items):
    try:
        seen = set()
        errors = []
        failed = False
        for item in transact_items:
            if len(item) != 1:
                raise LookupError
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise LookupError
            key = _key_of(self, op_type, op)
            unique = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if unique in seen:
                raise LookupError
            seen.add(unique)
            condition = op.get("ConditionExpression")
            if condition is None:
                errors.append((None, None, None))
                continue
            current = self.get_item(op["TableName"], key)
            check = get_filter_expression(
                condition,
                op.get("ExpressionAttributeNames"),
                op.get("ExpressionAttributeValues"),
            )
            if check.expr(current):
                errors.append((None, None, None))
            else:
                failed = True
                old = None
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old = current.to_json()["Attributes"]
                errors.append(
                    ("ConditionalCheckFailed", "The conditional request failed", old)
                )
    except Exception:
        # Not a transaction this check understands: moto decides, with its copies.
        return _original_transact(self, transact_items)
    if failed:
        raise TransactionCanceledException(errors)
    dynamodb_models.copy = _CopyButTables()
    try:
        return _original_transact(self, transact_items)
    finally:
        dynamodb_models.copy = copy


DynamoDBBackend.transact_write_items = _transact_write_items

_partition = threading.local()
_original_all_items = Table.all_items
_original_query = Table.query


def _all_items(self):
    index_partition = getattr(_partition, "index", None)
    if index_partition is not None:
        # An index query: moto checks every item against the index's key conditions and then
        # sorts what is left by the index's keys (table keys included, so no two items tie):
        # the order it reads them in is moot, and items outside the partition can be left out
        # here, comparing the raw strings (moto's own comparison casts every value first).
        (name, expected), *others = index_partition
        items = []
        for held in self.items.values():
            for item in held.values() if self.range_key_attr else (held,):
                value = item.attrs.get(name)
                if value is None or value.value != expected or value.type != "S":
                    continue
                if others and not all(
                    (other := item.attrs.get(attr)) is not None
                    and other.type == "S"
                    and other.value == wanted
                    for attr, wanted in others
                ):
                    continue
                items.append(item)
        return items
    hash_key = getattr(_partition, "hash_key", None)
    if hash_key is None:
        return _original_all_items(self)
    held = self.items.get(hash_key)
    if held is None:
        return []
    if self.range_key_attr:
        return list(held.values())
    return [held]


_query_signature = inspect.signature(_original_query)
if "index_name" not in _query_signature.parameters:
    # A moto whose Table.query no longer names the index would make every index query read one
    # partition of the base table: refuse to start rather than answer wrongly.
    raise SystemExit(
        "moto_launcher: this moto's Table.query has no index_name parameter; "
        "update tools/local/moto_launcher.py for it"
    )


def _query(self, *args, **kwargs):
    # Bound by name, so a moto that reorders Table.query's parameters still reads the right ones.
    call = _query_signature.bind(self, *args, **kwargs)
    hash_key = call.arguments.get("hash_key")
    if call.arguments.get("index_name"):
        conditions = call.arguments.get("hash_key_conditions") or []
        # Only string partition keys are narrowed here (a number's text is not its value:
        # "1" and "1.0" are one number); anything else is left to moto whole.
        if conditions and all(value.type == "S" for _, value in conditions):
            _partition.index = [(name, value.value) for name, value in conditions]
    elif hash_key is not None:
        _partition.hash_key = hash_key
    try:
        return _original_query(self, *args, **kwargs)
    finally:
        _partition.hash_key = None
        _partition.index = None


Table.all_items = _all_items
Table.query = _query


def _serialised(method):
    def wrapper(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)

    return wrapper


for _name in (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
):
    if hasattr(DynamoDBBackend, _name):
        setattr(DynamoDBBackend, _name, _serialised(getattr(DynamoDBBackend, _name)))

main(sys.argv[1:])
