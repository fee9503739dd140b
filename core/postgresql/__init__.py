"""PostgreSQL with the tenant context: Django's backend, whose cursors carry `core.tenancy`."""
