"""The wire layer: SOAP envelope, lxml encode/decode, faults, and the HTTP transport seam."""
