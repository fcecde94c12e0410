"""Model input: MONAI dictionary transforms from a DICOM instance to a normalised 1xHxW tensor."""
