"""Report exports: PDF, DICOM SR, encapsulated PDF, FHIR DiagnosticReport (see ``context.ReportContext``)."""
