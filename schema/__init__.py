"""GraphQL types, inputs, enums and payloads; `build_schema` composes the root."""
