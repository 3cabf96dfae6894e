"""The service layer: business rules over the models. No GraphQL here.

A resolver function takes a session and plain values, returns models, and raises
`resolvers.errors.DomainError` for any business outcome the caller must see.
"""
