#!/usr/bin/env python3
"""The Python peer of `ecites convert --to xml DIR -o OUT`, for `make bench` (scripts/bench-folder.sh).

What an MA's developer would write with lxml from the format's documentation
(docs/standard-format.md, shared docs/domain.md section 1.2): read every JSON permit
(docs: the JSON form, README) under DIR, build the CITES e-permit XML (toolkit v2) with lxml,
and write it to OUT/<issuing country>/<escaped permit number>.xml, an aggregate only when it
holds a value. It checks what it needs to name the file (a permit number and the issuing
authority's country) and nothing else: the Rust side also validates every box, so the
comparison is, if anything, in the peer's favour.

Usage: convert_lxml.py DIR OUT
"""
import json
import os
import sys
from lxml import etree

RSM = "urn:un:unece:uncefact:data:standard:CITESEPermit:2"
RAM = "urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1"
EXT = "urn:ecites-exchange:extension:1"
NSMAP = {"rsm": RSM, "ram": RAM}
R = "{%s}" % RSM
A = "{%s}" % RAM
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def sub(parent, name, text=None, attrib=None):
    element = etree.SubElement(parent, A + name, attrib or {})
    if text is not None:
        element.text = text
    return element


class Lazy:
    """An aggregate written only once a child is (docs/standard-format.md section 2)."""

    def __init__(self, parent, name):
        self.parent, self.name, self.element = parent, name, None

    def get(self):
        if self.element is None:
            parent = self.parent.get() if isinstance(self.parent, Lazy) else self.parent
            self.element = sub(parent, self.name)
        return self.element

    def text(self, name, value, attrib=None):
        if value:
            sub(self.get(), name, value, attrib)


def quantity(lazy, name, value):
    if value:
        unit = value.get("unit")
        lazy.text(name, str(value["value"]), {"unitCode": unit} if unit else None)


def location(parent, name, value):
    if value:
        lazy = Lazy(parent, name)
        lazy.text("ID", value.get("id"))
        lazy.text("Name", value.get("name"))


def party(parent, name, value):
    if not value:
        return
    lazy = Lazy(parent, name)
    lazy.text("ID", value.get("id"))
    lazy.text("Name", value.get("name"))
    address = value.get("address") or {}
    postal = Lazy(lazy, "PostalTradeAddress")
    postal.text("PostcodeCode", address.get("postcode"))
    postal.text("PostOfficeBox", address.get("post_office_box"))
    for street in address.get("street") or []:
        postal.text("StreetName", street)
    postal.text("CityName", address.get("city"))
    postal.text("CountryID", address.get("country"))
    postal.text("CountryName", address.get("country_name"))
    postal.text("CountrySubDivisionName", address.get("subdivision"))


def examination(parent, value):
    if not value:
        return
    lazy = Lazy(parent, "ExaminationTransportEvent")
    lazy.text("ActualOccurrenceDateTime", value.get("date"))
    quantity(lazy, "UnitQuantity", value.get("quantity"))
    location(lazy, "OccurrenceLogisticsLocation", value.get("port"))
    party(lazy, "CertifyingTradeParty", value.get("certifier"))


def document(parent, name, date, type_code, number):
    lazy = Lazy(parent, name)
    lazy.text("IssueDateTime", date)
    lazy.text("TypeCode", type_code, {"listID": "1001", "listAgencyID": "6"})
    lazy.text("ID", number)


