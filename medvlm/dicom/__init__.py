"""DICOM in: reading files, folders, zips and DICOMDIRs safely, validating,
decoding pixels, storing, indexing."""
