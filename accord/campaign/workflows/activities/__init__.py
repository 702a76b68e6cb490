"""The built-in workflow activities, one module each, registered in the entry point group
`accord.campaign_activities` (pyproject.toml)."""
