#!/usr/bin/env python3
"""An EPIX Connect caller written only from docs/epix.wsdl and EPIX's recorded answers: plain HTTP
with XML (Python's standard library, no SOAP toolkit), over mutual TLS.

    epix_client.py --endpoint URL --cert CERT.pem --key KEY.pem [--ca CA.pem] --country XA get NUMBER [--final]
    epix_client.py ... confirm NUMBER A=5 [B=10 ...]
    epix_client.py ... state

--endpoint is the MA's EPIX service (https://<custom domain>/epix); --cert and --key the client
certificate our country's MA was issued (its subject's C= is who we are); --ca the authority of the
server's certificate when it is not a public one; --country the MA asked (the permit's issuer).

Prints one JSON object: the operation, the HTTP status, and either the fault (faultcode,
faultstring, reason) or what the answer holds (the permit's number and type, Composite; the
tracking number of a confirmation; the service state). Exits 1 on a fault or an unreadable answer.
"""

import argparse
import json
import ssl
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE = "urn:CitesDataExchange"
PERMIT = "urn:un:unece:uncefact:data:standard:CITESEPermit:2"
RABIE = "urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1"
MAX_ANSWER = 8 * 1024 * 1024


def envelope(operation, fields):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:urn="{SERVICE}">'
        f"<soapenv:Header/><soapenv:Body><urn:{operation}>{fields}</urn:{operation}>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode("utf-8")


def call(args, operation, fields):
    context = ssl.create_default_context(cafile=args.ca)
    context.load_cert_chain(args.cert, args.key)
    request = urllib.request.Request(
        args.endpoint,
        data=envelope(operation, fields),
        method="POST",
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"urn:{operation}"',
        },
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as answer:
            return answer.status, answer.read(MAX_ANSWER)
    except urllib.error.HTTPError as fault:  # SOAP 1.1 faults come with HTTP 500
        return fault.code, fault.read(MAX_ANSWER)


def parse(body):
    # A SOAP answer never needs a DTD; refusing one keeps entity expansion out.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ValueError("the answer has a DOCTYPE")
    return ET.fromstring(body)


def text(element, path, namespaces=None):
    found = element.find(path, namespaces or {})
    return found.text.strip() if found is not None and found.text else None


def report(operation, status, body):
    result = {"operation": operation, "status": status}
    try:
        root = parse(body)
    except (ET.ParseError, ValueError) as error:
        result["error"] = f"unreadable answer: {error}"
        print(json.dumps(result))
        return 1
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    if fault is not None:
        result["fault"] = {
            "faultcode": text(fault, "faultcode"),
            "faultstring": text(fault, "faultstring"),
            "reason": text(fault, "detail/Reason"),
        }
        print(json.dumps(result))
        return 1
    body_element = root.find(f"{{{SOAP}}}Body")
    response = list(body_element)[0] if body_element is not None and len(body_element) else None
    if response is None:
        result["error"] = "the Body is empty"
        print(json.dumps(result))
        return 1
    result["element"] = response.tag
    permit = response.find("CITESEPermit")
    if permit is not None:
        ns = {"rsm": PERMIT, "ram": RABIE}
        document = permit.find("rsm:HeaderExchangedDocument", ns)
        result["permit_number"] = text(document, "ram:ID", ns) if document is not None else None
        result["type_code"] = text(document, "ram:TypeCode", ns) if document is not None else None
        result["composite"] = text(response, "Composite")
    for field in ("Confirmed", "TrackingNumber", "Duplicate", "ServiceState"):
        value = text(response, field)
        if value is not None:
            result[field] = value
    print(json.dumps(result))
    return 0


def main():
    parser = argparse.ArgumentParser(description="Call an MA's EPIX country-adapter service.")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--cert", required=True, help="client certificate chain (PEM)")
    parser.add_argument("--key", required=True, help="its private key (PEM)")
    parser.add_argument("--ca", help="the server certificate's authority (PEM), if not public")
    parser.add_argument("--country", required=True, help="the MA asked (ISO 3166-1 alpha-2)")
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("get")
    get.add_argument("number")
    get.add_argument("--final", action="store_true", help="the permit with box 14 filled")
    confirm = commands.add_parser("confirm")
    confirm.add_argument("number")
    confirm.add_argument("positions", nargs="+", help="BLOCK=QUANTITY, e.g. A=5")
    commands.add_parser("state")
    args = parser.parse_args()

    country = f"<IsoCountryCode>{escape(args.country)}</IsoCountryCode>"
    if args.command == "get":
        operation = "GetFinalCitesCertificate" if args.final else "GetNonFinalCitesCertificate"
        fields = f"<CertificateNumber>{escape(args.number)}</CertificateNumber>{country}"
    elif args.command == "confirm":
        operation = "ConfirmQuantities"
        positions = ""
        for position in args.positions:
            block, _, quantity = position.partition("=")
            positions += (
                f"<CitesPosition><ID>{escape(block)}</ID>"
                f"<InspectedUnitQuantity>{int(quantity)}</InspectedUnitQuantity></CitesPosition>"
            )
        fields = (
            f"<CertificateNumber>{escape(args.number)}</CertificateNumber>{country}"
            f"<ConfirmedQuantities>{positions}</ConfirmedQuantities>"
        )
    else:
        operation = "ServiceState"
        fields = country
    status, body = call(args, operation, fields)
    return report(operation, status, body)


if __name__ == "__main__":
    sys.exit(main())
