"""Signed edge delivery of preview renditions (HLS, posters, storyboards, images).

`signing` builds and checks the URLs (pure); `route` serves them from storage. Registered as a plugin later.
"""

from plugins.edge.route import edge_routes
from plugins.edge.signing import EdgeRefused, parse_keys, sign, verify, verify_url_path

__all__ = ["EdgeRefused", "edge_routes", "parse_keys", "sign", "verify", "verify_url_path"]
