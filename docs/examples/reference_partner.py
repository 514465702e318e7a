#!/usr/bin/env python3
"""A partner MA written from docs/exchange.md and docs/openapi.yaml alone, in Python (the
standard library plus `cryptography` for Ed25519): how a Management Authority that does not run
ecites-exchange sends permits to an ecites deployment and receives them from it.

The end-to-end test `a_partner_written_in_python_from_the_docs_exchanges_permits_both_ways`
(tests/tests/exchange.rs) runs it against the real forward and receive functions, so this file
and the documents it follows cannot drift from the code.

Receive (the endpoint a partner exposes to ecites forward):

    reference_partner.py serve --country XC --sender XA --sender-key <base64> \
        [--sender-key-id XA-1] [--port 0]

  prints {"listening": "http://127.0.0.1:<port>/"} and then one JSON line per message taken.

Send (one permit to an ecites receive endpoint):

    reference_partner.py send --country XC --seed <base64 32-byte seed> --key-id XC-1 \
        --to XA --url <endpoint> --xml permit.xml --permit-number 26XC0001 \
        [--document-type E] [--document-status issued] [--permit-version 1]

  prints {"status": <HTTP status>, "answer": <the JSON answer>}.
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import json
import re
import sys
import threading
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ElementTree

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ENVELOPE_TYPE = "application/vnd.ecites.envelope+json"
PAYLOAD_NAMESPACE = "urn:un:unece:uncefact:data:standard:CITESEPermit:2"
MAX_BODY_BYTES = 6 * 1024 * 1024
WINDOW_SECONDS = 300


def now_rfc3339() -> str:
    return (
        datetime.datetime.now(datetime.timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def parse_rfc3339(text: str) -> datetime.datetime:
    """RFC 3339 in UTC, with any number of fractional digits (ecites sends nanoseconds)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not match:
        raise ValueError(f"sent_at {text!r} is not RFC 3339")
    seconds, fraction, zone = match.groups()
    parsed = datetime.datetime.fromisoformat(
        seconds + "." + (fraction or "0")[:6].ljust(6, "0") + ("+00:00" if zone == "Z" else zone)
    )
    return parsed.astimezone(datetime.timezone.utc)


def permit_number_of(xml: bytes) -> str:
    """Box 1: HeaderExchangedDocument/ID of the CITES e-permit (docs/standard-format.md).
    ElementTree neither fetches external entities nor reads DTDs from elsewhere."""
    root = ElementTree.fromstring(xml)
    if not root.tag.endswith("}CITESEPermit"):
        raise ValueError(f"the payload's root is {root.tag}, not CITESEPermit")
    for element in root.iter():
        if element.tag.endswith("}HeaderExchangedDocument"):
            for child in element:
                if child.tag.endswith("}ID"):
                    return (child.text or "").strip()
    raise ValueError("the payload has no HeaderExchangedDocument/ID")


def refusal(status: int, code: str, message: str, message_id=None):
    body = {"type": "refusal", "code": code, "message": message}
    if message_id:
        body["message_id"] = message_id
    return status, body


