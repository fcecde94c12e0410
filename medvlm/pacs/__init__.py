"""PACS integration: a DICOM listener (C-ECHO, C-STORE into the study store) and a sender (C-STORE out).

``scp`` receives studies from a PACS or a modality and queues their drafts; ``scu`` sends results (DICOM
SR, encapsulated PDF) back. Both use pynetdicom; neither is imported by ``medvlm`` itself.
"""