def to_xml(permit):
    root = etree.Element(R + "CITESEPermit", nsmap=NSMAP)
    context = etree.SubElement(root, R + "SpecifiedExchangedDocumentContext")
    process = sub(context, "BusinessProcessSpecifiedDocumentContextParameter")
    sub(process, "ID", "1")
    sub(process, "Value", "CITES PERMITTING")
    sub(sub(process, "SpecifiedDocumentVersion"), "ID", "1")
    sub(sub(context, "BIMSpecifiedDocumentContextParameter"), "ID", "09A")

    header = Lazy(root, None)
    h = header.element = etree.SubElement(root, R + "HeaderExchangedDocument")
    header.text("ID", permit.get("permit_number"))
    header.text("Name", permit.get("document_name"))
    header.text("TypeCode", permit.get("document_type"))
    header.text("SubtypeCode", permit.get("document_subtype"))
    header.text("IssueDateTime", permit.get("issue_date"))
    if permit.get("copy") is not None:
        header.text("CopyIndicator", "true" if permit["copy"] else "false")
    header.text("Purpose", permit.get("purpose_text"))
    header.text("PurposeCode", permit.get("purpose"))
    for condition in permit.get("special_conditions") or []:
        header.text("Information", condition)
    for reference in permit.get("references") or []:
        document(h, "ReferenceReferencedDocument", reference.get("issue_date"),
                 reference.get("type_code"), reference.get("id"))
    period = Lazy(h, "EffectiveSpecifiedPeriod")
    period.text("StartDateTime", permit.get("valid_from"))
    period.text("EndDateTime", permit.get("valid_until"))
    location(h, "IssueLogisticsLocation", permit.get("issue_place"))
    if permit.get("security_stamp") or permit.get("issuing_authority"):
        first = sub(h, "FirstSignatoryDocumentAuthentication")
        sub(first, "TypeCode", "A")
        if permit.get("security_stamp"):
            sub(first, "ID", permit["security_stamp"])
        party(first, "ProviderTradeParty", permit.get("issuing_authority"))
    signatory = permit.get("signatory") or {}
    if signatory.get("name") or signatory.get("date") or signatory.get("statement"):
        third = sub(h, "ThirdSignatoryDocumentAuthentication")
        sub(third, "TypeCode", "C")
        if signatory.get("date"):
            sub(third, "ActualDateTime", signatory["date"])
        if signatory.get("statement"):
            sub(third, "Statement", signatory["statement"])
        person = Lazy(Lazy(third, "ProviderTradeParty"), "SpecifiedAuthoritativeSignatoryPerson")
        person.text("Name", signatory.get("name"))

    consignment = etree.SubElement(root, R + "SpecifiedSupplyChainConsignment")
    party(consignment, "ConsignorTradeParty", permit.get("exporter"))
    party(consignment, "ConsigneeTradeParty", permit.get("importer"))
    if permit.get("transport_document"):
        sub(sub(consignment, "TransportContractReferencedDocument"), "ID", permit["transport_document"])
    examination(consignment, permit.get("export_endorsement"))
    for block in permit.get("blocks") or []:
        item = sub(consignment, "IncludedSupplyChainConsignmentItem")
        sub(item, "ID", block["id"])
        marks = Lazy(item, "PhysicalLogisticsShippingMarks")
        for mark in block.get("marks") or []:
            marks.text("Marking", mark)
        for name, key in (("OriginTradeCountry", "origin"), ("ExportTradeCountry", "last_reexport")):
            reference = block.get(key)
            if reference:
                country = Lazy(item, name)
                country.text("ID", reference.get("country"))
                country.text("Name", reference.get("country_name"))
        for key, code in (("origin", "861"), ("last_reexport", "811")):
            reference = block.get(key) or {}
            if reference.get("permit_number") or reference.get("permit_date"):
                document(item, "AssociatedReferencedDocument", reference.get("permit_date"),
                         code, reference.get("permit_number"))
        if block.get("quantity"):
            quantity(Lazy(item, "TransportLogisticsPackage"), "ItemQuantity", block["quantity"])
        line = Lazy(item, "IncludedSupplyChainTradeLineItem")
        line.text("TypeCode", block.get("appendix"))
        line.text("TypeExtensionCode", block.get("source"))
        if block.get("eu_annex"):
            annex = etree.SubElement(line.get(), "{%s}RegionalAnnexCode" % EXT, nsmap={"ext": EXT})
            annex.text = block["eu_annex"]
        product = Lazy(line, "SpecifiedTradeProduct")
        product.text("Description", block.get("description"))
        product.text("TypeCode", block.get("term"))
        product.text("CommonName", block.get("common_name"))
        product.text("ScientificName", block.get("scientific_name"))
        examination(item, block.get("endorsement"))
        procedure = Lazy(item, "ApplicableCrossBorderRegulatoryProcedure")
        quota = block.get("quota") or {}
        quantity(procedure, "UsedToDateQuotaQuantity", quota.get("used_to_date"))
        quantity(procedure, "AnnualQuotaQuantity", quota.get("annual"))
        procedure.text("AcquisitionDateTime", block.get("acquisition_date"))
        if block.get("operation_number"):
            sub(sub(procedure.get(), "PreviousReferencedDocument"), "ID", block["operation_number"])
    return DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)


def escape(number):
    """The file name of a permit number: ASCII letters, digits, - and _ kept, every other UTF-8
    byte as %XX (the pipeline's S3 key escaping), so it is never a path."""
    return "".join(
        chr(byte) if chr(byte).isascii() and (chr(byte).isalnum() or byte in b"-_") else "%%%02X" % byte
        for byte in number.encode("utf-8")
    )


def main(source, output):
    converted = rejected = 0
    made = set()
    for directory, folders, files in os.walk(source):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as handle:
                    loaded = json.load(handle)
            except (OSError, ValueError) as error:
                rejected += 1
                print(f"{path}: rejected: {error}", file=sys.stderr)
                continue
            for permit in loaded if isinstance(loaded, list) else [loaded]:
                try:
                    number = (permit.get("permit_number") or "").strip()
                    issuer = ((permit.get("issuing_authority") or {}).get("address") or {}).get("country")
                    if not number or not issuer:
                        raise ValueError("the permit has no issuing country or number")
                    folder = os.path.join(output, issuer)
                    if folder not in made:
                        os.makedirs(folder, exist_ok=True)
                        made.add(folder)
                    # The Rust side's file name: ASCII letters, digits, - and _ kept, the rest %XX.
                    target = os.path.join(folder, escape(number) + ".xml")
                    with open(target, "xb") as handle:
                        handle.write(to_xml(permit))
                    converted += 1
                except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                    rejected += 1
                    print(f"{path}: rejected: {error}", file=sys.stderr)
    print(f"{converted} permits converted, {rejected} rejected", file=sys.stderr)
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