class Receiver:
    """Checks a message in the order docs/exchange.md gives, and remembers message ids."""

    def __init__(self, country, sender, sender_key, sender_key_id):
        self.country = country
        self.sender = sender
        self.sender_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(sender_key))
        self.sender_key_id = sender_key_id
        self.seen = set()
        self.lock = threading.Lock()

    def take(self, headers, body: bytes):
        """(HTTP status, answer, record of what was taken or None)."""
        try:
            envelope = json.loads(body)
            message_id = envelope["message_id"]
        except (ValueError, KeyError, TypeError):
            return refusal(400, "NOT_READABLE", "the body is not an envelope") + (None,)
        if envelope.get("envelope_version") != 1:
            return refusal(400, "NOT_READABLE", "unknown envelope_version", message_id) + (None,)
        if envelope.get("from") != self.sender:
            return refusal(403, "UNKNOWN_SENDER", "not a partner", message_id) + (None,)
        key_id = headers.get("X-Ecites-Key-Id")
        if self.sender_key_id and key_id != self.sender_key_id:
            return refusal(401, "UNAUTHENTICATED", f"key id {key_id!r}", message_id) + (None,)
        try:
            signature = base64.b64decode(headers.get("X-Ecites-Signature", ""), validate=True)
            self.sender_key.verify(signature, body)
        except (ValueError, InvalidSignature):
            return refusal(401, "UNAUTHENTICATED", "bad signature", message_id) + (None,)
        try:
            sent_at = parse_rfc3339(envelope["sent_at"])
        except (KeyError, ValueError) as error:
            return refusal(400, "NOT_READABLE", str(error), message_id) + (None,)
        skew = abs((datetime.datetime.now(datetime.timezone.utc) - sent_at).total_seconds())
        if skew > WINDOW_SECONDS:
            return refusal(401, "UNAUTHENTICATED", "sent_at outside the window", message_id) + (
                None,
            )
        if envelope.get("to") != self.country:
            return refusal(403, "FORBIDDEN", "not addressed to us", message_id) + (None,)
        try:
            xml = base64.b64decode(envelope["payload"], validate=True)
            number = permit_number_of(xml)
        except (KeyError, ValueError, ElementTree.ParseError) as error:
            return refusal(400, "NOT_READABLE", f"payload: {error}", message_id) + (None,)
        if number != envelope.get("permit_number"):
            return refusal(400, "NOT_READABLE", "permit_number is not the payload's", message_id) + (
                None,
            )
        with self.lock:
            if (self.sender, message_id) in self.seen:
                return refusal(409, "REPLAYED", "message id seen before", message_id) + (None,)
            self.seen.add((self.sender, message_id))
        document = "|".join(
            str(envelope.get(field))
            for field in ("from", "permit_number", "permit_version", "document_status")
        )
        tracking = f"{self.country}-" + hashlib.sha256(document.encode()).hexdigest()[:20]
        ack = {
            "type": "ack",
            "tracking_number": tracking,
            "message_id": message_id,
            "status": "DELIVERED",
            "duplicate": False,
        }
        record = {
            "message_id": message_id,
            "from": envelope["from"],
            "key_id": key_id,
            "document_type": envelope.get("document_type"),
            "document_status": envelope.get("document_status"),
            "permit_number": number,
            "permit_version": envelope.get("permit_version"),
            "payload_sha256": hashlib.sha256(xml).hexdigest(),
            "tracking_number": tracking,
        }
        return 200, ack, record


def serve(args):
    receiver = Receiver(args.country, args.sender, args.sender_key, args.sender_key_id)

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.answer(*refusal(413, "TOO_LARGE", "above 6 MiB"))
                return
            body = self.rfile.read(length)
            status, answer, record = receiver.take(self.headers, body)
            if record is not None:
                print(json.dumps(record), flush=True)
            self.answer(status, answer)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(json.dumps({"listening": f"http://127.0.0.1:{server.server_port}/"}), flush=True)
    server.serve_forever()


def send(args):
    with open(args.xml, "rb") as file:
        xml = file.read()
    envelope = {
        "envelope_version": 1,
        "message_id": str(uuid.uuid4()),
        "from": args.country,
        "to": args.to,
        "document_type": args.document_type,
        "document_status": args.document_status,
        "permit_number": args.permit_number,
        "permit_version": args.permit_version,
        "sent_at": now_rfc3339(),
        "payload_namespace": PAYLOAD_NAMESPACE,
        "payload": base64.b64encode(xml).decode(),
    }
    body = json.dumps(envelope).encode()
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(args.seed))
    request = urllib.request.Request(
        args.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": ENVELOPE_TYPE,
            "X-Ecites-Key-Id": args.key_id,
            "X-Ecites-Signature": base64.b64encode(key.sign(body)).decode(),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    print(json.dumps({"status": status, "answer": json.loads(text or b"null")}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="receive permits from an ecites deployment")
    serving.add_argument("--country", required=True)
    serving.add_argument("--sender", required=True)
    serving.add_argument("--sender-key", required=True)
    serving.add_argument("--sender-key-id")
    serving.add_argument("--port", type=int, default=0)
    sending = commands.add_parser("send", help="send one permit to an ecites deployment")
    sending.add_argument("--country", required=True)
    sending.add_argument("--seed", required=True)
    sending.add_argument("--key-id", required=True)
    sending.add_argument("--to", required=True)
    sending.add_argument("--url", required=True)
    sending.add_argument("--xml", required=True)
    sending.add_argument("--permit-number", required=True)
    sending.add_argument("--document-type", default="E")
    sending.add_argument("--document-status", default="issued")
    sending.add_argument("--permit-version", type=int, default=1)
    args = parser.parse_args()
    serve(args) if args.command == "serve" else send(args)


if __name__ == "__main__":
    sys.exit(main())
