#!/usr/bin/env python3
"""The cost of one DynamoDB Query on the local emulator as the table grows: moto as it ships
against moto through tools/local/moto_launcher.py (a table Query reads only the partition asked
for; an index Query sorts only its answer). Both get the same table of N items (10 per
partition, each also under one of 100 partitions of a global secondary index) plus a one-item
partition, and the same two Queries, 20 times each: the one-item partition of the table, and one
partition of the index (about N/100 items); the answers are compared.

Usage: .venv/bin/python scripts/emulator-query-cost.py [N]   (default 20000)
"""
import pathlib
import socket
import subprocess
import sys
import time

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(launcher):
    port = free_port()
    if launcher:
        command = [str(VENV / "python"), "-c", (ROOT / "tools/local/moto_launcher.py").read_text()]
    else:
        command = [str(VENV / "moto_server")]
    process = subprocess.Popen(
        command + ["-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit("moto did not start")


def measure(launcher, count, rounds=20):
    process, port = start(launcher)
    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
                {"AttributeName": "G", "AttributeType": "S"},
                {"AttributeName": "GS", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[{
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "G", "KeyType": "HASH"},
                    {"AttributeName": "GS", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }],
            BillingMode="PAY_PER_REQUEST",
        )
        for start_at in range(0, count, 25):
            client.batch_write_item(
                RequestItems={
                    "t": [
                        {"PutRequest": {"Item": {
                            "PK": {"S": f"P{i // 10}"},
                            "SK": {"S": f"S{i % 10:03d}"},
                            "G": {"S": f"G{i % 100}"},
                            "GS": {"S": f"{(i * 7919) % count:06d}"},
                            "v": {"S": "x" * 100},
                        }}}
                        for i in range(start_at, min(count, start_at + 25))
                    ]
                }
            )
        client.put_item(TableName="t", Item={"PK": {"S": "ONE"}, "SK": {"S": "a"}})
        started = time.perf_counter()
        for _ in range(rounds):
            answer = client.query(
                TableName="t",
                KeyConditionExpression="PK = :p",
                ExpressionAttributeValues={":p": {"S": "ONE"}},
                ConsistentRead=True,
            )
        per_query = (time.perf_counter() - started) / rounds
        started = time.perf_counter()
        for _ in range(rounds):
            indexed = client.query(
                TableName="t",
                IndexName="by_g",
                KeyConditionExpression="G = :g AND GS >= :from",
                ExpressionAttributeValues={":g": {"S": "G7"}, ":from": {"S": "000100"}},
                Limit=50,
            )
        per_index_query = (time.perf_counter() - started) / rounds
        return per_query, per_index_query, answer["Items"] + indexed["Items"]
    finally:
        process.terminate()


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    shipped, shipped_index, shipped_items = measure(False, count)
    launched, launched_index, launched_items = measure(True, count)
    if shipped_items != launched_items:
        sys.exit(f"the answers differ: {shipped_items} against {launched_items}")
    print(f"a table of {count:,} items, mean of 20 Queries:")
    print("                        one-item partition   index partition (first 50)")
    print(f"  moto as shipped:      {shipped * 1000:10.1f} ms        {shipped_index * 1000:10.1f} ms")
    print(f"  through the launcher: {launched * 1000:10.1f} ms        {launched_index * 1000:10.1f} ms"
          "   (the same answers)")


if __name__ == "__main__":
    main()
