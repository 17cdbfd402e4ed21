"""The ledger's REST API, one module per area; ``civicdesk.ledger.api_urls`` mounts them."""
