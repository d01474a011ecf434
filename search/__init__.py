"""Search over programs and episodes behind one backend interface (`search.backend.SearchBackend`).

PostgreSQL full-text search is the default (`search.postgres`); OpenSearch (`search.opensearch`) is used when
`OPENSEARCH_URL` is set. Documents are built from the content tables (`search.documents`) and kept fresh by
index jobs; `cms reindex` rebuilds a whole index from PostgreSQL.
"""
