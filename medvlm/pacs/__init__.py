"""PACS integration, client side: a sender (C-ECHO, C-STORE out) and the C-STORE status codes.

``scu`` sends results (DICOM SR, encapsulated PDF) back to a PACS. The listener that receives studies
is an inbound adapter of the service (``medvlm.service.dicom_listener``, in front of its intake); it
shares ``ae`` (AE titles) and ``status`` with this package. Both use pynetdicom.
"""
