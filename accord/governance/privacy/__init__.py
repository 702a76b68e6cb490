"""Privacy jobs (GDPR and CCPA style): access to everything held about a person, and their deletion from every
store. The governance context's face (`accord.governance`) names what other code may use."""
