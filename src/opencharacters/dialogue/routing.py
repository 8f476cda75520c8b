"""How close a caller's words are to each action, by meaning (the knowledge embedder).

A small dialogue model's "act or talk" probability alone misses paraphrased requests ("where is
my order?" for an action described as "show an order and its delivery status"); the sentence
embedding of the words against each action's name, description and enum values catches them.
The two are added and compared with one threshold (see Conversation.reply)."""

from __future__ import annotations

from collections.abc import Sequence

from opencharacters.dialogue.knowledge.embedding import Embedder
from opencharacters.dialogue.tools import ToolSpec

CANDIDATE_MARGIN = 0.08


def action_text(tool: ToolSpec) -> str:
    values = [str(v) for p in tool.parameters for v in (p.get("enum") or ())]
    text = f"{tool.name.replace('_', ' ')}: {tool.description}"
    return f"{text} ({', '.join(values)})" if values else text


class ActionRouter:
    def __init__(self, embedder: Embedder, tools: Sequence[ToolSpec]) -> None:
        self._embedder = embedder
        self.tools = tuple(tools)
        self._vectors = embedder.encode([action_text(tool) for tool in self.tools])

    def similarities(self, words: str) -> list[float]:
        """Cosine similarity of the words to each action (blocking: ~3 ms)."""
        if not self.tools or not words.strip():
            return [0.0] * len(self.tools)
        query = self._embedder.encode([words])[0]
        return [float(value) for value in self._vectors @ query]

    def candidates(self, similarities: Sequence[float]) -> list[ToolSpec]:
        """The actions near the closest one: the call is generated among these only (the small
        model, free to pick any tool, sometimes picks the wrong one)."""
        best = max(similarities, default=0.0)
        return [
            tool
            for tool, value in zip(self.tools, similarities, strict=True)
            if value >= best - CANDIDATE_MARGIN
        ]
