"""Knowledge retrieval: the documents attached to an avatar, chunked along their Markdown
structure, indexed with BM25 and MiniLM embeddings, and searched on each caller turn.

The live worker needs `KnowledgeBase.search` (through `Services.knowledge`) and passes the
passages to `Conversation.reply`; see docs/knowledge.md."""

from opencharacters.dialogue.knowledge.index import (
    KnowledgeIndex,
    Passage,
    SourceDocument,
    build_index,
)
from opencharacters.dialogue.knowledge.service import KnowledgeBase

__all__ = ["KnowledgeBase", "KnowledgeIndex", "Passage", "SourceDocument", "build_index"]
