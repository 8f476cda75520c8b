"""Live sessions: the WebRTC call between a caller and an avatar, and the worker behind it."""
