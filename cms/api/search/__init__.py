"""GraphQL search: the `search` root field and the admin `searchStatus`."""
