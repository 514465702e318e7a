# Starts moto server with DynamoDB writes serialised.
#
# moto's TransactWriteItems snapshots whole tables and restores the snapshot when a condition
# fails, so two concurrent transactions (or a write racing a failing transaction) clobber each
# other's items. DynamoDB itself makes transactions atomic and isolated. One lock around every
# DynamoDB write gives the emulator the isolation the ledger relies on; reads stay concurrent.
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_lock = threading.RLock()


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
