"""Health sources: FHIR R4 (UK Core) Patient resources and HL7 v2 ADT messages."""
