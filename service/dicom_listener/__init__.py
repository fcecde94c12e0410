"""The DICOM listener (C-ECHO / C-STORE SCP): an inbound adapter of the service, in front of its intake."""
