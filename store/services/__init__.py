"""Business logic. Views, API views, consumers and tasks call these and nothing else writes.

Services are typed functions with keyword-only arguments named <thing>_<action>; they raise
store.errors.DomainError with a machine-readable code.
"""
