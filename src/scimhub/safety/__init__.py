"""Safety rails: the deprovisioning guard, the hold of a tenant's event stream, sync health."""
