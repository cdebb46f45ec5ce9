"""The policy skill: a question for the documents, answered with citations, or an honest
"I don't have that" with the closest documents. On a voice channel the answer is short and
names its source."""

from __future__ import annotations

from dataclasses import asdict

from rag.answers import AnswerService
from rag.spoken import spoken_answer
from sessions.turn import Turn


class PolicySkill:
    def __init__(self, answers: AnswerService | None) -> None:
        self._answers = answers

    async def answer(self, turn: Turn) -> None:
        if self._answers is None:
            turn.say("I can't look up our policies right now.")
            return
        answer = await self._answers.answer(turn.text)
        turn.say(answer.answer if turn.channel == "chat" else spoken_answer(answer))
        turn.data["citations"] = [asdict(c) for c in answer.citations]
        turn.data["grounded"] = answer.grounded
        if not answer.grounded and answer.closest:
            turn.data["closest"] = [asdict(c) for c in answer.closest]
