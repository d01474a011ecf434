"""The OpenSearch search backend: index mapping and analyzers, queries, paging (used when OPENSEARCH_URL is set)."""
