"""Media plumbing shared by server and client: PCM samples, MP4 files, the call recorder."""
