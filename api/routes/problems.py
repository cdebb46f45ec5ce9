"""Each problem ``type`` URI resolves here to its description."""

from __future__ import annotations

from fastapi import APIRouter

from api.problems import PROBLEM_RESPONSES, ProblemType, problem_types
from core.errors import NotFoundError

router = APIRouter(prefix="/problems", tags=["operations"])


@router.get("", summary="Every problem type Yatri returns")
async def list_problem_types() -> list[ProblemType]:
    return list(problem_types().values())


@router.get("/{slug}", summary="One problem type", responses=PROBLEM_RESPONSES)
async def problem_type(slug: str) -> ProblemType:
    found = problem_types().get(slug)
    if found is None:
        raise NotFoundError(f"no problem type {slug!r}")
    return found
