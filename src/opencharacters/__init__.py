"""OpenCharacters: self-hosted real-time conversational avatars."""

__version__ = "0.1.0"
