"""HL7v2 results out: an ORU^R01 per signature and per addendum, queued in the signing transaction and
delivered over MLLP to the RIS / EHR by a background sender (``sender.Hl7Sender``)."""
