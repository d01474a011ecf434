"""YouTube channels and playlists as an ingest source (built-in plugin): the Data API v3 or the public Atom feed
for discovery, yt-dlp (YouTube extractor only) to find a video's file, our safe client to download it."""
