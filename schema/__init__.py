"""The GraphQL layer: types, inputs, payloads and the strawberry Schema.

schema.graphql beside this file is the exported SDL; a test fails when it drifts.
"""
